//! Numbers as they appear in version strings: runs of ASCII digits of any length.
//! Versions carry dates and build stamps longer than any machine integer
//! (`20190126230843`, or thirty nines in the corpus), so they are compared as digit strings.

use std::cmp::Ordering;

/// A non-negative integer of any size, kept as its digits without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Number(Box<str>);

impl Number {
    /// The number spelled by `digits`, which must be ASCII digits only (possibly empty: zero).
    pub(crate) fn from_digits(digits: &str) -> Number {
        debug_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        Number(digits.trim_start_matches('0').into())
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two runs of ASCII digits as the numbers they spell, leading zeros ignored.
pub(crate) fn cmp_digits(a: &[u8], b: &[u8]) -> Ordering {
    let a = trim_zeros(a);
    let b = trim_zeros(b);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let first = digits
        .iter()
        .position(|&d| d != b'0')
        .unwrap_or(digits.len());
    &digits[first..]
}

/// The length of the run of ASCII digits at the start of `s`.
pub(crate) fn digits_len(s: &[u8]) -> usize {
    s.iter().take_while(|b| b.is_ascii_digit()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_numbers_are_larger_whatever_their_zeros() {
        assert_eq!(cmp_digits(b"0010", b"9"), Ordering::Greater);
        assert_eq!(cmp_digits(b"000", b""), Ordering::Equal);
        assert_eq!(
            cmp_digits(
                b"999999999999999999999999999991",
                b"999999999999999999999999999999"
            ),
            Ordering::Less
        );
        assert!(Number::from_digits("00").is_zero());
    }
}
