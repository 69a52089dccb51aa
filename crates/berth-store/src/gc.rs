//! Garbage collection and integrity checks.

use std::collections::HashSet;
use std::io;
use std::time::Duration;

use berth_oci::Digest;

use crate::error::StoreError;
use crate::repos::BrokenLink;
use crate::store::Store;

/// How long registry content may stay unreferenced before GC takes it: long enough for a
/// client to upload an image's blobs and then push its manifest.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(60 * 60);

/// What a GC run removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    pub blobs_removed: usize,
    pub bytes_freed: u64,
    pub manifests_forgotten: usize,
    pub partial_files_removed: u64,
    /// Build cache entries dropped (`gc_build_cache`).
    pub build_cache_dropped: usize,
    /// The builder's unpacked layers and leftovers removed.
    pub build_dirs_removed: usize,
}

/// What `fsck` found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FsckReport {
    pub blobs_checked: usize,
    /// Blobs whose bytes don't hash to their name, with what they hash to.
    pub corrupt: Vec<(Digest, String)>,
    /// Recorded manifests that reference something not in the store.
    pub incomplete: Vec<(Digest, Digest)>,
    /// Registry repositories serving a manifest whose content they don't hold.
    pub broken_links: Vec<LinkProblem>,
    /// Damaged blobs removed (with `repair`).
    pub removed: usize,
}

impl FsckReport {
    /// Whether nothing is wrong (after what `repair` fixed).
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty()
            && self.incomplete.is_empty()
            && self.broken_links.iter().all(|l| l.repaired)
    }
}

/// A broken repository link, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkProblem {
    pub link: BrokenLink,
    /// The child is a blob whole in the store: linking it again is the whole fix.
    pub relinkable: bool,
    /// `repair` linked it again.
    pub repaired: bool,
}

impl LinkProblem {
    /// What to do about it, for people.
    pub fn fix(&self) -> String {
        if self.relinkable {
            "the blob is whole in the store: `berth fsck --repair` links it to the repository again"
                .to_string()
        } else {
            format!(
                "push the image to {} again, or delete manifest {} from it",
                self.link.repo, self.link.manifest
            )
        }
    }
}

impl Store {
    /// Removes every blob and manifest record nothing keeps alive (see [`Meta::reachable`]),
    /// and writers' leftovers. Registry content pushed within `grace` is kept even if nothing
    /// references it yet: a blob uploaded for a manifest still to come.
    ///
    /// Waits for running writers when `wait`; otherwise returns `None` if one is running.
    ///
    /// [`Meta::reachable`]: crate::meta::Meta::reachable
    pub fn gc(&self, wait: bool, grace: Duration) -> Result<Option<GcReport>, StoreError> {
        self.gc_inner(wait, grace, false)
    }

    /// [`Store::gc`] after forgetting the whole build cache (its layers, cache mounts and
    /// unpacked snapshots go unless an image still uses them), like `docker builder prune`.
    pub fn gc_build_cache(
        &self,
        wait: bool,
        grace: Duration,
    ) -> Result<Option<GcReport>, StoreError> {
        self.gc_inner(wait, grace, true)
    }

    fn gc_inner(
        &self,
        wait: bool,
        grace: Duration,
        drop_build_cache: bool,
    ) -> Result<Option<GcReport>, StoreError> {
        let Some(_lock) = self.gc_lock(wait)? else {
            return Ok(None);
        };
        let build_cache_dropped = if drop_build_cache {
            let build = self.root().join("build");
            remove_children(&build.join("cache-mounts"))?;
            self.meta().build_cache_prune(i64::MAX)?
        } else {
            0
        };
        let mut report = GcReport {
            partial_files_removed: self.blobs().clear_ingest()?,
            build_cache_dropped,
            ..GcReport::default()
        };
        let cutoff = crate::meta::now() - grace.as_secs() as i64;
        let live = self.meta().reachable(cutoff)?;
        report.manifests_forgotten = self.meta().forget_unreachable(&live)?;
        for (digest, size) in self.blobs().list()? {
            if !live.contains(&digest) {
                self.blobs().remove(&digest)?;
                report.blobs_removed += 1;
                report.bytes_freed += size;
            }
        }
        report.build_dirs_removed = self.clean_build_dirs()?;
        Ok(Some(report))
    }

