//! The root's operations on both strategies, the hostile corpus and the race.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use crate::extract::{self, Devices, ExtractError, Hardlinks, NoHooks, Rules};
use crate::testing::{SECRET, Scene, race, race_planted, run_corpus};
use crate::{Error, Last, Links, NewDir, Node, Reader, Resolver, Root, Time};

fn roots(dir: &Path) -> Vec<Root> {
    Resolver::ALL
        .iter()
        .map(|&r| Root::open_with(dir, r, Links::InRoot).unwrap())
        .collect()
}

#[test]
fn symlinks_resolve_inside_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("etc")).unwrap();
    symlink("/etc", root.join("app")).unwrap();
    symlink("../../../../tmp", root.join("up")).unwrap();
    symlink("loop", root.join("loop")).unwrap();
    symlink("etc/../app/../missing/x", root.join("rel")).unwrap();
    for r in roots(root) {
        let what = format!("{:?}", r.resolver());
        let rel = |p: &str, last| r.resolve(p, last).unwrap().rel;
        assert_eq!(rel("/app/passwd", Last::Follow), "etc/passwd", "{what}");
        assert_eq!(
            r.resolve("/app/passwd", Last::Follow).unwrap().host,
            root.join("etc/passwd")
        );
        assert_eq!(rel("up/x", Last::Follow), "tmp/x", "{what}");
        assert_eq!(rel("app", Last::NoFollow), "app", "{what}");
        assert_eq!(rel("app", Last::Follow), "etc", "{what}");
        assert_eq!(rel("../../app", Last::Follow), "etc", "{what}");
        assert_eq!(
            rel("app/..", Last::Follow),
            "",
            "{what}: .. after a symlink is physical"
        );
        assert_eq!(rel("rel", Last::Follow), "missing/x", "{what}");
        assert_eq!(rel("no/such/../dir", Last::Follow), "no/dir", "{what}");
        let err = r.resolve("loop", Last::Follow).unwrap_err();
        assert!(matches!(err, Error::TooManyLinks { .. }), "{what}: {err}");
        assert_eq!(std::io::Error::from(err).raw_os_error(), Some(libc_eloop()));
    }
}

fn libc_eloop() -> i32 {
    rustix::io::Errno::LOOP.raw_os_error()
}

#[test]
fn creates_through_symlinks_only_inside() {
    for r in Resolver::ALL {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        symlink("/made/by/link", root.join("dangling")).unwrap();
        let rootfs = Root::open_with(root, r, Links::InRoot).unwrap();
        let new = NewDir {
            mode: 0o750,
            owner: Some((12, 34)),
        };
        let d = rootfs.mkdir_all("dangling/sub", &new).unwrap();
        assert_eq!(d.rel(), "made/by/link/sub");
        let m = fs::metadata(root.join("made/by/link/sub")).unwrap();
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o750, 12, 34));
        let mut f = rootfs.create_file("dangling/sub/f", 0o600, &new).unwrap();
        std::io::Write::write_all(&mut f, b"x").unwrap();
        assert_eq!(fs::read(root.join("made/by/link/sub/f")).unwrap(), b"x");
        // An existing file in the way of a directory.
        let err = rootfs.mkdir_all("dangling/sub/f/g", &new).unwrap_err();
        assert!(
            matches!(err, Error::NotADirectory { ref parent, .. } if parent == "made/by/link/sub/f"),
            "{err}"
        );
    }
}

#[test]
fn refusing_symlinks_names_the_link() {
    for r in Resolver::ALL {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("a")).unwrap();
        symlink("/", dir.path().join("a/up")).unwrap();
        let rootfs = Root::open_with(dir.path(), r, Links::Refuse).unwrap();
        let err = rootfs.mkdir_all("a/up/x", &NewDir::default()).unwrap_err();
        assert!(
            matches!(&err, Error::UnderSymlink { link, .. } if link == "a/up"),
            "{r:?}: {err}"
        );
        assert!(err.to_string().contains("/a/up"), "{err}");
        assert!(!dir.path().join("x").exists());
    }
}

