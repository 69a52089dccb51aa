//! A build with a recording executor: what the solver asks to run is recorded instead of
//! run, so the solver's decisions (cache hits, order, parallelism, ONBUILD) are tested
//! without root, overlayfs or a sandbox.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use berth_build::exec::{Executor, Op, Source, StepEnv};
use berth_build::snapshot::LayerRef;
use berth_build::{BaseError, Bases, BuildError, BuildRequest, Built, Event, StepError};
use berth_oci::{ContainerConfig, Descriptor, Digest, ImageConfig, ImageManifest, Platform};
use berth_store::{ResolvedImage, Store};

/// One step the executor was asked to run.
#[derive(Debug, Clone)]
pub struct Ran {
    /// `RUN a b`, `COPY x y -> /dest`, `MKDIR /dir`.
    pub what: String,
    /// The environment a `RUN` was given.
    pub env: Vec<(String, String)>,
    /// The stage's layers the step ran on.
    pub input: Vec<LayerRef>,
    /// For a `COPY --from` a stage or image: the layers it copies from.
    pub from: Option<Vec<LayerRef>>,
    /// The earlier result of the same step the solver offered to build on.
    pub previous: Option<LayerRef>,
    /// The layer it "made".
    pub layer: LayerRef,
}

/// A moment in the executor's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    Start(String),
    End(String),
}

/// Records each step, and "makes" a layer for it: a small blob in the store named by the
/// step and its input, so the cache finds it again as a real executor's.
///
/// A `RUN meet …` waits (up to 10 s) until `meet` such steps are running at once, so a test
/// sees steps that must overlap; a `RUN fail` fails as a command exiting 3 does.
pub struct Recorder<'a> {
    store: &'a Store,
    meet: usize,
    /// Whether it says it can build a rerun on an earlier result.
    pub builds_on: bool,
    ran: Mutex<Vec<Ran>>,
    log: Mutex<Vec<Mark>>,
    meeting: Mutex<usize>,
    met: Condvar,
}

