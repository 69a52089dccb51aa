//! Typed instructions: each [`ast::Instruction`] checked the way BuildKit's
//! `frontend/dockerfile/instructions` package checks it — the flags it takes, the number and
//! shape of its arguments — and turned into a value of its own type.
//!
//! Words stay as written (`$VERSION`, quotes and all): which variables they see depends on the
//! stage and the build arguments, so expansion is [`crate::describe`]'s job. What does not depend
//! on variables (a duration, `HEALTHCHECK` retries, a mount without `$`) is validated here, so a
//! linter sees the same errors a build would.

mod flags;
mod healthcheck;
mod mount;

use std::time::Duration;

use crate::ast::{self, Args, Keyword, Lines};
use flags::Kind;

pub use mount::{
    BindMount, CacheMount, Mount, MountSpec, SecretMount, Sharing, SshMount, TmpfsMount,
};

/// A value together with the Dockerfile lines it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub lines: Lines,
    pub value: T,
}

/// Why an instruction was refused: its first line and what was wrong. Callers add the file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct InstructionError {
    pub line: usize,
    pub message: String,
}

/// One instruction, typed. Strings are as written, unexpanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    From(From),
    Arg(Vec<ArgDecl>),
    Run(Run),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    /// `SHELL ["executable", "params"]`: exec form only.
    Shell(Vec<String>),
    Copy(Copy),
    Add(Add),
    Env(Vec<Pair>),
    Label(Vec<Pair>),
    /// Port specs as written (`80`, `53/udp`, `$PORT`); validated after expansion.
    Expose(Vec<String>),
    User(String),
    Workdir(String),
    Volume(Vec<String>),
    Stopsignal(String),
    Healthcheck(Healthcheck),
    Onbuild(Onbuild),
    Maintainer(String),
}

/// `FROM [--platform=…] image [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    pub image: String,
    pub platform: Option<String>,
    /// The stage name, lowercased (stage names are case-insensitive).
    pub name: Option<String>,
}

/// One name of an `ARG`, with its default if given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

/// One `key=value` of `ENV` or `LABEL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub key: String,
    pub value: String,
    /// Written in the legacy `ENV key value` form (no `=`).
    pub legacy: bool,
}

/// A command in shell form (run by the `SHELL`, `/bin/sh -c` by default) or exec form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellOrExec {
    Shell(String),
    Exec(Vec<String>),
}

/// `CMD`/`ENTRYPOINT`: the command and any heredoc bodies it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub command: ShellOrExec,
    pub heredocs: Vec<ast::Heredoc>,
}

/// `RUN [--mount=…] [--network=…] [--security=…] command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: ShellOrExec,
    pub heredocs: Vec<ast::Heredoc>,
    pub mounts: Vec<MountSpec>,
    pub network: Option<Network>,
    pub security: Option<Security>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Default,
    None,
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Sandbox,
    Insecure,
}

/// A source of `COPY`/`ADD`: a path (or URL) or the body of a heredoc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(String),
    /// `COPY <<EOF /dest`: a file named after the delimiter holding the body.
    Heredoc(ast::Heredoc),
}

/// What `COPY` and `ADD` share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub sources: Vec<Source>,
    pub dest: String,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub exclude: Vec<String>,
}

/// `COPY [--from=…] [--parents] …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub transfer: Transfer,
    /// A stage name or index, or an image reference.
    pub from: Option<String>,
    pub parents: bool,
}

/// `ADD [--checksum=…] [--keep-git-dir] [--unpack] …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Add {
    pub transfer: Transfer,
    pub checksum: Option<String>,
    /// `None` when not given (BuildKit then decides per source).
    pub keep_git_dir: Option<bool>,
    pub unpack: Option<bool>,
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [options] CMD …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// Turns off any healthcheck inherited from the base image.
    None,
    Check(Check),
}

/// A healthcheck. Zero durations and retries mean "the runtime's default", as in the image
/// config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub test: HealthTest,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: u32,
}

