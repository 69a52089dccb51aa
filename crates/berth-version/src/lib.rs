//! Package versions ordered the way each ecosystem orders them.
//!
//! A vulnerability is fixed "in 1:2.3-4" or "from 1.0.0-rc.1": whether an installed version is
//! before or after that depends on whose rules apply. dpkg puts `1.0~rc1` before `1.0`, PEP 440
//! puts `1.0.dev0` before `1.0a0`, Maven treats `1.0` and `1-ga` as one version. This crate holds
//! those rules, one module per ecosystem, each written from the ecosystem's own specification:
//!
//! | [`Ecosystem`] | module | rules |
//! |---|---|---|
//! | `Debian` | [`dpkg`] | deb-version(7): epoch, upstream, revision, `~` |
//! | `Rpm` | [`rpm`] | rpmvercmp: epoch:version-release, `~` and `^` |
//! | `Alpine` | [`apk`] | apk-tools: digits, letter, `_suffix`, `-r` revision |
//! | `PyPI` | [`pep440`] | PEP 440 (and the pre-PEP 440 "legacy" order for the rest) |
//! | `SemVer`, `Go` | [`semver`] | SemVer 2.0 precedence; Go's `v`, `+incompatible`, pseudo-versions |
//! | `Maven` | [`maven`] | Maven's `ComparableVersion` |
//! | `NuGet` | [`nuget`] | NuGet's `NuGetVersion`: four numbers, case-insensitive labels |
//! | `RubyGems` | [`rubygems`] | `Gem::Version` |
//! | `Packagist` | [`packagist`] | PHP's `version_compare`, as Composer uses it |
//!
//! ```
//! use berth_version::{compare, Ecosystem};
//! use std::cmp::Ordering;
//!
//! assert_eq!(compare(Ecosystem::Debian, "1.0~rc1-1", "1.0-1"), Ok(Ordering::Less));
//! assert_eq!(compare(Ecosystem::Maven, "1.0", "1-ga"), Ok(Ordering::Equal));
//! assert!(compare(Ecosystem::Debian, "1:", "1").is_err());
//! ```
//!
//! Parsing never panics; text that is not a version of the ecosystem is a [`ParseError`] naming
//! the text, the ecosystem and what is wrong.

/// `PartialOrd`, `PartialEq` and `Eq` from a type's `Ord`: a version's equality is equality
/// in its order (`1.0 = 1.0.0` in Maven), whatever its text.
macro_rules! order_from_ord {
    ($t:ty) => {
        impl PartialOrd for $t {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == std::cmp::Ordering::Equal
            }
        }

        impl Eq for $t {}
    };
}

pub mod apk;
pub mod dpkg;
pub mod maven;
pub mod nuget;
pub mod packagist;
pub mod pep440;
pub mod rpm;
pub mod rubygems;
pub mod semver;

mod numeric;

pub use numeric::Number;

use std::cmp::Ordering;
use std::fmt;

/// Whose version rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    /// Debian and its derivatives (dpkg).
    Debian,
    /// Red Hat, Fedora, SUSE and the other rpm distributions.
    Rpm,
    /// Alpine Linux (apk).
    Alpine,
    /// Python packages (PEP 440).
    PyPI,
    /// Semantic Versioning 2.0: npm, crates.io, and OSV's `SEMVER` ranges.
    SemVer,
    /// Go modules: SemVer with an optional `v`, `+incompatible` and pseudo-versions.
    Go,
    /// Maven artifacts.
    Maven,
    /// .NET packages.
    NuGet,
    /// Ruby gems.
    RubyGems,
    /// PHP packages (Composer).
    Packagist,
}

impl Ecosystem {
    /// Every ecosystem, in declaration order.
    pub const ALL: [Ecosystem; 10] = [
        Ecosystem::Debian,
        Ecosystem::Rpm,
        Ecosystem::Alpine,
        Ecosystem::PyPI,
        Ecosystem::SemVer,
        Ecosystem::Go,
        Ecosystem::Maven,
        Ecosystem::NuGet,
        Ecosystem::RubyGems,
        Ecosystem::Packagist,
    ];

