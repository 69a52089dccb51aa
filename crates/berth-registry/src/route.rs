//! Turning a `/v2/…` path into an endpoint. Repository names hold slashes, so paths are read
//! from the end, as the spec's grammar allows: the last segments say which endpoint it is,
//! everything before them is the name.

use berth_oci::Digest;
use berth_oci::reference::{self, NAME_MAX};

use crate::error::{ApiError, Code};

/// What a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags { name: String },
    /// `/v2/<name>/manifests/<reference>`
    Manifest { name: String, reference: Reference },
    /// `/v2/<name>/manifests/<reference>` whose reference is neither a tag nor a digest, with
    /// the refusal a write by it gets. No manifest can be named so: reading one is a 404.
    BadReference {
        name: String,
        refusal: Box<ApiError>,
    },
    /// `/v2/<name>/blobs/<digest>`
    Blob { name: String, digest: Digest },
    /// `/v2/<name>/blobs/uploads/`
    Uploads { name: String },
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload { name: String, id: String },
    /// `/v2/<name>/referrers/<digest>`
    Referrers { name: String, digest: Digest },
}

/// A tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl Route {
    /// The repository a route is about, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            Route::Base | Route::Catalog => None,
            Route::Tags { name }
            | Route::Manifest { name, .. }
            | Route::BadReference { name, .. }
            | Route::Blob { name, .. }
            | Route::Uploads { name }
            | Route::Upload { name, .. }
            | Route::Referrers { name, .. } => Some(name),
        }
    }

    /// A short label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Route::Base => "base",
            Route::Catalog => "catalog",
            Route::Tags { .. } => "tags",
            Route::Manifest { .. } | Route::BadReference { .. } => "manifest",
            Route::Blob { .. } => "blob",
            Route::Uploads { .. } | Route::Upload { .. } => "upload",
            Route::Referrers { .. } => "referrers",
        }
    }
}

/// Parses the path of a request under `/v2/`. `None` means no such endpoint (404).
pub fn parse(path: &str) -> Result<Option<Route>, ApiError> {
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Ok(if path == "/v2" {
            Some(Route::Base)
        } else {
            None
        });
    };
    if rest.is_empty() {
        return Ok(Some(Route::Base));
    }
    if rest == "_catalog" {
        return Ok(Some(Route::Catalog));
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let n = segments.len();
    let name_of = |k: usize| -> Result<String, ApiError> {
        if k == 0 {
            return Err(ApiError::bad_request(
                Code::NameInvalid,
                "the repository name is empty",
            ));
        }
        let name = segments[..k].join("/");
        check_name(&name)?;
        Ok(name)
    };
    let at = |i: usize| segments.get(i).copied();
    let route = if n >= 3 && at(n - 2) == Some("tags") && at(n - 1) == Some("list") {
        Route::Tags {
            name: name_of(n - 2)?,
        }
    } else if n >= 3 && at(n - 2) == Some("manifests") {
        let name = name_of(n - 2)?;
        match parse_reference(segments[n - 1]) {
            Ok(reference) => Route::Manifest { name, reference },
            Err(refusal) => Route::BadReference {
                name,
                refusal: Box::new(refusal),
            },
        }
    } else if n >= 4 && at(n - 3) == Some("blobs") && at(n - 2) == Some("uploads") {
        let name = name_of(n - 3)?;
        match segments[n - 1] {
            "" => Route::Uploads { name },
            id => Route::Upload {
                name,
                id: id.to_string(),
            },
        }
    } else if n >= 3 && at(n - 2) == Some("blobs") {
        Route::Blob {
            name: name_of(n - 2)?,
            digest: parse_digest(segments[n - 1])?,
        }
    } else if n >= 3 && at(n - 2) == Some("referrers") {
        Route::Referrers {
            name: name_of(n - 2)?,
            digest: parse_digest(segments[n - 1])?,
        }
    } else {
        return Ok(None);
    };
    Ok(Some(route))
}

