//! What can go wrong inside a root, always naming the path inside it.

use std::io;
use std::path::PathBuf;

use rustix::io::Errno;

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
    #[error("{op} /{path} (in {}): {source}", root.display())]
    Io {
        op: &'static str,
        root: PathBuf,
        path: String,
        #[source]
        source: io::Error,
    },
    /// A symlink on the way where the root was opened to refuse them ([`crate::Links::Refuse`]).
    #[error("/{path} (in {}) lies under /{link}, which is a symlink; symlinks are not followed here", root.display())]
    UnderSymlink {
        root: PathBuf,
        path: String,
        link: String,
    },
    #[error("/{path} (in {}) lies under /{parent}, which is not a directory", root.display())]
    NotADirectory {
        root: PathBuf,
        path: String,
        parent: String,
    },
    #[error("/{path} (in {}): too many levels of symbolic links (more than 40)", root.display())]
    TooManyLinks { root: PathBuf, path: String },
    /// `mknod` of a character or block device: never created, so a root can never give
    /// access to host hardware. Callers turn it into "skipped".
    #[error("/{path} (in {}): {kind:?} device {major}:{minor} not created; berth never creates device nodes", root.display())]
    DeviceRefused {
        root: PathBuf,
        path: String,
        kind: DeviceKind,
        major: u32,
        minor: u32,
    },
    /// An operation that needs an entry was given the root itself, `.` or `..`.
    #[error("/{path} (in {}) names no entry to {op}", root.display())]
    NoEntry {
        op: &'static str,
        root: PathBuf,
        path: String,
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
    pub fn path(&self) -> &str {
        match self {
            Error::OpenRoot { .. } => "",
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
