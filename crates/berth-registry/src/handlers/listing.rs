//! Content discovery: tag lists, the catalog, and referrers.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_oci::{Descriptor, Digest, ImageIndex};
use serde_json::json;

use super::manifests::header_value;
use super::{Request, next_link, with_user};
use crate::auth::{Identity, Need};
use crate::config::Action;
use crate::error::{ApiError, ApiResult, Code};

/// Most entries one page holds, whatever `n` asks for; a `Link` leads on.
const PAGE_MAX: usize = 1000;

/// `n` and `last` of a paginated request.
fn page(req: &Request<'_>) -> ApiResult<(usize, Option<String>)> {
    let n = match req.query.get("n") {
        None => PAGE_MAX,
        Some(n) => n.parse::<usize>().map_err(|_| {
            ApiError::bad_request(
                Code::PaginationNumberInvalid,
                format!("n={n:?} is not a whole number"),
            )
        })?,
    };
    Ok((n.min(PAGE_MAX), req.query.get("last").map(str::to_string)))
}

fn json_response(body: serde_json::Value, link: Option<String>, who: &Identity) -> Response {
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(link) = link {
        h.insert(header::LINK, header_value(&link));
    }
    with_user(response, who)
}

pub async fn tags(req: &Request<'_>, name: &str) -> ApiResult<Response> {
    let who = req.authorize(Need::Repo(name, Action::Pull))?;
    let (n, last) = page(req)?;
    let repo = name.to_string();
    // One more than asked tells whether another page follows; `None`: no such repository.
    let page = req
        .app
        .metadata
        .run("listing tags", move |store| {
            let meta = store.meta();
            if !meta.repo_exists(&repo)? {
                return Ok(None);
            }
            if n == 0 {
                return Ok(Some(Vec::new()));
            }
            meta.repo_tags(&repo, last.as_deref(), n + 1).map(Some)
        })
        .await?;
    let Some(mut tags) = page else {
        return Err(ApiError::not_found(
            Code::NameUnknown,
            format!("repository {name} is not known to this registry"),
        ));
    };
    let link = (tags.len() > n).then(|| {
        tags.truncate(n);
        next_link(
            &format!("/v2/{name}/tags/list"),
            &[
                ("n", &n.to_string()),
                ("last", tags.last().map_or("", String::as_str)),
            ],
        )
    });
    Ok(json_response(
        json!({ "name": name, "tags": tags }),
        link,
        &who,
    ))
}

pub async fn catalog(req: &Request<'_>) -> ApiResult<Response> {
    let who = req.authorize(Need::Catalog)?;
    let (n, last) = page(req)?;
    let mut repos = Vec::new();
    let mut cursor = last;
    let mut more = false;
    // Only repositories the caller may pull are listed; skip the rest and keep filling.
    while repos.len() < n {
        let after = cursor.clone();
        let batch = req
            .app
            .metadata
            .run("listing repositories", move |store| {
                store.meta().catalog(after.as_deref(), PAGE_MAX)
            })
            .await?;
        if batch.is_empty() {
            break;
        }
        cursor = batch.last().cloned();
        for repo in batch {
            if req.app.auth.allows(&who, &repo, Action::Pull) {
                if repos.len() == n {
                    more = true;
                    break;
                }
                repos.push(repo);
            }
        }
        if more {
            break;
        }
    }
    let link = (more && n > 0).then(|| {
        next_link(
            "/v2/_catalog",
            &[
                ("n", &n.to_string()),
                ("last", repos.last().map_or("", String::as_str)),
            ],
        )
    });
    Ok(json_response(json!({ "repositories": repos }), link, &who))
}

pub async fn referrers(req: &Request<'_>, name: &str, digest: &Digest) -> ApiResult<Response> {
    let who = req.authorize(Need::Repo(name, Action::Pull))?;
    let artifact_type = req.query.get("artifactType").filter(|t| !t.is_empty());
    let (repo, subject) = (name.to_string(), digest.clone());
    let (wanted, last) = (
        artifact_type.map(str::to_string),
        req.query.get("last").map(str::to_string),
    );
    let mut rows = req
        .app
        .metadata
        .run("listing referrers", move |store| {
            store.meta().referrers(
                &repo,
                &subject,
                wanted.as_deref(),
                last.as_deref(),
                PAGE_MAX + 1,
            )
        })
        .await?;
    let more = rows.len() > PAGE_MAX;
    rows.truncate(PAGE_MAX);
    let manifests: Vec<Descriptor> = rows
        .iter()
        .map(|r| {
            let mut d = Descriptor::new(&r.media_type, r.digest.clone(), r.size);
            d.artifact_type = r.artifact_type.clone();
            d.annotations = r
                .annotations
                .as_deref()
                .and_then(|a| serde_json::from_str::<BTreeMap<String, String>>(a).ok())
                .filter(|a| !a.is_empty());
            d
        })
        .collect();
    let link = more.then(|| {
        let mut params = vec![(
            "last",
            rows.last()
                .map(|r| r.digest.to_string())
                .unwrap_or_default(),
        )];
        if let Some(t) = artifact_type {
            params.push(("artifactType", t.to_string()));
        }
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        next_link(&format!("/v2/{name}/referrers/{digest}"), &params)
    });
    let mut response = (StatusCode::OK, ImageIndex::new(manifests).to_bytes()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(berth_oci::media_type::OCI_INDEX),
    );
    if artifact_type.is_some() {
        h.insert(
            "OCI-Filters-Applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    if let Some(link) = link {
        h.insert(header::LINK, header_value(&link));
    }
    Ok(with_user(response, &who))
}
