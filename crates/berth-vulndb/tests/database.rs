//! The database file: lookups after a save and a mapped open are what the advisories say,
//! zips import like directories, dates are kept, and damaged, cut, newer and foreign files
//! are refused with the way out.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_vulndb::{Database, Error, Format};

type Oracle = BTreeMap<(String, String), Vec<String>>;

/// PEP 503, as the test reads it: lower case, runs of `-_.` as one `-`.
fn pep503(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if "-_.".contains(c) {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// What the OSV record files under `dir` say by themselves: for each package one names, its
/// id.
fn osv_oracle(dir: &Path, oracle: &mut Oracle) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_str().unwrap().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            osv_oracle(&path, oracle);
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        let record: serde_json::Value = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => serde_json::from_str(&text).unwrap(),
            Some("yaml" | "yml") => serde_yaml::from_str(&text).unwrap(),
            _ => continue,
        };
        if record.get("withdrawn").is_some_and(|w| !w.is_null()) {
            continue;
        }
        let id = record["id"].as_str().unwrap();
        for affected in record["affected"].as_array().into_iter().flatten() {
            let Some(package) = affected.get("package") else {
                continue;
            };
            let ecosystem = package["ecosystem"].as_str().unwrap().to_owned();
            let name = package["name"].as_str().unwrap();
            let name = if ecosystem == "PyPI" {
                pep503(name)
            } else {
                name.to_owned()
            };
            oracle
                .entry((ecosystem, name))
                .or_default()
                .push(id.to_owned());
        }
    }
}

/// What the tracker's feed says by itself: each issue a release reports for a package.
fn tracker_oracle(feed: &Path, oracle: &mut Oracle) {
    let feed: serde_json::Value = serde_json::from_slice(&fs::read(feed).unwrap()).unwrap();
    for (package, issues) in feed.as_object().unwrap() {
        for (id, issue) in issues.as_object().unwrap() {
            for (release, verdict) in issue["releases"].as_object().into_iter().flatten() {
                let status = verdict["status"].as_str().unwrap();
                let not_affected = status == "resolved" && verdict["fixed_version"] == "0";
                if status == "undetermined" || not_affected {
                    continue;
                }
                oracle
                    .entry((format!("Debian:{release}"), package.clone()))
                    .or_default()
                    .push(id.clone());
            }
        }
    }
}

