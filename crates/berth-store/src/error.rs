use std::io;
use std::path::{Path, PathBuf};

use berth_oci::{Digest, ManifestError, Mismatch};

/// What can go wrong in the store. Every variant names the file, digest or image involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("blob {0} is not in the store")]
    BlobNotFound(Digest),
    #[error(
        "blob {path} is corrupt: {mismatch}; run `berth fsck` to find and remove damaged blobs"
    )]
    Corrupt { path: PathBuf, mismatch: Mismatch },
    #[error("refused: {0}")]
    Rejected(Mismatch),
    #[error("reading {digest} from its source: {source}")]
    Read { digest: Digest, source: io::Error },
    #[error("blob {digest} is {size} bytes, more than the {limit} allowed for it")]
    TooLarge {
        digest: Digest,
        size: u64,
        limit: u64,
    },
    #[error("no such image: {0} (`berth images` lists the images in the store)")]
    UnknownImage(String),
    #[error(transparent)]
    InvalidName(#[from] berth_oci::ReferenceError),
    #[error("manifest {digest}: {source}")]
    Manifest {
        digest: Digest,
        source: ManifestError,
    },
    #[error("config {digest} is not a valid image config: {source}")]
    Config {
        digest: Digest,
        source: serde_json::Error,
    },
    #[error("manifest {manifest} references {missing}, which is not in the store")]
    Incomplete { manifest: Digest, missing: Digest },
    #[error("metadata database {path}: {source}")]
    Db {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "metadata database {path} was written by a newer berth (schema {found}, this berth knows up to {known}); upgrade berth"
    )]
    Schema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
}

impl StoreError {
    /// An error met while reading a blob's source: a digest or size mismatch found by a
    /// verifying reader becomes [`StoreError::Rejected`].
    pub fn from_read(digest: &Digest, e: io::Error) -> StoreError {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Mismatch>())
        {
            Some(m) => StoreError::Rejected(m.clone()),
            None => StoreError::Read {
                digest: digest.clone(),
                source: e,
            },
        }
    }
}

pub(crate) fn io_err(path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}
