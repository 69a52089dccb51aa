//! What can go wrong with a context, a checksum or a copy, with what the user should do.

use std::io;
use std::path::PathBuf;

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
        "failed to compute cache key: \"/{path}\" not found: check that it exists in the {place}{hint}"
    )]
    NotFound {
        path: String,
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
        "cannot copy to non-directory: /{path} exists in the image and is not a directory; copy to another path or remove it first"
    )]
    NotADirectory { path: String },
    /// A directory in the image where a file should go.
    #[error(
        "cannot replace directory /{path} with a file; copy into it with a destination ending in `/`"
    )]
    IsADirectory { path: String },
    #[error("source pattern {pattern:?}: {reason}")]
    BadPattern { pattern: String, reason: String },
    /// An archive entry that would land outside its destination.
    #[error(
        "{archive}: entry {entry:?} points outside the destination directory; berth refuses archives with `..` or link escapes"
    )]
    ArchiveEscape { archive: String, entry: String },
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
    /// A file name that is not UTF-8: refused by name, never skipped.
    #[error(
        "{}: the file name is not UTF-8, which berth cannot copy into an image; rename it, or exclude it in .dockerignore",
        path.display()
    )]
    NotUtf8 { path: PathBuf },
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
