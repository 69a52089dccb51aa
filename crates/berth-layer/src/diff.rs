//! Reading an overlayfs upper directory (what a build step changed) as a layer.
//!
//! The kernel and the image formats mark deletions differently: overlayfs leaves a character
//! device 0:0 where a lower file was removed and sets `trusted.overlay.opaque=y` on a directory
//! that replaced a lower one; a Docker/OCI layer holds an empty file `.wh.NAME` and an empty
//! file `DIR/.wh..wh..opq`. Everything else is read exactly as [`crate::from_dir`] reads it
//! (the same walker), minus overlayfs' own bookkeeping attributes.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use berth_rootfs::Meta;
use berth_rootfs::path::join;

use crate::entry::Entry;
use crate::error::LayerError;
use crate::source::{Entries, Tree, walk};

/// Prefix of a whiteout's name in a layer.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Name of the marker that makes its directory opaque in a layer.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// The attributes overlayfs keeps its own state in; never part of a layer.
const OVERLAY_XATTRS: &str = "trusted.overlay.";
/// Set on a directory that hides the lower directories of the same name.
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// State berth's mounts (`redirect_dir=off,metacopy=off`) never create, and a layer can't hold.
const UNSUPPORTED_XATTRS: [&str; 2] = ["trusted.overlay.redirect", "trusted.overlay.metacopy"];

/// Reads the overlayfs upper directory `upper` as layer entries in Docker/OCI format.
///
/// Whiteouts (character devices 0:0) become empty files `.wh.NAME` (mode 0, owner 0:0, the
/// device node's mtime); an opaque directory becomes the directory plus an empty file
/// `DIR/.wh..wh..opq`; `trusted.overlay.*` attributes are dropped. A redirect or metacopy
/// attribute is an error: it means the upper directory came from a mount with those features
/// on, whose changes a layer can't express.
pub fn from_overlay_upper(upper: &Path) -> Result<Entries, LayerError> {
    walk(upper, Tree::OverlayUpper)
}

/// Whether `meta` is an overlayfs whiteout: a character device numbered 0:0.
pub(crate) fn is_whiteout(meta: &Meta) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// The layer entry for a whiteout of `name` in the directory `prefix`.
pub(crate) fn whiteout(prefix: &OsStr, name: &OsStr, meta: &Meta) -> Entry {
    let marked = [WHITEOUT_PREFIX.as_bytes(), name.as_bytes()].concat();
    marker(join(prefix, OsStr::from_bytes(&marked)), meta)
}

/// The layer entry that makes directory `dir` opaque; it takes the directory's mtime.
pub(crate) fn opaque_marker(dir: &OsStr, meta: &Meta) -> Entry {
    marker(join(dir, OPAQUE_MARKER), meta)
}

/// Removes overlayfs' attributes from `xattrs` (read from `path`); returns whether they made
/// the directory opaque.
pub(crate) fn take_overlay_xattrs(
    path: &Path,
    xattrs: &mut Vec<(String, Vec<u8>)>,
) -> Result<bool, LayerError> {
    let mut opaque = false;
    for (name, value) in xattrs.iter() {
        if UNSUPPORTED_XATTRS.contains(&name.as_str()) {
            return Err(LayerError::OverlayFeature {
                path: path.to_path_buf(),
                xattr: name.clone(),
            });
        }
        if name == OPAQUE_XATTR && value.as_slice() == b"y" {
            opaque = true;
        }
    }
    xattrs.retain(|(name, _)| !name.starts_with(OVERLAY_XATTRS));
    Ok(opaque)
}

fn marker(path: OsString, meta: &Meta) -> Entry {
    Entry::marker(path, meta.mtime())
}
