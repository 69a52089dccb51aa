//! berth's local content store.
//!
//! ```text
//! <root>/
//!   blobs/sha256/<hex>   content-addressed blobs (the same shape as an OCI layout's blobs/)
//!   ingest/              blobs being written; renamed into blobs/ once their digest checks out
//!   berth.db             metadata: manifests and what they reference, images, tags, build cache,
//!                        which registry repositories hold which blobs, build records (SQLite)
//!   build/               the builder's unpacked layers, cache mounts and context indexes
//!   lock                 writers share it, GC takes it alone
//! ```

mod blob_locations;
pub mod blobs;
mod build_cache;
mod build_records;
mod error;
mod gc;
mod layer_info;
pub mod lock;
pub mod meta;
pub mod repos;
mod store;

pub use blob_locations::{BlobLocation, REPOSITORIES_PER_BLOB};
pub use blobs::{BlobWriter, Blobs};
pub use build_cache::{CachedLayer, CachedStep};
pub use error::StoreError;
pub use gc::{DEFAULT_GRACE, FsckReport, GcReport, LinkProblem};
pub use meta::{ImageRecord, LayerInfo};
pub use store::{ResolvedImage, Store};
