//! Blob uploads: `POST /v2/<name>/blobs/uploads/` (session, single-request upload or mount),
//! then `PATCH`, `PUT`, `GET` and `DELETE` on the session's location.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_oci::{Algorithm, Digest};

use super::manifests::header_value;
use super::{Request, content_length, next_chunk, push_need, with_user};
use crate::auth::{Identity, Need};
use crate::config::Action;
use crate::error::{ApiError, ApiResult, Code};
use crate::route::{check_name, parse_digest};
use crate::uploads::{Session, hash_prefix, write_at};
use berth_store::repos::Upload;

/// The smallest chunk (but the last) clients should PATCH: fewer, larger writes.
pub const CHUNK_MIN: u64 = 1 << 20;
/// Bytes gathered before a write to the session file.
const WRITE_BUFFER: usize = 1 << 20;

fn upload_location(name: &str, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

/// `0-<last byte>`, or `0-0` before any byte, as distribution answers.
fn range_value(offset: u64) -> String {
    format!("0-{}", offset.saturating_sub(1))
}

fn session_headers(response: &mut Response, name: &str, id: &str, offset: u64) {
    let h = response.headers_mut();
    h.insert(header::LOCATION, header_value(&upload_location(name, id)));
    h.insert(header::RANGE, header_value(&range_value(offset)));
    h.insert("Docker-Upload-UUID", header_value(id));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
}

fn blob_created(name: &str, digest: &Digest, who: &Identity) -> Response {
    let mut response = StatusCode::CREATED.into_response();
    let h = response.headers_mut();
    h.insert(
        header::LOCATION,
        header_value(&format!("/v2/{name}/blobs/{digest}")),
    );
    h.insert("Docker-Content-Digest", header_value(&digest.to_string()));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    with_user(response, who)
}

fn unknown_upload(id: &str) -> ApiError {
    ApiError::not_found(
        Code::BlobUploadUnknown,
        format!("upload {id} is not known: it finished, was cancelled or expired; start a new one"),
    )
}

pub async fn start(req: &Request<'_>, name: &str, body: Body) -> ApiResult<Response> {
    let who = req.authorize(push_need(name))?;
    if let Some(mount) = req.query.get("mount") {
        let digest = parse_digest(mount)?;
        if let Some(from) = req.query.get("from") {
            if mount_from(req, name, from, &digest).await? {
                return Ok(blob_created(name, &digest, &who));
            }
        }
        // Can't mount: the client uploads instead (202 below).
    }
    let algorithm = match req.query.get("digest-algorithm") {
        None | Some("sha256") => Algorithm::Sha256,
        Some("sha512") => Algorithm::Sha512,
        Some(other) => {
            return Err(ApiError::bad_request(
                Code::Unsupported,
                format!("digest algorithm {other:?} is not supported; use sha256 or sha512"),
            ));
        }
    };
    // A malformed digest is refused before a session exists to be left behind.
    let single = req.query.get("digest").map(parse_digest).transpose()?;
    let id = uuid::Uuid::new_v4().to_string();
    req.app
        .sessions
        .create_file(&id)
        .map_err(|e| ApiError::internal("creating an upload", e))?;
    let (upload, repo) = (id.clone(), name.to_string());
    req.app
        .metadata
        .run("starting an upload", move |store| {
            store.meta().create_upload(&upload, &repo, algorithm.name())
        })
        .await?;

    // Single-request upload: the whole blob in the POST.
    if let Some(digest) = single {
        let session = req
            .app
            .sessions
            .reopen(&id, algorithm, 0)
            .map_err(|e| ApiError::internal("opening an upload", e))?;
        let mut slot = Some(session);
        let range = content_range(req)?;
        return finish_session(req, name, &id, &mut slot, &digest, body, range, &who).await;
    }
    let mut response = StatusCode::ACCEPTED.into_response();
    session_headers(&mut response, name, &id, 0);
    response
        .headers_mut()
        .insert("OCI-Chunk-Min-Length", HeaderValue::from(CHUNK_MIN));
    Ok(with_user(response, &who))
}

/// Links a blob another repository holds, if the caller may read that repository.
async fn mount_from(req: &Request<'_>, name: &str, from: &str, digest: &Digest) -> ApiResult<bool> {
    if check_name(from).is_err() || req.authorize(Need::Repo(from, Action::Pull)).is_err() {
        return Ok(false);
    }
    let (repo, from, d) = (name.to_string(), from.to_string(), digest.clone());
    req.app
        .metadata
        .run("mounting a blob", move |store| {
            if !store.meta().blob_linked(&from, &d)? || !store.blobs().contains(&d) {
                return Ok(false);
            }
            let _lock = store.write_lock()?;
            store.meta().link_blob(&repo, &d)?;
            Ok(true)
        })
        .await
}

/// `Content-Range: <start>-<end>` (or `bytes <start>-<end>/<total>`), inclusive.
fn content_range(req: &Request<'_>) -> ApiResult<Option<(u64, u64)>> {
    let Some(v) = req.headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or("");
    let spec = text
        .trim()
        .trim_start_matches("bytes")
        .trim_start_matches([' ', '=']);
    let spec = spec.split('/').next().unwrap_or(spec);
    let parsed = spec
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)))
        .filter(|(a, b)| a <= b);
    match parsed {
        Some(r) => Ok(Some(r)),
        None => Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            Code::BlobUploadInvalid,
            format!("Content-Range {text:?} is not START-END"),
        )),
    }
}

