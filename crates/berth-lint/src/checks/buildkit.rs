//! BuildKit's `docker build --check` rules, under BuildKit's names.

use std::collections::{HashMap, HashSet};

use berth_dockerfile::ast::{Args, Instruction, Keyword};
use berth_dockerfile::expand::Lexer;

use crate::facts::{self, Facts};
use crate::rule::{Origin, Rule, Severity, Sink};
use crate::vars;
use berth_dockerfile::ignore::{self, Patterns};

macro_rules! rule {
    ($id:literal, $hadolint:expr, $sev:ident, $summary:literal, $explanation:literal, $check:path $(, $exp:literal)?) => {
        Rule {
            id: $id,
            hadolint: $hadolint,
            severity: Severity::$sev,
            origin: Origin::BuildKit,
            summary: $summary,
            explanation: $explanation,
            experimental: false $(|| $exp)?,
            check: $check,
        }
    };
}

pub(crate) static RULES: &[Rule] = &[
    rule!(
        "StageNameCasing",
        None,
        Warning,
        "Stage names should be lowercase",
        "Stage names are case-insensitive, and writing them in lowercase keeps them apart from instruction keywords. Fix: rename the stage in lowercase (`FROM alpine AS builder-base`) and update every `--from=` and `FROM` that names it.",
        stage_name_casing
    ),
    rule!(
        "FromAsCasing",
        None,
        Warning,
        "The 'as' keyword should match the case of the 'from' keyword",
        "Mixing `FROM` with `as` (or `from` with `AS`) reads poorly. Fix: write `AS` in the same case as `FROM`: `FROM debian AS builder` or `from debian as builder`.",
        from_as_casing
    ),
    rule!(
        "NoEmptyContinuation",
        None,
        Warning,
        "Empty continuation lines will become errors in a future release",
        "An empty line inside a `\\`-continued instruction is deprecated; a future Dockerfile syntax will reject it. Fix: delete the empty line, or put a `#` comment on it (comment lines are allowed).",
        no_empty_continuation
    ),
    rule!(
        "ConsistentInstructionCasing",
        None,
        Warning,
        "All instructions should use the same casing (either upper or lower)",
        "Instruction keywords may be written in any case, but a file that mixes `RUN`, `run` and `Run` is hard to read. Fix: write every keyword in the case most of the file uses (usually uppercase).",
        consistent_instruction_casing
    ),
    rule!(
        "DuplicateStageName",
        Some("DL3024"),
        Error,
        "Stage names should be unique",
        "Two stages with the same name make `--from=NAME` and `FROM NAME` ambiguous; the build fails. Fix: give each stage its own name (`AS deb-builder`, `AS go-builder`).",
        duplicate_stage_name
    ),
    rule!(
        "ReservedStageName",
        None,
        Error,
        "Reserved words should not be used as stage names",
        "`scratch` and `context` have a meaning of their own in `FROM` and `--from`; a stage called so can never be referenced. Fix: choose another name (`AS builder`).",
        reserved_stage_name
    ),
    rule!(
        "JSONArgsRecommended",
        Some("DL3025"),
        Warning,
        "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals",
        "In shell form (`CMD my-server start`) the program runs as a child of `/bin/sh -c`, which does not pass on SIGTERM: the container then takes the full stop timeout to die and the program never shuts down cleanly. Fix: use exec form, `CMD [\"my-server\", \"start\"]`; if you need shell features, use a wrapper script in exec form, or set `SHELL` explicitly to say the shell is intended. (Unlike hadolint's DL3025, a stage with a `SHELL` instruction is not reported, as in BuildKit, and HEALTHCHECK is not checked.)",
        json_args_recommended
    ),
    rule!(
        "MaintainerDeprecated",
        Some("DL4000"),
        Warning,
        "The MAINTAINER instruction is deprecated, use a label instead to define an image author",
        "`MAINTAINER` is deprecated. Fix: `LABEL org.opencontainers.image.authors=\"name@example.com\"`.",
        maintainer_deprecated
    ),
    rule!(
        "UndefinedArgInFrom",
        None,
        Warning,
        "FROM command must use declared ARGs",
        "A `FROM` can only use build arguments declared by an `ARG` before the first `FROM` (or BuildKit's predefined ones such as `BUILDPLATFORM`); anything else expands to an empty string, often because of a typo. Fix: declare it at the top (`ARG VARIANT=-alpine` before the first `FROM`) or correct the name.",
        undefined_arg_in_from
    ),
    rule!(
        "WorkdirRelativePath",
        None,
        Warning,
        "Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes",
        "A relative `WORKDIR` is relative to the base image's working directory, which can change upstream without notice. Fix: make it absolute (`WORKDIR /usr/src/app`), or set an absolute `WORKDIR` earlier in the stage.",
        workdir_relative_path
    ),
    rule!(
        "UndefinedVar",
        None,
        Warning,
        "Variables should be defined before their use",
        "A `$NAME` in an instruction BuildKit expands (ENV, ARG, COPY, ADD, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL) that no `ARG` or `ENV` defines expands to an empty string, usually because of a typo. Fix: declare it (`ARG NAME` / `ENV NAME=…`) before use, or fix the name. berth cannot see the environment a base image brings, so it reports this only in stages built `FROM scratch` or on such stages of the same file; shell-form RUN/CMD/ENTRYPOINT are the shell's business and not checked.",
        undefined_var
    ),
    rule!(
        "MultipleInstructionsDisallowed",
        None,
        Warning,
        "Multiple instructions of the same type should not be used in the same stage",
        "An image has one CMD, one ENTRYPOINT and one HEALTHCHECK; within a stage only the last of each counts and the earlier ones (reported) do nothing. Fix: delete the earlier instruction, or merge it into the last one.",
        multiple_instructions_disallowed
    ),
    rule!(
        "LegacyKeyValueFormat",
        None,
        Warning,
        "Legacy key/value format with whitespace separator should not be used",
        "`ENV key value` (a space instead of `=`) is deprecated and can only set one variable. Fix: `ENV key=value`, quoting values with spaces (`ENV DEPS=\"curl git\"`).",
        legacy_key_value_format
    ),
    rule!(
        "InvalidBaseImagePlatform",
        None,
        Error,
        "Base image platform does not match expected target platform",
        "The base image has no variant for the platform the stage is built for, so the build runs (under emulation) or pulls something else than intended. Fix: pick a base image published for that platform, or set `FROM --platform=` to a platform it has. berth knows a base image's platforms only when the caller tells it (the rule library's `Context`); the command line checks without pulling, so it does not report this rule yet.",
        invalid_base_image_platform
    ),
    rule!(
        "RedundantTargetPlatform",
        None,
        Warning,
        "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior",
        "`FROM --platform=$TARGETPLATFORM` asks for what a build does anyway. Fix: remove the `--platform` flag.",
        redundant_target_platform
    ),
    rule!(
        "SecretsUsedInArgOrEnv",
        None,
        Warning,
        "Sensitive data should not be used in the ARG or ENV commands",
        "Values of `ARG` and `ENV` are kept in the image's history and configuration, where anyone who pulls the image can read them. Fix: pass secrets with a secret mount, `RUN --mount=type=secret,id=token,env=TOKEN …`, and `--secret id=token,env=TOKEN` on the build command.",
        secrets_used_in_arg_or_env
    ),
    rule!(
        "InvalidDefaultArgInFrom",
        None,
        Warning,
        "Default value for global ARG results in an empty or invalid base image name",
        "With no `--build-arg`, the `FROM` line expands its `ARG`s to their defaults; here that gives an empty or invalid image reference, so the build only works when the caller remembers the argument. Fix: give the `ARG` a default (`ARG TAG=latest`) or use a fallback (`${TAG:-3.20}`).",
        invalid_default_arg_in_from
    ),
    rule!(
        "FromPlatformFlagConstDisallowed",
        None,
        Warning,
        "FROM --platform flag should not use a constant value",
        "A constant `--platform` pins the stage to one platform, so the Dockerfile can no longer build multi-platform images. Fix: drop the flag and pass `--platform` to the build, or use `$BUILDPLATFORM`; a stage meant for one platform says so in its name (`AS build_amd64`), which this rule accepts.",
        from_platform_flag_const_disallowed
    ),
    rule!(
        "CopyIgnoredFile",
        None,
        Warning,
        "Attempting to Copy file that is excluded by .dockerignore",
        "`.dockerignore` keeps this path out of the build context, so `COPY`/`ADD` will not find it and the build fails. Fix: remove the pattern from `.dockerignore`, add a `!path` exception, or stop copying the path.",
        copy_ignored_file
    ),
    rule!(
        "InvalidDefinitionDescription",
        None,
        Style,
        "Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`",
        "Tools (`docker buildx build --call=outline`) read the comment right above a `FROM … AS name` or `ARG name` as its description when the comment starts with the name. Fix: start the comment with the name (`# VERSION of the program`), or put an empty line between the comment and the instruction. Experimental: enabled by `# check=experimental=InvalidDefinitionDescription` (or `=all`).",
        invalid_definition_description,
        true
    ),
    rule!(
        "ExposeProtoCasing",
        None,
        Warning,
        "Protocol in EXPOSE instruction should be lowercase",
        "`EXPOSE 80/TCP` works but the protocol is conventionally lowercase. Fix: `EXPOSE 80/tcp`.",
        expose_proto_casing
    ),
    rule!(
        "ExposeInvalidFormat",
        None,
        Warning,
        "IP address and host-port mapping should not be used in EXPOSE instruction",
        "`EXPOSE` documents the ports the container listens on; an IP address or a host port (`EXPOSE 127.0.0.1:80:80`, `EXPOSE 80:80`) is a `docker run -p` concern and will be an error in a future release. Fix: `EXPOSE 80`, and publish with `-p` at run time.",
        expose_invalid_format
    ),
];

