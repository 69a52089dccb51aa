//! Garbage collection and integrity checks.

use std::collections::HashSet;
use std::io;
use std::time::Duration;

use berth_oci::Digest;

use crate::error::StoreError;
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
}

/// What `fsck` found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FsckReport {
    pub blobs_checked: usize,
    /// Blobs whose bytes don't hash to their name, with what they hash to.
    pub corrupt: Vec<(Digest, String)>,
    /// Recorded manifests that reference something not in the store.
    pub incomplete: Vec<(Digest, Digest)>,
    /// Damaged blobs removed (with `repair`).
    pub removed: usize,
}

impl FsckReport {
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.incomplete.is_empty()
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
        let Some(_lock) = self.gc_lock(wait)? else {
            return Ok(None);
        };
        let mut report = GcReport {
            partial_files_removed: self.blobs().clear_ingest()?,
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
        Ok(Some(report))
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
        Ok(report)
    }
}
