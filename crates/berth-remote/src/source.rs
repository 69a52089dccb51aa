//! A registry as a place images are read from: `docker://REF`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use berth_oci::manifest::MAX_MANIFEST_SIZE;
use berth_oci::{Descriptor, Digest, Manifest, Reference, media_type};
use berth_transport::{BlobStream, ImageSource, Origin, Root, TransportError};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::{Method, StatusCode, header};
use tokio_util::io::StreamReader;

use crate::body::{BodyError, read_bounded};
use crate::client::{Registry, Request, Scope};
use crate::error::{Kind, RemoteError};

/// Every manifest type berth reads, for `Accept`.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

pub fn ext(e: RemoteError) -> TransportError {
    TransportError::External(Box::new(e))
}

/// A manifest fetched from a registry: its bytes, digest and media type.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Bytes,
    pub descriptor: Descriptor,
}

/// GETs (or HEADs) a manifest by tag or digest, checking its digest.
pub async fn fetch_manifest(
    registry: &Registry,
    repo: &str,
    reference: &str,
    expected: Option<&Digest>,
    head: bool,
) -> Result<Fetched, RemoteError> {
    let scopes = [Scope::pull(repo)];
    let method = if head { Method::HEAD } else { Method::GET };
    let req = Request::new(method, format!("/v2/{repo}/manifests/{reference}"), &scopes)
        .header(header::ACCEPT, ACCEPT_MANIFESTS);
    let mut attempt = 0;
    let (content_type, header_digest, bytes) = loop {
        let response = registry.send(&req).await?;
        if !response.status().is_success() {
            let what = format!("manifest {reference}");
            return Err(registry.unexpected(Some(repo), &what, response).await);
        }
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let header_digest = response
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Digest::parse(v).ok());
        if head {
            let digest = expected.cloned().or(header_digest).ok_or_else(|| {
                registry.error(
                    Some(repo),
                    Kind::Other,
                    "the registry didn't say the manifest's digest",
                )
            })?;
            // The header itself: a HEAD's body is empty, and so is reqwest's length of it.
            let size = response
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(0);
            let media = content_type.unwrap_or_else(|| media_type::OCI_MANIFEST.to_string());
            return Ok(Fetched {
                bytes: Bytes::new(),
                descriptor: Descriptor::new(&media, digest, size),
            });
        }
        // Whatever Content-Length or chunked encoding says: an endless body stops here.
        let failure = match read_bounded(response, MAX_MANIFEST_SIZE).await {
            Ok(bytes) => break (content_type, header_digest, bytes),
            Err(BodyError::TooLarge { limit }) => {
                return Err(registry.error(
                    Some(repo),
                    Kind::Rejected,
                    format!(
                        "manifest {reference} is larger than {limit} bytes, the most a manifest may be"
                    ),
                ));
            }
            Err(BodyError::Read(e)) => e,
        };
        // The connection dropped or stalled in the middle: a manifest is small, ask again.
        let Some(pause) = registry.retry_policy().body_pause(attempt) else {
            return Err(registry.error(
                Some(repo),
                Kind::Unavailable,
                format!(
                    "reading manifest {reference}: {}",
                    crate::retry::error_chain(&failure)
                ),
            ));
        };
        attempt += 1;
        tracing::debug!(%reference, attempt, "fetching the manifest again: {failure}");
        tokio::time::sleep(pause).await;
    };
    let algorithm = expected
        .or(header_digest.as_ref())
        .map_or(berth_oci::Algorithm::Sha256, Digest::algorithm);
    let digest = Digest::of(algorithm, &bytes);
    for want in expected.into_iter().chain(header_digest.as_ref()) {
        if *want != digest {
            return Err(registry.error(
                Some(repo),
                Kind::Corrupt,
                format!("manifest {reference} hashes to {digest}, not {want}"),
            ));
        }
    }
    let manifest = Manifest::parse(&bytes, content_type.as_deref()).map_err(|e| {
        registry.error(
            Some(repo),
            Kind::Other,
            format!("manifest {reference}: {e}"),
        )
    })?;
    let media = manifest.media_type().to_string();
    Ok(Fetched {
        descriptor: Descriptor::new(&media, digest, bytes.len() as u64),
        bytes,
    })
}

