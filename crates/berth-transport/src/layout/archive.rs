//! An OCI layout in a tar archive (`oci-archive:PATH[:NAME]`).

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use berth_oci::{Descriptor, VerifyingReader};
use bytes::Bytes;

use super::{
    INDEX_FILE, LayoutSource, OCI_LAYOUT_FILE, blob_path, index_entries, layout_marker, merge_index,
};
use crate::stream::{self, BlobStream};
use crate::tar_index::TarIndex;
use crate::tar_out::{Pending, TarOut};
use crate::{Capabilities, ImageDestination, Root, TransportError};

/// Opens an OCI archive for reading. `temp_dir` takes the decompressed copy of a compressed one.
pub fn open_archive(
    path: &Path,
    selector: Option<String>,
    temp_dir: &Path,
) -> Result<LayoutSource, TransportError> {
    let place = format!("oci-archive:{}", path.display());
    let index = TarIndex::open(path, temp_dir).map_err(|e| TransportError::io(&place, e))?;
    LayoutSource::new(place, Arc::new(index), selector)
}

/// Writes an OCI archive: blobs stream into the tar as they arrive; `oci-layout` and
/// `index.json` close it at commit, when it is renamed into place.
pub struct OciArchiveDestination {
    place: String,
    out: Pending<TarOut>,
}

impl OciArchiveDestination {
    pub fn new(path: &Path) -> Result<OciArchiveDestination, TransportError> {
        let place = format!("oci-archive:{}", path.display());
        let mut out = TarOut::create(path).map_err(|e| TransportError::io(&place, e))?;
        out.bytes(OCI_LAYOUT_FILE, &layout_marker())
            .map_err(|e| TransportError::io(&place, e))?;
        out.dir("blobs")
            .map_err(|e| TransportError::io(&place, e))?;
        Ok(OciArchiveDestination {
            place,
            out: Pending::new(out),
        })
    }
}

/// Runs `f` on the archive being written, unless it was committed already.
fn with_out<T>(
    out: &Pending<TarOut>,
    f: impl FnOnce(&mut TarOut) -> io::Result<T>,
) -> io::Result<T> {
    out.with(f).unwrap_or_else(|| Err(committed()))
}

fn committed() -> io::Error {
    io::Error::other("the archive was already committed")
}

/// Adds a blob under `blobs/<algorithm>/<hex>` unless it is there already.
fn add_blob(out: &mut TarOut, desc: &Descriptor, data: impl Read) -> io::Result<()> {
    let name = blob_path(desc);
    if out.contains(&name) {
        return Ok(());
    }
    out.dir(&format!("blobs/{}", desc.digest.algorithm().name()))?;
    out.file(&name, desc.size, data)
}

#[async_trait]
impl ImageDestination for OciArchiveDestination {
    fn describe(&self) -> String {
        self.place.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            indexes: true,
            ordered: true,
        }
    }

    async fn has_blob(&self, desc: &Descriptor) -> Result<bool, TransportError> {
        with_out(&self.out, |out| Ok(out.contains(&blob_path(desc))))
            .map_err(|e| TransportError::io(&self.place, e))
    }

    async fn put_blob(&self, desc: &Descriptor, data: BlobStream) -> Result<(), TransportError> {
        let out = self.out.clone();
        let d = desc.clone();
        let place = self.place.clone();
        stream::read_blocking(data, move |data| {
            let reader = VerifyingReader::new(data, &d.digest, Some(d.size));
            with_out(&out, |out| add_blob(out, &d, reader))
                .map_err(|e| TransportError::from_read(&place, &d.digest, e))
        })
        .await
        .map_err(|e| TransportError::io(&self.place, io::Error::other(e)))?
    }

    async fn put_manifest(&self, desc: &Descriptor, bytes: Bytes) -> Result<(), TransportError> {
        crate::check_bytes(&self.place, desc, &bytes)?;
        with_out(&self.out, |out| add_blob(out, desc, &bytes[..]))
            .map_err(|e| TransportError::io(&self.place, e))
    }

    async fn commit(&self, roots: &[Root]) -> Result<(), TransportError> {
        let index = merge_index(None, index_entries(roots));
        let out = self.out.clone();
        tokio::task::spawn_blocking(move || {
            let mut archive = out.take().ok_or_else(committed)?;
            archive.bytes(INDEX_FILE, &index.to_bytes())?;
            archive.finish()
        })
        .await
        .map_err(|e| TransportError::io(&self.place, io::Error::other(e)))?
        .map_err(|e| TransportError::io(&self.place, e))
    }
}
