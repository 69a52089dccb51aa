//! A persistent file-stat index: for each file, the stat that was seen (size, mtime and ctime
//! in nanoseconds, device, inode, mode, owner) and the sha256 of its bytes then. A warm
//! rebuild stats every file but re-hashes only those whose stat changed.
//!
//! Racy files (as git calls them): file timestamps come from the kernel's coarse clock, so a
//! file written again within one clock tick of being indexed can keep its old stat. An entry
//! whose mtime or ctime is not older than the index file itself is therefore trusted only in
//! the session that recorded it; after a load it is hashed again. Saving later makes it old.
//!
//! The file is a small binary format, rewritten whole (temporary file + rename, so a reader
//! sees the old or the new index, never half of one). An index that cannot be read is a cache
//! miss, not an error: [`Index::load`] then starts empty.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;

use berth_rootfs::Meta;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};

const MAGIC: &[u8] = b"berth-stat-index-2\n";
/// Bytes of one record after its path.
const RECORD: usize = 8 * 5 + 4 * 3 + 32 + 32;

/// What must not change for a recorded digest to stay valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    dev: u64,
    ino: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

impl Stat {
    fn of(meta: &Meta) -> Stat {
        Stat {
            size: meta.len(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
            dev: meta.dev(),
            ino: meta.ino(),
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
        }
    }
}

#[derive(Debug, Clone)]
struct Record {
    stat: Stat,
    digests: FileDigests,
    used: bool,
}

/// What the index remembers of a regular file: any change to either changes its ctime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileDigests {
    /// sha256 of the bytes.
    pub content: [u8; 32],
    /// [`xattr_digest`] of its extended attributes.
    pub xattrs: [u8; 32],
}

impl FileDigests {
    /// Reads and hashes a file's bytes and extended attributes.
    pub fn compute(file: &Path) -> io::Result<FileDigests> {
        FileDigests::of(std::fs::File::open(file)?, &xattr_list(file)?)
    }

    /// Hashes the bytes of an opened file and its extended attributes (sorted by name).
    pub fn of(file: impl Read, xattrs: &[(Vec<u8>, Vec<u8>)]) -> io::Result<FileDigests> {
        Ok(FileDigests {
            content: hash_reader(file)?,
            xattrs: digest_xattrs(xattrs),
        })
    }
}

/// The index: file path (as the caller names it) -> stat and content digest.
#[derive(Debug, Default)]
pub struct Index {
    entries: HashMap<PathBuf, Record>,
    /// Timestamp (ns) of the loaded index file: entries not older than it are racy.
    racy_from: Option<i64>,
    hashed: u64,
}

impl Index {
    /// An empty index.
    pub fn new() -> Index {
        Index::default()
    }