/// Reads one image (or index) from a registry.
pub struct RemoteSource {
    registry: Arc<Registry>,
    repo: String,
    place: String,
    root: Root,
    root_bytes: Bytes,
}

impl RemoteSource {
    /// Resolves `reference` (its digest, or its tag) to the manifest it names.
    pub async fn open(
        registry: Arc<Registry>,
        reference: &Reference,
    ) -> Result<RemoteSource, RemoteError> {
        let repo = reference.path().to_string();
        let (target, expected) = match (reference.digest(), reference.tag()) {
            (Some(d), _) => (d.to_string(), Some(d)),
            (None, Some(t)) => (t.to_string(), None),
            (None, None) => ("latest".to_string(), None),
        };
        let fetched = fetch_manifest(&registry, &repo, &target, expected, false).await?;
        Ok(RemoteSource {
            place: format!("docker://{}", reference.familiar()),
            root: Root {
                descriptor: fetched.descriptor,
                names: reference.tagged().into_iter().collect(),
            },
            root_bytes: fetched.bytes,
            registry,
            repo,
        })
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    pub fn root_bytes(&self) -> &Bytes {
        &self.root_bytes
    }
}

#[async_trait]
impl ImageSource for RemoteSource {
    fn describe(&self) -> String {
        self.place.clone()
    }

    async fn roots(&self) -> Result<Vec<Root>, TransportError> {
        Ok(vec![self.root.clone()])
    }

    async fn manifest(&self, desc: &Descriptor) -> Result<Bytes, TransportError> {
        if desc.digest == self.root.descriptor.digest {
            return Ok(self.root_bytes.clone());
        }
        let fetched = fetch_manifest(
            &self.registry,
            &self.repo,
            &desc.digest.to_string(),
            Some(&desc.digest),
            false,
        )
        .await
        .map_err(|e| match e.kind {
            Kind::NotFound => {
                TransportError::not_found(&self.place, format!("manifest {}", desc.digest))
            }
            _ => ext(e),
        })?;
        Ok(fetched.bytes)
    }

    async fn blob(&self, desc: &Descriptor) -> Result<BlobStream, TransportError> {
        let download = Download {
            registry: self.registry.clone(),
            repo: self.repo.clone(),
            digest: desc.digest.clone(),
            size: desc.size,
        };
        let first = download.request(0).await.map_err(|e| match e.kind {
            Kind::NotFound => {
                TransportError::not_found(&self.place, format!("blob {}", desc.digest))
            }
            _ => ext(e),
        })?;
        let stream = Resuming {
            download: Arc::new(download),
            current: Some(first),
            offset: 0,
            resumes: 0,
            pending: None,
        };
        Ok(Box::pin(StreamReader::new(stream)))
    }