impl<'a> Recorder<'a> {
    pub fn new(store: &'a Store) -> Recorder<'a> {
        Recorder::meeting(store, 0)
    }

    /// A recorder whose `RUN meet …` steps wait for `n` of them to run at once.
    pub fn meeting(store: &'a Store, n: usize) -> Recorder<'a> {
        Recorder {
            store,
            meet: n,
            builds_on: false,
            ran: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            meeting: Mutex::new(0),
            met: Condvar::new(),
        }
    }

    pub fn ran(&self) -> Vec<Ran> {
        self.ran.lock().unwrap().clone()
    }

    /// What ran, in order.
    pub fn what(&self) -> Vec<String> {
        self.ran().into_iter().map(|r| r.what).collect()
    }

    pub fn log(&self) -> Vec<Mark> {
        self.log.lock().unwrap().clone()
    }

    fn wait_for_the_others(&self) -> bool {
        let mut here = self.meeting.lock().unwrap();
        *here += 1;
        self.met.notify_all();
        let deadline = Instant::now() + Duration::from_secs(10);
        while *here < self.meet {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            here = self.met.wait_timeout(here, left).unwrap().0;
        }
        true
    }
}

fn describe(op: &Op) -> String {
    match op {
        Op::Run(run) => format!(
            "RUN {}",
            run.command.argv.last().cloned().unwrap_or_default()
        ),
        Op::Copy(copy) => {
            let mut words = copy.paths.clone();
            words.extend(copy.inline.iter().map(|(n, _)| n.clone()));
            format!("{} {} -> {}", copy.keyword, words.join(" "), copy.dest)
        }
        Op::Mkdir { path, .. } => format!("MKDIR {path}"),
    }
}

impl Executor for Recorder<'_> {
    fn execute(&self, op: &Op, env: &StepEnv<'_>) -> Result<Option<LayerRef>, BuildError> {
        let what = describe(op);
        self.log.lock().unwrap().push(Mark::Start(what.clone()));
        if what.starts_with("RUN meet") && !self.wait_for_the_others() {
            return Err(env.at.error(StepError::CacheBusy {
                id: format!("{what}: the other steps never came"),
            }));
        }
        if what == "RUN fail" {
            return Err(BuildError::RunFailed {
                file: env.at.file.clone(),
                line: env.at.line,
                instruction: env.at.instruction.clone(),
                code: 3,
                tail: vec![],
            });
        }
        let mut blob = what.clone().into_bytes();
        for l in env.input {
            blob.extend_from_slice(l.diff_id.to_string().as_bytes());
        }
        let digest = self
            .store
            .blobs()
            .write_bytes(&blob)
            .map_err(BuildError::Store)?;
        let layer = LayerRef {
            descriptor: Descriptor::new(
                berth_oci::media_type::OCI_LAYER_GZIP,
                digest.clone(),
                blob.len() as u64,
            ),
            diff_id: digest,
        };
        let (run_env, from) = match op {
            Op::Run(run) => (run.env.clone(), None),
            Op::Copy(copy) => match &copy.from {
                Source::Layers(layers) => (vec![], Some(layers.clone())),
                Source::Context => (vec![], None),
            },
            Op::Mkdir { .. } => (vec![], None),
        };
        self.ran.lock().unwrap().push(Ran {
            what: what.clone(),
            env: run_env,
            input: env.input.to_vec(),
            from,
            previous: env.previous.cloned(),
            layer: layer.clone(),
        });
        self.log.lock().unwrap().push(Mark::End(what));
        Ok(Some(layer))
    }

    fn can_build_on(&self, _layer: &LayerRef) -> bool {
        self.builds_on
    }
}

/// Base images kept in memory, by reference.
#[derive(Default)]
pub struct Images {
    images: BTreeMap<String, ResolvedImage>,
    pub asked: Mutex<Vec<String>>,
}

impl Images {
    /// Adds an image with no layers and `container` as its config.
    pub fn add(&mut self, reference: &str, container: ContainerConfig) {
        let mut config = ImageConfig {
            config: Some(container),
            ..Default::default()
        };
        config.set_platform(&Platform::host());
        let config_bytes = config.to_bytes();
        let manifest = ImageManifest::new(
            Descriptor::of_bytes(berth_oci::media_type::OCI_CONFIG, &config_bytes),
            vec![],
        );
        let digest = Digest::sha256(&manifest.to_bytes());
        self.images.insert(
            reference.to_string(),
            ResolvedImage {
                record: digest.clone(),
                manifest_digest: digest,
                manifest,
                config,
            },
        );
    }
}

impl Bases for Images {
    fn resolve(
        &self,
        reference: &str,
        _platform: &Platform,
        _pull: bool,
    ) -> Result<ResolvedImage, BaseError> {
        self.asked.lock().unwrap().push(reference.to_string());
        self.images
            .get(reference)
            .cloned()
            .ok_or(BaseError::NotResolved)
    }
}

/// A store and a context directory in a temporary directory.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub store: Store,
}

impl Setup {
    pub fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        std::fs::create_dir(dir.path().join("ctx")).unwrap();
        Setup { dir, store }
    }

    pub fn context_dir(&self) -> PathBuf {
        self.dir.path().join("ctx")
    }

    /// Writes a file into the context.
    pub fn file(&self, name: &str, content: &str) {
        let path = self.context_dir().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, content).unwrap();
    }

    pub fn request(&self, dockerfile: &str) -> BuildRequest {
        self.file("Dockerfile", dockerfile);
        let context =
            berth_fileops::Context::open_for_dockerfile(&self.context_dir(), "Dockerfile").unwrap();
        BuildRequest::new("Dockerfile", dockerfile, context)
    }

    /// Builds `req` with `executor`; the events it reported beside the result.
    pub fn build(
        &self,
        req: &BuildRequest,
        images: &Images,
        executor: &dyn Executor,
    ) -> (Result<Built, BuildError>, Vec<Event>) {
        let events = Mutex::new(Vec::new());
        let emit = |e: Event| events.lock().unwrap().push(e);
        let built = berth_build::build_with(&self.store, req, &[], images, &emit, executor);
        (built, events.into_inner().unwrap())
    }

    /// Builds `req` and returns what ran.
    pub fn ran(&self, req: &BuildRequest, images: &Images) -> Vec<String> {
        let recorder = Recorder::new(&self.store);
        let (built, _) = self.build(req, images, &recorder);
        if let Err(e) = built {
            panic!("build failed: {e}");
        }
        recorder.what()
    }
}

pub fn path_of(setup: &Setup, name: &str) -> PathBuf {
    Path::new(&setup.context_dir()).join(name)
}