#[test]
fn every_corpus_package_looks_up_as_its_files_say_after_a_mapped_open() {
    let mut oracle = Oracle::new();
    let mut db = Database::new();
    for corpus in ["osv-rustsec", "osv-go", "osv-pypi", "debian-bookworm"] {
        let Some(dir) = test_support::corpus(corpus) else {
            return;
        };
        if corpus == "debian-bookworm" {
            tracker_oracle(&dir.join("tracker.json"), &mut oracle);
            db.import(corpus, &dir.join("tracker.json")).unwrap();
        } else {
            osv_oracle(&dir, &mut oracle);
            db.import(corpus, &dir).unwrap();
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    db.save(tmp.path()).unwrap();
    let mapped = Database::open(tmp.path()).unwrap();
    assert_eq!(mapped.sources(), db.sources());
    assert!(oracle.len() > 2900, "{} packages", oracle.len());
    for ((ecosystem, name), mut expected) in oracle {
        let hits = mapped.lookup(&ecosystem, &name).unwrap();
        let mut ids: Vec<String> = hits.iter().map(|(a, _)| a.id.clone()).collect();
        ids.sort();
        expected.sort();
        assert_eq!(ids, expected, "{ecosystem} {name}");
        assert!(hits.iter().all(|(_, f)| f.ecosystem == ecosystem));
        assert_eq!(
            hits,
            db.lookup(&ecosystem, &name).unwrap(),
            "{ecosystem} {name}"
        );
    }
    assert!(
        mapped
            .lookup("crates.io", "no-such-crate")
            .unwrap()
            .is_empty()
    );
    assert!(mapped.lookup("", "").unwrap().is_empty());
}

/// A zip of `dir`'s files, with entries a zip may hold that are not advisories.
fn zip_of(dir: &Path, zip: &Path) {
    let mut out = zip::ZipWriter::new(fs::File::create(zip).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    for name in names {
        out.start_file(name.as_str(), options).unwrap();
        out.write_all(&fs::read(dir.join(&name)).unwrap()).unwrap();
    }
    out.add_directory("docs/", options).unwrap();
    out.start_file("docs/README.md", options).unwrap();
    out.write_all(b"not an advisory").unwrap();
    out.finish().unwrap();
}

#[test]
fn an_osv_zip_imports_as_its_directory_does() {
    let Some(dir) = test_support::corpus("osv-rustsec") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // No `.zip` in the name: the content says it is one.
    let zip = tmp.path().join("rustsec-all");
    zip_of(&dir, &zip);
    let mut from_zip = Database::new();
    let zipped = from_zip.import("zip", &zip).unwrap();
    let mut from_dir = Database::new();
    let loose = from_dir.import("dir", &dir).unwrap();
    assert_eq!(
        (zipped.advisories, zipped.withdrawn, &zipped.formats),
        (loose.advisories, loose.withdrawn, &vec![Format::Osv])
    );
    assert_eq!(zipped.modified, loose.modified);
    assert_eq!(
        from_zip.advisories().unwrap(),
        from_dir.advisories().unwrap()
    );
}

#[test]
fn zip_entry_names_are_never_used_as_paths_and_bad_entries_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("all.zip");
    let mut out = zip::ZipWriter::new(fs::File::create(&zip).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    out.start_file("../../escaped.json", options).unwrap();
    out.write_all(br#"{"id": "X-1", "modified": "2024-01-01T00:00:00Z", "affected": []}"#)
        .unwrap();
    out.start_file("/abs/bad.json", options).unwrap();
    out.write_all(b"{").unwrap();
    out.finish().unwrap();

    let mut db = Database::new();
    let err = db.import("zip", &zip).unwrap_err().to_string();
    assert!(
        err.contains("all.zip!/abs/bad.json") && err.contains("not valid JSON"),
        "{err}"
    );
    assert!(
        db.sources().is_empty(),
        "nothing imported from a failed zip"
    );
    let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "nothing written beside the zip");
    assert!(!tmp.path().parent().unwrap().join("escaped.json").exists());

    // Cut short: the zip's own error, naming it.
    let bytes = fs::read(&zip).unwrap();
    fs::write(&zip, &bytes[..bytes.len() - 30]).unwrap();
    let err = db.import("zip", &zip).unwrap_err().to_string();
    assert!(err.contains("all.zip: not valid zip"), "{err}");
}

#[test]
fn sources_keep_their_dates_and_age_from_the_feed_when_it_has_one() {
    let tmp = tempfile::tempdir().unwrap();
    let osv = tmp.path().join("osv");
    fs::create_dir(&osv).unwrap();
    for (n, modified) in ["2020-01-01T00:00:00Z", "2021-06-01T12:00:00+02:00"]
        .iter()
        .enumerate()
    {
        fs::write(
            osv.join(format!("{n}.json")),
            format!(r#"{{"id": "X-{n}", "modified": "{modified}", "affected": []}}"#),
        )
        .unwrap();
    }
    let feed = tmp.path().join("feed.json");
    fs::write(
        &feed,
        br#"{"pkg": {"CVE-1": {"releases": {"bookworm": {"status": "open"}}}}}"#,
    )
    .unwrap();
    let mut db = Database::new();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    db.import("osv", &osv).unwrap();
    db.import("tracker", &feed).unwrap();
    db.save(tmp.path()).unwrap();
    let db = Database::open(tmp.path()).unwrap();
    let [osv, tracker] = db.sources() else {
        panic!("{:?}", db.sources());
    };
    // 2021-06-01T10:00:00Z, the newer record.
    assert_eq!(osv.modified, Some(1_622_541_600));
    assert!(osv.imported >= before);
    assert_eq!(tracker.formats, [Format::DebianTracker]);
    assert_eq!(tracker.modified, None, "the tracker's feed carries no date");
    let now = UNIX_EPOCH + Duration::from_secs(1_622_541_600 + 86_400);
    assert_eq!(osv.age(now), Duration::from_secs(86_400));
    let later = UNIX_EPOCH + Duration::from_secs(tracker.imported + 60);
    assert_eq!(tracker.age(later), Duration::from_secs(60));
}

/// A small saved database, and its file.
fn saved(dir: &Path) -> std::path::PathBuf {
    let feed = dir.join("feed.json");
    fs::write(
        &feed,
        br#"{"pkg": {"CVE-1": {"releases": {"bookworm": {"status": "open"}}}}}"#,
    )
    .unwrap();
    let mut db = Database::new();
    db.import("tracker", &feed).unwrap();
    db.save(dir).unwrap()
}

#[test]
fn damaged_cut_newer_and_foreign_files_are_refused_with_the_way_out() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Database::open(tmp.path()).err().unwrap();
    assert!(matches!(err, Error::Missing { .. }), "{err}");
    assert!(err.to_string().contains("berth db update"), "{err}");

    let file = saved(tmp.path());
    let good = fs::read(&file).unwrap();
    let refused = |bytes: &[u8]| {
        fs::write(&file, bytes).unwrap();
        let err = Database::open(tmp.path()).err().unwrap().to_string();
        assert!(err.contains("vulndb.bin"), "{err}");
        err
    };
    let mut flipped = good.clone();
    let last = flipped.len() - 5;
    flipped[last] ^= 1;
    let err = refused(&flipped);
    assert!(
        err.contains("checksum") && err.contains("berth db update"),
        "{err}"
    );

    for cut in [good.len() - 1, 60, 10, 0] {
        let err = refused(&good[..cut]);
        assert!(err.contains("berth db update"), "{cut}: {err}");
    }
    assert!(refused(&good[..good.len() - 1]).contains("cut short"));

    let mut newer = good.clone();
    newer[8..12].copy_from_slice(&99u32.to_le_bytes());
    berth_vulndb::format::seal(&mut newer);
    let err = refused(&newer);
    assert!(
        err.contains("format 99") && err.contains("update berth"),
        "{err}"
    );

    let err = refused(b"{\"format\":\"berth-vulndb\",\"version\":1,\"sources\":[]}\n");
    assert!(err.contains("magic"), "{err}");

    fs::write(&file, &good).unwrap();
    assert_eq!(Database::open(tmp.path()).unwrap().sources().len(), 1);
}

#[test]
fn an_open_database_stays_whole_while_a_new_one_is_saved_over_it() {
    let tmp = tempfile::tempdir().unwrap();
    saved(tmp.path());
    let old = Database::open(tmp.path()).unwrap();
    let mut replaced = Database::new();
    let feed = tmp.path().join("feed.json");
    fs::write(
        &feed,
        br#"{"other": {"CVE-2": {"releases": {"bookworm": {"status": "open"}}}}}"#,
    )
    .unwrap();
    replaced.import("tracker", &feed).unwrap();
    replaced.save(tmp.path()).unwrap();
    assert_eq!(
        old.lookup("Debian:bookworm", "pkg").unwrap()[0].0.id,
        "CVE-1"
    );
    let new = Database::open(tmp.path()).unwrap();
    assert!(new.lookup("Debian:bookworm", "pkg").unwrap().is_empty());
    assert_eq!(
        new.lookup("Debian:bookworm", "other").unwrap()[0].0.id,
        "CVE-2"
    );
}
