//! The hostile corpus, written once and run against this crate and through each of its
//! users (layer application, COPY/ADD, the sandbox's root paths, the copy snapshotter), on
//! both resolution strategies.
//!
//! A [`Scene`] is a root directory with, beside it, an `outside` directory holding one file
//! nothing may touch. Each [`Case`] plants something hostile in the root (or in an archive)
//! and names a path a user is asked to write through; whatever the user answers (done, or
//! refused with an error), [`Scene::assert_contained`] must hold afterwards: nothing outside
//! the root changed, and no device node exists in the root.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tar::EntryType;

use crate::resolver::{RESOLVE_ENV, Resolver};

/// What the file outside the root holds, and must still hold (and never be read through the
/// root).
pub const SECRET: &[u8] = b"outside the root\n";
const SECRET_MODE: u32 = 0o640;

/// A root and, beside it, what must never be touched.
pub struct Scene {
    _tmp: tempfile::TempDir,
    /// The root directory (empty, or planted by a case).
    pub root: PathBuf,
    /// A directory beside the root that nothing may write into.
    pub outside: PathBuf,
    secret_mtime: i64,
}

impl Scene {
    pub fn new() -> Scene {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        fs::create_dir(&root).expect("root");
        fs::create_dir(&outside).expect("outside");
        fs::write(outside.join("secret"), SECRET).expect("secret");
        fs::set_permissions(
            outside.join("secret"),
            fs::Permissions::from_mode(SECRET_MODE),
        )
        .expect("chmod secret");
        let secret_mtime = fs::metadata(outside.join("secret"))
            .expect("secret")
            .mtime();
        Scene {
            _tmp: tmp,
            root,
            outside,
            secret_mtime,
        }
    }

    /// Nothing outside the root changed, and no character or block device (but an overlay
    /// whiteout, 0:0) exists in the root.
    pub fn assert_contained(&self, what: &str) {
        let names = |dir: &Path| {
            let mut n: Vec<String> = fs::read_dir(dir)
                .expect("list")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            n.sort();
            n
        };
        assert_eq!(
            names(&self.outside),
            ["secret"],
            "{what}: wrote outside the root"
        );
        let secret = self.outside.join("secret");
        assert_eq!(
            fs::read(&secret).expect("secret"),
            SECRET,
            "{what}: changed outside"
        );
        let meta = fs::symlink_metadata(&secret).expect("secret");
        assert_eq!(
            meta.nlink(),
            1,
            "{what}: hard-linked a file outside the root"
        );
        assert_eq!(meta.mode() & 0o7777, SECRET_MODE, "{what}: chmod outside");
        assert_eq!(meta.mtime(), self.secret_mtime, "{what}: touched outside");
        let parent = self.root.parent().expect("parent");
        assert_eq!(
            names(parent),
            ["outside", "root"],
            "{what}: wrote beside the root"
        );
        assert_no_devices(&self.root, what);
    }

    /// `outside` as a path string (for symlink targets).
    pub fn outside_str(&self) -> String {
        self.outside.to_string_lossy().into_owned()
    }
}

impl Default for Scene {
    fn default() -> Scene {
        Scene::new()
    }
}

fn assert_no_devices(dir: &Path, what: &str) {
    for entry in fs::read_dir(dir).expect("list") {
        let entry = entry.expect("entry");
        let meta = fs::symlink_metadata(entry.path()).expect("stat");
        let ft = meta.file_type();
        assert!(
            !(ft.is_block_device() || (ft.is_char_device() && meta.rdev() != 0)),
            "{what}: device node {} created",
            entry.path().display()
        );
        if ft.is_dir() {
            assert_no_devices(&entry.path(), what);
        }
    }
}

/// One hostile situation.
pub struct Case {
    pub name: &'static str,
    /// Plants the hostile state in the root (before the user runs).
    pub plant: fn(&Scene),
    /// The path (inside the root) the user is asked to write, through the planted state.
    pub path: &'static str,
    /// The same attack as a tar archive for the extractors.
    pub tar: fn(&Scene) -> Vec<u8>,
}

