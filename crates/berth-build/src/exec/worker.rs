//! The real executor: each step runs in a writable snapshot of its stage, and what it
//! changed becomes a layer in the store.

use std::path::{Path, PathBuf};
use std::time::Instant;

use berth_oci::{Descriptor, Digest};
use berth_store::{LayerInfo, Store};

use super::{Executor, Op, Source, StepEnv};
use crate::chunks::{self, LayerChunks};
use crate::error::{BuildError, StepError};
use crate::snapshot::{LayerRef, MAX_CHAIN, Mode, Overlay, Snapshots, View};

/// Overlay (or copy) snapshots of a stage, the sandbox for `RUN`, berth-fileops for
/// `COPY`/`ADD`; layers written into `store`.
pub struct Worker<'a> {
    store: &'a Store,
    snapshots: Snapshots,
    /// `SOURCE_DATE_EPOCH`: clamps file times in new layers.
    source_date_epoch: Option<i64>,
    /// zstd instead of gzip for new layers.
    zstd: bool,
}

impl Executor for Worker<'_> {
    fn execute(&self, op: &Op, env: &StepEnv<'_>) -> Result<Option<LayerRef>, BuildError> {
        self.change(env.input, env.previous, |root, scratch| match op {
            Op::Run(run) => super::run::run(self, run, root, scratch, env),
            Op::Copy(copy) => super::copy::copy(self, copy, root, scratch, env),
            Op::Mkdir { path, user } => mkdir(root, path, user, env),
        })
    }

    fn can_build_on(&self, layer: &LayerRef) -> bool {
        self.snapshots.mode() == Mode::Overlay
            && self
                .snapshots
                .chain(&layer.diff_id)
                .is_some_and(|dirs| dirs.len() < MAX_CHAIN)
    }
}

