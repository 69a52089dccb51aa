//! The read-only view catalogers read through, and how they say up front what they read.
//!
//! Catalogers never walk a tree: each declares the paths it needs ([`Wanted`]), so the image
//! backend can keep just those files' bytes while it streams each layer once, and the
//! directory backend opens just those paths.

use std::sync::Arc;

use crate::error::{CatalogError, Result};
use crate::model::LayerRef;

/// Most bytes read of one file: a package database larger than this is refused by name.
pub const MAX_FILE: u64 = 64 << 20;

/// A path a cataloger reads, relative to the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// This one file (`var/lib/dpkg/status`).
    File(&'static str),
    /// Every file directly in this directory (`var/lib/dpkg/status.d`, as `status.d/*`).
    Children(&'static str),
}

impl Wanted {
    /// Whether the cleaned relative `path` is one this asks for (symlinks not followed).
    pub fn matches(&self, path: &str) -> bool {
        match self {
            Wanted::File(file) => path == *file,
            Wanted::Children(dir) => crate::paths::split(path).0 == *dir,
        }
    }
}

/// One version of a file: its bytes, and the layer that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Where the file is, symlinks resolved, relative to the root.
    pub path: String,
    pub bytes: Arc<[u8]>,
    /// The layer that wrote these bytes; `None` in a directory.
    pub layer: Option<LayerRef>,
}

impl File {
    /// The error for line `line` of this file (1-based) not being what its format says.
    pub fn parse_error(&self, line: usize, why: String) -> CatalogError {
        CatalogError::Parse {
            path: self.path.clone(),
            line,
            layer: self.layer.clone(),
            why,
        }
    }
}

/// A file's state after one layer: written (`Some`) or deleted (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub layer: LayerRef,
    pub bytes: Option<Arc<[u8]>>,
}

/// A read-only file system: a directory, or an image's merged layers. Paths are relative to
/// its root; symlinks are followed inside it, never out of it.
pub trait Filesystem {
    /// The file at `path`, or `None` when nothing (or not a regular file) is there.
    fn read(&self, path: &str) -> Result<Option<File>>;

    /// The names in the directory `path`, sorted; empty when it is not a directory.
    fn list(&self, dir: &str) -> Result<Vec<String>>;

    /// Every state of the file `file.path` layer by layer, oldest first, ending with `file`
    /// itself; empty where there are no layers. Catalogers use it to tell which layer added a
    /// package listed in a database that later layers rewrote.
    fn versions(&self, file: &File) -> Vec<Version> {
        let _ = file;
        Vec::new()
    }
}