fn stage_name_casing(f: &Facts, out: &mut Sink) {
    for stage in &f.stages {
        if let Some(name) = stage.from.name
            && name != name.to_lowercase()
        {
            out.report(
                stage.from.inst.lines.start,
                format!("Stage name '{name}' should be lowercase"),
            );
        }
    }
}

fn is_lower(s: &str) -> bool {
    s == s.to_lowercase()
}

fn is_upper(s: &str) -> bool {
    s == s.to_uppercase()
}

fn from_as_casing(f: &Facts, out: &mut Sink) {
    for stage in &f.stages {
        let from = &stage.from.inst.keyword_as_written;
        if let Some(as_word) = stage.from.as_word {
            let mismatch =
                (is_upper(from) && !is_upper(as_word)) || (is_lower(from) && !is_lower(as_word));
            if mismatch {
                out.report(
                    stage.from.inst.lines.start,
                    format!("'{as_word}' and '{from}' keywords' casing do not match"),
                );
            }
        }
    }
}

fn no_empty_continuation(f: &Facts, out: &mut Sink) {
    let mut seen = HashSet::new();
    for warning in &f.file.warnings {
        if !warning
            .message
            .to_ascii_lowercase()
            .contains("continuation")
        {
            continue;
        }
        // Reported on the instruction, as BuildKit does.
        let line = f
            .file
            .instructions
            .iter()
            .find(|i| i.lines.start <= warning.line && warning.line <= i.lines.end)
            .map_or(warning.line, |i| i.lines.start);
        if seen.insert(line) {
            out.report(line, "Empty continuation line");
        }
    }
}

