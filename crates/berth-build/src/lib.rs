//! berth's image builder.
//!
//! A Dockerfile becomes an image in four separate parts, as in BuildKit:
//! - the frontend (`berth-dockerfile`) parses and resolves the Dockerfile into a build
//!   description, asking the builder for base images' configs through a callback
//!   ([`bases`] answers it through the caller's [`Bases`]);
//! - the solver ([`solver`]) walks the stages the target needs (independent ones in
//!   parallel), computes each step's cache key and either reuses the cached result or hands
//!   the step to an executor;
//! - executors ([`exec`]) run steps from a narrow step environment, never the solver: the
//!   real [`exec::Worker`] runs `RUN` in the sandbox (`berth-sandbox`) and `COPY`/`ADD` with
//!   `berth-fileops`, both on an overlay [`snapshot`] of the stage;
//! - the exporter ([`export`]) writes the result into the store as an image.
//!
//! Beside the build, [`import`] assembles a one-layer image from a root file system.

pub mod config;
pub mod error;
pub mod events;
pub mod snapshot;

pub use error::{BaseError, BuildError, StepError};
pub use events::{Event, Events};

mod bases;
mod chunks;
mod context;
pub mod copy_snapshot;
pub mod exec;
pub mod export;
pub mod import;
pub mod keys;
pub mod limits;
pub mod request;
pub mod solver;

pub use context::BuildContext;
pub use export::Built;
pub use request::{Bases, BuildRequest, NetworkDefault, Secret};
pub use snapshot::isolate_mounts;

use berth_oci::Reference;
use berth_store::Store;

/// Builds the image `req` describes and records it in the store with `tags`: steps run in
/// overlay snapshots of their stage, in the sandbox.
pub fn build(
    store: &Store,
    req: &BuildRequest,
    tags: &[Reference],
    bases: &dyn Bases,
    events: &dyn Events,
) -> Result<Built, BuildError> {
    let worker = exec::Worker::new(store, req.source_date_epoch, req.zstd)?;
    build_with(store, req, tags, bases, events, &worker)
}

/// [`build`] with another executor for the steps the cache does not have.
///
/// Holds the store's writer lock throughout, so `berth gc` can't take layers from under it.
pub fn build_with(
    store: &Store,
    req: &BuildRequest,
    tags: &[Reference],
    bases: &dyn Bases,
    events: &dyn Events,
    executor: &dyn exec::Executor,
) -> Result<Built, BuildError> {
    let _lock = store.write_lock()?;
    let solved = solver::solve(store, req, bases, events, executor)?;
    export::to_store(
        store,
        &solved.state,
        &req.dockerfile_name,
        &req.labels,
        &solved.created,
        tags,
    )
}
