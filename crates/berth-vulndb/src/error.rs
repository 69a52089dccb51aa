//! What can go wrong reading advisories or the database, always naming the file.

use std::io;
use std::path::PathBuf;

/// An error of an import, a load or a save. Each names the file it is about and, where there
/// is one, the way out.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: {size} bytes, more than the {limit} bytes berth reads of one advisory file", .path.display())]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    /// Text that is not what its format says: the parser's message carries line and column.
    #[error("{}: not valid {format}: {why}", .path.display())]
    Malformed {
        path: PathBuf,
        format: &'static str,
        why: String,
    },
    #[error(
        "{}: neither an OSV advisory (JSON or YAML), the Debian security tracker's JSON feed nor \
         an Alpine secdb file; berth imports those formats",
        .path.display()
    )]
    UnknownFormat { path: PathBuf },
    #[error(
        "{}: OSV schema version {version:?} is newer than this berth reads (1.x); update berth",
        .path.display()
    )]
    OsvSchema { path: PathBuf, version: String },
    #[error(
        "{}: database format {found} was written by a newer berth (this one reads format {supported}); \
         update berth, or replace the database with this one's `berth db update` or `berth db import`",
        .path.display()
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "{}: more than {limit} entries, more than berth reads of one zip of advisories",
        .path.display()
    )]
    TooManyEntries { path: PathBuf, limit: usize },
    #[error(
        "no vulnerability database at {}; make one with `berth db update` (or `berth db import PATH`)",
        .path.display()
    )]
    Missing { path: PathBuf },
    #[error(
        "{}: not a berth vulnerability database this berth reads: {why}; make it anew with \
         `berth db update` (or `berth db import PATH`)",
        .path.display()
    )]
    NotADatabase { path: PathBuf, why: String },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