impl<'a> Worker<'a> {
    pub fn new(
        store: &'a Store,
        source_date_epoch: Option<i64>,
        zstd: bool,
    ) -> Result<Worker<'a>, BuildError> {
        Ok(Worker {
            store,
            snapshots: Snapshots::new(store.root())?,
            source_date_epoch,
            zstd,
        })
    }

    pub(crate) fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }

    /// Where a source's files are on disk: the context's directory, or a stage's or image's
    /// layers mounted read-only at `mountpoint` (mounted as long as `held` keeps the view).
    pub(crate) fn source_root(
        &self,
        source: &Source,
        env: &StepEnv<'_>,
        mountpoint: &Path,
        held: &mut Vec<View>,
    ) -> Result<PathBuf, BuildError> {
        match source {
            Source::Context => Ok(env.context.path().to_path_buf()),
            Source::Layers(layers) => {
                let lowers = self.lowers(layers)?;
                held.push(self.snapshots.view(&lowers, mountpoint)?);
                Ok(mountpoint.to_path_buf())
            }
        }
    }

    /// Mounts the stage writable (with `on` stacked on top), lets `work` change it, and turns
    /// the change into a layer.
    fn change(
        &self,
        input: &[LayerRef],
        on: Option<&LayerRef>,
        work: impl FnOnce(&Path, &Path) -> Result<(), BuildError>,
    ) -> Result<Option<LayerRef>, BuildError> {
        let scratch = self.snapshots.scratch()?;
        let upper = scratch.path().join("upper");
        let workdir = scratch.path().join("work");
        let merged = scratch.path().join("merged");
        for d in [&upper, &workdir] {
            std::fs::create_dir(d).map_err(|e| BuildError::io(d, e))?;
        }
        let t = Instant::now();
        let lowers = self.lowers(input)?;
        if self.snapshots.mode() == Mode::Copy {
            return self.change_by_copy(&lowers, &merged, scratch.path(), work);
        }
        let previous = match on {
            Some(l) => self.snapshots.unpacked(self.store, l)?,
            None => Vec::new(),
        };
        let stack: Vec<PathBuf> = previous.iter().chain(&lowers).cloned().collect();
        let overlay = Overlay::mount(&stack, Some((&upper, &workdir)), &merged)?;
        let mounted = t.elapsed();
        work(&merged, scratch.path())?;
        let worked = t.elapsed();
        overlay.unmount()?;
        let layer = match on {
            None => self.commit(&upper, &lowers)?,
            Some(base) => self.commit_delta(&upper, base, &previous, &lowers, scratch.path())?,
        };
        tracing::debug!(
            ?mounted,
            work = ?(worked - mounted),
            commit = ?(t.elapsed() - worked),
            "step timings"
        );
        Ok(layer)
    }

    /// [`Worker::change`] without overlayfs: the step runs in a copy of the stage, and the
    /// layer is what differs afterwards.
    fn change_by_copy(
        &self,
        lowers: &[PathBuf],
        root: &Path,
        scratch: &Path,
        work: impl FnOnce(&Path, &Path) -> Result<(), BuildError>,
    ) -> Result<Option<LayerRef>, BuildError> {
        crate::copy_snapshot::materialize(lowers, root)?;
        let before = crate::copy_snapshot::Inventory::of(root)?;
        work(root, scratch)?;
        let mut entries = crate::copy_snapshot::changes(root, &before)?;
        drop_unchanged_dirs(&mut entries.entries, lowers);
        let layer = self.store_layer(&entries, root, None)?;
        drop(entries);
        // The layer's unpacked form comes from its blob, in the same format as any other.
        if let Some(l) = &layer {
            self.snapshots.unpacked(self.store, l)?;
        }
        Ok(layer)
    }

    /// Unpacked directories of `layers`, top first (overlay's `lowerdir` order).
    pub(crate) fn lowers(&self, layers: &[LayerRef]) -> Result<Vec<PathBuf>, BuildError> {
        let mut dirs = Vec::new();
        for l in layers.iter().rev() {
            dirs.extend(self.snapshots.unpacked(self.store, l)?);
        }
        Ok(dirs)
    }

    /// Turns an overlay upper directory into a layer in the store; `None` if nothing changed.
    fn commit(&self, upper: &Path, lowers: &[PathBuf]) -> Result<Option<LayerRef>, BuildError> {
        let mut entries = berth_layer::diff::from_overlay_upper(upper).map_err(|source| {
            BuildError::LayerWrite {
                path: upper.to_path_buf(),
                source,
            }
        })?;
        drop_unchanged_dirs(&mut entries.entries, lowers);
        let layer = self.store_layer(&entries, upper, None)?;
        drop(entries);
        if let Some(l) = &layer {
            self.snapshots.adopt(upper, &l.diff_id)?;
        }
        Ok(layer)
    }

    /// [`Worker::commit`] for a step run on top of an earlier result of itself (`base`,
    /// unpacked in `previous`): the layer is what `upper` and `previous` hold together, read
    /// through a read-only overlay of the two; `upper` is kept as a delta on `base`.
    fn commit_delta(
        &self,
        upper: &Path,
        base: &LayerRef,
        previous: &[PathBuf],
        lowers: &[PathBuf],
        scratch: &Path,
    ) -> Result<Option<LayerRef>, BuildError> {
        let view = scratch.join("view");
        let dirs: Vec<PathBuf> = std::iter::once(upper.to_path_buf())
            .chain(previous.iter().cloned())
            .collect();
        let overlay = Overlay::mount(&dirs, None, &view)?;
        let mut entries =
            berth_layer::from_dir(&view).map_err(|source| BuildError::LayerWrite {
                path: view.clone(),
                source,
            })?;
        drop_unchanged_dirs(&mut entries.entries, lowers);
        // Most of the layer is what `base` held: its chunks are copied, not deflated again.
        let layer = self.store_layer(&entries, &view, Some(base))?;
        drop(entries);
        overlay.unmount()?;
        if let Some(l) = &layer {
            self.snapshots
                .adopt_delta(upper, &l.diff_id, &base.diff_id)?;
        }
        Ok(layer)
    }

    /// Writes `entries` (read from `dir`) as a layer blob, reusing the compressed chunks it
    /// shares with `earlier`; `None` when there are none.
    fn store_layer(
        &self,
        entries: &berth_layer::Entries,
        dir: &Path,
        earlier: Option<&LayerRef>,
    ) -> Result<Option<LayerRef>, BuildError> {
        let read = Instant::now();
        if entries.entries.is_empty() {
            return Ok(None);
        }
        let writer = self.store.blobs().writer(berth_oci::Algorithm::Sha256)?;
        let opts = berth_layer::TarOptions {
            source_date_epoch: self.source_date_epoch,
        };
        let (compression, media_type) = if self.zstd {
            (
                berth_layer::LayerCompression::Zstd,
                berth_oci::media_type::OCI_LAYER_ZSTD,
            )
        } else {
            (
                berth_layer::LayerCompression::Gzip,
                berth_oci::media_type::OCI_LAYER_GZIP,
            )
        };
        let earlier = earlier.and_then(|l| LayerChunks::of(self.store, &self.snapshots, l));
        let reuse: &dyn berth_layer::ChunkSource = match &earlier {
            Some(chunks) => chunks,
            None => &berth_layer::NoChunks,
        };
        let (writer, out) =
            berth_layer::write_layer(entries, &opts, compression, writer, &|_| {}, reuse).map_err(
                |source| BuildError::LayerWrite {
                    path: dir.to_path_buf(),
                    source,
                },
            )?;
        let stats = out.stats;
        let written = read.elapsed();
        let size = writer.written();
        let digest: Digest = writer.commit(None, None)?;
        tracing::debug!(
            entries = entries.entries.len(),
            chunks = out.chunks.len(),
            chunks_reused = out.reused,
            tar_gzip = ?written,
            sync = ?(read.elapsed() - written),
            "layer written"
        );
        self.store.set_layer_info(
            &digest,
            &LayerInfo {
                diff_id: stats.diff_id.clone(),
                size: stats.size,
            },
        )?;
        let layer = LayerRef {
            descriptor: Descriptor::new(media_type, digest, size),
            diff_id: stats.diff_id,
        };
        chunks::save(&self.snapshots, &layer, &out.chunks);
        Ok(Some(layer))
    }
}

