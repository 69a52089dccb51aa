//! A registry as a place images are written to.
//!
//! Blobs the registry has are skipped (HEAD), blobs in another repository of the same
//! registry are mounted (the copy proposes where from: see `berth_transport::copy`), small blobs go up in one request, large ones in chunks of at least
//! the registry's `OCI-Chunk-Min-Length`, the next read from the source while one is sent, so a layer
//! never sits whole in memory and a failed chunk is sent again, not the whole layer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use berth_oci::{Descriptor, Digest, Reference, media_type};
use berth_transport::{BlobStream, ImageDestination, Mount, Origin, Root, TransportError};
use bytes::{Bytes, BytesMut};
use reqwest::{Method, Response, StatusCode, header};
use tokio::io::AsyncReadExt;

use crate::client::{Registry, Request, Scope};
use crate::error::{Kind, RemoteError};
use crate::source::ext;

/// Blobs up to this size go up in one request.
const MONOLITHIC_MAX: u64 = 4 << 20;
/// Chunks of larger blobs: at least this, or the registry's minimum if larger.
const CHUNK: u64 = 8 << 20;

pub struct RemoteDestination {
    registry: Arc<Registry>,
    repo: String,
    /// The tag (or digest) the copied image is to have.
    reference: Reference,
    place: String,
    /// Manifests written, to tag them at commit.
    manifests: Mutex<HashMap<Digest, (String, Bytes)>>,
}

impl RemoteDestination {
    pub fn new(registry: Arc<Registry>, reference: &Reference) -> RemoteDestination {
        RemoteDestination {
            place: format!("docker://{}", reference.familiar()),
            repo: reference.path().to_string(),
            reference: reference.clone(),
            registry,
            manifests: Mutex::new(HashMap::new()),
        }
    }

    fn scopes(&self) -> [Scope; 1] {
        [Scope::push(&self.repo)]
    }

    fn err(&self, kind: Kind, message: String) -> TransportError {
        ext(self.registry.error(Some(&self.repo), kind, message))
    }

    async fn unexpected(&self, what: &str, response: Response) -> TransportError {
        ext(self
            .registry
            .unexpected(Some(&self.repo), what, response)
            .await)
    }