/// The corpus.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "dot-dot",
            plant: |_| {},
            path: "../../outside/x",
            tar: |_| raw_tar(&[("../outside/x", EntryType::Regular, "", b"evil")]),
        },
        Case {
            name: "dot-dot-deep",
            plant: |s| mkdir(&s.root.join("a")),
            path: "a/../../outside/x",
            tar: |_| {
                raw_tar(&[
                    ("a/", EntryType::Directory, "", b""),
                    ("a/../../outside/x", EntryType::Regular, "", b"evil"),
                ])
            },
        },
        Case {
            name: "absolute-symlink",
            plant: |s| symlink(&s.outside_str(), &s.root.join("link")),
            path: "link/x",
            tar: |s| {
                raw_tar(&[
                    ("link", EntryType::Symlink, &s.outside_str(), b""),
                    ("link/x", EntryType::Regular, "", b"evil"),
                ])
            },
        },
        Case {
            name: "relative-symlink",
            plant: |s| symlink("../outside", &s.root.join("up")),
            path: "up/x",
            tar: |_| {
                raw_tar(&[
                    ("up", EntryType::Symlink, "../outside", b""),
                    ("up/x", EntryType::Regular, "", b"evil"),
                ])
            },
        },
        Case {
            name: "relative-symlink-deep",
            plant: |s| {
                mkdir(&s.root.join("a/b"));
                symlink("../../../../../../../../outside", &s.root.join("a/b/up"));
            },
            path: "a/b/up/secret",
            tar: |_| {
                raw_tar(&[
                    ("a/b/", EntryType::Directory, "", b""),
                    ("a/b/up", EntryType::Symlink, "../../../outside", b""),
                    ("a/b/up/secret", EntryType::Regular, "", b"evil"),
                ])
            },
        },
        Case {
            name: "symlinked-parent",
            plant: |s| {
                mkdir(&s.root.join("a"));
                symlink(&s.outside_str(), &s.root.join("a/b"));
            },
            path: "a/b/c/x",
            tar: |s| {
                raw_tar(&[
                    ("a/", EntryType::Directory, "", b""),
                    ("a/b", EntryType::Symlink, &s.outside_str(), b""),
                    ("a/b/c/x", EntryType::Regular, "", b"evil"),
                ])
            },
        },
        Case {
            name: "symlink-as-last-component",
            plant: |s| symlink(&format!("{}/secret", s.outside_str()), &s.root.join("f")),
            path: "f",
            tar: |s| {
                raw_tar(&[
                    (
                        "f",
                        EntryType::Symlink,
                        &format!("{}/secret", s.outside_str()),
                        b"",
                    ),
                    ("f", EntryType::Regular, "", b"evil"),
                ])
            },
        },
        Case {
            name: "hardlink-out",
            plant: |_| {},
            path: "h",
            tar: |s| {
                raw_tar(&[
                    ("h", EntryType::Link, "../outside/secret", b""),
                    (
                        "h2",
                        EntryType::Link,
                        &format!("{}/secret", s.outside_str()),
                        b"",
                    ),
                ])
            },
        },
        Case {
            name: "hardlink-through-symlink",
            plant: |s| symlink(&s.outside_str(), &s.root.join("o")),
            path: "o/secret",
            tar: |s| {
                raw_tar(&[
                    ("o", EntryType::Symlink, &s.outside_str(), b""),
                    ("h", EntryType::Link, "o/secret", b""),
                ])
            },
        },
        Case {
            name: "device-nodes",
            plant: |_| {},
            path: "dev/x",
            tar: |_| {
                raw_tar(&[
                    ("dev/", EntryType::Directory, "", b""),
                    ("dev/mem", EntryType::Char, "", b""),
                    ("dev/sda", EntryType::Block, "", b""),
                    ("dev/fifo", EntryType::Fifo, "", b""),
                ])
            },
        },
    ]
}

/// A tar whose names are written raw (the `tar` crate's builder refuses `..`), with device
/// numbers 1:1 on device entries.
pub fn raw_tar(entries: &[(&str, EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(*kind);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_size(data.len() as u64);
        if matches!(kind, EntryType::Char | EntryType::Block) {
            // Old-style headers have no device fields; the ustar ones are at 329..345.
            let dev = b"0000001\0";
            h.as_mut_bytes()[329..337].copy_from_slice(dev);
            h.as_mut_bytes()[337..345].copy_from_slice(dev);
        }
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// Runs every case in a fresh scene: `plant`, then `user` (whose result is not judged:
/// refusing is as good as writing inside), then [`Scene::assert_contained`].
pub fn run_corpus(user: &str, mut run: impl FnMut(&Scene, &Case)) {
    for case in cases() {
        let scene = Scene::new();
        (case.plant)(&scene);
        run(&scene, &case);
        scene.assert_contained(&format!("{user}, case {}", case.name));
    }
}

/// The race: while `op` runs again and again on the root, another thread keeps exchanging
/// the directory `root/d` with a symlink to the outside (`renameat2(RENAME_EXCHANGE)`), so
/// `d` is a directory at one check and a symlink out at the next. Nothing outside may ever
/// be touched.
pub fn race(user: &str, rounds: usize, op: impl FnMut(&Scene, usize)) {
    race_planted(user, rounds, |_| {}, op);
}

/// [`race`], with `plant` run before the swapping starts (to put files in `root/d` for a
/// reader: `outside` holds a file named `secret`, so `d/secret` is outside whenever `d` is
/// the symlink).
pub fn race_planted(
    user: &str,
    rounds: usize,
    plant: impl FnOnce(&Scene),
    mut op: impl FnMut(&Scene, usize),
) {
    let scene = Scene::new();
    mkdir(&scene.root.join("d"));
    symlink(&scene.outside_str(), &scene.root.join("e"));
    plant(&scene);
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let root = scene.root.clone();
        std::thread::spawn(move || {
            let dir = fs::File::open(&root).expect("root");
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // The user may have replaced `d` or `e` meanwhile: then there is nothing to swap.
                let swapped = rustix::fs::renameat_with(
                    &dir,
                    "d",
                    &dir,
                    "e",
                    rustix::fs::RenameFlags::EXCHANGE,
                );
                swaps += u64::from(swapped.is_ok());
            }
            swaps
        })
    };
    for i in 0..rounds {
        op(&scene, i);
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().expect("swapper");
    assert!(swaps > 0, "{user}: the race never ran");
    scene.assert_contained(&format!("{user}, race"));
}

/// Runs the test `name` of the current test binary once per strategy, each in a child
/// process with [`RESOLVE_ENV`] set (the strategy is chosen once per process). Inside such a
/// child, runs `body` instead. Use as the whole body of a test:
/// `on_both_strategies("module::test_name", || { ... })`.
pub fn on_both_strategies(name: &str, body: impl FnOnce()) {
    if std::env::var_os(RESOLVE_ENV).is_some() {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    for resolver in Resolver::ALL {
        let out = std::process::Command::new(&exe)
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(RESOLVE_ENV, resolver.name())
            .output()
            .expect("run the test binary");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{name} with {RESOLVE_ENV}={}: {stdout}\n{}",
            resolver.name(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn mkdir(path: &Path) {
    fs::create_dir_all(path).expect("mkdir");
}

fn symlink(target: &str, at: &Path) {
    std::os::unix::fs::symlink(target, at).expect("symlink");
}
