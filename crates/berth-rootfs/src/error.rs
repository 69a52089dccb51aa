//! What can go wrong inside a root, always naming the path inside it.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::PathBuf;

use rustix::io::Errno;

use crate::path::shown;

/// A device node a caller asked for and did not get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Char,
    Block,
}

/// An error of an operation inside a root. `path` is always the path inside the root (`/`
/// for the root itself), as the caller (or the container) names it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open root directory {}: {source}", root.display())]
    OpenRoot {
        root: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{op} /{} (in {}): {source}", shown(path), root.display())]
    Io {
        op: &'static str,
        root: PathBuf,
        path: OsString,
        #[source]
        source: io::Error,
    },
    /// A symlink on the way where the root was opened to refuse them ([`crate::Links::Refuse`]).
    #[error("/{} (in {}) lies under /{}, which is a symlink; symlinks are not followed here", shown(path), root.display(), shown(link))]
    UnderSymlink {
        root: PathBuf,
        path: OsString,
        link: OsString,
    },
    #[error("/{} (in {}) lies under /{}, which is not a directory", shown(path), root.display(), shown(parent))]
    NotADirectory {
        root: PathBuf,
        path: OsString,
        parent: OsString,
    },
    #[error("/{} (in {}): too many levels of symbolic links (more than 40)", shown(path), root.display())]
    TooManyLinks { root: PathBuf, path: OsString },
    /// `mknod` of a character or block device: never created, so a root can never give
    /// access to host hardware. Callers turn it into "skipped".
    #[error("/{} (in {}): {kind:?} device {major}:{minor} not created; berth never creates device nodes", shown(path), root.display())]
    DeviceRefused {
        root: PathBuf,
        path: OsString,
        kind: DeviceKind,
        major: u32,
        minor: u32,
    },
    /// An operation that needs an entry was given the root itself, `.` or `..`.
    #[error("/{} (in {}) names no entry to {op}", shown(path), root.display())]
    NoEntry {
        op: &'static str,
        root: PathBuf,
        path: OsString,
    },
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The system error number, when the error is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::OpenRoot { source, .. } | Error::Io { source, .. } => {
                source.raw_os_error().map(Errno::from_raw_os_error)
            }
            Error::UnderSymlink { .. } | Error::TooManyLinks { .. } => Some(Errno::LOOP),
            Error::NotADirectory { .. } => Some(Errno::NOTDIR),
            Error::DeviceRefused { .. } => Some(Errno::PERM),
            Error::NoEntry { .. } => Some(Errno::INVAL),
        }
    }

    /// Whether the path (or a directory on the way) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.errno() == Some(Errno::NOENT)
    }

    /// The path inside the root the error is about.
    pub fn path(&self) -> &OsStr {
        match self {
            Error::OpenRoot { .. } => OsStr::new(""),
            Error::Io { path, .. }
            | Error::UnderSymlink { path, .. }
            | Error::NotADirectory { path, .. }
            | Error::TooManyLinks { path, .. }
            | Error::DeviceRefused { path, .. }
            | Error::NoEntry { path, .. } => path,
        }
    }
}

/// As an [`io::Error`] that keeps the error number, for callers that speak `io` and add
/// their own context (the inner error of an I/O failure as it was; `ELOOP`, `ENOTDIR`,
/// `EPERM`, `EINVAL` for the others).
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::OpenRoot { source, .. } | Error::Io { source, .. } => source,
            other => match other.errno() {
                Some(errno) => io::Error::from_raw_os_error(errno.raw_os_error()),
                None => io::Error::other(other),
            },
        }
    }
}
