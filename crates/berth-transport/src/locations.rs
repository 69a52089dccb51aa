//! What a copy knows and learns about which registry repositories hold which blobs: the
//! repositories it proposes to mount a missing blob from, and what it saw on the way, kept
//! in the store's blob locations once the copy ends (see `berth_store::BlobLocation`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use berth_oci::Digest;
use berth_store::{BlobLocation, Store, StoreError};

use crate::Origin;

/// Mounts tried per blob at most, before the blob is uploaded: each refused one costs a
/// request or two.
pub(crate) const MOUNT_TRIES: usize = 3;

pub(crate) struct Locations {
    /// Where known locations are read from and learnt ones kept; `None`: nothing is kept, and
    /// only the source's own repository is proposed.
    store: Option<Arc<Store>>,
    learnt: Mutex<Learnt>,
}

#[derive(Default)]
struct Learnt {
    held: Vec<BlobLocation>,
    wrong: Vec<BlobLocation>,
    /// Repositories the registry would not mount from for a reason of its own (no right to
    /// read them): not proposed again in this copy.
    declined: HashSet<Origin>,
}

fn location(at: &Origin, digest: &Digest) -> BlobLocation {
    BlobLocation {
        registry: at.registry.clone(),
        repository: at.repository.clone(),
        digest: digest.clone(),
    }
}

impl Locations {
    pub(crate) fn new(store: Option<Arc<Store>>) -> Locations {
        Locations {
            store,
            learnt: Mutex::new(Learnt::default()),
        }
    }

    fn learnt(&self) -> std::sync::MutexGuard<'_, Learnt> {
        self.learnt.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Repositories of `dst`'s registry to mount `digest` from, best first: the source's own
    /// repository (it surely holds the blob), then those last seen holding it. The
    /// destination's repository is never one: the blob was just found missing there.
    pub(crate) fn candidates(
        &self,
        dst: &Origin,
        src: Option<&Origin>,
        digest: &Digest,
    ) -> Result<Vec<Origin>, StoreError> {
        let mut out: Vec<Origin> = src
            .filter(|s| s.registry == dst.registry)
            .cloned()
            .into_iter()
            .collect();
        if let Some(store) = &self.store {
            let known = store.meta().blob_repositories(&dst.registry, digest)?;
            out.extend(known.iter().map(|repo| Origin::new(&dst.registry, repo)));
        }
        let declined = &self.learnt().declined;
        let mut seen = HashSet::new();
        out.retain(|o| {
            o.repository != dst.repository && !declined.contains(o) && seen.insert(o.clone())
        });
        out.truncate(MOUNT_TRIES);
        Ok(out)
    }

    /// `at` holds the blob: it was read from there, found there, or written there.
    pub(crate) fn held(&self, at: &Origin, digest: &Digest) {
        self.learnt().held.push(location(at, digest));
    }

    /// The registry says `at` does not hold the blob.
    pub(crate) fn wrong(&self, at: &Origin, digest: &Digest) {
        self.learnt().wrong.push(location(at, digest));
    }

    /// The registry would not mount from `at` for a reason of its own.
    pub(crate) fn declined(&self, at: &Origin) {
        self.learnt().declined.insert(at.clone());
    }

    /// Keeps what the copy learnt, in one transaction.
    pub(crate) fn save(&self) -> Result<(), StoreError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let learnt = std::mem::take(&mut *self.learnt());
        store
            .meta()
            .record_blob_locations(&learnt.held, &learnt.wrong)
    }
}
