//! The parser: text to [`crate::ast::Dockerfile`], read the way BuildKit's
//! `frontend/dockerfile/parser` reads it, and [`dump`], its S-expression form.
//!
//! One pass over the lines:
//! - a UTF-8 byte-order mark at the start is dropped; lines end at `\n` (a `\r` before it is
//!   dropped too, so CRLF files read like LF files);
//! - parser directives (`# syntax=`, `# escape=`, `# check=`) are read from the top until the
//!   first line that is not one ([`directives`]);
//! - comment lines (`#` after optional whitespace) and blank lines between instructions are
//!   skipped, comments collected with their line numbers;
//! - an instruction's first line is left-trimmed; while a line ends with the escape character
//!   (trailing spaces and tabs allowed) the next line is appended as is, comment lines in
//!   between skipped and blank ones skipped with a warning; the file may end mid-continuation;
//! - the logical line becomes an instruction ([`instruction`]);
//! - RUN, COPY and ADD in shell form (and ONBUILD of them) with `<<` markers take the following
//!   lines as heredoc bodies, up to each delimiter ([`heredoc`]).

mod directives;
mod dump;
mod heredoc;
mod instruction;
mod json;
mod source;

pub use dump::dump;

use crate::ast::{
    Args, Comment, Directives, Dockerfile, Heredoc, Instruction, Keyword, Lines, SyntaxWarning,
};
use directives::DirectiveReader;
use source::{LineCursor, is_blank, is_comment, is_space, split_continuation, trim_newline};

/// Why a Dockerfile could not be parsed: the line (1-based) and what was expected there.
/// Callers add the file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

impl SyntaxError {
    fn new(line: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            line,
            message: message.into(),
        }
    }
}

/// Parses a Dockerfile.
pub fn parse(text: &str) -> Result<Dockerfile, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser {
        cursor: LineCursor::new(text),
        reader: DirectiveReader::new(),
        df: Dockerfile {
            directives: Directives::default(),
            instructions: Vec::new(),
            comments: Vec::new(),
            warnings: Vec::new(),
        },
    };
    while let Some(raw) = parser.cursor.next_line() {
        parser.top_level_line(raw)?;
    }
    if parser.df.instructions.is_empty() {
        let message = if text.trim_matches(is_space).is_empty() {
            "the file is empty: expected at least one instruction, such as FROM"
        } else {
            "file with no instructions (only comments, directives and blank lines): expected at \
             least one instruction, such as FROM"
        };
        return Err(SyntaxError::new(parser.cursor.line().max(1), message));
    }
    Ok(parser.df)
}

struct Parser<'a> {
    cursor: LineCursor<'a>,
    reader: DirectiveReader,
    df: Dockerfile,
}

impl Parser<'_> {
    /// A line outside any instruction: a directive, a comment, a blank line or the start of an
    /// instruction.
    fn top_level_line(&mut self, raw: &str) -> Result<(), SyntaxError> {
        let number = self.cursor.line();
        let line = trim_newline(raw).trim_start_matches(is_space);
        if self.reader.read(line, number, &mut self.df.directives)? {
            return Ok(());
        }
        if let Some(comment) = line.strip_prefix('#') {
            self.comment(number, comment);
            return Ok(());
        }
        let (first, continues) = split_continuation(line, self.df.directives.escape);
        if !continues && first.is_empty() {
            return Ok(());
        }
        let logical = self.continuation(first, continues);
        self.instruction(number, &logical)
    }

    fn comment(&mut self, line: usize, text: &str) {
        self.df.comments.push(Comment {
            line,
            text: text.trim_matches(is_space).to_string(),
        });
    }

    /// Joins continuation lines onto `first`.
    fn continuation(&mut self, first: &str, mut continues: bool) -> String {
        let escape = self.df.directives.escape;
        let mut logical = first.to_string();
        let mut empty_line = false;
        while continues {
            let Some(raw) = self.cursor.next_line() else {
                break;
            };
            if is_comment(raw) {
                let text = raw.trim_start_matches(is_space);
                self.comment(self.cursor.line(), trim_newline(&text[1..]));
                continue;
            }
            let line = trim_newline(raw);
            if is_blank(line) {
                empty_line = true;
                continue;
            }
            let (piece, more) = split_continuation(line, escape);
            logical.push_str(piece);
            continues = more;
        }
        if empty_line {
            self.df.warnings.push(SyntaxWarning {
                line: self.cursor.line(),
                message: format!(
                    "empty continuation line in `{}`: remove the blank line or end the \
                     instruction before it (BuildKit will refuse this in a future release)",
                    logical.trim_matches(is_space)
                ),
            });
        }
        logical
    }

    fn instruction(&mut self, start: usize, logical: &str) -> Result<(), SyntaxError> {
        let lines = Lines {
            start,
            end: self.cursor.line(),
        };
        let mut instruction = instruction::parse_line(logical, self.df.directives.escape, lines)
            .map_err(|message| SyntaxError::new(start, message))?;
        if can_contain_heredoc(&instruction) {
            let markers = heredoc::markers(&instruction.original)
                .map_err(|message| SyntaxError::new(start, message))?;
            for marker in markers {
                let body = self.heredoc_body(start, marker)?;
                instruction.heredocs.push(body);
            }
            instruction.lines.end = self.cursor.line();
            if let Args::Onbuild(trigger) = &mut instruction.args {
                trigger.heredocs = instruction.heredocs.clone();
                trigger.lines = instruction.lines;
            }
        }
        self.df.instructions.push(instruction);
        Ok(())
    }

    /// Reads a heredoc's body: the lines up to the one that is exactly the delimiter (after
    /// leading tabs, for `<<-`).
    fn heredoc_body(
        &mut self,
        start: usize,
        marker: heredoc::Marker,
    ) -> Result<Heredoc, SyntaxError> {
        let body_start = self.cursor.line() + 1;
        let mut content = String::new();
        loop {
            let Some(raw) = self.cursor.next_line() else {
                return Err(SyntaxError::new(
                    start,
                    format!(
                        "unterminated heredoc <<{}: expected a line `{}` to end it before the \
                         end of the file",
                        marker.name, marker.name
                    ),
                ));
            };
            let mut candidate = trim_newline(raw);
            let mut body_line = raw;
            if marker.chomp {
                candidate = candidate.trim_start_matches('\t');
                body_line = body_line.trim_start_matches('\t');
            }
            if candidate == marker.name {
                break;
            }
            content.push_str(body_line);
        }
        Ok(Heredoc {
            name: marker.name,
            content,
            expand: marker.expand,
            chomp: marker.chomp,
            lines: Lines {
                start: body_start,
                end: self.cursor.line(),
            },
        })
    }
}

/// RUN, COPY and ADD in shell form take heredocs, directly or as an ONBUILD trigger.
fn can_contain_heredoc(instruction: &Instruction) -> bool {
    let target = match &instruction.args {
        Args::Onbuild(trigger) => trigger,
        _ => instruction,
    };
    matches!(target.keyword, Keyword::Run | Keyword::Copy | Keyword::Add)
        && !matches!(target.args, Args::Json(_))
}
