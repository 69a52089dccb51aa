//! berth-rootfs's path rules (clean, join, split) on the catalog's paths, which are `str`:
//! catalogers only ask for UTF-8 paths, and the image view leaves names that are not UTF-8
//! out as it reads a layer, so no path here needs bytes. Cleaning, joining and splitting cut
//! at `/` only, so UTF-8 in is UTF-8 out.

use std::ffi::{OsStr, OsString};

pub(crate) fn clean(path: &str) -> String {
    utf8(berth_rootfs::path::clean(path))
}

pub(crate) fn clean_inside(path: &str) -> Option<String> {
    berth_rootfs::path::clean_inside(path).map(utf8)
}

pub(crate) fn join(parent: &str, name: &str) -> String {
    utf8(berth_rootfs::path::join(parent, name))
}

pub(crate) fn split(path: &str) -> (&str, &str) {
    let (dir, name) = berth_rootfs::path::split(OsStr::new(path));
    (part(dir), part(name))
}

fn utf8(path: OsString) -> String {
    path.into_string()
        .expect("a path made of UTF-8 parts cut at '/' is UTF-8")
}

fn part(path: &OsStr) -> &str {
    path.to_str()
        .expect("a part of a UTF-8 path cut at '/' is UTF-8")
}
