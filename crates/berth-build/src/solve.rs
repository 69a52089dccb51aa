//! The solver: stages in dependency order, each step either found in the cache or run.
//!
//! Independent stages run in parallel: each stage waits only for the stages it uses (its base,
//! `COPY --from`, `RUN --mount=from=`), so two dependency stages of a final stage build at the
//! same time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use berth_dockerfile::ast::Lines;
use berth_dockerfile::describe::{
    Base, BuildDescription, BuildOptions, FileSource, Stage, Step, resolve,
};
use berth_oci::{Descriptor, Digest, ImageConfig, Platform};
use berth_store::{CachedLayer, CachedStep, LayerInfo, ResolvedImage, Store};

use crate::config::StageConfig;
use crate::error::BuildError;
use crate::events::{Event, Events};
use crate::request::{Bases, BuildRequest};
use crate::snapshot::{LayerRef, Mode, Overlay, Snapshots, View};
use crate::{context::BuildContext, keys};

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
}

impl StageState {
    /// A content identity of the stage's files (see [`keys::chain`]).
    pub fn chain(&self) -> String {
        keys::chain(self.layers.iter().map(|l| l.diff_id.to_string()))
    }
}

/// The solved target: its final state.
pub struct Solved {
    pub state: StageState,
    /// The creation time the history was written with.
    pub created: String,
}

/// Everything a running build shares between its stages.
pub(crate) struct Solver<'a> {
    pub store: &'a Store,
    pub req: &'a BuildRequest,
    pub snapshots: Snapshots,
    pub events: &'a dyn Events,
    pub context: BuildContext,
    /// Base images by reference, resolved before any stage starts.
    images: BTreeMap<String, ResolvedImage>,
    /// First line of each instruction -> its text, for step names and errors.
    texts: BTreeMap<usize, String>,
    counter: AtomicUsize,
    /// Finished stages by index (`None` when the stage failed: dependants give up).
    results: Mutex<BTreeMap<usize, Option<StageState>>>,
    finished: Condvar,
    /// Set by the first failing stage: other stages stop before their next step.
    failed: std::sync::atomic::AtomicBool,
}

/// What a step that may change files produced.
pub(crate) struct Produced {
    pub layer: Option<LayerRef>,
    /// When it ran (from the cache for a cached step).
    pub time: i64,
}

