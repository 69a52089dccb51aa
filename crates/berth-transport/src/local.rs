//! The berth store as a place images are read from and written to.

use std::io;
use std::sync::Arc;

use async_trait::async_trait;
use berth_oci::manifest::MAX_MANIFEST_SIZE;
use berth_oci::{Descriptor, media_type};
use berth_store::lock::StoreLock;
use berth_store::{Store, StoreError};
use bytes::Bytes;

use crate::stream::{self, BlobStream};
use crate::{ImageDestination, ImageSource, Root, TransportError};

const PLACE: &str = "berth store";

/// Reads the images the user named from the store.
pub struct StoreSource {
    store: Arc<Store>,
    roots: Vec<Root>,
}

impl StoreSource {
    /// Looks up each name (tag, digest or ID prefix). An image named by tag carries that name;
    /// one named by ID or digest carries none, as with `docker save`.
    pub fn new(store: Arc<Store>, names: &[String]) -> Result<StoreSource, TransportError> {
        let mut roots: Vec<Root> = Vec::new();
        for name in names {
            let (digest, reference) = store.lookup(name)?;
            let (media_type, size) = store
                .meta()
                .manifest_info(&digest)?
                .ok_or_else(|| StoreError::UnknownImage(name.clone()))?;
            match roots.iter_mut().find(|r| r.descriptor.digest == digest) {
                Some(root) => root.names.extend(reference),
                None => roots.push(Root {
                    descriptor: Descriptor::new(&media_type, digest, size),
                    names: reference.into_iter().collect(),
                }),
            }
        }
        Ok(StoreSource { store, roots })
    }
}

#[async_trait]
impl ImageSource for StoreSource {
    fn describe(&self) -> String {
        PLACE.to_string()
    }

    async fn roots(&self) -> Result<Vec<Root>, TransportError> {
        Ok(self.roots.clone())
    }

    async fn manifest(&self, desc: &Descriptor) -> Result<Bytes, TransportError> {
        let store = self.store.clone();
        let d = desc.clone();
        let bytes = tokio::task::spawn_blocking(move || {
            store.blobs().read(&d.digest, MAX_MANIFEST_SIZE as u64)
        })
        .await
        .map_err(|e| TransportError::io(PLACE, io::Error::other(e)))??;
        crate::check_bytes(PLACE, desc, &bytes)?;
        Ok(Bytes::from(bytes))
    }

    async fn blob(&self, desc: &Descriptor) -> Result<BlobStream, TransportError> {
        let reader = self.store.blobs().open(&desc.digest, Some(desc.size))?;
        Ok(stream::from_blocking(reader))
    }
}

/// Writes images into the store. Holds the store's write lock while it lives, so a GC can't
/// take blobs that are written but not yet referenced.
pub struct StoreDestination {
    store: Arc<Store>,
    source_place: String,
    _lock: StoreLock,
}

impl StoreDestination {
    /// `source_place` names where the data comes from, for errors about damaged blobs.
    pub fn new(store: Arc<Store>, source_place: &str) -> Result<StoreDestination, TransportError> {
        let lock = store.write_lock()?;
        Ok(StoreDestination {
            store,
            source_place: source_place.to_string(),
            _lock: lock,
        })
    }
}

#[async_trait]
impl ImageDestination for StoreDestination {
    fn describe(&self) -> String {
        PLACE.to_string()
    }

    async fn has_blob(&self, desc: &Descriptor) -> Result<bool, TransportError> {
        if media_type::is_manifest(&desc.media_type) {
            // A recorded manifest is complete; a manifest blob alone may not be.
            return Ok(self.store.meta().has_manifest(&desc.digest)?);
        }
        Ok(self.store.blobs().contains(&desc.digest))
    }

    async fn put_blob(&self, desc: &Descriptor, data: BlobStream) -> Result<(), TransportError> {
        let store = self.store.clone();
        let d = desc.clone();
        let result = stream::read_blocking(data, move |reader| {
            store.blobs().write_from(&d.digest, Some(d.size), reader)
        })
        .await
        .map_err(|e| TransportError::io(PLACE, io::Error::other(e)))?;
        result
            .map(|_| ())
            .map_err(|e| TransportError::from_store_write(&self.source_place, &desc.digest, e))
    }

    async fn put_manifest(&self, desc: &Descriptor, bytes: Bytes) -> Result<(), TransportError> {
        let store = self.store.clone();
        let d = desc.clone();
        tokio::task::spawn_blocking(move || store.put_manifest(&bytes, &d))
            .await
            .map_err(|e| TransportError::io(PLACE, io::Error::other(e)))?
            .map_err(|e| TransportError::from_store_write(&self.source_place, &desc.digest, e))
    }

    async fn commit(&self, roots: &[Root]) -> Result<(), TransportError> {
        for root in roots {
            self.store.add_image(&root.descriptor.digest, &root.names)?;
        }
        Ok(())
    }
}
