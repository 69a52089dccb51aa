//! The registry's shared state.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use berth_oci::Digest;
use berth_store::Store;
use bytes::Bytes;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::metadata::Metadata;
use crate::metrics::Metrics;
use crate::uploads::Sessions;

/// Manifest bytes total the in-memory cache may hold.
const MANIFEST_CACHE_BYTES: usize = 64 << 20;

pub struct App {
    pub store: Arc<Store>,
    /// The store's metadata, for requests: off the async workers.
    pub metadata: Metadata,
    /// Blobs whose bytes this process has checked against their digest (received them, or
    /// served them once); later reads skip the hashing. Clients check too, and `berth fsck`
    /// checks at rest.
    pub verified: Mutex<HashSet<Digest>>,
    pub config: Config,
    pub auth: Authenticator,
    pub sessions: Sessions,
    pub metrics: Metrics,
    pub manifests: ManifestCache,
    /// The signature policy enforced on pulls, when the configuration names one.
    pub gate: Option<crate::gate::Gate>,
}

impl App {
    pub fn new(store: Arc<Store>, config: Config, auth: Authenticator) -> App {
        let dir: PathBuf = store.root().join("uploads");
        App {
            verified: Mutex::default(),
            sessions: Sessions::new(dir),
            metadata: Metadata::new(store.clone()),
            store,
            config,
            auth,
            metrics: Metrics::default(),
            manifests: ManifestCache::default(),
            gate: None,
        }
    }
}

/// Manifest bytes by digest. Content-addressed, so never stale; bounded in size.
#[derive(Default)]
pub struct ManifestCache {
    inner: Mutex<(HashMap<Digest, Bytes>, usize)>,
}

impl ManifestCache {
    pub fn get(&self, digest: &Digest) -> Option<Bytes> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .get(digest)
            .cloned()
    }

    pub fn put(&self, digest: &Digest, bytes: Bytes) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (map, size) = &mut *guard;
        if *size + bytes.len() > MANIFEST_CACHE_BYTES {
            // Simple and fair enough: start over when full.
            map.clear();
            *size = 0;
        }
        *size += bytes.len();
        map.insert(digest.clone(), bytes);
    }
}
