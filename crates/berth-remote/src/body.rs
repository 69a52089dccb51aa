//! Reading a response body with a bound: the registry decides what it sends, berth decides how
//! much of it to hold. `Content-Length` and chunked encoding are the registry's word, so the
//! bound is checked against the bytes as they arrive, not against what was announced.

use bytes::{Bytes, BytesMut};
use reqwest::Response;

/// The most of an error body read to show what the registry said.
pub const MAX_ERROR_BODY: usize = 64 << 10;
/// The most a token service's answer may be (tokens are a few KiB).
pub const MAX_TOKEN_BODY: usize = 1 << 20;
/// The most one page of a tag list may be.
pub const MAX_LIST_PAGE: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the answer is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("reading the answer: {0}")]
    Read(#[source] reqwest::Error),
}

/// The whole body, failing as soon as it passes `limit` bytes.
pub async fn read_bounded(mut response: Response, limit: usize) -> Result<Bytes, BodyError> {
    let announced = response.content_length().unwrap_or(0);
    if announced > limit as u64 {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = BytesMut::with_capacity(announced as usize);
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// What there is of an error body, up to [`MAX_ERROR_BODY`]: only to quote the registry.
pub async fn read_error_body(response: Response) -> Bytes {
    read_bounded(response, MAX_ERROR_BODY)
        .await
        .unwrap_or_default()
}