/// `WORKDIR`'s directory, made inside the stage's root: resolved and created there by
/// descriptors, so a symlink in the path (or one swapped in meanwhile) can't lead out of it.
/// What is missing is made owned by `user` (resolved by the image's own passwd and group),
/// as BuildKit does, so a `USER` that drops privileges can work in it.
fn mkdir(root: &Path, dir: &str, user: &str, env: &StepEnv<'_>) -> Result<(), BuildError> {
    let owner = match user {
        "" => None,
        _ => {
            let u = berth_sandbox::resolve_user(root, user).map_err(|source| {
                env.at.error(StepError::User {
                    user: user.to_string(),
                    source,
                })
            })?;
            Some((u.uid, u.gid))
        }
    };
    let opened = berth_rootfs::Root::open(root).map_err(|e| BuildError::io(root, e.into()))?;
    let new = berth_rootfs::NewDir { mode: 0o755, owner };
    opened
        .mkdir_all(dir, &new)
        .map(drop)
        .map_err(|e| BuildError::io(&opened.host_of(e.path()), e.into()))
}

/// Removes directories overlay copied up without changing them (a mount point's parent, a
/// directory whose times a command restored) and that hold nothing new: they are not part
/// of the change, as BuildKit's differ also decides.
fn drop_unchanged_dirs(entries: &mut Vec<berth_layer::entry::Entry>, lowers: &[PathBuf]) {
    use std::collections::HashSet;
    use std::os::unix::fs::MetadataExt;

    let unchanged = |e: &berth_layer::entry::Entry| {
        lowers
            .iter()
            .find_map(|l| std::fs::symlink_metadata(l.join(&e.path)).ok())
            .is_some_and(|m| {
                m.is_dir()
                    && m.mode() & 0o7777 == e.mode
                    && u64::from(m.uid()) == e.uid
                    && u64::from(m.gid()) == e.gid
                    && m.mtime() == e.mtime
            })
    };
    // Children come after their parents: walk backwards, so a directory is judged after
    // everything under it.
    let mut keep_parents: HashSet<std::ffi::OsString> = HashSet::new();
    let mut keep = vec![true; entries.len()];
    for (i, e) in entries.iter().enumerate().rev() {
        let is_dir = matches!(e.kind, berth_layer::entry::Kind::Dir);
        if is_dir && !keep_parents.contains(&e.path) && e.xattrs.is_empty() && unchanged(e) {
            keep[i] = false;
            continue;
        }
        let (parent, _) = berth_rootfs::path::split(&e.path);
        if !parent.is_empty() {
            keep_parents.insert(parent.to_owned());
        }
    }
    let mut flags = keep.into_iter();
    entries.retain(|_| flags.next().unwrap_or(true));
}
