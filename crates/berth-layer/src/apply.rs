//! Applying one layer tar to an empty directory, in the form the overlayfs kernel driver takes
//! as a `lowerdir`.
//!
//! Layers come from registries, so nothing in one is trusted: the layer is unpacked by
//! berth-rootfs' one extractor into a root that refuses symlinks on the way to any entry, so
//! no name (`..`, a symlink planted by an earlier entry, an absolute link target) can make a
//! write land outside the destination. Device nodes are never created (they become empty
//! placeholder files); what is the layer's own business here is the overlayfs format:
//! whiteouts become character devices 0:0 (inert), opaque markers an xattr, and no entry
//! may set overlayfs' own `trusted.overlay.*` attributes.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use berth_oci::{Algorithm, Digest, HashingReader};
use berth_rootfs::extract::{
    self, Devices, ExtractError, Hardlinks, Hooks, Place, Rules, Visit, fields,
};
use berth_rootfs::path::{join, shown, split};
use berth_rootfs::{Links, NewDir, Resolver, Root, Time};

use crate::diff::{OPAQUE_MARKER, WHITEOUT_PREFIX};
use crate::error::LayerError;

/// How a layer is named in messages about its tar stream.
const ARCHIVE: &str = "layer";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// overlayfs' own state; a layer that carries it could steer the mount, so it is never set.
const OVERLAY_XATTRS: &str = "trusted.overlay.";

/// What applying a layer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// sha256 of the whole (uncompressed) tar stream, to check against the image config.
    pub diff_id: Digest,
    /// Length of the tar stream.
    pub size: u64,
    /// Character and block devices in the layer, created as empty files with mode 0 instead.
    pub devices_skipped: Vec<OsString>,
    /// Extended attributes not set, as `path: name (why)`: the file system refused them, or
    /// they were overlayfs' own (`trusted.overlay.*`).
    pub xattrs_skipped: Vec<String>,
}

/// How a layer is extracted: links only to earlier entries, devices as placeholders,
/// unknown entry types refused, owners as the layer says (applying needs root).
fn rules() -> Rules {
    Rules {
        refuse_escaping_symlinks: false,
        hardlinks: Hardlinks::EarlierEntries,
        devices: Devices::Placeholder,
        refuse_unknown_types: true,
        tolerate_chown_eperm: false,
        // Exactly 0755 whatever the umask, as other tools create missing parents.
        parents: NewDir {
            mode: 0o755,
            owner: None,
        },
    }
}

/// Applies the (decompressed) layer tar `input` to `dest`, an empty directory, so that `dest`
/// can serve as an overlayfs `lowerdir`: whiteouts `.wh.NAME` become character devices 0:0
/// and `DIR/.wh..wh..opq` sets `trusted.overlay.opaque=y` on DIR.
///
/// Reads `input` to its end, past the end-of-archive blocks, so the returned diffID covers the
/// whole stream. Refuses entries that climb out with `..`, entries below a symlink, and hard
/// links to anything but an earlier file of the layer.
pub fn apply_layer(input: impl Read, dest: &Path) -> Result<Applied, LayerError> {
    let root = Root::open_with(dest, Resolver::detect(), Links::Refuse)?;
    let mut input = HashingReader::new(input, Algorithm::Sha256);
    let mut overlay = Overlay { dest };
    let done = extract::extract(&root, "", &mut input, &rules(), &mut overlay)?;
    // The end-of-archive blocks, and any padding after them, are part of the diffID.
    io::copy(&mut input, &mut io::sink()).map_err(|e| LayerError::tar(ARCHIVE, e))?;
    let (diff_id, size) = input.finish();
    Ok(Applied {
        diff_id,
        size,
        devices_skipped: done.devices_skipped,
        xattrs_skipped: done.xattrs_skipped,
    })
}

/// The overlayfs format's part of the extraction.
struct Overlay<'a> {
    dest: &'a Path,
}

impl Hooks for Overlay<'_> {
    type Error = LayerError;

    fn visit<R: Read>(
        &mut self,
        place: &mut Place<'_, '_>,
        path: &OsStr,
        item: &mut tar::Entry<R>,
    ) -> Result<Visit, LayerError> {
        let (dir, name) = split(path);
        if name == OPAQUE_MARKER {
            self.opaque(place, dir)?;
            return Ok(Visit::Done);
        }
        let Some(hidden) = name.as_bytes().strip_prefix(WHITEOUT_PREFIX.as_bytes()) else {
            return Ok(Visit::Extract);
        };
        let hidden = OsStr::from_bytes(hidden);
        if hidden.as_bytes().starts_with(WHITEOUT_PREFIX.as_bytes()) {
            return Ok(Visit::Done); // other AUFS bookkeeping (`.wh..wh.plnk`): meaningless here
        }
        let mtime = fields(item).map_err(|e| LayerError::tar(ARCHIVE, e))?.mtime;
        self.whiteout(place, dir, hidden, mtime)?;
        Ok(Visit::Done)
    }

    fn xattr_allowed(&mut self, key: &str) -> Result<(), &'static str> {
        if key.starts_with(OVERLAY_XATTRS) {
            Err("overlayfs state; a layer may not set it")
        } else {
            Ok(())
        }
    }
}

impl Overlay<'_> {
    /// `DIR/.wh..wh..opq`: DIR hides the directories of the same name in lower layers.
    fn opaque(&self, place: &mut Place<'_, '_>, dir: &OsStr) -> Result<(), LayerError> {
        let fd = place.dir(dir)?;
        fd.set_xattr_self(OPAQUE_XATTR, b"y")
            .map_err(|e| LayerError::Opaque {
                path: self.dest.join(dir),
                xattr: OPAQUE_XATTR.to_string(),
                source: e.into(),
            })
    }

    /// `.wh.NAME`: NAME is deleted from the lower layers; overlayfs says so with a
    /// character device 0:0.
    fn whiteout(
        &self,
        place: &mut Place<'_, '_>,
        dir: &OsStr,
        hidden: &OsStr,
        mtime: i64,
    ) -> Result<(), LayerError> {
        if hidden.is_empty() || hidden == "." || hidden == ".." {
            return Err(LayerError::Entry {
                archive: ARCHIVE.to_string(),
                why: format!(
                    "whiteout {:?} names no file; rebuild the layer",
                    shown(place.entry())
                ),
            });
        }
        let path = join(dir, hidden);
        let parent = place.dir(dir)?;
        place.clear(&parent, &path, hidden, false)?;
        parent.whiteout(hidden)?;
        parent.utimens(hidden, Time::secs(mtime), Time::secs(mtime))?;
        Ok(())
    }
}

impl From<ExtractError> for LayerError {
    fn from(e: ExtractError) -> LayerError {
        match e {
            ExtractError::Tar(e) => LayerError::tar(ARCHIVE, e),
            ExtractError::Escapes { entry } => LayerError::Escapes { entry },
            ExtractError::UnderSymlink { entry, link } => LayerError::UnderSymlink { entry, link },
            ExtractError::ParentNotDir { entry, parent } => {
                LayerError::ParentNotDir { entry, parent }
            }
            ExtractError::BadHardlink { entry, target, why } => LayerError::BadHardlink {
                entry,
                target,
                why: why.to_string(),
            },
            ExtractError::BadOwner { entry, id } => LayerError::BadOwner { entry, id },
            e @ (ExtractError::SymlinkEscapes { .. } | ExtractError::Entry { .. }) => {
                LayerError::Entry {
                    archive: ARCHIVE.to_string(),
                    why: e.to_string(),
                }
            }
            ExtractError::Root(e) => LayerError::Root(e),
        }
    }
}
