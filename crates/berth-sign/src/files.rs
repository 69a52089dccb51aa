//! Key files on disk. A private key file is born with mode 0600 (never widened then narrowed),
//! appears whole under its name by rename, and does not replace an existing key unless asked.

use std::fs::Permissions;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::key::{KeyError, PrivateKey};

/// Why a key file could not be read or written; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Key { path: PathBuf, source: KeyError },
    #[error("{dir}: no such directory to write {path} in")]
    NoDirectory { dir: PathBuf, path: PathBuf },
    #[error("{path} already exists; pass --force to replace it")]
    Exists { path: PathBuf },
}

/// Whether writing a key pair may replace files already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    Never,
    Replace,
}

/// Where a key pair goes: `PREFIX.key` and `PREFIX.pub`, as cosign names them.
#[derive(Clone, Debug)]
pub struct KeyPairPaths {
    pub private: PathBuf,
    pub public: PathBuf,
}

impl KeyPairPaths {
    pub fn from_prefix(prefix: &Path) -> Self {
        let with = |ext: &str| {
            let mut name = prefix.as_os_str().to_owned();
            name.push(ext);
            PathBuf::from(name)
        };
        Self {
            private: with(".key"),
            public: with(".pub"),
        }
    }
}

/// Reads a PEM private key file (see [`PrivateKey::from_pem`]).
pub fn read_private_key(path: &Path, password: &[u8]) -> Result<PrivateKey, FileError> {
    let text = zeroize::Zeroizing::new(std::fs::read(path).map_err(|source| FileError::Io {
        path: path.to_owned(),
        source,
    })?);
    PrivateKey::from_pem(&text, password).map_err(|source| FileError::Key {
        path: path.to_owned(),
        source,
    })
}

/// Writes `key` sealed under `password` to `paths.private` (mode 0600) and its public key to
/// `paths.public` (mode 0644).
pub fn write_key_pair(
    paths: &KeyPairPaths,
    key: &PrivateKey,
    password: &[u8],
    overwrite: Overwrite,
) -> Result<(), FileError> {
    if overwrite == Overwrite::Never {
        // Checked for both before writing either, so a refusal leaves no half pair behind.
        for path in [&paths.private, &paths.public] {
            if path.symlink_metadata().is_ok() {
                return Err(FileError::Exists { path: path.clone() });
            }
        }
    }
    let sealed = key
        .to_encrypted_pem(password)
        .map_err(|source| FileError::Key {
            path: paths.private.clone(),
            source,
        })?;
    write_atomically(&paths.private, sealed.as_bytes(), 0o600, overwrite)?;
    write_atomically(
        &paths.public,
        key.public_key().to_pem().as_bytes(),
        0o644,
        overwrite,
    )
}

fn write_atomically(
    path: &Path,
    contents: &[u8],
    mode: u32,
    overwrite: Overwrite,
) -> Result<(), FileError> {
    let io = |source| FileError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // The temporary file is created with `mode` (open(2)'s mode, before any byte is written),
    // in the target's directory so the rename stays on one file system.
    let mut file = tempfile::Builder::new()
        .prefix(".berth-key-")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => FileError::NoDirectory {
                dir: dir.to_owned(),
                path: path.to_owned(),
            },
            _ => io(source),
        })?;
    file.write_all(contents).map_err(io)?;
    file.as_file().sync_all().map_err(io)?;
    let persisted = match overwrite {
        Overwrite::Replace => file.persist(path),
        Overwrite::Never => file.persist_noclobber(path),
    };
    persisted.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            FileError::Exists {
                path: path.to_owned(),
            }
        } else {
            io(e.error)
        }
    })?;
    Ok(())
}
