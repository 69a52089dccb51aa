//! `/v2/<name>/manifests/<reference>`: GET, HEAD, PUT, DELETE.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_oci::manifest::MAX_MANIFEST_SIZE;
use berth_oci::{Digest, Manifest, media_type};
use berth_store::repos::{NewManifest, PushRefused};
use bytes::Bytes;

use super::{Request, read_body, unknown, with_user};
use crate::auth::Need;
use crate::config::Action;
use crate::error::{ApiError, ApiResult, Code};
use crate::foreign::{Placement, placement};
use crate::route::{Reference, check_tag};

/// Tags one `?tag=` push may set.
const MAX_TAGS: usize = 100;

fn describe(reference: &Reference) -> String {
    match reference {
        Reference::Tag(t) => t.clone(),
        Reference::Digest(d) => d.to_string(),
    }
}

pub async fn get(
    req: &Request<'_>,
    name: &str,
    reference: &Reference,
    head: bool,
) -> ApiResult<Response> {
    let who = req.authorize(Need::Repo(name, Action::Pull))?;
    let (repo, r) = (name.to_string(), reference.clone());
    let found = req
        .app
        .metadata
        .read("looking up a manifest", move |_, meta| match &r {
            Reference::Tag(t) => meta.repo_manifest_by_tag(&repo, t),
            Reference::Digest(d) => meta.repo_manifest(&repo, d),
        })
        .await?;
    let Some(m) = found else {
        return Err(unknown(
            req,
            name,
            Code::ManifestUnknown,
            format!("manifest {} is not in {name}", describe(reference)),
        )
        .await);
    };
    // A HEAD says only what a tag names (digest, type, size), nothing a pull could run: it
    // stays answered, so that a signer can resolve the image it is to make pullable.
    if !head && let Some(why) = pull_refusal(req, name, reference, &m.digest).await? {
        return Err(ApiError::new(StatusCode::FORBIDDEN, Code::Denied, why));
    }
    let body = if head {
        Body::empty()
    } else {
        Body::from(manifest_bytes(req, &m.digest).await?)
    };
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, header_value(&m.media_type));
    h.insert("Docker-Content-Digest", header_value(&m.digest.to_string()));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(m.size));
    h.insert(header::ETAG, header_value(&format!("\"{}\"", m.digest)));
    Ok(with_user(response, &who))
}

/// Why the pull policy refuses manifest `digest` of `name`, if it does. Signature artifacts
/// (by their legacy tag or their layers) are never refused; other manifests of a covered
/// repository are judged once per digest until the next push to the repository.
async fn pull_refusal(
    req: &Request<'_>,
    name: &str,
    reference: &Reference,
    digest: &Digest,
) -> ApiResult<Option<String>> {
    let Some(gate) = &req.app.gate else {
        return Ok(req.app.config.pull_policy.as_ref().map(|p| {
            format!(
                "the registry's pull policy {} is not enforced by this server, so no pull is allowed",
                p.display()
            )
        }));
    };
    if !gate.covers(name) {
        return Ok(None);
    }
    if let Reference::Tag(tag) = reference
        && is_legacy_artifact_tag(tag)
    {
        return Ok(None);
    }
    if crate::gate::is_signature_artifact(&manifest_bytes(req, digest).await?) {
        return Ok(None);
    }
    let verdict = match gate.cached(name, digest) {
        Some(verdict) => verdict,
        None => {
            let judge = gate.judge();
            let (repo, d) = (name.to_string(), digest.clone());
            let verdict = req
                .app
                .metadata
                .run("judging a pull", move |store| {
                    Ok(judge.judge(store, &repo, &d))
                })
                .await?;
            gate.remember(name, digest, verdict.clone());
            verdict
        }
    };
    Ok(verdict
        .err()
        .map(|why| format!("pull of {name}@{digest} refused by the registry's policy: {why}")))
}

/// cosign's tags for an image's signatures, attestations and SBOMs: `sha256-<hex>.sig`.
fn is_legacy_artifact_tag(tag: &str) -> bool {
    tag.strip_prefix("sha256-").is_some_and(|rest| {
        [".sig", ".att", ".sbom"]
            .iter()
            .any(|suffix| rest.strip_suffix(suffix).is_some_and(|hex| hex.len() == 64))
    })
}