/// How the runtime runs the check: `CMD` (exec form) or `CMD-SHELL` (shell form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthTest {
    Cmd(Vec<String>),
    CmdShell(String),
}

/// `ONBUILD trigger`: kept as text, run when a later build uses the image as its base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onbuild {
    /// The trigger as it goes into the image config (`ONBUILD ` removed, heredocs appended).
    pub expression: String,
    /// The trigger as parsed.
    pub trigger: ast::Instruction,
}

/// Types every instruction of a Dockerfile, stopping at the first one that is refused.
pub fn parse_instructions(
    df: &ast::Dockerfile,
) -> Result<Vec<Located<Instruction>>, InstructionError> {
    df.instructions
        .iter()
        .map(|ins| {
            Ok(Located {
                lines: ins.lines,
                value: parse_instruction(ins)?,
            })
        })
        .collect()
}

/// Types one instruction.
pub fn parse_instruction(ins: &ast::Instruction) -> Result<Instruction, InstructionError> {
    typed(ins).map_err(|message| InstructionError {
        line: ins.lines.start,
        message,
    })
}

const NO_FLAGS: &[(&str, Kind)] = &[];

fn typed(ins: &ast::Instruction) -> Result<Instruction, String> {
    let name = ins.keyword.as_str().to_ascii_uppercase();
    let no_flags = || flags::parse(&name, &ins.flags, NO_FLAGS).map(|_| ());
    Ok(match &ins.keyword {
        Keyword::From => Instruction::From(from(ins)?),
        Keyword::Arg => {
            no_flags()?;
            Instruction::Arg(arg(&ins.args)?)
        }
        Keyword::Run => Instruction::Run(run(ins)?),
        Keyword::Cmd => {
            no_flags()?;
            Instruction::Cmd(command_line(ins, "CMD")?)
        }
        Keyword::Entrypoint => {
            no_flags()?;
            Instruction::Entrypoint(command_line(ins, "ENTRYPOINT")?)
        }
        Keyword::Shell => {
            no_flags()?;
            Instruction::Shell(shell(&ins.args)?)
        }
        Keyword::Copy => Instruction::Copy(copy(ins)?),
        Keyword::Add => Instruction::Add(add(ins)?),
        Keyword::Env => {
            no_flags()?;
            Instruction::Env(pairs(&ins.args, "ENV")?)
        }
        Keyword::Label => {
            no_flags()?;
            Instruction::Label(pairs(&ins.args, "LABEL")?)
        }
        Keyword::Expose => {
            no_flags()?;
            let ports = words(&ins.args);
            if ports.is_empty() {
                return Err(at_least_one("EXPOSE", "EXPOSE 80/tcp"));
            }
            Instruction::Expose(ports)
        }
        Keyword::User => {
            no_flags()?;
            Instruction::User(exactly_one(&ins.args, "USER", "USER app:app")?)
        }
        Keyword::Workdir => {
            no_flags()?;
            Instruction::Workdir(whole(&ins.args, "WORKDIR", "WORKDIR /app")?)
        }
        Keyword::Volume => {
            no_flags()?;
            Instruction::Volume(volume(&ins.args)?)
        }
        Keyword::Stopsignal => {
            no_flags()?;
            Instruction::Stopsignal(exactly_one(&ins.args, "STOPSIGNAL", "STOPSIGNAL SIGTERM")?)
        }
        Keyword::Healthcheck => Instruction::Healthcheck(healthcheck::parse(ins)?),
        Keyword::Onbuild => {
            no_flags()?;
            Instruction::Onbuild(onbuild(ins)?)
        }
        Keyword::Maintainer => {
            no_flags()?;
            Instruction::Maintainer(whole(&ins.args, "MAINTAINER", "MAINTAINER name")?)
        }
        Keyword::Unknown(word) => {
            return Err(format!(
                "unknown instruction: {} (the instructions are ADD, ARG, CMD, COPY, ENTRYPOINT, \
                 ENV, EXPOSE, FROM, HEALTHCHECK, LABEL, MAINTAINER, ONBUILD, RUN, SHELL, \
                 STOPSIGNAL, USER, VOLUME, WORKDIR)",
                word.to_ascii_uppercase()
            ));
        }
    })
}

