//! The resolved build description: what the builder runs, with no Dockerfile syntax left.
//!
//! [`resolve`] reads the typed instructions the way BuildKit's `dockerfile2llb` dispatches them:
//! - global `ARG`s (before the first `FROM`) and the automatic platform args are visible in
//!   `FROM` lines; inside a stage only when re-declared with `ARG NAME`;
//! - `--build-arg` overrides defaults of declared `ARG`s; undeclared ones are reported, except
//!   the predefined proxy args (passed to `RUN` only, never into the image) and `BUILDKIT_*`;
//! - every instruction sees one snapshot of the variables, taken before it runs (so
//!   `ENV a=1 b=$a` uses the old `a`); `ARG` and `ENV` both set variables, the later wins;
//! - a stage built `FROM` another stage starts from that stage's variables (ENV and ARG values
//!   alike, as BuildKit's state carries both) and image config;
//! - words are expanded where BuildKit expands them; shell-form `RUN`/`CMD`/`ENTRYPOINT` bodies
//!   are not (the shell does that when the container runs);
//! - only the stages the target needs are described, dependencies first.

mod metadata;
mod values;

pub use metadata::step as metadata_step;

use std::collections::{BTreeMap, BTreeSet};

use berth_oci::Platform;

use crate::ast::{self, Lines};
use crate::config::DEFAULT_PATH;
use crate::expand::{Lexer, Vars};
use crate::instructions::{
    self, ArgDecl, CommandLine, Healthcheck, Instruction, Located, Mount, Network, Security,
    ShellOrExec, parse_instruction,
};

/// What the caller of a build decides.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--build-arg NAME=value`.
    pub build_args: BTreeMap<String, String>,
    /// `--target`: a stage name; the last stage when absent.
    pub target: Option<String>,
    /// The platform the image is built for; the build platform when absent.
    pub target_platform: Option<Platform>,
    /// The platform the build runs on; the host's when absent.
    pub build_platform: Option<Platform>,
    /// The `ENV` of base images, keyed by the reference as written after expansion (`alpine:3`),
    /// once the builder has fetched their configs. Words after `FROM image` can use them.
    pub base_env: BTreeMap<String, Vec<(String, String)>>,
    /// The `ONBUILD` triggers of base images (their config's `OnBuild`), keyed like
    /// `base_env`: they run right after the `FROM` of a stage built on the image.
    pub base_onbuild: BTreeMap<String, Vec<String>>,
}

/// A build, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildDescription {
    /// The stages the target needs, in an order where every stage comes after those it uses.
    pub stages: Vec<Stage>,
    /// The index (in the Dockerfile) of the stage whose result is the image.
    pub target: usize,
    /// `HTTP_PROXY` & co. from `--build-arg`: in every `RUN`'s environment, never in the image.
    pub proxy_env: Vec<(String, String)>,
    pub warnings: Vec<BuildWarning>,
}

impl BuildDescription {
    /// The stage with this index in the Dockerfile, if the target needs it.
    pub fn stage(&self, index: usize) -> Option<&Stage> {
        self.stages.iter().find(|s| s.index == index)
    }
}

/// Something worth telling the user that does not stop the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildWarning {
    pub line: Option<usize>,
    pub message: String,
}

/// One `FROM` and what follows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// `AS name`, lowercased.
    pub name: Option<String>,
    /// Position among the Dockerfile's stages, from 0 (what `COPY --from=0` means).
    pub index: usize,
    pub base: Base,
    /// The platform this stage builds for.
    pub platform: Platform,
    /// The `FROM` line.
    pub lines: Lines,
    pub steps: Vec<Located<Step>>,
}

/// Where a stage starts.
// One per stage: the size of the `Image` variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// An image reference, expanded; the platform from `--platform` when given.
    Image {
        reference: String,
        platform: Option<Platform>,
    },
    /// An earlier stage, by index.
    Stage(usize),
    /// `FROM scratch`: an empty filesystem.
    Scratch,
}

/// Where `COPY --from` and `RUN --mount=from=` take files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// The build context.
    Context,
    /// An earlier stage, by index.
    Stage(usize),
    /// An image reference.
    Image(String),
}

