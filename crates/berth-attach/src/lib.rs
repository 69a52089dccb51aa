//! What hangs off an image in a registry: signatures, attestations, SBOMs.
//!
//! Two ways of attaching are in use and both are read and written here:
//!
//! - [`referrers`]: OCI 1.1 artifacts, manifests whose `subject` is the image, listed by the
//!   registry's referrers API, or, where a registry has none (distribution 2.8), by an index
//!   under the tag `sha256-<hex>` kept up to date by the writers (the referrers tag schema).
//! - [`legacy`]: cosign's tags beside the image, `sha256-<hex>.sig`, `.att` and `.sbom`, an
//!   image whose layers are the artifacts.
//!
//! Everything read is bounded: a layer past [`MAX_ARTIFACT_LAYER`] is refused by name before
//! it is fetched, a listing past [`MAX_REFERRERS`] fails, and referrer pages that loop end
//! (berth-remote's `list_pages`, which tag lists use too).

pub mod legacy;
pub mod referrers;

use std::sync::Arc;

use berth_oci::{Descriptor, Digest, Reference, Repository};
use berth_remote::body::{BodyError, read_bounded};
use berth_remote::client::{Registry, Request, Scope};
use berth_remote::source::{Fetched, fetch_manifest};
use berth_remote::{Kind, RemoteDestination, RemoteError};
use berth_transport::{BlobStream, ImageDestination as _, TransportError};
use bytes::Bytes;
use reqwest::Method;

pub use legacy::LegacyKind;
pub use referrers::{Artifact, Layer, Listing, Packed};

/// The largest artifact layer (a signature, an envelope, a bundle) berth reads. Signatures are
/// a few KiB and attestations rarely pass a few hundred; more is refused rather than held.
pub const MAX_ARTIFACT_LAYER: u64 = 4 << 20;
/// The most referrers one image may list before the listing fails instead of growing.
pub const MAX_REFERRERS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(
        "{what} {digest} is {size} bytes, more than the {limit} bytes berth reads for one; it is refused"
    )]
    TooLarge {
        what: String,
        digest: Digest,
        size: u64,
        limit: u64,
    },
    #[error("{0}")]
    Malformed(String),
}

/// A repository of a registry: where an image and what hangs off it live.
pub struct Place {
    registry: Arc<Registry>,
    repository: Repository,
}

impl Place {
    pub fn new(registry: Arc<Registry>, repository: Repository) -> Place {
        Place {
            registry,
            repository,
        }
    }

    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    fn repo(&self) -> &str {
        self.repository.path()
    }

    /// The manifest a tag or digest names, checked against the digest; `None` when the
    /// registry has nothing there.
    pub async fn manifest(&self, reference: &str) -> Result<Option<Fetched>, AttachError> {
        self.fetch(reference, false).await
    }

    /// What a tag or digest names (digest, media type, size), asked with a HEAD: all that
    /// signing, attesting and finding an image's artifacts need, and what a registry that
    /// gates pulls still answers. A GET when the registry's HEAD doesn't say the digest or
    /// the size.
    pub async fn describe(&self, reference: &str) -> Result<Option<Descriptor>, AttachError> {
        let headed = match self.fetch(reference, true).await {
            Err(AttachError::Remote(e)) if e.kind == Kind::Other => None,
            Ok(Some(f)) if f.descriptor.size == 0 => None,
            headed => Some(headed?),
        };
        let described = match headed {
            Some(described) => described,
            None => self.fetch(reference, false).await?,
        };
        Ok(described.map(|f| f.descriptor))
    }

    async fn fetch(&self, reference: &str, head: bool) -> Result<Option<Fetched>, AttachError> {
        let expected = Digest::parse(reference).ok();
        match fetch_manifest(
            &self.registry,
            self.repo(),
            reference,
            expected.as_ref(),
            head,
        )
        .await
        {
            Ok(fetched) => Ok(Some(fetched)),
            Err(e) if e.kind == Kind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A small blob (an artifact's layer), refused by name past `limit` before it is fetched,
    /// read no further than its descriptor's size whatever the registry sends, and checked
    /// against its descriptor.
    pub async fn small_blob(&self, desc: &Descriptor, limit: u64) -> Result<Bytes, AttachError> {
        let too_large = || AttachError::TooLarge {
            what: format!("layer {} of", desc.media_type),
            digest: desc.digest.clone(),
            size: desc.size,
            limit,
        };
        if desc.size > limit {
            return Err(too_large());
        }
        let repo = self.repo();
        let scopes = [Scope::pull(repo)];
        let request = Request::new(
            Method::GET,
            format!("/v2/{repo}/blobs/{}", desc.digest),
            &scopes,
        );
        let response = self.registry.send(&request).await?;
        if !response.status().is_success() {
            let what = format!("blob {}", desc.digest);
            return Err(self
                .registry
                .unexpected(Some(repo), &what, response)
                .await
                .into());
        }
        // At most the size the descriptor gives (itself within the limit): more is a lie.
        let body = read_bounded(response, desc.size as usize)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge { .. } => AttachError::Malformed(format!(
                    "blob {} in {} is larger than the {} bytes its descriptor gives",
                    desc.digest,
                    self.repository.familiar(),
                    desc.size
                )),
                BodyError::Read(e) => self
                    .registry
                    .error(
                        Some(repo),
                        Kind::Unavailable,
                        format!("reading blob {}: {e}", desc.digest),
                    )
                    .into(),
            })?;
        if body.len() as u64 != desc.size || !desc.digest.matches(&body) {
            return Err(AttachError::Malformed(format!(
                "blob {} in {} does not match its descriptor ({} bytes, {} announced)",
                desc.digest,
                self.repository.familiar(),
                body.len(),
                desc.size
            )));
        }
        Ok(body)
    }

    fn destination(&self, digest: &Digest) -> RemoteDestination {
        let reference = Reference::with_digest(self.repository.clone(), digest.clone());
        RemoteDestination::new(self.registry.clone(), &reference)
    }

    /// Uploads a blob unless the registry has it already.
    pub async fn put_blob(
        &self,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<Descriptor, AttachError> {
        let desc = Descriptor::of_bytes(media_type, &bytes);
        let destination = self.destination(&desc.digest);
        if !destination.has_blob(&desc).await? {
            let stream: BlobStream = Box::pin(std::io::Cursor::new(bytes));
            destination.put_blob(&desc, stream).await?;
        }
        Ok(desc)
    }

    /// PUTs manifest bytes under `reference` (a tag, or their own digest).
    pub async fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Descriptor, AttachError> {
        let desc = Descriptor::of_bytes(media_type, &bytes);
        self.destination(&desc.digest)
            .put_manifest_at(reference, media_type, Bytes::from(bytes))
            .await?;
        Ok(desc)
    }
}
