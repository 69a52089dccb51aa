//! The distribution, from `os-release` (`etc/os-release`, else `usr/lib/os-release`, as
//! systemd's os-release(5) says to look).

use crate::error::Result;
use crate::fs::{Filesystem, Wanted};
use crate::model::Distro;

/// Where os-release lives, in the order to try.
pub const PATHS: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];
pub const WANTED: [Wanted; 2] = [Wanted::File(PATHS[0]), Wanted::File(PATHS[1])];

/// The distribution `fs` says it is, if it says (an `os-release` with an `ID`).
pub fn find(fs: &dyn Filesystem) -> Result<Option<Distro>> {
    for path in PATHS {
        if let Some(file) = fs.read(path)? {
            return Ok(parse(&String::from_utf8_lossy(&file.bytes)));
        }
    }
    Ok(None)
}

/// Parses os-release text: `KEY=value` lines, values optionally quoted as in a shell.
/// Lines that are not assignments are ignored, as os-release(5) asks.
pub fn parse(text: &str) -> Option<Distro> {
    let mut distro = Distro::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let value = unquote(raw.trim());
        let some = |v: String| (!v.is_empty()).then_some(v);
        match key.trim() {
            "ID" => distro.id = value.to_ascii_lowercase(),
            "VERSION_ID" => distro.version_id = some(value),
            "VERSION_CODENAME" => distro.version_codename = some(value),
            "ID_LIKE" => distro.id_like = value.split_whitespace().map(str::to_owned).collect(),
            "PRETTY_NAME" => distro.pretty_name = some(value),
            _ => {}
        }
    }
    (!distro.id.is_empty()).then_some(distro)
}

/// A shell-quoted value: `"…"` with `\` escapes, `'…'` verbatim, or bare.
fn unquote(raw: &str) -> String {
    if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match (c, chars.clone().next()) {
                ('\\', Some(next @ ('$' | '"' | '\\' | '`'))) => {
                    out.push(next);
                    chars.next();
                }
                _ => out.push(c),
            }
        }
        out
    } else if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        inner.to_owned()
    } else {
        raw.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debian_bookworm() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
                    VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\n\
                    ID=debian\nHOME_URL=\"https://www.debian.org/\"\n";
        let d = parse(text).unwrap();
        assert_eq!(d.id, "debian");
        assert_eq!(d.version_id.as_deref(), Some("12"));
        assert_eq!(d.version_codename.as_deref(), Some("bookworm"));
        assert_eq!(
            d.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(d.purl_qualifier(), "debian-12");
    }

    #[test]
    fn quotes_escapes_and_derivatives() {
        let d = parse("# comment\nID='ubuntu'\nID_LIKE=\"debian  other\"\nPRETTY_NAME=\"a \\\"b\\\" \\$c\"\njunk\n").unwrap();
        assert_eq!(d.id, "ubuntu");
        assert!(d.is_like("debian"));
        assert_eq!(d.pretty_name.as_deref(), Some("a \"b\" $c"));
        assert_eq!(d.purl_qualifier(), "ubuntu");
        assert_eq!(parse("NAME=x\n"), None, "no ID, no distribution");
    }
}