/// One instruction's effect, fully expanded.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Run(RunStep),
    Copy(CopyStep),
    Add(AddStep),
    /// `ENV`: set in the image config and for later steps.
    Env(Vec<(String, String)>),
    /// `ARG`: the values now set for later steps (not in the image config). `None` when
    /// declared without a value from anywhere.
    Arg(Vec<(String, Option<String>)>),
    Label(Vec<(String, String)>),
    /// `port/proto`, ranges spelled out, in BuildKit's order (the words as written, sorted).
    Expose(Vec<String>),
    User(String),
    Workdir(String),
    Volume(Vec<String>),
    Stopsignal(String),
    Healthcheck(Healthcheck),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    Shell(Vec<String>),
    /// A trigger for builds that use this image as their base, as text.
    Onbuild(String),
    Maintainer(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunStep {
    /// As written: a shell-form body is expanded by the shell, with `env` as its environment.
    pub command: ShellOrExec,
    pub heredocs: Vec<ast::Heredoc>,
    /// Mounts with every value expanded; `from` resolved in `mount_sources` (same order).
    pub mounts: Vec<Mount>,
    pub mount_sources: Vec<FileSource>,
    pub network: Option<Network>,
    pub security: Option<Security>,
    /// The process environment: image `ENV` and `ARG` values, in order of definition.
    pub env: Vec<(String, String)>,
    /// The build args in scope, as BuildKit lists them before the command in the history
    /// (`RUN |2 A=1 B=2 …`): every `ARG` this stage (or the stage it is built `FROM`)
    /// declared, once each in order of first declaration, with its value now (an `ENV` of
    /// the same name wins; empty when it has none).
    pub build_args: Vec<(String, String)>,
}

/// A source of `COPY`/`ADD`, expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopySource {
    Path(String),
    /// A heredoc: the file name and its contents (expanded unless the delimiter was quoted).
    Inline {
        name: String,
        content: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyStep {
    pub from: FileSource,
    pub sources: Vec<CopySource>,
    pub dest: String,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddStep {
    pub sources: Vec<CopySource>,
    pub dest: String,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub exclude: Vec<String>,
    pub checksum: Option<String>,
    pub keep_git_dir: Option<bool>,
    pub unpack: Option<bool>,
}

/// Why a build cannot be described: the Dockerfile line when there is one, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescribeError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("{0}")]
    Options(String),
}

fn at(lines: Lines, message: impl Into<String>) -> DescribeError {
    DescribeError::Line {
        line: lines.start,
        message: message.into(),
    }
}

/// Build args that need no `ARG`: BuildKit passes proxies to `RUN` and reads `BUILDKIT_*` itself.
fn is_predefined(name: &str) -> bool {
    const PROXIES: [&str; 5] = [
        "http_proxy",
        "https_proxy",
        "ftp_proxy",
        "no_proxy",
        "all_proxy",
    ];
    PROXIES.iter().any(|p| p.eq_ignore_ascii_case(name))
}

fn is_builtin(name: &str) -> bool {
    is_predefined(name) || name.starts_with("BUILDKIT_") || name == "SOURCE_DATE_EPOCH"
}

/// Variables, in order of definition; setting one again replaces it in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Env(Vec<(String, String)>);

impl Env {
    fn set(&mut self, key: &str, value: &str) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.0.push((key.to_string(), value.to_string())),
        }
    }
}

