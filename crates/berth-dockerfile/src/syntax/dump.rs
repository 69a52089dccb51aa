//! BuildKit's S-expression form of a parsed Dockerfile, one line per instruction:
//! `(copy ["--from=build"] "a" "/b")`, `(env "k" "v" "=")`, `(onbuild (run "x"))`.

use crate::ast::{Args, Dockerfile, Instruction, KeyValue, Keyword};
use std::fmt::Write;

pub fn dump(df: &Dockerfile) -> String {
    let mut out = String::new();
    for instruction in &df.instructions {
        out.push('(');
        out.push_str(&node(instruction));
        out.push_str(")\n");
    }
    out
}

fn node(instruction: &Instruction) -> String {
    let mut out = match &instruction.keyword {
        Keyword::Unknown(_) => instruction.keyword_as_written.to_lowercase(),
        known => known.as_str().to_string(),
    };
    if !instruction.flags.is_empty() {
        out.push_str(" [");
        for (i, flag) in instruction.flags.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            quote_into(&mut out, flag);
        }
        out.push(']');
    }
    match &instruction.keyword {
        // BuildKit keeps nothing of an unknown instruction's arguments but one empty node.
        Keyword::Unknown(_) => out.push_str(" \"\""),
        Keyword::Arg => args_as_words(&mut out, &instruction.args),
        _ => args(&mut out, &instruction.args),
    }
    out.trim_matches(char::is_whitespace).to_string()
}

fn args(out: &mut String, args: &Args) {
    match args {
        Args::Empty => {}
        Args::Json(items) | Args::Words(items) => items.iter().for_each(|s| word(out, s)),
        Args::Shell(text) => word(out, text),
        Args::Pairs(pairs) => {
            for KeyValue {
                key,
                value,
                separator,
            } in pairs
            {
                word(out, key);
                word(out, value.as_deref().unwrap_or(""));
                word(out, separator);
            }
        }
        Args::Healthcheck { kind, command } => {
            word(out, kind);
            self::args(out, command);
        }
        Args::Onbuild(trigger) => {
            out.push_str(" (");
            out.push_str(&node(trigger));
            out.push(')');
        }
    }
}

/// ARG prints its words as written: `name` or `name=default`.
fn args_as_words(out: &mut String, args: &Args) {
    let Args::Pairs(pairs) = args else {
        return self::args(out, args);
    };
    for pair in pairs {
        match &pair.value {
            Some(value) => word(out, &format!("{}={value}", pair.key)),
            None => word(out, &pair.key),
        }
    }
}

fn word(out: &mut String, s: &str) {
    out.push(' ');
    quote_into(out, s);
}

/// Go's `strconv.Quote`.
pub(super) fn quote_into(out: &mut String, s: &str) {
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

/// Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
///
/// Without Unicode category tables this is an approximation outside ASCII: control, space
/// separator, format, private-use and noncharacter code points are escaped; code points not yet
/// assigned are printed as they are (Go would escape them).
fn is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    !(c.is_control()
        || c.is_whitespace()
        || is_format(u)
        || is_private_use(u)
        || is_noncharacter(u))
}

/// Unicode's `Cf` (format) characters.
fn is_format(u: u32) -> bool {
    matches!(u,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

fn is_private_use(u: u32) -> bool {
    matches!(u, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
}

fn is_noncharacter(u: u32) -> bool {
    (0xFDD0..=0xFDEF).contains(&u) || (u & 0xFFFE) == 0xFFFE
}

#[cfg(test)]
mod tests {
    use super::quote_into;

    fn quote(s: &str) -> String {
        let mut out = String::new();
        quote_into(&mut out, s);
        out
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            quote("\n\t\r\u{0}\u{7}\u{1b}\u{7f}"),
            r#""\n\t\r\x00\a\x1b\x7f""#
        );
        assert_eq!(quote("♥ ☃ é"), "\"♥ ☃ é\"");
        assert_eq!(quote("\u{a0}\u{200b}\u{feff}"), r#""\u00a0\u200b\ufeff""#);
        assert_eq!(quote("\u{10fffd}"), r#""\U0010fffd""#);
    }
}
