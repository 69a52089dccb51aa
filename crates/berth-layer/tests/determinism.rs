//! Layers are a pure function of the tree: same tree, same bytes, whatever order it was made
//! in; and they keep what the file system says (modes, owners, links, devices, xattrs, times).

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use berth_layer::{TarOptions, from_dir, from_tarball, write_gzip_layer, write_tar};
use rustix::fs::{AtFlags, CWD, FileType, Mode, Timespec, Timestamps, makedev, mknodat, utimensat};

fn tar_of(dir: &Path, opts: &TarOptions) -> (Vec<u8>, berth_layer::TarStats) {
    let entries = from_dir(dir).unwrap();
    write_tar(&entries, opts, Vec::new()).unwrap()
}

fn gz_of(dir: &Path, opts: &TarOptions) -> Vec<u8> {
    let entries = from_dir(dir).unwrap();
    write_gzip_layer(&entries, opts, Vec::new(), &|_| {})
        .unwrap()
        .0
}

/// What a tar holds, entry by entry: (path, type, mode, uid, gid, mtime, link, xattrs, content).
type Listing = Vec<(
    String,
    String,
    u32,
    u64,
    u64,
    u64,
    String,
    BTreeMap<String, Vec<u8>>,
    Vec<u8>,
)>;

fn list(tar: &[u8]) -> Listing {
    let mut archive = tar::Archive::new(tar);
    let mut out = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let mut xattrs = BTreeMap::new();
        if let Some(pax) = e.pax_extensions().unwrap() {
            for x in pax {
                let x = x.unwrap();
                if let Some(k) = x.key().unwrap().strip_prefix("SCHILY.xattr.") {
                    xattrs.insert(k.to_string(), x.value_bytes().to_vec());
                }
            }
        }
        let h = e.header().clone();
        let link = e
            .link_name()
            .unwrap()
            .map(|l| l.display().to_string())
            .unwrap_or_default();
        let mut content = Vec::new();
        e.read_to_end(&mut content).unwrap();
        out.push((
            e.path().unwrap().display().to_string(),
            format!("{:?}", h.entry_type()),
            h.mode().unwrap(),
            h.uid().unwrap(),
            h.gid().unwrap(),
            h.mtime().unwrap(),
            link,
            xattrs,
            content,
        ));
    }
    out
}

/// Sets a path's mtime without opening it (opening a fifo would block).
fn set_mtime(path: &Path, secs: i64) {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW)
        .unwrap_or_else(|e| panic!("utimensat {}: {e}", path.display()));
}

/// A tree with one of everything, made in the given order.
fn make_tree(root: &Path, reverse: bool) {
    let mut steps: Vec<Box<dyn Fn()>> = vec![
        Box::new(|| fs::create_dir_all(root.join("a/b")).unwrap()),
        Box::new(|| fs::create_dir_all(root.join("z")).unwrap()),
    ];
    let files = ["a/b/one", "a/two", "z/three", "a-b", "a.txt"];
    for f in files {
        let root = root.to_path_buf();
        steps.push(Box::new(move || {
            fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            fs::write(root.join(f), f).unwrap();
        }));
    }
    if reverse {
        steps.reverse();
        // Directories must exist before their files; make them first either way.
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::create_dir_all(root.join("z")).unwrap();
    }
    for s in steps {
        s();
    }
    symlink("../a/two", root.join("z/link")).unwrap();
    fs::hard_link(root.join("a/two"), root.join("z/hard")).unwrap();
    fs::set_permissions(root.join("a/two"), fs::Permissions::from_mode(0o4750)).unwrap();
    std::os::unix::fs::chown(root.join("a/b/one"), Some(123), Some(456)).unwrap();
    xattr::set(root.join("a/b/one"), "user.berth", b"kept").unwrap();
    let node = |name: &str, kind: FileType, mode: u32, dev| {
        let path = root.join(name);
        mknodat(CWD, &path, kind, Mode::from_raw_mode(mode), dev).unwrap();
    };
    node("z/fifo", FileType::Fifo, 0o600, 0);
    node("z/null", FileType::CharacterDevice, 0o666, makedev(1, 3));
    for p in [
        "a/b/one", "a/two", "z/three", "a-b", "a.txt", "z", "a/b", "a", "z/null", "z/fifo",
    ] {
        set_mtime(&root.join(p), 1_700_000_000);
    }
}

