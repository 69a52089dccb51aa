//! berth's vulnerability database: advisories in, one local versioned file out, lookups by
//! ecosystem and package name.
//!
//! Advisories come from the open formats the field publishes, each file's format told from
//! its content: OSV records (JSON or YAML; one file or a directory of them), the Debian
//! security tracker's JSON feed ([`debian`] says how its verdicts are read) and Alpine's
//! secdb files. Withdrawn OSV
//! records are skipped; aliases are kept so that a matcher can merge a `GHSA-…` with its
//! `CVE-…`.
//!
//! The database is one file, `vulndb.jsonl`, under a directory: a header line (format
//! version, and each source's name, import time and counts), then one advisory per line. It
//! is written whole to a temporary file beside it and renamed over the old one, so a reader
//! sees the old database or the new one, never part of one. A reader refuses a format newer
//! than it knows. [`Database`] holds it in memory with an index by (ecosystem, package).

mod alpine;
pub mod debian;
mod error;
mod import;
mod model;
mod osv;

pub use error::{Error, Result};
pub use import::MAX_FILE;
pub use model::{
    Advisory, Affected, Cvss, DistroState, Event, Level, Range, RangeKind, Severity, Versions,
};

use std::collections::HashMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The on-disk format this berth writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The database's file name under its directory.
pub const FILE_NAME: &str = "vulndb.jsonl";
const MAGIC: &str = "berth-vulndb";

/// One import: a named set of advisories, replaced whole when imported again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The name it was imported under (a path, a feed's name).
    pub name: String,
    /// When it was imported, in seconds since the Unix epoch: how old the data is.
    pub imported: u64,
    pub advisories: usize,
    /// OSV records marked withdrawn, skipped.
    pub withdrawn: usize,
    /// Distribution verdicts with nothing to report (not affected, undetermined, Alpine's
    /// "never affected"), skipped.
    pub not_reported: usize,
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    sources: Vec<Source>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    source: String,
    advisory: Advisory,
}

/// The advisories of every source, indexed by (ecosystem, package name).
#[derive(Default)]
pub struct Database {
    sources: Vec<Source>,
    entries: Vec<Entry>,
    /// (ecosystem, normalised name) → (entry, affected) positions.
    index: HashMap<(String, String), Vec<(u32, u32)>>,
}

impl Database {
    /// An empty database.
    pub fn new() -> Database {
        Database::default()
    }

    /// The database file under `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE_NAME)
    }

    /// Reads the database under `dir`; [`Error::Missing`] when there is none.
    pub fn open(dir: &Path) -> Result<Database> {
        let path = Database::path(dir);
        let text = match fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Missing { path });
            }
            read => read.map_err(Error::io(&path))?,
        };
        let not_a_db = |why: String| Error::NotADatabase {
            path: path.clone(),
            why,
        };
        let mut lines = text.lines();
        let header: Header = serde_json::from_str(lines.next().unwrap_or(""))
            .map_err(|e| not_a_db(format!("line 1: {e}")))?;
        if header.format != MAGIC {
            return Err(not_a_db(format!("line 1 names format {:?}", header.format)));
        }
        if header.version > FORMAT_VERSION {
            return Err(Error::NewerFormat {
                path,
                found: header.version,
                supported: FORMAT_VERSION,
            });
        }
        let mut db = Database {
            sources: header.sources,
            ..Database::default()
        };
        for (n, line) in lines.enumerate() {
            let entry: Entry =
                serde_json::from_str(line).map_err(|e| not_a_db(format!("line {}: {e}", n + 2)))?;
            db.entries.push(entry);
        }
        db.reindex();
        Ok(db)
    }

    /// Writes the database under `dir` (created if need be) atomically: a temporary file
    /// beside it, synced, then renamed over the old one. Returns the file's path.
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let path = Database::path(dir);
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(Error::io(dir))?;
        let mut out = BufWriter::new(tmp.as_file());
        let header = Header {
            format: MAGIC.to_owned(),
            version: FORMAT_VERSION,
            sources: self.sources.clone(),
        };
        write_line(&mut out, &header).map_err(Error::io(&path))?;
        for entry in &self.entries {
            write_line(&mut out, entry).map_err(Error::io(&path))?;
        }
        out.flush().map_err(Error::io(&path))?;
        drop(out);
        tmp.as_file().sync_all().map_err(Error::io(&path))?;
        tmp.persist(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e.error,
        })?;
        Ok(path)
    }

    /// Imports the advisories under `path` (a file or a directory) as the source `name`,
    /// replacing what an earlier import of that name brought. Nothing changes on error.
    pub fn import(&mut self, name: &str, path: &Path) -> Result<Source> {
        let read = import::read(path)?;
        let source = Source {
            name: name.to_owned(),
            imported: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            advisories: read.advisories.len(),
            withdrawn: read.withdrawn,
            not_reported: read.not_reported,
        };
        self.sources.retain(|s| s.name != name);
        self.sources.push(source.clone());
        self.entries.retain(|e| e.source != name);
        self.entries
            .extend(read.advisories.into_iter().map(|advisory| Entry {
                source: name.to_owned(),
                advisory,
            }));
        self.reindex();
        Ok(source)
    }

    /// The sources imported, in import order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// Every advisory, in source order.
    pub fn advisories(&self) -> impl Iterator<Item = &Advisory> {
        self.entries.iter().map(|e| &e.advisory)
    }

    /// The advisories that name package `name` in `ecosystem` (an OSV ecosystem, as
    /// [`Affected::ecosystem`] holds it), each with its entry for that package. PyPI names
    /// match as PEP 503 normalises them (`Foo_Bar` is `foo-bar`).
    pub fn lookup<'a>(
        &'a self,
        ecosystem: &str,
        name: &str,
    ) -> impl Iterator<Item = (&'a Advisory, &'a Affected)> + 'a {
        let key = (ecosystem.to_owned(), normalise(ecosystem, name));
        self.index
            .get(&key)
            .into_iter()
            .flatten()
            .map(|&(entry, affected)| {
                let advisory = &self.entries[entry as usize].advisory;
                (advisory, &advisory.affected[affected as usize])
            })
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (e, entry) in self.entries.iter().enumerate() {
            for (a, affected) in entry.advisory.affected.iter().enumerate() {
                let key = (
                    affected.ecosystem.clone(),
                    normalise(&affected.ecosystem, &affected.name),
                );
                self.index
                    .entry(key)
                    .or_default()
                    .push((e as u32, a as u32));
            }
        }
    }
}

/// A package name as its ecosystem compares names: PyPI's are compared after PEP 503
/// normalisation (lower case, runs of `-`, `_`, `.` as one `-`); the others as written.
fn normalise(ecosystem: &str, name: &str) -> String {
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

/// One JSON value and a newline.
fn write_line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}
