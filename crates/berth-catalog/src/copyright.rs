//! The licences of a Debian package, from its `usr/share/doc/PACKAGE/copyright`: dpkg's
//! database declares none.
//!
//! Read as Syft 1.18.1 reads them, so that both tools list the same names: every
//! `License: NAME` line of a machine-readable file (DEP-5), every
//! `/usr/share/common-licenses/NAME` a free-text file points to, a `LICENSE AGREEMENT [FOR …]`
//! heading, and the first sentence under an underlined title at the very top of the file (a
//! title line, a line of dashes). A candidate that joins licences with ` or `/` and ` is a
//! summary the other lines repeat, and is dropped; so is `none`. Names are kept as written
//! (`GPL-2+`, `BSD-3-clause`), sorted, each once.

use crate::fs::Wanted;

/// Every `copyright` file directly in a directory of `usr/share/doc`: what an image keeps
/// for [`licences`].
pub const WANTED: Wanted = Wanted::Matching(is_copyright);

fn is_copyright(path: &str) -> bool {
    path.strip_prefix("usr/share/doc/")
        .and_then(|rest| rest.strip_suffix("/copyright"))
        .is_some_and(|package| !package.is_empty() && !package.contains('/'))
}

/// Where package `name`'s copyright file is, relative to the root.
pub fn path_of(name: &str) -> String {
    format!("usr/share/doc/{name}/copyright")
}

/// The licences a copyright file names.
pub fn licences(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut found: Vec<String> = Vec::new();
    found.extend(first_sentence_under_title(&text).and_then(single));
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let candidates = [
            field_value(line),
            common_licence(line),
            agreement_heading(line),
        ];
        found.extend(candidates.into_iter().flatten().filter_map(single));
    }
    found.sort();
    found.dedup();
    found
}

/// `License: NAME`, at the start of a line: the first word after the colon and one space.
fn field_value(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("License: ")?;
    Some(rest.split(is_blank).next().unwrap_or(""))
}

/// `/usr/share/common-licenses/NAME` anywhere on the line: the name's letters, digits and
/// `_.-`.
fn common_licence(line: &str) -> Option<&str> {
    const DIR: &str = "/usr/share/common-licenses/";
    let at = line.find(DIR)? + DIR.len();
    let rest = &line[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || "_.-".contains(c)))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// A line that is only `LICENSE AGREEMENT` or `LICENSE AGREEMENT FOR …` (any case), with at
/// most one blank character either side.
fn agreement_heading(line: &str) -> Option<&str> {
    let line = line.strip_prefix(is_blank).unwrap_or(line);
    let line = line.strip_suffix(is_blank).unwrap_or(line);
    const HEADING: &str = "license agreement";
    let lower = line.to_ascii_lowercase();
    let rest = lower.strip_prefix(HEADING)?;
    (rest.is_empty() || rest.strip_prefix(" for ").is_some_and(|r| !r.is_empty())).then_some(line)
}

/// A file that opens with a title line underlined by dashes: the text after the blank lines
/// below, up to its first `.`, its first blank line or the end of the file (at least two
/// characters).
fn first_sentence_under_title(text: &str) -> Option<&str> {
    let (title, rest) = text.split_once('\n')?;
    if title.is_empty() {
        return None;
    }
    let (dashes, rest) = rest.split_once('\n')?;
    if dashes.is_empty() || !dashes.bytes().all(|b| b == b'-') {
        return None;
    }
    let body = rest.trim_start_matches('\n');
    // The sentence's first character starts it whatever it is; it ends from the second on.
    let first = body.chars().next()?;
    let from = first.len_utf8() + body[first.len_utf8()..].chars().next()?.len_utf8();
    let end = body[from..]
        .char_indices()
        .map(|(i, _)| from + i)
        .find(|&i| body[i..].starts_with('.') || body[i..].starts_with("\n\n"))
        .unwrap_or(body.len());
    Some(&body[..end])
}

/// Syft's (Go's) `\s`: ASCII blanks only.
fn is_blank(c: char) -> bool {
    c.is_ascii_whitespace()
}

/// The candidate as one licence name: blank-joined lines, a trailing `.` dropped; `None` for
/// a summary of several (` or `, ` and `), `none` or nothing.
fn single(candidate: &str) -> Option<String> {
    let candidate = candidate.replace('\n', " ");
    let candidate = candidate.trim();
    if candidate.contains(" or ") || candidate.contains(" and ") {
        return None;
    }
    if candidate.is_empty() || candidate.eq_ignore_ascii_case("none") {
        return None;
    }
    Some(candidate.strip_suffix('.').unwrap_or(candidate).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_machine_readable_fields() {
        let text = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
                    \n\
                    Files: *\nCopyright: 2000 Someone\nLicense: GPL-2+\n\n\
                    Files: lib/*\nLicense: BSD-3-clause\n\n\
                    License: GPL-2+\n This program is free software.\n\
                    \x20On Debian systems, see /usr/share/common-licenses/GPL-2.\n\n\
                    License: none\n\
                    License: GPL-2 or Artistic\n";
        assert_eq!(
            licences(text.as_bytes()),
            ["BSD-3-clause", "GPL-2", "GPL-2+"]
        );
    }

    #[test]
    fn reads_free_text_and_headings() {
        let title = "zlib 1.2\n--------\n\n\nCopyright notice\nis here.\nAnd more.\n";
        assert_eq!(licences(title.as_bytes()), ["Copyright notice is here"]);
        let blank = "Title\n-----\n\nPublic domain\n\nRest\n";
        assert_eq!(licences(blank.as_bytes()), ["Public domain"]);
        let agreement = "Intro\n LICENSE AGREEMENT FOR Foo\nlicense agreement\nLicense Agreement for\n  license agreement\n";
        assert_eq!(
            licences(agreement.as_bytes()),
            ["LICENSE AGREEMENT FOR Foo", "license agreement"]
        );
        let pointer = "see /usr/share/common-licenses/LGPL-2.1, or (at your option)\n";
        assert_eq!(licences(pointer.as_bytes()), ["LGPL-2.1"]);
    }

    #[test]
    fn wants_only_a_package_directorys_copyright() {
        assert!(is_copyright("usr/share/doc/bash/copyright"));
        assert!(!is_copyright("usr/share/doc/bash/examples/copyright"));
        assert!(!is_copyright("usr/share/doc//copyright"));
        assert!(!is_copyright("opt/usr/share/doc/bash/copyright"));
    }
}
