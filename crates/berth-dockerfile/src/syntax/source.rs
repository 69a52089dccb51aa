//! Physical lines: how BuildKit cuts the text into lines and recognises comments, blank lines
//! and line continuations.

/// Hands out the file's physical lines, counting them from 1.
///
/// Lines are cut at `\n` only and keep their line ending, as BuildKit's scanner does: heredoc
/// bodies are copied with their endings untouched.
pub(super) struct LineCursor<'a> {
    rest: &'a str,
    line: usize,
}

impl<'a> LineCursor<'a> {
    pub(super) fn new(text: &'a str) -> LineCursor<'a> {
        LineCursor {
            rest: text,
            line: 0,
        }
    }

    /// The number of the line last handed out (0 before the first).
    pub(super) fn line(&self) -> usize {
        self.line
    }

    /// The next line with its ending, or `None` at the end of the text.
    pub(super) fn next_line(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let end = self.rest.find('\n').map_or(self.rest.len(), |i| i + 1);
        let (line, rest) = self.rest.split_at(end);
        self.rest = rest;
        self.line += 1;
        Some(line)
    }
}

/// Go's `unicode.IsSpace`, which is Unicode's `White_Space`, as Rust's `char::is_whitespace`.
pub(super) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// The whitespace BuildKit splits words on with its `[\t\v\f\r ]+` pattern.
pub(super) fn is_split_space(c: char) -> bool {
    matches!(c, '\t' | '\u{0b}' | '\u{0c}' | '\r' | ' ')
}

/// Drops every trailing `\r` and `\n`.
pub(super) fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

pub(super) fn is_comment(line: &str) -> bool {
    line.trim_start_matches(is_space).starts_with('#')
}

pub(super) fn is_blank(line: &str) -> bool {
    line.trim_start_matches(is_space).is_empty()
}

/// Splits off a line continuation: the escape character as the last character before any
/// trailing spaces and tabs, not itself preceded by the escape character. Returns the line
/// without it, and whether the line continues.
///
/// Like BuildKit, `foo \\` (an escaped escape) ends the line, and so does the ambiguous
/// `foo \\\`.
pub(super) fn split_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    let Some(before) = trimmed.strip_suffix(escape) else {
        return (line, false);
    };
    if before.ends_with(escape) {
        return (line, false);
    }
    (before, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_keeps_endings_and_counts() {
        let mut cursor = LineCursor::new("a\r\nb\n\nc");
        assert_eq!(cursor.next_line(), Some("a\r\n"));
        assert_eq!(cursor.next_line(), Some("b\n"));
        assert_eq!(cursor.next_line(), Some("\n"));
        assert_eq!(cursor.next_line(), Some("c"));
        assert_eq!(cursor.line(), 4);
        assert_eq!(cursor.next_line(), None);
    }

    #[test]
    fn continuation_rules() {
        assert_eq!(split_continuation("RUN a \\", '\\'), ("RUN a ", true));
        assert_eq!(split_continuation("RUN a \\ \t ", '\\'), ("RUN a ", true));
        assert_eq!(split_continuation("\\", '\\'), ("", true));
        assert_eq!(split_continuation("a\\\\", '\\'), ("a\\\\", false));
        assert_eq!(split_continuation("a `", '`'), ("a ", true));
        assert_eq!(split_continuation("a \\", '`'), ("a \\", false));
        assert_eq!(split_continuation("a", '\\'), ("a", false));
    }
}