impl Vars for Env {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one `ONBUILD` trigger as an image config stores it (`RUN make`).
fn image_trigger(text: &str) -> Result<ast::Instruction, String> {
    let df = crate::syntax::parse(text).map_err(|e| e.message)?;
    let mut instructions = df.instructions.into_iter();
    match (instructions.next(), instructions.next()) {
        (Some(ins), None) => Ok(ins),
        _ => Err("expected exactly one instruction".into()),
    }
}

/// A stage as the Dockerfile has it, before resolution.
struct RawStage {
    from: Located<instructions::From>,
    body: Vec<Located<Instruction>>,
}

/// What a stage hands to the stages built from it.
#[derive(Clone)]
struct Outcome {
    vars: Env,
    /// The names its `ARG`s declared, in order: the stages built from it inherit them.
    args: Vec<String>,
    platform: Platform,
    onbuild: Vec<ast::Instruction>,
}

/// Resolves a parsed Dockerfile for one build.
pub fn resolve(
    df: &ast::Dockerfile,
    opts: &BuildOptions,
) -> Result<BuildDescription, DescribeError> {
    let typed = instructions::parse_instructions(df).map_err(|e| DescribeError::Line {
        line: e.line,
        message: e.message,
    })?;
    let (meta_args, raw_stages) = split_stages(typed)?;
    check_stage_names(&raw_stages)?;
    let target = target_index(&raw_stages, opts)?;

    let build_platform = opts.build_platform.clone().unwrap_or_else(Platform::host);
    let target_platform = opts
        .target_platform
        .clone()
        .unwrap_or_else(|| build_platform.clone());
    let target_name = raw_stages[target]
        .from
        .value
        .name
        .clone()
        .unwrap_or_else(|| "default".into());
    let mut global = platform_args(&build_platform, &target_platform, &target_name, opts);
    let mut declared: BTreeSet<String> = BTreeSet::new();
    for decl in &meta_args {
        for a in &decl.value {
            declared.insert(a.name.clone());
            let value = match (opts.build_args.get(&a.name), &a.default) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(d)) => Some(expand(d, &global, df, decl.lines)?),
                (None, None) => None,
            };
            if let Some(v) = value {
                global.set(&a.name, &v);
            }
        }
    }

    let ctx = Context {
        df,
        opts,
        global: &global,
        target_platform: &target_platform,
    };
    let bases = raw_stages
        .iter()
        .enumerate()
        .map(|(i, st)| ctx.base(i, st, &raw_stages))
        .collect::<Result<Vec<_>, _>>()?;
    let needed = needed_stages(target, &raw_stages, &bases)?;

    let mut outcomes: BTreeMap<usize, Outcome> = BTreeMap::new();
    let mut stages = Vec::new();
    for &i in &needed {
        let (stage, outcome) = ctx.stage(i, &raw_stages, &bases[i], &outcomes)?;
        for step in &stage.steps {
            if let Step::Arg(args) = &step.value {
                declared.extend(args.iter().map(|(k, _)| k.clone()));
            }
        }
        outcomes.insert(i, outcome);
        stages.push(stage);
    }

    let proxy_env = opts
        .build_args
        .iter()
        .filter(|(k, _)| is_predefined(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let warnings = opts
        .build_args
        .keys()
        .filter(|k| !declared.contains(*k) && !is_builtin(k) && !is_platform_arg(k))
        .map(|k| BuildWarning {
            line: None,
            message: format!(
                "build argument {k} was given but no ARG in the stages being built declares it: \
                 add `ARG {k}` where it is used, or drop --build-arg {k}"
            ),
        })
        .collect();
    Ok(BuildDescription {
        stages,
        target,
        proxy_env,
        warnings,
    })
}

fn is_platform_arg(name: &str) -> bool {
    matches!(
        name,
        "BUILDPLATFORM"
            | "BUILDOS"
            | "BUILDOSVERSION"
            | "BUILDARCH"
            | "BUILDVARIANT"
            | "TARGETPLATFORM"
            | "TARGETOS"
            | "TARGETOSVERSION"
            | "TARGETARCH"
            | "TARGETVARIANT"
            | "TARGETSTAGE"
    )
}

/// The automatic args, each overridable by `--build-arg`.
fn platform_args(build: &Platform, target: &Platform, stage: &str, opts: &BuildOptions) -> Env {
    let os_version = |p: &Platform| p.os_version.clone().unwrap_or_default();
    // As containerd spells them (BuildKit's values): arm64's default variant is left out.
    let variant = |p: &Platform| {
        p.variant
            .clone()
            .filter(|v| !(p.architecture == "arm64" && v == "v8"))
            .unwrap_or_default()
    };
    let spelled = |p: &Platform| {
        let mut parts = vec![p.os.clone(), p.architecture.clone()];
        parts.extend(Some(variant(p)).filter(|v| !v.is_empty()));
        parts.join("/")
    };
    let mut env = Env::default();
    for (k, v) in [
        ("BUILDPLATFORM", spelled(build)),
        ("BUILDOS", build.os.clone()),
        ("BUILDOSVERSION", os_version(build)),
        ("BUILDARCH", build.architecture.clone()),
        ("BUILDVARIANT", variant(build)),
        ("TARGETPLATFORM", spelled(target)),
        ("TARGETOS", target.os.clone()),
        ("TARGETOSVERSION", os_version(target)),
        ("TARGETARCH", target.architecture.clone()),
        ("TARGETVARIANT", variant(target)),
        ("TARGETSTAGE", stage.to_string()),
    ] {
        env.set(k, opts.build_args.get(k).map_or(&v, |o| o));
    }
    env
}

fn expand(
    word: &str,
    vars: &Env,
    df: &ast::Dockerfile,
    lines: Lines,
) -> Result<String, DescribeError> {
    Lexer::new(df.directives.escape)
        .word(word, vars)
        .map_err(|e| at(lines, e.message))
}

type MetaArgs = Vec<Located<Vec<ArgDecl>>>;

/// Global `ARG`s, then one group of instructions per `FROM`.
fn split_stages(
    typed: Vec<Located<Instruction>>,
) -> Result<(MetaArgs, Vec<RawStage>), DescribeError> {
    let mut meta = Vec::new();
    let mut stages: Vec<RawStage> = Vec::new();
    for ins in typed {
        match (ins.value, stages.last_mut()) {
            (Instruction::From(from), _) => stages.push(RawStage {
                from: Located {
                    lines: ins.lines,
                    value: from,
                },
                body: Vec::new(),
            }),
            (Instruction::Arg(args), None) => meta.push(Located {
                lines: ins.lines,
                value: args,
            }),
            (_, None) => {
                return Err(at(
                    ins.lines,
                    "no build stage in current context: only ARG may come before the first FROM",
                ));
            }
            (value, Some(stage)) => stage.body.push(Located {
                lines: ins.lines,
                value,
            }),
        }
    }
    if stages.is_empty() {
        return Err(DescribeError::Options(
            "the Dockerfile has no FROM: start a stage with FROM <image> (or FROM scratch)".into(),
        ));
    }
    Ok((meta, stages))
}

fn check_stage_names(stages: &[RawStage]) -> Result<(), DescribeError> {
    let mut seen: BTreeMap<&str, Lines> = BTreeMap::new();
    for st in stages {
        if let Some(name) = &st.from.value.name {
            if let Some(first) = seen.insert(name, st.from.lines) {
                return Err(at(
                    st.from.lines,
                    format!(
                        "duplicate stage name {name:?}: line {} already names a stage so; \
                         stage names (compared case-insensitively) must be unique",
                        first.start
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn target_index(stages: &[RawStage], opts: &BuildOptions) -> Result<usize, DescribeError> {
    let Some(target) = &opts.target else {
        return Ok(stages.len() - 1);
    };
    let wanted = target.to_ascii_lowercase();
    stages
        .iter()
        .position(|s| s.from.value.name.as_deref() == Some(wanted.as_str()))
        .ok_or_else(|| {
            let names: Vec<&str> = stages
                .iter()
                .filter_map(|s| s.from.value.name.as_deref())
                .collect();
            DescribeError::Options(format!(
                "target stage {target:?} could not be found; the named stages are: {}",
                if names.is_empty() {
                    "(none: name a stage with FROM image AS name)".to_string()
                } else {
                    names.join(", ")
                }
            ))
        })
}

/// The stage named `name` among those before `before`.
fn earlier_stage(stages: &[RawStage], before: usize, name: &str) -> Option<usize> {
    let name = name.to_ascii_lowercase();
    stages[..before]
        .iter()
        .rposition(|s| s.from.value.name.as_deref() == Some(name.as_str()))
}

/// The stages `target` needs, ascending: every dependency is an earlier stage, so ascending
/// order builds dependencies first.
fn needed_stages(
    target: usize,
    stages: &[RawStage],
    bases: &[(Base, Option<Platform>)],
) -> Result<Vec<usize>, DescribeError> {
    let mut needed = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !needed.insert(i) {
            continue;
        }
        if let Base::Stage(b) = bases[i].0 {
            todo.push(b);
        }
        for ins in &stages[i].body {
            for dep in stage_refs(i, stages, ins)? {
                todo.push(dep);
            }
        }
    }
    Ok(needed.into_iter().collect())
}

/// Stages an instruction of stage `current` takes files from.
fn stage_refs(
    current: usize,
    stages: &[RawStage],
    ins: &Located<Instruction>,
) -> Result<Vec<usize>, DescribeError> {
    let mut refs = Vec::new();
    match &ins.value {
        Instruction::Copy(c) => {
            if let Some(from) = &c.from {
                if let FileSource::Stage(i) = copy_source(current, stages, from, ins.lines)? {
                    refs.push(i);
                }
            }
        }
        Instruction::Run(r) => {
            for m in &r.mounts {
                if let Some(from) = m.from_value() {
                    if let FileSource::Stage(i) = mount_source(current, stages, &from, ins.lines)? {
                        refs.push(i);
                    }
                }
            }
        }
        _ => {}
    }
    Ok(refs)
}

/// `COPY --from=`: a stage index, a stage name, or an image — never a variable.
fn copy_source(
    current: usize,
    stages: &[RawStage],
    from: &str,
    lines: Lines,
) -> Result<FileSource, DescribeError> {
    if from.contains('$') {
        return Err(at(
            lines,
            "variable expansion is not supported for --from, define a new stage with FROM using \
             ARG from global scope as a workaround",
        ));
    }
    if let Ok(index) = from.parse::<i64>() {
        return match usize::try_from(index) {
            Ok(i) if i < current => Ok(FileSource::Stage(i)),
            Ok(i) if i < stages.len() => Err(at(
                lines,
                format!(
                    "cannot copy from stage {from:?}, it needs to be defined before current stage \
                     {current}: move the stage up, or copy from an earlier one"
                ),
            )),
            _ => Err(at(
                lines,
                format!(
                    "invalid stage index {index}: the Dockerfile has stages 0 to {}",
                    stages.len() - 1
                ),
            )),
        };
    }
    mount_source(current, stages, from, lines)
}

/// A stage name (earlier stages only) or an image reference.
fn mount_source(
    current: usize,
    stages: &[RawStage],
    from: &str,
    lines: Lines,
) -> Result<FileSource, DescribeError> {
    if let Some(i) = earlier_stage(stages, current, from) {
        return Ok(FileSource::Stage(i));
    }
    let lower = from.to_ascii_lowercase();
    if stages[current..]
        .iter()
        .any(|s| s.from.value.name.as_deref() == Some(lower.as_str()))
    {
        return Err(at(
            lines,
            format!(
                "cannot copy from stage {from:?}, it needs to be defined before current stage: \
                 move stage {from:?} above this one"
            ),
        ));
    }
    Ok(FileSource::Image(from.to_string()))
}

struct Context<'a> {
    df: &'a ast::Dockerfile,
    opts: &'a BuildOptions,
    global: &'a Env,
    target_platform: &'a Platform,
}

impl Context<'_> {
    /// A stage's base and explicit platform, from its `FROM` line expanded with the global args.
    fn base(
        &self,
        index: usize,
        st: &RawStage,
        stages: &[RawStage],
    ) -> Result<(Base, Option<Platform>), DescribeError> {
        let lines = st.from.lines;
        let from = &st.from.value;
        let image = expand(&from.image, self.global, self.df, lines)?;
        if image.is_empty() {
            return Err(at(
                lines,
                format!(
                    "base name ({}) should not be blank: set the variable with ARG before the \
                     first FROM or with --build-arg",
                    from.image
                ),
            ));
        }
        let platform = match &from.platform {
            None => None,
            Some(p) => {
                let value = expand(p, self.global, self.df, lines)?;
                if value.is_empty() {
                    return Err(at(
                        lines,
                        format!("empty platform value from expression {p}"),
                    ));
                }
                Some(
                    Platform::parse(&value)
                        .map_err(|e| at(lines, format!("failed to parse platform {p}: {e}")))?,
                )
            }
        };
        let base = match earlier_stage(stages, index, &image) {
            Some(i) if image == image.to_ascii_lowercase() => Base::Stage(i),
            _ if image == "scratch" => Base::Scratch,
            _ => Base::Image {
                reference: image,
                platform: platform.clone(),
            },
        };
        Ok((base, platform))
    }

    fn stage(
        &self,
        index: usize,
        stages: &[RawStage],
        (base, explicit): &(Base, Option<Platform>),
        outcomes: &BTreeMap<usize, Outcome>,
    ) -> Result<(Stage, Outcome), DescribeError> {
        let raw = &stages[index];
        let mut args = Vec::new();
        let (mut vars, platform, triggers) = match base {
            Base::Stage(parent) => {
                let Some(p) = outcomes.get(parent) else {
                    return Err(at(raw.from.lines, "base stage was not resolved"));
                };
                args = p.args.clone();
                (
                    p.vars.clone(),
                    explicit.clone().unwrap_or_else(|| p.platform.clone()),
                    p.onbuild.clone(),
                )
            }
            Base::Image { reference, .. } => {
                let mut env = Env::default();
                for (k, v) in self.opts.base_env.get(reference).into_iter().flatten() {
                    env.set(k, v);
                }
                let mut triggers = Vec::new();
                for text in self.opts.base_onbuild.get(reference).into_iter().flatten() {
                    triggers.push(image_trigger(text).map_err(|message| {
                        at(
                            raw.from.lines,
                            format!("ONBUILD trigger {text:?} of {reference}: {message}"),
                        )
                    })?);
                }
                (
                    env,
                    explicit
                        .clone()
                        .unwrap_or_else(|| self.target_platform.clone()),
                    triggers,
                )
            }
            Base::Scratch => (
                Env::default(),
                explicit
                    .clone()
                    .unwrap_or_else(|| self.target_platform.clone()),
                Vec::new(),
            ),
        };
        if vars.get("PATH").is_none() && platform.os != "windows" {
            vars.set("PATH", DEFAULT_PATH);
        }

        // A parent stage's ONBUILD triggers run first in the child, as in BuildKit.
        let mut body: Vec<Located<Instruction>> = Vec::new();
        for trigger in &triggers {
            let value = parse_instruction(trigger).map_err(|e| {
                at(
                    raw.from.lines,
                    format!("ONBUILD trigger from the base: {}", e.message),
                )
            })?;
            body.push(Located {
                lines: raw.from.lines,
                value,
            });
        }
        body.extend(raw.body.iter().cloned());

        let mut steps = Vec::new();
        let mut onbuild = Vec::new();
        for ins in &body {
            if let Instruction::Onbuild(o) = &ins.value {
                onbuild.push(o.trigger.clone());
            }
            let step = self.step(index, stages, ins, &mut vars, &mut args)?;
            steps.push(Located {
                lines: ins.lines,
                value: step,
            });
        }
        let stage = Stage {
            name: raw.from.value.name.clone(),
            index,
            base: base.clone(),
            platform: platform.clone(),
            lines: raw.from.lines,
            steps,
        };
        Ok((
            stage,
            Outcome {
                vars,
                args,
                platform,
                onbuild,
            },
        ))
    }

    /// One instruction against the variables as they are before it; updates them (and
    /// `args`, the names of the stage's `ARG`s) after.
    fn step(
        &self,
        current: usize,
        stages: &[RawStage],
        ins: &Located<Instruction>,
        vars: &mut Env,
        args: &mut Vec<String>,
    ) -> Result<Step, DescribeError> {
        let lines = ins.lines;
        let snapshot = vars.clone();
        let word = |w: &str| expand(w, &snapshot, self.df, lines);
        let opt_word = |w: &Option<String>| w.as_deref().map(word).transpose();
        Ok(match &ins.value {
            Instruction::From(_) => return Err(at(lines, "FROM inside a stage")),
            Instruction::Arg(decls) => {
                let mut out = Vec::new();
                for d in decls {
                    let value = match (self.opts.build_args.get(&d.name), &d.default) {
                        (Some(v), _) => Some(v.clone()),
                        (None, Some(default)) => Some(word(default)?),
                        (None, None) => self.global.get(&d.name).map(str::to_string),
                    };
                    if let Some(v) = &value {
                        vars.set(&d.name, v);
                    }
                    if !args.contains(&d.name) {
                        args.push(d.name.clone());
                    }
                    out.push((d.name.clone(), value));
                }
                Step::Arg(out)
            }
            Instruction::Run(r) => {
                let mut mounts = Vec::new();
                let mut mount_sources = Vec::new();
                for spec in &r.mounts {
                    let mount = spec
                        .parse(&mut |v| {
                            Lexer::new(self.df.directives.escape)
                                .word(v, &snapshot)
                                .map_err(|e| e.message)
                        })
                        .map_err(|e| at(lines, format!("--mount={}: {e}", spec.raw)))?;
                    let source = match mount_from(&mount) {
                        Some(from) => mount_source(current, stages, from, lines)?,
                        None => FileSource::Context,
                    };
                    mounts.push(mount);
                    mount_sources.push(source);
                }
                Step::Run(RunStep {
                    command: r.command.clone(),
                    heredocs: r.heredocs.clone(),
                    mounts,
                    mount_sources,
                    network: r.network,
                    security: r.security,
                    env: snapshot.0.clone(),
                    build_args: args
                        .iter()
                        .map(|name| {
                            let value = snapshot.get(name).unwrap_or_default();
                            (name.clone(), value.to_string())
                        })
                        .collect(),
                })
            }
            Instruction::Copy(c) => {
                let t = &c.transfer;
                Step::Copy(CopyStep {
                    from: match &c.from {
                        Some(f) => copy_source(current, stages, f, lines)?,
                        None => FileSource::Context,
                    },
                    sources: self.sources(&t.sources, &snapshot, lines)?,
                    dest: word(&t.dest)?,
                    chown: opt_word(&t.chown)?,
                    chmod: opt_word(&t.chmod)?,
                    link: t.link,
                    parents: c.parents,
                    exclude: t.exclude.clone(),
                })
            }
            Instruction::Add(a) => {
                let t = &a.transfer;
                Step::Add(AddStep {
                    sources: self.sources(&t.sources, &snapshot, lines)?,
                    dest: word(&t.dest)?,
                    chown: opt_word(&t.chown)?,
                    chmod: opt_word(&t.chmod)?,
                    link: t.link,
                    exclude: t.exclude.clone(),
                    checksum: opt_word(&a.checksum)?,
                    keep_git_dir: a.keep_git_dir,
                    unpack: a.unpack,
                })
            }
            metadata => {
                let step = metadata::step(metadata, &snapshot, self.df.directives.escape)
                    .map_err(|message| at(lines, message))?
                    .ok_or_else(|| at(lines, "this instruction needs a stage around it"))?;
                // ENV sets variables for the instructions after it, not for its own words.
                if let Step::Env(pairs) = &step {
                    for (k, v) in pairs {
                        vars.set(k, v);
                    }
                }
                step
            }
        })
    }

    fn sources(
        &self,
        sources: &[instructions::Source],
        vars: &Env,
        lines: Lines,
    ) -> Result<Vec<CopySource>, DescribeError> {
        sources
            .iter()
            .map(|s| match s {
                instructions::Source::Path(p) => {
                    Ok(CopySource::Path(expand(p, vars, self.df, lines)?))
                }
                instructions::Source::Heredoc(h) => Ok(CopySource::Inline {
                    name: h.name.clone(),
                    content: if h.expand {
                        Lexer::heredoc_content()
                            .word(&h.content, vars)
                            .map_err(|e| at(lines, e.message))?
                    } else {
                        h.content.clone()
                    },
                }),
            })
            .collect()
    }
}

fn mount_from(m: &Mount) -> Option<&str> {
    match m {
        Mount::Bind(b) => b.from.as_deref(),
        Mount::Cache(c) => c.from.as_deref(),
        _ => None,
    }
}
