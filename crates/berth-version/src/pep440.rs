//! Python package versions, ordered by PEP 440 (as the `packaging` library orders them).
//!
//! `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, read with PEP 440's normalisation: case does
//! not matter, a `v` may lead, `alpha`/`beta`/`c`/`pre`/`preview` spell `a`/`b`/`rc`,
//! `rev`/`r` spell `post`, `1.0-1` is `1.0.post1`, separators `-`, `_`, `.` are optional
//! around labels and a missing number is 0. Order: epoch, then the release with trailing
//! zeros ignored (`1.0 = 1.0.0`), then dev releases of a version before its pre-releases, those
//! before the release, before its post-releases; a local version after the same public one,
//! its segments numbers after strings.
//!
//! Text that is not PEP 440 is read the way `packaging` read it before version 22 (its
//! `LegacyVersion`, as setuptools did): such versions sort before every PEP 440 version,
//! among themselves by their parts. Old releases on PyPI and the advisories about them still
//! carry such versions (`0.9-doduo`). Only empty or blank text is an error.

use crate::numeric::{Number, digits_len};
use crate::{Ecosystem, ParseError};
use std::str::FromStr;

/// A parsed Python version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    // Declared first: every legacy version sorts before every PEP 440 version.
    /// Not PEP 440: the parts `packaging`'s `LegacyVersion` compared.
    Legacy(Vec<String>),
    /// A PEP 440 version, as its sort key.
    Pep440(Key),
}

/// A PEP 440 version as `packaging` sorts it: the fields compare in order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    epoch: Number,
    /// Trailing zeros removed.
    release: Vec<Number>,
    pre: Pre,
    /// `None` (no post-release) sorts first.
    post: Option<Number>,
    dev: Dev,
    /// `None` (no local part) sorts first.
    local: Option<Vec<LocalSegment>>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Pre {
    /// A dev release with neither pre- nor post-release: before every pre-release.
    DevOnly,
    /// `a`, `b` or `rc`, and its number.
    Labelled(PreLabel, Number),
    Final,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PreLabel {
    Alpha,
    Beta,
    Candidate,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Dev {
    Dev(Number),
    /// No dev part: after every dev release.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LocalSegment {
    // Strings before numbers.
    Text(String),
    Number(Number),
}

impl Version {
    /// Whether the text was PEP 440 (not a legacy version).
    pub fn is_pep440(&self) -> bool {
        matches!(self, Version::Pep440(_))
    }
}

impl FromStr for Version {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        if text.trim().is_empty() {
            return Err(ParseError::new(
                Ecosystem::PyPI,
                text,
                "the version is empty",
            ));
        }
        Ok(match pep440(text) {
            Some(key) => Version::Pep440(key),
            None => Version::Legacy(legacy_parts(text)),
        })
    }
}

/// A cursor over the lowercased text.
struct Cursor<'a> {
    s: &'a str,
}

impl<'a> Cursor<'a> {
    fn eat(&mut self, prefix: &str) -> bool {
        match self.s.strip_prefix(prefix) {
            Some(rest) => {
                self.s = rest;
                true
            }
            None => false,
        }
    }

    fn peek_separator(&self) -> bool {
        self.s.starts_with(['-', '_', '.'])
    }

    fn number(&mut self) -> Option<Number> {
        let n = digits_len(self.s.as_bytes());
        if n == 0 {
            return None;
        }
        let (digits, rest) = self.s.split_at(n);
        self.s = rest;
        Some(Number::from_digits(digits))
    }

