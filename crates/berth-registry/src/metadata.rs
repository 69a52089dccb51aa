//! The registry's one way to the store's metadata database from a request.
//!
//! The store keeps one SQLite connection behind a `std::sync::Mutex`; a query holds it and
//! waits on the disk, and a writer may wait out another process's busy timeout. Done on an
//! async worker, either stalls every request that worker carries. So every metadata call a
//! handler makes runs here, on tokio's blocking pool, with the store to itself: a handler
//! gathers what it needs into one closure, so a request pays for one hop, not one per query.

use std::sync::Arc;

use berth_store::{Store, StoreError};

use crate::error::{ApiError, ApiResult};

pub struct Metadata {
    store: Arc<Store>,
}

impl Metadata {
    pub fn new(store: Arc<Store>) -> Metadata {
        Metadata { store }
    }

    /// Runs `work` on the blocking pool and waits for it. `what` names the work for the log
    /// should it panic.
    pub async fn run<T, F>(&self, what: &'static str, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|e| ApiError::internal(what, e))?
            .map_err(ApiError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a single-threaded runtime, work done in place would run on the thread driving the
    /// requests; it must run elsewhere.
    #[tokio::test(flavor = "current_thread")]
    async fn work_runs_off_the_thread_driving_requests() {
        let dir = tempfile::tempdir().unwrap();
        let metadata = Metadata::new(Arc::new(Store::open(dir.path()).unwrap()));
        let worker = std::thread::current().id();
        let ran_on = metadata
            .run("a test", |_| Ok(std::thread::current().id()))
            .await
            .unwrap();
        assert_ne!(ran_on, worker);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn store_errors_come_back_as_api_errors() {
        let dir = tempfile::tempdir().unwrap();
        let metadata = Metadata::new(Arc::new(Store::open(dir.path()).unwrap()));
        let missing = berth_oci::Digest::sha256(b"nothing");
        let err = metadata
            .run("a test", move |store| {
                store.blobs().read(&missing, 1).map(|_| ())
            })
            .await
            .unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    }
}
