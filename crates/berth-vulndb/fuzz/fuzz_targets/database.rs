//! The database reader never panics nor reads out of bounds, whatever the file holds, and
//! what it opens answers every lookup and lists its advisories (with an error at worst).
//!
//! The first byte picks how the rest makes a file: as it is, or as patches (two bytes of
//! offset, one of value) to a small valid database. Each may then be sealed with a valid
//! checksum: without that, nearly every input would stop at the checksum, and the reader
//! past it would go untried.

#![no_main]

use std::sync::OnceLock;

use berth_vulndb::Database;
use libfuzzer_sys::fuzz_target;

/// A database of two OSV records and a tracker feed, written once.
fn valid() -> &'static [u8] {
    static VALID: OnceLock<Vec<u8>> = OnceLock::new();
    VALID.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("berth-vulndb-fuzz-{}", std::process::id()));
        let files = dir.join("in");
        std::fs::create_dir_all(&files).unwrap();
        std::fs::write(
            files.join("a.json"),
            br#"{"id": "X-1", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-1"],
                "affected": [{"package": {"ecosystem": "PyPI", "name": "Foo_Bar"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]},
                {"package": {"ecosystem": "Go", "name": "m"}, "versions": ["1.0.0"]}]}"#,
        )
        .unwrap();
        std::fs::write(
            files.join("b.json"),
            br#"{"pkg": {"CVE-2": {"releases": {"bookworm": {"status": "open"}}}}}"#,
        )
        .unwrap();
        let mut db = Database::new();
        db.import("osv", &files.join("a.json")).unwrap();
        db.import("tracker", &files.join("b.json")).unwrap();
        let file = db.save(&dir).unwrap();
        let bytes = std::fs::read(file).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        bytes
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = if mode & 2 == 0 {
        rest.to_vec()
    } else {
        let mut file = valid().to_vec();
        for patch in rest.chunks_exact(3) {
            let at = u16::from_le_bytes([patch[0], patch[1]]) as usize;
            match file.get_mut(at) {
                Some(byte) => *byte = patch[2],
                None => file.truncate(at % (file.len() + 1)),
            }
        }
        file
    };
    if mode & 1 == 1 {
        berth_vulndb::format::seal(&mut bytes);
    }
    let Ok(db) = Database::read_bytes(bytes) else {
        return;
    };
    for source in db.sources() {
        let _ = db.lookup(&source.name, &source.name);
    }
    if let Ok(advisories) = db.advisories() {
        for advisory in advisories {
            for affected in &advisory.affected {
                if let Ok(hits) = db.lookup(&affected.ecosystem, &affected.name) {
                    assert!(hits.iter().all(|(a, f)| a.affected.contains(f)));
                }
            }
        }
    }
    let _ = db.lookup("PyPI", "foo-bar");
    let _ = db.lookup("Debian:bookworm", "pkg");
});