#[test]
fn metadata_operations_never_follow_the_last_name() {
    for resolver in Resolver::ALL {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("f"), b"f").unwrap();
        symlink("f", root.join("l")).unwrap();
        let r = Root::open_with(root, resolver, Links::InRoot).unwrap();
        r.chown("l", 7, 8).unwrap();
        let l = fs::symlink_metadata(root.join("l")).unwrap();
        let f = fs::metadata(root.join("f")).unwrap();
        assert_eq!((l.uid(), l.gid()), (7, 8));
        assert_ne!((f.uid(), f.gid()), (7, 8));
        r.utimens("l", Time::secs(5), Time::secs(6)).unwrap();
        assert_eq!(fs::symlink_metadata(root.join("l")).unwrap().mtime(), 6);
        assert_ne!(fs::metadata(root.join("f")).unwrap().mtime(), 6);
        // chmod follows (a symlink has no mode of its own) but stays inside.
        r.chmod("l", 0o4711).unwrap();
        assert_eq!(
            fs::metadata(root.join("f")).unwrap().mode() & 0o7777,
            0o4711
        );
        let err = r.top().unwrap().chmod("l", 0o600).unwrap_err();
        assert_eq!(err.errno(), Some(rustix::io::Errno::OPNOTSUPP));
        // xattrs: on the file through the link, and on the link itself.
        r.set_xattr("l", Last::Follow, "user.k", b"v").unwrap();
        assert_eq!(
            r.get_xattr("f", Last::NoFollow, "user.k")
                .unwrap()
                .as_deref(),
            Some(&b"v"[..])
        );
        assert_eq!(r.list_xattrs("l", Last::Follow).unwrap(), ["user.k"]);
        r.set_xattr("l", Last::NoFollow, "trusted.berth", b"link")
            .unwrap();
        assert_eq!(
            r.get_xattr("l", Last::NoFollow, "trusted.berth")
                .unwrap()
                .as_deref(),
            Some(&b"link"[..])
        );
        assert_eq!(
            r.get_xattr("f", Last::NoFollow, "trusted.berth").unwrap(),
            None
        );
        assert_eq!(r.readlink("l").unwrap(), "f");
        assert!(r.stat("l", Last::Follow).unwrap().is_file());
        assert!(
            r.stat("l", Last::NoFollow)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
}

#[test]
fn names_links_renames_and_removes() {
    for resolver in Resolver::ALL {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("keep"), b"k").unwrap();
        let r = Root::open_with(root, resolver, Links::InRoot).unwrap();
        r.mkdir("d", 0o700).unwrap();
        drop(r.create_file("d/a", 0o644, &NewDir::default()).unwrap());
        r.hardlink("d/a", "b").unwrap();
        assert_eq!(fs::metadata(root.join("d/a")).unwrap().nlink(), 2);
        r.rename("b", "d/c").unwrap();
        let mut names = r.read_dir("d").unwrap();
        names.sort();
        assert_eq!(names, ["a", "c"]);
        symlink(outside.path(), root.join("d/out")).unwrap();
        r.remove_all("d").unwrap();
        assert!(!root.join("d").exists());
        assert!(
            outside.path().join("keep").exists(),
            "remove_all followed a symlink"
        );
        r.remove_all("d").unwrap();
        r.symlink("/x", "s").unwrap();
        r.unlink("s").unwrap();
        assert!(matches!(r.unlink("/"), Err(Error::NoEntry { .. })));
        assert!(matches!(r.unlink("/."), Err(Error::NoEntry { .. })));
    }
}

#[test]
fn devices_are_refused_fifos_and_whiteouts_made() {
    for resolver in Resolver::ALL {
        let dir = tempfile::tempdir().unwrap();
        let r = Root::open_with(dir.path(), resolver, Links::InRoot).unwrap();
        for node in [
            Node::Char { major: 1, minor: 3 },
            Node::Block { major: 8, minor: 0 },
        ] {
            let err = r.mknod("dev", node, 0o666).unwrap_err();
            assert!(
                matches!(err, Error::DeviceRefused { ref path, .. } if path == "dev"),
                "{err}"
            );
            assert!(err.to_string().contains("never creates device nodes"));
        }
        assert!(!dir.path().join("dev").exists());
        r.mknod("p", Node::Fifo, 0o640).unwrap();
        assert!(
            fs::symlink_metadata(dir.path().join("p"))
                .unwrap()
                .file_type()
                .is_fifo()
        );
        r.whiteout("w").unwrap();
        let w = fs::symlink_metadata(dir.path().join("w")).unwrap();
        assert!(w.file_type().is_char_device() && w.rdev() == 0);
    }
}

#[test]
fn strategy_is_chosen_once() {
    assert_eq!(Resolver::detect(), Resolver::detect());
}

