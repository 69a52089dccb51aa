//! A real Debian root file system, for the tests that compare berth with BuildKit on what
//! users build FROM and for the catalogers' real dpkg database: a bookworm minbase, made once
//! with debootstrap and kept.

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Berth, require, run_ok};

/// A Debian bookworm minbase root file system under the workspace's `target/fixtures`, shared
/// by every test that asks (treat it as read-only): made with `debootstrap --variant=minbase`
/// from the mirror apt already uses (about 40 s; root) the first time, found there after. Made beside its final name and renamed into place, so a run killed half-way
/// or a second test process never sees half a root file system. The device nodes debootstrap
/// makes in /dev are left out: an image carries none (the runtime mounts /dev), and berth,
/// which never makes a device node on the host, would show them as placeholders.
pub fn debian_rootfs() -> PathBuf {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures");
    let cache = cache.as_path();
    let rootfs = cache.join("debian-bookworm-minbase");
    if rootfs.join("usr/bin/sh").exists() {
        return rootfs;
    }
    require("debootstrap");
    fs::create_dir_all(cache).unwrap();
    let partial = cache.join(format!(
        "debian-bookworm-minbase.partial-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&partial);
    run_ok(
        Command::new("debootstrap")
            .args(["--variant=minbase", "bookworm"])
            .arg(&partial)
            .arg(apt_mirror()),
    );
    for entry in fs::read_dir(partial.join("dev")).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_char_device() || kind.is_block_device() {
            fs::remove_file(entry.path()).unwrap();
        }
    }
    if fs::rename(&partial, &rootfs).is_err() {
        // Another process finished first: use its copy.
        fs::remove_dir_all(&partial).unwrap();
    }
    assert!(
        rootfs.join("var/lib/dpkg/status").is_file(),
        "debootstrap made no dpkg database in {}",
        rootfs.display()
    );
    rootfs
}

/// The Debian mirror of apt's own sources (deb822 `debian.sources` first, then the
/// one-line `sources.list`), so the fixture works wherever apt does.
fn apt_mirror() -> String {
    let deb822 = fs::read_to_string("/etc/apt/sources.list.d/debian.sources").unwrap_or_default();
    let from_deb822 = deb822
        .lines()
        .find_map(|l| l.strip_prefix("URIs:"))
        .and_then(|uris| uris.split_whitespace().next());
    let list = fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    let from_list = list
        .lines()
        .find_map(|l| l.strip_prefix("deb "))
        .and_then(|rest| rest.split_whitespace().find(|w| w.contains("://")));
    from_deb822
        .or(from_list)
        .expect(
            "no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list",
        )
        .to_string()
}

/// The Debian root file system of [`debian_rootfs`] imported into `berth`'s store as
/// `reference` and pushed there (a test registry's `HOST:PORT/debian:bookworm`, say).
pub fn push_debian_base(berth: &Berth, reference: &str) {
    let rootfs = debian_rootfs();
    berth.ok(&["import", "-q", &rootfs.display().to_string(), reference]);
    berth.ok(&["push", "-q", reference]);
}