#[test]
fn the_same_tree_gives_the_same_layer_whatever_order_it_was_made_in() {
    let t = tempfile::tempdir().unwrap();
    make_tree(&t.path().join("x"), false);
    make_tree(&t.path().join("y"), true);
    let opts = TarOptions::default();
    assert_eq!(
        gz_of(&t.path().join("x"), &opts),
        gz_of(&t.path().join("y"), &opts)
    );
    assert_eq!(
        gz_of(&t.path().join("x"), &opts),
        gz_of(&t.path().join("x"), &opts)
    );
}

#[test]
fn keeps_modes_owners_links_devices_and_xattrs_in_canonical_order() {
    let t = tempfile::tempdir().unwrap();
    make_tree(t.path(), false);
    let (tar, stats) = tar_of(t.path(), &TarOptions::default());
    let listing = list(&tar);
    let paths: Vec<&str> = listing.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "a/", "a/b/", "a/b/one", "a/two", "a-b", "a.txt", "z/", "z/fifo", "z/hard", "z/link",
            "z/null", "z/three"
        ]
    );
    let get = |p: &str| listing.iter().find(|e| e.0 == p).unwrap();
    let one = get("a/b/one");
    assert_eq!((one.3, one.4), (123, 456));
    assert_eq!(
        one.7.get("user.berth").map(Vec::as_slice),
        Some(&b"kept"[..])
    );
    assert_eq!(one.8, b"a/b/one");
    assert_eq!(get("a/two").2, 0o4750);
    assert_eq!(get("z/link").1, "Symlink");
    assert_eq!(get("z/link").6, "../a/two");
    assert_eq!(get("z/hard").1, "Link");
    assert_eq!(get("z/hard").6, "a/two");
    assert_eq!(get("z/fifo").1, "Fifo");
    assert_eq!(get("z/null").1, "Char");
    assert!(
        listing
            .iter()
            .all(|e| e.0 == "z/link" || e.5 == 1_700_000_000 || e.0 == "z/" || e.0 == "z/hard")
    );
    assert_eq!(stats.size, tar.len() as u64);
    assert_eq!(stats.diff_id, berth_oci::Digest::sha256(&tar));
}

#[test]
fn source_date_epoch_clamps_times() {
    let t = tempfile::tempdir().unwrap();
    make_tree(t.path(), false);
    let opts = TarOptions {
        source_date_epoch: Some(1_000_000_000),
    };
    let (tar, stats) = tar_of(t.path(), &opts);
    assert!(list(&tar).iter().all(|e| e.5 <= 1_000_000_000));
    assert_eq!(stats.newest_mtime, Some(1_000_000_000));
    // Older times are kept.
    let opts = TarOptions {
        source_date_epoch: Some(2_000_000_000),
    };
    let (tar, _) = tar_of(t.path(), &opts);
    assert_eq!(
        list(&tar).iter().find(|e| e.0 == "a/two").unwrap().5,
        1_700_000_000
    );
}

#[test]
fn a_tarball_of_the_tree_gives_the_same_layer_as_the_tree() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("tree");
    make_tree(&root, false);
    let (from_tree, _) = tar_of(&root, &TarOptions::default());
    // GNU tar lists entries in its own order, with ./ prefixes and user names.
    let tarball = t.path().join("tree.tar.gz");
    let ok = std::process::Command::new("tar")
        .args([
            "--xattrs",
            "--xattrs-include=user.*",
            "-C",
            &root.display().to_string(),
            "-czf",
            &tarball.display().to_string(),
            ".",
        ])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let entries = from_tarball(fs::File::open(&tarball).unwrap(), t.path(), "tree.tar.gz").unwrap();
    let (from_tarball_bytes, _) = write_tar(&entries, &TarOptions::default(), Vec::new()).unwrap();
    assert_eq!(list(&from_tarball_bytes), list(&from_tree));
    assert_eq!(from_tarball_bytes, from_tree);
}

#[test]
fn tarballs_with_escaping_paths_or_dangling_links_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    // The tar crate refuses to write '..' itself; put it in the raw name field.
    h.as_old_mut().name[..10].copy_from_slice(b"../escape\0");
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    let bytes = b.into_inner().unwrap();
    let err = from_tarball(&bytes[..], t.path(), "evil.tar")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("climbs out"), "{err}");

    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    b.append_link(&mut h, "link", "missing").unwrap();
    let bytes = b.into_inner().unwrap();
    let err = from_tarball(&bytes[..], t.path(), "dangling.tar")
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("not a regular file earlier in the archive"),
        "{err}"
    );

    let err = from_tarball(&b"not a tarball at all, just text"[..], t.path(), "text")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("text"), "{err}");
}
