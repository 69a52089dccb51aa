//! Ruby gem versions, ordered as RubyGems' `Gem::Version` orders them.
//!
//! `N(.X)*[-pre]` where each `X` is letters and digits: `-` reads as `.pre.`, the text is cut
//! into runs of digits (numbers) and runs of letters (strings), trailing zeros are dropped from
//! the leading numbers and from what follows the first string (`1.0.a.0 = 1.a`), and the lists
//! compare item by item, a missing item being 0: numbers as numbers, strings byte-wise, a
//! string before a number (so `1.0.a < 1.0`: letters mark a pre-release).

use crate::numeric::{Number, digits_len};
use crate::{Ecosystem, ParseError};
use std::cmp::Ordering;
use std::str::FromStr;

/// A parsed gem version: its canonical segments.
#[derive(Debug, Clone)]
pub struct Version {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Number(Number),
    Text(Box<str>),
}

impl FromStr for Version {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        let s = text.trim_matches(|c: char| c.is_ascii_whitespace());
        check(s).map_err(|reason| ParseError::new(Ecosystem::RubyGems, text, reason))?;
        let normalized = s.replace('-', ".pre.");
        let mut segments = Vec::new();
        let mut rest = normalized.as_str();
        while let Some(c) = rest.chars().next() {
            let n = if c.is_ascii_digit() {
                digits_len(rest.as_bytes())
            } else {
                rest.bytes().take_while(u8::is_ascii_alphabetic).count()
            };
            if n == 0 {
                rest = &rest[c.len_utf8()..];
                continue;
            }
            let (run, tail) = rest.split_at(n);
            rest = tail;
            segments.push(if c.is_ascii_digit() {
                Segment::Number(Number::from_digits(run))
            } else {
                Segment::Text(run.into())
            });
        }
        Ok(Version {
            segments: canonical(segments),
        })
    }
}

/// `Gem::Version`'s pattern, `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`,
/// with letters also allowed right after the first number (`1beta`), as advisories write them.
fn check(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("the version is empty");
    }
    let (main, pre) = match s.split_once('-') {
        Some((main, pre)) => (main, Some(pre)),
        None => (s, None),
    };
    if !main.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("it does not start with a number");
    }
    if main
        .split('.')
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err("a dot-separated part is empty or not letters and digits");
    }
    if let Some(pre) = pre
        && pre
            .split('.')
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(
            "the pre-release after '-' has an empty part or a character outside [0-9A-Za-z-]",
        );
    }
    Ok(())
}

/// Trailing zeros dropped from the leading numbers and from the rest, as `Gem::Version` does.
fn canonical(segments: Vec<Segment>) -> Vec<Segment> {
    let split = segments
        .iter()
        .position(|s| matches!(s, Segment::Text(_)))
        .unwrap_or(segments.len());
    let mut numbers = segments;
    let mut rest = numbers.split_off(split);
    for part in [&mut numbers, &mut rest] {
        while matches!(part.last(), Some(Segment::Number(n)) if n.is_zero()) {
            part.pop();
        }
    }
    numbers.extend(rest);
    numbers
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Segment::Number(Number::default());
        for i in 0..self.segments.len().max(other.segments.len()) {
            let a = self.segments.get(i).unwrap_or(&zero);
            let b = other.segments.get(i).unwrap_or(&zero);
            let order = match (a, b) {
                (Segment::Number(a), Segment::Number(b)) => a.cmp(b),
                (Segment::Text(a), Segment::Text(b)) => a.cmp(b),
                (Segment::Text(_), Segment::Number(_)) => Ordering::Less,
                (Segment::Number(_), Segment::Text(_)) => Ordering::Greater,
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }
}

order_from_ord!(Version);
