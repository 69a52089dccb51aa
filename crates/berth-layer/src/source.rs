//! Reading a layer's entries from a directory tree or a tarball.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_rootfs::path::shown;
use berth_rootfs::{Dir, Links, Reader, Resolver, Root};

use berth_oci::Compression;
use berth_oci::compression::read_head;

use crate::diff;
use crate::entry::{Data, Entry, Inodes, Kind, RootedFile, clean_path, settle};
use crate::error::LayerError;

/// Entries ready to be written, with whatever holds their file contents.
pub struct Entries {
    pub entries: Vec<Entry>,
    /// For tarball sources: the unnamed temporary file holding the files' bytes.
    pub spool: Option<File>,
    /// Objects a tar stream can't hold (sockets), skipped.
    pub skipped: Vec<OsString>,
}

impl Entries {
    /// Bytes of file content the layer will hold.
    pub fn content_size(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| match e.kind {
                Kind::File { size, .. } => size,
                _ => 0,
            })
            .sum()
    }
}

/// Reads a directory tree: every object under `root`, not `root` itself.
pub fn from_dir(root: &Path) -> Result<Entries, LayerError> {
    walk(root, Tree::Plain)
}

/// How a walked tree is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tree {
    /// Every object as it is.
    Plain,
    /// An overlayfs upper directory: whiteouts and opaque directories become their
    /// layer-format markers (see [`crate::diff`]).
    OverlayUpper,
}

/// Walks `root` into entries, reading it as `tree` says: by directory descriptors, never
/// following a symlink, and file contents later through the same root with symlinks
/// refused ([`RootedFile`]), so nothing swapped into the tree can make berth read outside it.
pub(crate) fn walk(root: &Path, tree: Tree) -> Result<Entries, LayerError> {
    let meta = fs::metadata(root).map_err(|e| LayerError::io(root, e))?;
    if !meta.is_dir() {
        return Err(LayerError::io(
            root,
            io::Error::new(io::ErrorKind::InvalidInput, "not a directory"),
        ));
    }
    let opened = Root::open_with(root, Resolver::detect(), Links::Refuse)
        .map_err(|e| LayerError::io(root, e.into()))?;
    let opened = Arc::new(Reader::new(opened));
    let top = opened
        .root()
        .top()
        .map_err(|e| LayerError::io(root, e.into()))?;
    let mut walk = Walk {
        tree,
        entries: Vec::new(),
        inodes: Inodes::default(),
        by_device: HashMap::new(),
        skipped: Vec::new(),
    };
    walk.tree(&opened, top)?;
    Ok(Entries {
        entries: settle(walk.entries, &walk.inodes),
        spool: None,
        skipped: walk.skipped,
    })
}

struct Walk {
    tree: Tree,
    entries: Vec<Entry>,
    inodes: Inodes,
    /// Files with several names, by (device, inode number).
    by_device: HashMap<(u64, u64), u64>,
    skipped: Vec<OsString>,
}

impl Walk {
    /// The entries of the tree under `top` (of `root`), depth first, names sorted.
    ///
    /// Iterative, with an explicit stack of open directories (one descriptor per level, each
    /// opened by its name in its parent): a tree thousands of levels deep, as a `RUN mkdir -p`
    /// or a context can make, never overflows the thread's stack.
    fn tree<'r>(&mut self, root: &'r Arc<Reader>, top: Dir<'r>) -> Result<(), LayerError> {
        let mut stack = vec![Level::open(root.root(), top)?];
        while let Some(level) = stack.last_mut() {
            let Some(name) = level.names.next() else {
                stack.pop();
                continue;
            };
            if let Some(below) = self.entry(root, level, &name)? {
                stack.push(Level::open(root.root(), below)?);
            }
        }
        Ok(())
    }

    /// One entry `name` of the directory `level`: added to the entries; a directory to
    /// descend into comes back opened.
    fn entry<'r>(
        &mut self,
        root: &Arc<Reader>,
        level: &Level<'r>,
        name: &OsStr,
    ) -> Result<Option<Dir<'r>>, LayerError> {
        let dir = &level.dir;
        let prefix = dir.rel();
        let path = level.host.join(name);
        let rel = dir.path_of(name);
        let meta = dir
            .lstat(name)
            .map_err(|e| LayerError::io(&path, e.into()))?
            .ok_or_else(|| LayerError::io(&path, io::ErrorKind::NotFound.into()))?;
        let ft = meta.file_type();
        if self.tree == Tree::OverlayUpper && diff::is_whiteout(&meta) {
            self.entries.push(diff::whiteout(prefix, name, &meta));
            return Ok(None);
        }
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File {
                size: meta.len(),
                data: Data::InRoot(RootedFile {
                    root: Arc::clone(root),
                    path: rel.clone(),
                }),
            }
        } else if ft.is_symlink() {
            let target = dir
                .readlink(name)
                .map_err(|e| LayerError::io(&path, e.into()))?;
            Kind::Symlink { target }
        } else if ft.is_char_device() {
            let (major, minor) = split_dev(meta.rdev());
            Kind::CharDevice { major, minor }
        } else if ft.is_block_device() {
            let (major, minor) = split_dev(meta.rdev());
            Kind::BlockDevice { major, minor }
        } else if ft.is_fifo() {
            Kind::Fifo
        } else {
            self.skipped.push(rel);
            return Ok(None);
        };
        let is_dir = matches!(kind, Kind::Dir);
        let mut xattrs = read_xattrs(dir, name, &path)?;
        let opaque = match self.tree {
            Tree::Plain => false,
            Tree::OverlayUpper => diff::take_overlay_xattrs(&path, &mut xattrs)?,
        };
        let entry = Entry {
            path: rel.clone(),
            kind,
            mode: meta.mode() & 0o7777,
            uid: meta.uid() as u64,
            gid: meta.gid() as u64,
            mtime: meta.mtime(),
            xattrs,
        };
        if ft.is_file() && meta.nlink() > 1 {
            match self.by_device.get(&(meta.dev(), meta.ino())) {
                Some(&id) => self.inodes.link(&rel, id),
                None => {
                    let id = self.inodes.add_file(&entry);
                    self.by_device.insert((meta.dev(), meta.ino()), id);
                }
            }
        }
        self.entries.push(entry);
        if is_dir && opaque {
            self.entries.push(diff::opaque_marker(&rel, &meta));
        }
        if !is_dir {
            return Ok(None);
        }
        // Opened without following: a symlink swapped in for it fails here.
        let below = dir
            .open_dir(name)
            .map_err(|e| LayerError::io(&path, e.into()))?;
        Ok(Some(below))
    }
}