fn all_instructions<'a>(f: &'a Facts) -> impl Iterator<Item = &'a Instruction> {
    f.file.instructions.iter()
}

fn consistent_instruction_casing(f: &Facts, out: &mut Sink) {
    let (mut lower, mut upper) = (0, 0);
    for inst in all_instructions(f) {
        let kw = &inst.keyword_as_written;
        if is_lower(kw) {
            lower += 1;
        } else if is_upper(kw) {
            upper += 1;
        }
    }
    let majority_lower = lower > upper;
    for inst in all_instructions(f) {
        let kw = &inst.keyword_as_written;
        let wrong = if majority_lower {
            (!is_lower(kw)).then_some("lowercase")
        } else {
            (!is_upper(kw)).then_some("uppercase")
        };
        if let Some(case) = wrong {
            out.report(
                inst.lines.start,
                format!("Command '{kw}' should match the case of the command majority ({case})"),
            );
        }
    }
}

fn duplicate_stage_name(f: &Facts, out: &mut Sink) {
    let mut seen = HashSet::new();
    for stage in &f.stages {
        if let Some(name) = stage.from.name
            && !seen.insert(name.to_lowercase())
        {
            out.report(
                stage.from.inst.lines.start,
                format!("Duplicate stage name '{name}', stage names should be unique"),
            );
        }
    }
}