/// Loads a session for a request: it must exist and belong to this repository.
async fn session_slot(
    req: &Request<'_>,
    name: &str,
    id: &str,
) -> ApiResult<(Algorithm, tokio::sync::OwnedMutexGuard<Option<Session>>)> {
    let row = upload_row(req, id).await?;
    if row.is_none() {
        // Expired or cancelled elsewhere: let go of what this process still holds of it.
        req.app.sessions.forget(id);
    }
    let Some(row) = row.filter(|r| r.repo == name) else {
        return Err(unknown_upload(id));
    };
    let algorithm: Algorithm = row
        .algorithm
        .parse()
        .map_err(|e| ApiError::internal("reading an upload", e))?;
    let mut guard = req.app.sessions.slot(id).lock_owned().await;
    if guard.is_none() {
        let session = req
            .app
            .sessions
            .reopen(id, algorithm, row.offset)
            .map_err(|_| unknown_upload(id))?;
        *guard = Some(session);
    }
    Ok((algorithm, guard))
}

/// Appends a request body to a session. With a Content-Range, the chunk must start where
/// the session ends (else 416) and be as long as it says; a bad chunk is rolled back.
async fn append(
    req: &Request<'_>,
    name: &str,
    id: &str,
    session: &mut Session,
    body: Body,
    range: Option<(u64, u64)>,
) -> ApiResult<()> {
    if let Some((start, _)) = range {
        if start != session.offset {
            let mut e = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                Code::BlobUploadInvalid,
                format!(
                    "chunk starts at {start}, but the upload has {} bytes",
                    session.offset
                ),
            );
            e = e
                .header(header::LOCATION, &upload_location(name, id))
                .header(header::RANGE, &range_value(session.offset));
            return Err(e);
        }
    }
    let (start_offset, start_hasher) = (session.offset, session.hasher.clone());
    let result = stream_into(session, body, req.app.config.limits.idle_timeout).await;
    let received = session.offset - start_offset;
    let bad = match (&result, range) {
        (Err(e), _) => Some(ApiError::bad_request(
            Code::BlobUploadInvalid,
            e.to_string(),
        )),
        (Ok(()), Some((a, b))) if b - a + 1 != received => Some(ApiError::bad_request(
            Code::SizeInvalid,
            format!(
                "Content-Range says {} bytes, the body had {received}",
                b - a + 1
            ),
        )),
        (Ok(()), None) => content_length(req.headers)
            .filter(|n| *n != received)
            .map(|n| {
                ApiError::bad_request(
                    Code::SizeInvalid,
                    format!("Content-Length says {n} bytes, the body had {received}"),
                )
            }),
        _ => None,
    };
    if let Some(e) = bad {
        session.offset = start_offset;
        session.hasher = start_hasher;
        let _ = session.file.set_len(start_offset);
        return Err(e);
    }
    Ok(())
}

async fn stream_into(session: &mut Session, body: Body, idle: Duration) -> Result<(), String> {
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::with_capacity(WRITE_BUFFER);
    let mut written = session.offset;
    while let Some(chunk) = next_chunk(&mut stream, idle).await {
        let chunk = chunk?;
        session.hasher.update(&chunk);
        session.offset += chunk.len() as u64;
        buf.extend_from_slice(&chunk);
        if buf.len() >= WRITE_BUFFER {
            let full = std::mem::replace(&mut buf, Vec::with_capacity(WRITE_BUFFER));
            let n = full.len() as u64;
            write_at(session.file.clone(), full, written)
                .await
                .map_err(|e| format!("writing the upload: {e}"))?;
            written += n;
        }
    }
    if !buf.is_empty() {
        write_at(session.file.clone(), buf, written)
            .await
            .map_err(|e| format!("writing the upload: {e}"))?;
    }
    Ok(())
}

pub async fn patch(req: &Request<'_>, name: &str, id: &str, body: Body) -> ApiResult<Response> {
    let who = req.authorize(push_need(name))?;
    let range = content_range(req)?;
    let (_, mut guard) = session_slot(req, name, id).await?;
    let session = guard.as_mut().expect("session loaded");
    append(req, name, id, session, body, range).await?;
    let offset = session.offset;
    let upload = id.to_string();
    req.app
        .metadata
        .run("recording an upload's progress", move |store| {
            store.meta().set_upload_offset(&upload, offset)
        })
        .await?;
    let mut response = StatusCode::ACCEPTED.into_response();
    session_headers(&mut response, name, id, offset);
    Ok(with_user(response, &who))
}

