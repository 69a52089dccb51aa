//! Applying layer tars as overlayfs lower directories: contents, metadata, whiteouts, and
//! refusal of anything that would write outside the destination.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use berth_layer::entry::Kind;
use berth_layer::{LayerError, TarOptions, apply_layer, from_dir, write_tar};
use berth_oci::Digest;
use common::{Layer, MTIME, describe, is_whiteout, names};
use tar::EntryType;

/// A destination and, beside it, a sentinel directory nothing may ever write into.
struct Sandbox {
    _tmp: tempfile::TempDir,
    dest: std::path::PathBuf,
    sentinel: std::path::PathBuf,
}

fn sandbox() -> Sandbox {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");
    let sentinel = tmp.path().join("sentinel");
    fs::create_dir(&dest).unwrap();
    fs::create_dir(&sentinel).unwrap();
    Sandbox {
        dest,
        sentinel,
        _tmp: tmp,
    }
}

impl Sandbox {
    fn assert_untouched(&self) {
        assert!(
            names(&self.sentinel).is_empty(),
            "sentinel written: {:?}",
            names(&self.sentinel)
        );
        let parent = self.dest.parent().unwrap();
        assert_eq!(names(parent), ["dest", "sentinel"]);
    }
}

#[test]
fn applies_contents_modes_owners_xattrs_and_times() {
    let sb = sandbox();
    let mut layer = Layer::new();
    layer
        .add_with("a/", EntryType::Directory, 0o750, None, b"", |h| {
            h.set_mtime(1000)
        })
        .pax(&[("SCHILY.xattr.user.note", b"hello")])
        .add_with(
            "a/suid",
            EntryType::Regular,
            0o4755,
            None,
            b"#!/bin/sh\n",
            |h| {
                h.set_uid(1000);
                h.set_gid(2000);
                h.set_mtime(2000);
            },
        )
        .hardlink("a/second", "a/suid")
        .symlink("a/abs", "/etc/passwd")
        .add("a/pipe", EntryType::Fifo, 0o600, None, b"")
        .add("./tmp/", EntryType::Directory, 0o1777, None, b"");
    let mut tar = layer.finish();
    // Padding past the end-of-archive blocks still belongs to the diffID.
    tar.extend_from_slice(&[0u8; 4096]);

    let applied = apply_layer(tar.as_slice(), &sb.dest).unwrap();
    assert_eq!(applied.diff_id, Digest::sha256(&tar));
    assert_eq!(applied.size, tar.len() as u64);
    assert!(applied.devices_skipped.is_empty());
    assert!(
        applied.xattrs_skipped.is_empty(),
        "{:?}",
        applied.xattrs_skipped
    );

    let a = fs::symlink_metadata(sb.dest.join("a")).unwrap();
    assert_eq!(a.mode() & 0o7777, 0o750);
    assert_eq!(a.mtime(), 1000, "directory mtime is set after its contents");

    let suid = sb.dest.join("a/suid");
    let meta = fs::symlink_metadata(&suid).unwrap();
    assert_eq!(fs::read(&suid).unwrap(), b"#!/bin/sh\n");
    assert_eq!(meta.mode() & 0o7777, 0o4755, "setuid survives the chown");
    assert_eq!((meta.uid(), meta.gid()), (1000, 2000));
    assert_eq!(meta.mtime(), 2000);
    assert_eq!(
        xattr::get(&suid, "user.note").unwrap().as_deref(),
        Some(&b"hello"[..])
    );

    let second = fs::symlink_metadata(sb.dest.join("a/second")).unwrap();
    assert_eq!(second.ino(), meta.ino(), "hard link shares the inode");
    assert_eq!(meta.nlink(), 2);

    let abs = sb.dest.join("a/abs");
    assert!(fs::symlink_metadata(&abs).unwrap().file_type().is_symlink());
    assert_eq!(fs::read_link(&abs).unwrap(), Path::new("/etc/passwd"));

    let pipe = fs::symlink_metadata(sb.dest.join("a/pipe")).unwrap();
    assert!(pipe.file_type().is_fifo());
    assert_eq!(pipe.mode() & 0o7777, 0o600);

    let tmp = fs::symlink_metadata(sb.dest.join("tmp")).unwrap();
    assert_eq!(tmp.mode() & 0o7777, 0o1777);
    sb.assert_untouched();
}