fn reserved_stage_name(f: &Facts, out: &mut Sink) {
    for stage in &f.stages {
        if let Some(name) = stage.from.name {
            let lower = name.to_lowercase();
            if lower == "scratch" || lower == "context" {
                out.report(
                    stage.from.inst.lines.start,
                    format!("'{name}' is reserved and should not be used as a stage name"),
                );
            }
        }
    }
}

/// Whether the stage, or a stage of this file it builds on, has a `SHELL` before `before`.
fn shell_set(f: &Facts, stage: usize, before: usize, depth: usize) -> bool {
    let s = &f.stages[stage];
    if s.body
        .iter()
        .any(|i| i.keyword == Keyword::Shell && i.lines.start < before)
    {
        return true;
    }
    match f.stage_named(s.from.image) {
        Some(parent) if parent < stage && depth < 64 => shell_set(f, parent, usize::MAX, depth + 1),
        _ => false,
    }
}

fn json_args_recommended(f: &Facts, out: &mut Sink) {
    for (index, stage) in f.stages.iter().enumerate() {
        for inst in &stage.body {
            let kw = &inst.keyword;
            if (*kw == Keyword::Cmd || *kw == Keyword::Entrypoint)
                && matches!(inst.args, Args::Shell(_))
                && !shell_set(f, index, inst.lines.start, 0)
            {
                out.report(
                    inst.lines.start,
                    format!(
                        "JSON arguments recommended for {} to prevent unintended behavior related to OS signals",
                        kw.as_str().to_uppercase()
                    ),
                );
            }
        }
    }
}

fn maintainer_deprecated(f: &Facts, out: &mut Sink) {
    for inst in all_instructions(f) {
        if inst.keyword == Keyword::Maintainer {
            out.report(
                inst.lines.start,
                "MAINTAINER instruction is deprecated in favor of using label",
            );
        }
    }
}

fn global_arg_names<'a>(f: &'a Facts) -> HashSet<&'a str> {
    f.global_args
        .iter()
        .map(|(_, kv)| kv.key.as_str())
        .collect()
}

fn undefined_arg_in_from(f: &Facts, out: &mut Sink) {
    let declared = global_arg_names(f);
    let escape = f.file.directives.escape;
    for stage in &f.stages {
        let words = std::iter::once(stage.from.image).chain(stage.from.platform);
        let mut reported = HashSet::new();
        for word in words {
            for name in vars::undefined(word, escape, &|n| declared.contains(n), false) {
                if reported.insert(name.clone()) {
                    out.report(
                        stage.from.inst.lines.start,
                        format!("FROM argument '{name}' is not declared"),
                    );
                }
            }
        }
    }
}

fn workdir_relative_path(f: &Facts, out: &mut Sink) {
    let mut absolute_in: Vec<bool> = Vec::with_capacity(f.stages.len());
    for (index, stage) in f.stages.iter().enumerate() {
        let mut absolute = match f.stage_named(stage.from.image) {
            Some(parent) if parent < index => absolute_in[parent],
            _ => false,
        };
        for inst in &stage.body {
            if inst.keyword != Keyword::Workdir {
                continue;
            }
            let path = facts::rest(inst);
            let path = path.trim_matches('"');
            if path.starts_with('/') || path.starts_with('$') || is_windows_absolute(path) {
                absolute = true;
            } else if !absolute {
                out.report(
                    inst.lines.start,
                    format!(
                        "Relative workdir '{path}' can have unexpected results if the base image changes"
                    ),
                );
            }
        }
        absolute_in.push(absolute);
    }
}

