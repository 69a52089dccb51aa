//! NuGet package versions, ordered as NuGet's `NuGetVersion` orders them.
//!
//! `Major[.Minor[.Patch[.Revision]]][-Release][+Metadata]`: up to four numbers (missing ones
//! are 0, leading zeros allowed: `1.0.01 = 1.0.1.0`), then SemVer 2.0's pre-release order with
//! labels compared without regard to case (`1.0.0-BETA = 1.0.0-beta`); metadata never counts.

use crate::numeric::{Number, digits_len};
use crate::semver::{Identifier, cmp_prerelease, parse_prerelease};
use crate::{Ecosystem, ParseError};
use std::cmp::Ordering;
use std::str::FromStr;

/// A parsed NuGet version.
#[derive(Debug, Clone)]
pub struct Version {
    numbers: [Number; 4],
    /// Lowercased: labels compare without regard to case.
    release: Vec<Identifier>,
}

impl FromStr for Version {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        parse(text).map_err(|reason| ParseError::new(Ecosystem::NuGet, text, reason))
    }
}

fn parse(text: &str) -> Result<Version, String> {
    let (rest, metadata) = match text.split_once('+') {
        Some((rest, metadata)) => (rest, Some(metadata)),
        None => (text, None),
    };
    let (core, release) = match rest.split_once('-') {
        Some((core, release)) => (core, Some(release)),
        None => (rest, None),
    };
    let mut numbers: [Number; 4] = Default::default();
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 4 {
        return Err("more than four numbers".into());
    }
    for (slot, part) in numbers.iter_mut().zip(&parts) {
        if part.is_empty() || digits_len(part.as_bytes()) != part.len() {
            return Err(format!("{part:?} is not a number"));
        }
        *slot = Number::from_digits(part);
    }
    let release = match release {
        Some(release) => parse_prerelease(&release.to_ascii_lowercase())
            .map_err(|e| format!("in the release label: {e}"))?,
        None => Vec::new(),
    };
    if let Some(metadata) = metadata {
        parse_prerelease(metadata).map_err(|e| format!("in the metadata: {e}"))?;
    }
    Ok(Version { numbers, release })
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers
            .cmp(&other.numbers)
            .then_with(|| cmp_prerelease(&self.release, &other.release))
    }
}

order_from_ord!(Version);
