//! Alpine package versions, ordered as apk-tools orders them.
//!
//! `digits{.digits}...{letter}{_suffix{digits}}...{~hash}{-r digits}`: apk reads a version as a
//! stream of tokens, each allowed only after certain others (a letter only after the numbers,
//! a suffix only before the hash and the revision, and so on), and compares two versions token
//! by token:
//!
//! - numbers compare as numbers, except after the first: when either has a leading zero, the
//!   two are compared as strings (`1.01 < 1.1`, Gentoo's rule);
//! - a letter by its character; suffixes in the order `alpha < beta < pre < rc < (none) < cvs
//!   < svn < git < hg < p`; commit hashes as strings;
//! - when one version runs out of tokens first, or reaches a different kind of token, the one
//!   that goes on is newer, unless what it goes on with is a pre-release suffix (`1.2_rc1 <
//!   1.2`) or something apk cannot read, which sorts before what it can.
//!
//! apk compares any string, valid or not (`apk version -t a b` answers `<`), and so does this
//! module; the text must only be non-empty printable ASCII. For text apk cannot read, the
//! order is apk-tools 3's, with three rules from the corpus OSV's tools are tested with
//! (../shared/corpus/version-order/alpine-versions.txt) where apk gives no useful answer:
//!
//! - `-r` with no digits, at the end or before another `-`, is `-r0` (`1-r = 1-r0`);
//! - what apk cannot read from the `-` of the revision on is a flaw that sorts the version
//!   before the same version without it, whatever the flaw says (`1-r0-1 = 1-r0-2 < 1-r0`);
//! - two versions that apk stops reading at the same token, before any revision, are
//!   ordered by the text it could not read (`1.2p1 < 1.2p2`, `a < b`), where apk would call
//!   them equal.
//!
//! Together with apk's own rules this is still a total order: each version reads as a list of
//! tokens, and the lists compare position by position.

use crate::numeric::{cmp_digits, digits_len};
use crate::{Ecosystem, ParseError};
use std::cmp::Ordering;
use std::str::FromStr;

/// A parsed Alpine version: its text, read token by token when compared.
#[derive(Debug, Clone)]
pub struct Version {
    text: Box<str>,
}

impl Version {
    /// Whether the version is well formed: apk reads all of it (`-r` without digits counted as
    /// `-r0`, see the module's documentation).
    pub fn is_valid(&self) -> bool {
        let mut tokens = Tokens::new(&self.text);
        let mut token = tokens.first();
        while token.kind < Kind::End {
            token = tokens.following();
        }
        token.kind == Kind::End
    }
}

impl FromStr for Version {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        if text.is_empty() {
            return Err(ParseError::new(
                Ecosystem::Alpine,
                text,
                "the version is empty",
            ));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ParseError::new(
                Ecosystem::Alpine,
                text,
                "the version has a blank, control or non-ASCII character",
            ));
        }
        Ok(Version { text: text.into() })
    }
}

/// The kinds of token, in apk's order: a version that goes on with a later kind where the
/// other goes on with an earlier one is the older.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNumber,
    CommitHash,
    Revision,
    End,
    Invalid,
}

/// Suffixes, oldest first; `None` is where a version without a suffix sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Suffix {
    Alpha,
    Beta,
    Pre,
    Rc,
    None,
    Cvs,
    Svn,
    Git,
    Hg,
    P,
}

impl Suffix {
    fn from_name(name: &[u8]) -> Option<Suffix> {
        Some(match name {
            b"alpha" => Suffix::Alpha,
            b"beta" => Suffix::Beta,
            b"pre" => Suffix::Pre,
            b"rc" => Suffix::Rc,
            b"cvs" => Suffix::Cvs,
            b"svn" => Suffix::Svn,
            b"git" => Suffix::Git,
            b"hg" => Suffix::Hg,
            b"p" => Suffix::P,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    /// The token's text: digits, the letter, the suffix name or the hash.
    value: &'a [u8],
    suffix: Suffix,
}

struct Tokens<'a> {
    rest: &'a [u8],
    last: Kind,
    /// Whether reading has reached the `-` that starts the revision.
    at_revision: bool,
    /// The text from the start of the token being read.
    start: &'a [u8],
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        Tokens {
            rest: text.as_bytes(),
            last: Kind::InitialDigit,
            at_revision: false,
            start: text.as_bytes(),
        }
    }

    fn token(&mut self, kind: Kind, value: &'a [u8]) -> Token<'a> {
        self.last = kind;
        Token {
            kind,
            value,
            suffix: Suffix::None,
        }
    }

    /// What apk cannot read ends the version. Before the revision, the unread text is kept
    /// to order two such versions (see the module's documentation); from the revision on,
    /// what the flaw says does not count.
    fn invalid(&mut self) -> Token<'a> {
        let unread = if self.at_revision {
            &b""[..]
        } else {
            self.start
        };
        self.rest = b"";
        self.token(Kind::Invalid, unread)
    }

    /// Takes the digits at the front as a token of `kind`; none at all is invalid.
    fn digits(&mut self, kind: Kind) -> Token<'a> {
        let n = digits_len(self.rest);
        let (value, rest) = self.rest.split_at(n);
        self.rest = rest;
        if n == 0 {
            return self.invalid();
        }
        self.token(kind, value)
    }

