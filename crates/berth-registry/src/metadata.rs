//! The registry's one way to the store's metadata database from a request.
//!
//! The store keeps one SQLite connection behind a `std::sync::Mutex`; a query holds it and
//! waits on the disk, and a writer may wait out another process's busy timeout. Done on an
//! async worker, either stalls every request that worker carries. So metadata work a handler
//! does runs here, gathered into one closure so a request pays for one hop, not one per query:
//! - [`Metadata::run`], for anything that writes: on tokio's blocking pool, always.
//! - [`Metadata::read`], for the lookups of pulls (manifest and blob GET/HEAD), the hot path:
//!   in place when the connection is free, since a read in WAL mode never waits for a writer
//!   and finds its pages in memory (a hop to the blocking pool costs more than the query);
//!   on the blocking pool when the connection is busy, so a request never waits on the lock
//!   on an async worker.

use std::sync::Arc;

use berth_store::meta::Meta;
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

    /// Runs the read `work` in place if the database is free now, else as [`Metadata::run`]
    /// does. `work` must only read: it may run on an async worker.
    pub async fn read<T, F>(&self, what: &'static str, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store, &Meta) -> Result<T, StoreError> + Send + 'static,
    {
        if let Some(meta) = self.store.try_meta() {
            return work(&self.store, &meta).map_err(ApiError::from);
        }
        self.run(what, move |store| work(store, &store.meta()))
            .await
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

    /// A read runs in place while the database is free, and elsewhere while someone holds
    /// it: it never waits for the lock on the thread driving the requests.
    #[tokio::test(flavor = "current_thread")]
    async fn reads_run_in_place_unless_the_database_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let metadata = Metadata::new(store.clone());
        let worker = std::thread::current().id();
        let thread = || std::thread::current().id();
        let free = metadata.read("a test", move |_, _| Ok(thread())).await;
        assert_eq!(free.unwrap(), worker);
        let held = store.meta();
        let busy = metadata.read("a test", move |_, _| Ok(thread()));
        // The lock is let go only after the read was handed to the blocking pool, which
        // then waits for it there.
        let (busy, ()) = tokio::join!(busy, async move {
            tokio::task::yield_now().await;
            drop(held);
        });
        assert_ne!(busy.unwrap(), worker);
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