pub async fn finish(req: &Request<'_>, name: &str, id: &str, body: Body) -> ApiResult<Response> {
    let who = req.authorize(push_need(name))?;
    let digest = match req.query.get("digest") {
        Some(d) => parse_digest(d)?,
        None => {
            return Err(ApiError::bad_request(
                Code::DigestInvalid,
                "closing an upload needs ?digest= with the whole blob's digest",
            ));
        }
    };
    let range = content_range(req)?;
    let (_, mut guard) = session_slot(req, name, id).await?;
    finish_session(req, name, id, &mut guard, &digest, body, range, &who).await
}

/// Adds the last chunk (if any), checks the digest, and moves the blob into the store. The
/// session leaves `slot` unless a misplaced chunk (416) leaves it for a retry.
#[allow(clippy::too_many_arguments)]
async fn finish_session(
    req: &Request<'_>,
    name: &str,
    id: &str,
    slot: &mut Option<Session>,
    digest: &Digest,
    body: Body,
    range: Option<(u64, u64)>,
    who: &Identity,
) -> ApiResult<Response> {
    let Some(session) = slot.as_mut() else {
        return Err(unknown_upload(id));
    };
    if let Err(e) = append(req, name, id, session, body, range).await {
        if e.status != StatusCode::RANGE_NOT_SATISFIABLE {
            *slot = None;
            cancel_session(req, id).await?;
        }
        return Err(e);
    }
    let session = slot.take().expect("session present");
    let actual = if session.hasher.algorithm() == digest.algorithm() {
        session.hasher.clone().finish()
    } else {
        // Closed with another algorithm than the session was started with (clients rarely
        // send ?digest-algorithm=): hash the bytes again with the one the digest names.
        let (file, algorithm, len) = (session.file.clone(), digest.algorithm(), session.offset);
        tokio::task::spawn_blocking(move || hash_prefix(&file, algorithm, len))
            .await
            .map_err(|e| ApiError::internal("hashing an upload", e))?
            .map_err(|e| ApiError::internal("hashing an upload", e))?
            .0
            .finish()
    };
    if actual != *digest {
        cancel_session(req, id).await?;
        return Err(ApiError::bad_request(
            Code::DigestInvalid,
            format!("the uploaded bytes hash to {actual}, not {digest}; nothing was stored"),
        )
        .detail(serde_json::json!({ "digest": digest.to_string() })));
    }
    let path = req.app.sessions.path(id);
    let (repo, d, upload) = (name.to_string(), digest.clone(), id.to_string());
    drop(session);
    req.app
        .metadata
        .run("storing a blob", move |store| {
            let _lock = store.write_lock()?;
            store.blobs().adopt(&path, &d)?;
            let mut meta = store.meta();
            meta.link_blob(&repo, &d)?;
            meta.delete_upload(&upload)
        })
        .await?;
    req.app.sessions.forget(id);
    req.app
        .verified
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(digest.clone());
    Ok(blob_created(name, digest, who))
}

async fn cancel_session(req: &Request<'_>, id: &str) -> ApiResult<()> {
    let upload = id.to_string();
    req.app
        .metadata
        .run("cancelling an upload", move |store| {
            store.meta().delete_upload(&upload)
        })
        .await?;
    req.app.sessions.discard(id);
    Ok(())
}

/// The database's record of an upload session, if it has one.
async fn upload_row(req: &Request<'_>, id: &str) -> ApiResult<Option<Upload>> {
    let upload = id.to_string();
    req.app
        .metadata
        .run("looking up an upload", move |store| {
            store.meta().upload(&upload)
        })
        .await
}

pub async fn status(req: &Request<'_>, name: &str, id: &str) -> ApiResult<Response> {
    let who = req.authorize(push_need(name))?;
    // What the database acknowledged, not the live session: a PATCH holds the session for as
    // long as its body trickles in, and a client asking where its upload stands (to resume
    // it) must not wait for that. The bytes of a PATCH still arriving aren't acknowledged.
    let Some(row) = upload_row(req, id).await?.filter(|r| r.repo == name) else {
        req.app.sessions.forget(id);
        return Err(unknown_upload(id));
    };
    let offset = row.offset;
    let mut response = StatusCode::NO_CONTENT.into_response();
    session_headers(&mut response, name, id, offset);
    response.headers_mut().remove(header::CONTENT_LENGTH);
    Ok(with_user(response, &who))
}

pub async fn cancel(req: &Request<'_>, name: &str, id: &str) -> ApiResult<Response> {
    let who = req.authorize(push_need(name))?;
    let row = upload_row(req, id).await?;
    if row.is_none_or(|r| r.repo != name) {
        return Err(unknown_upload(id));
    }
    let _guard = req.app.sessions.slot(id).lock_owned().await;
    cancel_session(req, id).await?;
    Ok(with_user(StatusCode::NO_CONTENT.into_response(), &who))
}
