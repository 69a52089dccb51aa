use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use berth_rootfs::path::shown;

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("reading tarball {archive}: {source}")]
    Tar { archive: String, source: io::Error },
    #[error("tarball {archive}: {why}")]
    Entry { archive: String, why: String },
    #[error("{0}")]
    Unsupported(String),
    /// Writing into the destination failed (the path inside it is named).
    #[error(transparent)]
    Root(#[from] berth_rootfs::Error),
    #[error("{} changed while it was being read ({expected} bytes became {actual}); import again once it is still", path.display())]
    Changed {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("writing layer: {0}")]
    Write(io::Error),
    #[error(
        "layer entry {:?} climbs out of the layer with '..'; the layer is malformed or hostile: rebuild it with paths inside the root, or don't use it",
        shown(entry)
    )]
    Escapes { entry: OsString },
    #[error(
        "layer entry {:?} lies under {:?}, which is a symlink; berth never writes through symlinks: the layer is malformed or hostile, rebuild it without entries below symlinks",
        shown(entry),
        shown(link)
    )]
    UnderSymlink { entry: OsString, link: OsString },
    #[error(
        "layer entry {:?} lies under {:?}, which is not a directory; rebuild the layer so that {:?} is a directory",
        shown(entry),
        shown(parent),
        shown(parent)
    )]
    ParentNotDir { entry: OsString, parent: OsString },
    #[error(
        "layer entry {:?} is a hard link to {:?}, {why}; a hard link must name a file listed earlier in the same layer: rebuild the layer",
        shown(entry),
        shown(target)
    )]
    BadHardlink {
        entry: OsString,
        target: OsString,
        why: String,
    },
    #[error(
        "layer entry {:?} has owner {id}, which is not a valid Linux id (at most 4294967294): rebuild the layer with valid owners",
        shown(entry)
    )]
    BadOwner { entry: OsString, id: u64 },
    #[error(
        "{}: cannot set {xattr}: {source}; apply layers onto a file system with trusted.* xattrs (ext4, xfs, btrfs, tmpfs) as root",
        path.display()
    )]
    Opaque {
        path: PathBuf,
        xattr: String,
        source: io::Error,
    },
    #[error(
        "{}: has overlayfs attribute {xattr}, which a layer can't express; mount the build overlay with redirect_dir=off,metacopy=off and run the step again",
        path.display()
    )]
    OverlayFeature { path: PathBuf, xattr: String },
}

impl LayerError {
    pub(crate) fn io(path: &Path, source: io::Error) -> LayerError {
        LayerError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn tar(archive: &str, source: io::Error) -> LayerError {
        LayerError::Tar {
            archive: archive.to_string(),
            source,
        }
    }
}