fn from(ins: &ast::Instruction) -> Result<From, String> {
    let args = words(&ins.args);
    let name = match args.as_slice() {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let lower = name.to_ascii_lowercase();
            if !valid_stage_name(&lower) {
                return Err(format!(
                    "invalid name for build stage: {name:?}, name can't start with a number or \
                     contain symbols (use letters, digits, '-', '_' and '.', starting with a letter)"
                ));
            }
            Some(lower)
        }
        _ => {
            return Err(
                "FROM requires either one or three arguments: FROM image or FROM image AS name"
                    .into(),
            );
        }
    };
    let flags = flags::parse("FROM", &ins.flags, &[("platform", Kind::String)])?;
    Ok(From {
        image: args[0].clone(),
        platform: flags.string("platform"),
        name,
    })
}

/// BuildKit's `^[a-z][a-z0-9-_.]*$`, applied to the lowercased name.
pub fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

fn arg(args: &Args) -> Result<Vec<ArgDecl>, String> {
    let decls: Vec<ArgDecl> = match args {
        Args::Pairs(pairs) => pairs
            .iter()
            .map(|kv| ArgDecl {
                name: kv.key.clone(),
                default: kv.value.clone(),
            })
            .collect(),
        other => words(other)
            .into_iter()
            .map(|w| match w.split_once('=') {
                Some((k, v)) => ArgDecl {
                    name: k.to_string(),
                    default: Some(v.to_string()),
                },
                None => ArgDecl {
                    name: w,
                    default: None,
                },
            })
            .collect(),
    };
    if decls.is_empty() {
        return Err(at_least_one("ARG", "ARG NAME=default"));
    }
    if decls.iter().any(|d| d.name.is_empty()) {
        return Err("ARG names can not be blank".into());
    }
    Ok(decls)
}

fn run(ins: &ast::Instruction) -> Result<Run, String> {
    let flags = flags::parse(
        "RUN",
        &ins.flags,
        &[
            ("mount", Kind::Strings),
            ("network", Kind::String),
            ("security", Kind::String),
        ],
    )?;
    let network = match flags.string("network").as_deref() {
        None => None,
        Some("default") => Some(Network::Default),
        Some("none") => Some(Network::None),
        Some("host") => Some(Network::Host),
        Some(other) => {
            return Err(format!(
                "invalid network mode {other:?} (use default, none or host)"
            ));
        }
    };
    let security = match flags.string("security").as_deref() {
        None => None,
        Some("sandbox") => Some(Security::Sandbox),
        Some("insecure") => Some(Security::Insecure),
        Some(other) => {
            return Err(format!(
                "security {other:?} is not valid (use sandbox or insecure)"
            ));
        }
    };
    let mounts: Vec<MountSpec> = flags
        .strings("mount")
        .into_iter()
        .map(|raw| MountSpec { raw })
        .collect();
    for m in &mounts {
        m.check().map_err(|e| format!("--mount={}: {e}", m.raw))?;
    }
    let command = match &ins.args {
        Args::Empty => return Err(at_least_one("RUN", "RUN make")),
        Args::Json(items) => ShellOrExec::Exec(items.clone()),
        other => ShellOrExec::Shell(words(other).join(" ")),
    };
    Ok(Run {
        command,
        heredocs: ins.heredocs.clone(),
        mounts,
        network,
        security,
    })
}

fn command_line(ins: &ast::Instruction, name: &str) -> Result<CommandLine, String> {
    let command = match &ins.args {
        Args::Json(items) => ShellOrExec::Exec(items.clone()),
        // `CMD` and `ENTRYPOINT` with nothing after them clear the setting, like `[]`.
        Args::Empty => ShellOrExec::Exec(Vec::new()),
        Args::Shell(s) => ShellOrExec::Shell(s.clone()),
        other => {
            return Err(format!(
                "{name}: unexpected arguments {:?}",
                words(other).join(" ")
            ));
        }
    };
    Ok(CommandLine {
        command,
        heredocs: ins.heredocs.clone(),
    })
}

