//! Parser directives (`# syntax=`, `# escape=`, `# check=`).
//!
//! BuildKit's rules: directives are comment lines at the very top of the file; the first line
//! that is not one (an instruction, a blank line, any other comment, an unknown directive)
//! ends them, and from then on `# escape=x` is an ordinary comment. Keys are case-insensitive;
//! each may appear once.

use super::SyntaxError;
use crate::ast::{Directive, Directives};

/// Tracks whether directives may still appear.
pub(super) struct DirectiveReader {
    done: bool,
}

impl DirectiveReader {
    pub(super) fn new() -> DirectiveReader {
        DirectiveReader { done: false }
    }

    /// Looks at one top-level line (left-trimmed, without its ending). Returns whether it was a
    /// directive, recording it in `into`.
    pub(super) fn read(
        &mut self,
        line: &str,
        number: usize,
        into: &mut Directives,
    ) -> Result<bool, SyntaxError> {
        if self.done {
            return Ok(false);
        }
        let Some((key, value)) = line.strip_prefix('#').and_then(split_directive) else {
            self.done = true;
            return Ok(false);
        };
        let key = key.to_ascii_lowercase();
        let already = match key.as_str() {
            "syntax" => into.syntax.is_some(),
            "escape" => into.escape_line.is_some(),
            "check" => into.check.is_some(),
            _ => {
                self.done = true;
                return Ok(false);
            }
        };
        if already {
            return Err(SyntaxError::new(
                number,
                format!("only one `{key}` parser directive can be used; remove this one"),
            ));
        }
        let directive = Directive {
            value: value.to_string(),
            line: number,
        };
        match key.as_str() {
            "syntax" => into.syntax = Some(directive),
            "check" => into.check = Some(directive),
            _ => {
                into.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(SyntaxError::new(
                            number,
                            format!(
                                "invalid escape character {value:?}: `# escape=` takes `\\` or `` ` ``"
                            ),
                        ));
                    }
                };
                into.escape_line = Some(number);
            }
        }
        Ok(true)
    }
}

/// Splits `key = value` the way BuildKit's `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` does
/// (after the `#` and any leading whitespace).
fn split_directive(text: &str) -> Option<(&str, &str)> {
    // RE2's `\s`: no vertical tab, unlike Unicode whitespace.
    let re_space = |c: char| matches!(c, '\t' | '\n' | '\u{0c}' | '\r' | ' ');
    let text = text.trim_start_matches(char::is_whitespace);
    if !text.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let key_end = text
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(text.len());
    let (key, rest) = text.split_at(key_end);
    let value = rest
        .trim_start_matches(re_space)
        .strip_prefix('=')?
        .trim_matches(re_space);
    if value.is_empty() {
        return None;
    }
    Some((key, value))
}

#[cfg(test)]
mod tests {
    use super::split_directive;

    #[test]
    fn directive_shapes() {
        assert_eq!(split_directive(" escape = `"), Some(("escape", "`")));
        assert_eq!(
            split_directive("syntax=docker/dockerfile:1 "),
            Some(("syntax", "docker/dockerfile:1"))
        );
        assert_eq!(split_directive("escape ="), None);
        assert_eq!(split_directive("1a=b"), None);
        assert_eq!(split_directive("a b=c"), None);
        assert_eq!(split_directive("Comment here."), None);
    }
}
