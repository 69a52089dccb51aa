//! A layer's entries, independent of where they came from, and the canonical order they are
//! written in.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use berth_rootfs::path::shown;
use berth_rootfs::{OFlags, Reader};

/// One file system object in a layer.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Relative, `/`-separated, no leading `/` or `./`, no trailing `/`, never `..`. Bytes,
    /// as names are on Linux: one that is not UTF-8 is kept exactly.
    pub path: OsString,
    pub kind: Kind,
    /// Permission bits plus setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// Extended attributes, sorted by name.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl Entry {
    /// An empty, mode-0, root-owned file that means something to whoever applies the layer:
    /// a whiteout (`.wh.NAME`) or an opaque-directory marker.
    pub fn marker(path: OsString, mtime: i64) -> Entry {
        Entry {
            path,
            kind: Kind::File {
                size: 0,
                data: Data::Empty,
            },
            mode: 0,
            uid: 0,
            gid: 0,
            mtime,
            xattrs: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Kind {
    Dir,
    File {
        size: u64,
        data: Data,
    },
    /// The target as bytes, stored as written.
    Symlink {
        target: OsString,
    },
    /// A second name for the regular file at `target` (a path in the same layer).
    Hardlink {
        target: OsString,
    },
    CharDevice {
        major: u32,
        minor: u32,
    },
    BlockDevice {
        major: u32,
        minor: u32,
    },
    Fifo,
}

/// Where a regular file's bytes are.
#[derive(Debug, Clone)]
pub enum Data {
    /// A file in a directory tree, read when the layer is written.
    InRoot(RootedFile),
    /// A range of the spool file a tarball's contents were copied to.
    Spool { offset: u64 },
    /// No bytes (size 0): a marker file made up for the layer, such as a whiteout.
    Empty,
}

/// A regular file of a walked tree: its root (opened to refuse symlinks) and its path
/// there, so that what is read is what the walk saw, or nothing if a symlink was swapped in
/// on the way since.
#[derive(Debug, Clone)]
pub struct RootedFile {
    /// The walk's root, read through one [`Reader`] so files of one directory are opened
    /// from the same open directory.
    pub(crate) root: Arc<Reader>,
    pub(crate) path: OsString,
}

impl RootedFile {
    /// Opens the file for reading, inside its root.
    pub fn open(&self) -> io::Result<File> {
        Ok(self.root.open(&self.path, OFlags::RDONLY)?)
    }

    /// Where it is on the host, for messages.
    pub fn host(&self) -> PathBuf {
        self.root.root().host_of(&self.path)
    }
}

/// Orders entries as a depth-first walk with each directory's children sorted bytewise, so a
/// directory always comes before what it holds and the same tree always gives the same stream.
pub fn canonical_order(a: &OsStr, b: &OsStr) -> Ordering {
    // Component by component: `/` compared as the lowest byte (no name holds NUL) makes a
    // shorter component sort first, as comparing the split components would.
    let key = |&c: &u8| if c == b'/' { 0 } else { c };
    a.as_bytes()
        .iter()
        .map(key)
        .cmp(b.as_bytes().iter().map(key))
}

/// Which paths name the same file (an inode), and what that file is. A tarball can replace a
/// name after linking to it; the file lives on under its other names, as it would on disk.
#[derive(Debug, Default)]
pub struct Inodes {
    of: HashMap<OsString, u64>,
    file: HashMap<u64, Entry>,
}

impl Inodes {
    /// Registers `entry` (a regular file) as a new file; returns its inode.
    pub fn add_file(&mut self, entry: &Entry) -> u64 {
        let id = self.file.len() as u64;
        self.file.insert(id, entry.clone());
        self.of.insert(entry.path.clone(), id);
        id
    }

    /// Gives the file `id` another name.
    pub fn link(&mut self, path: &OsStr, id: u64) {
        self.of.insert(path.to_owned(), id);
    }

    /// The file a path names, if it names a regular file.
    pub fn of(&self, path: &OsStr) -> Option<u64> {
        self.of.get(path).copied()
    }

    /// The path no longer names its file (it was replaced).
    pub fn forget(&mut self, path: &OsStr) {
        self.of.remove(path);
    }
}

/// Sorts entries canonically and settles hard links: of the names a file has, the first in
/// canonical order carries its data and attributes and the others link to it, so a link never
/// comes before its target whatever order the source listed them in.
pub fn settle(mut entries: Vec<Entry>, inodes: &Inodes) -> Vec<Entry> {
    entries.sort_by(|a, b| canonical_order(&a.path, &b.path));
    let mut holder: HashMap<u64, OsString> = HashMap::new();
    for entry in &mut entries {
        let Some(id) = inodes.of(&entry.path) else {
            continue;
        };
        match holder.get(&id) {
            None => {
                holder.insert(id, entry.path.clone());
                let path = std::mem::take(&mut entry.path);
                *entry = Entry {
                    path,
                    ..inodes.file[&id].clone()
                };
            }
            Some(first) => {
                entry.kind = Kind::Hardlink {
                    target: first.clone(),
                };
            }
        }
    }
    entries
}

/// Cleans a path from a tarball or walk: strips `./` and `/` prefixes and trailing `/`, folds
/// `.` and empty components, and refuses `..` (it could point outside the layer).
pub fn clean_path(raw: &OsStr) -> Result<OsString, String> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.as_bytes().split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                return Err(format!(
                    "path {:?} climbs out of the layer with '..'",
                    shown(raw)
                ));
            }
            p => parts.push(p),
        }
    }
    Ok(OsStr::from_bytes(&parts.join(&b'/')).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::File {
                size: 1,
                data: Data::Spool { offset: 0 },
            },
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: vec![],
        }
    }

    #[test]
    fn orders_depth_first() {
        let mut paths = vec!["a-b", "a/c", "a", "a/b/z", "a/b", "b", "a.txt"];
        paths.sort_by(|a, b| canonical_order(a.as_ref(), b.as_ref()));
        assert_eq!(paths, ["a", "a/b", "a/b/z", "a/c", "a-b", "a.txt", "b"]);
    }

    #[test]
    fn first_name_in_order_holds_the_data() {
        let mut inodes = Inodes::default();
        let data = file("z/data");
        let id = inodes.add_file(&data);
        inodes.link("a/link".as_ref(), id);
        let mut link = file("a/link");
        link.kind = Kind::Hardlink {
            target: "z/data".into(),
        };
        let out = settle(vec![data, link], &inodes);
        assert_eq!(out[0].path, "a/link");
        assert!(matches!(out[0].kind, Kind::File { .. }));
        assert!(matches!(&out[1].kind, Kind::Hardlink { target } if target == "a/link"));
    }

    #[test]
    fn a_replaced_name_leaves_the_file_to_its_other_names() {
        let mut inodes = Inodes::default();
        let f = file("f");
        let id = inodes.add_file(&f);
        inodes.link("c".as_ref(), id);
        // `f` is replaced by a directory: `c` keeps the file.
        inodes.forget("f".as_ref());
        let mut dir = file("f");
        dir.kind = Kind::Dir;
        let mut c = file("c");
        c.kind = Kind::Hardlink { target: "f".into() };
        let out = settle(vec![dir, c], &inodes);
        assert!(matches!(out[0].kind, Kind::File { .. }), "{:?}", out[0]);
        assert!(matches!(out[1].kind, Kind::Dir));
    }

    #[test]
    fn cleans_paths() {
        let clean = |p: &str| clean_path(p.as_ref());
        assert_eq!(clean("./usr/bin/").unwrap(), "usr/bin");
        assert_eq!(clean("/etc//passwd").unwrap(), "etc/passwd");
        assert_eq!(clean("./").unwrap(), "");
        assert!(clean("a/../../etc").is_err());
        let raw = OsStr::from_bytes(b"./d\xff//f\xfe/");
        assert_eq!(clean_path(raw).unwrap(), OsStr::from_bytes(b"d\xff/f\xfe"));
    }
}
