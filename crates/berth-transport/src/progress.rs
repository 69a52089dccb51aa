//! Progress events. Libraries report what happens; only the CLI decides how to show it.

use berth_oci::Digest;

#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A blob starts to move.
    BlobStart {
        digest: &'a Digest,
        size: u64,
        media_type: &'a str,
    },
    /// More of a blob has moved (`bytes` so far).
    BlobProgress { digest: &'a Digest, bytes: u64 },
    /// A blob is written.
    BlobDone { digest: &'a Digest },
    /// A blob was already at the destination.
    BlobExists { digest: &'a Digest, size: u64 },
    /// A blob was linked from another repository (`from`) of the same registry.
    BlobMounted {
        digest: &'a Digest,
        size: u64,
        from: &'a str,
    },
    /// Something the user should know, though the copy goes on.
    Warning { message: &'a str },
    /// A manifest or index is written.
    ManifestWritten {
        digest: &'a Digest,
        media_type: &'a str,
    },
}

pub trait Progress: Send + Sync {
    fn event(&self, event: Event<'_>);
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: Event<'_>) {}
}
