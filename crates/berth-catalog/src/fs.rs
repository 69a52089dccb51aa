//! The read-only view catalogers read through, and how they say up front what they read.
//!
//! Catalogers never walk a tree themselves: each declares what it needs ([`Wanted`]): exact
//! paths, a test on any path (language packages live anywhere), or executables with an
//! extractor of the few bytes it needs from them. The image backend keeps just those bytes
//! while it streams each layer once; the directory backend opens the exact paths and walks
//! the tree once for the rest.

use std::sync::Arc;

use crate::error::{CatalogError, Result};
use crate::model::LayerRef;

/// Most bytes read of one file: a package database larger than this is refused by name, and
/// a file a [`Wanted::Matching`] test accepts is left out past it, with a warning.
pub const MAX_FILE: u64 = 64 << 20;

/// Largest executable handed to an [`Extract`]: bigger ones are passed over without error.
pub const MAX_EXECUTABLE: u64 = 512 << 20;

/// What a cataloger keeps of an executable (an ELF file): the bytes it needs (Go's build
/// information, cargo-auditable's dependency list), or `None` when it holds nothing for it.
/// Only what it returns is kept, so an image's binaries are never all held in memory.
pub type Extract = fn(&[u8]) -> Option<Vec<u8>>;

/// The first bytes of every ELF file.
pub const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

/// What a cataloger reads, relative to the root.
#[derive(Debug, Clone, Copy)]
pub enum Wanted {
    /// This one file (`var/lib/dpkg/status`).
    File(&'static str),
    /// Every file directly in this directory (`var/lib/dpkg/status.d`, as `status.d/*`).
    Children(&'static str),
    /// Every regular file, anywhere, whose cleaned relative path this accepts
    /// (`…/foo-1.0.dist-info/METADATA`); found with [`Filesystem::found`]. Symlinks to such
    /// files are not followed: the file is found where it really is.
    Matching(fn(&str) -> bool),
    /// As [`Wanted::Matching`], each file reduced by the extractor to what its cataloger reads
    /// (a jar to its manifest and `pom.properties`), so that only that is held; the file is
    /// left out when the extractor returns `None`.
    Reduced(fn(&str) -> bool, Extract),
    /// Every regular file whose first bytes are [`ELF_MAGIC`] (whatever its mode), up to
    /// [`MAX_EXECUTABLE`], passed whole to the extractor; found with [`Filesystem::found`],
    /// each with the bytes the extractor returned.
    Executables(Extract),
}

impl Wanted {
    /// Whether the cleaned relative `path` is one this asks for by name (symlinks not
    /// followed); executables are told by their bytes, never by name.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            Wanted::File(file) => path == *file,
            Wanted::Children(dir) => crate::paths::split(path).0 == *dir,
            Wanted::Matching(accepts) | Wanted::Reduced(accepts, _) => accepts(path),
            Wanted::Executables(_) => false,
        }
    }

    /// Whether this is a kind [`Filesystem::found`] answers for (found by a walk, not by
    /// path).
    pub fn is_found_anywhere(&self) -> bool {
        matches!(
            self,
            Wanted::Matching(_) | Wanted::Reduced(..) | Wanted::Executables(_)
        )
    }

    /// Whether `self` and `other` ask for the same thing. Two functions are told apart by
    /// address: should the compiler fold two identical ones into one, they answer alike, so
    /// taking one for the other changes nothing.
    pub fn same(&self, other: &Wanted) -> bool {
        match (self, other) {
            (Wanted::File(a), Wanted::File(b)) | (Wanted::Children(a), Wanted::Children(b)) => {
                a == b
            }
            (Wanted::Matching(a), Wanted::Matching(b)) => std::ptr::fn_addr_eq(*a, *b),
            (Wanted::Reduced(a, x), Wanted::Reduced(b, y)) => {
                std::ptr::fn_addr_eq(*a, *b) && std::ptr::fn_addr_eq(*x, *y)
            }
            (Wanted::Executables(a), Wanted::Executables(b)) => std::ptr::fn_addr_eq(*a, *b),
            _ => false,
        }
    }
}

/// The extractors of executables in `wanted`, each with its index there (how the views tell
/// which extractor kept what).
pub(crate) fn extractors(wanted: &[Wanted]) -> Vec<(usize, Extract)> {
    wanted
        .iter()
        .enumerate()
        .filter_map(|(i, w)| match w {
            Wanted::Executables(extract) => Some((i, *extract)),
            _ => None,
        })
        .collect()
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

    /// The files `wanted` (a [`Wanted::Matching`], [`Wanted::Reduced`] or
    /// [`Wanted::Executables`] the view was made with) found, sorted by path; for the last
    /// two, with the bytes the extractor returned. Empty for a kind the view was not made
    /// with.
    fn found(&self, wanted: &Wanted) -> Result<Vec<File>>;

    /// Files left out of [`Filesystem::found`] and why (too large), for the catalogue's
    /// warnings.
    fn skipped(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether this is a plain directory (a project checkout, an extracted tree) rather than
    /// an image: lockfiles describe what a project would install, catalogued in directories
    /// only, as Syft does.
    fn is_directory(&self) -> bool {
        false
    }
}
