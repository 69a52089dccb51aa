//! Values as Go's `fmt` and `strconv` print them, where BuildKit's text is Go-printed and
//! berth must write the same bytes: quoted strings (`%q`, the parser dump, `CMD` history
//! lines) and durations (`HEALTHCHECK` history lines).

use std::fmt::Write;
use std::time::Duration;

use unicode_general_category::{GeneralCategory, get_general_category};

/// `s` as Go's `strconv.Quote` writes it, appended to `out`: printable characters as they
/// are, `"` and `\` escaped, the usual `\n`-style escapes, other controls as `\xHH`, and
/// characters Go does not print as `\uHHHH` or `\UHHHHHHHH`.
pub fn quote_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_print(c) => out.push(c),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
}

/// `s` as Go's `strconv.Quote` writes it.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    quote_into(&mut out, s);
    out
}

/// Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space
/// (so other spaces, controls, format, private-use and unassigned code points are escaped).
fn is_print(c: char) -> bool {
    use GeneralCategory::*;
    c == ' '
        || !matches!(
            get_general_category(c),
            SpaceSeparator
                | LineSeparator
                | ParagraphSeparator
                | Control
                | Format
                | Surrogate
                | PrivateUse
                | Unassigned
        )
}

/// A duration as Go's `time.Duration.String` prints it: `0s`, `100ms`, `1.5s`, `1m30s`,
/// `1h0m0s`.
pub fn duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}{}µs", ns / 1_000, fraction(ns % 1_000, 3));
    }
    if ns < 1_000_000_000 {
        return format!("{}{}ms", ns / 1_000_000, fraction(ns % 1_000_000, 6));
    }
    let secs = ns / 1_000_000_000;
    let s = format!("{}{}s", secs % 60, fraction(ns % 1_000_000_000, 9));
    match (secs / 3600, secs / 60 % 60) {
        (0, 0) => s,
        (0, m) => format!("{m}m{s}"),
        (h, m) => format!("{h}h{m}m{s}"),
    }
}

/// `.ddd` with `digits` places, trailing zeros dropped; empty when zero.
fn fraction(value: u128, digits: usize) -> String {
    if value == 0 {
        return String::new();
    }
    let padded = format!("{value:0digits$}");
    format!(".{}", padded.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            quote("\n\t\r\u{0}\u{7}\u{1b}\u{7f}"),
            r#""\n\t\r\x00\a\x1b\x7f""#
        );
        assert_eq!(quote("♥ ☃ é ✓ 日本"), "\"♥ ☃ é ✓ 日本\"");
        assert_eq!(quote("\u{a0}\u{200b}\u{feff}"), r#""\u00a0\u200b\ufeff""#);
        assert_eq!(quote("\u{85}\u{10fffd}"), r#""\u0085\U0010fffd""#);
        // Unassigned code points are escaped, as Go does.
        assert_eq!(quote("\u{378}"), r#""\u0378""#);
    }

    #[test]
    fn durations_read_as_go_prints_them() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (100_000_000, "100ms"),
            (1_500_000_000, "1.5s"),
            (30_000_000_000, "30s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (5_410_500_000_000, "1h30m10.5s"),
        ];
        for (ns, want) in cases {
            assert_eq!(duration(Duration::from_nanos(ns)), want, "{ns} ns");
        }
    }
}