pub(crate) fn is_windows_absolute(path: &str) -> bool {
    let mut chars = path.chars();
    matches!((chars.next(), chars.next()), (Some(l), Some(':')) if l.is_ascii_alphabetic())
}

/// The words of an instruction BuildKit expands, for [`undefined_var`].
fn expanded_words(inst: &Instruction) -> Vec<&str> {
    match (&inst.keyword, &inst.args) {
        (Keyword::Run | Keyword::Cmd | Keyword::Entrypoint | Keyword::Shell, _) => Vec::new(),
        (Keyword::Healthcheck | Keyword::Onbuild | Keyword::Maintainer | Keyword::From, _) => {
            Vec::new()
        }
        (_, Args::Pairs(pairs)) => pairs
            .iter()
            .flat_map(|p| p.value.as_deref())
            .chain(pairs.iter().map(|p| p.key.as_str()))
            .collect(),
        (_, Args::Words(w) | Args::Json(w)) => w.iter().map(String::as_str).collect(),
        (_, Args::Shell(s)) => vec![s.as_str()],
        _ => Vec::new(),
    }
}

fn undefined_var(f: &Facts, out: &mut Sink) {
    let escape = f.file.directives.escape;
    // What each stage ends with, for stages built on it; `None`: an outside base image,
    // whose environment berth cannot see.
    let mut env_of: Vec<Option<HashSet<String>>> = Vec::with_capacity(f.stages.len());
    for (index, stage) in f.stages.iter().enumerate() {
        let inherited = match f.stage_named(stage.from.image) {
            Some(parent) if parent < index => env_of[parent].clone(),
            _ if stage.from.image.eq_ignore_ascii_case("scratch") => Some(HashSet::new()),
            _ => None,
        };
        let Some(mut known) = inherited else {
            env_of.push(None);
            continue;
        };
        known.insert("PATH".to_string());
        for inst in &stage.body {
            let mut reported = HashSet::new();
            for word in expanded_words(inst) {
                for name in vars::undefined(word, escape, &|n| known.contains(n), true) {
                    if reported.insert(name.clone()) {
                        out.report(
                            inst.lines.start,
                            format!("Usage of undefined variable '${name}'"),
                        );
                    }
                }
            }
            if let (Keyword::Env | Keyword::Arg, Args::Pairs(pairs)) = (&inst.keyword, &inst.args) {
                known.extend(pairs.iter().map(|p| p.key.clone()));
            }
        }
        env_of.push(Some(known));
    }
}

fn multiple_instructions_disallowed(f: &Facts, out: &mut Sink) {
    for stage in &f.stages {
        let mut last: HashMap<&str, &Instruction> = HashMap::new();
        for inst in &stage.body {
            let name = match inst.keyword {
                Keyword::Cmd => "CMD",
                Keyword::Entrypoint => "ENTRYPOINT",
                Keyword::Healthcheck => "HEALTHCHECK",
                _ => continue,
            };
            if let Some(previous) = last.insert(name, inst) {
                out.report(
                    previous.lines.start,
                    format!(
                        "Multiple {name} instructions should not be used in the same stage because only the last one will be used"
                    ),
                );
            }
        }
    }
}

fn legacy_key_value_format(f: &Facts, out: &mut Sink) {
    for inst in all_instructions(f) {
        let name = match inst.keyword {
            Keyword::Env => "ENV",
            Keyword::Label => "LABEL",
            _ => continue,
        };
        if let Args::Pairs(pairs) = &inst.args
            && pairs.iter().any(|p| p.separator.is_empty())
        {
            out.report(
                inst.lines.start,
                format!(
                    "\"{name} key=value\" should be used instead of legacy \"{name} key value\" format"
                ),
            );
        }
    }
}

