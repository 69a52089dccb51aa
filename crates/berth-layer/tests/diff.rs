//! Reading an overlayfs upper directory back as a layer, after real changes through a real
//! overlay mount of applied layers.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_layer::entry::Kind;
use berth_layer::{LayerError, TarOptions, apply_layer, from_overlay_upper, write_tar};
use common::{Layer, describe, is_whiteout, names};

/// An overlay mount, unmounted when dropped (also when a test fails).
struct Mount(PathBuf);

impl Mount {
    fn overlay(lower: &[&Path], upper: &Path, work: &Path, merged: &Path) -> Mount {
        let lowers: Vec<String> = lower.iter().map(|p| p.display().to_string()).collect();
        let opts = format!(
            "lowerdir={},upperdir={},workdir={},redirect_dir=off,metacopy=off,index=off",
            lowers.join(":"),
            upper.display(),
            work.display()
        );
        let status = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &opts])
            .arg(merged)
            .status()
            .unwrap();
        assert!(status.success(), "mount -o {opts} failed");
        Mount(merged.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn sh(script: &str, dir: &Path) {
    let status = Command::new("sh")
        .args(["-ec", script])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
}

#[test]
fn changes_through_an_overlay_read_back_as_layer_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| {
        let p = tmp.path().join(name);
        fs::create_dir(&p).unwrap();
        p
    };
    let (l1, l2, upper, work, merged) = (dir("l1"), dir("l2"), dir("u"), dir("w"), dir("m"));

    let mut base = Layer::new();
    base.dir("etc/")
        .file("etc/keep", b"old contents\n")
        .file("etc/old", b"to be removed\n")
        .dir("data/")
        .file("data/a", b"a")
        .file("data/b", b"b")
        .file("rmme", b"gone in layer 2")
        .dir("dir2/")
        .file("dir2/x", b"x");
    apply_layer(base.finish().as_slice(), &l1).unwrap();
    let mut top = Layer::new();
    top.file(".wh.rmme", b"")
        .file("data/.wh..wh..opq", b"")
        .file("data/new", b"new");
    apply_layer(top.finish().as_slice(), &l2).unwrap();

    {
        let _mount = Mount::overlay(&[&l2, &l1], &upper, &work, &merged);
        // The lower layers' deletions show in the merged view.
        assert_eq!(names(&merged), ["data", "dir2", "etc"]);
        assert_eq!(names(&merged.join("data")), ["new"]);
        assert_eq!(
            fs::read(merged.join("etc/keep")).unwrap(),
            b"old contents\n"
        );

        // What a RUN step might do.
        sh(
            "rm etc/old
             echo created > etc/created
             echo new contents > etc/keep
             rm -r dir2 && mkdir dir2 && echo y > dir2/y",
            &merged,
        );
    }

    let diff = from_overlay_upper(&upper).unwrap();
    let got: Vec<(String, String)> = diff
        .entries
        .iter()
        .map(|e| {
            let kind = match &e.kind {
                Kind::Dir => "dir".to_string(),
                Kind::File { size, .. } => format!("file {size}"),
                other => format!("{other:?}"),
            };
            (e.path.to_string_lossy().into_owned(), kind)
        })
        .collect();
    let want = [
        ("dir2", "dir"),
        ("dir2/.wh..wh..opq", "file 0"),
        ("dir2/y", "file 2"),
        ("etc", "dir"),
        ("etc/.wh.old", "file 0"),
        ("etc/created", "file 8"),
        ("etc/keep", "file 13"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(p, k)| (p.to_string(), k.to_string()))
        .collect();
    assert_eq!(got, want);
    for e in &diff.entries {
        assert!(
            e.xattrs
                .iter()
                .all(|(k, _)| !k.starts_with("trusted.overlay.")),
            "{}",
            describe(e)
        );
        if e.path
            .to_string_lossy()
            .rsplit('/')
            .next()
            .unwrap()
            .starts_with(".wh.")
        {
            assert_eq!((e.mode, e.uid, e.gid), (0, 0, 0), "{}", describe(e));
        }
    }

    // The diff as a layer tar, applied as a third lower directory, says the same to overlayfs.
    let (tar, stats) = write_tar(&diff, &TarOptions::default(), Vec::new()).unwrap();
    let mut archive = tar::Archive::new(tar.as_slice());
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        if path.contains(".wh.") {
            assert_eq!(
                entry.header().entry_type(),
                tar::EntryType::Regular,
                "{path}"
            );
            assert_eq!(entry.header().size().unwrap(), 0, "{path}");
        }
    }
    let l3 = dir("l3");
    let applied = apply_layer(tar.as_slice(), &l3).unwrap();
    assert_eq!(applied.diff_id, stats.diff_id);
    assert!(is_whiteout(&l3.join("etc/old")));
    assert_eq!(
        xattr::get(l3.join("dir2"), "trusted.overlay.opaque")
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    let (upper2, work2, merged2) = (dir("u2"), dir("w2"), dir("m2"));
    let _mount = Mount::overlay(&[&l3, &l2, &l1], &upper2, &work2, &merged2);
    assert_eq!(names(&merged2.join("etc")), ["created", "keep"]);
    assert_eq!(names(&merged2.join("dir2")), ["y"]);
    assert_eq!(
        fs::read(merged2.join("etc/keep")).unwrap(),
        b"new contents\n"
    );
}

#[test]
fn reads_whiteouts_and_opaque_dirs_made_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let upper = tmp.path();
    fs::create_dir(upper.join("opq")).unwrap();
    fs::write(upper.join("opq/f"), b"f").unwrap();
    xattr::set(upper.join("opq"), "trusted.overlay.opaque", b"y").unwrap();
    xattr::set(upper.join("opq"), "trusted.overlay.origin", b"\0\x01").unwrap();
    xattr::set(upper.join("opq"), "user.kept", b"1").unwrap();
    let status = Command::new("mknod")
        .arg(upper.join("wh"))
        .args(["c", "0", "0"])
        .status()
        .unwrap();
    assert!(status.success());

    let entries = from_overlay_upper(upper).unwrap();
    let got: Vec<String> = entries.entries.iter().map(describe).collect();
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(got[0].starts_with(".wh.wh file 0 0 0:0 "), "{}", got[0]);
    assert!(got[1].starts_with("opq dir 755 0:0 "), "{}", got[1]);
    assert!(
        got[1].ends_with("[user.kept=1]"),
        "only non-overlay xattrs: {}",
        got[1]
    );
    assert!(
        got[2].starts_with("opq/.wh..wh..opq file 0 0 0:0 "),
        "{}",
        got[2]
    );
    assert!(got[3].starts_with("opq/f file 1 "), "{}", got[3]);
    let node = fs::symlink_metadata(upper.join("wh")).unwrap();
    assert_eq!(
        entries.entries[0].mtime,
        std::os::unix::fs::MetadataExt::mtime(&node)
    );
}

#[test]
fn redirect_and_metacopy_are_refused_by_name() {
    for xattr_name in ["trusted.overlay.redirect", "trusted.overlay.metacopy"] {
        let tmp = tempfile::tempdir().unwrap();
        let moved = tmp.path().join("a/moved");
        fs::create_dir_all(&moved).unwrap();
        xattr::set(&moved, xattr_name, b"/elsewhere").unwrap();
        let Err(err) = from_overlay_upper(tmp.path()) else {
            panic!("{xattr_name} was accepted");
        };
        assert!(
            matches!(&err, LayerError::OverlayFeature { path, xattr } if path == &moved && xattr == xattr_name),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("redirect_dir=off,metacopy=off"),
            "{err}"
        );
    }
}
