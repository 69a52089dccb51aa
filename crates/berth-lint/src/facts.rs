//! What the rules look at, worked out once per file: stages, their `FROM`s, and every `RUN`'s
//! script read by [`crate::shell`].

use berth_dockerfile::ast::{Args, Dockerfile, Instruction, KeyValue, Keyword};

use crate::shell::{self, Script};

/// Facts from outside the Dockerfile, which the caller gathers (the rule crate does no I/O).
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Whether the build context was looked at. Rules about it stay quiet when it was not
    /// (standard input, say).
    pub known: bool,
    /// Entries at the top of the build context that should almost never be sent to a
    /// builder and were found there (`.git`, `node_modules`).
    pub heavy_entries: Vec<String>,
    /// The context's `.dockerignore` patterns, one a line as written, if it has one.
    pub dockerignore: Option<Vec<String>>,
    /// Platforms (`os/arch[/variant]`) of base images, by the image as written in `FROM`,
    /// when the caller knows them.
    pub base_platforms: Vec<(String, Vec<String>)>,
    /// The platform the build targets, when the caller knows it.
    pub target_platform: Option<String>,
}

/// A `FROM` instruction, read.
#[derive(Debug)]
pub struct From<'a> {
    pub inst: &'a Instruction,
    /// The image as written (`python:${VERSION}-slim`), empty if missing.
    pub image: &'a str,
    /// The `AS` keyword as written, and the stage name.
    pub as_word: Option<&'a str>,
    pub name: Option<&'a str>,
    /// `--platform=` value as written.
    pub platform: Option<&'a str>,
}

/// A build stage: its `FROM` and the instructions after it.
#[derive(Debug)]
pub struct Stage<'a> {
    pub from: From<'a>,
    pub body: Vec<&'a Instruction>,
}

/// A `RUN` (also an `ONBUILD RUN`) with its script read.
#[derive(Debug)]
pub struct Run<'a> {
    pub inst: &'a Instruction,
    /// Index into [`Facts::stages`]; `None` before the first `FROM`.
    pub stage: Option<usize>,
    pub onbuild: bool,
    pub script: Script,
    /// The script's text, as the shell would get it.
    pub text: String,
}

pub struct Facts<'a> {
    pub file: &'a Dockerfile,
    pub context: &'a Context,
    /// `ARG`s before the first `FROM`.
    pub global_args: Vec<(&'a Instruction, &'a KeyValue)>,
    /// Instructions before the first `FROM` (global `ARG`s, or mistakes).
    pub preamble: Vec<&'a Instruction>,
    pub stages: Vec<Stage<'a>>,
    pub runs: Vec<Run<'a>>,
}

impl<'a> Facts<'a> {
    pub fn new(file: &'a Dockerfile, context: &'a Context) -> Facts<'a> {
        let mut facts = Facts {
            file,
            context,
            global_args: Vec::new(),
            preamble: Vec::new(),
            stages: Vec::new(),
            runs: Vec::new(),
        };
        for inst in &file.instructions {
            if inst.keyword == Keyword::From {
                facts.stages.push(Stage {
                    from: read_from(inst),
                    body: Vec::new(),
                });
                continue;
            }
            let stage = facts.stages.len().checked_sub(1);
            match facts.stages.last_mut() {
                Some(s) => s.body.push(inst),
                None => {
                    facts.preamble.push(inst);
                    if let (Keyword::Arg, Args::Pairs(pairs)) = (&inst.keyword, &inst.args) {
                        facts.global_args.extend(pairs.iter().map(|p| (inst, p)));
                    }
                }
            }
            let (run, onbuild) = match &inst.args {
                Args::Onbuild(trigger) if trigger.keyword == Keyword::Run => (&**trigger, true),
                _ if inst.keyword == Keyword::Run => (inst, false),
                _ => continue,
            };
            let text = script_text(run);
            facts.runs.push(Run {
                inst,
                stage,
                onbuild,
                script: shell::parse(&text),
                text,
            });
        }
        facts
    }

    /// The stage an instruction belongs to, by its index in [`Facts::stages`].
    pub fn stage_named(&self, name: &str) -> Option<usize> {
        self.stages
            .iter()
            .position(|s| s.from.name.is_some_and(|n| n.eq_ignore_ascii_case(name)))
    }
}

fn read_from(inst: &Instruction) -> From<'_> {
    let words: &[String] = match &inst.args {
        Args::Words(w) => w,
        _ => &[],
    };
    let (as_word, name) = match words {
        [_, kw, name, ..] if kw.eq_ignore_ascii_case("as") => {
            (Some(kw.as_str()), Some(name.as_str()))
        }
        _ => (None, None),
    };
    From {
        inst,
        image: words.first().map_or("", String::as_str),
        as_word,
        name,
        platform: flag_value(inst, "platform"),
    }
}

/// The value of `--name=value` among an instruction's flags.
pub fn flag_value<'a>(inst: &'a Instruction, name: &str) -> Option<&'a str> {
    inst.flags.iter().find_map(|f| {
        let rest = f.strip_prefix("--")?;
        let (n, v) = rest.split_once('=').unwrap_or((rest, ""));
        (n == name).then_some(v)
    })
}

/// Whether an instruction has the flag `--name` (with or without a value).
pub fn has_flag(inst: &Instruction, name: &str) -> bool {
    inst.flags.iter().any(|f| {
        f.strip_prefix("--")
            .is_some_and(|rest| rest.split('=').next() == Some(name))
    })
}

/// What the shell runs for a `RUN`: the shell form's text, the exec form's words joined, or —
/// for `RUN <<EOF` — the heredoc bodies.
fn script_text(inst: &Instruction) -> String {
    match &inst.args {
        Args::Shell(s) if s.trim_start().starts_with("<<") && !inst.heredocs.is_empty() => inst
            .heredocs
            .iter()
            .map(|h| h.content.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        Args::Shell(s) => s.clone(),
        Args::Json(words) => words.join(" "),
        Args::Words(words) => words.join(" "),
        _ => String::new(),
    }
}

/// The words of a `COPY`/`ADD`: sources then destination.
pub fn paths(inst: &Instruction) -> &[String] {
    match &inst.args {
        Args::Words(w) | Args::Json(w) => w,
        _ => &[],
    }
}

/// A `COPY`/`ADD`'s sources (all but the last word).
pub fn sources(inst: &Instruction) -> &[String] {
    let p = paths(inst);
    &p[..p.len().saturating_sub(1)]
}

/// The instruction's text after the keyword, for rules that read words (`WORKDIR`, `USER`).
pub fn rest(inst: &Instruction) -> String {
    match &inst.args {
        Args::Shell(s) => s.trim().to_string(),
        Args::Words(w) | Args::Json(w) => w.join(" "),
        _ => String::new(),
    }
}
