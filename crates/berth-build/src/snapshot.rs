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
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use berth_oci::{Compression, Descriptor, Digest};
use berth_store::Store;
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags, UnmountFlags,
    fsconfig_create, fsconfig_set_string, fsmount, fsopen, move_mount, open_tree, unmount,
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

    /// Where the gzip chunks of the layer with this diff ID are recorded (see
    /// [`crate::chunks`]).
    pub fn chunks_file(&self, diff_id: &Digest) -> PathBuf {
        self.layer_dir(diff_id).with_extension("chunks")
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
    // Volatile where the kernel has it (5.10 on): unmounting a writable overlay otherwise
    // syncs the whole upper file system, which on a busy disk cost this probe, run by every
    // build, up to 30 ms. Nothing written here needs to last.
    let mount =
        |volatile| Overlay::mount_with(&[p("l")], Some((&p("u"), &p("w"))), &p("m"), volatile);
    match mount(true).or_else(|_| mount(false)) {
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
        Overlay::mount_with(lowers, upper, target, false)
    }

    /// [`Overlay::mount`]; `volatile` skips every sync of the upper directory, unmounting
    /// included (for what need not survive a crash).
    fn mount_with(
        lowers: &[PathBuf],
        upper: Option<(&Path, &Path)>,
        target: &Path,
        volatile: bool,
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
            if volatile {
                rustix::mount::fsconfig_set_flag(&fs, "volatile")
                    .map_err(|e| fail("volatile", e))?;
            }
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
    pub fn unmount(mut self) -> Result<(), BuildError> {
        self.mounted = false;
        unmount_now(&self.target)
    }
}

/// Unmounts `target`. A sandbox forked by a parallel step can briefly hold a descriptor
/// inherited from this process that points into the mount; the mount is then detached at
/// once and goes when that descriptor does. Nothing writes through such a descriptor.
fn unmount_now(target: &Path) -> Result<(), BuildError> {
    let result = match unmount(target, UnmountFlags::empty()) {
        Err(rustix::io::Errno::BUSY) => unmount(target, UnmountFlags::DETACH),
        other => other,
    };
    result.map_err(|e| BuildError::Mount {
        target: target.to_path_buf(),
        step: "unmount".to_string(),
        source: e.into(),
    })
}

/// A bind mount of an object berth holds open (a `RUN --mount=type=bind` source, resolved
/// inside its root), made in the build's own mount namespace and unmounted when dropped.
/// The sandbox mounts it by its path, which is berth's own: the source is bound by its
/// descriptor, so nothing changed in the source tree after the check can change what the
/// command sees. (The sandbox can't take the descriptor itself: a descriptor's mount belongs
/// to the namespace it was opened in, and the sandbox's is a new one.)
pub struct Bind {
    target: PathBuf,
}

impl Bind {
    /// Binds what `object` (an `O_PATH` descriptor) is, and everything mounted below it, at
    /// `target`, made as a file or a directory to match.
    pub fn of(object: &OwnedFd, target: &Path) -> Result<Bind, BuildError> {
        let fail = |what: &str, e: rustix::io::Errno| BuildError::Mount {
            target: target.to_path_buf(),
            step: what.to_string(),
            source: e.into(),
        };
        let is_dir = rustix::fs::fstat(object)
            .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir())
            .map_err(|e| fail("fstat", e))?;
        if is_dir {
            fs::create_dir_all(target)
        } else {
            target
                .parent()
                .map_or(Ok(()), fs::create_dir_all)
                .and_then(|()| fs::File::create(target).map(drop))
        }
        .map_err(|e| BuildError::io(target, e))?;
        let flags = OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_EMPTY_PATH
            | OpenTreeFlags::AT_RECURSIVE;
        let tree = open_tree(object, "", flags).map_err(|e| fail("open_tree", e))?;
        move_mount(
            &tree,
            "",
            rustix::fs::CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
        .map_err(|e| fail("move_mount", e))?;
        Ok(Bind {
            target: target.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.target
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = unmount_now(&self.target);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What is bound is the object opened, whatever is renamed or swapped in at its path
    /// afterwards (a path handed to mount(2) would follow the symlink put there).
    #[test]
    fn a_bind_mounts_the_object_held_not_what_its_path_names_now() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, outside) = (tmp.path().join("ctx/src"), tmp.path().join("outside"));
        for (dir, file) in [(&src, "inside"), (&outside, "outside")] {
            fs::create_dir_all(dir).unwrap();
            fs::write(dir.join(file), file).unwrap();
        }
        fs::write(src.join("..").join("file"), "a file").unwrap();
        let root = berth_rootfs::Root::open(&tmp.path().join("ctx")).unwrap();
        let dir_fd = root.open_path("src", berth_rootfs::Last::Follow).unwrap();
        let file_fd = root.open_path("file", berth_rootfs::Last::Follow).unwrap();
        fs::rename(&src, tmp.path().join("ctx/moved")).unwrap();
        std::os::unix::fs::symlink(&outside, &src).unwrap();

        let bound = Bind::of(&dir_fd, &tmp.path().join("mnt/dir")).unwrap();
        let names: Vec<_> = fs::read_dir(bound.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["inside"]);
        let file = Bind::of(&file_fd, &tmp.path().join("mnt/file")).unwrap();
        assert_eq!(fs::read_to_string(file.path()).unwrap(), "a file");
        let target = bound.path().to_path_buf();
        drop(bound);
        assert_eq!(
            fs::read_dir(&target).unwrap().count(),
            0,
            "unmounted when dropped"
        );
    }
}
