//! What can go wrong with a context, a checksum or a copy, with what the user should do.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

use berth_rootfs::path::shown;

/// The crate's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A literal source that is not there (BuildKit: `failed to compute cache key: "/x" not found`).
    #[error(
        "failed to compute cache key: \"/{}\" not found: check that it exists in the {place}{hint}",
        shown(path)
    )]
    NotFound {
        path: OsString,
        place: &'static str,
        hint: &'static str,
    },
    /// A wildcard that selects nothing.
    #[error(
        "no source files were specified: the pattern {pattern:?} matches nothing in the {place}{hint}"
    )]
    NoMatch {
        pattern: String,
        place: &'static str,
        hint: &'static str,
    },
    #[error("COPY needs at least one source")]
    NoSources,
    #[error(
        "When using COPY with more than one source file, the destination must be a directory and end with a / (got {dest:?}; write {dest:?} followed by `/`)"
    )]
    DestNotDir { dest: String },
    /// Something in the image is a file where the copy needs a directory.
    #[error(
        "cannot copy to non-directory: /{} exists in the image and is not a directory; copy to another path or remove it first",
        shown(path)
    )]
    NotADirectory { path: OsString },
    /// A directory in the image where a file should go.
    #[error(
        "cannot replace directory /{} with a file; copy into it with a destination ending in `/`",
        shown(path)
    )]
    IsADirectory { path: OsString },
    #[error("source pattern {pattern:?}: {reason}")]
    BadPattern { pattern: String, reason: String },
    /// An archive entry that would land outside its destination.
    #[error(
        "{archive}: entry {:?} points outside the destination directory; berth refuses archives with `..` or link escapes",
        shown(entry)
    )]
    ArchiveEscape { archive: String, entry: OsString },
    #[error("{archive}: {reason}")]
    Archive { archive: String, reason: String },
    #[error("{path}: {source}")]
    Ignore {
        path: PathBuf,
        #[source]
        source: berth_dockerfile::ignore::IgnoreError,
    },
    #[error("{path}: {reason}")]
    Index { path: PathBuf, reason: String },
    /// A file operation inside a root filesystem failed (the path inside it is named).
    #[error(transparent)]
    Root(berth_rootfs::Error),
}

impl From<berth_rootfs::Error> for Error {
    /// Something in the image where a directory is needed keeps its own message.
    fn from(e: berth_rootfs::Error) -> Error {
        match e {
            berth_rootfs::Error::NotADirectory { parent, .. } => {
                Error::NotADirectory { path: parent }
            }
            other => Error::Root(other),
        }
    }
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to an I/O error.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
    }
}
