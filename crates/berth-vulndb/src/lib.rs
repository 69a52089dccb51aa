//! berth's vulnerability database: advisories in, one local versioned file out, lookups by
//! ecosystem and package name.
//!
//! Advisories come from the open formats the field publishes, each file's format told from
//! its content: OSV records (JSON or YAML; one file, a directory of them, or a zip of them as
//! OSV publishes each ecosystem), the Debian security tracker's JSON feed ([`debian`] says how
//! its verdicts are read) and Alpine's secdb files. Withdrawn OSV records are skipped; aliases
//! are kept so that a matcher can merge a `GHSA-…` with its `CVE-…`.
//!
//! The database is one binary file, [`FILE_NAME`], under a directory (by default
//! [`DIR_NAME`] under berth's root): its header names the format version and each source,
//! an index by (ecosystem, package) sits beside the advisories, and each advisory is stored
//! once and decoded only when a lookup reaches it ([`format`] has the layout). It is
//! memory-mapped, so opening costs a checksum pass and reading the source list, whatever its
//! size. It is written whole to a temporary file beside it and renamed over the old one, so
//! a reader sees the old database or the new one, never part of one; that is also what makes
//! the mapping safe, since the mapped file is never written in place.

mod alpine;
pub mod debian;
mod error;
pub mod format;
mod import;
mod model;
mod osv;
mod source;

pub use error::{Error, Result};
pub use import::{MAX_FILE, MAX_ZIP_ENTRIES};
pub use model::{
    Advisory, Affected, Cvss, DistroState, Event, Level, Range, RangeKind, Severity, Versions,
};
pub use source::{Format, Origin, Source};

use std::fs;
use std::io::Write;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::format::{Layout, Part, Refusal};

/// The on-disk format this berth writes and reads.
pub const FORMAT_VERSION: u32 = format::VERSION;
/// The database's file name under its directory.
pub const FILE_NAME: &str = "vulndb.bin";
/// The database's directory under berth's root, where `berth db` and `berth scan` find it.
pub const DIR_NAME: &str = "vulndb";

/// The advisories of every source, indexed by (ecosystem, package name): a mapped file, or
/// one made in memory by imports and not saved yet.
pub struct Database {
    /// Where the bytes came from, for errors: the file, or `(new)`.
    path: PathBuf,
    bytes: Bytes,
    layout: Layout,
    /// Each record, once decoded.
    decoded: Vec<OnceLock<Box<Advisory>>>,
}

enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(map) => map,
            Bytes::Owned(vec) => vec,
        }
    }
}

/// What one path gave: its source (which the caller may annotate, say with its origin) and
/// its advisories, ready for [`Database::replace`].
pub struct Import {
    pub source: Source,
    advisories: Vec<Advisory>,
}

impl Import {
    /// Reads the advisories under `path` (a file, a directory or a zip) as the source `name`.
    pub fn read(name: &str, path: &Path) -> Result<Import> {
        let read = import::read(path)?;
        Ok(Import {
            source: Source {
                name: name.to_owned(),
                formats: read.formats.into_iter().collect(),
                imported: source::now(),
                modified: read.modified,
                advisories: read.advisories.len(),
                withdrawn: read.withdrawn,
                not_reported: read.not_reported,
                origin: None,
            },
            advisories: read.advisories,
        })
    }
}

impl Default for Database {
    fn default() -> Database {
        Database::new()
    }
}

impl Database {
    /// An empty database.
    pub fn new() -> Database {
        let bytes = format::encode(&[]).expect("an empty database fits");
        Database::from_bytes(PathBuf::from("(new)"), Bytes::Owned(bytes))
            .unwrap_or_else(|_| unreachable!("an empty database reads"))
    }

