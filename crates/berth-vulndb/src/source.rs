//! What the database says of each import: where the advisories came from, when, and how old
//! they are.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One import: a named set of advisories, replaced whole when imported again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The name it was imported under (a path, a feed's name).
    pub name: String,
    /// The formats its files were in.
    #[serde(default)]
    pub formats: Vec<Format>,
    /// When it was imported, in seconds since the Unix epoch.
    pub imported: u64,
    /// The feed's own date, in seconds since the Unix epoch, where it has one: the newest
    /// `modified` of its OSV records, or the `Last-Modified` its server sent, whichever is
    /// later.
    #[serde(default)]
    pub modified: Option<u64>,
    pub advisories: usize,
    /// OSV records marked withdrawn, skipped.
    pub withdrawn: usize,
    /// Distribution verdicts with nothing to report (not affected, undetermined, Alpine's
    /// "never affected"), skipped.
    pub not_reported: usize,
    /// Where `berth db update` downloads it from, when it came from there.
    #[serde(default)]
    pub origin: Option<Origin>,
}

/// A format of advisory file berth imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// OSV records, one per file (JSON or YAML), loose or in a zip.
    Osv,
    /// The Debian security tracker's JSON feed.
    DebianTracker,
    /// An Alpine secdb file.
    AlpineSecdb,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Osv => "osv",
            Format::DebianTracker => "debian-tracker",
            Format::AlpineSecdb => "alpine-secdb",
        }
    }
}

/// The URL a source is downloaded from, and the validators its server sent with the copy the
/// database holds, so that the next update asks for it only if it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub url: String,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub last_modified: Option<String>,
}

impl Source {
    /// How old the advisories are at `now`: since the feed's own date where it has one, else
    /// since the import. An update that finds the server's copy unchanged leaves it as it
    /// is: the advisories are no newer for having been asked about.
    pub fn age(&self, now: SystemTime) -> Duration {
        let as_of = UNIX_EPOCH + Duration::from_secs(self.modified.unwrap_or(self.imported));
        now.duration_since(as_of).unwrap_or_default()
    }
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
