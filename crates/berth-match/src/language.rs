//! Where a language package's advisories are filed: the OSV ecosystem of its package type and
//! its name as that ecosystem writes it. PyPI's names are normalised (PEP 503) by the
//! database's lookup; npm's scoped names (`@scope/name`), Go's module paths and crates' names
//! are kept as they are; a Maven artifact is `group:artifact`; the Go standard library is
//! `stdlib` at the Go version read as SemVer, as the Go vulnerability database writes it.

use std::str::FromStr;

use berth_catalog::{Package, PackageType};
use packageurl::PackageUrl;

/// The advisories a package is looked up by: ecosystems, name and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The database ecosystems consulted, in order (`PyPI`; `Debian:bookworm`, `Debian:12`).
    pub ecosystems: Vec<String>,
    pub name: String,
    pub version: String,
}

/// The OSV ecosystem of a language package type; `None` for the distributions' types.
pub fn ecosystem(kind: PackageType) -> Option<&'static str> {
    Some(match kind {
        PackageType::Python => "PyPI",
        PackageType::Npm => "npm",
        PackageType::JavaArchive => "Maven",
        PackageType::GoModule => "Go",
        PackageType::RustCrate => "crates.io",
        PackageType::Deb | PackageType::Apk | PackageType::Rpm => return None,
    })
}

/// What a language package is looked up by, or `None` when it cannot be matched: no version
/// (a Java archive that names none), a Go main module built from a checkout (`(devel)`), a
/// Java archive without a Maven group (OSV names Maven packages `group:artifact`), a Go
/// toolchain that is not a release (`devel go1.23-…`).
pub(crate) fn lookup(package: &Package) -> Option<Lookup> {
    let ecosystem = ecosystem(package.package_type)?;
    let version = package.version.trim();
    if version.is_empty() || version == "(devel)" {
        return None;
    }
    let (name, version) = match package.package_type {
        PackageType::JavaArchive => (maven_name(package)?, version.to_owned()),
        PackageType::GoModule if package.name == "stdlib" => {
            ("stdlib".to_owned(), go_release_semver(version)?)
        }
        _ => (package.name.clone(), version.to_owned()),
    };
    Some(Lookup {
        ecosystems: vec![ecosystem.to_owned()],
        name,
        version,
    })
}

/// `group:artifact`, the group being the namespace of the package's purl.
fn maven_name(package: &Package) -> Option<String> {
    let purl = PackageUrl::from_str(package.purl.as_deref()?).ok()?;
    let group = purl.namespace().filter(|g| !g.is_empty())?;
    Some(format!("{group}:{}", package.name))
}

/// A Go release tag as SemVer, as the Go vulnerability database writes the standard library's
/// versions: `go1.21` is `1.21.0`, `go1.21.4` is `1.21.4`, `go1.22rc1` is `1.22.0-rc.1`,
/// `go1.19beta2` is `1.19.0-beta.2`. Anything else (a development toolchain) is `None`.
pub(crate) fn go_release_semver(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix("go")?;
    let (numbers, pre) = match rest.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let mut parts: Vec<&str> = numbers.split('.').collect();
    if parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    parts.resize(3, "0");
    let mut out = parts.join(".");
    if !pre.is_empty() {
        let (word, n) = pre.split_at(pre.find(|c: char| c.is_ascii_digit())?);
        if !matches!(word, "rc" | "beta" | "alpha") || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out.push_str(&format!("-{word}.{n}"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_tags_read_as_the_go_vulnerability_database_writes_them() {
        for (tag, semver) in [
            ("go1.21", Some("1.21.0")),
            ("go1.21.4", Some("1.21.4")),
            ("go1.22rc1", Some("1.22.0-rc.1")),
            ("go1.19beta2", Some("1.19.0-beta.2")),
            ("go1", Some("1.0.0")),
            ("devel", None),
            ("go1.x", None),
            ("1.21.4", None),
            ("go1.21.4.1.2", None),
        ] {
            assert_eq!(go_release_semver(tag).as_deref(), semver, "{tag}");
        }
    }
}
