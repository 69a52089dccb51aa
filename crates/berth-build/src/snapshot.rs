//! Snapshots: a stage's file system as a stack of unpacked layers, mounted with overlayfs.
//!
//! Every layer the builder uses is unpacked once into `<root>/build/layers/<diff id>` in the
//! overlay driver's own format (whiteouts as 0:0 character devices, opaque directories marked
//! by an xattr), so a stack of them is a valid `lowerdir` list. A step that changes files
//! mounts the stack with a fresh upper directory; after the step the upper directory *is* the
//! diff: it becomes the new layer's tar, then moves into `layers/` as that layer's unpacked
//! form, so a built layer is never unpacked again.
//!
//! A layer may also be unpacked as a *delta*: a directory holding only what differs from an
//! earlier layer of the same step (named in `<dir>.base`), which is stacked under it. A `COPY`
//! that reruns because one of 2,000 files changed then writes one file, not 2,000. Chains are
//! kept short ([`MAX_CHAIN`]) so the overlay stack stays shallow.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use berth_oci::{Compression, Descriptor, Digest};
use berth_store::Store;
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, UnmountFlags, fsconfig_create,
    fsconfig_set_string, fsmount, fsopen, move_mount, unmount,
};

use crate::error::BuildError;

/// The most directories one layer's unpacked form may take (a full directory and its deltas).
pub const MAX_CHAIN: usize = 8;

/// One layer of a stage: the blob and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerRef {
    pub descriptor: Descriptor,
    pub diff_id: Digest,
}

/// How step snapshots are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Overlay mounts: the upper directory is the diff.
    Overlay,
    /// Plain copies compared before and after ([`crate::copy_snapshot`]), where overlayfs
    /// can't be mounted (or `BERTH_SNAPSHOTTER=copy` asks for it).
    Copy,
}

/// The builder's directories inside the store root.
#[derive(Debug, Clone)]
pub struct Snapshots {
    dir: PathBuf,
    mode: Mode,
}