#[test]
fn whiteouts_become_devices_and_opaque_markers_xattrs() {
    let sb = sandbox();
    let mut layer = Layer::new();
    layer
        .file(".wh.gone", b"")
        .dir("etc/")
        .file("etc/.wh.old.conf", b"")
        // `data` is never listed itself: the marker creates it.
        .file("data/.wh..wh..opq", b"")
        .file("data/new", b"n");
    let applied = apply_layer(layer.finish().as_slice(), &sb.dest).unwrap();
    assert!(
        applied.devices_skipped.is_empty(),
        "whiteouts are not skipped devices"
    );

    assert!(is_whiteout(&sb.dest.join("gone")));
    assert!(is_whiteout(&sb.dest.join("etc/old.conf")));
    assert_eq!(names(&sb.dest), ["data", "etc", "gone"]);
    assert_eq!(names(&sb.dest.join("data")), ["new"]);
    assert_eq!(
        xattr::get(sb.dest.join("data"), "trusted.overlay.opaque")
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(
        xattr::get(sb.dest.join("etc"), "trusted.overlay.opaque").unwrap(),
        None
    );
}

#[test]
fn overlay_xattrs_in_a_layer_are_not_set() {
    let sb = sandbox();
    let mut layer = Layer::new();
    layer
        .pax(&[("SCHILY.xattr.trusted.overlay.redirect", b"/etc")])
        .dir("d/");
    let applied = apply_layer(layer.finish().as_slice(), &sb.dest).unwrap();
    assert_eq!(
        xattr::get(sb.dest.join("d"), "trusted.overlay.redirect").unwrap(),
        None
    );
    assert_eq!(
        applied.xattrs_skipped.len(),
        1,
        "{:?}",
        applied.xattrs_skipped
    );
    assert!(applied.xattrs_skipped[0].starts_with("d: trusted.overlay.redirect"));
}

fn refused(layer: Layer, sb: &Sandbox) -> LayerError {
    let err = apply_layer(layer.finish().as_slice(), &sb.dest).unwrap_err();
    sb.assert_untouched();
    err
}

#[test]
fn refuses_dot_dot_out_of_the_root() {
    for name in ["../x", "a/../../x", "./../sentinel/x"] {
        let sb = sandbox();
        let mut layer = Layer::new();
        layer.dir("a/").file(name, b"evil");
        let err = refused(layer, &sb);
        assert!(
            matches!(&err, LayerError::Escapes { entry } if entry == name),
            "{err:?}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn dot_dot_inside_the_root_is_folded() {
    let sb = sandbox();
    let mut layer = Layer::new();
    layer.dir("a/").file("a/../b", b"ok");
    apply_layer(layer.finish().as_slice(), &sb.dest).unwrap();
    assert_eq!(fs::read(sb.dest.join("b")).unwrap(), b"ok");
}

#[test]
fn refuses_entries_below_a_symlink() {
    let sb = sandbox();
    let mut layer = Layer::new();
    let target = sb.sentinel.to_str().unwrap().to_string();
    layer
        .symlink("link", &target)
        .file("link/passwd", b"root::0:0::/:/bin/sh\n");
    let err = refused(layer, &sb);
    assert!(
        matches!(&err, LayerError::UnderSymlink { entry, link } if entry == "link/passwd" && link == "link"),
        "{err:?}"
    );

    // Deeper, and through a relative link that climbs out.
    let sb = sandbox();
    let mut layer = Layer::new();
    layer
        .dir("a/")
        .symlink("a/up", "../../sentinel")
        .dir("a/up/x/");
    let err = refused(layer, &sb);
    assert!(
        matches!(&err, LayerError::UnderSymlink { link, .. } if link == "a/up"),
        "{err:?}"
    );
}

#[test]
fn a_file_replaces_a_symlink_instead_of_writing_through_it() {
    let sb = sandbox();
    let mut layer = Layer::new();
    let target = sb.sentinel.join("f");
    layer
        .symlink("s", target.to_str().unwrap())
        .file("s", b"mine");
    apply_layer(layer.finish().as_slice(), &sb.dest).unwrap();
    let s = sb.dest.join("s");
    assert!(fs::symlink_metadata(&s).unwrap().is_file());
    assert_eq!(fs::read(&s).unwrap(), b"mine");
    sb.assert_untouched();
}

#[test]
fn later_entries_replace_earlier_ones() {
    let sb = sandbox();
    let mut layer = Layer::new();
    layer
        .file("x", b"file")
        .dir("x/")
        .file("x/y", b"y")
        .dir("d/")
        .file("d/old", b"old")
        .file("d", b"now a file")
        .add("x/", EntryType::Directory, 0o700, None, b"");
    apply_layer(layer.finish().as_slice(), &sb.dest).unwrap();
    assert_eq!(
        names(&sb.dest.join("x")),
        ["y"],
        "a directory entry keeps its contents"
    );
    assert_eq!(
        fs::symlink_metadata(sb.dest.join("x")).unwrap().mode() & 0o7777,
        0o700
    );
    assert_eq!(fs::read(sb.dest.join("d")).unwrap(), b"now a file");
}

#[test]
fn refuses_hard_links_that_escape_or_name_nothing_earlier() {
    let cases = [
        ("../../etc/passwd", "climbs out"),
        ("etc/passwd", "not an earlier entry"),
        ("dir", "a directory"),
    ];
    for (target, why) in cases {
        let sb = sandbox();
        let mut layer = Layer::new();
        layer.dir("dir/").hardlink("h", target);
        let err = refused(layer, &sb);
        assert!(
            matches!(&err, LayerError::BadHardlink { entry, target: t, why: w }
                if entry == "h" && t == target && w.contains(why)),
            "{err:?}"
        );
        assert!(!sb.dest.join("h").exists());
    }
}

#[test]
fn device_entries_become_empty_files() {
    let sb = sandbox();
    let mut layer = Layer::new();
    layer.dir("dev/");
    for (name, kind) in [("dev/sda", EntryType::Block), ("dev/mem", EntryType::Char)] {
        layer.add_with(name, kind, 0o666, None, b"", |h| {
            h.set_device_major(1).unwrap();
            h.set_device_minor(1).unwrap();
        });
    }
    let applied = apply_layer(layer.finish().as_slice(), &sb.dest).unwrap();
    assert_eq!(applied.devices_skipped, ["dev/sda", "dev/mem"]);
    for name in ["dev/sda", "dev/mem"] {
        let meta = fs::symlink_metadata(sb.dest.join(name)).unwrap();
        assert!(meta.is_file(), "{name} is not a device node");
        assert_eq!((meta.len(), meta.mode() & 0o7777), (0, 0));
    }
    sb.assert_untouched();
}

#[test]
fn round_trips_through_write_tar() {
    let src = tempfile::tempdir().unwrap();
    let s = src.path();
    fs::create_dir_all(s.join("usr/bin")).unwrap();
    fs::write(s.join("usr/bin/tool"), b"binary").unwrap();
    fs::hard_link(s.join("usr/bin/tool"), s.join("usr/bin/alias")).unwrap();
    std::os::unix::fs::symlink("/usr/bin/tool", s.join("usr/bin/abs")).unwrap();
    std::os::unix::fs::symlink("tool", s.join("usr/bin/rel")).unwrap();
    fs::write(s.join("usr/secret"), b"x").unwrap();
    std::os::unix::fs::chown(s.join("usr/secret"), Some(42), Some(43)).unwrap();
    fs::set_permissions(
        s.join("usr/secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o2640),
    )
    .unwrap();
    xattr::set(s.join("usr/secret"), "user.k", b"v").unwrap();
    rustix_mkfifo(&s.join("usr/fifo"));
    for p in ["usr/bin/tool", "usr/secret", "usr/bin", "usr"] {
        let t = fs::FileTimes::new()
            .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(MTIME));
        fs::File::open(s.join(p)).unwrap().set_times(t).unwrap();
    }

    let before = from_dir(s).unwrap();
    let (tar, stats) = write_tar(&before, &TarOptions::default(), Vec::new()).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let applied = apply_layer(tar.as_slice(), dest.path()).unwrap();
    assert_eq!(applied.diff_id, stats.diff_id);
    assert_eq!(applied.size, stats.size);
    let after = from_dir(dest.path()).unwrap();
    let describe_all =
        |e: &berth_layer::Entries| e.entries.iter().map(describe).collect::<Vec<_>>();
    assert_eq!(describe_all(&after), describe_all(&before));
    assert!(
        after
            .entries
            .iter()
            .any(|e| matches!(e.kind, Kind::Hardlink { .. }))
    );
    assert_eq!(
        fs::read(dest.path().join("usr/bin/alias")).unwrap(),
        b"binary"
    );
    // Applying what was applied gives the same stream again.
    let (again, _) = write_tar(&after, &TarOptions::default(), Vec::new()).unwrap();
    assert_eq!(again, tar);
}

fn rustix_mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A tree 800 levels deep is read, written and applied on a thread with a small stack: every
/// walk is iterative, so depth never overflows a stack (BuildKit builds 2,000-level trees).
#[test]
fn a_deep_tree_round_trips_on_a_small_stack() {
    const DEPTH: usize = 800;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    let root = berth_rootfs::Root::open(&src).unwrap();
    let mut at = root.mkdir("d", 0o755).unwrap();
    for _ in 1..DEPTH {
        at = at.mkdir("d", 0o755).unwrap();
    }
    at.create_file("leaf", 0o644).unwrap();
    drop(at);
    let sb = sandbox();
    let deepest = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn({
            let (src, dest) = (src.clone(), sb.dest.clone());
            move || {
                let entries = from_dir(&src).unwrap();
                let (tar, _) = write_tar(&entries, &TarOptions::default(), Vec::new()).unwrap();
                apply_layer(&tar[..], &dest).unwrap();
                entries.entries.last().unwrap().path.clone()
            }
        })
        .unwrap()
        .join()
        .unwrap();
    let leaf = format!("{}/leaf", vec!["d"; DEPTH].join("/"));
    assert_eq!(deepest, leaf.as_str());
    assert!(sb.dest.join(&leaf).is_file());
    sb.assert_untouched();
}

/// Names are bytes on Linux. A tree whose file, directory, symlink and hard-link names (and a
/// symlink target) are not UTF-8 makes a layer that holds them byte for byte, written as Go's
/// archive/tar writes them for BuildKit (the whole name in a PAX `path` or `linkpath` record,
/// the header keeping its ASCII bytes); applying it gives the tree back, and that tree, or the
/// layer read as a tarball, writes the very same bytes again.
#[test]
fn names_that_are_not_utf8_round_trip_byte_for_byte() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let src = tempfile::tempdir().unwrap();
    let at = |name: &[u8]| src.path().join(OsStr::from_bytes(name));
    fs::create_dir(at(b"dir\xff")).unwrap();
    fs::write(at(b"dir\xff/bad\xfe"), b"data").unwrap();
    fs::hard_link(at(b"dir\xff/bad\xfe"), at(b"hard\xfd")).unwrap();
    std::os::unix::fs::symlink(OsStr::from_bytes(b"dir\xff/bad\xfe"), at(b"link\xfc")).unwrap();
    fs::write(at("caf\u{e9}".as_bytes()), b"utf-8").unwrap();

    let entries = from_dir(src.path()).unwrap();
    let (tar, _) = write_tar(&entries, &TarOptions::default(), Vec::new()).unwrap();
    type Seen = (Vec<u8>, Vec<u8>, Vec<(String, Vec<u8>)>);
    let mut seen: Vec<Seen> = Vec::new();
    for item in tar::Archive::new(tar.as_slice()).entries().unwrap() {
        let mut item = item.unwrap();
        let records = item
            .pax_extensions()
            .unwrap()
            .map(|records| {
                records
                    .map(|r| r.unwrap())
                    .map(|r| (r.key().unwrap().to_string(), r.value_bytes().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        let in_header = item.header().path_bytes().into_owned();
        seen.push((item.path_bytes().into_owned(), in_header, records));
    }
    let path = |v: &[u8]| ("path".to_string(), v.to_vec());
    let link = ("linkpath".to_string(), b"dir\xff/bad\xfe".to_vec());
    let want: Vec<Seen> = vec![
        (
            b"caf\xc3\xa9".to_vec(),
            b"caf".to_vec(),
            vec![path(b"caf\xc3\xa9")],
        ),
        (
            b"dir\xff/".to_vec(),
            b"dir/".to_vec(),
            vec![path(b"dir\xff/")],
        ),
        (
            b"dir\xff/bad\xfe".to_vec(),
            b"dir/bad".to_vec(),
            vec![path(b"dir\xff/bad\xfe")],
        ),
        (
            b"hard\xfd".to_vec(),
            b"hard".to_vec(),
            vec![link.clone(), path(b"hard\xfd")],
        ),
        (
            b"link\xfc".to_vec(),
            b"link".to_vec(),
            vec![link, path(b"link\xfc")],
        ),
    ];
    assert_eq!(seen, want);

    let sb = sandbox();
    apply_layer(tar.as_slice(), &sb.dest).unwrap();
    let file = fs::symlink_metadata(sb.dest.join(OsStr::from_bytes(b"dir\xff/bad\xfe"))).unwrap();
    let hard = fs::symlink_metadata(sb.dest.join(OsStr::from_bytes(b"hard\xfd"))).unwrap();
    assert_eq!((file.nlink(), hard.ino()), (2, file.ino()));
    let back = from_dir(&sb.dest).unwrap();
    let described = |e: &berth_layer::Entries| e.entries.iter().map(describe).collect::<Vec<_>>();
    assert_eq!(described(&back), described(&entries));
    let (again, _) = write_tar(&back, &TarOptions::default(), Vec::new()).unwrap();
    assert!(again == tar, "the applied tree writes other bytes");
    let spool = tempfile::tempdir().unwrap();
    let read = berth_layer::from_tarball(tar.as_slice(), spool.path(), "layer.tar").unwrap();
    let (from_tarball, _) = write_tar(&read, &TarOptions::default(), Vec::new()).unwrap();
    assert!(
        from_tarball == tar,
        "the tarball read back writes other bytes"
    );
    sb.assert_untouched();
}
