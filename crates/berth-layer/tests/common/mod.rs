//! Building layer tars by hand (names exactly as given, hostile ones included) and looking at
//! what ends up on disk.

#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use berth_layer::entry::{Entry, Kind};
use berth_rootfs::path::shown;
use tar::{EntryType, Header};

pub const MTIME: u64 = 1_600_000_000;

/// A layer tar built entry by entry.
pub struct Layer(tar::Builder<Vec<u8>>);

impl Layer {
    pub fn new() -> Layer {
        Layer(tar::Builder::new(Vec::new()))
    }

    /// Adds an entry named exactly `name` (no cleaning, so `..` stays), owned by root.
    pub fn add(
        &mut self,
        name: &str,
        kind: EntryType,
        mode: u32,
        link: Option<&str>,
        data: &[u8],
    ) -> &mut Layer {
        self.add_with(name, kind, mode, link, data, |_| {})
    }

    pub fn add_with(
        &mut self,
        name: &str,
        kind: EntryType,
        mode: u32,
        link: Option<&str>,
        data: &[u8],
        tweak: impl FnOnce(&mut Header),
    ) -> &mut Layer {
        let mut h = Header::new_gnu();
        let field = &mut h.as_gnu_mut().unwrap().name;
        field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(MTIME);
        h.set_uid(0);
        h.set_gid(0);
        if let Some(link) = link {
            h.set_link_name_literal(link).unwrap();
        }
        tweak(&mut h);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    pub fn dir(&mut self, name: &str) -> &mut Layer {
        self.add(name, EntryType::Directory, 0o755, None, b"")
    }

    pub fn file(&mut self, name: &str, data: &[u8]) -> &mut Layer {
        self.add(name, EntryType::Regular, 0o644, None, data)
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Layer {
        self.add(name, EntryType::Symlink, 0o777, Some(target), b"")
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Layer {
        self.add(name, EntryType::Link, 0o644, Some(target), b"")
    }

    /// PAX records for the next entry.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Layer {
        self.0
            .append_pax_extensions(records.iter().copied())
            .unwrap();
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// What a test compares of an entry: everything but where its bytes are.
pub fn describe(e: &Entry) -> String {
    let kind = match &e.kind {
        Kind::Dir => "dir".to_string(),
        Kind::File { size, .. } => format!("file {size}"),
        Kind::Symlink { target } => format!("symlink -> {}", shown(target)),
        Kind::Hardlink { target } => format!("hardlink -> {}", shown(target)),
        Kind::CharDevice { major, minor } => format!("char {major}:{minor}"),
        Kind::BlockDevice { major, minor } => format!("block {major}:{minor}"),
        Kind::Fifo => "fifo".to_string(),
    };
    let xattrs: Vec<String> = e
        .xattrs
        .iter()
        .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v)))
        .collect();
    format!(
        "{} {kind} {:o} {}:{} {} [{}]",
        shown(&e.path),
        e.mode,
        e.uid,
        e.gid,
        e.mtime,
        xattrs.join(",")
    )
}

/// Whether `path` is an overlayfs whiteout.
pub fn is_whiteout(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path)
        .map(|m| m.file_type().is_char_device() && m.rdev() == 0)
        .unwrap_or(false)
}

/// Names in a directory, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}