/// Resolves the Dockerfile (fetching base images for `ONBUILD` and `ENV`), then builds the
/// target stage.
pub fn solve(
    store: &Store,
    req: &BuildRequest,
    bases: &dyn Bases,
    events: &dyn Events,
) -> Result<Solved, BuildError> {
    let file = req.dockerfile_name.clone();
    let df =
        berth_dockerfile::syntax::parse(&req.dockerfile).map_err(|e| BuildError::Dockerfile {
            file: file.clone(),
            message: format!("line {}: {}", e.line, e.message),
        })?;
    let mut opts = BuildOptions {
        build_args: req.build_args.clone(),
        target: req.target.clone(),
        target_platform: req.platform.clone(),
        ..BuildOptions::default()
    };
    let describe = |opts: &BuildOptions| {
        resolve(&df, opts).map_err(|source| BuildError::Describe {
            file: file.clone(),
            source,
        })
    };

    // Base images can add ONBUILD triggers, which can name more images: resolve until the
    // set of images stops growing.
    let mut images: BTreeMap<String, ResolvedImage> = BTreeMap::new();
    let mut description = describe(&opts)?;
    for _ in 0..4 {
        let wanted: Vec<(String, Platform)> = image_references(&description)
            .into_iter()
            .filter(|(r, _)| !images.contains_key(r))
            .collect();
        if wanted.is_empty() {
            break;
        }
        for (reference, platform) in wanted {
            let image = bases
                .resolve(&reference, &platform, req.pull)
                .map_err(|message| BuildError::BaseImage {
                    reference: reference.clone(),
                    message,
                })?;
            let container = image.config.config.clone().unwrap_or_default();
            let env = container
                .env
                .unwrap_or_default()
                .iter()
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (kv.clone(), String::new()),
                })
                .collect();
            opts.base_env.insert(reference.clone(), env);
            opts.base_onbuild
                .insert(reference.clone(), container.on_build.unwrap_or_default());
            images.insert(reference, image);
        }
        description = describe(&opts)?;
    }
    for w in &description.warnings {
        events.emit(Event::Warning {
            message: match w.line {
                Some(l) => format!("{file}:{l}: {}", w.message),
                None => w.message.clone(),
            },
        });
    }

    let snapshots = Snapshots::new(store.root())?;
    let context = BuildContext::open(req, &snapshots)?;
    let solver = Solver {
        store,
        req,
        snapshots,
        events,
        context,
        images,
        texts: df
            .instructions
            .iter()
            .map(|i| (i.lines.start, i.original.trim().to_string()))
            .collect(),
        counter: AtomicUsize::new(0),
        results: Mutex::new(BTreeMap::new()),
        finished: Condvar::new(),
        failed: std::sync::atomic::AtomicBool::new(false),
    };

    let outcome = std::thread::scope(|scope| {
        let handles: Vec<_> = description
            .stages
            .iter()
            .map(|stage| {
                let solver = &solver;
                scope.spawn(move || {
                    let result = solver.stage(stage);
                    if result.is_err() {
                        solver.failed.store(true, Ordering::SeqCst);
                    }
                    let mut results = solver.results.lock().unwrap_or_else(|p| p.into_inner());
                    results.insert(stage.index, result.as_ref().ok().cloned());
                    solver.finished.notify_all();
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
                    if first_error.is_none() || matches!(first_error, Some(BuildError::Cancelled)) {
                        first_error = Some(e);
                    }
                }
                Err(_) => {
                    first_error.get_or_insert(BuildError::Options(
                        "a build thread panicked (this is a bug in berth)".into(),
                    ));
                }
            }
        }
        first_error
    });
    if let Some(e) = outcome {
        return Err(e);
    }
    solver.context.save_index();
    let state = solver
        .results
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&description.target)
        .flatten()
        .ok_or_else(|| BuildError::Options("the target stage produced nothing".into()))?;
    let created = solver.stamp(state.time);
    Ok(Solved { state, created })
}

/// Every image reference the build reads (bases and `--from` images), with its platform.
fn image_references(d: &BuildDescription) -> Vec<(String, Platform)> {
    let mut out: Vec<(String, Platform)> = Vec::new();
    let mut add = |r: &str, p: &Platform| {
        if !out.iter().any(|(x, _)| x == r) {
            out.push((r.to_string(), p.clone()));
        }
    };
    for stage in &d.stages {
        if let Base::Image {
            reference,
            platform,
        } = &stage.base
        {
            add(reference, platform.as_ref().unwrap_or(&stage.platform));
        }
        for step in &stage.steps {
            let sources: Vec<&FileSource> = match &step.value {
                Step::Copy(c) => vec![&c.from],
                Step::Run(r) => r.mount_sources.iter().collect(),
                _ => vec![],
            };
            for s in sources {
                if let FileSource::Image(r) = s {
                    add(r, &stage.platform);
                }
            }
        }
    }
    out
}

