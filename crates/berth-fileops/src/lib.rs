//! Build context and file operations for `berth build`: the context seen through
//! `.dockerignore` ([`context`]), a persistent stat index so warm rebuilds re-hash only changed
//! files ([`index`]), the content checksum of what a `COPY` selects ([`checksum`]), and `COPY`
//! / local `ADD` with Docker's semantics ([`copy`]). Every path on both sides is resolved
//! inside its root by berth-rootfs (COPY sources walked and read through the source root's
//! descriptors, a root's directory descriptors for every write; [`scoped`] for callers that
//! still need a path): nothing in a context or an image can make berth read or write outside
//! them.

pub mod archive;
pub mod checksum;
pub mod context;
pub mod copy;
pub mod error;
pub mod index;
pub mod scoped;
pub mod source;
pub mod wildcard;

pub use checksum::{Checksums, checksum, checksum_and_shape, checksum_tree};
pub use context::Context;
pub use copy::{CopyOptions, CopyStats, Owner, copy, copy_tree};
pub use error::{Error, Result};
pub use index::Index;
pub use source::Tree;