/// Every operation of the root, aimed through each case's hostile path.
fn attack_root(r: &Root, path: &str) {
    let new = NewDir::default();
    let _ = r.mkdir_all(path, &new);
    let _ = r.create_file(path, 0o644, &new);
    let _ = r.open_file(
        path,
        Last::Follow,
        crate::OFlags::WRONLY | crate::OFlags::TRUNC,
        0,
    );
    let _ = r.mkdir(path, 0o755);
    let _ = r.chown(path, 1, 1);
    let _ = r.chmod(path, 0o777);
    let _ = r.utimens(path, Time::secs(0), Time::secs(0));
    let _ = r.set_xattr(path, Last::Follow, "user.x", b"x");
    let _ = r.set_xattr(path, Last::NoFollow, "trusted.x", b"x");
    let _ = r.hardlink(path, "hl");
    let _ = r.hardlink("../outside/secret", "hl2");
    let _ = r.symlink("/", path);
    let _ = r.mknod(path, Node::Block { major: 8, minor: 0 }, 0o600);
    let _ = r.rename(path, "moved");
    let _ = r.remove_all(path);
    let _ = r.unlink(path);
    for p in [path, "up", "link", "a/b", "f", "o"] {
        let _ = r.chmod(p, 0o777);
        let _ = r.utimens(p, Time::secs(0), Time::secs(0));
        let _ = r.remove_all(format!("{p}/secret"));
    }
}

fn layer_rules() -> Rules {
    Rules {
        refuse_escaping_symlinks: false,
        hardlinks: Hardlinks::EarlierEntries,
        devices: Devices::Placeholder,
        refuse_unknown_types: true,
        tolerate_chown_eperm: false,
        parents: NewDir::default(),
    }
}

fn add_rules() -> Rules {
    Rules {
        refuse_escaping_symlinks: true,
        hardlinks: Hardlinks::Inside,
        devices: Devices::Skip,
        refuse_unknown_types: false,
        tolerate_chown_eperm: true,
        parents: NewDir::default(),
    }
}

#[test]
fn hostile_corpus_against_the_root() {
    for resolver in Resolver::ALL {
        for links in [Links::InRoot, Links::Refuse] {
            run_corpus(&format!("root {resolver:?} {links:?}"), |scene, case| {
                let r = Root::open_with(&scene.root, resolver, links).unwrap();
                attack_root(&r, case.path);
            });
        }
    }
}

#[test]
fn hostile_corpus_against_the_extractor() {
    for resolver in Resolver::ALL {
        for (links, rules) in [(Links::Refuse, layer_rules()), (Links::InRoot, add_rules())] {
            run_corpus(&format!("extract {resolver:?} {links:?}"), |scene, case| {
                let r = Root::open_with(&scene.root, resolver, links).unwrap();
                let tar = (case.tar)(scene);
                let _ = extract::extract(&r, "", tar.as_slice(), &rules, &mut NoHooks);
                let _ = extract::extract(&r, "sub/dir", tar.as_slice(), &rules, &mut NoHooks);
            });
        }
    }
}