    fn origin(&self) -> Option<Origin> {
        Some(Origin::new(self.registry.host(), &self.repo))
    }
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;
/// A download being restarted.
type Restart = Pin<Box<dyn std::future::Future<Output = Result<ByteStream, RemoteError>> + Send>>;

/// What a blob download needs to (re)start.
struct Download {
    registry: Arc<Registry>,
    repo: String,
    digest: Digest,
    size: u64,
}

impl Download {
    /// The blob's bytes from `offset` on: a `Range` request past the start. A registry that
    /// ignores the range sends it all, and the bytes before `offset` are skipped.
    async fn request(&self, offset: u64) -> Result<ByteStream, RemoteError> {
        let scopes = [Scope::pull(&self.repo)];
        let mut req = Request::new(
            Method::GET,
            format!("/v2/{}/blobs/{}", self.repo, self.digest),
            &scopes,
        );
        if offset > 0 {
            req = req.header(header::RANGE, &format!("bytes={offset}-"));
        }
        let response = self.registry.send(&req).await?;
        let skip = match response.status() {
            StatusCode::OK => offset,
            StatusCode::PARTIAL_CONTENT if offset > 0 => {
                let start = response
                    .headers()
                    .get(header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        v.trim_start_matches("bytes ")
                            .split('-')
                            .next()?
                            .parse::<u64>()
                            .ok()
                    });
                if start != Some(offset) {
                    return Err(self.registry.error(
                        Some(&self.repo),
                        Kind::Other,
                        format!(
                            "resuming blob {} at {offset}, the registry sent another range",
                            self.digest
                        ),
                    ));
                }
                0
            }
            _ => {
                let what = format!("blob {}", self.digest);
                return Err(self
                    .registry
                    .unexpected(Some(&self.repo), &what, response)
                    .await);
            }
        };
        let mut stream = response.bytes_stream();
        if skip == 0 {
            return Ok(Box::pin(stream));
        }
        // Skip what we already have.
        let mut skipped = 0u64;
        let mut rest: Option<Bytes> = None;
        while skipped < skip {
            match stream.next().await {
                Some(Ok(chunk)) => {
                    let n = chunk.len() as u64;
                    if skipped + n > skip {
                        rest = Some(chunk.slice((skip - skipped) as usize..));
                        skipped = skip;
                    } else {
                        skipped += n;
                    }
                }
                Some(Err(e)) => {
                    return Err(self.registry.error(
                        Some(&self.repo),
                        Kind::Unavailable,
                        format!("blob {}: {e}", self.digest),
                    ));
                }
                None => break,
            }
        }
        Ok(Box::pin(futures::stream::iter(rest.map(Ok)).chain(stream)))
    }
}

/// A blob download that picks up where it left off when its connection drops.
struct Resuming {
    download: Arc<Download>,
    current: Option<ByteStream>,
    offset: u64,
    resumes: u32,
    pending: Option<Restart>,
}

impl Stream for Resuming {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(pending) = self.pending.as_mut() {
                match pending.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(stream)) => {
                        self.pending = None;
                        self.current = Some(stream);
                    }
                    Poll::Ready(Err(e)) => {
                        self.pending = None;
                        return Poll::Ready(Some(Err(std::io::Error::other(e))));
                    }
                }
            }
            let Some(current) = self.current.as_mut() else {
                return Poll::Ready(None);
            };
            let failure = match current.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    self.offset += chunk.len() as u64;
                    if self.offset > self.download.size {
                        // Refused the moment it passes its size, before the excess is written
                        // anywhere: a registry serving a layer endlessly fills no disk.
                        self.current = None;
                        let d = &self.download;
                        let too_long = berth_oci::Mismatch::TooLong {
                            digest: d.digest.clone(),
                            expected: d.size,
                        };
                        return Poll::Ready(Some(Err(too_long.into())));
                    }
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Ready(None) if self.offset >= self.download.size => {
                    self.current = None;
                    return Poll::Ready(None);
                }
                Poll::Ready(None) => format!(
                    "the connection ended after {} of {} bytes",
                    self.offset, self.download.size
                ),
                Poll::Ready(Some(Err(e))) => crate::retry::error_chain(&e),
            };
            self.current = None;
            let Some(pause) = self
                .download
                .registry
                .retry_policy()
                .body_pause(self.resumes)
            else {
                let d = &self.download;
                let e = d.registry.error(
                    Some(&d.repo),
                    Kind::Unavailable,
                    format!(
                        "blob {}: {failure}; gave up after {} resumes",
                        d.digest, self.resumes
                    ),
                );
                return Poll::Ready(Some(Err(std::io::Error::other(e))));
            };
            self.resumes += 1;
            tracing::debug!(digest = %self.download.digest, offset = self.offset, "resuming a download: {failure}");
            let (download, offset) = (self.download.clone(), self.offset);
            self.pending = Some(Box::pin(async move {
                tokio::time::sleep(pause).await;
                download.request(offset).await
            }));
        }
    }
}