fn invalid_base_image_platform(f: &Facts, out: &mut Sink) {
    for stage in &f.stages {
        let Some(platforms) = f
            .context
            .base_platforms
            .iter()
            .find(|(image, _)| image == stage.from.image)
            .map(|(_, p)| p)
        else {
            continue;
        };
        let expected = match stage.from.platform {
            Some(p) if !p.contains('$') => p.to_string(),
            _ => match &f.context.target_platform {
                Some(p) => p.clone(),
                None => continue,
            },
        };
        let os_arch = |p: &str| p.split('/').take(2).collect::<Vec<_>>().join("/");
        if !platforms.iter().any(|p| os_arch(p) == os_arch(&expected)) {
            out.report(
                stage.from.inst.lines.start,
                format!(
                    "Base image {} was pulled with platform \"{}\", expected \"{expected}\" for current build",
                    stage.from.image,
                    platforms.join(", ")
                ),
            );
        }
    }
}

fn redundant_target_platform(f: &Facts, out: &mut Sink) {
    for stage in &f.stages {
        if let Some(p @ ("$TARGETPLATFORM" | "${TARGETPLATFORM}")) = stage.from.platform {
            out.report(
                stage.from.inst.lines.start,
                format!(
                    "Setting platform to predefined {p} in FROM is redundant as this is the default behavior"
                ),
            );
        }
    }
}

/// BuildKit's test: an `_`-separated part of the name is a secret word, and none is an
/// allowed one.
pub(crate) fn looks_secret(key: &str) -> bool {
    const DENY: &[&str] = &[
        "apikey",
        "auth",
        "credential",
        "credentials",
        "key",
        "password",
        "pword",
        "passwd",
        "secret",
        "token",
    ];
    const ALLOW: &[&str] = &["public", "file", "version"];
    let parts: Vec<String> = key.split('_').map(str::to_ascii_lowercase).collect();
    parts.iter().any(|p| DENY.contains(&p.as_str()))
        && !parts.iter().any(|p| ALLOW.contains(&p.as_str()))
}

fn secrets_used_in_arg_or_env(f: &Facts, out: &mut Sink) {
    for inst in all_instructions(f) {
        let name = match inst.keyword {
            Keyword::Env => "ENV",
            Keyword::Arg => "ARG",
            _ => continue,
        };
        if let Args::Pairs(pairs) = &inst.args {
            for p in pairs.iter().filter(|p| looks_secret(&p.key)) {
                out.report(
                    inst.lines.start,
                    format!(
                        "Do not use ARG or ENV instructions for sensitive data ({name} \"{}\")",
                        p.key
                    ),
                );
            }
        }
    }
}

fn invalid_default_arg_in_from(f: &Facts, out: &mut Sink) {
    let escape = f.file.directives.escape;
    // Defaults as written, quotes around them dropped; an undeclared name expands to nothing.
    let defaults: HashMap<String, String> = f
        .global_args
        .iter()
        .map(|(_, kv)| {
            let value = kv.value.as_deref().unwrap_or("").trim_matches('"');
            (kv.key.clone(), value.to_string())
        })
        .collect();
    for (index, stage) in f.stages.iter().enumerate() {
        let image = stage.from.image;
        if !image.contains('$') {
            continue;
        }
        // A word that does not expand names no image at all.
        let valid = Lexer::new(escape)
            .word(image, &defaults)
            .is_ok_and(|expanded| {
                f.stage_named(&expanded).is_some_and(|s| s < index)
                    || expanded.eq_ignore_ascii_case("scratch")
                    || berth_oci::Reference::parse(&expanded).is_ok()
            });
        if !valid {
            out.report(
                stage.from.inst.lines.start,
                format!(
                    "Default value for ARG {image} results in empty or invalid base image name"
                ),
            );
        }
    }
}

fn from_platform_flag_const_disallowed(f: &Facts, out: &mut Sink) {
    for stage in &f.stages {
        let Some(platform) = stage.from.platform else {
            continue;
        };
        if platform.contains('$') {
            continue;
        }
        let Ok(p) = berth_oci::Platform::parse(platform) else {
            continue;
        };
        let name = stage.from.name.unwrap_or("");
        if name.contains(p.os.as_str()) || name.contains(p.architecture.as_str()) {
            continue;
        }
        out.report(
            stage.from.inst.lines.start,
            format!("FROM --platform flag should not use constant value \"{platform}\""),
        );
    }
}