/// One directory of a walk in progress: its descriptor and the names still to visit.
struct Level<'r> {
    dir: Dir<'r>,
    /// Its host path, for messages.
    host: PathBuf,
    names: std::vec::IntoIter<OsString>,
}

impl<'r> Level<'r> {
    fn open(root: &Root, dir: Dir<'r>) -> Result<Level<'r>, LayerError> {
        let host = root.host_of(dir.rel());
        let mut names = dir
            .read_dir()
            .map_err(|e| LayerError::io(&host, e.into()))?;
        names.sort();
        Ok(Level {
            dir,
            host,
            names: names.into_iter(),
        })
    }
}

/// Linux's encoding of device numbers (glibc's `gnu_dev_major`/`gnu_dev_minor`).
fn split_dev(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

/// The extended attributes of `name` in `dir` (at `path`, for messages), sorted by name.
fn read_xattrs(
    dir: &Dir<'_>,
    name: &OsStr,
    path: &Path,
) -> Result<Vec<(String, Vec<u8>)>, LayerError> {
    let failed = |e: berth_rootfs::Error| LayerError::io(path, e.into());
    // File systems without xattr support have none to keep.
    let mut out = Vec::new();
    for key in dir.list_xattrs(name).map_err(failed)? {
        // Removed meanwhile: it is not there.
        if let Some(value) = dir.get_xattr(name, &key).map_err(failed)? {
            out.push((key, value));
        }
    }
    out.sort();
    Ok(out)
}

/// Reads a tarball (plain, gzip or zstd), copying file contents to an unnamed spool file in
/// `spool_dir`. Later entries replace earlier ones of the same path, as extraction would.
pub fn from_tarball(
    mut input: impl Read,
    spool_dir: &Path,
    name: &str,
) -> Result<Entries, LayerError> {
    let head = read_head(&mut input).map_err(|e| LayerError::tar(name, e))?;
    let compression = Compression::sniff(&head).map_err(|unsupported| {
        LayerError::Unsupported(format!(
            "{name} is {unsupported}-compressed; decompress it first, or use gzip or zstd"
        ))
    })?;
    let input = io::Cursor::new(&head).chain(input);
    let reader = compression
        .decoder(BufReader::with_capacity(256 * 1024, input))
        .map_err(|e| LayerError::tar(name, e))?;
    let mut spool = tempfile::tempfile_in(spool_dir).map_err(|e| LayerError::io(spool_dir, e))?;
    let mut archive = tar::Archive::new(reader);
    let mut entries: Vec<Entry> = Vec::new();
    let mut index: HashMap<OsString, usize> = HashMap::new();
    let mut inodes = Inodes::default();
    let mut offset = 0u64;

    for item in archive.entries().map_err(|e| LayerError::tar(name, e))? {
        let mut item = item.map_err(|e| LayerError::tar(name, e))?;
        // Bytes, as names are on Linux: one that is not UTF-8 is kept exactly.
        let raw_path = OsString::from_vec(item.path_bytes().into_owned());
        let path = clean_path(&raw_path).map_err(|why| LayerError::Entry {
            archive: name.to_string(),
            why,
        })?;
        if path.is_empty() {
            continue; // the root directory itself
        }
        let header = item.header().clone();
        let HeaderFields {
            mtime,
            uid,
            gid,
            xattrs,
        } = header_fields(&mut item, name)?;
        let link_target = || -> Result<OsString, LayerError> {
            let raw = item
                .link_name_bytes()
                .map(|b| OsString::from_vec(b.into_owned()));
            raw.ok_or_else(|| LayerError::Entry {
                archive: name.to_string(),
                why: format!("link {:?} has no target", shown(&raw_path)),
            })
        };
        use tar::EntryType as T;
        let kind = match header.entry_type() {
            T::Directory => Kind::Dir,
            T::Regular | T::Continuous | T::GNUSparse => {
                let size = io::copy(&mut item, &mut spool).map_err(|e| LayerError::tar(name, e))?;
                let data = Data::Spool { offset };
                offset += size;
                Kind::File { size, data }
            }
            T::Symlink => Kind::Symlink {
                target: link_target()?,
            },
            T::Link => {
                let target = clean_path(&link_target()?).map_err(|why| LayerError::Entry {
                    archive: name.to_string(),
                    why,
                })?;
                Kind::Hardlink { target }
            }
            T::Char => Kind::CharDevice {
                major: header.device_major().ok().flatten().unwrap_or(0),
                minor: header.device_minor().ok().flatten().unwrap_or(0),
            },
            T::Block => Kind::BlockDevice {
                major: header.device_major().ok().flatten().unwrap_or(0),
                minor: header.device_minor().ok().flatten().unwrap_or(0),
            },
            T::Fifo => Kind::Fifo,
            other => {
                return Err(LayerError::Entry {
                    archive: name.to_string(),
                    why: format!(
                        "entry {:?} has unsupported type {other:?}",
                        shown(&raw_path)
                    ),
                });
            }
        };
        let entry = Entry {
            path: path.clone(),
            kind,
            mode: header.mode().unwrap_or(0o644) & 0o7777,
            uid,
            gid,
            mtime,
            xattrs,
        };
        // A name given again replaces what it named; the file it named lives on under its
        // other names.
        inodes.forget(&path);
        match &entry.kind {
            Kind::File { .. } => {
                inodes.add_file(&entry);
            }
            Kind::Hardlink { target } => {
                let id = inodes.of(target).ok_or_else(|| LayerError::Entry {
                    archive: name.to_string(),
                    why: format!(
                        "hard link {:?} points to {:?}, which is not a regular file earlier in the archive",
                        shown(&path),
                        shown(target)
                    ),
                })?;
                inodes.link(&path, id);
            }
            _ => {}
        }
        match index.get(&path) {
            Some(&i) => entries[i] = entry,
            None => {
                index.insert(path, entries.len());
                entries.push(entry);
            }
        }
    }
    if head.is_empty() {
        return Err(LayerError::Entry {
            archive: name.to_string(),
            why: "is empty; an empty layer is a tar archive with no entries".to_string(),
        });
    }
    spool.flush().map_err(|e| LayerError::tar(name, e))?;
    spool.rewind().map_err(|e| LayerError::tar(name, e))?;
    Ok(Entries {
        entries: settle(entries, &inodes),
        spool: Some(spool),
        skipped: Vec::new(),
    })
}

/// What a tar entry's header, overridden by its PAX records, says of its owner, time and
/// extended attributes (read as the extractor reads them).
pub(crate) use berth_rootfs::extract::Fields as HeaderFields;

/// Reads [`HeaderFields`] of `item`, from archive `name` (for messages).
pub(crate) fn header_fields<R: Read>(
    item: &mut tar::Entry<R>,
    name: &str,
) -> Result<HeaderFields, LayerError> {
    berth_rootfs::extract::fields(item).map_err(|e| LayerError::tar(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarballs_in_unsupported_compressions_are_refused_by_name() {
        let spool = tempfile::tempdir().unwrap();
        for (bytes, name) in [
            (&b"BZh91AY&SY rest of the stream"[..], "bzip2"),
            (&b"\xfd7zXZ\0 rest of the stream"[..], "xz"),
        ] {
            let Err(err) = from_tarball(bytes, spool.path(), "layer.tar") else {
                panic!("a {name} tarball was read");
            };
            assert!(matches!(err, LayerError::Unsupported(_)), "{err}");
            assert_eq!(
                err.to_string(),
                format!("layer.tar is {name}-compressed; decompress it first, or use gzip or zstd")
            );
        }
    }

    #[test]
    fn a_short_first_read_still_tells_the_compression() {
        /// Gives one byte a read, as a slow pipe may.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let spool = tempfile::tempdir().unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        header.set_mode(0o644);
        tar.append_data(&mut header, "f", &b"hi"[..]).unwrap();
        let zst = zstd::encode_all(&tar.into_inner().unwrap()[..], 3).unwrap();
        let entries = from_tarball(Trickle(&zst), spool.path(), "layer.tar.zst").unwrap();
        assert_eq!(entries.entries.len(), 1);
        assert_eq!(entries.entries[0].path, "f");
    }
}
