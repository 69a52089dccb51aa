//! berth's registry: the whole OCI distribution API (v1.1 and the spec's main branch) over the
//! berth content store, with htpasswd and token auth, per-repository policies, retention and
//! online garbage collection.
//!
//! It serves the store the CLI uses, so a blob is stored once whoever wrote it: pushes land in
//! the same `blobs/`, and repositories, tags, referrers and uploads are rows in the same
//! metadata database.

mod app;
pub mod auth;
pub mod config;
mod error;
pub mod foreign;
pub mod gate;
mod handlers;
pub mod maintenance;
mod metadata;
mod metrics;
mod peers;
pub mod range;
pub mod route;
mod server;
mod token;
mod unread;
mod uploads;

pub use config::{Config, ConfigError};
pub use error::{ApiError, Code};
pub use server::{ServeError, Server};