fn copy_ignored_file(f: &Facts, out: &mut Sink) {
    let Some(patterns) = &f.context.dockerignore else {
        return;
    };
    // An unreadable .dockerignore is the builder's error to report, not this rule's.
    let Ok(matcher) = Patterns::parse(&patterns.join("\n")) else {
        return;
    };
    // Exceptions can bring back a file inside an ignored directory: too subtle to judge
    // statically, so BuildKit does not try, and neither does berth.
    if matcher.has_exceptions() {
        return;
    }
    let ignores_everything = matcher
        .iter()
        .any(|p| matches!(p.text(), "*" | "**" | "**/*"));
    for stage in &f.stages {
        for inst in &stage.body {
            let verb = match inst.keyword {
                Keyword::Copy => "Copy",
                Keyword::Add => "Add",
                _ => continue,
            };
            if facts::has_flag(inst, "from") {
                continue;
            }
            for src in facts::sources(inst) {
                if src.contains("://") || src.starts_with("git@") {
                    continue;
                }
                let cleaned = ignore::clean(src);
                let clean = match cleaned.trim_start_matches('/') {
                    "" => ".",
                    rest => rest,
                };
                let ignored = if clean == "." {
                    ignores_everything
                } else {
                    matcher.excludes(clean)
                };
                if ignored {
                    out.report(
                        inst.lines.start,
                        format!("Attempting to {verb} file \"{clean}\" that is excluded by .dockerignore"),
                    );
                }
            }
        }
    }
}

fn invalid_definition_description(f: &Facts, out: &mut Sink) {
    let comments: HashMap<usize, &str> = f
        .file
        .comments
        .iter()
        .map(|c| (c.line, c.text.as_str()))
        .collect();
    for inst in all_instructions(f) {
        let (what, name) = match (&inst.keyword, &inst.args) {
            (Keyword::From, Args::Words(w)) if w.len() >= 3 => ("build stage", w[2].as_str()),
            (Keyword::Arg, Args::Pairs(p)) if p.len() == 1 => ("argument", p[0].key.as_str()),
            _ => continue,
        };
        // The comment block right above the instruction; its first line is the description.
        let mut first = None;
        let mut line = inst.lines.start;
        while line > 1 {
            match comments.get(&(line - 1)) {
                Some(text) => {
                    first = Some(*text);
                    line -= 1;
                }
                None => break,
            }
        }
        if let Some(text) = first
            && text.split_whitespace().next() != Some(name)
        {
            out.report(
                inst.lines.start,
                format!("Comment for {what} should follow the format: `# {name} <description>`"),
            );
        }
    }
}

fn expose_words<'a>(f: &'a Facts) -> impl Iterator<Item = (&'a Instruction, &'a str)> {
    all_instructions(f)
        .filter(|i| i.keyword == Keyword::Expose)
        .flat_map(|i| match &i.args {
            Args::Words(w) | Args::Json(w) => w.iter().map(move |w| (i, w.as_str())).collect(),
            _ => Vec::new(),
        })
}

fn expose_proto_casing(f: &Facts, out: &mut Sink) {
    for (inst, word) in expose_words(f) {
        if let Some((_, proto)) = word.rsplit_once('/')
            && proto != proto.to_lowercase()
        {
            out.report(
                inst.lines.start,
                format!("Defined protocol '{word}' in EXPOSE instruction should be lowercase"),
            );
        }
    }
}

fn expose_invalid_format(f: &Facts, out: &mut Sink) {
    for (inst, word) in expose_words(f) {
        if word.contains(':') && !word.starts_with('$') {
            out.report(
                inst.lines.start,
                format!(
                    "EXPOSE instruction should not define an IP address or host-port mapping, found '{word}'"
                ),
            );
        }
    }
}
