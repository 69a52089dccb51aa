//! OSV records (JSON or YAML) into advisories, as the OSV schema 1.x defines them.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::{Advisory, Affected, Cvss, Event, Range, RangeKind, Severity, Versions};

/// An OSV record, as much of it as matching needs. Lists and objects may be `null` in the
/// wild (RustSec writes `"affected_functions": null`), hence the `Option`s.
#[derive(Deserialize)]
pub(crate) struct Record {
    schema_version: Option<String>,
    id: String,
    modified: Option<String>,
    withdrawn: Option<String>,
    aliases: Option<Vec<String>>,
    summary: Option<String>,
    severity: Option<Vec<RecordSeverity>>,
    affected: Option<Vec<RecordAffected>>,
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RecordSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct RecordAffected {
    package: Option<Package>,
    severity: Option<Vec<RecordSeverity>>,
    ranges: Option<Vec<RecordRange>>,
    versions: Option<Vec<String>>,
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Package {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct RecordRange {
    #[serde(rename = "type")]
    kind: String,
    events: Vec<RecordEvent>,
}

/// An event is an object with one of these keys. Read as a struct rather than as an enum
/// because YAML spells enums as tags, which OSV files do not use.
#[derive(Deserialize)]
struct RecordEvent {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

impl RecordEvent {
    fn event(self) -> std::result::Result<Event, String> {
        match (self.introduced, self.fixed, self.last_affected, self.limit) {
            (Some(v), None, None, None) => Ok(Event::Introduced(v)),
            (None, Some(v), None, None) => Ok(Event::Fixed(v)),
            (None, None, Some(v), None) => Ok(Event::LastAffected(v)),
            (None, None, None, Some(v)) => Ok(Event::Limit(v)),
            _ => Err(
                "a range event has none or several of introduced, fixed, last_affected \
                      and limit; the OSV schema wants exactly one"
                    .to_owned(),
            ),
        }
    }
}

/// What one record gives: an advisory, or the fact that it was withdrawn.
pub(crate) enum Parsed {
    /// The advisory, and when the record was last modified (seconds since the Unix epoch),
    /// where it says so in RFC 3339 as the schema asks.
    Advisory(Advisory, Option<u64>),
    Withdrawn,
}

/// Whether a JSON document is an OSV record: an object with an `id` and the fields every
/// record has.
pub(crate) fn looks_like(value: &serde_json::Value) -> bool {
    value.get("id").is_some_and(|id| id.is_string())
        && ["modified", "affected", "schema_version"]
            .iter()
            .any(|k| value.get(k).is_some())
}

pub(crate) fn from_json(path: &Path, value: serde_json::Value) -> Result<Parsed> {
    let record: Record = serde_json::from_value(value).map_err(|e| Error::Malformed {
        path: path.to_owned(),
        format: "OSV JSON",
        why: e.to_string(),
    })?;
    convert(path, record)
}

pub(crate) fn from_yaml(path: &Path, bytes: &[u8]) -> Result<Parsed> {
    let record: Record = serde_yaml::from_slice(bytes).map_err(|e| Error::Malformed {
        path: path.to_owned(),
        format: "OSV YAML",
        why: e.to_string(),
    })?;
    convert(path, record)
}

fn convert(path: &Path, record: Record) -> Result<Parsed> {
    if let Some(version) = record
        .schema_version
        .filter(|v| v.split('.').next() != Some("1"))
    {
        return Err(Error::OsvSchema {
            path: path.to_owned(),
            version,
        });
    }
    if record.withdrawn.is_some() {
        return Ok(Parsed::Withdrawn);
    }
    let mut affected = Vec::new();
    for entry in record.affected.unwrap_or_default() {
        let entry = self::affected(entry).map_err(|why| Error::Malformed {
            path: path.to_owned(),
            format: "OSV",
            why: format!("{}: {why}", record.id),
        })?;
        affected.extend(entry);
    }
    let modified = record
        .modified
        .and_then(|m| chrono::DateTime::parse_from_rfc3339(&m).ok())
        .and_then(|m| u64::try_from(m.timestamp()).ok());
    Ok(Parsed::Advisory(
        Advisory {
            id: record.id,
            aliases: record.aliases.unwrap_or_default(),
            summary: record.summary.filter(|s| !s.is_empty()),
            severity: severity(record.severity, record.database_specific.as_ref()),
            affected,
        },
        modified,
    ))
}

/// One `affected[]` entry; `None` for one without a package (a `GIT`-only entry names a
/// repository, not something installed).
fn affected(entry: RecordAffected) -> std::result::Result<Option<Affected>, String> {
    let Some(package) = entry.package else {
        return Ok(None);
    };
    let mut ranges = Vec::new();
    for range in entry.ranges.unwrap_or_default() {
        let kind = match range.kind.as_str() {
            "SEMVER" => RangeKind::SemVer,
            "ECOSYSTEM" => RangeKind::Ecosystem,
            _ => continue,
        };
        let events = range
            .events
            .into_iter()
            .map(RecordEvent::event)
            .collect::<std::result::Result<_, _>>()?;
        ranges.push(Range { kind, events });
    }
    Ok(Some(Affected {
        ecosystem: package.ecosystem,
        name: package.name,
        severity: severity(entry.severity, entry.database_specific.as_ref()),
        versions: Versions::Osv {
            ranges,
            listed: entry.versions.unwrap_or_default(),
        },
    }))
}

/// The record's CVSS vectors, scored by the `cvss` crate where it reads them (kept unscored
/// otherwise), and a rating word: `database_specific.severity` (GitHub's), or a score that
/// is a word (OSV's `Ubuntu` type).
fn severity(scores: Option<Vec<RecordSeverity>>, specific: Option<&serde_json::Value>) -> Severity {
    let mut out = Severity {
        rating: specific
            .and_then(|s| s.get("severity"))
            .and_then(|s| s.as_str())
            .map(str::to_owned),
        ..Severity::default()
    };
    for s in scores.unwrap_or_default() {
        if s.kind.starts_with("CVSS_") {
            let score = s.score.parse::<cvss::Cvss>().ok().map(|c| c.score());
            out.cvss.push(Cvss {
                vector: s.score,
                score,
            });
        } else if out.rating.is_none() {
            out.rating = Some(s.score);
        }
    }
    out
}
