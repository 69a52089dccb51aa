//! The store's process lock: writers share it, garbage collection takes it alone.
//!
//! Blobs are written before the manifest that references them is recorded, so for a moment they
//! look unreferenced. A writer holds the lock shared from its first blob to its last record;
//! GC holds it exclusively, and so never sees, let alone deletes, a write in progress. flock(2)
//! locks die with their process, so a killed writer never blocks GC.

use std::fs::{File, OpenOptions};
use std::path::Path;

use rustix::fs::{FlockOperation, flock};

use crate::error::{StoreError, io_err};

/// Held while it lives.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

fn open(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| io_err(path, e))
}

/// Takes the lock shared, waiting for a running GC to finish.
pub fn shared(path: &Path) -> Result<StoreLock, StoreError> {
    let file = open(path)?;
    flock(&file, FlockOperation::LockShared).map_err(|e| io_err(path, e.into()))?;
    Ok(StoreLock { _file: file })
}

/// Takes the lock exclusively: waits for writers when `wait`, else returns `None` if any runs.
pub fn exclusive(path: &Path, wait: bool) -> Result<Option<StoreLock>, StoreError> {
    let file = open(path)?;
    let op = if wait {
        FlockOperation::LockExclusive
    } else {
        FlockOperation::NonBlockingLockExclusive
    };
    match flock(&file, op) {
        Ok(()) => Ok(Some(StoreLock { _file: file })),
        Err(e) if !wait && e == rustix::io::Errno::WOULDBLOCK => Ok(None),
        Err(e) => Err(io_err(path, e.into())),
    }
}