    /// The database file under `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE_NAME)
    }

    /// Maps the database under `dir` and checks it whole (header, length, checksum);
    /// [`Error::Missing`] when there is none. Advisories are decoded when looked up.
    pub fn open(dir: &Path) -> Result<Database> {
        let path = Database::path(dir);
        let file = match fs::File::open(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Missing { path });
            }
            file => file.map_err(Error::io(&path))?,
        };
        let len = file.metadata().map_err(Error::io(&path))?.len();
        let bytes = if len == 0 {
            Bytes::Owned(Vec::new())
        } else {
            // SAFETY: berth never writes a database file in place (`save` renames a new file
            // over it), so the mapped bytes do not change under the reader.
            Bytes::Mapped(unsafe { memmap2::Mmap::map(&file) }.map_err(Error::io(&path))?)
        };
        Database::from_bytes(path, bytes)
    }

    /// Reads a database from bytes, as [`Database::open`] does a file; for fuzzing the reader.
    #[doc(hidden)]
    pub fn read_bytes(bytes: Vec<u8>) -> Result<Database> {
        Database::from_bytes(PathBuf::from("(bytes)"), Bytes::Owned(bytes))
    }

    fn from_bytes(path: PathBuf, bytes: Bytes) -> Result<Database> {
        let layout = Layout::read(&bytes).map_err(|refusal| match refusal {
            Refusal::Newer(found) => Error::NewerFormat {
                path: path.clone(),
                found,
                supported: FORMAT_VERSION,
            },
            Refusal::Broken(why) => Error::NotADatabase {
                path: path.clone(),
                why,
            },
        })?;
        let decoded = (0..layout.records()).map(|_| OnceLock::new()).collect();
        Ok(Database {
            path,
            bytes,
            layout,
            decoded,
        })
    }

    /// Writes the database under `dir` (created if need be) atomically: a temporary file
    /// beside it, synced, then renamed over the old one. Returns the file's path.
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let path = Database::path(dir);
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(Error::io(dir))?;
        tmp.write_all(&self.bytes).map_err(Error::io(&path))?;
        tmp.as_file().sync_all().map_err(Error::io(&path))?;
        tmp.persist(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e.error,
        })?;
        Ok(path)
    }

    /// Imports the advisories under `path` (a file, a directory or a zip) as the source
    /// `name`, replacing what an earlier import of that name brought. Nothing changes on
    /// error.
    pub fn import(&mut self, name: &str, path: &Path) -> Result<Source> {
        let import = Import::read(name, path)?;
        let source = import.source.clone();
        self.replace(vec![import])?;
        Ok(source)
    }

    /// Puts each import in, replacing the source of the same name (later ones win), and
    /// keeps the other sources as they are: the database is rebuilt once for all of them.
    pub fn replace(&mut self, imports: Vec<Import>) -> Result<()> {
        let kept: Vec<usize> = (0..self.layout.sources.len())
            .filter(|&s| {
                let name = &self.layout.sources[s].name;
                !imports.iter().any(|i| &i.source.name == name)
            })
            .collect();
        let last: Vec<bool> = (0..imports.len())
            .map(|n| {
                let name = &imports[n].source.name;
                !imports[n + 1..].iter().any(|i| &i.source.name == name)
            })
            .collect();
        let mut parts = Vec::new();
        for &s in &kept {
            let advisories = self.layout.spans[s]
                .clone()
                .map(|r| self.record(r as usize))
                .collect::<Result<_>>()?;
            parts.push(Part {
                source: &self.layout.sources[s],
                advisories,
            });
        }
        for (import, _) in imports.iter().zip(&last).filter(|(_, last)| **last) {
            parts.push(Part {
                source: &import.source,
                advisories: import.advisories.iter().collect(),
            });
        }
        let bytes = format::encode(&parts).map_err(|why| self.damaged(why))?;
        let db = Database::from_bytes(self.path.clone(), Bytes::Owned(bytes))?;
        // Every advisory is at hand decoded: the new database starts with them, so that
        // imports one after another do not decode the earlier ones again.
        let mut cells = db.decoded.iter();
        let mut old: Vec<_> = std::mem::take(&mut self.decoded)
            .into_iter()
            .map(OnceLock::into_inner)
            .collect();
        let spans: Vec<_> = kept.iter().map(|&s| self.layout.spans[s].clone()).collect();
        let kept = spans
            .into_iter()
            .flatten()
            .filter_map(|r| old[r as usize].take());
        let new = imports
            .into_iter()
            .zip(last)
            .filter(|(_, last)| *last)
            .flat_map(|(import, _)| import.advisories)
            .map(Box::new);
        for (cell, advisory) in cells.by_ref().zip(kept.chain(new)) {
            let _ = cell.set(advisory);
        }
        *self = db;
        Ok(())
    }

    /// The sources imported, in import order.
    pub fn sources(&self) -> &[Source] {
        &self.layout.sources
    }

    /// Every advisory, in source order (each decoded on the way).
    pub fn advisories(&self) -> Result<Vec<&Advisory>> {
        (0..self.decoded.len()).map(|r| self.record(r)).collect()
    }

    /// The advisories that name package `name` in `ecosystem` (an OSV ecosystem, as
    /// [`Affected::ecosystem`] holds it), each with its entry for that package. PyPI names
    /// match as PEP 503 normalises them (`Foo_Bar` is `foo-bar`). An error means the file
    /// is damaged in a way its checksum did not catch (or was forged).
    pub fn lookup(&self, ecosystem: &str, name: &str) -> Result<Vec<(&Advisory, &Affected)>> {
        let hits = self
            .layout
            .hits(&self.bytes, ecosystem, &normalise(ecosystem, name))
            .map_err(|why| self.damaged(why))?;
        hits.into_iter()
            .map(|(r, a)| {
                let advisory = self.record(r)?;
                let affected = advisory
                    .affected
                    .get(a)
                    .ok_or_else(|| self.damaged(format!("record {r} has no affected entry {a}")))?;
                Ok((advisory, affected))
            })
            .collect()
    }

    /// Record `r`, decoded on first use.
    fn record(&self, r: usize) -> Result<&Advisory> {
        let cell = self
            .decoded
            .get(r)
            .ok_or_else(|| self.damaged(format!("no record {r}")))?;
        if let Some(advisory) = cell.get() {
            return Ok(advisory);
        }
        let bytes = self
            .layout
            .record(&self.bytes, r)
            .map_err(|why| self.damaged(why))?;
        let advisory: Advisory = serde_json::from_slice(bytes)
            .map_err(|e| self.damaged(format!("record {r} does not read: {e}")))?;
        Ok(cell.get_or_init(|| Box::new(advisory)))
    }

    fn damaged(&self, why: String) -> Error {
        Error::NotADatabase {
            path: self.path.clone(),
            why,
        }
    }
}

/// A package name as its ecosystem compares names: PyPI's are compared after PEP 503
/// normalisation (lower case, runs of `-`, `_`, `.` as one `-`); the others as written.
pub(crate) fn normalise(ecosystem: &str, name: &str) -> String {
    if ecosystem != "PyPI" {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}
