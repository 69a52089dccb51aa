//! Foreign layers: descriptors whose bytes are fetched from their `urls`, not from the
//! registry. distribution's rules: only the non-distributable layer types may live elsewhere,
//! and every URL must be plain `http` or `https` without a fragment. Anything else the
//! manifest names must be in the repository, `urls` or not.

use berth_oci::Descriptor;
use berth_oci::media_type::{
    DOCKER_FOREIGN_LAYER, OCI_LAYER_NONDIST, OCI_LAYER_NONDIST_GZIP, OCI_LAYER_NONDIST_ZSTD,
};

/// Where a manifest's child must be.
#[derive(Debug, PartialEq, Eq)]
pub enum Placement {
    /// In the repository, like any blob or manifest.
    Here,
    /// At its `urls`: the registry doesn't hold it.
    Elsewhere,
}

/// Why a descriptor's `urls` are refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ForeignError {
    #[error(
        "{digest}: URL {url:?} is not allowed; foreign layers are fetched over http or https, without a fragment"
    )]
    Url { digest: String, url: String },
    #[error("{digest}: a {media_type} layer lives elsewhere, so it needs urls")]
    MissingUrls { digest: String, media_type: String },
}

/// Checks a child descriptor's `urls` and says where its bytes must be.
pub fn placement(d: &Descriptor) -> Result<Placement, ForeignError> {
    if let Some(url) = d.urls.iter().find(|u| !allowed_url(u)) {
        return Err(ForeignError::Url {
            digest: d.digest.to_string(),
            url: url.clone(),
        });
    }
    let non_distributable = matches!(
        d.media_type.as_str(),
        OCI_LAYER_NONDIST | OCI_LAYER_NONDIST_GZIP | OCI_LAYER_NONDIST_ZSTD | DOCKER_FOREIGN_LAYER
    );
    match (non_distributable, d.urls.is_empty()) {
        (true, false) => Ok(Placement::Elsewhere),
        // Docker's foreign type says "fetch me from my urls": without them it can't be.
        (true, true) if d.media_type == DOCKER_FOREIGN_LAYER => Err(ForeignError::MissingUrls {
            digest: d.digest.to_string(),
            media_type: d.media_type.clone(),
        }),
        _ => Ok(Placement::Here),
    }
}

/// `http://HOST…` or `https://HOST…`, with a host, no fragment, nothing a URL can't hold.
fn allowed_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        && !host.is_empty()
        && !url.contains('#')
        && url.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_oci::Digest;
    use berth_oci::media_type::{DOCKER_LAYER_GZIP, OCI_CONFIG, OCI_LAYER_GZIP};

    fn desc(media_type: &str, urls: &[&str]) -> Descriptor {
        let mut d = Descriptor::new(media_type, Digest::sha256(b"layer"), 5);
        d.urls = urls.iter().map(|u| u.to_string()).collect();
        d
    }

    #[test]
    fn only_non_distributable_layers_live_elsewhere() {
        let url = ["https://example.com/layer.tar.gz"];
        for t in [
            OCI_LAYER_NONDIST,
            OCI_LAYER_NONDIST_GZIP,
            OCI_LAYER_NONDIST_ZSTD,
            DOCKER_FOREIGN_LAYER,
        ] {
            assert_eq!(placement(&desc(t, &url)), Ok(Placement::Elsewhere), "{t}");
        }
        for t in [OCI_LAYER_GZIP, DOCKER_LAYER_GZIP, OCI_CONFIG, "text/plain"] {
            assert_eq!(placement(&desc(t, &url)), Ok(Placement::Here), "{t}");
            assert_eq!(placement(&desc(t, &[])), Ok(Placement::Here), "{t}");
        }
        assert_eq!(
            placement(&desc(OCI_LAYER_NONDIST_GZIP, &[])),
            Ok(Placement::Here)
        );
        assert!(matches!(
            placement(&desc(DOCKER_FOREIGN_LAYER, &[])),
            Err(ForeignError::MissingUrls { .. })
        ));
    }

    #[test]
    fn urls_must_be_http_or_https_without_a_fragment() {
        for ok in ["http://a/b", "HTTPS://a.example:8443/x?y=1"] {
            assert!(allowed_url(ok), "{ok}");
        }
        for bad in [
            "file:///etc/passwd",
            "ftp://a/b",
            "https://a/b#frag",
            "https:///nohost",
            "https://",
            "//a/b",
            "javascript:alert(1)",
            "https://a/b c",
            "",
        ] {
            assert!(!allowed_url(bad), "{bad}");
            assert!(
                matches!(
                    placement(&desc(OCI_LAYER_NONDIST_GZIP, &[bad])),
                    Err(ForeignError::Url { .. })
                ),
                "{bad}"
            );
        }
    }
}
