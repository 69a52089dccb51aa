//! Registry operations that aren't copies: tag lists, resolving, deleting.

use berth_oci::{Digest, Reference, Repository};
use reqwest::{Method, StatusCode, header};

use crate::client::{Registry, Request, Scope};
use crate::error::{Kind, RemoteError};
use crate::source::fetch_manifest;

/// Every tag of a repository, `page` at a time, following `Link` headers.
pub async fn tags(
    registry: &Registry,
    repository: &Repository,
    page: usize,
) -> Result<Vec<String>, RemoteError> {
    let repo = repository.path();
    let scopes = [Scope::pull(repo)];
    let mut target = format!("/v2/{repo}/tags/list?n={page}");
    let mut all = Vec::new();
    for _ in 0..100_000 {
        let response = registry
            .send(&Request::new(Method::GET, target.clone(), &scopes))
            .await?;
        if !response.status().is_success() {
            return Err(registry
                .unexpected(Some(repo), "listing tags", response)
                .await);
        }
        let next = response
            .headers()
            .get(header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_link);
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let page: Page = response.json().await.map_err(|e| {
            registry.error(
                Some(repo),
                Kind::Other,
                format!("the tag list is not JSON: {e}"),
            )
        })?;
        all.extend(page.tags.unwrap_or_default());
        match next {
            Some(n) => target = n,
            None => {
                // The spec wants them sorted; not every registry does (distribution 2.8
                // pages them backwards), so sort and drop repeats here.
                all.sort();
                all.dedup();
                return Ok(all);
            }
        }
    }
    Err(registry.error(Some(repo), Kind::Other, "the tag list never ends"))
}

/// The target of `Link: <...>; rel="next"`.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// The digest a reference names now (a HEAD, or a GET when the registry doesn't say).
pub async fn resolve(registry: &Registry, reference: &Reference) -> Result<Digest, RemoteError> {
    if let Some(d) = reference.digest() {
        let repo = reference.path();
        fetch_manifest(registry, repo, &d.to_string(), Some(d), true).await?;
        return Ok(d.clone());
    }
    let tag = reference.tag().unwrap_or("latest");
    match fetch_manifest(registry, reference.path(), tag, None, true).await {
        Ok(f) => Ok(f.descriptor.digest),
        Err(e) if e.kind == Kind::Other => {
            Ok(fetch_manifest(registry, reference.path(), tag, None, false)
                .await?
                .descriptor
                .digest)
        }
        Err(e) => Err(e),
    }
}

/// Deletes the manifest a reference names (by digest, as skopeo does: every tag on it goes).
pub async fn delete(registry: &Registry, reference: &Reference) -> Result<Digest, RemoteError> {
    let digest = resolve(registry, reference).await?;
    let repo = reference.path();
    let scopes = [Scope::delete(repo)];
    let response = registry
        .send(&Request::new(
            Method::DELETE,
            format!("/v2/{repo}/manifests/{digest}"),
            &scopes,
        ))
        .await?;
    match response.status() {
        StatusCode::ACCEPTED | StatusCode::OK | StatusCode::NO_CONTENT => Ok(digest),
        _ => Err(registry
            .unexpected(Some(repo), &format!("deleting {digest}"), response)
            .await),
    }
}

#[cfg(test)]
mod tests {
    use super::next_link;

    #[test]
    fn follows_link_headers() {
        assert_eq!(
            next_link(r#"</v2/x/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/x/tags/list?n=2&last=b")
        );
        assert_eq!(
            next_link(r#"<http://r/a>; rel="prev", <http://r/b>; rel="next""#).as_deref(),
            Some("http://r/b")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
    }
}
