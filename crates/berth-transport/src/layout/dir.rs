//! An OCI layout in a directory (`oci:PATH[:NAME]`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use berth_oci::{Descriptor, ImageIndex, Manifest};
use berth_store::Blobs;
use berth_store::blobs::write_atomic;
use bytes::Bytes;

use super::{INDEX_FILE, LayoutSource, OCI_LAYOUT_FILE, index_entries, layout_marker, merge_index};
use crate::files::DirFiles;
use crate::stream::{self, BlobStream};
use crate::{ImageDestination, Root, TransportError};

/// Opens the layout in `dir` for reading; `selector` picks one image by name.
pub fn open_dir(dir: &Path, selector: Option<String>) -> Result<LayoutSource, TransportError> {
    let place = format!("oci:{}", dir.display());
    if !dir.is_dir() {
        return Err(TransportError::not_found(&place, "directory"));
    }
    LayoutSource::new(place, Arc::new(DirFiles::new(dir)), selector)
}

/// Writes into a layout directory, new or existing. Blobs land as they arrive; `index.json`
/// is replaced atomically at commit, so readers never see an image whose blobs aren't all there.
/// A directory this writer created is removed again if it never commits.
pub struct OciDirDestination {
    place: String,
    dir: PathBuf,
    blobs: Blobs,
    existing: Option<ImageIndex>,
    created: bool,
    committed: AtomicBool,
}

impl OciDirDestination {
    pub fn new(dir: &Path) -> Result<OciDirDestination, TransportError> {
        let place = format!("oci:{}", dir.display());
        let mut created = false;
        let existing = if dir.join(OCI_LAYOUT_FILE).is_file() {
            let bytes =
                fs::read(dir.join(INDEX_FILE)).map_err(|e| TransportError::io(&place, e))?;
            match Manifest::parse(&bytes, Some(berth_oci::media_type::OCI_INDEX)) {
                Ok(Manifest::Index(i)) => Some(i),
                _ => {
                    return Err(TransportError::invalid(
                        &place,
                        "index.json of the existing layout is not an image index; choose another directory",
                    ));
                }
            }
        } else if dir.exists() {
            let empty = fs::read_dir(dir)
                .map_err(|e| TransportError::io(&place, e))?
                .next()
                .is_none();
            if !empty {
                return Err(TransportError::invalid(
                    &place,
                    "the directory exists, is not empty and is not an OCI layout; choose a new or empty directory",
                ));
            }
            None
        } else {
            fs::create_dir_all(dir).map_err(|e| TransportError::io(&place, e))?;
            created = true;
            None
        };
        Ok(OciDirDestination {
            place,
            dir: dir.to_path_buf(),
            blobs: Blobs::new(dir.join("blobs"), dir.to_path_buf()),
            existing,
            created,
            committed: AtomicBool::new(false),
        })
    }
}

#[async_trait]
impl ImageDestination for OciDirDestination {
    fn describe(&self) -> String {
        self.place.clone()
    }

    async fn has_blob(&self, desc: &Descriptor) -> Result<bool, TransportError> {
        Ok(self.blobs.contains(&desc.digest))
    }

    async fn put_blob(&self, desc: &Descriptor, data: BlobStream) -> Result<(), TransportError> {
        let blobs = self.blobs.clone();
        let d = desc.clone();
        let result = stream::read_blocking(data, move |reader| {
            blobs.write_from(&d.digest, Some(d.size), reader)
        })
        .await
        .map_err(|e| TransportError::io(&self.place, io::Error::other(e)))?;
        result
            .map(|_| ())
            .map_err(|e| TransportError::from_store_write(&self.place, &desc.digest, e))
    }

    async fn put_manifest(&self, desc: &Descriptor, bytes: Bytes) -> Result<(), TransportError> {
        if self.blobs.contains(&desc.digest) {
            return Ok(());
        }
        self.blobs
            .write_from(&desc.digest, Some(desc.size), &bytes[..])
            .map(|_| ())
            .map_err(|e| TransportError::from_store_write(&self.place, &desc.digest, e))
    }

    async fn commit(&self, roots: &[Root]) -> Result<(), TransportError> {
        let index = merge_index(self.existing.clone(), index_entries(roots));
        write_atomic(&self.dir.join(OCI_LAYOUT_FILE), &layout_marker())?;
        write_atomic(&self.dir.join(INDEX_FILE), &index.to_bytes())?;
        self.committed.store(true, Ordering::SeqCst);
        Ok(())
    }
}

impl Drop for OciDirDestination {
    fn drop(&mut self) {
        if self.created && !self.committed.load(Ordering::SeqCst) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