impl Solver<'_> {
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
        let mut n = 1;
        for step in &stage.steps {
            if self.failed.load(Ordering::SeqCst) {
                return Err(BuildError::Cancelled);
            }
            let text = self.text(step.lines);
            if let Some(history) = state.config.apply(&step.value) {
                let workdir_created = match &step.value {
                    Step::Workdir(_) => {
                        n += 1;
                        let label = format!("[{name} {n}/{total}] {text}");
                        self.workdir(&mut state, &label)?
                    }
                    _ => false,
                };
                if !history.is_empty() {
                    let stamp = self.stamp(state.time);
                    state.config.record(&stamp, history, !workdir_created);
                }
                continue;
            }
            n += 1;
            let label = format!("[{name} {n}/{total}] {text}");
            let at = Located {
                lines: step.lines,
                text: &text,
                label: &label,
            };
            let (key, produced, history) = match &step.value {
                Step::Run(run) => self.run(&state, run, &at)?,
                Step::Copy(copy) => self.copy(&state, copy, &at)?,
                Step::Add(add) => self.add(&state, add, &at)?,
                _ => unreachable!("config steps are applied above"),
            };
            state.key = key;
            state.time = produced.time;
            let empty = produced.layer.is_none();
            if let Some(l) = produced.layer {
                state.layers.push(l);
            }
            let stamp = self.stamp(state.time);
            state.config.record(&stamp, history, empty);
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
                })
            }
            Base::Image { reference, .. } => {
                let image = self
                    .images
                    .get(reference)
                    .ok_or_else(|| BuildError::BaseImage {
                        reference: reference.clone(),
                        message: "not resolved".into(),
                    })?;
                let step = self.begin(label(&format!("{reference}@{}", image.manifest_digest)));
                let layers = image_layers(image)?;
                let mut config = StageConfig::from_base(image.config.clone());
                config.ensure_default_path();
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
                    layers,
                    config,
                    key: keys::base("image", &image.manifest_digest.to_string(), &stage.platform),
                    platform: stage.platform.clone(),
                    time,
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

    /// Waits until stage `index` is built; its state.
    pub(crate) fn wait_for(&self, index: usize) -> Result<StageState, BuildError> {
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

    /// A base image's layers.
    pub(crate) fn image_layer_refs(&self, reference: &str) -> Result<Vec<LayerRef>, BuildError> {
        let image = self
            .images
            .get(reference)
            .ok_or_else(|| BuildError::BaseImage {
                reference: reference.to_string(),
                message: "not resolved".into(),
            })?;
        image_layers(image)
    }

    /// A base image's files, content-addressed (see [`keys::chain`]).
    pub(crate) fn image_chain(&self, reference: &str) -> Result<String, BuildError> {
        Ok(keys::chain(
            self.image_layer_refs(reference)?
                .iter()
                .map(|l| l.diff_id.to_string()),
        ))
    }

    /// The instruction's text as written, first line.
    fn text(&self, lines: Lines) -> String {
        self.texts
            .get(&lines.start)
            .map(|t| t.lines().next().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    /// Announces a step; returns its number.
    pub(crate) fn begin(&self, name: String) -> usize {
        let step = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        self.events.emit(Event::Started { step, name });
        step
    }

    /// The time written into history and config for a change made at `time`.
    fn stamp(&self, time: i64) -> String {
        crate::export::rfc3339(self.req.source_date_epoch.unwrap_or(time))
    }

    /// Looks `key` up; a hit whose layer blob is gone counts as a miss.
    pub(crate) fn cached(&self, key: &str) -> Result<Option<Produced>, BuildError> {
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

    /// Runs `work` for a step unless its key is cached: `work` gets a mounted, writable
    /// snapshot of the stage and returns after changing it; the change becomes the layer.
    ///
    /// With `on`, an earlier result of the same step is stacked on the snapshot first, so
    /// `work` finds its files in place and only writes what differs (see
    /// [`crate::snapshot`]); the layer is still the step's whole result.
    pub(crate) fn step_with_cache(
        &self,
        state: &StageState,
        key: &str,
        label: &str,
        on: Option<&LayerRef>,
        work: impl FnOnce(&Path, usize, &Path) -> Result<(), BuildError>,
    ) -> Result<Produced, BuildError> {
        let step = self.begin(label.to_string());
        if let Some(hit) = self.cached(key)? {
            self.events.emit(Event::Cached { step });
            return Ok(hit);
        }
        let started = Instant::now();
        let time = now();
        let result = self.change(state, on, |merged, scratch| work(merged, step, scratch));
        match &result {
            Ok(layer) => {
                self.store.meta().build_cache_put(
                    key,
                    &CachedStep {
                        layer: layer.as_ref().map(|l| CachedLayer {
                            digest: l.descriptor.digest.clone(),
                            media_type: l.descriptor.media_type.clone(),
                            size: l.descriptor.size,
                            diff_id: l.diff_id.clone(),
                        }),
                        created: time,
                    },
                )?;
                self.events.emit(Event::Done {
                    step,
                    elapsed: started.elapsed(),
                });
            }
            Err(_) => self.events.emit(Event::Failed {
                step,
                elapsed: started.elapsed(),
            }),
        }
        result.map(|layer| Produced { layer, time })
    }

    /// Mounts the stage writable (with `on` stacked on top), lets `work` change it, and turns
    /// the change into a layer.
    fn change(
        &self,
        state: &StageState,
        on: Option<&LayerRef>,
        work: impl FnOnce(&Path, &Path) -> Result<(), BuildError>,
    ) -> Result<Option<LayerRef>, BuildError> {
        let scratch = self.snapshots.scratch()?;
        let upper = scratch.path().join("upper");
        let workdir = scratch.path().join("work");
        let merged = scratch.path().join("merged");
        for d in [&upper, &workdir] {
            std::fs::create_dir(d).map_err(|e| BuildError::io(d, e))?;
        }
        let t = Instant::now();
        let lowers = self.lowers(&state.layers)?;
        if self.snapshots.mode() == Mode::Copy {
            return self.change_by_copy(&lowers, &merged, scratch.path(), work);
        }
        let previous = match on {
            Some(l) => self.snapshots.unpacked(self.store, l)?,
            None => Vec::new(),
        };
        let stack: Vec<PathBuf> = previous.iter().chain(&lowers).cloned().collect();
        let overlay = Overlay::mount(&stack, Some((&upper, &workdir)), &merged)?;
        let mounted = t.elapsed();
        work(&merged, scratch.path())?;
        let worked = t.elapsed();
        overlay.unmount()?;
        let layer = match on {
            None => self.commit(&upper, &lowers)?,
            Some(base) => self.commit_delta(&upper, base, &previous, &lowers, scratch.path())?,
        };
        tracing::debug!(
            ?mounted,
            work = ?(worked - mounted),
            commit = ?(t.elapsed() - worked),
            "step timings"
        );
        Ok(layer)
    }

    /// [`Solver::change`] without overlayfs: the step runs in a copy of the stage, and the
    /// layer is what differs afterwards.
    fn change_by_copy(
        &self,
        lowers: &[PathBuf],
        root: &Path,
        scratch: &Path,
        work: impl FnOnce(&Path, &Path) -> Result<(), BuildError>,
    ) -> Result<Option<LayerRef>, BuildError> {
        crate::copy_snapshot::materialize(lowers, root)?;
        let before = crate::copy_snapshot::Inventory::of(root)?;
        work(root, scratch)?;
        let mut entries = crate::copy_snapshot::changes(root, &before)?;
        drop_unchanged_dirs(&mut entries.entries, lowers);
        let layer = self.store_layer(&entries, root)?;
        drop(entries);
        // The layer's unpacked form comes from its blob, in the same format as any other.
        if let Some(l) = &layer {
            self.snapshots.unpacked(self.store, l)?;
        }
        Ok(layer)
    }

    /// Unpacked directories of `layers`, top first (overlay's `lowerdir` order).
    pub(crate) fn lowers(&self, layers: &[LayerRef]) -> Result<Vec<PathBuf>, BuildError> {
        let mut dirs = Vec::new();
        for l in layers.iter().rev() {
            dirs.extend(self.snapshots.unpacked(self.store, l)?);
        }
        Ok(dirs)
    }

    /// Mounts a stage's files read-only at `target` (for `COPY --from`, bind mounts, export).
    pub(crate) fn mount_read_only(
        &self,
        layers: &[LayerRef],
        target: &Path,
    ) -> Result<View, BuildError> {
        let lowers = self.lowers(layers)?;
        self.snapshots.view(&lowers, target)
    }

    /// Turns an overlay upper directory into a layer in the store; `None` if nothing changed.
    fn commit(&self, upper: &Path, lowers: &[PathBuf]) -> Result<Option<LayerRef>, BuildError> {
        let mut entries =
            berth_layer::diff::from_overlay_upper(upper).map_err(|e| BuildError::Io {
                path: upper.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })?;
        drop_unchanged_dirs(&mut entries.entries, lowers);
        let layer = self.store_layer(&entries, upper)?;
        drop(entries);
        if let Some(l) = &layer {
            self.snapshots.adopt(upper, &l.diff_id)?;
        }
        Ok(layer)
    }

    /// [`Solver::commit`] for a step run on top of an earlier result of itself (`base`,
    /// unpacked in `previous`): the layer is what `upper` and `previous` hold together, read
    /// through a read-only overlay of the two; `upper` is kept as a delta on `base`.
    fn commit_delta(
        &self,
        upper: &Path,
        base: &LayerRef,
        previous: &[PathBuf],
        lowers: &[PathBuf],
        scratch: &Path,
    ) -> Result<Option<LayerRef>, BuildError> {
        let view = scratch.join("view");
        let dirs: Vec<PathBuf> = std::iter::once(upper.to_path_buf())
            .chain(previous.iter().cloned())
            .collect();
        let overlay = Overlay::mount(&dirs, None, &view)?;
        let mut entries = berth_layer::from_dir(&view).map_err(|e| BuildError::Io {
            path: view.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        drop_unchanged_dirs(&mut entries.entries, lowers);
        let layer = self.store_layer(&entries, &view)?;
        drop(entries);
        overlay.unmount()?;
        if let Some(l) = &layer {
            self.snapshots
                .adopt_delta(upper, &l.diff_id, &base.diff_id)?;
        }
        Ok(layer)
    }

    /// Writes `entries` (read from `dir`) as a layer blob; `None` when there are none.
    fn store_layer(
        &self,
        entries: &berth_layer::Entries,
        dir: &Path,
    ) -> Result<Option<LayerRef>, BuildError> {
        let read = Instant::now();
        if entries.entries.is_empty() {
            return Ok(None);
        }
        let writer = self.store.blobs().writer(berth_oci::Algorithm::Sha256)?;
        let opts = berth_layer::TarOptions {
            source_date_epoch: self.req.source_date_epoch,
        };
        let (compression, media_type) = if self.req.zstd {
            (
                berth_layer::LayerCompression::Zstd,
                berth_oci::media_type::OCI_LAYER_ZSTD,
            )
        } else {
            (
                berth_layer::LayerCompression::Gzip,
                berth_oci::media_type::OCI_LAYER_GZIP,
            )
        };
        let (writer, stats) =
            berth_layer::write_layer(entries, &opts, compression, writer, &|_| {}).map_err(
                |e| BuildError::Io {
                    path: dir.to_path_buf(),
                    source: std::io::Error::other(e.to_string()),
                },
            )?;
        let written = read.elapsed();
        let size = writer.written();
        let digest: Digest = writer.commit(None, None)?;
        tracing::debug!(entries = entries.entries.len(), tar_gzip = ?written, sync = ?(read.elapsed() - written), "layer written");
        self.store.set_layer_info(
            &digest,
            &LayerInfo {
                diff_id: stats.diff_id.clone(),
                size: stats.size,
            },
        )?;
        Ok(Some(LayerRef {
            descriptor: Descriptor::new(media_type, digest, size),
            diff_id: stats.diff_id,
        }))
    }

    /// `WORKDIR`: creates the directory (as BuildKit does) when missing. Returns whether a
    /// layer was added.
    fn workdir(&self, state: &mut StageState, label: &str) -> Result<bool, BuildError> {
        let dir = state.config.workdir();
        let definition = serde_json::json!({ "mkdir": dir });
        let key = keys::step(&state.key, &definition, &state.platform);
        let produced = self.step_with_cache(state, &key, label, None, |merged, _, _| {
            // Resolved inside the root: a symlink in the path can't lead out of it.
            let at = berth_fileops::scoped::resolve(merged, &dir, true)
                .map_err(|e| BuildError::io(&merged.join(dir.trim_start_matches('/')), e))?;
            std::fs::create_dir_all(&at.host).map_err(|e| BuildError::io(&at.host, e))
        })?;
        state.key = key;
        state.time = produced.time;
        let added = produced.layer.is_some();
        if let Some(l) = produced.layer {
            state.layers.push(l);
        }
        Ok(added)
    }
}

/// Removes directories overlay copied up without changing them (a mount point's parent, a
/// directory whose times a command restored) and that hold nothing new: they are not part
/// of the change, as BuildKit's differ also decides.
fn drop_unchanged_dirs(entries: &mut Vec<berth_layer::entry::Entry>, lowers: &[PathBuf]) {
    use std::collections::HashSet;
    use std::os::unix::fs::MetadataExt;

    let unchanged = |e: &berth_layer::entry::Entry| {
        lowers
            .iter()
            .find_map(|l| std::fs::symlink_metadata(l.join(&e.path)).ok())
            .is_some_and(|m| {
                m.is_dir()
                    && m.mode() & 0o7777 == e.mode
                    && u64::from(m.uid()) == e.uid
                    && u64::from(m.gid()) == e.gid
                    && m.mtime() == e.mtime
            })
    };
    // Children come after their parents: walk backwards, so a directory is judged after
    // everything under it.
    let mut keep_parents: HashSet<String> = HashSet::new();
    let mut keep = vec![true; entries.len()];
    for (i, e) in entries.iter().enumerate().rev() {
        let is_dir = matches!(e.kind, berth_layer::entry::Kind::Dir);
        if is_dir && !keep_parents.contains(&e.path) && e.xattrs.is_empty() && unchanged(e) {
            keep[i] = false;
            continue;
        }
        if let Some((parent, _)) = e.path.rsplit_once('/') {
            keep_parents.insert(parent.to_string());
        }
    }
    let mut flags = keep.into_iter();
    entries.retain(|_| flags.next().unwrap_or(true));
}

/// Where a step is, for names and errors.
pub(crate) struct Located<'a> {
    pub lines: Lines,
    pub text: &'a str,
    pub label: &'a str,
}

/// Steps that can change files (and so take a step number, as BuildKit's vertices do).
fn changes_files(step: &Step) -> bool {
    matches!(
        step,
        Step::Run(_) | Step::Copy(_) | Step::Add(_) | Step::Workdir(_)
    )
}

/// A base image's layers with their diff IDs, checked against each other.
fn image_layers(image: &ResolvedImage) -> Result<Vec<LayerRef>, BuildError> {
    let layers = &image.manifest.layers;
    let diff_ids = &image.config.rootfs.diff_ids;
    if layers.len() != diff_ids.len() {
        return Err(BuildError::BaseImage {
            reference: image.record.to_string(),
            message: format!(
                "the manifest lists {} layers but the config {} diff IDs: the image is damaged",
                layers.len(),
                diff_ids.len()
            ),
        });
    }
    Ok(layers
        .iter()
        .zip(diff_ids)
        .map(|(d, id)| LayerRef {
            descriptor: d.clone(),
            diff_id: id.clone(),
        })
        .collect())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
