//! The syntax tree: a Dockerfile as written, before any meaning is given to it.
//!
//! It keeps what BuildKit's parser keeps (so [`crate::syntax::dump`] can print BuildKit's
//! S-expression form) and, for diagnostics, where everything came from.

/// Where a node came from: 1-based, inclusive line numbers in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lines {
    pub start: usize,
    pub end: usize,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub directives: Directives,
    pub instructions: Vec<Instruction>,
    /// Every comment line (not directives), with its line number, for `# berth-ignore=` and
    /// rules that read comments. The text is what follows the `#`, trimmed.
    pub comments: Vec<Comment>,
    /// Things that parse but are suspicious (an empty line inside a continuation, …).
    pub warnings: Vec<SyntaxWarning>,
}

/// Parser directives: `# syntax=`, `# escape=`, `# check=` at the very top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    pub syntax: Option<Directive>,
    /// The escape character, `\` unless `# escape=` says `` ` ``.
    pub escape: char,
    pub escape_line: Option<usize>,
    pub check: Option<Directive>,
}

impl Default for Directives {
    fn default() -> Directives {
        Directives {
            syntax: None,
            escape: '\\',
            escape_line: None,
            check: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub value: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub line: usize,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxWarning {
    pub line: usize,
    pub message: String,
}

/// The instructions BuildKit knows. Anything else parses as [`Keyword::Unknown`] and is refused
/// later, by [`crate::instructions`], with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Keyword {
    From,
    Arg,
    Run,
    Cmd,
    Entrypoint,
    Shell,
    Copy,
    Add,
    Env,
    Label,
    Expose,
    User,
    Workdir,
    Volume,
    Stopsignal,
    Healthcheck,
    Onbuild,
    Maintainer,
    /// As written, lowercased.
    Unknown(String),
}

impl Keyword {
    /// Lowercase name, as BuildKit's S-expression dump prints it.
    pub fn as_str(&self) -> &str {
        match self {
            Keyword::From => "from",
            Keyword::Arg => "arg",
            Keyword::Run => "run",
            Keyword::Cmd => "cmd",
            Keyword::Entrypoint => "entrypoint",
            Keyword::Shell => "shell",
            Keyword::Copy => "copy",
            Keyword::Add => "add",
            Keyword::Env => "env",
            Keyword::Label => "label",
            Keyword::Expose => "expose",
            Keyword::User => "user",
            Keyword::Workdir => "workdir",
            Keyword::Volume => "volume",
            Keyword::Stopsignal => "stopsignal",
            Keyword::Healthcheck => "healthcheck",
            Keyword::Onbuild => "onbuild",
            Keyword::Maintainer => "maintainer",
            Keyword::Unknown(s) => s,
        }
    }

    pub fn parse(word: &str) -> Keyword {
        match word.to_ascii_lowercase().as_str() {
            "from" => Keyword::From,
            "arg" => Keyword::Arg,
            "run" => Keyword::Run,
            "cmd" => Keyword::Cmd,
            "entrypoint" => Keyword::Entrypoint,
            "shell" => Keyword::Shell,
            "copy" => Keyword::Copy,
            "add" => Keyword::Add,
            "env" => Keyword::Env,
            "label" => Keyword::Label,
            "expose" => Keyword::Expose,
            "user" => Keyword::User,
            "workdir" => Keyword::Workdir,
            "volume" => Keyword::Volume,
            "stopsignal" => Keyword::Stopsignal,
            "healthcheck" => Keyword::Healthcheck,
            "onbuild" => Keyword::Onbuild,
            "maintainer" => Keyword::Maintainer,
            other => Keyword::Unknown(other.to_string()),
        }
    }
}

/// One instruction: a logical line (continuations joined) and its heredoc bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub keyword: Keyword,
    /// The keyword as written (`run`, `Run`, `RUN`): some lint rules care about case.
    pub keyword_as_written: String,
    /// The logical line as written, continuations joined the way BuildKit joins them.
    pub original: String,
    /// Leading `--name[=value]` flags, as written (`--from=build`).
    pub flags: Vec<String>,
    pub args: Args,
    /// Heredoc bodies, in the order their `<<` markers appear on the line.
    pub heredocs: Vec<Heredoc>,
    pub lines: Lines,
}

/// An instruction's arguments, in the shape BuildKit's parser gives each instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    /// Nothing after the keyword (and its flags).
    Empty,
    /// Exec form: a JSON array of strings (RUN, CMD, ENTRYPOINT, SHELL, COPY, ADD, VOLUME…).
    Json(Vec<String>),
    /// Shell form: the rest of the line as one string (RUN, CMD, ENTRYPOINT…).
    Shell(String),
    /// Whitespace-separated words (FROM, EXPOSE, USER, COPY/ADD sources and destination…).
    Words(Vec<String>),
    /// `key=value` pairs or the legacy `ENV key value` (ENV, LABEL, ARG).
    Pairs(Vec<KeyValue>),
    /// `HEALTHCHECK NONE` or `HEALTHCHECK [flags] CMD|other …`: the type word and its command.
    Healthcheck { kind: String, command: Box<Args> },
    /// `ONBUILD INSTRUCTION`: the trigger, parsed as an instruction of its own.
    Onbuild(Box<Instruction>),
}

/// One pair of ENV/LABEL/ARG. `value` is `None` for `ARG name` without a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Option<String>,
    /// `=` when written `key=value`; empty for legacy `ENV key value`.
    pub separator: &'static str,
}

/// A heredoc: `<<EOF` … `EOF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    /// The body, lines joined with `\n` (with a trailing `\n`), tabs stripped for `<<-`.
    pub content: String,
    /// Whether variables in the body are expanded: false when the delimiter is quoted.
    pub expand: bool,
    /// `<<-`: leading tabs stripped.
    pub chomp: bool,
    pub lines: Lines,
}
