//! The solver: stages in dependency order, each step either found in the cache or handed to
//! the executor.
//!
//! Independent stages run in parallel: each stage runs on its own thread and waits only for
//! the stages it uses (its base, `COPY --from`, `RUN --mount=from=`), so two dependency
//! stages of a final stage build at the same time. The solver owns the cache (keys, lookups,
//! records) and progress events; what a step does to files is the executor's
//! ([`crate::exec`]).

mod plan;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use berth_dockerfile::describe::{Base, FileSource, Stage, Step};
use berth_dockerfile::frontend::Described;
use berth_dockerfile::origin::{Origin, Source, StageRef};
use berth_oci::{Descriptor, ImageConfig, Platform};
use berth_store::{CachedLayer, CachedStep, Store};

use crate::bases::{Image, Images};
use crate::config::StageConfig;
use crate::context::BuildContext;
use crate::error::{BaseError, BuildError};
use crate::events::{Event, Events};
use crate::exec::{Executor, StepAt, StepEnv};
use crate::keys;
use crate::request::{Bases, BuildRequest};
use crate::snapshot::LayerRef;
use plan::Planned;

/// A stage's state between steps: its layers, config and the key of its last file change.
#[derive(Debug, Clone)]
pub struct StageState {
    pub layers: Vec<LayerRef>,
    pub config: StageConfig,
    pub key: String,
    pub platform: Platform,
    /// When the stage's files last changed (Unix seconds): the time of the last step that
    /// changed them, as first run (a cached step keeps its time).
    pub time: i64,
    /// Where each entry of `config.image.history` came from, in the same order.
    pub origins: Vec<Origin>,
}

impl StageState {
    /// Adds the history entry of a step, and where in the Dockerfile it came from.
    fn record(&mut self, created: &str, created_by: String, empty_layer: bool, origin: Origin) {
        self.config.record(created, created_by, empty_layer);
        self.origins.push(origin);
    }
}

/// The solved target: its final state.
pub struct Solved {
    pub state: StageState,
    /// The creation time the history was written with.
    pub created: String,
}

/// Describes the request's Dockerfile (resolving base images through `bases`), then builds
/// the target stage, running steps the cache does not have with `executor`.
pub fn solve(
    store: &Store,
    req: &BuildRequest,
    bases: &dyn Bases,
    events: &dyn Events,
    executor: &dyn Executor,
) -> Result<Solved, BuildError> {
    let (described, images) = crate::bases::describe(req, bases, events)?;
    let context = BuildContext::new(
        req.context.clone(),
        &store.root().join("build").join("context"),
    );
    let solver = Solver {
        store,
        req,
        events,
        executor,
        context,
        images,
        described: &described,
        counter: AtomicUsize::new(0),
        results: Mutex::new(BTreeMap::new()),
        finished: Condvar::new(),
        failed: AtomicBool::new(false),
    };
    solver.all_stages()?;
    solver.context.save_index();
    let target = described.description.target;
    let state = solver
        .results
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&target)
        .flatten()
        // Every described stage either finished or failed the build above.
        .ok_or(BuildError::Cancelled)?;
    let created = solver.stamp(state.time);
    Ok(Solved { state, created })
}

/// Everything a running build shares between its stages.
pub(crate) struct Solver<'a> {
    store: &'a Store,
    req: &'a BuildRequest,
    events: &'a dyn Events,
    executor: &'a dyn Executor,
    context: BuildContext,
    /// Images by reference, resolved while the Dockerfile was described.
    images: Images,
    described: &'a Described,
    counter: AtomicUsize,
    /// Finished stages by index (`None` when the stage failed: dependants give up).
    results: Mutex<BTreeMap<usize, Option<StageState>>>,
    finished: Condvar,
    /// Set by the first failing stage: other stages stop before their next step.
    failed: AtomicBool,
}

/// What a step that may change files produced.
struct Produced {
    layer: Option<LayerRef>,
    /// When it ran (from the cache for a cached step).
    time: i64,
}