    /// Removes what builds leave under `build/` that nothing needs any more: scratch
    /// directories of interrupted builds, and unpacked layers whose diff ID no live layer or
    /// cache entry has. Runs under the GC lock, so no build is using them.
    fn clean_build_dirs(&self) -> Result<usize, StoreError> {
        let build = self.root().join("build");
        let mut removed = remove_children(&build.join("tmp"))?;
        let layers = build.join("layers");
        // One metadata lock at a time: the guard of a call lives to the end of its statement.
        let live_layers = self.meta().layer_diff_ids()?;
        let cached_layers = self.meta().build_cache_diff_ids()?;
        let mut keep: HashSet<String> = live_layers
            .into_iter()
            .chain(cached_layers)
            .map(|d| format!("{}-{}", d.algorithm(), d.hex()))
            .collect();
        // A layer unpacked as a delta needs the layer it is based on (`<dir>.base`).
        let mut todo: Vec<String> = keep.iter().cloned().collect();
        while let Some(name) = todo.pop() {
            if let Ok(base) = std::fs::read_to_string(layers.join(format!("{name}.base"))) {
                let base = base.trim().to_string();
                if keep.insert(base.clone()) {
                    todo.push(base);
                }
            }
        }
        let entries = match std::fs::read_dir(&layers) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(crate::error::io_err(&layers, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| crate::error::io_err(&layers, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // A delta's base and a layer's chunk index go with the layer.
            let layer = name
                .strip_suffix(".base")
                .or_else(|| name.strip_suffix(".chunks"))
                .unwrap_or(&name);
            if !keep.contains(layer) {
                let path = entry.path();
                let result = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                result.map_err(|e| crate::error::io_err(&path, e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Checks that every blob hashes to its name and every recorded manifest is complete.
    /// With `repair`, removes corrupt blobs (images that need them must be fetched again).
    pub fn fsck(&self, repair: bool) -> Result<FsckReport, StoreError> {
        let mut report = FsckReport::default();
        let mut present = HashSet::new();
        for (digest, _) in self.blobs().list()? {
            report.blobs_checked += 1;
            match self.blobs().open(&digest, None) {
                Ok(mut r) => match io::copy(&mut r, &mut io::sink()) {
                    Ok(_) => {
                        present.insert(digest);
                    }
                    Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                        report.corrupt.push((digest.clone(), e.to_string()));
                        if repair {
                            self.blobs().remove(&digest)?;
                            report.removed += 1;
                        }
                    }
                    Err(e) => return Err(StoreError::from_read(&digest, e)),
                },
                Err(StoreError::BlobNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        for (manifest, children) in self.meta().manifests()? {
            for missing in std::iter::once(&manifest)
                .chain(&children)
                .filter(|d| !present.contains(*d))
            {
                report.incomplete.push((manifest.clone(), missing.clone()));
            }
        }
        // Whole bytes don't make a pullable image: each repository must link what its
        // manifests reference.
        // One metadata lock at a time: a guard in the loop's head would live through it.
        let broken = self.meta().broken_repo_links()?;
        for link in broken {
            let relinkable = !link.child_is_manifest && present.contains(&link.child);
            let repaired = repair && relinkable;
            if repaired {
                self.meta().link_blob(&link.repo, &link.child)?;
            }
            report.broken_links.push(LinkProblem {
                link,
                relinkable,
                repaired,
            });
        }
        Ok(report)
    }
}

/// Removes everything inside `dir` (not `dir` itself); a missing `dir` is empty.
fn remove_children(dir: &std::path::Path) -> Result<usize, StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(crate::error::io_err(dir, e)),
    };
    let mut n = 0;
    for entry in entries {
        let path = entry.map_err(|e| crate::error::io_err(dir, e))?.path();
        let result = if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        result.map_err(|e| crate::error::io_err(&path, e))?;
        n += 1;
    }
    Ok(n)
}