    /// Reads an index saved by [`Index::save`]. A missing or unreadable file gives an empty
    /// index: it is only a cache.
    pub fn load(path: &Path) -> Result<Index> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Index::new()),
            Err(e) => return Err(e).at(path),
        };
        let meta = std::fs::metadata(path).at(path)?;
        let Some(entries) = decode(&bytes) else {
            return Ok(Index::new());
        };
        Ok(Index {
            entries,
            racy_from: Some(meta.mtime() * 1_000_000_000 + meta.mtime_nsec()),
            hashed: 0,
        })
    }

    /// Writes the index to `path` atomically (a temporary file beside it, then a rename).
    pub fn save(&mut self, path: &Path) -> Result<()> {
        let mut out = Vec::with_capacity(MAGIC.len() + 8 + self.entries.len() * (RECORD + 64));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for (file, record) in &self.entries {
            let name = file.as_os_str().as_bytes();
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name);
            let s = &record.stat;
            for v in [s.size, s.mtime_ns as u64, s.ctime_ns as u64, s.dev, s.ino] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            for v in [s.mode, s.uid, s.gid] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&record.digests.content);
            out.extend_from_slice(&record.digests.xattrs);
        }
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        let dir = dir.unwrap_or(Path::new("."));
        let file_name = path.file_name().ok_or_else(|| Error::Index {
            path: path.to_owned(),
            reason: "the index path must name a file".into(),
        })?;
        let mut tmp_name = OsString::from(".");
        tmp_name.push(file_name);
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = dir.join(tmp_name);
        let write = || -> io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&out)?;
            std::fs::rename(&tmp, path)
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).at(path);
        }
        let meta = std::fs::metadata(path).at(path)?;
        self.racy_from = Some(meta.mtime() * 1_000_000_000 + meta.mtime_nsec());
        Ok(())
    }

    /// The sha256 of a regular file's bytes: from the index when its stat (`meta`, from
    /// `lstat`/`stat` of `file`) is unchanged, else read, hashed and recorded.
    pub fn digest(&mut self, file: &Path, meta: &Meta) -> io::Result<[u8; 32]> {
        Ok(self.file_digests(file, meta)?.content)
    }

    /// Bytes and xattrs digests of a regular file, from the index when its stat is unchanged
    /// (an xattr change moves the ctime), else computed and recorded.
    pub fn file_digests(&mut self, file: &Path, meta: &Meta) -> io::Result<FileDigests> {
        self.file_digests_with(file, meta, || FileDigests::compute(file))
    }

    /// [`Index::file_digests`] of the file recorded as `file`, read by `compute` when the
    /// index has no fresh record (a caller that reads through a descriptor, not the path).
    pub fn file_digests_with<E>(
        &mut self,
        file: &Path,
        meta: &Meta,
        compute: impl FnOnce() -> Result<FileDigests, E>,
    ) -> Result<FileDigests, E> {
        let stat = Stat::of(meta);
        if let Some(record) = self.entries.get_mut(file) {
            let racy = self
                .racy_from
                .is_some_and(|t| stat.mtime_ns >= t || stat.ctime_ns >= t);
            if record.stat == stat && !racy {
                record.used = true;
                return Ok(record.digests);
            }
        }
        let digests = compute()?;
        self.hashed += 1;
        self.entries.insert(
            file.to_owned(),
            Record {
                stat,
                digests,
                used: true,
            },
        );
        Ok(digests)
    }

    /// How many files were read and hashed since this index was created or loaded.
    pub fn hash_count(&self) -> u64 {
        self.hashed
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets files not looked up since the index was loaded (deleted or no longer selected),
    /// so the index does not grow forever.
    pub fn prune_unused(&mut self) {
        self.entries.retain(|_, r| r.used);
    }
}

/// sha256 of a file's bytes.
pub fn hash_file(file: &Path) -> io::Result<[u8; 32]> {
    hash_reader(std::fs::File::open(file)?)
}

/// sha256 of what a reader yields.
fn hash_reader(mut f: impl Read) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// sha256 over a path's extended attributes (not following a symlink), sorted by name, each
/// name and value length-prefixed. No attributes (or none supported) hash like an empty list.
pub fn xattr_digest(path: &Path) -> io::Result<[u8; 32]> {
    Ok(digest_xattrs(&xattr_list(path)?))
}

/// [`xattr_digest`] of a sorted list of extended attributes.
pub(crate) fn digest_xattrs(xattrs: &[(Vec<u8>, Vec<u8>)]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for (name, value) in xattrs {
        for part in [name, value] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
    }
    hasher.finalize().into()
}

/// Extended attributes of a path (not following a symlink), sorted by name.
pub(crate) fn xattr_list(path: &Path) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    berth_rootfs::xattrs_of(path)
}

fn decode(bytes: &[u8]) -> Option<HashMap<PathBuf, Record>> {
    let mut rest = bytes.strip_prefix(MAGIC)?;
    let count = u64::from_le_bytes(take(&mut rest, 8)?.try_into().ok()?);
    // Never trust a count to size an allocation.
    let mut entries = HashMap::with_capacity((count as usize).min(rest.len() / RECORD));
    for _ in 0..count {
        let len = u32::from_le_bytes(take(&mut rest, 4)?.try_into().ok()?) as usize;
        let name = PathBuf::from(OsString::from_vec(take(&mut rest, len)?.to_vec()));
        let r = take(&mut rest, RECORD)?;
        let u64_at =
            |i: usize| u64::from_le_bytes(r[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        let u32_at = |i: usize| {
            let at = 40 + i * 4;
            u32::from_le_bytes(r[at..at + 4].try_into().unwrap_or_default())
        };
        let mut digests = FileDigests {
            content: [0; 32],
            xattrs: [0; 32],
        };
        digests.content.copy_from_slice(&r[52..84]);
        digests.xattrs.copy_from_slice(&r[84..116]);
        let stat = Stat {
            size: u64_at(0),
            mtime_ns: u64_at(1) as i64,
            ctime_ns: u64_at(2) as i64,
            dev: u64_at(3),
            ino: u64_at(4),
            mode: u32_at(0),
            uid: u32_at(1),
            gid: u32_at(2),
        };
        entries.insert(
            name,
            Record {
                stat,
                digests,
                used: false,
            },
        );
    }
    rest.is_empty().then_some(entries)
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}
