//! `.trivyignore`: the findings a team has decided to accept, one id a line, each until an
//! optional expiry date (`CVE-2024-1234 exp:2025-06-30`); `#` starts a comment.

use std::path::Path;

use anyhow::{Context as _, bail};
use chrono::NaiveDate;

/// One accepted id, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub expires: Option<NaiveDate>,
    /// The line it is on, for messages.
    pub line: usize,
}

/// The entries of an ignore file that still hold on `today`.
#[derive(Debug, Default)]
pub struct Ignores {
    ids: Vec<String>,
}

impl Ignores {
    /// Reads `path`'s entries. A missing file is no entries when it is the default one
    /// (`explicit` false), and an error when the user named it. An expired entry suppresses
    /// nothing: each is reported through `warn`, naming the file and line.
    pub fn read(
        path: &Path,
        explicit: bool,
        today: NaiveDate,
        warn: &mut dyn FnMut(String),
    ) -> anyhow::Result<Ignores> {
        let text = match std::fs::read_to_string(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Ignores::default());
            }
            read => read.with_context(|| format!("reading the ignore file {}", path.display()))?,
        };
        let mut ids = Vec::new();
        for entry in parse(&text).map_err(|e| anyhow::anyhow!("{}:{e}", path.display()))? {
            match entry.expires {
                // Trivy's reading: an entry expires at the start of its day (UTC).
                Some(date) if today >= date => warn(format!(
                    "{}:{}: {} expired on {date}; it no longer suppresses anything",
                    path.display(),
                    entry.line,
                    entry.id
                )),
                _ => ids.push(entry.id),
            }
        }
        Ok(Ignores { ids })
    }

    /// Whether a finding with `id` (or any of `aliases`) is accepted.
    pub fn accepts(&self, id: &str, aliases: &[String]) -> bool {
        self.ids
            .iter()
            .any(|i| i == id || aliases.iter().any(|a| a == i))
    }
}

/// The entries of an ignore file's text; an error names the line (`N: why`).
pub fn parse(text: &str) -> anyhow::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split_once('#').map_or(raw, |(before, _)| before).trim();
        let mut words = line.split_whitespace();
        let Some(id) = words.next() else { continue };
        let mut expires = None;
        for word in words {
            let Some(date) = word.strip_prefix("exp:") else {
                bail!(
                    "{}: {word:?} is neither an id nor exp:YYYY-MM-DD; write one id a line, optionally followed by exp:YYYY-MM-DD",
                    n + 1
                );
            };
            expires = Some(
                NaiveDate::parse_from_str(date, "%Y-%m-%d").with_context(|| {
                    format!("{}: exp:{date} is not a date (write exp:YYYY-MM-DD)", n + 1)
                })?,
            );
        }
        out.push(Entry {
            id: id.to_string(),
            expires,
            line: n + 1,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_comments_and_expiry() {
        let entries =
            parse("# accepted\nCVE-1\n\n  CVE-2 exp:2030-01-31 # until the base moves\n").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].id, "CVE-1");
        assert_eq!(entries[1].expires, NaiveDate::from_ymd_opt(2030, 1, 31));
        assert_eq!(entries[1].line, 4);
        let err = parse("CVE-1\nCVE-2 exp:tomorrow\n").unwrap_err();
        assert!(format!("{err:#}").starts_with("2: exp:tomorrow"), "{err:#}");
        assert!(parse("CVE-1 CVE-2\n").is_err());
    }
}
