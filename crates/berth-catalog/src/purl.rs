//! Package URLs, in the canonical form of the purl specification (qualifiers sorted by key,
//! `+` and `@` percent-encoded), which is also the form Syft writes.

use packageurl::PackageUrl;

use crate::model::{Distro, PackageType};

/// The purl of an OS package of `distro`, with the qualifiers Syft writes (`arch`, `distro`,
/// `upstream`; empty ones left out); `None` when the distribution is unknown, since it is the
/// purl's namespace.
pub fn of_os_package(
    package_type: PackageType,
    distro: Option<&Distro>,
    name: &str,
    version: &str,
    arch: &str,
    upstream: &str,
) -> Result<Option<String>, String> {
    distro
        .map(|d| {
            purl(
                package_type,
                &d.id,
                name,
                version,
                &[
                    ("arch", arch),
                    ("distro", &d.purl_qualifier()),
                    ("upstream", upstream),
                ],
            )
        })
        .transpose()
}

/// The purl `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS`; an empty namespace, version or
/// qualifier value is left out.
pub fn purl(
    package_type: PackageType,
    namespace: &str,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> Result<String, String> {
    let bad = |e: packageurl::Error| format!("no package URL for {name} {version}: {e}");
    let mut purl = PackageUrl::new(package_type.purl_type(), name).map_err(bad)?;
    if !namespace.is_empty() {
        purl.with_namespace(namespace).map_err(bad)?;
    }
    if !version.is_empty() {
        purl.with_version(version).map_err(bad)?;
    }
    for (key, value) in qualifiers {
        if !value.is_empty() {
            purl.add_qualifier(*key, *value).map_err(bad)?;
        }
    }
    Ok(purl.to_string())
}

/// The purl of a Go module as Syft writes it: the path's first two elements are the
/// namespace, the third the name, the rest the subpath (`github.com/a/b/v2` is
/// `pkg:golang/github.com/a/b@VERSION#v2`), case kept. Written by hand because the purl crate
/// lowercases golang namespaces (Go module paths are case-sensitive) and refuses a `.`
/// segment (a module replaced by a local directory, `./lib`).
pub fn of_go_module(path: &str, version: &str) -> String {
    let mut elements = path.split('/');
    let (namespace, name): (Vec<&str>, &str) =
        match (elements.next(), elements.next(), elements.next()) {
            (Some(name), None, _) => (vec![], name),
            (Some(host), Some(name), None) => (vec![host], name),
            (Some(host), Some(owner), Some(name)) => (vec![host, owner], name),
            (None, ..) => (vec![], ""),
        };
    let subpath: Vec<&str> = elements.collect();
    let mut purl = String::from("pkg:golang/");
    for segment in namespace.into_iter().filter(|s| !s.is_empty()) {
        purl.push_str(&go_escape(segment));
        purl.push('/');
    }
    purl.push_str(&go_escape(name));
    if !version.is_empty() {
        purl.push('@');
        purl.push_str(&go_escape(version));
    }
    if !subpath.is_empty() {
        purl.push('#');
        purl.push_str(&go_escape(&subpath.join("/")));
    }
    purl
}

/// Percent-encodes what the purl's syntax reserves in a segment (`@ + ? # %` and space) and
/// every non-ASCII byte.
fn go_escape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'@' | b'+' | b'?' | b'#' | b'%' | b' ' | 0x80.. | ..0x20 => {
                out.push_str(&format!("%{byte:02X}"))
            }
            _ => out.push(byte as char),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_as_syft_writes_it() {
        // Facts from Syft 1.18.1's output on Debian bookworm: qualifiers sorted, `+` and `@`
        // encoded, `:` and `~` left as they are.
        assert_eq!(
            purl(
                PackageType::Deb,
                "debian",
                "libcap2",
                "1:2.66-4+deb12u3+b1",
                &[
                    ("upstream", "libcap2@1:2.66-4+deb12u3"),
                    ("distro", "debian-12"),
                    ("arch", "amd64"),
                ]
            )
            .unwrap(),
            "pkg:deb/debian/libcap2@1:2.66-4%2Bdeb12u3%2Bb1?arch=amd64&distro=debian-12&upstream=libcap2%401:2.66-4%2Bdeb12u3"
        );
        assert_eq!(
            purl(
                PackageType::Deb,
                "debian",
                "libstdc++6",
                "252.39-1~deb12u2",
                &[("arch", "amd64"), ("upstream", "")]
            )
            .unwrap(),
            "pkg:deb/debian/libstdc%2B%2B6@252.39-1~deb12u2?arch=amd64"
        );
    }

    #[test]
    fn go_modules_as_syft_writes_them() {
        // Facts from Syft 1.18.1's output on Go 1.27 binaries.
        for (path, version, purl) in [
            ("stdlib", "1.27.3", "pkg:golang/stdlib@1.27.3"),
            (
                "example.com/berth/hello",
                "(devel)",
                "pkg:golang/example.com/berth/hello@(devel)",
            ),
            (
                "github.com/acme/lib/v2",
                "v2.3.0",
                "pkg:golang/github.com/acme/lib@v2.3.0#v2",
            ),
            ("./dep", "(devel)", "pkg:golang/./dep@(devel)"),
            (
                "github.com/Azure/go-ansiterm",
                "v0.0.0-20230124172434-306776ec8161+incompatible",
                "pkg:golang/github.com/Azure/go-ansiterm@v0.0.0-20230124172434-306776ec8161%2Bincompatible",
            ),
        ] {
            assert_eq!(of_go_module(path, version), purl);
        }
        assert_eq!(
            purl(PackageType::RustCrate, "", "itoa", "1.0.19", &[]).unwrap(),
            "pkg:cargo/itoa@1.0.19"
        );
    }
}