    /// Whose version rules apply to an OSV `affected[].package.ecosystem` (`Debian:12`,
    /// `Alpine:v3.20`, `Rocky Linux:9`, `crates.io`…); `None` for an ecosystem none of these
    /// orders is right for. The part after the first `:` (a release) does not matter here.
    pub fn for_osv(name: &str) -> Option<Ecosystem> {
        let family = name.split(':').next().unwrap_or(name);
        Some(match family {
            "Debian" | "Ubuntu" => Ecosystem::Debian,
            "Red Hat" | "Rocky Linux" | "AlmaLinux" | "SUSE" | "openSUSE" | "Mageia"
            | "openEuler" => Ecosystem::Rpm,
            "Alpine" | "Wolfi" | "Chainguard" => Ecosystem::Alpine,
            "PyPI" => Ecosystem::PyPI,
            "npm" | "crates.io" | "Hex" => Ecosystem::SemVer,
            "Go" => Ecosystem::Go,
            "Maven" => Ecosystem::Maven,
            "NuGet" => Ecosystem::NuGet,
            "RubyGems" => Ecosystem::RubyGems,
            "Packagist" => Ecosystem::Packagist,
            _ => return None,
        })
    }

    /// The ecosystem's name, as error messages show it.
    pub fn name(self) -> &'static str {
        match self {
            Ecosystem::Debian => "Debian",
            Ecosystem::Rpm => "RPM",
            Ecosystem::Alpine => "Alpine",
            Ecosystem::PyPI => "PyPI",
            Ecosystem::SemVer => "SemVer",
            Ecosystem::Go => "Go",
            Ecosystem::Maven => "Maven",
            Ecosystem::NuGet => "NuGet",
            Ecosystem::RubyGems => "RubyGems",
            Ecosystem::Packagist => "Packagist",
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Text that is not a version of the ecosystem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {ecosystem} version {}: {reason}", shown(.version))]
pub struct ParseError {
    /// Whose rules the text broke.
    pub ecosystem: Ecosystem,
    /// The text, as given.
    pub version: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ParseError {
    pub(crate) fn new(ecosystem: Ecosystem, version: &str, reason: impl Into<String>) -> Self {
        ParseError {
            ecosystem,
            version: version.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The version quoted for a message: escaped, and cut short when it is long, so that hostile
/// input cannot flood a log.
fn shown(version: &str) -> String {
    const MAX: usize = 80;
    let quoted = format!("{version:?}");
    match quoted.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…\" ({} bytes)", &quoted[..cut], version.len()),
        None => quoted,
    }
}

/// A version parsed under one ecosystem's rules.
///
/// Versions of one ecosystem are totally ordered (for Packagist, only without `#` parts: see
/// [`packagist`]); versions of two ecosystems are not comparable (`partial_cmp` is `None`). Equality is equality in the order: `1.0` and `1.0.0` are equal
/// Maven versions, though `to_string` gives back each one's own text.
#[derive(Debug, Clone)]
pub struct Version {
    ecosystem: Ecosystem,
    text: Box<str>,
    parsed: Parsed,
}

#[derive(Debug, Clone)]
enum Parsed {
    Dpkg(dpkg::Version),
    Rpm(rpm::Version),
    Apk(apk::Version),
    Pep440(pep440::Version),
    SemVer(semver::Version),
    Maven(maven::Version),
    NuGet(nuget::Version),
    RubyGems(rubygems::Version),
    Packagist(packagist::Version),
}

impl Version {
    /// The ecosystem whose rules parsed this version.
    pub fn ecosystem(&self) -> Ecosystem {
        self.ecosystem
    }

    /// The text the version was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.partial_cmp(other) == Some(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        if self.ecosystem != other.ecosystem {
            return None;
        }
        Some(match (&self.parsed, &other.parsed) {
            (Parsed::Dpkg(a), Parsed::Dpkg(b)) => a.cmp(b),
            (Parsed::Rpm(a), Parsed::Rpm(b)) => a.cmp(b),
            (Parsed::Apk(a), Parsed::Apk(b)) => a.cmp(b),
            (Parsed::Pep440(a), Parsed::Pep440(b)) => a.cmp(b),
            (Parsed::SemVer(a), Parsed::SemVer(b)) => a.cmp(b),
            (Parsed::Maven(a), Parsed::Maven(b)) => a.cmp(b),
            (Parsed::NuGet(a), Parsed::NuGet(b)) => a.cmp(b),
            (Parsed::RubyGems(a), Parsed::RubyGems(b)) => a.cmp(b),
            (Parsed::Packagist(a), Parsed::Packagist(b)) => a.cmp(b),
            // One ecosystem always parses into one kind.
            _ => return None,
        })
    }
}

/// The longest text taken for a version, in bytes. Real versions stay far below (Go's
/// pseudo-versions, among the longest, have about 40); the bound keeps the work, and Maven's
/// nesting, small on hostile input.
pub const MAX_LEN: usize = 1024;

/// Refuses text longer than [`MAX_LEN`].
pub(crate) fn check_len(ecosystem: Ecosystem, text: &str) -> Result<(), ParseError> {
    if text.len() > MAX_LEN {
        return Err(ParseError::new(
            ecosystem,
            text,
            format!("longer than {MAX_LEN} bytes"),
        ));
    }
    Ok(())
}

/// Parses `text` as a version of `ecosystem`.
pub fn parse(ecosystem: Ecosystem, text: &str) -> Result<Version, ParseError> {
    check_len(ecosystem, text)?;
    let parsed = match ecosystem {
        Ecosystem::Debian => Parsed::Dpkg(text.parse()?),
        Ecosystem::Rpm => Parsed::Rpm(text.parse()?),
        Ecosystem::Alpine => Parsed::Apk(text.parse()?),
        Ecosystem::PyPI => Parsed::Pep440(text.parse()?),
        Ecosystem::SemVer => Parsed::SemVer(semver::Version::parse_as(Ecosystem::SemVer, text)?),
        Ecosystem::Go => Parsed::SemVer(semver::Version::parse_as(Ecosystem::Go, text)?),
        Ecosystem::Maven => Parsed::Maven(text.parse()?),
        Ecosystem::NuGet => Parsed::NuGet(text.parse()?),
        Ecosystem::RubyGems => Parsed::RubyGems(text.parse()?),
        Ecosystem::Packagist => Parsed::Packagist(text.parse()?),
    };
    Ok(Version {
        ecosystem,
        text: text.into(),
        parsed,
    })
}

/// Orders two versions of one ecosystem; an error names the first of them that does not parse.
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Result<Ordering, ParseError> {
    let a = parse(ecosystem, a)?;
    let b = parse(ecosystem, b)?;
    Ok(a.partial_cmp(&b).expect("one ecosystem"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osv_ecosystems_name_their_order() {
        assert_eq!(Ecosystem::for_osv("Debian:12"), Some(Ecosystem::Debian));
        assert_eq!(
            Ecosystem::for_osv("Ubuntu:22.04:LTS"),
            Some(Ecosystem::Debian)
        );
        assert_eq!(Ecosystem::for_osv("Rocky Linux:9"), Some(Ecosystem::Rpm));
        assert_eq!(Ecosystem::for_osv("Alpine:v3.20"), Some(Ecosystem::Alpine));
        assert_eq!(Ecosystem::for_osv("crates.io"), Some(Ecosystem::SemVer));
        assert_eq!(Ecosystem::for_osv("Go"), Some(Ecosystem::Go));
        assert_eq!(Ecosystem::for_osv("GitHub Actions"), None);
        assert_eq!(Ecosystem::for_osv(""), None);
    }
}
