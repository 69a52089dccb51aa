//! Debian package versions, ordered as dpkg orders them (deb-version(7)).
//!
//! `[epoch:]upstream[-revision]`: the epoch is a number; the upstream version runs to the last
//! hyphen and the revision follows it. Upstream and revision are compared by the same
//! algorithm: alternately a run of non-digits, compared character by character with letters
//! before everything else except `~`, which sorts before even the end of the string, and a run
//! of digits, compared as numbers. A missing revision compares like `0`.
//!
//! What parses is what `dpkg --compare-versions` accepts without a warning: dpkg refuses an
//! empty string, embedded spaces, an epoch that is empty, not a number or above 2^31-1, and
//! an empty upstream version or revision; it warns about an upstream version that does not
//! start with a digit or a character outside `[A-Za-z0-9.+~:-]` (`[A-Za-z0-9.+~]` in the
//! revision), and those are errors here too. Leading and trailing blanks are ignored, as dpkg
//! ignores them.

use crate::{Ecosystem, ParseError};
use std::cmp::Ordering;
use std::str::FromStr;

/// A parsed Debian version.
#[derive(Debug, Clone)]
pub struct Version {
    epoch: u32,
    upstream: Box<str>,
    /// Empty when absent: dpkg compares a missing revision and `0` alike.
    revision: Box<str>,
}

impl Version {
    /// The epoch (0 when the version has none).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The upstream version.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// The Debian revision, empty when the version has none.
    pub fn revision(&self) -> &str {
        &self.revision
    }
}

impl FromStr for Version {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        parse(text).map_err(|reason| ParseError::new(Ecosystem::Debian, text, reason))
    }
}

fn parse(text: &str) -> Result<Version, &'static str> {
    // dpkg skips blanks before the version and white space after it.
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r');
    let s = text
        .trim_start_matches([' ', '\t'])
        .trim_end_matches(is_space);
    if s.is_empty() {
        return Err("the version is empty");
    }
    if s.contains(is_space) {
        return Err("the version has embedded spaces");
    }
    let (epoch, rest) = match s.split_once(':') {
        None => (0, s),
        Some(("", _)) => return Err("the epoch before ':' is empty"),
        Some((epoch, rest)) => {
            if !epoch.bytes().all(|b| b.is_ascii_digit()) {
                return Err("the epoch before ':' is not a number");
            }
            let epoch = epoch
                .parse::<u32>()
                .ok()
                .filter(|&e| e <= i32::MAX as u32)
                .ok_or("the epoch is too big (at most 2147483647)")?;
            if rest.is_empty() {
                return Err("nothing follows the epoch's ':'");
            }
            (epoch, rest)
        }
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((_, "")) => return Err("the revision after the last '-' is empty"),
        Some((upstream, revision)) => (upstream, revision),
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return Err("the upstream version is empty");
    }
    if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("the upstream version does not start with a digit");
    }
    if !upstream
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".+~:-".contains(&b))
    {
        return Err("the upstream version has a character outside [A-Za-z0-9.+~:-]");
    }
    if !revision
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b))
    {
        return Err("the revision has a character outside [A-Za-z0-9.+~]");
    }
    Ok(Version {
        epoch,
        upstream: upstream.into(),
        revision: revision.into(),
    })
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| verrevcmp(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

order_from_ord!(Version);

/// The weight of one character of a non-digit run: `~` lowest, then the end of the run (a
/// digit or the end of the string), then letters, then everything else.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// deb-version(7)'s comparison of two upstream versions or two revisions.
fn verrevcmp(mut a: &[u8], mut b: &[u8]) -> Ordering {
    while !a.is_empty() || !b.is_empty() {
        // The non-digit prefixes, character by character.
        while a.first().is_some_and(|c| !c.is_ascii_digit())
            || b.first().is_some_and(|c| !c.is_ascii_digit())
        {
            let (wa, wb) = (weight(a.first().copied()), weight(b.first().copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            a = &a[1..];
            b = &b[1..];
        }
        // Then the digit runs, as numbers.
        let (da, db) = (crate::numeric::digits_len(a), crate::numeric::digits_len(b));
        let order = crate::numeric::cmp_digits(&a[..da], &b[..db]);
        if order != Ordering::Equal {
            return order;
        }
        a = &a[da..];
        b = &b[db..];
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn tilde_sorts_before_the_end_and_a_missing_revision_is_zero() {
        assert!(v("1.0~rc1") < v("1.0"));
        assert!(v("1.0~~") < v("1.0~"));
        assert_eq!(v("1.0"), v("1.0-0"));
        assert_eq!(v("0:1.0"), v("1.0"));
        assert!(v("1:0.1") > v("9.9"));
        assert!(v("1.0a") < v("1.0+"));
    }

    #[test]
    fn dpkg_refusals_and_warnings_are_errors_that_say_why() {
        for (text, why) in [
            ("", "empty"),
            ("1 2", "embedded spaces"),
            (":1", "epoch before ':' is empty"),
            ("a:1", "not a number"),
            ("1:", "nothing follows"),
            ("1-", "revision after the last '-' is empty"),
            ("-1", "upstream version is empty"),
            ("a1", "does not start with a digit"),
            ("1_2", "outside [A-Za-z0-9.+~:-]"),
            ("1-2:3", "not a number"),
            ("1:1-a_b", "outside [A-Za-z0-9.+~]"),
            ("2147483648:1", "too big"),
        ] {
            let err = text.parse::<Version>().unwrap_err();
            assert!(err.to_string().contains(why), "{text:?}: {err}");
            assert!(err.to_string().contains("Debian"), "{err}");
        }
    }
}
