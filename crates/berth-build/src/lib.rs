//! berth's image builder.
//!
//! A Dockerfile becomes an image in four separate parts, as in BuildKit:
//! - the frontend (`berth-dockerfile`) resolves the Dockerfile into a build description;
//! - the solver ([`solve`]) walks the stages the target needs, computes each step's cache key
//!   and either reuses the cached result or runs the step;
//! - executors run steps: `RUN` in the sandbox (`berth-sandbox`), `COPY`/`ADD` with
//!   `berth-fileops`, both on an overlay [`snapshot`] of the stage;
//! - the exporter writes the result into the store as an image.
//!
//! Beside the build, [`import`] assembles a one-layer image from a root file system.

pub mod config;
pub mod error;
pub mod events;
pub mod snapshot;

pub use error::BuildError;
pub use events::{Event, Events};

mod context;
mod copy;
pub mod copy_snapshot;
pub mod export;
pub mod import;
pub mod keys;
pub mod request;
mod run;
mod solve;

pub use export::Built;
pub use request::{Bases, BuildRequest, NetworkDefault, Secret};
pub use snapshot::isolate_mounts;

use berth_oci::Reference;
use berth_store::Store;

/// Builds the image `req` describes and records it in the store with `tags`.
///
/// Holds the store's writer lock throughout, so `berth gc` can't take layers from under it.
pub fn build(
    store: &Store,
    req: &BuildRequest,
    tags: &[Reference],
    bases: &dyn Bases,
    events: &dyn Events,
) -> Result<Built, BuildError> {
    let _lock = store.write_lock()?;
    let solved = solve::solve(store, req, bases, events)?;
    export::to_store(store, &solved.state, &req.labels, &solved.created, tags)
}
