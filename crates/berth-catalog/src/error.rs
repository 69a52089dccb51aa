//! What can go wrong while cataloguing, always naming the file (and the layer it came from).

use std::io;

use crate::fs::File;
use crate::model::LayerRef;

/// An error of a cataloguing run. Files are named as paths inside the image (`/var/lib/…`).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A file in the directory could not be read (berth-rootfs names the root and the path).
    #[error(transparent)]
    Root(#[from] berth_rootfs::Error),
    /// A layer's stream could not be read: damaged compression, a broken tar header.
    #[error("{layer}: {source}; the layer is damaged, pull or build the image again")]
    Layer {
        layer: LayerRef,
        #[source]
        source: io::Error,
    },
    /// A layer compressed in a way berth does not read.
    #[error("{layer} is {compression}-compressed; berth reads gzip, zstd and plain layers")]
    Compression {
        layer: LayerRef,
        compression: berth_oci::compression::Unsupported,
    },
    /// A layer entry whose name climbs out of the image with `..`.
    #[error(
        "{layer}: entry {entry:?} climbs out of the image with '..'; the layer is hostile or broken"
    )]
    Escapes { layer: LayerRef, entry: String },
    /// A package database (or os-release) larger than berth reads.
    #[error("/{path}{}: {size} bytes, more than the {limit} bytes berth reads of one package database", in_layer(.layer))]
    TooLarge {
        path: String,
        layer: Option<LayerRef>,
        size: u64,
        limit: u64,
    },
    /// A path that goes through too many symlinks inside the image.
    #[error("/{path}: too many levels of symbolic links inside the image (more than 40)")]
    TooManyLinks { path: String },
    /// A package database (or a language package's metadata) that is not what its format
    /// says; line 0 when the fault is not on one line.
    #[error("/{path}{}{}: {why}", at_line(*.line), in_layer(.layer))]
    Parse {
        path: String,
        line: usize,
        layer: Option<LayerRef>,
        why: String,
    },
    /// A package database or executable, without lines, that is not what its format says.
    #[error("/{path}{}: {why}", in_layer(.layer))]
    Format {
        path: String,
        layer: Option<LayerRef>,
        why: String,
    },
}

/// `:LINE`, or nothing for line 0 (an error of the whole file).
fn at_line(line: usize) -> String {
    match line {
        0 => String::new(),
        line => format!(":{line}"),
    }
}

fn in_layer(layer: &Option<LayerRef>) -> String {
    match layer {
        Some(layer) => format!(" (in {layer})"),
        None => String::new(),
    }
}

/// Why a package database could not be read: the line, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub why: String,
}

/// At most 80 characters of what a message quotes.
pub(crate) fn clip(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// The crate's result.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// The error for a file that is not what its format says, where the format has no lines
/// (an SQLite database, an executable).
pub(crate) fn format_error(file: &File, why: String) -> CatalogError {
    CatalogError::Format {
        path: file.path.clone(),
        layer: file.layer.clone(),
        why,
    }
}
