//! PHP package versions, ordered by PHP's `version_compare`, which Composer's comparator uses.
//!
//! The text is cut into parts at `.`, `-`, `_`, `+` and wherever digits meet other characters
//! (`1.0rc1` is `1.0.rc.1`). The parts compare in turn: numbers as numbers; words by their
//! known prefix, `dev < alpha = a < beta = b < RC = rc < (a number) < pl = p`, any other word
//! before `dev`; a number against a word as if the number were the word `#`. When one version
//! runs out, the other is newer if its next part is a number, else as its rest compares with
//! `#` (`1.0 < 1.0.1`, `1.0rc1 < 1.0`). As Composer does, a leading `v` or `V` is dropped.
//!
//! Where PHP's own function is not even reflexive (it turns other characters such as `#` into
//! empty parts, and then finds `1.2.3.#` older than itself), other characters stay in their
//! part here, so that every version equals itself, as OSV's tools and their corpus have it. A
//! part `#` still compares equal to every number, as in PHP (`1.2.3.# = 1.2.3 = 1.2.3.0` and
//! `1.2.3.# = 1.2.3.1`), so among versions with such parts the order is not transitive; no
//! release is numbered that way.

use crate::numeric::cmp_digits;
use crate::{Ecosystem, ParseError};
use std::cmp::Ordering;
use std::str::FromStr;

/// A parsed Packagist version.
#[derive(Debug, Clone)]
pub struct Version {
    /// The text without its `v`.
    text: Box<str>,
}

impl FromStr for Version {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        let stripped = text.strip_prefix(['v', 'V']).unwrap_or(text);
        if stripped.is_empty() {
            return Err(ParseError::new(
                Ecosystem::Packagist,
                text,
                "the version is empty",
            ));
        }
        Ok(Version {
            text: stripped.into(),
        })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_parts(&parts(&self.text), &parts(&other.text))
    }
}

order_from_ord!(Version);

/// The canonical form's parts: `-`, `_`, `+` become dots, and a dot goes wherever a digit
/// meets a character that is neither digit nor dot.
fn parts(version: &str) -> Vec<&[u8]> {
    let bytes = version.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 0..bytes.len() {
        let c = bytes[i];
        if matches!(c, b'.' | b'-' | b'_' | b'+') {
            parts.push(&bytes[start..i]);
            start = i + 1;
        } else if i > start && bytes[i - 1].is_ascii_digit() != c.is_ascii_digit() {
            parts.push(&bytes[start..i]);
            start = i;
        }
    }
    parts.push(&bytes[start..]);
    parts
}

fn is_number(part: &[u8]) -> bool {
    !part.is_empty() && part.iter().all(u8::is_ascii_digit)
}

/// A word's rank by its known prefix; a number ranks as `#`; unknown words rank lowest.
fn rank(part: &[u8]) -> i8 {
    const FORMS: [(&[u8], i8); 10] = [
        (b"dev", 0),
        (b"alpha", 1),
        (b"a", 1),
        (b"beta", 2),
        (b"b", 2),
        (b"RC", 3),
        (b"rc", 3),
        (b"#", 4),
        (b"pl", 5),
        (b"p", 5),
    ];
    if is_number(part) {
        return 4;
    }
    FORMS
        .iter()
        .find(|(name, _)| part.starts_with(name))
        .map_or(-1, |&(_, rank)| rank)
}

fn cmp_parts<'a>(mut a: &'a [&'a [u8]], mut b: &'a [&'a [u8]]) -> Ordering {
    // What a number compares as against a word.
    const NUMBER: &[&[u8]] = &[b"#"];
    loop {
        for (x, y) in a.iter().zip(b) {
            let order = if is_number(x) && is_number(y) {
                cmp_digits(x, y)
            } else {
                rank(x).cmp(&rank(y))
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        // One ran out: a number next makes the other newer, else its rest against `#`.
        match a.len().cmp(&b.len()) {
            Ordering::Equal => return Ordering::Equal,
            Ordering::Greater if is_number(a[b.len()]) => return Ordering::Greater,
            Ordering::Greater => (a, b) = (&a[b.len()..], NUMBER),
            Ordering::Less if is_number(b[a.len()]) => return Ordering::Less,
            Ordering::Less => (a, b) = (NUMBER, &b[a.len()..]),
        }
    }
}
