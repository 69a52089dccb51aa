//! Registry operations that aren't copies: tag lists, resolving, deleting.

use std::collections::HashSet;

use berth_oci::{Digest, Reference, Repository};
use reqwest::{Method, StatusCode, Url, header};

use crate::body::{MAX_LIST_PAGE, read_bounded};
use crate::client::{Registry, Request, Scope};
use crate::error::{Kind, RemoteError};
use crate::source::fetch_manifest;

/// The most tags one listing returns: past it, the listing fails rather than grow without end.
pub const MAX_TAGS: usize = 1_000_000;

/// Every tag of a repository, `page` at a time, following `Link` headers on this registry
/// (see [`list_pages`]); at most [`MAX_TAGS`] tags are collected.
pub async fn tags(
    registry: &Registry,
    repository: &Repository,
    page: usize,
) -> Result<Vec<String>, RemoteError> {
    let repo = repository.path();
    let mut all = Vec::new();
    let listing = ListPages {
        repo,
        first: format!("/v2/{repo}/tags/list?n={page}"),
        accept: None,
        what: "listing tags",
        absent_if_not_found: false,
    };
    list_pages(registry, listing, |body| {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let page: Page = serde_json::from_slice(body).map_err(|e| {
            registry.error(
                Some(repo),
                Kind::Other,
                format!("the tag list is not JSON: {e}"),
            )
        })?;
        let tags = page.tags.unwrap_or_default();
        let count = tags.len();
        all.extend(tags);
        if all.len() > MAX_TAGS {
            return Err(registry.error(
                Some(repo),
                Kind::Other,
                format!("the tag list goes on past {MAX_TAGS} tags"),
            ));
        }
        Ok(count)
    })
    .await?;
    // The spec wants them sorted; not every registry does (distribution 2.8 pages them
    // backwards), so sort and drop repeats here.
    all.sort();
    all.dedup();
    Ok(all)
}

/// A paged listing to read: tags, referrers.
pub struct ListPages<'a> {
    pub repo: &'a str,
    /// The first page's path and query.
    pub first: String,
    pub accept: Option<&'a str>,
    /// What is listed, for errors: "listing tags".
    pub what: &'a str,
    /// Whether a 404 on the first page means the registry has no such listing (the referrers
    /// API) rather than an error.
    pub absent_if_not_found: bool,
}

/// Whether the registry has the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    Read,
    Absent,
}

/// Reads a listing page by page, handing each page's body (at most [`MAX_LIST_PAGE`] bytes)
/// to `page`, which says how many entries it held.
///
/// The registry decides where the next page is, so berth bounds what it follows: only the
/// path and query of a `Link` are used, on this registry (as skopeo does), so no other host
/// is ever asked, let alone sent credentials; a page that starts after an entry already
/// started after (its `last`) means the pages loop, and a page without entries has nothing to
/// follow: either ends the listing.
pub async fn list_pages(
    registry: &Registry,
    listing: ListPages<'_>,
    mut page: impl FnMut(&[u8]) -> Result<usize, RemoteError>,
) -> Result<Listed, RemoteError> {
    let repo = listing.repo;
    let scopes = [Scope::pull(repo)];
    let mut target = listing.first;
    let mut asked = HashSet::new();
    loop {
        if !asked.insert(page_key(&target)) {
            tracing::warn!(registry = registry.host(), repository = repo, %target, "the listing's pages loop; ending it there");
            break;
        }
        let mut request = Request::new(Method::GET, target.clone(), &scopes);
        if let Some(accept) = listing.accept {
            request = request.header(header::ACCEPT, accept);
        }
        let response = registry.send(&request).await?;
        if listing.absent_if_not_found
            && asked.len() == 1
            && response.status() == StatusCode::NOT_FOUND
        {
            return Ok(Listed::Absent);
        }
        if !response.status().is_success() {
            return Err(registry
                .unexpected(Some(repo), listing.what, response)
                .await);
        }
        let next = response
            .headers()
            .get(header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_link)
            .and_then(|link| path_and_query(&link));
        let body = read_bounded(response, MAX_LIST_PAGE).await.map_err(|e| {
            registry.error(
                Some(repo),
                Kind::Unavailable,
                format!("{}: {e}", listing.what),
            )
        })?;
        let entries = page(&body)?;
        match next {
            Some(n) if entries > 0 => target = n,
            _ => break,
        }
    }
    Ok(Listed::Read)
}

/// What names a page: the entry it starts after (`last`), or the whole target without one.
fn page_key(target: &str) -> String {
    let last = Url::parse("http://registry.invalid/")
        .and_then(|base| base.join(target))
        .ok()
        .and_then(|url| {
            url.query_pairs()
                .find(|(k, _)| k == "last")
                .map(|(_, v)| v.into_owned())
        });
    match last {
        Some(last) => format!("last={last}"),
        None => target.to_string(),
    }
}

/// The target of `Link: <...>; rel="next"`.
pub fn next_link(header: &str) -> Option<String> {
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

/// The path and query of a link, relative or absolute, to ask this registry for: whatever
/// host a link names, the next page comes from the registry that sent it. `None` for what
/// is not a URL, or would not stay on the registry.
pub fn path_and_query(link: &str) -> Option<String> {
    // Any base will do: only the path and query are kept.
    let base = Url::parse("http://registry.invalid/").ok()?;
    let url = base.join(link).ok()?;
    // Seated again on an http URL, where a backslash is a slash (as it is when the target is
    // joined to the registry's base), after one leading slash: `//host/…` or `\host\…`
    // would name a host again.
    let mut seated = base.clone();
    seated.set_path(&format!("/{}", url.path().trim_start_matches(['/', '\\'])));
    seated.set_query(url.query());
    let target = match seated.query() {
        Some(q) => format!("{}?{q}", seated.path()),
        None => seated.path().to_string(),
    };
    let stays = base.join(&target).ok()?;
    (stays.host_str() == base.host_str() && stays.port() == base.port()).then_some(target)
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
    use super::{next_link, path_and_query};

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

    #[test]
    fn links_keep_only_their_path_and_query() {
        assert_eq!(
            path_and_query("http://127.0.0.2:5000/v2/x/tags/list?n=2&last=b").as_deref(),
            Some("/v2/x/tags/list?n=2&last=b")
        );
        assert_eq!(
            path_and_query("/v2/x/tags/list?last=b").as_deref(),
            Some("/v2/x/tags/list?last=b")
        );
        assert_eq!(
            path_and_query("//elsewhere.example/v2/x/tags/list").as_deref(),
            Some("/v2/x/tags/list")
        );
        assert_eq!(
            path_and_query("http://127.0.0.2//elsewhere.example/v2/x").as_deref(),
            Some("/elsewhere.example/v2/x"),
            "a path that would name a host again"
        );
        assert_eq!(
            path_and_query("A:\\A").as_deref(),
            Some("/A"),
            "found by fuzzing"
        );
        assert_eq!(
            path_and_query("/\\elsewhere.example/v2/x").as_deref(),
            Some("/v2/x"),
            "a backslash is a slash in an http URL"
        );
        assert_eq!(path_and_query("http://[::1").as_deref(), None);
    }
}
