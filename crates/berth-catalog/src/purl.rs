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

/// The purl `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS`; qualifiers with an empty value are
/// left out.
pub fn purl(
    package_type: PackageType,
    namespace: &str,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> Result<String, String> {
    let bad = |e: packageurl::Error| format!("no package URL for {name} {version}: {e}");
    let mut purl = PackageUrl::new(package_type.as_str(), name).map_err(bad)?;
    purl.with_namespace(namespace)
        .map_err(bad)?
        .with_version(version)
        .map_err(bad)?;
    for (key, value) in qualifiers {
        if !value.is_empty() {
            purl.add_qualifier(*key, *value).map_err(bad)?;
        }
    }
    Ok(purl.to_string())
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
}
