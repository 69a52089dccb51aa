//! berth's registry client: Docker's credentials and token flow, retries with backoff,
//! resumable downloads, chunked uploads, cross-repository mounts, and registries as a place
//! images are read from and written to (`docker://`), alongside the store, layouts and archives.

pub mod body;
pub mod challenge;
pub mod client;
pub mod credentials;
pub mod destination;
mod error;
pub mod ops;
pub mod retry;
pub mod source;

pub use client::{Client, DEFAULT_READ_TIMEOUT, Options, Registry, Scope};
pub use credentials::{Credential, DockerConfig};
pub use destination::RemoteDestination;
pub use error::{Kind, RemoteError};
pub use retry::{Failures, RetryPolicy};
pub use source::RemoteSource;
