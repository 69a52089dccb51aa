//! Reading many entries of one walk: the entries' paths are resolved inside the root like
//! every other operation, but the directory they are in is kept open from one entry to the
//! next, since a walk reads the entries of one directory one after another. Without it each
//! read resolves its parent again from the root (two more calls, and a whole path walk per
//! file): the cost of a `COPY` of many small files.
//!
//! Keeping the directory open changes nothing about confinement: it was resolved inside the
//! root, and if it is renamed or replaced meanwhile the reads still come from the directory
//! that was resolved, never from outside.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::OwnedFd;
use std::sync::Mutex;

use crate::dir::Dir;
use crate::error::Result;
use crate::path::split;
use crate::root::Root;
use rustix::fs::OFlags;

/// A root opened for reading a walk's entries by their paths inside it.
#[derive(Debug)]
pub struct Reader {
    root: Root,
    /// The directory of the entry read last: its path inside the root and its descriptor.
    last: Mutex<Option<(OsString, OwnedFd)>>,
}

impl Reader {
    pub fn new(root: Root) -> Reader {
        Reader {
            root,
            last: Mutex::new(None),
        }
    }

    /// The root read from.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// Opens the regular file (or whatever `flags` allow) at `path`, not following its last
    /// component.
    pub fn open(&self, path: impl AsRef<OsStr>, flags: OFlags) -> Result<File> {
        self.in_parent(path.as_ref(), |dir, name| dir.open(name, flags, 0))
    }

    /// The target of the symlink at `path`.
    pub fn readlink(&self, path: impl AsRef<OsStr>) -> Result<OsString> {
        self.in_parent(path.as_ref(), |dir, name| dir.readlink(name))
    }

    /// The extended attributes of `path` itself (not followed; `""` is the root), sorted by
    /// name.
    pub fn xattrs(&self, path: impl AsRef<OsStr>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.in_parent(path.as_ref(), |dir, name| {
            let keys = match name.is_empty() {
                true => dir.list_xattrs_self()?,
                false => dir.list_xattrs(name)?,
            };
            let mut out = Vec::new();
            for key in keys {
                let value = match name.is_empty() {
                    true => dir.get_xattr_self(&key)?,
                    false => dir.get_xattr(name, &key)?,
                };
                // None: removed meanwhile, so it is not there.
                if let Some(value) = value {
                    out.push((key.into_bytes(), value));
                }
            }
            out.sort();
            Ok(out)
        })
    }

    /// Runs `op` on the directory holding `path` and the entry's name, reusing the directory
    /// of the previous call when it is the same one.
    fn in_parent<T>(
        &self,
        path: &OsStr,
        op: impl FnOnce(&Dir<'_>, &OsStr) -> Result<T>,
    ) -> Result<T> {
        let (parent, name) = split(path);
        let cached = {
            let mut last = self
                .last
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match last.take() {
                Some((rel, fd)) if rel == parent => Some(Dir {
                    root: &self.root,
                    fd,
                    rel,
                }),
                _ => None,
            }
        };
        let dir = match cached {
            Some(dir) => dir,
            None => self.root.dir(parent)?,
        };
        let result = op(&dir, name);
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *last = Some((dir.rel, dir.fd));
        result
    }
}
