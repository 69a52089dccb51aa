//! Paths inside a root, as words: `/`-separated, absolute or relative (both mean from the
//! root), never touching the file system.
//!
//! A path is bytes ([`OsStr`]), as names are on Linux: a name that is not UTF-8 is a name
//! like any other, kept byte for byte. [`Shown`] writes one for a person to read.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The components of `path` that mean something (`.` and empty ones dropped), in order.
pub(crate) fn components(path: &OsStr) -> impl DoubleEndedIterator<Item = &OsStr> {
    path.as_bytes()
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
        .map(OsStr::from_bytes)
}

/// Components joined with `/`.
fn joined(parts: &[&OsStr]) -> OsString {
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(part.as_bytes());
    }
    OsString::from_vec(out)
}

/// Cleans `path` lexically as if it were absolute and returns it relative: `..` stops at the
/// root, so `../x` and `/x` both become `x`.
pub fn clean(path: impl AsRef<OsStr>) -> OsString {
    let mut out: Vec<&OsStr> = Vec::new();
    for part in components(path.as_ref()) {
        if part == ".." {
            out.pop();
        } else {
            out.push(part);
        }
    }
    joined(&out)
}

/// Cleans `path` lexically; `None` when a `..` would climb above where it starts (an archive
/// entry that leaves its destination).
pub fn clean_inside(path: impl AsRef<OsStr>) -> Option<OsString> {
    let mut out: Vec<&OsStr> = Vec::new();
    for part in components(path.as_ref()) {
        if part == ".." {
            out.pop()?;
        } else {
            out.push(part);
        }
    }
    Some(joined(&out))
}

/// Joins a relative path to a parent relative path (`""` is the root).
pub fn join(parent: impl AsRef<OsStr>, name: impl AsRef<OsStr>) -> OsString {
    let (parent, name) = (parent.as_ref(), name.as_ref());
    match (parent.is_empty(), name.is_empty()) {
        (true, _) => name.to_owned(),
        (_, true) => parent.to_owned(),
        _ => joined(&[parent, name]),
    }
}

/// Splits a cleaned relative path into (directory, name); the directory is `""` at the root.
pub fn split(path: &OsStr) -> (&OsStr, &OsStr) {
    let bytes = path.as_bytes();
    match bytes.iter().rposition(|&b| b == b'/') {
        Some(at) => (
            OsStr::from_bytes(&bytes[..at]),
            OsStr::from_bytes(&bytes[at + 1..]),
        ),
        None => (OsStr::new(""), path),
    }
}

/// The last component of a `/`-separated path (the whole path if it has no `/`).
pub fn file_name(path: &OsStr) -> &OsStr {
    split(path).1
}

/// Whether `path` is `dir` or lies below it (both cleaned, relative).
pub fn is_within(path: &OsStr, dir: &OsStr) -> bool {
    let (path, dir) = (path.as_bytes(), dir.as_bytes());
    dir.is_empty() || path == dir || (path.starts_with(dir) && path.get(dir.len()) == Some(&b'/'))
}

/// Whether `name` is one ordinary directory entry name (not `.`, `..`, empty, nor holding `/`
/// or NUL): the only thing a directory handle acts on, so no name can leave its directory.
pub(crate) fn is_entry_name(name: &OsStr) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes != b"."
        && bytes != b".."
        && !bytes.contains(&b'/')
        && !bytes.contains(&0)
}

/// `path` as Go's string functions read it, for matching it against a pattern (always UTF-8)
/// as BuildKit does (`.dockerignore`, `COPY` wildcards): every byte that is not part of valid
/// UTF-8 is one character of its own (U+FFFD), which `*` and `?` match and no other character
/// does. Never a name to act on: the path itself stays bytes.
pub fn for_matching(path: &OsStr) -> std::borrow::Cow<'_, str> {
    let bytes = path.as_bytes();
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.into();
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(chunk.invalid().iter().map(|_| char::REPLACEMENT_CHARACTER));
    }
    out.into()
}

/// A path or name as a person reads it: UTF-8 as it is, every byte that is not part of valid
/// UTF-8 as `\xNN` (`bad\xff\xfe`), so a message names the very file and no byte is lost
/// to a replacement character.
#[derive(Clone, Copy)]
pub struct Shown<'a>(pub &'a OsStr);

/// [`Shown`] of anything that is a path or name.
pub fn shown<P: AsRef<OsStr> + ?Sized>(path: &P) -> Shown<'_> {
    Shown(path.as_ref())
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.as_bytes().utf8_chunks() {
            f.write_str(chunk.valid())?;
            for byte in chunk.invalid() {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(bytes: &[u8]) -> &OsStr {
        OsStr::from_bytes(bytes)
    }

    #[test]
    fn cleans() {
        assert_eq!(clean("../x"), "x");
        assert_eq!(clean("/a/../../b/./c/"), "b/c");
        assert_eq!(clean("."), "");
        assert_eq!(
            clean_inside("./usr//bin/").as_deref(),
            Some(OsStr::new("usr/bin"))
        );
        assert_eq!(
            clean_inside("/etc/passwd").as_deref(),
            Some(OsStr::new("etc/passwd"))
        );
        assert_eq!(clean_inside("a/../b").as_deref(), Some(OsStr::new("b")));
        assert_eq!(clean_inside("../x"), None);
        assert_eq!(clean_inside("a/../../x"), None);
        assert_eq!(clean_inside("./").as_deref(), Some(OsStr::new("")));
    }

    #[test]
    fn names_that_are_not_utf8_are_kept_byte_for_byte() {
        assert_eq!(clean(os(b"./d\xff/../b\xfe/")), os(b"b\xfe"));
        assert_eq!(join(os(b"d\xff"), os(b"\xfe")), os(b"d\xff/\xfe"));
        assert_eq!(split(os(b"d\xff/n\xfe")), (os(b"d\xff"), os(b"n\xfe")));
        assert!(is_within(os(b"d\xff/x"), os(b"d\xff")));
        assert!(!is_within(os(b"d\xffx"), os(b"d\xff")));
        assert_eq!(shown(os(b"bad\xff\xfe")).to_string(), "bad\\xff\\xfe");
        assert_eq!(shown("caf\u{e9}").to_string(), "caf\u{e9}");
        // Go decodes each stray byte as one rune, so `?` matches one byte of a bad name.
        assert_eq!(for_matching(os(b"a\xe2\x82z")), "a\u{fffd}\u{fffd}z");
        assert_eq!(for_matching(os(b"ok")), "ok");
    }

    #[test]
    fn entry_names() {
        assert!(is_entry_name(OsStr::new("a.b")));
        assert!(is_entry_name(os(b"\xff")));
        for bad in ["", ".", "..", "a/b", "a\0"] {
            assert!(!is_entry_name(OsStr::new(bad)), "{bad:?}");
        }
    }
}