    /// `Location` of an upload response, made absolute against the registry.
    fn location(&self, response: &Response) -> Result<String, TransportError> {
        let loc = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.err(Kind::Other, "the registry gave no upload location".into()))?;
        Ok(if loc.starts_with('/') {
            format!("{}{loc}", self.registry.base())
        } else {
            loc.to_string()
        })
    }

    async fn upload_monolithic(
        &self,
        desc: &Descriptor,
        body: Bytes,
    ) -> Result<(), TransportError> {
        let scopes = self.scopes();
        let post = Request::new(
            Method::POST,
            format!("/v2/{}/blobs/uploads/?digest={}", self.repo, desc.digest),
            &scopes,
        )
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(body.clone());
        let response = self.registry.send(&post).await.map_err(ext)?;
        match response.status() {
            StatusCode::CREATED => Ok(()),
            // No single-request uploads here: PUT the bytes to the session instead.
            StatusCode::ACCEPTED => {
                let location = self.location(&response)?;
                self.close(&location, desc, Some(body)).await
            }
            _ => Err(self
                .unexpected(&format!("uploading blob {}", desc.digest), response)
                .await),
        }
    }

    /// `PUT <location>?digest=` with an optional last chunk.
    async fn close(
        &self,
        location: &str,
        desc: &Descriptor,
        body: Option<Bytes>,
    ) -> Result<(), TransportError> {
        let scopes = self.scopes();
        let sep = if location.contains('?') { '&' } else { '?' };
        let mut put = Request::new(
            Method::PUT,
            format!("{location}{sep}digest={}", desc.digest),
            &scopes,
        )
        .header(header::CONTENT_TYPE, "application/octet-stream");
        if let Some(b) = body {
            put = put.body(b);
        }
        let response = self.registry.send(&put).await.map_err(ext)?;
        if response.status() != StatusCode::CREATED {
            // The answer to an earlier try may have been lost after the registry took the
            // blob: the session is gone then (distribution answers 404), but the blob is there.
            if response.status().is_client_error() && self.has_blob(desc).await.unwrap_or(false) {
                return Ok(());
            }
            return Err(self
                .unexpected(&format!("finishing blob {}", desc.digest), response)
                .await);
        }
        Ok(())
    }

    async fn upload_chunked(
        &self,
        desc: &Descriptor,
        mut data: BlobStream,
    ) -> Result<(), TransportError> {
        let scopes = self.scopes();
        let post = Request::new(
            Method::POST,
            format!("/v2/{}/blobs/uploads/", self.repo),
            &scopes,
        );
        let response = self.registry.send(&post).await.map_err(ext)?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self
                .unexpected(
                    &format!("starting to upload blob {}", desc.digest),
                    response,
                )
                .await);
        }
        let min = response
            .headers()
            .get("OCI-Chunk-Min-Length")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(0);
        let chunk_size = CHUNK.max(min) as usize;
        let mut location = self.location(&response)?;
        let mut offset = 0u64;
        let read_error = |e| TransportError::from_read(&self.place, &desc.digest, e);
        let mut next = read_chunk(&mut data, chunk_size)
            .await
            .map_err(read_error)?;
        while !next.is_empty() {
            let chunk = next;
            offset += chunk.len() as u64;
            if offset > desc.size {
                return Err(self.err(
                    Kind::Corrupt,
                    format!(
                        "blob {} is longer than its {} bytes",
                        desc.digest, desc.size
                    ),
                ));
            }
            // The next chunk is read while this one is on the wire: the registry never waits
            // for the source, and at most two chunks are in memory.
            let start = offset - chunk.len() as u64;
            let (sent, following) = tokio::join!(
                self.patch(&location, desc, start, chunk),
                read_chunk(&mut data, chunk_size)
            );
            location = sent?;
            next = following.map_err(read_error)?;
        }
        if offset != desc.size {
            return Err(self.err(
                Kind::Corrupt,
                format!("blob {} has {offset} bytes, not {}", desc.digest, desc.size),
            ));
        }
        self.close(&location, desc, None).await
    }

    /// Sends one chunk; if the registry kept part of it before a failure (416), sends the rest.
    async fn patch(
        &self,
        location: &str,
        desc: &Descriptor,
        offset: u64,
        chunk: Bytes,
    ) -> Result<String, TransportError> {
        let scopes = self.scopes();
        let mut start = offset;
        let mut body = chunk.clone();
        for _ in 0..3 {
            let end = start + body.len() as u64 - 1;
            let req = Request::new(Method::PATCH, location.to_string(), &scopes)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_RANGE, &format!("{start}-{end}"))
                .body(body.clone());
            let response = self.registry.send(&req).await.map_err(ext)?;
            match response.status() {
                StatusCode::ACCEPTED => {
                    return self.location(&response).or(Ok(location.to_string()));
                }
                StatusCode::RANGE_NOT_SATISFIABLE => {
                    // Ask how far the upload got, and send from there.
                    let have = self.uploaded(location).await?;
                    let chunk_end = offset + chunk.len() as u64;
                    if have < offset || have > chunk_end {
                        return Err(self.err(
                            Kind::Other,
                            format!(
                                "upload of blob {} lost its place (the registry has {have} bytes)",
                                desc.digest
                            ),
                        ));
                    }
                    if have == chunk_end {
                        return Ok(location.to_string());
                    }
                    start = have;
                    body = chunk.slice((have - offset) as usize..);
                }
                _ => {
                    return Err(self
                        .unexpected(&format!("uploading blob {}", desc.digest), response)
                        .await);
                }
            }
        }
        Err(self.err(
            Kind::Unavailable,
            format!("upload of blob {} keeps failing", desc.digest),
        ))
    }

    /// How many bytes an upload session holds (`Range: 0-<last>`).
    async fn uploaded(&self, location: &str) -> Result<u64, TransportError> {
        let scopes = self.scopes();
        let response = self
            .registry
            .send(&Request::new(Method::GET, location.to_string(), &scopes))
            .await
            .map_err(ext)?;
        if response.status() != StatusCode::NO_CONTENT {
            return Err(self
                .unexpected("asking how far an upload got", response)
                .await);
        }
        let range = response
            .headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.trim_start_matches("bytes=")
                    .split('-')
                    .nth(1)?
                    .parse::<u64>()
                    .ok()
            });
        Ok(range.map_or(0, |last| last + 1))
    }

    /// PUTs manifest bytes under a tag or digest of this destination's repository, as they
    /// are: artifacts (signatures, referrer indexes) are written this way besides images.
    pub async fn put_manifest_at(
        &self,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<(), TransportError> {
        let scopes = self.scopes();
        let req = Request::new(
            Method::PUT,
            format!("/v2/{}/manifests/{reference}", self.repo),
            &scopes,
        )
        .header(header::CONTENT_TYPE, media_type)
        .body(bytes);
        let response = self.registry.send(&req).await.map_err(ext)?;
        if response.status() != StatusCode::CREATED {
            return Err(self
                .unexpected(&format!("pushing manifest {reference}"), response)
                .await);
        }
        Ok(())
    }
}

/// Reads up to `size` bytes (less only at the end of the stream).
async fn read_chunk(data: &mut BlobStream, size: usize) -> std::io::Result<Bytes> {
    let mut buf = BytesMut::with_capacity(size.min(64 << 20));
    while buf.len() < size {
        let n = (&mut *data)
            .take((size - buf.len()) as u64)
            .read_buf(&mut buf)
            .await?;
        if n == 0 {
            break;
        }
    }
    Ok(buf.freeze())
}

#[async_trait]
impl ImageDestination for RemoteDestination {
    fn describe(&self) -> String {
        self.place.clone()
    }