fn shell(args: &Args) -> Result<Vec<String>, String> {
    match args {
        Args::Json(items) if !items.is_empty() => Ok(items.clone()),
        Args::Json(_) | Args::Empty => Err(at_least_one("SHELL", r#"SHELL ["/bin/bash", "-c"]"#)),
        other => Err(format!(
            "SHELL requires the arguments to be in JSON form: write SHELL [{}]",
            words(other)
                .iter()
                .flat_map(|w| w.split_whitespace())
                .map(|w| format!("{w:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

const TRANSFER_FLAGS: [(&str, Kind); 4] = [
    ("chown", Kind::String),
    ("chmod", Kind::String),
    ("link", Kind::Bool),
    ("exclude", Kind::Strings),
];

fn copy(ins: &ast::Instruction) -> Result<Copy, String> {
    let mut allowed = TRANSFER_FLAGS.to_vec();
    allowed.extend([("from", Kind::String), ("parents", Kind::Bool)]);
    let flags = flags::parse("COPY", &ins.flags, &allowed)?;
    let transfer = transfer(ins, "COPY", &flags)?;
    if let Some(from) = flags.string("from") {
        if from.is_empty() {
            return Err("COPY --from needs a stage name, stage index or image".into());
        }
    }
    Ok(Copy {
        transfer,
        from: flags.string("from"),
        parents: flags.bool("parents").unwrap_or(false),
    })
}

fn add(ins: &ast::Instruction) -> Result<Add, String> {
    let mut allowed = TRANSFER_FLAGS.to_vec();
    allowed.extend([
        ("checksum", Kind::String),
        ("keep-git-dir", Kind::Bool),
        ("unpack", Kind::Bool),
    ]);
    let flags = flags::parse("ADD", &ins.flags, &allowed)?;
    Ok(Add {
        transfer: transfer(ins, "ADD", &flags)?,
        checksum: flags.string("checksum").filter(|c| !c.is_empty()),
        keep_git_dir: flags.bool("keep-git-dir"),
        unpack: flags.bool("unpack"),
    })
}

fn transfer(ins: &ast::Instruction, name: &str, flags: &flags::Flags) -> Result<Transfer, String> {
    let mut args = words(&ins.args);
    let Some(dest) = args.pop().filter(|_| !args.is_empty()) else {
        return Err(format!(
            "{name} requires at least two arguments, but only one was provided. Destination \
             could not be determined: write {name} <source>... <destination>"
        ));
    };
    if is_heredoc_marker(&dest) {
        return Err(format!("{name} cannot accept a heredoc as a destination"));
    }
    let mut heredocs = ins.heredocs.iter();
    let sources = args
        .into_iter()
        .map(|src| {
            if matches!(ins.args, Args::Words(_)) && is_heredoc_marker(&src) {
                if let Some(h) = heredocs.next() {
                    return Source::Heredoc(h.clone());
                }
            }
            Source::Path(src)
        })
        .collect();
    Ok(Transfer {
        sources,
        dest,
        chown: flags.string("chown").filter(|s| !s.is_empty()),
        chmod: flags.string("chmod").filter(|s| !s.is_empty()),
        link: flags.bool("link").unwrap_or(false),
        exclude: flags.strings("exclude"),
    })
}

/// `[digits]<<[-]name`, as the parser recognises heredoc markers.
fn is_heredoc_marker(word: &str) -> bool {
    word.trim_start_matches(|c: char| c.is_ascii_digit())
        .strip_prefix("<<")
        .is_some_and(|rest| !rest.trim_start_matches('-').trim_start().is_empty())
}

fn pairs(args: &Args, name: &str) -> Result<Vec<Pair>, String> {
    let Args::Pairs(kvs) = args else {
        return Err(at_least_one(name, &format!("{name} key=value")));
    };
    if kvs.is_empty() {
        return Err(at_least_one(name, &format!("{name} key=value")));
    }
    kvs.iter()
        .map(|kv| {
            if kv.key.is_empty() {
                return Err(format!("{name} names can not be blank"));
            }
            Ok(Pair {
                key: kv.key.clone(),
                value: kv.value.clone().unwrap_or_default(),
                legacy: kv.separator.is_empty(),
            })
        })
        .collect()
}

fn volume(args: &Args) -> Result<Vec<String>, String> {
    let vols = words(args);
    if vols.is_empty() {
        return Err(at_least_one("VOLUME", "VOLUME /data"));
    }
    vols.into_iter()
        .map(|v| {
            let v = v.trim().to_string();
            if v.is_empty() {
                Err("VOLUME specified can not be an empty string".to_string())
            } else {
                Ok(v)
            }
        })
        .collect()
}

fn onbuild(ins: &ast::Instruction) -> Result<Onbuild, String> {
    let Args::Onbuild(trigger) = &ins.args else {
        return Err(at_least_one("ONBUILD", "ONBUILD RUN make"));
    };
    match trigger.keyword {
        Keyword::Onbuild => {
            return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into());
        }
        Keyword::From | Keyword::Maintainer => {
            return Err(format!(
                "{} isn't allowed as an ONBUILD trigger",
                trigger.keyword.as_str().to_ascii_uppercase()
            ));
        }
        _ => {}
    }
    let mut expression = strip_keyword(&ins.original, "onbuild").to_string();
    for h in &ins.heredocs {
        expression.push('\n');
        expression.push_str(&h.content);
        expression.push_str(&h.name);
    }
    Ok(Onbuild {
        expression,
        trigger: (**trigger).clone(),
    })
}

/// `original` without its leading keyword and the blanks around it.
fn strip_keyword<'a>(original: &'a str, keyword: &str) -> &'a str {
    let trimmed = original.trim_start();
    match trimmed.get(..keyword.len()) {
        Some(head) if head.eq_ignore_ascii_case(keyword) => trimmed[keyword.len()..].trim_start(),
        _ => trimmed,
    }
}

/// The arguments as a list of words, whatever shape the parser gave them.
fn words(args: &Args) -> Vec<String> {
    match args {
        Args::Empty => Vec::new(),
        Args::Json(items) | Args::Words(items) => items.clone(),
        Args::Shell(s) => vec![s.clone()],
        Args::Pairs(kvs) => kvs
            .iter()
            .map(|kv| match &kv.value {
                Some(v) => format!("{}{}{}", kv.key, kv.separator, v),
                None => kv.key.clone(),
            })
            .collect(),
        Args::Healthcheck { kind, .. } => vec![kind.clone()],
        Args::Onbuild(trigger) => vec![trigger.original.clone()],
    }
}

/// The rest of the line as one string (WORKDIR, MAINTAINER take spaces).
fn whole(args: &Args, name: &str, example: &str) -> Result<String, String> {
    match args {
        Args::Shell(s) if !s.is_empty() => Ok(s.clone()),
        Args::Words(w) | Args::Json(w) if w.len() == 1 => Ok(w[0].clone()),
        Args::Empty => Err(exactly_one_message(name, example)),
        _ => Err(exactly_one_message(name, example)),
    }
}

/// Exactly one whitespace-separated word (USER, STOPSIGNAL).
fn exactly_one(args: &Args, name: &str, example: &str) -> Result<String, String> {
    let all: Vec<String> = words(args).iter().flat_map(|w| split_unquoted(w)).collect();
    match all.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(exactly_one_message(name, example)),
    }
}

/// Splits on whitespace outside quotes, keeping the quotes (they go to expansion later).
fn split_unquoted(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => {
                escaped = true;
                cur.push(c);
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (_, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn exactly_one_message(name: &str, example: &str) -> String {
    format!("{name} requires exactly one argument, such as: {example}")
}

fn at_least_one(name: &str, example: &str) -> String {
    format!("{name} requires at least one argument, such as: {example}")
}
