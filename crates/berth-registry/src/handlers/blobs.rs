//! `/v2/<name>/blobs/<digest>`: GET (with `Range`), HEAD, DELETE.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_oci::{Digest, Hasher};
use bytes::Bytes;
use futures::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::manifests::header_value;
use super::{Request, unknown, with_user};
use crate::auth::Need;
use crate::config::Action;
use crate::error::{ApiError, ApiResult, Code};

pub async fn get(
    req: &Request<'_>,
    name: &str,
    digest: &Digest,
    head: bool,
) -> ApiResult<Response> {
    let who = req.authorize(Need::Repo(name, Action::Pull))?;
    let in_repo = {
        let meta = req.app.store.meta();
        meta.blob_linked(name, digest)? || meta.repo_manifest(name, digest)?.is_some()
    };
    let size = if in_repo {
        req.app.store.blobs().size(digest)
    } else {
        None
    };
    let Some(size) = size else {
        return Err(unknown(
            req,
            name,
            Code::BlobUnknown,
            format!("blob {digest} is not in {name}"),
        )
        .detail(serde_json::json!({ "digest": digest.to_string() })));
    };
    let range = match req.headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(r) => Some(parse_range(r, size).ok_or_else(|| {
            ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                Code::BlobUnknown,
                format!("range {r:?} can't be served from a blob of {size} bytes"),
            )
            .header(header::CONTENT_RANGE, &format!("bytes */{size}"))
        })?),
    };
    let (status, start, len) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        None => (StatusCode::OK, 0, size),
    };
    let body = if head || len == 0 {
        Body::empty()
    } else {
        let path = req.app.store.blobs().path(digest);
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| ApiError::internal("opening a blob", e))?;
        if start > 0 {
            file.seek(io::SeekFrom::Start(start))
                .await
                .map_err(|e| ApiError::internal("reading a blob", e))?;
        }
        let stream = ReaderStream::with_capacity(file.take(len), 256 * 1024);
        if range.is_some() {
            Body::from_stream(stream)
        } else {
            // A whole blob is checked as it goes: damage on disk cuts the response short
            // instead of passing for good data.
            Body::from_stream(Verified::new(stream, digest.clone()))
        }
    };
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert("Docker-Content-Digest", header_value(&digest.to_string()));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, header_value(&format!("\"{digest}\"")));
    if range.is_some() {
        h.insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {start}-{}/{size}", start + len - 1)),
        );
    }
    Ok(with_user(response, &who))
}

/// One `bytes=` range: `a-b`, `a-` or `-n`, as inclusive (start, end) within `size`.
fn parse_range(header: &str, size: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            if n == 0 {
                return None;
            }
            (size.saturating_sub(n), size - 1)
        }
        (a, "") => (a.parse().ok()?, size - 1),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(size - 1)),
    };
    (start <= end && start < size).then_some((start, end))
}

/// Passes a blob's bytes through, hashing them; ends with an error if they don't match.
struct Verified<S> {
    inner: S,
    hasher: Option<Hasher>,
    expected: Digest,
}

impl<S> Verified<S> {
    fn new(inner: S, expected: Digest) -> Verified<S> {
        Verified {
            inner,
            hasher: Some(expected.algorithm().hasher()),
            expected,
        }
    }
}

impl<S: Stream<Item = io::Result<Bytes>> + Unpin> Stream for Verified<S> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                if let Some(h) = self.hasher.as_mut() {
                    h.update(&bytes);
                }
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(None) => match self.hasher.take() {
                Some(h) => {
                    let actual = h.finish();
                    if actual == self.expected {
                        Poll::Ready(None)
                    } else {
                        tracing::error!(expected = %self.expected, %actual, "blob on disk is damaged; run `berth fsck`");
                        Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("blob {} is damaged on disk", self.expected),
                        ))))
                    }
                }
                None => Poll::Ready(None),
            },
            other => other,
        }
    }
}

pub async fn delete(req: &Request<'_>, name: &str, digest: &Digest) -> ApiResult<Response> {
    let who = req.authorize(Need::Repo(name, Action::Delete))?;
    if req.app.config.policy(name).is_some_and(|p| !p.allow_delete) {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::Unsupported,
            format!("deletes are turned off for {name}"),
        ));
    }
    if !req.app.store.meta().unlink_blob(name, digest)? {
        return Err(unknown(
            req,
            name,
            Code::BlobUnknown,
            format!("blob {digest} is not in {name}"),
        ));
    }
    Ok(with_user(StatusCode::ACCEPTED.into_response(), &who))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        for bad in [
            "bytes=100-",
            "bytes=9-3",
            "bytes=a-b",
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=-0",
        ] {
            assert_eq!(parse_range(bad, 100), None, "{bad}");
        }
    }
}
