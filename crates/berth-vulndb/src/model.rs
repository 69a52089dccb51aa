//! What the database holds: advisories, the packages they affect, and how severe they are.

use serde::{Deserialize, Serialize};

/// One advisory: an OSV record, or one CVE of the Debian security tracker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// `GHSA-…`, `RUSTSEC-…`, `CVE-…`.
    pub id: String,
    /// Other ids of the same flaw (`CVE-…` for a `GHSA-…`): a matcher merges findings that
    /// share one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Severity::is_empty")]
    pub severity: Severity,
    pub affected: Vec<Affected>,
}

/// The packages of one ecosystem an advisory affects, and which of their versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// The OSV ecosystem (`PyPI`, `crates.io`, `Go`, `Debian:12`); for the Debian tracker,
    /// `Debian:` and the release's codename (`Debian:bookworm`).
    pub ecosystem: String,
    /// The package name; for distributions, the *source* package.
    pub name: String,
    /// Severity for this package alone (the tracker's urgency for the release), when the
    /// source gives one.
    #[serde(default, skip_serializing_if = "Severity::is_empty")]
    pub severity: Severity,
    pub versions: Versions,
}

/// Which versions are affected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Versions {
    /// OSV: the versions inside any range, and those listed.
    Osv {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ranges: Vec<Range>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        listed: Vec<String>,
    },
    /// A distribution's verdict for one release (the Debian tracker).
    Distro(DistroState),
}

/// An OSV range whose events are versions (`SEMVER` or `ECOSYSTEM`; `GIT` ranges name
/// commits, which an installed package does not carry, and are not kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub kind: RangeKind,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangeKind {
    /// Versions ordered by Semantic Versioning 2.0.
    #[serde(rename = "SEMVER")]
    SemVer,
    /// Versions ordered by the ecosystem's own rules.
    #[serde(rename = "ECOSYSTEM")]
    Ecosystem,
}

/// An OSV range event, as the OSV schema spells it (`{"introduced": "1.0"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

/// What a distribution says of one source package in one release. "Not affected" is not
/// kept: the database holds only what a scan reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistroState {
    /// Fixed in this version: older ones are affected.
    Fixed(String),
    /// Affected, no fix yet (the tracker's `<unfixed>`, and `<no-dsa>`: no advisory planned,
    /// a point release may still fix it).
    Unfixed,
    /// Affected, and the distribution does not intend to fix it (`<ignored>`).
    WillNotFix,
    /// Affected, and the fix is postponed (`<postponed>`).
    FixDeferred,
    /// Affected, and the release is no longer supported for this package (`<end-of-life>`).
    EndOfLife,
}

/// How severe a flaw is, as the source says: CVSS vectors (scored when the vector reads) and
/// the source's own rating word.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Severity {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cvss: Vec<Cvss>,
    /// The source's word: Debian's urgency (`medium`, `unimportant`, `not yet assigned`),
    /// GitHub's `MODERATE`, Ubuntu's priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<String>,
}

/// A CVSS vector as published, with its base score when the `cvss` crate reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    pub vector: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// A severity level, Trivy's scale: what `--severity` filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Unknown => "UNKNOWN",
            Level::Low => "LOW",
            Level::Medium => "MEDIUM",
            Level::High => "HIGH",
            Level::Critical => "CRITICAL",
        }
    }

    /// The level a CVSS base score falls in (the v3 and v4 rating scale; a score of 0.0 is
    /// "None", which has no level).
    pub fn from_score(score: f64) -> Level {
        match score {
            s if s >= 9.0 => Level::Critical,
            s if s >= 7.0 => Level::High,
            s if s >= 4.0 => Level::Medium,
            s if s > 0.0 => Level::Low,
            _ => Level::Unknown,
        }
    }

    /// The level a rating word names, if it names one. Words that are not a level
    /// (`unimportant`, `not yet assigned`, `end-of-life`) give `None`: guessing would
    /// misstate the source. GitHub's `MODERATE` is its name for medium; the Debian tracker
    /// marks an urgency not yet confirmed by its team with `**` (`high**`), which is still
    /// its rating.
    pub fn from_rating(word: &str) -> Option<Level> {
        match word
            .trim()
            .trim_end_matches('*')
            .to_ascii_lowercase()
            .as_str()
        {
            "low" => Some(Level::Low),
            "medium" | "moderate" => Some(Level::Medium),
            "high" => Some(Level::High),
            "critical" => Some(Level::Critical),
            _ => None,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Severity {
    pub fn is_empty(&self) -> bool {
        self.cvss.is_empty() && self.rating.is_none()
    }

    /// The level: from the newest scored CVSS vector where there is one (computed, not
    /// guessed), else from the source's rating, else `Unknown`.
    pub fn level(&self) -> Level {
        let scored = self
            .cvss
            .iter()
            .filter_map(|c| Some((cvss_version(&c.vector), c.score?)));
        if let Some((_, score)) = scored.max_by(|a, b| a.0.total_cmp(&b.0)) {
            return Level::from_score(score);
        }
        self.rating
            .as_deref()
            .and_then(Level::from_rating)
            .unwrap_or(Level::Unknown)
    }
}

/// `CVSS:3.1/…` → 3.1; a v2 vector has no prefix.
fn cvss_version(vector: &str) -> f64 {
    vector
        .strip_prefix("CVSS:")
        .and_then(|rest| rest.split('/').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0)
}
