//! SemVer 2.0 precedence, for npm, crates.io, Go modules and OSV's `SEMVER` ranges.
//!
//! `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`: the three numbers compare as numbers; a version
//! with a pre-release is older than the same version without; pre-release identifiers compare
//! one by one, numbers as numbers, others as ASCII strings, numbers before others, and a
//! shorter list of equal identifiers first. Build metadata never counts (`1.0.0+a = 1.0.0+b`).
//!
//! Go's versions are SemVer with a `v` in front; `+incompatible` is build metadata and a
//! pseudo-version (`v0.0.0-20191109021931-daa7c04131f5`) a pre-release, so both order right
//! with no rule of their own.
//!
//! Parsing is as lenient as the versions found in advisories need, and no more: a `v` prefix is
//! optional (Go writes it, OSV's Go data does not), minor and patch may be missing (`1` is
//! `1.0.0`, as `0` means "from the start" in OSV ranges), leading zeros are read as numbers, and
//! numbers past the third (`1.2.3.4`) are read as build metadata. Anything else, such as an
//! empty identifier or a character outside `[0-9A-Za-z-]`, is an error.

use crate::numeric::{Number, digits_len};
use crate::{Ecosystem, ParseError};
use std::cmp::Ordering;

/// A parsed SemVer (or Go) version.
#[derive(Debug, Clone)]
pub struct Version {
    major: Number,
    minor: Number,
    patch: Number,
    pre: Vec<Identifier>,
}

/// One dot-separated identifier of a pre-release.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Identifier {
    // Declared first: numeric identifiers sort before alphanumeric ones.
    Numeric(Number),
    Alphanumeric(Box<str>),
}

impl Identifier {
    /// Reads one identifier: non-empty, `[0-9A-Za-z-]` only.
    pub(crate) fn parse(text: &str) -> Result<Identifier, String> {
        if text.is_empty() {
            return Err("an identifier between dots is empty".into());
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
        {
            return Err(format!(
                "{bad:?} is not allowed in an identifier (only [0-9A-Za-z-])"
            ));
        }
        Ok(if text.bytes().all(|b| b.is_ascii_digit()) {
            Identifier::Numeric(Number::from_digits(text))
        } else {
            Identifier::Alphanumeric(text.into())
        })
    }
}

/// SemVer's pre-release order: none sorts after any; otherwise identifier by identifier.
pub(crate) fn cmp_prerelease(a: &[Identifier], b: &[Identifier]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.cmp(b),
    }
}

/// Parses dot-separated pre-release identifiers.
pub(crate) fn parse_prerelease(text: &str) -> Result<Vec<Identifier>, String> {
    text.split('.').map(Identifier::parse).collect()
}

impl Version {
    /// Parses `text` as a version of `ecosystem` (SemVer or Go), which errors name.
    pub fn parse_as(ecosystem: Ecosystem, text: &str) -> Result<Version, ParseError> {
        parse(text).map_err(|reason| ParseError::new(ecosystem, text, reason))
    }

    /// Major, minor and patch.
    pub fn numbers(&self) -> [&Number; 3] {
        [&self.major, &self.minor, &self.patch]
    }

    /// Whether the version has a pre-release part (Go's pseudo-versions do).
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }
}

fn parse(text: &str) -> Result<Version, String> {
    let s = text.strip_prefix('v').unwrap_or(text);
    let mut numbers = Vec::with_capacity(3);
    let mut rest = s;
    loop {
        let n = digits_len(rest.as_bytes());
        if n == 0 {
            return Err(if numbers.is_empty() {
                "it does not start with a number".into()
            } else {
                "a '.' is not followed by a number".into()
            });
        }
        numbers.push(Number::from_digits(&rest[..n]));
        rest = &rest[n..];
        match rest.strip_prefix('.') {
            Some(after) if numbers.len() < 3 => rest = after,
            _ => break,
        }
    }
    let (rest, build) = match rest.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (rest, None),
    };
    let pre = if let Some(pre) = rest.strip_prefix('-') {
        parse_prerelease(pre).map_err(|e| format!("in the pre-release: {e}"))?
    } else if let Some(extra) = rest.strip_prefix('.') {
        // Numbers past the third: build metadata, as OSV's tools read them.
        parse_prerelease(extra).map_err(|e| format!("after the third number: {e}"))?;
        Vec::new()
    } else if rest.is_empty() {
        Vec::new()
    } else {
        return Err(format!(
            "{:?} after the numbers is neither a '-' pre-release nor '+' build metadata",
            rest.chars().next().unwrap_or_default()
        ));
    };
    if let Some(build) = build {
        parse_prerelease(build).map_err(|e| format!("in the build metadata: {e}"))?;
    }
    let mut numbers = numbers.into_iter();
    let mut next = || numbers.next().unwrap_or_default();
    Ok(Version {
        major: next(),
        minor: next(),
        patch: next(),
        pre,
    })
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers()
            .cmp(&other.numbers())
            .then_with(|| cmp_prerelease(&self.pre, &other.pre))
    }
}

order_from_ord!(Version);

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse_as(Ecosystem::Go, s).unwrap()
    }

    #[test]
    fn go_pseudo_versions_and_incompatible() {
        assert!(v("v0.0.0-20191109021931-daa7c04131f5") < v("v0.0.1"));
        assert!(v("v1.2.4-0.20191109021931-daa7c04131f5") > v("v1.2.3"));
        assert!(v("v1.2.4-0.20191109021931-daa7c04131f5") < v("v1.2.4"));
        assert_eq!(v("v2.0.0+incompatible"), v("2.0.0"));
        assert_eq!(v("0"), v("0.0.0"));
    }

    #[test]
    fn bad_versions_say_what_is_wrong() {
        for (text, why) in [
            ("", "does not start with a number"),
            ("x1", "does not start with a number"),
            ("1.", "'.' is not followed"),
            ("1.0.0-", "identifier between dots is empty"),
            ("1.0.0-a..b", "identifier between dots is empty"),
            ("1.0.0-ä", "not allowed"),
            ("1.0.0_1", "neither"),
        ] {
            let err = Version::parse_as(Ecosystem::SemVer, text).unwrap_err();
            assert!(err.to_string().contains(why), "{text:?}: {err}");
        }
    }
}