/// GET or HEAD by a reference that is neither a tag nor a digest: no manifest has that name,
/// so it is not found (404; the spec gives a manifest's GET and HEAD no other failure), after
/// the same authorization as any pull.
pub async fn get_unnameable(
    req: &Request<'_>,
    name: &str,
    refusal: &ApiError,
) -> ApiResult<Response> {
    req.authorize(Need::Repo(name, Action::Pull))?;
    Err(unknown(
        req,
        name,
        Code::ManifestUnknown,
        format!("no manifest of {name} is named so: {}", refusal.message),
    )
    .await)
}

/// A stored manifest's bytes, from the cache or checked against their digest on disk.
async fn manifest_bytes(req: &Request<'_>, digest: &Digest) -> ApiResult<Bytes> {
    if let Some(bytes) = req.app.manifests.get(digest) {
        return Ok(bytes);
    }
    let store = req.app.store.clone();
    let d = digest.clone();
    let bytes =
        tokio::task::spawn_blocking(move || store.blobs().read(&d, MAX_MANIFEST_SIZE as u64))
            .await
            .map_err(|e| ApiError::internal("reading a manifest", e))??;
    let bytes = Bytes::from(bytes);
    req.app.manifests.put(digest, bytes.clone());
    Ok(bytes)
}

pub fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        Code::ManifestInvalid,
        format!("manifests may be at most {MAX_MANIFEST_SIZE} bytes"),
    )
}

fn invalid(why: impl Into<String>) -> ApiError {
    ApiError::bad_request(Code::ManifestInvalid, why)
}

