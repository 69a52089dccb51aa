//! Maven versions, ordered as Maven's `ComparableVersion` orders them.
//!
//! The text is lowercased and cut into items at `.`, at `-`, and where digits meet letters; a
//! `-` or a digit/letter change also opens a nested list, so `1-1` is `[1, [1]]`. Items are
//! numbers or qualifiers. Qualifiers rank `alpha < beta < milestone < rc < snapshot < "" (the
//! release) < sp < anything else`, the rest alphabetically; `a1`, `b1`, `m1` spell `alpha-1`,
//! `beta-1`, `milestone-1`; `cr` is `rc`; `ga`, `final`, `release` are the release. Trailing
//! "null" items (0, the release, an empty list) are dropped, so `1 = 1.0 = 1.0.0 = 1-ga`.
//! Comparing: number against number by value; a number is newer than a qualifier or a list;
//! a list is newer than a qualifier; a missing item compares as null (`1-alpha < 1 < 1-1`).
//!
//! A list compares with a missing item by each of its items in turn (MNG-6964, Maven 3.8). Two
//! rules follow the corpus (../shared/corpus/version-order/maven-*.txt, which holds the order
//! Maven documents) where Maven 3.8 changed them: a qualifier after a `.` stays in its list
//! (Maven 3.8 reads `1.0.rc5` as `1.0-rc5`, the corpus has `6.1.12.rc5 < 6.1.12rc1`), and a
//! hyphen group left holding only a list is that list (`1-ga-1 = 1-1`, as newer Maven has it).
//!
//! Every non-empty text without blanks or control characters is a Maven version.

use crate::numeric::Number;
use crate::{Ecosystem, ParseError};
use std::cmp::Ordering;
use std::str::FromStr;

/// A parsed Maven version: its list of items.
#[derive(Debug, Clone)]
pub struct Version {
    items: Vec<Item>,
}

#[derive(Debug, Clone)]
enum Item {
    Number(Number),
    Qualifier(Box<str>),
    List(Vec<Item>),
}

/// The well-known qualifiers, oldest first; the release ("") sits between `snapshot` and `sp`.
const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE: usize = 5;

/// A qualifier's rank: its place in `QUALIFIERS`, or after all of them, alphabetically.
fn rank(qualifier: &str) -> (usize, &str) {
    match QUALIFIERS.iter().position(|q| *q == qualifier) {
        Some(i) => (i, ""),
        None => (QUALIFIERS.len(), qualifier),
    }
}

fn qualifier(text: &str, followed_by_digit: bool) -> Item {
    let text = match text {
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Item::Qualifier(text.into())
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Number(n) => n.is_zero(),
            Item::Qualifier(q) => rank(q) == (RELEASE, ""),
            Item::List(items) => items.is_empty(),
        }
    }

    /// This item against `other`, where `None` is a missing item.
    fn cmp_to(&self, other: Option<&Item>) -> Ordering {
        match (self, other) {
            (Item::Number(n), None) => {
                if n.is_zero() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Number(a), Some(Item::Number(b))) => a.cmp(b),
            (Item::Number(_), Some(_)) => Ordering::Greater,
            (Item::Qualifier(q), None) => rank(q).cmp(&(RELEASE, "")),
            (Item::Qualifier(_), Some(Item::Number(_))) => Ordering::Less,
            (Item::Qualifier(a), Some(Item::Qualifier(b))) => rank(a).cmp(&rank(b)),
            (Item::Qualifier(_), Some(Item::List(_))) => Ordering::Less,
            // Every item against null, not only the first (Maven's MNG-6964).
            (Item::List(items), None) => items
                .iter()
                .map(|item| item.cmp_to(None))
                .find(|order| order.is_ne())
                .unwrap_or(Ordering::Equal),
            (Item::List(_), Some(Item::Number(_))) => Ordering::Less,
            (Item::List(_), Some(Item::Qualifier(_))) => Ordering::Greater,
            (Item::List(a), Some(Item::List(b))) => cmp_lists(a, b),
        }
    }
}