#[test]
fn extractor_refusals_name_the_entry() {
    let extract_in = |links, rules: &Rules, name: &str| {
        let scene = Scene::new();
        let case = crate::testing::cases()
            .into_iter()
            .find(|c| c.name == name)
            .unwrap();
        let r = Root::open_with(&scene.root, Resolver::detect(), links).unwrap();
        let got = extract::extract(&r, "", (case.tar)(&scene).as_slice(), rules, &mut NoHooks);
        scene.assert_contained(name);
        (got, scene)
    };
    let (err, _) = extract_in(Links::Refuse, &layer_rules(), "dot-dot");
    assert!(matches!(err, Err(ExtractError::Escapes { entry }) if entry == "../outside/x"));
    let (err, _) = extract_in(Links::Refuse, &layer_rules(), "relative-symlink");
    assert!(
        matches!(&err, Err(ExtractError::UnderSymlink { entry, link }) if entry == "up/x" && link == "up"),
        "{err:?}"
    );
    let (err, _) = extract_in(Links::InRoot, &add_rules(), "relative-symlink");
    assert!(
        matches!(err, Err(ExtractError::SymlinkEscapes { .. })),
        "{err:?}"
    );
    let (err, _) = extract_in(Links::Refuse, &layer_rules(), "hardlink-out");
    assert!(
        matches!(
            err,
            Err(ExtractError::BadHardlink {
                why: extract::BadLink::ClimbsOut,
                ..
            })
        ),
        "{err:?}"
    );
    // Written through the planted absolute symlink, inside the root.
    let (done, scene) = extract_in(Links::InRoot, &add_rules(), "absolute-symlink");
    done.unwrap();
    let inside = scene
        .root
        .join(scene.outside.strip_prefix("/").unwrap())
        .join("x");
    assert_eq!(fs::read(inside).unwrap(), b"evil");
    let (done, scene) = extract_in(Links::Refuse, &layer_rules(), "device-nodes");
    assert_eq!(done.unwrap().devices_skipped, ["dev/mem", "dev/sda"]);
    let placeholder = fs::symlink_metadata(scene.root.join("dev/sda")).unwrap();
    assert!(placeholder.is_file() && placeholder.permissions().mode() & 0o7777 == 0);
    let (done, scene) = extract_in(Links::InRoot, &add_rules(), "device-nodes");
    assert_eq!(done.unwrap().devices_skipped, ["dev/mem", "dev/sda"]);
    assert!(!scene.root.join("dev/sda").exists());
    assert!(
        fs::symlink_metadata(scene.root.join("dev/fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

#[test]
fn race_against_the_root() {
    for resolver in Resolver::ALL {
        race(&format!("root {resolver:?}"), 1000, |scene, i| {
            let r = Root::open_with(&scene.root, resolver, Links::InRoot).unwrap();
            let new = NewDir::default();
            let _ = r.create_file(format!("d/f{i}"), 0o644, &new);
            let _ = r.mkdir_all(format!("d/sub{i}/x"), &new);
            let _ = r.chmod("d/secret", 0o777);
            let _ = r.utimens("d/secret", Time::secs(0), Time::secs(0));
            let _ = r.set_xattr("d/secret", Last::Follow, "user.x", b"x");
            let _ = r.hardlink("d/secret", format!("h{i}"));
            let _ = r.remove_all("d/secret");
            let _ = r.unlink("e/secret");
        });
    }
}

/// The read side of the race: `d/secret` is read (and `d` listed) by every way the root
/// reads, on both strategies and both symlink rules, while `d` keeps turning into a symlink
/// to the outside; the outside's bytes and names never come back.
#[test]
fn race_reading_through_the_root() {
    for resolver in Resolver::ALL {
        for links in [Links::InRoot, Links::Refuse] {
            let plant = |scene: &Scene| {
                fs::write(scene.root.join("d/secret"), b"inside").unwrap();
                fs::write(scene.root.join("d/only-inside"), b"inside").unwrap();
            };
            race_planted(
                &format!("reading {resolver:?} {links:?}"),
                1000,
                plant,
                |scene, _| {
                    use std::io::Read;
                    let r = Root::open_with(&scene.root, resolver, links).unwrap();
                    for last in [Last::Follow, Last::NoFollow] {
                        if let Ok(mut file) = r.open_read("d/secret", last) {
                            let mut bytes = Vec::new();
                            if file.read_to_end(&mut bytes).is_ok() {
                                assert_ne!(bytes, SECRET, "{resolver:?} {links:?}: read outside");
                            }
                        }
                    }
                    // A reader keeps `d` open from the first read to the second.
                    let reader = Reader::new(r.with_links(links).unwrap());
                    for name in ["d/only-inside", "d/secret"] {
                        if let Ok(mut file) = reader.open(name, crate::OFlags::RDONLY) {
                            let mut bytes = Vec::new();
                            if file.read_to_end(&mut bytes).is_ok() {
                                assert_ne!(bytes, SECRET, "{resolver:?} {links:?}: read outside");
                            }
                        }
                    }
                    if let Ok(dir) = r.dir("d") {
                        if let Ok(names) = dir.read_dir() {
                            assert!(
                                names.iter().any(|n| n == "only-inside"),
                                "{resolver:?} {links:?}: listed outside"
                            );
                        }
                        if let Ok(mut file) = dir.open("secret", crate::OFlags::RDONLY, 0) {
                            let mut bytes = Vec::new();
                            if file.read_to_end(&mut bytes).is_ok() {
                                assert_ne!(bytes, SECRET, "{resolver:?} {links:?}: read outside");
                            }
                        }
                    }
                },
            );
        }
    }
}

/// `remove_all` of a deep tree on a thread with a small stack: iterative and by descriptors,
/// it neither overflows the stack nor gives the kernel a path longer than one name.
#[test]
fn remove_all_empties_a_tree_deeper_than_any_path() {
    const DEPTH: usize = 800;
    let dir = tempfile::tempdir().unwrap();
    let root = Root::open_with(dir.path(), Resolver::detect(), Links::Refuse).unwrap();
    let mut at = root.mkdir("d", 0o755).unwrap();
    for _ in 1..DEPTH {
        at.create_file("f", 0o644).unwrap();
        at = at.mkdir("d", 0o755).unwrap();
    }
    drop(at);
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn_scoped(s, || root.remove_all("d"))
            .unwrap()
            .join()
            .unwrap()
    })
    .unwrap();
    assert!(fs::read_dir(dir.path()).unwrap().next().is_none());
}

/// A reader reads the entries of one directory from one open directory, and resolves a new
/// directory by the root's rule: a symlink swapped in for one is refused, never followed.
#[test]
fn reader_reuses_the_directory_and_refuses_swapped_links() {
    for resolver in Resolver::ALL {
        let dir = tempfile::tempdir().unwrap();
        let (root, outside) = (dir.path().join("root"), dir.path().join("outside"));
        for d in ["a", "b", "c"] {
            fs::create_dir_all(root.join(d)).unwrap();
            fs::write(root.join(d).join("f"), d).unwrap();
        }
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("f"), SECRET).unwrap();
        let reader = Reader::new(Root::open_with(&root, resolver, Links::Refuse).unwrap());
        let read = |path: &str| {
            use std::io::Read;
            let mut bytes = Vec::new();
            reader
                .open(path, crate::OFlags::RDONLY)
                .map(|mut f| f.read_to_end(&mut bytes).map(|_| bytes))
        };
        assert_eq!(read("a/f").unwrap().unwrap(), b"a", "{resolver:?}");
        assert_eq!(read("b/f").unwrap().unwrap(), b"b", "{resolver:?}");
        // `b` stays open: renamed away and replaced, the reads still come from the
        // directory that was resolved inside the root.
        fs::rename(root.join("b"), root.join("b-moved")).unwrap();
        symlink(&outside, root.join("b")).unwrap();
        assert_eq!(read("b/f").unwrap().unwrap(), b"b", "{resolver:?}");
        // A new directory is resolved again, and the swapped-in symlink refused.
        fs::remove_dir_all(root.join("c")).unwrap();
        symlink(&outside, root.join("c")).unwrap();
        assert!(read("c/f").is_err(), "{resolver:?}: followed a symlink");
        assert!(read("b/f").is_err(), "{resolver:?}: followed a symlink");
        assert_eq!(
            reader.xattrs("a/f").unwrap(),
            Vec::<(Vec<u8>, Vec<u8>)>::new()
        );
        assert_eq!(reader.readlink("b").unwrap(), outside.as_os_str());
    }
}

/// Names are bytes on Linux: entries, symlink targets and hard-link targets that are not
/// UTF-8 are written byte for byte (a directory, a file in it, a symlink and a hard link to
/// the file), through both resolvers; an error about such an entry names it with escapes.
#[test]
fn names_that_are_not_utf8_are_extracted_byte_for_byte() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let entry = |kind: tar::EntryType, name: &[u8], target: &[u8]| {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.as_old_mut().linkname[..target.len()].copy_from_slice(target);
        h.set_entry_type(kind);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_cksum();
        h.as_bytes().to_vec()
    };
    let mut tar = [
        entry(tar::EntryType::Directory, b"caf\xe9/", b""),
        entry(tar::EntryType::Regular, b"caf\xe9/menu\xff", b""),
        entry(tar::EntryType::Symlink, b"link\xfe", b"caf\xe9/menu\xff"),
        entry(tar::EntryType::Link, b"hard\xfe", b"caf\xe9/menu\xff"),
    ]
    .concat();
    tar.resize(tar.len() + 1024, 0);
    let host = |dir: &Path, name: &[u8]| dir.join(OsStr::from_bytes(name));
    for resolver in Resolver::ALL {
        let dir = tempfile::tempdir().unwrap();
        let r = Root::open_with(dir.path(), resolver, Links::Refuse).unwrap();
        extract::extract(&r, "", tar.as_slice(), &layer_rules(), &mut NoHooks).unwrap();
        let file = fs::symlink_metadata(host(dir.path(), b"caf\xe9/menu\xff")).unwrap();
        assert!(file.is_file(), "{resolver:?}");
        assert_eq!(
            file.nlink(),
            2,
            "{resolver:?}: the hard link is a second name"
        );
        let hard = fs::symlink_metadata(host(dir.path(), b"hard\xfe")).unwrap();
        assert_eq!(hard.ino(), file.ino(), "{resolver:?}");
        let got = fs::read_link(host(dir.path(), b"link\xfe")).unwrap();
        assert_eq!(
            got.as_os_str().as_bytes(),
            b"caf\xe9/menu\xff",
            "{resolver:?}"
        );

        // A link to a name the archive never wrote is refused, naming both with escapes.
        let mut bad = entry(tar::EntryType::Link, b"again\xfe", b"gone\xff");
        bad.resize(bad.len() + 1024, 0);
        let err =
            extract::extract(&r, "", bad.as_slice(), &layer_rules(), &mut NoHooks).unwrap_err();
        assert_eq!(
            err.to_string(),
            "hard link \"again\\xfe\" to \"gone\\xff\": which is not an earlier entry of this layer",
            "{resolver:?}"
        );
    }
}