pub async fn put(
    req: &Request<'_>,
    name: &str,
    reference: &Reference,
    body: Body,
) -> ApiResult<Response> {
    let who = req.authorize(Need::Repo(name, Action::Push))?;
    if super::content_length(req.headers).is_some_and(|n| n > MAX_MANIFEST_SIZE as u64) {
        return Err(too_large());
    }
    let bytes = read_body(req, body, MAX_MANIFEST_SIZE, too_large).await?;
    let content_type = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
        .filter(|v| !v.is_empty());
    let manifest =
        Manifest::parse(&bytes, content_type.as_deref()).map_err(|e| invalid(e.to_string()))?;
    let declared = match &manifest {
        Manifest::Image(m) => m.media_type.as_deref(),
        Manifest::Index(i) => i.media_type.as_deref(),
    };
    if let (Some(declared), Some(ct)) = (declared, content_type.as_deref()) {
        if declared != ct && media_type::is_manifest(ct) {
            return Err(invalid(format!(
                "the manifest's mediaType {declared:?} differs from the Content-Type {ct:?}"
            )));
        }
    }
    let media_type = manifest.media_type().to_string();

    let digest = match reference {
        Reference::Digest(want) => {
            let actual = Digest::of(want.algorithm(), &bytes);
            if actual != *want {
                return Err(ApiError::bad_request(
                    Code::DigestInvalid,
                    format!("the manifest's digest is {actual}, not {want}"),
                )
                .detail(serde_json::json!({ "digest": want.to_string() })));
            }
            actual
        }
        Reference::Tag(_) => Digest::sha256(&bytes),
    };
    let mut tags: Vec<String> = Vec::new();
    if let Reference::Tag(t) = reference {
        tags.push(t.clone());
    }
    let query_tags = req.query.all("tag");
    if query_tags.len() > MAX_TAGS {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            Code::ManifestInvalid,
            format!("at most {MAX_TAGS} tags per request"),
        ));
    }
    for t in &query_tags {
        check_tag(t)?;
        if !tags.iter().any(|x| x == t) {
            tags.push(t.to_string());
        }
    }

    let policy = req.app.config.policy(name);
    let mut children: Vec<(Digest, String)> = Vec::new();
    for child in manifest.children() {
        // Foreign layers live elsewhere, by design; nothing else does.
        match placement(child).map_err(|e| invalid(e.to_string()))? {
            Placement::Here => children.push((child.digest.clone(), child.media_type.clone())),
            Placement::Elsewhere => {}
        }
    }
    let subject = manifest.subject().map(|s| s.digest.clone());
    let (artifact_type, annotations) = match &manifest {
        Manifest::Image(m) => (
            m.artifact_type
                .clone()
                .or_else(|| Some(m.config.media_type.clone())),
            m.annotations
                .as_ref()
                .map(|a| serde_json::to_string(a).unwrap_or_default()),
        ),
        Manifest::Index(i) => (
            i.artifact_type.clone(),
            i.annotations
                .as_ref()
                .map(|a| serde_json::to_string(a).unwrap_or_default()),
        ),
    };

    let repo = name.to_string();
    let (d, b, t) = (digest.clone(), bytes.clone(), tags.clone());
    let immutable = policy.is_some_and(|p| p.immutable_tags);
    let outcome = req
        .app
        .metadata
        .run("storing a manifest", move |store| {
            let _lock = store.write_lock()?;
            if !store.blobs().contains(&d) {
                store.blobs().write_from(&d, Some(b.len() as u64), &b[..])?;
            }
            let children: Vec<(&Digest, &str)> =
                children.iter().map(|(d, m)| (d, m.as_str())).collect();
            store.meta().push_manifest(
                &repo,
                &NewManifest {
                    digest: &d,
                    media_type: &media_type,
                    size: b.len() as u64,
                    children,
                    subject: subject.as_ref(),
                    artifact_type: artifact_type.as_deref(),
                    annotations,
                    tags: &t,
                    immutable_tags: immutable,
                },
            )
        })
        .await?;
    match outcome {
        Ok(()) => {}
        Err(PushRefused::Unknown(missing)) => {
            return Err(ApiError::bad_request(
                Code::ManifestBlobUnknown,
                format!("the manifest references {missing}, which is not in {name}; push it first"),
            )
            .detail(serde_json::json!({ "digest": missing.to_string() })));
        }
        Err(PushRefused::TagImmutable { tag, current }) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                Code::Denied,
                format!("tag {tag} of {name} is immutable and points at {current}; push a new tag instead"),
            )
            .detail(serde_json::json!({ "tag": tag, "reason": "TAG_IMMUTABLE" })));
        }
    }
    req.app.manifests.put(&digest, bytes);
    if let Some(gate) = &req.app.gate {
        gate.forget(name);
    }

    let mut response = StatusCode::CREATED.into_response();
    let h = response.headers_mut();
    h.insert(
        header::LOCATION,
        header_value(&format!("/v2/{name}/manifests/{digest}")),
    );
    h.insert("Docker-Content-Digest", header_value(&digest.to_string()));
    if let Some(s) = manifest.subject() {
        h.insert("OCI-Subject", header_value(&s.digest.to_string()));
    }
    if !query_tags.is_empty() {
        let mut accepted: Vec<&str> = Vec::new();
        for t in &query_tags {
            if !accepted.contains(t) {
                accepted.push(t);
            }
        }
        h.insert("OCI-Tag", header_value(&accepted.join(", ")));
    }
    Ok(with_user(response, &who))
}

pub async fn delete(req: &Request<'_>, name: &str, reference: &Reference) -> ApiResult<Response> {
    let who = req.authorize(Need::Repo(name, Action::Delete))?;
    let policy = req.app.config.policy(name);
    if policy.is_some_and(|p| !p.allow_delete) {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::Unsupported,
            format!("deletes are turned off for {name}"),
        ));
    }
    if let Reference::Tag(t) = reference {
        if policy.is_some_and(|p| p.immutable_tags) {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::Denied,
                format!("tags of {name} are immutable: {t} can't be deleted"),
            ));
        }
    }
    let (repo, r) = (name.to_string(), reference.clone());
    let removed = req
        .app
        .metadata
        .run("deleting a manifest", move |store| match &r {
            Reference::Digest(d) => store.meta().delete_repo_manifest(&repo, d),
            Reference::Tag(t) => store.meta().delete_tag(&repo, t),
        })
        .await?;
    if !removed {
        return Err(unknown(
            req,
            name,
            Code::ManifestUnknown,
            format!("manifest {} is not in {name}", describe(reference)),
        )
        .await);
    }
    Ok(with_user(StatusCode::ACCEPTED.into_response(), &who))
}