fn cmp_lists(a: &[Item], b: &[Item]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let order = match (a.get(i), b.get(i)) {
            (Some(x), y) => x.cmp_to(y),
            (None, Some(y)) => y.cmp_to(None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// Lists under construction: the top-level list first, the innermost last. A new list is
/// pushed onto its parent when the parent is closed, so nesting needs no shared references.
struct Builder {
    stack: Vec<Vec<Item>>,
}

impl Builder {
    fn push(&mut self, item: Item) {
        self.stack
            .last_mut()
            .expect("the top-level list")
            .push(item);
    }

    fn open_list(&mut self) {
        self.stack.push(Vec::new());
    }

    fn finish(mut self) -> Vec<Item> {
        while self.stack.len() > 1 {
            let mut inner = self.stack.pop().expect("an inner list");
            normalize(&mut inner);
            // A list left holding only a list (`1-ga-1`: the `ga` dropped) is that list: the
            // hyphen group that held nothing but nulls is gone, so `1-ga-1 = 1-1`.
            if let [Item::List(only)] = inner.as_mut_slice() {
                inner = std::mem::take(only);
            }
            self.push(Item::List(inner));
        }
        let mut top = self.stack.pop().expect("the top-level list");
        normalize(&mut top);
        top
    }
}

/// Drops trailing null items, looking past (not into) lists that are not null.
fn normalize(items: &mut Vec<Item>) {
    let mut i = items.len();
    while i > 0 {
        i -= 1;
        if items[i].is_null() {
            items.remove(i);
        } else if !matches!(items[i], Item::List(_)) {
            break;
        }
    }
}

fn number(digits: &str) -> Item {
    Item::Number(Number::from_digits(digits))
}

fn parse(lower: &str) -> Vec<Item> {
    let mut b = Builder {
        stack: vec![Vec::new()],
    };
    let mut digit = false;
    let mut start = 0;
    let item = |text: &str, digit: bool| {
        if digit {
            number(text)
        } else {
            qualifier(text, false)
        }
    };
    for (i, c) in lower.char_indices() {
        match c {
            '.' | '-' => {
                if i == start {
                    b.push(number("0"));
                } else {
                    b.push(item(&lower[start..i], digit));
                }
                start = i + 1;
                if c == '-' {
                    b.open_list();
                }
            }
            '0'..='9' => {
                if !digit && i > start {
                    b.push(qualifier(&lower[start..i], true));
                    start = i;
                    b.open_list();
                }
                digit = true;
            }
            _ => {
                if digit && i > start {
                    b.push(number(&lower[start..i]));
                    start = i;
                    b.open_list();
                }
                digit = false;
            }
        }
    }
    if lower.len() > start {
        b.push(item(&lower[start..], digit));
    }
    b.finish()
}

impl FromStr for Version {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        // Items nest once per `-` and comparing recurses through them: bound the depth.
        crate::check_len(Ecosystem::Maven, text)?;
        if text.is_empty() {
            return Err(ParseError::new(
                Ecosystem::Maven,
                text,
                "the version is empty",
            ));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ParseError::new(
                Ecosystem::Maven,
                text,
                "the version has a blank or control character",
            ));
        }
        Ok(Version {
            items: parse(&text.to_lowercase()),
        })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_lists(&self.items, &other.items)
    }
}

order_from_ord!(Version);

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn comparable_version_order() {
        let sorted = [
            "1-alpha-1",
            "1-alpha-2",
            "1-beta-1",
            "1-m1",
            "1-rc",
            "1-snapshot",
            "1",
            "1-sp",
            "1-abc",
            "1-1",
            "1.0.1",
            "1.1",
        ];
        for pair in sorted.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0.0-ga"), v("1"));
        assert_eq!(v("1a1"), v("1-alpha-1"));
    }
}