    async fn has_blob(&self, desc: &Descriptor) -> Result<bool, TransportError> {
        let kind = if media_type::is_manifest(&desc.media_type) {
            "manifests"
        } else {
            "blobs"
        };
        let scopes = self.scopes();
        let mut req = Request::new(
            Method::HEAD,
            format!("/v2/{}/{kind}/{}", self.repo, desc.digest),
            &scopes,
        );
        if kind == "manifests" {
            req = req.header(header::ACCEPT, crate::source::ACCEPT_MANIFESTS);
        }
        let response = self.registry.send(&req).await.map_err(ext)?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self
                .unexpected(&format!("checking for {}", desc.digest), response)
                .await),
        }
    }

    fn origin(&self) -> Option<Origin> {
        Some(Origin::new(self.registry.host(), &self.repo))
    }

    /// `POST ?mount=&from=`, with a token for reading `from` as well as pushing here (as
    /// Docker and skopeo ask): a registry checks that the caller may read what it mounts.
    async fn mount_blob(&self, desc: &Descriptor, from: &Origin) -> Result<Mount, TransportError> {
        let here = Origin::new(self.registry.host(), &self.repo);
        if from.registry != here.registry || from.repository == self.repo {
            return Ok(Mount::Declined);
        }
        let scopes = [Scope::push(&self.repo), Scope::pull(&from.repository)];
        let req = Request::new(
            Method::POST,
            format!(
                "/v2/{}/blobs/uploads/?mount={}&from={}",
                self.repo, desc.digest, from.repository
            ),
            &scopes,
        );
        let response = match self.registry.send(&req).await {
            Ok(response) => response,
            // A token service that refuses the pair of scopes outright: upload instead, with
            // the push scope alone.
            Err(e) if matches!(e.kind, Kind::Unauthorized | Kind::Denied) => {
                tracing::debug!(repo = %from.repository, "no token to mount from: {e}");
                return Ok(Mount::Declined);
            }
            Err(e) => return Err(ext(e)),
        };
        let status = response.status();
        match status {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => {
                // It started an upload instead: end that session; the blob goes up in one of
                // its own.
                if let Ok(location) = self.location(&response) {
                    let _ = self
                        .registry
                        .send(&Request::new(Method::DELETE, location, &scopes))
                        .await;
                }
                Ok(Mount::Missing)
            }
            _ => {
                let body = crate::body::read_error_body(response).await;
                tracing::debug!(
                    repo = %from.repository,
                    %status,
                    "mount refused: {}",
                    crate::error::registry_message(&body, status)
                );
                Ok(if status == StatusCode::NOT_FOUND {
                    Mount::Missing
                } else {
                    Mount::Declined
                })
            }
        }
    }

    async fn put_blob(
        &self,
        desc: &Descriptor,
        mut data: BlobStream,
    ) -> Result<(), TransportError> {
        if desc.size <= MONOLITHIC_MAX {
            let body = read_chunk(&mut data, desc.size as usize + 1)
                .await
                .map_err(|e| TransportError::from_read(&self.place, &desc.digest, e))?;
            if body.len() as u64 != desc.size {
                return Err(self.err(
                    Kind::Corrupt,
                    format!(
                        "blob {} has {} bytes, not {}",
                        desc.digest,
                        body.len(),
                        desc.size
                    ),
                ));
            }
            return self.upload_monolithic(desc, body).await;
        }
        self.upload_chunked(desc, data).await
    }

    async fn put_manifest(&self, desc: &Descriptor, bytes: Bytes) -> Result<(), TransportError> {
        self.put_manifest_at(&desc.digest.to_string(), &desc.media_type, bytes.clone())
            .await?;
        self.manifests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(desc.digest.clone(), (desc.media_type.clone(), bytes));
        Ok(())
    }

    /// Tags the image with the destination's tag.
    async fn commit(&self, roots: &[Root]) -> Result<(), TransportError> {
        let Some(tag) = self.reference.tag() else {
            return Ok(());
        };
        if roots.len() > 1 {
            return Err(TransportError::Unsupported {
                place: self.place.clone(),
                why: format!(
                    "{} images can't all have the one tag {tag}; copy them one at a time",
                    roots.len()
                ),
            });
        }
        for root in roots {
            let found = self
                .manifests
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&root.descriptor.digest)
                .cloned();
            let (media, bytes) = match found {
                Some(m) => m,
                // Copied before (the registry had it): fetch its bytes to tag it.
                None => {
                    let fetched = crate::source::fetch_manifest(
                        &self.registry,
                        &self.repo,
                        &root.descriptor.digest.to_string(),
                        Some(&root.descriptor.digest),
                        false,
                    )
                    .await
                    .map_err(ext)?;
                    (fetched.descriptor.media_type, fetched.bytes)
                }
            };
            self.put_manifest_at(tag, &media, bytes).await?;
        }
        Ok(())
    }
}

/// A destination by digest only has nothing to tag, and a digest it must match.
pub fn check_digest_reference(reference: &Reference, root: &Descriptor) -> Result<(), RemoteError> {
    match reference.digest() {
        Some(d) if *d != root.digest => Err(RemoteError::new(
            reference.registry(),
            Some(reference.path()),
            Kind::Rejected,
            format!(
                "the image is {}, not the {d} the destination names",
                root.digest
            ),
        )),
        _ => Ok(()),
    }
}
