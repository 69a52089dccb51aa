//! RPM package versions, ordered as rpm orders them: `[epoch:]version[-release]`, each part
//! compared by `rpmvercmp`.
//!
//! The text is split as rpm splits an EVR string: an epoch only when the text starts with digits
//! and a colon (`:1` has epoch 0), the release after the last hyphen. A missing epoch is 0.
//! `rpmvercmp` walks both strings segment by segment: separators (anything but ASCII letters,
//! digits, `~` and `^`) are skipped; `~` sorts before anything, even the end (`1.0~rc1 <
//! 1.0`); `^` sorts after the end but before anything else (`1.0 < 1.0^git1 < 1.0.1`); a
//! digit run beats a letter run, digit runs compare as numbers, letter runs byte-wise; when
//! all segments agree, the string with segments left over is newer.
//!
//! rpm's own dependency check ignores the release when one side lacks it; a vulnerability
//! matcher compares an installed package (which always has a release) with a fixed version,
//! so here a version without a release sorts before the same version with any release, as
//! OSV's tools order them (`1 < 1-0`).
//!
//! Any non-empty text parses: rpmvercmp gives every string an order.

use crate::{Ecosystem, ParseError};
use std::cmp::Ordering;
use std::str::FromStr;

/// A parsed RPM version: epoch, version and release.
#[derive(Debug, Clone)]
pub struct Version {
    /// The epoch's digits ("0" when absent or empty).
    epoch: Box<str>,
    version: Box<str>,
    release: Option<Box<str>>,
}

impl Version {
    /// The epoch's digits, "0" when the text has none.
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// The version part, between the epoch and the release.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The release, after the last hyphen.
    pub fn release(&self) -> Option<&str> {
        self.release.as_deref()
    }
}

impl FromStr for Version {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        if text.is_empty() {
            return Err(ParseError::new(
                Ecosystem::Rpm,
                text,
                "the version is empty",
            ));
        }
        let digits = crate::numeric::digits_len(text.as_bytes());
        let (epoch, rest) = match text[digits..].strip_prefix(':') {
            Some(rest) if digits == 0 => ("0", rest),
            Some(rest) => (&text[..digits], rest),
            None => ("0", text),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((version, release)) => (version, Some(release.into())),
            None => (rest, None),
        };
        Ok(Version {
            epoch: epoch.into(),
            version: version.into(),
            release,
        })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        rpmvercmp(&self.epoch, &other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| match (&self.release, &other.release) {
                (Some(a), Some(b)) => rpmvercmp(a, b),
                (a, b) => a.is_some().cmp(&b.is_some()),
            })
    }
}

order_from_ord!(Version);

/// rpm's `rpmvercmp`: the order of two version (or release, or epoch) strings.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let is_separator = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        a = &a[a.iter().take_while(|c| is_separator(c)).count()..];
        b = &b[b.iter().take_while(|c| is_separator(c)).count()..];

        // `~` sorts before everything, the end included.
        match (a.first(), b.first()) {
            (Some(b'~'), Some(b'~')) => {
                (a, b) = (&a[1..], &b[1..]);
                continue;
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            _ => {}
        }
        // `^` sorts after the end, before everything else.
        match (a.first(), b.first()) {
            (Some(b'^'), Some(b'^')) => {
                (a, b) = (&a[1..], &b[1..]);
                continue;
            }
            (None, Some(b'^')) => return Ordering::Less,
            (Some(b'^'), None) => return Ordering::Greater,
            (Some(b'^'), _) => return Ordering::Less,
            (_, Some(b'^')) => return Ordering::Greater,
            _ => {}
        }
        let (Some(first), Some(_)) = (a.first(), b.first()) else {
            break;
        };

        // One segment each, of the kind that starts `a`: digits or letters.
        let numeric = first.is_ascii_digit();
        let run = |s: &[u8]| {
            s.iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count()
        };
        let (la, lb) = (run(a), run(b));
        if lb == 0 {
            // Different kinds: the number is newer.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let order = if numeric {
            crate::numeric::cmp_digits(&a[..la], &b[..lb])
        } else {
            a[..la].cmp(&b[..lb])
        };
        if order != Ordering::Equal {
            return order;
        }
        (a, b) = (&a[la..], &b[lb..]);
    }
    // Whichever has something left is newer.
    a.is_empty().cmp(&b.is_empty()).reverse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpmvercmp_follows_rpm() {
        use Ordering::*;
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1_0", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.01", Less),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("1a", "1.1", Less),
            ("1.1.α", "1.1.a", Less),
            ("10.0001", "10.1", Equal),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn evr_split_and_missing_release() {
        let v: Version = "2:1.0-3-4".parse().unwrap();
        assert_eq!(
            (v.epoch(), v.version(), v.release()),
            ("2", "1.0-3", Some("4"))
        );
        let v: Version = "a:1".parse().unwrap();
        assert_eq!((v.epoch(), v.version(), v.release()), ("0", "a:1", None));
        let (a, b): (Version, Version) = ("1".parse().unwrap(), "1-".parse().unwrap());
        assert!(a < b);
    }
}