impl Solver<'_> {
    /// Builds every described stage, each on its own thread; the first real failure.
    fn all_stages(&self) -> Result<(), BuildError> {
        let outcome = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .described
                .description
                .stages
                .iter()
                .map(|stage| {
                    scope.spawn(move || {
                        let result = self.stage(stage);
                        if result.is_err() {
                            self.failed.store(true, Ordering::SeqCst);
                        }
                        let mut results = self.results.lock().unwrap_or_else(|p| p.into_inner());
                        results.insert(stage.index, result.as_ref().ok().cloned());
                        self.finished.notify_all();
                        result
                    })
                })
                .collect();
            let mut first_error = None;
            for h in handles {
                match h.join() {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        // A dependant's "stage failed" is noise next to the failure itself.
                        if first_error.is_none()
                            || matches!(first_error, Some(BuildError::Cancelled))
                        {
                            first_error = Some(e);
                        }
                    }
                    Err(_) => {
                        first_error.get_or_insert(BuildError::Panicked);
                    }
                }
            }
            first_error
        });
        match outcome {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Builds one stage, waiting for the stages it uses.
    fn stage(&self, stage: &Stage) -> Result<StageState, BuildError> {
        let name = stage
            .name
            .clone()
            .unwrap_or_else(|| format!("stage-{}", stage.index));
        let total = 1 + stage
            .steps
            .iter()
            .filter(|s| changes_files(&s.value))
            .count();
        let mut state = self.start(stage, &name, total)?;
        let stage_ref = self.stage_ref(stage.index);
        let mut n = 1;
        for step in &stage.steps {
            if self.failed.load(Ordering::SeqCst) {
                return Err(BuildError::Cancelled);
            }
            let at = StepAt {
                file: self.req.dockerfile_name.clone(),
                line: step.lines.start,
                instruction: self.described.text(step.lines.start).to_string(),
            };
            let origin = Origin {
                stage: stage_ref.clone(),
                start_line: step.lines.start,
                end_line: step.lines.end,
                instruction: at.instruction.clone(),
                source: match &step.value {
                    Step::Copy(copy) => self.recorded_source(&copy.from),
                    _ => None,
                },
            };
            if let Some(history) = state.config.apply(&step.value) {
                let workdir_created = match &step.value {
                    Step::Workdir(_) => {
                        n += 1;
                        let label = format!("[{name} {n}/{total}] {}", at.instruction);
                        let planned = self.plan_workdir(&state);
                        self.step(&mut state, &planned, &label, &at)?
                    }
                    _ => false,
                };
                if !history.is_empty() {
                    let stamp = self.stamp(state.time);
                    state.record(&stamp, history, !workdir_created, origin);
                }
                continue;
            }
            n += 1;
            let label = format!("[{name} {n}/{total}] {}", at.instruction);
            let planned = match &step.value {
                Step::Run(run) => self.plan_run(&state, run, &at)?,
                Step::Copy(copy) => self.plan_copy(&state, copy, &at)?,
                Step::Add(add) => self.plan_add(&state, add, &at)?,
                _ => unreachable!("config steps are applied above"),
            };
            let added = self.step(&mut state, &planned, &label, &at)?;
            let stamp = self.stamp(state.time);
            state.record(&stamp, planned.history, !added, origin);
        }
        Ok(state)
    }

    /// The state a stage starts from.
    fn start(&self, stage: &Stage, name: &str, total: usize) -> Result<StageState, BuildError> {
        let label = |what: &str| format!("[{name} 1/{total}] FROM {what}");
        match &stage.base {
            Base::Scratch => {
                let mut image = ImageConfig::default();
                image.set_platform(&stage.platform);
                let mut config = StageConfig::from_base(image);
                config.ensure_default_path();
                Ok(StageState {
                    layers: vec![],
                    config,
                    key: keys::base("scratch", "", &stage.platform),
                    platform: stage.platform.clone(),
                    time: 0,
                    origins: Vec::new(),
                })
            }
            Base::Image { reference, .. } => {
                let image = self.image(reference)?;
                let step = self.begin(label(&format!("{reference}@{}", image.manifest_digest)));
                let mut config = StageConfig::from_base(image.config.clone());
                config.ensure_default_path();
                // The base image's own history: all of it came with this FROM line.
                let from = Origin {
                    stage: self.stage_ref(stage.index),
                    start_line: stage.lines.start,
                    end_line: stage.lines.end,
                    instruction: self.described.text(stage.lines.start).to_string(),
                    source: Some(Source::Image {
                        reference: reference.clone(),
                    }),
                };
                let origins = vec![from; image.config.history.len()];
                self.events.emit(Event::Done {
                    step,
                    elapsed: Default::default(),
                });
                let time = image
                    .config
                    .created
                    .as_deref()
                    .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                    .map(|t| t.timestamp())
                    .unwrap_or(0);
                Ok(StageState {
                    layers: image.layers.clone(),
                    config,
                    key: keys::base("image", &image.manifest_digest.to_string(), &stage.platform),
                    platform: stage.platform.clone(),
                    time,
                    origins,
                })
            }
            Base::Stage(parent) => {
                let parent = self.wait_for(*parent)?;
                let mut config = StageConfig::from_base(parent.config.image.clone());
                config.ensure_default_path();
                Ok(StageState { config, ..parent })
            }
        }
    }

    /// Runs one planned step unless the cache has it, and adds its layer to the stage.
    /// Returns whether a layer was added.
    fn step(
        &self,
        state: &mut StageState,
        planned: &Planned,
        label: &str,
        at: &StepAt,
    ) -> Result<bool, BuildError> {
        let produced = self.cached_or_run(state, planned, label, at)?;
        if let (Some(slot), Some(layer)) = (&planned.slot, &produced.layer) {
            self.remember(slot, Some(layer), produced.time)?;
        }
        state.key = planned.key.clone();
        state.time = produced.time;
        let added = produced.layer.is_some();
        state.layers.extend(produced.layer);
        Ok(added)
    }

    /// The step's result from the cache, or from the executor (then recorded in the cache).
    fn cached_or_run(
        &self,
        state: &StageState,
        planned: &Planned,
        label: &str,
        at: &StepAt,
    ) -> Result<Produced, BuildError> {
        let step = self.begin(label.to_string());
        if let Some(hit) = self.cached(&planned.key)? {
            self.events.emit(Event::Cached { step });
            return Ok(hit);
        }
        let previous = match &planned.slot {
            Some(slot) => self.previous_result(slot)?,
            None => None,
        };
        let started = Instant::now();
        let time = now();
        let env = StepEnv {
            at,
            step,
            input: &state.layers,
            previous: previous.as_ref(),
            context: &self.context,
            secrets: &self.req.secrets,
            events: self.events,
        };
        let result = self.executor.execute(&planned.op, &env);
        let elapsed = started.elapsed();
        match result {
            Ok(layer) => {
                self.remember(&planned.key, layer.as_ref(), time)?;
                self.events.emit(Event::Done { step, elapsed });
                Ok(Produced { layer, time })
            }
            Err(e) => {
                self.events.emit(Event::Failed { step, elapsed });
                Err(e)
            }
        }
    }

    /// Waits until stage `index` is built; its state.
    fn wait_for(&self, index: usize) -> Result<StageState, BuildError> {
        let mut results = self.results.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match results.get(&index) {
                Some(Some(state)) => return Ok(state.clone()),
                Some(None) => return Err(BuildError::Cancelled),
                None => {
                    results = self
                        .finished
                        .wait(results)
                        .unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }

    /// An image the description names (resolved while it was described).
    fn image(&self, reference: &str) -> Result<&Image, BuildError> {
        self.images
            .get(reference)
            .ok_or_else(|| BuildError::BaseImage {
                reference: reference.to_string(),
                source: BaseError::NotResolved,
            })
    }

    /// Stage `index` as a build record names it.
    fn stage_ref(&self, index: usize) -> StageRef {
        StageRef {
            index,
            name: self
                .described
                .description
                .stage(index)
                .and_then(|s| s.name.clone()),
        }
    }

    /// Where a `COPY --from` takes files, as a build record names it (`None` for the
    /// context: the files come from the instruction itself).
    fn recorded_source(&self, from: &FileSource) -> Option<Source> {
        match from {
            FileSource::Context => None,
            FileSource::Stage(index) => Some(Source::Stage(self.stage_ref(*index))),
            FileSource::Image(reference) => Some(Source::Image {
                reference: reference.clone(),
            }),
        }
    }

    /// Announces a step; returns its number.
    fn begin(&self, name: String) -> usize {
        let step = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        self.events.emit(Event::Started { step, name });
        step
    }

    /// The time written into history and config for a change made at `time`.
    fn stamp(&self, time: i64) -> String {
        crate::export::rfc3339(self.req.source_date_epoch.unwrap_or(time))
    }

    /// Looks `key` up; a hit whose layer blob is gone counts as a miss.
    fn cached(&self, key: &str) -> Result<Option<Produced>, BuildError> {
        if self.req.no_cache {
            return Ok(None);
        }
        let Some(hit) = self.store.meta().build_cache_get(key)? else {
            return Ok(None);
        };
        let layer = match hit.layer {
            None => None,
            Some(l) if self.store.blobs().contains(&l.digest) => Some(LayerRef {
                descriptor: Descriptor::new(&l.media_type, l.digest, l.size),
                diff_id: l.diff_id,
            }),
            Some(_) => return Ok(None),
        };
        Ok(Some(Produced {
            layer,
            time: hit.created,
        }))
    }

    /// Records `layer` (made at `time`) as the result of the step `key` names.
    fn remember(&self, key: &str, layer: Option<&LayerRef>, time: i64) -> Result<(), BuildError> {
        self.store.meta().build_cache_put(
            key,
            &CachedStep {
                layer: layer.map(|l| CachedLayer {
                    digest: l.descriptor.digest.clone(),
                    media_type: l.descriptor.media_type.clone(),
                    size: l.descriptor.size,
                    diff_id: l.diff_id.clone(),
                }),
                created: time,
            },
        )?;
        Ok(())
    }

    /// The last result recorded under `slot` when the executor can build a rerun on it.
    fn previous_result(&self, slot: &str) -> Result<Option<LayerRef>, BuildError> {
        if self.req.no_cache {
            return Ok(None);
        }
        let Some(layer) = self.cached(slot)?.and_then(|p| p.layer) else {
            return Ok(None);
        };
        Ok(self.executor.can_build_on(&layer).then_some(layer))
    }
}

/// Steps that can change files (and so take a step number, as BuildKit's vertices do).
fn changes_files(step: &Step) -> bool {
    matches!(
        step,
        Step::Run(_) | Step::Copy(_) | Step::Add(_) | Step::Workdir(_)
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