    /// `[-_.]?LABEL` for the first of `labels` (longest first) that is there.
    fn label(&mut self, labels: &[&'static str]) -> Option<&'static str> {
        let after_separator = if self.peek_separator() {
            &self.s[1..]
        } else {
            self.s
        };
        for label in labels {
            if let Some(rest) = after_separator.strip_prefix(label) {
                self.s = rest;
                return Some(label);
            }
        }
        None
    }

    /// `[-_.]?N?` after a label: the number, 0 when absent. The separator is taken even
    /// with no number after it (`1.0a-` is `1.0a0`): nothing that may follow needs it.
    fn label_number(&mut self) -> Number {
        if self.peek_separator() {
            self.s = &self.s[1..];
        }
        self.number().unwrap_or_default()
    }
}

/// Reads PEP 440's grammar; `None` when the text does not follow it.
fn pep440(text: &str) -> Option<Key> {
    let lower = text.trim().to_ascii_lowercase();
    let mut c = Cursor { s: &lower };
    c.eat("v");

    let mut epoch = Number::default();
    let mut release = vec![c.number()?];
    if c.eat("!") {
        epoch = release.pop().unwrap_or_default();
        release.push(c.number()?);
    }
    while c.s.starts_with('.') && c.s[1..].starts_with(|ch: char| ch.is_ascii_digit()) {
        c.eat(".");
        release.push(c.number()?);
    }
    while release.last().is_some_and(Number::is_zero) {
        release.pop();
    }

    let pre = c
        .label(&["alpha", "beta", "preview", "pre", "rc", "a", "b", "c"])
        .map(|label| {
            let label = match label {
                "alpha" | "a" => PreLabel::Alpha,
                "beta" | "b" => PreLabel::Beta,
                _ => PreLabel::Candidate,
            };
            (label, c.label_number())
        });

    let post = if c.s.starts_with('-') && c.s[1..].starts_with(|ch: char| ch.is_ascii_digit()) {
        c.eat("-");
        c.number()
    } else {
        c.label(&["post", "rev", "r"]).map(|_| c.label_number())
    };

    let dev = c.label(&["dev"]).map(|_| c.label_number());

    let local = if c.eat("+") {
        let segments: Vec<&str> = c.s.split(['-', '_', '.']).collect();
        if segments
            .iter()
            .any(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return None;
        }
        c.s = "";
        Some(
            segments
                .into_iter()
                .map(|s| {
                    if s.bytes().all(|b| b.is_ascii_digit()) {
                        LocalSegment::Number(Number::from_digits(s))
                    } else {
                        LocalSegment::Text(s.to_owned())
                    }
                })
                .collect(),
        )
    } else {
        None
    };
    if !c.s.is_empty() {
        return None;
    }

    let pre = match (pre, &post, &dev) {
        (Some((label, n)), _, _) => Pre::Labelled(label, n),
        (None, None, Some(_)) => Pre::DevOnly,
        (None, _, _) => Pre::Final,
    };
    Some(Key {
        epoch,
        release,
        pre,
        post,
        dev: dev.map_or(Dev::None, Dev::Dev),
        local,
    })
}

/// `packaging`'s `LegacyVersion` key: the text cut into digit runs (zero-padded to eight, so
/// that they compare as strings), letter runs and other runs, with its rewrites (`pre`,
/// `preview`, `rc` → `c`, `dev` → `@`, `-` → `final-`), then trailing zeros and dashes before
/// pre-release tags dropped and `*final` appended.
fn legacy_parts(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut parts: Vec<String> = Vec::new();
    for part in legacy_components(&lower)
        .into_iter()
        .chain(std::iter::once("*final".to_owned()))
    {
        if part.starts_with('*') {
            if part.as_str() < "*final" {
                while parts.last().is_some_and(|p| p == "*final-") {
                    parts.pop();
                }
            }
            while parts.last().is_some_and(|p| p == "00000000") {
                parts.pop();
            }
        }
        parts.push(part);
    }
    parts
}

/// The components of a legacy version before the trailing `*final`.
fn legacy_components(lower: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = lower;
    while !rest.is_empty() {
        let bytes = rest.as_bytes();
        let n = match bytes[0] {
            b'0'..=b'9' => digits_len(bytes),
            b'a'..=b'z' => bytes.iter().take_while(|b| b.is_ascii_lowercase()).count(),
            b'.' | b'-' => 1,
            // Anything else runs to the next digit, letter, dot or dash.
            _ => rest
                .char_indices()
                .find(|(_, ch)| matches!(ch, '0'..='9' | 'a'..='z' | '.' | '-'))
                .map_or(rest.len(), |(i, _)| i),
        };
        let (part, tail) = rest.split_at(n);
        rest = tail;
        let part = match part {
            "pre" | "preview" | "rc" => "c",
            "-" => "final-",
            "dev" => "@",
            "." => continue,
            other => other,
        };
        out.push(if part.starts_with(|ch: char| ch.is_ascii_digit()) {
            format!("{part:0>8}")
        } else {
            format!("*{part}")
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn normalisation() {
        assert_eq!(v("1.0ALPHA1"), v("1.0a1"));
        assert_eq!(v("v1.0-preview.2"), v("1.0rc2"));
        assert_eq!(v("1.0-1"), v("1.0.post1"));
        assert_eq!(v("1.0.rev"), v("1.0.post0"));
        assert_eq!(v("1.0a-"), v("1.0a0"));
        assert_eq!(v("1!1.0_DEV"), v("1!1.0.dev0"));
        assert_eq!(v("1.0+ubuntu-1"), v("1.0+ubuntu.1"));
        assert!(v("1.0").is_pep440());
        assert!(!v("0.9-doduo").is_pep440());
    }

    #[test]
    fn order() {
        let sorted = [
            "0.1-bulbasaur",
            "1.0.dev0",
            "1.0a0.dev0",
            "1.0a0",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+abc",
            "1.0+1",
            "1.0.post0.dev0",
            "1.0.post0",
            "1.1",
            "1!0.1",
        ];
        for pair in sorted.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }
}
