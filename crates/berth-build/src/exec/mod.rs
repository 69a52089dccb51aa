//! Executors: what runs one step, given only what the step needs.
//!
//! The solver decides *whether* a step runs (its cache key, the cache) and hands each step
//! that must run to an [`Executor`] as an [`Op`] (the step with everything resolved: the
//! command, its environment, where each source's files come from) and a [`StepEnv`] (the
//! stage's files before the step, the context, secrets, where to report output). The
//! executor returns the layer of what the step changed. It never sees the solver, the
//! Dockerfile or other stages: a stage a step reads from arrives as its layers.
//!
//! [`Worker`] is the real one, as BuildKit's worker: overlay snapshots of the stage
//! ([`crate::snapshot`]), `RUN` in the sandbox ([`run`]), `COPY`/`ADD` with berth-fileops
//! ([`copy`]). Tests put a recording executor in its place.

pub mod copy;
pub mod run;
mod worker;

use std::collections::BTreeMap;

use berth_dockerfile::ignore::Patterns;
use berth_dockerfile::instructions::Mount;
use berth_sandbox::NetworkMode;

pub use run::Command;
pub use worker::Worker;

use crate::context::BuildContext;
use crate::error::{BuildError, StepError};
use crate::events::{Event, Events};
use crate::request::Secret;
use crate::snapshot::LayerRef;

/// Runs steps. `Sync`: independent stages run their steps from their own threads.
pub trait Executor: Sync {
    /// Runs `op` on the stage's files (`env.input`, with `env.previous` stacked on top when
    /// given) and returns the layer of what it changed, `None` when nothing did.
    fn execute(&self, op: &Op, env: &StepEnv<'_>) -> Result<Option<LayerRef>, BuildError>;

    /// Whether a rerun of a step can build on `layer`, its earlier result (see
    /// [`StepEnv::previous`]): the executor must have the layer's files at hand.
    fn can_build_on(&self, _layer: &LayerRef) -> bool {
        false
    }
}

/// One step that changes files, resolved.
#[derive(Debug, Clone)]
pub enum Op {
    Run(RunOp),
    Copy(CopyOp),
    /// `WORKDIR`: the directory is made when missing, as BuildKit does: it and its missing
    /// parents owned by the stage's `USER` (`""` is root).
    Mkdir {
        path: String,
        user: String,
    },
}

/// Where a step reads files: the build context, or the layers of a stage or an image
/// (bottom first), which the executor shows read-only.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Context,
    Layers(Vec<LayerRef>),
}

/// A `RUN`.
#[derive(Debug, Clone)]
pub struct RunOp {
    pub command: Command,
    /// The process environment: the stage's variables and the proxy build args.
    pub env: Vec<(String, String)>,
    /// `USER` as written (`name`, `uid:gid`…), resolved in the stage's files.
    pub user: String,
    pub workdir: String,
    pub network: NetworkMode,
    /// `--mount`s, each with where its files come from (bind mounts only use theirs).
    pub mounts: Vec<(Mount, Source)>,
}

/// A `COPY` or an `ADD`, their differences settled.
#[derive(Debug, Clone)]
pub struct CopyOp {
    pub keyword: &'static str,
    pub from: Source,
    /// Source paths in `from`.
    pub paths: Vec<String>,
    /// Heredoc sources: (file name, content).
    pub inline: Vec<(String, String)>,
    pub dest: String,
    /// The stage's working directory (a relative `dest` is relative to it).
    pub workdir: String,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub parents: bool,
    pub exclude: Patterns,
    /// `ADD`'s unpacking of local archives.
    pub unpack: bool,
}

/// Where a step is in the Dockerfile, for its errors.
#[derive(Debug, Clone)]
pub struct StepAt {
    pub file: String,
    pub line: usize,
    /// The instruction's first line as written.
    pub instruction: String,
}

impl StepAt {
    pub fn error(&self, source: impl Into<StepError>) -> BuildError {
        BuildError::Step {
            file: self.file.clone(),
            line: self.line,
            instruction: self.instruction.clone(),
            source: Box::new(source.into()),
        }
    }
}

/// What an executor may use besides the op.
pub struct StepEnv<'a> {
    pub at: &'a StepAt,
    /// The step's number in progress events.
    pub step: usize,
    /// The stage's layers before the step, bottom first.
    pub input: &'a [LayerRef],
    /// An earlier result of this same step (other file contents, same paths) to build on,
    /// so a rerun only writes what differs; the layer is still the step's whole result.
    pub previous: Option<&'a LayerRef>,
    pub context: &'a BuildContext,
    pub secrets: &'a BTreeMap<String, Secret>,
    pub events: &'a dyn Events,
}

impl StepEnv<'_> {
    /// Reports a running command's output.
    pub fn output(&self, bytes: &[u8]) {
        self.events.emit(Event::Output {
            step: self.step,
            bytes: bytes.to_vec(),
        });
    }

    /// Tells the user something about this step that does not stop it.
    pub fn warn(&self, message: &str) {
        self.events.emit(Event::Warning {
            message: format!("{}:{}: {message}", self.at.file, self.at.line),
        });
    }
}
