//! The Debian security tracker's JSON feed into advisories: source package → issue (`CVE-…`,
//! `TEMP-…`) → release → status.
//!
//! The feed spells the tracker's verdicts this way, and they are kept as the tracker means
//! them:
//!
//! | feed | tracker | kept as |
//! |---|---|---|
//! | `resolved`, `fixed_version` `V` | fixed in `V` | [`DistroState::Fixed`] |
//! | `resolved`, `fixed_version` `0` | `<not-affected>` | not kept |
//! | `open`, urgency `end-of-life` | `<end-of-life>` | [`DistroState::EndOfLife`] |
//! | `open`, no `nodsa` | `<unfixed>` | [`DistroState::Unfixed`] |
//! | `open`, `nodsa`, no `nodsa_reason` | `<no-dsa>` | [`DistroState::Unfixed`] |
//! | `open`, `nodsa_reason` `postponed` | `<postponed>` | [`DistroState::FixDeferred`] |
//! | `open`, `nodsa_reason` `ignored` | `<ignored>` | [`DistroState::WillNotFix`] |
//!
//! `<no-dsa>` is "no security advisory", not "no fix": such flaws are often fixed in a point
//! release, so they stay plainly unfixed, as Trivy reports them (`affected`).
//! | `undetermined` | not yet triaged | not kept (Trivy does not report it either) |
//!
//! Any other status is an error naming the package, issue and release: guessing could hide a
//! vulnerability.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::{Advisory, Affected, DistroState, Severity, Versions};

type Feed = BTreeMap<String, BTreeMap<String, Issue>>;

#[derive(Deserialize)]
struct Issue {
    description: Option<String>,
    #[serde(default, deserialize_with = "releases")]
    releases: BTreeMap<String, Release>,
}

/// The feed writes an issue without releases as `[]` (an empty array, not an object).
fn releases<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<BTreeMap<String, Release>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Releases {
        Map(BTreeMap<String, Release>),
        Empty([(); 0]),
    }
    Ok(match Releases::deserialize(deserializer)? {
        Releases::Map(map) => map,
        Releases::Empty(_) => BTreeMap::new(),
    })
}

#[derive(Deserialize)]
struct Release {
    status: String,
    fixed_version: Option<String>,
    urgency: Option<String>,
    nodsa: Option<String>,
    nodsa_reason: Option<String>,
}

/// Whether a JSON document is the tracker's feed: an object of source packages, each an
/// object of issues, the first of which has `releases`.
pub(crate) fn looks_like(value: &serde_json::Value) -> bool {
    let first_issue = value
        .as_object()
        .and_then(|packages| packages.values().next())
        .and_then(|issues| issues.as_object())
        .and_then(|issues| issues.values().next());
    first_issue.is_some_and(|issue| {
        issue
            .get("releases")
            .is_some_and(|r| r.is_object() || r.as_array().is_some_and(|a| a.is_empty()))
    })
}

/// What the feed gives: one advisory per issue (its affected entries one per source package
/// and release), and how many verdicts were dropped as not affected or undetermined.
pub(crate) fn parse(path: &Path, value: serde_json::Value) -> Result<(Vec<Advisory>, usize)> {
    let feed: Feed = serde_json::from_value(value).map_err(|e| Error::Malformed {
        path: path.to_owned(),
        format: "Debian security tracker JSON",
        why: e.to_string(),
    })?;
    let mut advisories: BTreeMap<String, Advisory> = BTreeMap::new();
    let mut dropped = 0;
    for (package, issues) in feed {
        for (id, issue) in issues {
            for (release, verdict) in issue.releases {
                let Some(state) = state(&verdict).map_err(|why| Error::Malformed {
                    path: path.to_owned(),
                    format: "Debian security tracker JSON",
                    why: format!("{package} {id} {release}: {why}"),
                })?
                else {
                    dropped += 1;
                    continue;
                };
                let advisory = advisories.entry(id.clone()).or_insert_with(|| Advisory {
                    id: id.clone(),
                    aliases: Vec::new(),
                    summary: issue.description.clone().filter(|d| !d.is_empty()),
                    severity: Severity::default(),
                    affected: Vec::new(),
                });
                advisory.affected.push(Affected {
                    ecosystem: format!("Debian:{release}"),
                    name: package.clone(),
                    severity: Severity {
                        cvss: Vec::new(),
                        rating: verdict.urgency.clone(),
                    },
                    versions: Versions::Distro(state),
                });
            }
        }
    }
    Ok((advisories.into_values().collect(), dropped))
}

/// The verdict for one release: `None` when there is nothing to report.
fn state(release: &Release) -> std::result::Result<Option<DistroState>, String> {
    Ok(match release.status.as_str() {
        "resolved" => match release.fixed_version.as_deref() {
            Some("0") => None,
            Some(version) => Some(DistroState::Fixed(version.to_owned())),
            None => return Err("status \"resolved\" without a fixed_version".to_owned()),
        },
        // `nodsa` is present (its text a note, maybe empty) exactly when the tracker says
        // `<no-dsa>`; `nodsa_reason` then says `postponed`, `ignored` or nothing.
        "open" => match (
            &release.nodsa,
            release.nodsa_reason.as_deref().unwrap_or(""),
        ) {
            // The release no longer gets fixes for this package.
            _ if release.urgency.as_deref() == Some("end-of-life") => Some(DistroState::EndOfLife),
            (_, "postponed") => Some(DistroState::FixDeferred),
            (_, "ignored") => Some(DistroState::WillNotFix),
            // `<no-dsa>` without a reason, or plain `<unfixed>`.
            _ => Some(DistroState::Unfixed),
        },
        "undetermined" => None,
        other => {
            return Err(format!(
                "unknown status {other:?} (berth reads resolved, open and undetermined)"
            ));
        }
    })
}