impl Snapshots {
    pub fn new(store_root: &Path) -> Result<Snapshots, BuildError> {
        let dir = store_root.join("build");
        for sub in ["layers", "tmp", "cache-mounts", "context"] {
            let d = dir.join(sub);
            fs::create_dir_all(&d).map_err(|e| BuildError::io(&d, e))?;
        }
        let mode = match std::env::var("BERTH_SNAPSHOTTER").as_deref() {
            Ok("copy") => Mode::Copy,
            Ok("overlay") => Mode::Overlay,
            _ => probe(&dir.join("tmp")),
        };
        Ok(Snapshots { dir, mode })
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A read-only view of `lowers` (top first) at `target`.
    pub fn view(&self, lowers: &[PathBuf], target: &Path) -> Result<View, BuildError> {
        match self.mode {
            Mode::Overlay => Ok(View::Overlay(Overlay::mount(lowers, None, target)?)),
            Mode::Copy => {
                crate::copy_snapshot::materialize(lowers, target)?;
                Ok(View::Copy(CopyDir(target.to_path_buf())))
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a layer with this diff ID is (or will be) unpacked.
    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.dir
            .join("layers")
            .join(format!("{}-{}", diff_id.algorithm(), diff_id.hex()))
    }

    /// A fresh scratch directory for one step, removed when dropped.
    pub fn scratch(&self) -> Result<tempfile::TempDir, BuildError> {
        let tmp = self.dir.join("tmp");
        tempfile::Builder::new()
            .prefix("step-")
            .tempdir_in(&tmp)
            .map_err(|e| BuildError::io(&tmp, e))
    }

    /// The directories that hold `layer` unpacked, top first: one, or a delta and the
    /// directories of the layer it is based on. Unpacks the layer when it isn't.
    pub fn unpacked(&self, store: &Store, layer: &LayerRef) -> Result<Vec<PathBuf>, BuildError> {
        if let Some(dirs) = self.chain(&layer.diff_id) {
            return Ok(dirs);
        }
        // A delta whose base is gone can't be used: unpack the whole layer instead.
        let dest = self.layer_dir(&layer.diff_id);
        if dest.exists() {
            let _ = std::fs::remove_file(base_file(&dest));
            std::fs::remove_dir_all(&dest).map_err(|e| BuildError::io(&dest, e))?;
        }
        Ok(vec![self.unpack(store, layer)?])
    }

    /// The directories of an unpacked layer, top first; `None` if it isn't (wholly) unpacked.
    pub fn chain(&self, diff_id: &Digest) -> Option<Vec<PathBuf>> {
        let mut dirs = Vec::new();
        let mut dir = self.layer_dir(diff_id);
        loop {
            if !dir.is_dir() || dirs.len() >= MAX_CHAIN {
                return None;
            }
            let base = std::fs::read_to_string(base_file(&dir)).ok();
            dirs.push(dir);
            match base.as_deref().map(str::trim) {
                None => return Some(dirs),
                Some(base) => dir = self.dir.join("layers").join(base),
            }
        }
    }

    /// Unpacks `layer` whole from its blob.
    ///
    /// Unpacking goes to a temporary directory renamed into place only when complete and the
    /// stream's hash matches the diff ID, so a half-unpacked layer is never used.
    fn unpack(&self, store: &Store, layer: &LayerRef) -> Result<PathBuf, BuildError> {
        let scratch = self.scratch()?;
        let tmp = scratch.path().join("layer");
        fs::create_dir(&tmp).map_err(|e| BuildError::io(&tmp, e))?;
        let path = store.blobs().path(&layer.descriptor.digest);
        let blob = store
            .blobs()
            .open(&layer.descriptor.digest, Some(layer.descriptor.size))
            .map_err(BuildError::Store)?;
        let mut blob = BufReader::new(blob);
        let head = blob.fill_buf().map_err(|e| BuildError::io(&path, e))?;
        let compression = Compression::sniff(head).map_err(|unsupported| BuildError::Layer {
            digest: layer.descriptor.digest.clone(),
            source: berth_layer::LayerError::Unsupported(format!(
                "{unsupported} layers are not supported; berth reads gzip, zstd and uncompressed layers"
            )),
        })?;
        let reader = compression
            .decoder(blob)
            .map_err(|e| BuildError::io(&path, e))?;
        let applied =
            berth_layer::apply::apply_layer(reader, &tmp).map_err(|source| BuildError::Layer {
                digest: layer.descriptor.digest.clone(),
                source,
            })?;
        if applied.diff_id != layer.diff_id {
            return Err(BuildError::DiffIdMismatch {
                digest: layer.descriptor.digest.clone(),
                expected: layer.diff_id.clone(),
                actual: applied.diff_id,
            });
        }
        // Remember what the blob holds, so `berth gc` keeps this unpacked copy while the
        // layer lives.
        store.set_layer_info(
            &layer.descriptor.digest,
            &berth_store::LayerInfo {
                diff_id: layer.diff_id.clone(),
                size: applied.size,
            },
        )?;
        self.adopt(&tmp, &layer.diff_id)
    }

    /// Moves a delta directory into place as the unpacked form of `diff_id`, stacked on the
    /// unpacked form of `base`.
    pub fn adopt_delta(
        &self,
        dir: &Path,
        diff_id: &Digest,
        base: &Digest,
    ) -> Result<PathBuf, BuildError> {
        let dest = self.layer_dir(diff_id);
        if dest.is_dir() {
            let _ = fs::remove_dir_all(dir);
            return Ok(dest);
        }
        // The base is named first: a delta directory is never in place without it.
        let name = format!("{}-{}", base.algorithm(), base.hex());
        let marker = base_file(&dest);
        fs::write(&marker, name).map_err(|e| BuildError::io(&marker, e))?;
        self.adopt(dir, diff_id)
    }

    /// Moves a finished upper directory into place as the unpacked form of `diff_id`.
    pub fn adopt(&self, dir: &Path, diff_id: &Digest) -> Result<PathBuf, BuildError> {
        let dest = self.layer_dir(diff_id);
        match fs::rename(dir, &dest) {
            Ok(()) => Ok(dest),
            // Another build unpacked the same layer first: theirs is as good as ours.
            Err(_) if dest.is_dir() => {
                let _ = fs::remove_dir_all(dir);
                Ok(dest)
            }
            Err(e) => Err(BuildError::io(&dest, e)),
        }
    }
}

/// Whether an overlay can be mounted here: tries one in `tmp`.
fn probe(tmp: &Path) -> Mode {
    let Ok(dir) = tempfile::Builder::new().prefix("probe-").tempdir_in(tmp) else {
        return Mode::Copy;
    };
    let p = |n: &str| dir.path().join(n);
    for n in ["l", "u", "w"] {
        if fs::create_dir(p(n)).is_err() {
            return Mode::Copy;
        }
    }
    match Overlay::mount(&[p("l")], Some((&p("u"), &p("w"))), &p("m")) {
        Ok(o) => match o.unmount() {
            Ok(()) => Mode::Overlay,
            Err(_) => Mode::Copy,
        },
        Err(_) => Mode::Copy,
    }
}

/// A read-only view of a stack of layers: a mount, or a copy removed when dropped.
pub enum View {
    Overlay(Overlay),
    Copy(CopyDir),
}

/// A directory removed when dropped.
pub struct CopyDir(PathBuf);

impl Drop for CopyDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

impl View {
    pub fn path(&self) -> &Path {
        match self {
            View::Overlay(o) => o.path(),
            View::Copy(p) => &p.0,
        }
    }

    /// Unmounts or removes it now, reporting failure.
    pub fn close(self) -> Result<(), BuildError> {
        match self {
            View::Overlay(o) => o.unmount(),
            View::Copy(_) => Ok(()),
        }
    }
}

/// Where a delta directory names the layer it is based on.
fn base_file(dir: &Path) -> PathBuf {
    dir.with_extension("base")
}

/// An overlay mount, unmounted when dropped.
pub struct Overlay {
    target: PathBuf,
    mounted: bool,
}

impl Overlay {
    /// Mounts `lowers` (top first) at `target`, writable through `upper` when given (with
    /// `work` beside it), read-only otherwise.
    ///
    /// Uses the new mount API, appending one `lowerdir+` at a time, so the number of layers is
    /// not bounded by the page-sized option string of `mount(2)`.
    pub fn mount(
        lowers: &[PathBuf],
        upper: Option<(&Path, &Path)>,
        target: &Path,
    ) -> Result<Overlay, BuildError> {
        let fail = |what: &str, e: rustix::io::Errno| BuildError::Mount {
            target: target.to_path_buf(),
            step: what.to_string(),
            source: e.into(),
        };
        let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| fail("fsopen", e))?;
        // overlay needs two lower layers when there is no upper one: an empty directory at
        // the bottom changes nothing and keeps one-layer and no-layer stacks mountable.
        let empty = target.with_extension("empty");
        fs::create_dir_all(&empty).map_err(|e| BuildError::io(&empty, e))?;
        for lower in lowers.iter().chain(std::iter::once(&empty)) {
            fsconfig_set_string(&fs, "lowerdir+", lower)
                .map_err(|e| fail(&format!("lowerdir {}", lower.display()), e))?;
        }
        if let Some((upper, work)) = upper {
            fsconfig_set_string(&fs, "upperdir", upper).map_err(|e| fail("upperdir", e))?;
            fsconfig_set_string(&fs, "workdir", work).map_err(|e| fail("workdir", e))?;
        }
        // Plain copies up and no redirects: the upper directory must read as a Docker diff.
        for (key, value) in [
            ("redirect_dir", "off"),
            ("metacopy", "off"),
            ("index", "off"),
        ] {
            fsconfig_set_string(&fs, key, value).map_err(|e| fail(key, e))?;
        }
        fsconfig_create(&fs).map_err(|e| fail("create", e))?;
        // nodev: a device node in a layer (one an image recorded) is never a way to a host
        // device through a snapshot.
        let attrs = if upper.is_some() {
            MountAttrFlags::MOUNT_ATTR_NODEV
        } else {
            MountAttrFlags::MOUNT_ATTR_RDONLY | MountAttrFlags::MOUNT_ATTR_NODEV
        };
        let mnt =
            fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs).map_err(|e| fail("fsmount", e))?;
        fs::create_dir_all(target).map_err(|e| BuildError::io(target, e))?;
        move_mount(
            &mnt,
            "",
            rustix::fs::CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
        .map_err(|e| fail("move_mount", e))?;
        Ok(Overlay {
            target: target.to_path_buf(),
            mounted: true,
        })
    }

    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Unmounts now, reporting failure (dropping unmounts too, but silently).
    ///
    /// A sandbox forked by a parallel step can briefly hold a descriptor inherited from this
    /// process that points into the mount; the mount is then detached at once and goes when
    /// that descriptor does. Nothing writes through such a descriptor.
    pub fn unmount(mut self) -> Result<(), BuildError> {
        self.mounted = false;
        let result = match unmount(&self.target, UnmountFlags::empty()) {
            Err(rustix::io::Errno::BUSY) => unmount(&self.target, UnmountFlags::DETACH),
            other => other,
        };
        result.map_err(|e| BuildError::Mount {
            target: self.target.clone(),
            step: "unmount".to_string(),
            source: e.into(),
        })
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        if self.mounted {
            let _ = unmount(&self.target, UnmountFlags::DETACH);
        }
    }
}

/// Gives this process its own mount namespace, so every overlay the build mounts disappears
/// with it, whatever way it ends. Must run while the process has one thread.
pub fn isolate_mounts() -> Result<(), BuildError> {
    use rustix::thread::{UnshareFlags, unshare_unsafe};
    // SAFETY: called before any other thread exists (the CLI does it first thing), so no
    // other thread shares this process's file system attributes.
    unsafe { unshare_unsafe(UnshareFlags::NEWNS) }.map_err(|e| BuildError::Mount {
        target: PathBuf::from("/"),
        step: "unshare(CLONE_NEWNS) (berth build needs root or CAP_SYS_ADMIN)".to_string(),
        source: e.into(),
    })?;
    // Nothing we mount may propagate back to the host's namespace.
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::PRIVATE | rustix::mount::MountPropagationFlags::REC,
    )
    .map_err(|e| BuildError::Mount {
        target: PathBuf::from("/"),
        step: "making mounts private".to_string(),
        source: e.into(),
    })
}