/// Checks a repository name against the spec's grammar (berth-oci's, the one berth has):
/// lowercase path components separated by `/`; at most 255 characters. So `..`, `%2e` and
/// other path tricks never reach storage.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    let bad = |why: String| {
        Err(ApiError::bad_request(
            Code::NameInvalid,
            format!("invalid repository name {name:?}: {why}"),
        )
        .detail(serde_json::json!({ "name": name })))
    };
    if name.len() > NAME_MAX {
        return bad(format!("longer than {NAME_MAX} characters"));
    }
    match reference::check_path(name) {
        Ok(()) => Ok(()),
        Err(e) => bad(e.to_string()),
    }
}

fn parse_reference(s: &str) -> Result<Reference, ApiError> {
    if s.contains(':') {
        return parse_digest(s).map(Reference::Digest);
    }
    check_tag(s)?;
    Ok(Reference::Tag(s.to_string()))
}

/// `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`
pub fn check_tag(tag: &str) -> Result<(), ApiError> {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && word(tag.as_bytes()[0])
        && tag.bytes().all(|c| word(c) || c == b'.' || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            Code::ManifestInvalid,
            format!("invalid tag {tag:?}: tags are 1 to 128 of A-Za-z0-9_.- and can't start with '.' or '-'"),
        )
        .detail(serde_json::json!({ "tag": tag })))
    }
}

pub fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    Digest::parse(s).map_err(|e| {
        ApiError::bad_request(Code::DigestInvalid, e.to_string())
            .detail(serde_json::json!({ "digest": s }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(p: &str) -> Route {
        parse(p).unwrap().unwrap()
    }

    #[test]
    fn parses_every_endpoint() {
        const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(route("/v2/"), Route::Base);
        assert_eq!(route("/v2/_catalog"), Route::Catalog);
        assert_eq!(
            route("/v2/a/b/tags/list"),
            Route::Tags { name: "a/b".into() }
        );
        assert!(
            matches!(route("/v2/a/manifests/latest"), Route::Manifest { reference: Reference::Tag(t), .. } if t == "latest")
        );
        assert!(matches!(
            route(&format!("/v2/a/manifests/{D}")),
            Route::Manifest {
                reference: Reference::Digest(_),
                ..
            }
        ));
        assert!(
            matches!(route(&format!("/v2/x/y/z/blobs/{D}")), Route::Blob { name, .. } if name == "x/y/z")
        );
        assert_eq!(
            route("/v2/a/blobs/uploads/"),
            Route::Uploads { name: "a".into() }
        );
        assert_eq!(
            route("/v2/a/blobs/uploads/abc"),
            Route::Upload {
                name: "a".into(),
                id: "abc".into()
            }
        );
        assert!(matches!(
            route(&format!("/v2/a/referrers/{D}")),
            Route::Referrers { .. }
        ));
        // A repository may be called "manifests" or "blobs".
        assert!(
            matches!(route("/v2/manifests/manifests/x"), Route::Manifest { name, .. } if name == "manifests")
        );
        assert!(parse("/v2/a/unknown").unwrap().is_none());
        assert!(parse("/other").unwrap().is_none());
    }

    #[test]
    fn refuses_path_tricks_and_bad_names() {
        for p in [
            "/v2/../etc/manifests/x",
            "/v2/a/../b/manifests/x",
            "/v2/%2e%2e/manifests/x",
            "/v2/A/manifests/x",
            "/v2//manifests/x",
            "/v2/a//b/tags/list",
            "/v2/a/blobs/notadigest",
        ] {
            assert!(parse(p).is_err(), "{p}");
        }
        for p in ["/v2/a/manifests/-bad", "/v2/a/manifests/sha256:abc"] {
            assert!(
                matches!(route(p), Route::BadReference { name, .. } if name == "a"),
                "{p}"
            );
        }
        // The name is checked first.
        assert!(parse("/v2/A/manifests/-bad").is_err());
        assert!(check_name(&"a".repeat(256)).is_err());
        assert!(check_tag(&"t".repeat(129)).is_err());
    }
}