    fn first(&mut self) -> Token<'a> {
        self.start = self.rest;
        self.digits(Kind::InitialDigit)
    }

    fn following(&mut self) -> Token<'a> {
        self.start = self.rest;
        let last = self.last;
        let Some(&c) = self.rest.first() else {
            return self.token(Kind::End, b"");
        };
        match c {
            b'a'..=b'z' if last <= Kind::Digit => {
                let (value, rest) = self.rest.split_at(1);
                self.rest = rest;
                self.token(Kind::Letter, value)
            }
            b'.' | b'0'..=b'9' => {
                if c == b'.' {
                    if last > Kind::Digit {
                        return self.invalid();
                    }
                    self.rest = &self.rest[1..];
                }
                match last {
                    Kind::InitialDigit | Kind::Digit => self.digits(Kind::Digit),
                    Kind::Suffix => self.digits(Kind::SuffixNumber),
                    _ => self.invalid(),
                }
            }
            b'_' if last <= Kind::SuffixNumber => {
                let rest = &self.rest[1..];
                let n = rest.iter().take_while(|c| c.is_ascii_lowercase()).count();
                let (name, rest) = rest.split_at(n);
                self.rest = rest;
                match Suffix::from_name(name) {
                    Some(suffix) => Token {
                        suffix,
                        ..self.token(Kind::Suffix, name)
                    },
                    None => self.invalid(),
                }
            }
            b'~' if last < Kind::CommitHash => {
                let rest = &self.rest[1..];
                let n = rest
                    .iter()
                    .take_while(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
                    .count();
                let (hash, rest) = rest.split_at(n);
                self.rest = rest;
                if n == 0 {
                    return self.invalid();
                }
                self.token(Kind::CommitHash, hash)
            }
            b'-' if last < Kind::Revision => {
                self.at_revision = true;
                match self.rest.strip_prefix(b"-r") {
                    // `-r` with no digits, at the end or before another `-`: `-r0`.
                    Some(rest) if matches!(rest.first(), None | Some(b'-')) => {
                        self.rest = rest;
                        self.token(Kind::Revision, b"")
                    }
                    Some(rest) => {
                        self.rest = rest;
                        self.digits(Kind::Revision)
                    }
                    None => self.invalid(),
                }
            }
            _ => self.invalid(),
        }
    }
}

/// Two tokens of one kind.
fn cmp_tokens(kind: Kind, a: &Token, b: &Token) -> Ordering {
    match kind {
        Kind::Digit if a.value.first() == Some(&b'0') || b.value.first() == Some(&b'0') => {
            a.value.cmp(b.value)
        }
        Kind::InitialDigit | Kind::Digit | Kind::SuffixNumber | Kind::Revision => {
            cmp_digits(a.value, b.value)
        }
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        _ => a.value.cmp(b.value),
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let mut ta = Tokens::new(&self.text);
        let mut tb = Tokens::new(&other.text);
        let (mut a, mut b) = (ta.first(), tb.first());
        while a.kind == b.kind && a.kind < Kind::End {
            let order = cmp_tokens(a.kind, &a, &b);
            if order != Ordering::Equal {
                return order;
            }
            (a, b) = (ta.following(), tb.following());
        }
        if a.kind == b.kind {
            // Both at their end, or both unreadable from here: by the unread text.
            return a.value.cmp(b.value);
        }
        // Equal so far: the one that goes on is newer, unless with a pre-release suffix.
        if a.kind == Kind::Suffix && a.suffix < Suffix::None {
            return Ordering::Less;
        }
        if b.kind == Kind::Suffix && b.suffix < Suffix::None {
            return Ordering::Greater;
        }
        b.kind.cmp(&a.kind)
    }
}

order_from_ord!(Version);
