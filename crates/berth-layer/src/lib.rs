//! berth's layers: turning a directory tree or a tarball into a deterministic tar stream.
//!
//! The same tree always gives the same bytes: entries in a fixed order (depth first, names
//! sorted bytewise), numeric owners, whole-second mtimes (optionally clamped to
//! SOURCE_DATE_EPOCH), xattrs as sorted PAX records, hard links resolved to the first name,
//! and gzip with no name and no timestamp.
//!
//! For `berth build`: [`apply_layer`] unpacks a layer as an overlayfs lower directory,
//! [`from_overlay_upper`] reads what a step changed back as a layer, and [`write_layer`]
//! compresses it (gzip on every core, or zstd).

pub mod apply;
pub mod compress;
pub mod diff;
pub mod entry;
mod error;
pub mod source;
pub mod write;

pub use apply::{Applied, apply_layer};
pub use compress::{
    Chunk, ChunkSource, LayerCompression, NoChunks, ParallelGzip, WrittenLayer, chunk_codec,
    write_layer,
};
pub use diff::from_overlay_upper;
pub use error::LayerError;
pub use source::{Entries, from_dir, from_tarball};
pub use write::{TarOptions, TarStats, gzip, write_gzip_layer, write_tar, write_tar_reporting};
