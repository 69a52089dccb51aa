use std::io;

use berth_oci::{Digest, ManifestError, Mismatch};
use berth_store::StoreError;

/// What can go wrong reading or writing a place. Each names the place and the digest or file.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{place}: {source}")]
    Io { place: String, source: io::Error },
    #[error("{place}: {why}")]
    Invalid { place: String, why: String },
    #[error("{place}: {what} not found")]
    NotFound { place: String, what: String },
    #[error("{place}: blob {digest} is damaged: {mismatch}")]
    Damaged {
        place: String,
        digest: Digest,
        mismatch: Mismatch,
    },
    #[error("{place}: manifest {digest}: {source}")]
    Manifest {
        place: String,
        digest: Digest,
        source: ManifestError,
    },
    #[error("{place}: {why}")]
    Unsupported { place: String, why: String },
    /// A failure of a place defined outside this crate (a registry).
    #[error(transparent)]
    External(Box<dyn std::error::Error + Send + Sync>),
}

impl TransportError {
    pub fn io(place: &str, source: io::Error) -> TransportError {
        TransportError::Io {
            place: place.to_string(),
            source,
        }
    }

    pub fn invalid(place: &str, why: impl Into<String>) -> TransportError {
        TransportError::Invalid {
            place: place.to_string(),
            why: why.into(),
        }
    }

    pub fn not_found(place: &str, what: impl Into<String>) -> TransportError {
        TransportError::NotFound {
            place: place.to_string(),
            what: what.into(),
        }
    }

    /// An error from reading a blob's stream: a verifier's mismatch names the damaged blob.
    pub fn from_read(place: &str, digest: &Digest, e: io::Error) -> TransportError {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Mismatch>())
        {
            Some(m) => TransportError::Damaged {
                place: place.to_string(),
                digest: digest.clone(),
                mismatch: m.clone(),
            },
            None => TransportError::io(place, e),
        }
    }

    /// A store error while writing: a rejected blob names the source it came from.
    pub fn from_store_write(source_place: &str, digest: &Digest, e: StoreError) -> TransportError {
        match e {
            StoreError::Rejected(m) => TransportError::Damaged {
                place: source_place.to_string(),
                digest: digest.clone(),
                mismatch: m,
            },
            StoreError::Read { source, .. } => {
                TransportError::from_read(source_place, digest, source)
            }
            other => TransportError::Store(other),
        }
    }
}
