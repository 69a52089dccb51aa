//! OCI image layouts: a directory (`oci:`) or a tar of one (`oci-archive:`).
//!
//! ```text
//! oci-layout      {"imageLayoutVersion": "1.0.0"}
//! index.json      an image index listing the layout's images, named by annotations
//! blobs/sha256/…  manifests, configs and layers
//! ```
//!
//! Names: `org.opencontainers.image.ref.name` holds the tag (what `umoci` and `skopeo oci:DIR:TAG`
//! look up) and `io.containerd.image.name` the full reference (what Docker and BuildKit write),
//! so a layout berth writes reads back with the names it had.

mod archive;
mod dir;

use std::io::Read;
use std::sync::Arc;

use async_trait::async_trait;
use berth_oci::descriptor::{ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use berth_oci::{Descriptor, ImageIndex, Manifest, Reference};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use archive::{OciArchiveDestination, open_archive};
pub use dir::{OciDirDestination, open_dir};

use crate::files::Files;
use crate::stream::{self, BlobStream};
use crate::{ImageSource, Root, TransportError};

pub const OCI_LAYOUT_FILE: &str = "oci-layout";
pub const INDEX_FILE: &str = "index.json";
const LAYOUT_VERSION: &str = "1.0.0";
/// Largest `index.json` berth reads.
const MAX_INDEX: u64 = 16 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct LayoutMarker {
    #[serde(rename = "imageLayoutVersion")]
    version: String,
}

pub(crate) fn blob_path(desc: &Descriptor) -> String {
    format!(
        "blobs/{}/{}",
        desc.digest.algorithm().name(),
        desc.digest.hex()
    )
}

/// Reads images from a layout, in a directory or an archive.
pub struct LayoutSource {
    place: String,
    files: Arc<dyn Files>,
    index: ImageIndex,
    /// The name the user picked (`oci:DIR:NAME`), or every image when `None`.
    selector: Option<String>,
}

impl LayoutSource {
    pub(crate) fn new(
        place: String,
        files: Arc<dyn Files>,
        selector: Option<String>,
    ) -> Result<LayoutSource, TransportError> {
        let marker = files
            .read(OCI_LAYOUT_FILE, 4096)
            .map_err(|e| TransportError::io(&place, e))?
            .ok_or_else(|| {
                TransportError::invalid(
                    &place,
                    "not an OCI image layout: it has no oci-layout file",
                )
            })?;
        let marker: LayoutMarker = serde_json::from_slice(&marker).map_err(|e| {
            TransportError::invalid(&place, format!("oci-layout is not valid JSON: {e}"))
        })?;
        if marker.version != LAYOUT_VERSION {
            return Err(TransportError::Unsupported {
                place,
                why: format!(
                    "image layout version {:?} is not supported (berth reads {LAYOUT_VERSION})",
                    marker.version
                ),
            });
        }
        let bytes = files
            .read(INDEX_FILE, MAX_INDEX)
            .map_err(|e| TransportError::io(&place, e))?
            .ok_or_else(|| {
                TransportError::invalid(&place, "not an OCI image layout: it has no index.json")
            })?;
        let index = match Manifest::parse(&bytes, Some(berth_oci::media_type::OCI_INDEX)) {
            Ok(Manifest::Index(index)) => index,
            Ok(Manifest::Image(_)) => {
                return Err(TransportError::invalid(
                    &place,
                    "index.json is an image manifest, not an index",
                ));
            }
            Err(e) => return Err(TransportError::invalid(&place, format!("index.json: {e}"))),
        };
        Ok(LayoutSource {
            place,
            files,
            index,
            selector,
        })
    }

    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>, TransportError> {
        self.files
            .open(&blob_path(desc))
            .map_err(|e| TransportError::io(&self.place, e))?
            .ok_or_else(|| TransportError::not_found(&self.place, format!("blob {}", desc.digest)))
    }
}

/// The full name an index.json entry carries, if any.
fn entry_name(desc: &Descriptor) -> Option<Reference> {
    if let Some(name) = desc.annotation(ANNOTATION_IMAGE_NAME) {
        if let Ok(r) = Reference::parse(name) {
            return Some(r);
        }
    }
    // A ref.name with a '/' or ':' is a full reference (skopeo's oci:DIR:docker.io/x:y);
    // a bare tag names no repository.
    let ref_name = desc.annotation(ANNOTATION_REF_NAME)?;
    if ref_name.contains(['/', ':']) {
        return Reference::parse(ref_name).ok();
    }
    None
}

fn matches_selector(desc: &Descriptor, selector: &str) -> bool {
    if desc.annotation(ANNOTATION_REF_NAME) == Some(selector) {
        return true;
    }
    match (entry_name(desc), Reference::parse(selector)) {
        (Some(have), Ok(want)) => have == want,
        _ => false,
    }
}

#[async_trait]
impl ImageSource for LayoutSource {
    fn describe(&self) -> String {
        self.place.clone()
    }

    async fn roots(&self) -> Result<Vec<Root>, TransportError> {
        // Entries of one image under several names become one root with all of them.
        let mut roots: Vec<Root> = Vec::new();
        for desc in &self.index.manifests {
            match &self.selector {
                Some(sel) if !matches_selector(desc, sel) => continue,
                // Artifacts listed beside the images without a name (signatures, attestations:
                // the layout's referrers) hang off an image; they are not images to read.
                None if desc.artifact_type.is_some()
                    && entry_name(desc).is_none()
                    && desc.annotation(ANNOTATION_REF_NAME).is_none() =>
                {
                    continue;
                }
                _ => {}
            }
            let name = entry_name(desc);
            match roots
                .iter_mut()
                .find(|r| r.descriptor.digest == desc.digest)
            {
                Some(root) => root.names.extend(name),
                None => {
                    let mut descriptor = desc.clone();
                    descriptor.annotations = None;
                    roots.push(Root {
                        descriptor,
                        names: name.into_iter().collect(),
                    });
                }
            }
        }
        if roots.is_empty() {
            return Err(match &self.selector {
                Some(sel) => TransportError::not_found(&self.place, format!("image {sel:?}")),
                None => TransportError::invalid(&self.place, "the layout holds no images"),
            });
        }
        Ok(roots)
    }

    async fn manifest(&self, desc: &Descriptor) -> Result<Bytes, TransportError> {
        let limit = berth_oci::manifest::MAX_MANIFEST_SIZE as u64;
        if desc.size > limit {
            return Err(TransportError::invalid(
                &self.place,
                format!(
                    "manifest {} is {} bytes; the limit is {limit}",
                    desc.digest, desc.size
                ),
            ));
        }
        let files = self.files.clone();
        let path = blob_path(desc);
        let bytes = tokio::task::spawn_blocking(move || files.read(&path, limit))
            .await
            .map_err(|e| TransportError::io(&self.place, std::io::Error::other(e)))?
            .map_err(|e| TransportError::io(&self.place, e))?
            .ok_or_else(|| {
                TransportError::not_found(&self.place, format!("manifest {}", desc.digest))
            })?;
        crate::check_bytes(&self.place, desc, &bytes)?;
        Ok(Bytes::from(bytes))
    }

    async fn blob(&self, desc: &Descriptor) -> Result<BlobStream, TransportError> {
        let reader = self.open_blob(desc)?;
        Ok(stream::from_blocking(berth_oci::VerifyingReader::new(
            reader,
            &desc.digest,
            Some(desc.size),
        )))
    }
}

/// Builds the `index.json` a layout writer ends with.
pub(crate) fn index_entries(roots: &[Root]) -> Vec<Descriptor> {
    let mut out = Vec::new();
    for root in roots {
        let mut base = root.descriptor.clone();
        base.annotations = None;
        if root.names.is_empty() {
            out.push(base);
            continue;
        }
        for name in &root.names {
            let mut d = base.clone();
            d.set_annotation(ANNOTATION_IMAGE_NAME, &name.to_string());
            if let Some(tag) = name.tag() {
                d.set_annotation(ANNOTATION_REF_NAME, tag);
            }
            out.push(d);
        }
    }
    out
}

/// Merges new entries into an existing layout's index: an entry with the same full name (or,
/// lacking one, the same ref name) is replaced, as `skopeo copy` into a layout does.
pub(crate) fn merge_index(existing: Option<ImageIndex>, new: Vec<Descriptor>) -> ImageIndex {
    let key = |d: &Descriptor| {
        d.annotation(ANNOTATION_IMAGE_NAME)
            .or(d.annotation(ANNOTATION_REF_NAME))
            .map(str::to_string)
    };
    let mut index = existing.unwrap_or_else(|| ImageIndex::new(Vec::new()));
    for d in new {
        let k = key(&d);
        index.manifests.retain(|old| match (&k, key(old)) {
            (Some(k), Some(o)) => *k != o,
            (None, None) => old.digest != d.digest,
            _ => true,
        });
        index.manifests.push(d);
    }
    index
}

pub(crate) fn layout_marker() -> Vec<u8> {
    serde_json::to_vec(&LayoutMarker {
        version: LAYOUT_VERSION.to_string(),
    })
    .expect("marker serialises")
}
