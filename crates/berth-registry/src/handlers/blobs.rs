//! `/v2/<name>/blobs/<digest>`: GET (with `Range`), HEAD, DELETE.

use std::io;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_oci::Digest;
use bytes::Bytes;

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
    let (repo, d) = (name.to_string(), digest.clone());
    let size = req
        .app
        .metadata
        .read("looking up a blob", move |store, meta| {
            let in_repo = meta.blob_linked(&repo, &d)? || meta.repo_manifest(&repo, &d)?.is_some();
            Ok(if in_repo {
                store.blobs().size(&d)
            } else {
                None
            })
        })
        .await?;
    let Some(size) = size else {
        return Err(unknown(
            req,
            name,
            Code::BlobUnknown,
            format!("blob {digest} is not in {name}"),
        )
        .await
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
        let whole = map_blob(req, digest).await?;
        Body::from(whole.slice(start as usize..(start + len) as usize))
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

/// A blob's bytes, mapped from the page cache: served without copying them through a buffer,
/// sliced for ranges. The first time this process serves a blob it checks it against its
/// digest, so damage on disk is an error, not bytes passed off as the blob.
async fn map_blob(req: &Request<'_>, digest: &Digest) -> ApiResult<Bytes> {
    let path = req.app.store.blobs().path(digest);
    let checked = req
        .app
        .verified
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(digest);
    let d = digest.clone();
    let bytes = tokio::task::spawn_blocking(move || -> io::Result<Bytes> {
        let file = std::fs::File::open(&path)?;
        // Safety: blobs are immutable once in place; removal unlinks, which keeps the mapping
        // valid, and nothing truncates a blob.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        if !checked && !d.matches(&map) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("blob {d} is damaged on disk"),
            ));
        }
        Ok(Bytes::from_owner(map))
    })
    .await
    .map_err(|e| ApiError::internal("reading a blob", e))?
    .map_err(|e| ApiError::internal("reading a blob", e))?;
    if !checked {
        req.app
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(digest.clone());
    }
    Ok(bytes)
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
    let (repo, d) = (name.to_string(), digest.clone());
    let unlinked = req
        .app
        .metadata
        .run("deleting a blob", move |store| {
            store.meta().unlink_blob(&repo, &d)
        })
        .await?;
    if !unlinked {
        return Err(unknown(
            req,
            name,
            Code::BlobUnknown,
            format!("blob {digest} is not in {name}"),
        )
        .await);
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
