//! Copying images from one place to another.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use berth_oci::media_type::{self, Kind};
use berth_oci::{Descriptor, Digest, ImageManifest, MAX_CONFIG_SIZE, Manifest, Platform};
use berth_store::Store;
use futures::TryStreamExt;

use crate::locations::Locations;
use crate::progress::{Event, Progress};
use crate::stream::Counting;
use crate::{ImageDestination, ImageSource, Mount, Origin, Root, TransportError};

/// Which platforms of a multi-platform image to copy.
// One value per copy: its size doesn't matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Platforms {
    /// The whole index, where the destination can hold one (else the host's platform).
    All,
    /// Only this platform's image, which replaces the index.
    One(Platform),
}

#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub platforms: Platforms,
    /// Blobs moved at once.
    pub jobs: usize,
    /// The store whose record of which registry repositories hold which blobs the copy reads
    /// (a blob missing at a registry destination is mounted from one of them rather than
    /// uploaded) and adds what it learns to. Without one, only the source's own repository is
    /// mounted from.
    pub blob_locations: Option<Arc<Store>>,
}

impl Default for CopyOptions {
    fn default() -> CopyOptions {
        CopyOptions {
            platforms: Platforms::All,
            jobs: 4,
            blob_locations: None,
        }
    }
}

struct Ctx<'a> {
    src: &'a dyn ImageSource,
    dst: &'a dyn ImageDestination,
    opts: &'a CopyOptions,
    progress: Arc<dyn Progress>,
    /// Blobs already written in this copy.
    done: Mutex<HashSet<Digest>>,
    /// The registry repositories source and destination are, if they are.
    src_origin: Option<Origin>,
    dst_origin: Option<Origin>,
    locations: Locations,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Copies `roots` from `src` to `dst`, then commits them under their names. Returns the roots
/// as written (an index becomes one platform's image where a platform was chosen or the
/// destination can't hold indexes). On any error nothing is committed.
pub async fn copy(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    roots: Vec<Root>,
    opts: &CopyOptions,
    progress: Arc<dyn Progress>,
) -> Result<Vec<Root>, TransportError> {
    let ctx = Ctx {
        src,
        dst,
        opts,
        progress,
        done: Mutex::new(HashSet::new()),
        src_origin: src.origin(),
        dst_origin: dst.origin(),
        locations: Locations::new(opts.blob_locations.clone()),
    };
    let copied = ctx.copy_roots(roots).await;
    // What was seen holds whether the copy got through or not.
    if let Err(e) = ctx.locations.save() {
        ctx.progress.event(Event::Warning {
            message: &format!("remembering where the blobs are: {e}"),
        });
    }
    copied
}

impl Ctx<'_> {
    async fn copy_roots(&self, roots: Vec<Root>) -> Result<Vec<Root>, TransportError> {
        let mut written = Vec::new();
        for root in roots {
            let descriptor = self.copy_root(root.descriptor).await?;
            written.push(Root {
                descriptor,
                names: root.names,
            });
        }
        self.dst.commit(&written).await?;
        Ok(written)
    }

    /// Copies what a root names; returns the descriptor of what was written.
    fn copy_root(&self, desc: Descriptor) -> BoxFuture<'_, Result<Descriptor, TransportError>> {
        Box::pin(async move {
            let (bytes, manifest) = self.fetch_manifest(&desc).await?;
            let index = match manifest {
                Manifest::Image(m) => {
                    self.copy_image(&desc, bytes, &m).await?;
                    return Ok(desc);
                }
                Manifest::Index(index) => index,
            };
            let mut one = match &self.opts.platforms {
                Platforms::One(p) => Some(p.clone()),
                Platforms::All if !self.dst.capabilities().indexes => Some(Platform::host()),
                Platforms::All => None,
            };
            // Docker and containerd save multi-platform indexes with only the platforms they
            // pulled. Such an index can't be kept whole: keep the host's image instead.
            if one.is_none() {
                if let Some(missing) = self.first_missing(&index.manifests).await? {
                    let host = Platform::host();
                    self.progress.event(Event::Warning {
                        message: &format!(
                            "{}: index {} lacks {missing}; keeping only its {host} image",
                            self.src.describe(),
                            desc.digest
                        ),
                    });
                    one = Some(host);
                }
            }
            match one {
                Some(platform) => {
                    let child = platform.select(&index.manifests).ok_or_else(|| {
                        TransportError::not_found(
                            &self.src.describe(),
                            format!("an image for {platform} in index {}", desc.digest),
                        )
                    })?;
                    self.copy_root(child.clone()).await
                }
                None => {
                    for child in &index.manifests {
                        self.copy_tree(child.clone()).await?;
                    }
                    self.put_manifest(&desc, bytes).await?;
                    Ok(desc)
                }
            }
        })
    }

    /// The first child of an index the source doesn't have, described for a message.
    async fn first_missing(
        &self,
        children: &[Descriptor],
    ) -> Result<Option<String>, TransportError> {
        for child in children {
            match self.src.manifest(child).await {
                Ok(_) => {}
                Err(TransportError::NotFound { .. }) => {
                    let what = match &child.platform {
                        Some(p) => format!("its {p} image ({})", child.digest),
                        None => format!("manifest {}", child.digest),
                    };
                    return Ok(Some(what));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Copies a manifest and everything under it, skipping what the destination has.
    fn copy_tree(&self, desc: Descriptor) -> BoxFuture<'_, Result<(), TransportError>> {
        Box::pin(async move {
            if !media_type::is_manifest(&desc.media_type) {
                return Err(TransportError::Unsupported {
                    place: self.src.describe(),
                    why: format!(
                        "index entry {} has media type {:?}, not a manifest",
                        desc.digest, desc.media_type
                    ),
                });
            }
            if self.dst.has_blob(&desc).await? {
                return Ok(());
            }
            let (bytes, manifest) = self.fetch_manifest(&desc).await?;
            match manifest {
                Manifest::Image(m) => self.copy_image(&desc, bytes, &m).await,
                Manifest::Index(index) => {
                    for child in &index.manifests {
                        self.copy_tree(child.clone()).await?;
                    }
                    self.put_manifest(&desc, bytes).await
                }
            }
        })
    }

    async fn fetch_manifest(
        &self,
        desc: &Descriptor,
    ) -> Result<(bytes::Bytes, Manifest), TransportError> {
        if media_type::kind(&desc.media_type) == Kind::Schema1 {
            return Err(TransportError::Unsupported {
                place: self.src.describe(),
                why: format!(
                    "{} is a Docker schema 1 manifest, which berth does not read",
                    desc.digest
                ),
            });
        }
        let bytes = self.src.manifest(desc).await?;
        let manifest = Manifest::parse(&bytes, Some(&desc.media_type)).map_err(|source| {
            TransportError::Manifest {
                place: self.src.describe(),
                digest: desc.digest.clone(),
                source,
            }
        })?;
        Ok((bytes, manifest))
    }

    async fn copy_image(
        &self,
        desc: &Descriptor,
        bytes: bytes::Bytes,
        manifest: &ImageManifest,
    ) -> Result<(), TransportError> {
        // The one config limit berth writes and reads under: refused before any byte moves,
        // never stored as an image that inspect, history and save could not read.
        if manifest.config.size > MAX_CONFIG_SIZE as u64 {
            return Err(TransportError::invalid(
                &self.src.describe(),
                format!(
                    "the config {} of image {} is {} bytes, above the {} MiB limit that berth, Podman and skopeo read configs under",
                    manifest.config.digest,
                    desc.digest,
                    manifest.config.size,
                    MAX_CONFIG_SIZE >> 20
                ),
            ));
        }
        let mut blobs: Vec<&Descriptor> = Vec::new();
        for b in std::iter::once(&manifest.config).chain(&manifest.layers) {
            if !blobs.iter().any(|x| x.digest == b.digest) {
                blobs.push(b);
            }
        }
        let jobs = if self.dst.capabilities().ordered {
            1
        } else {
            self.opts.jobs.max(1)
        };
        futures::stream::iter(blobs.into_iter().map(Ok))
            .try_for_each_concurrent(jobs, |b| self.copy_blob(b))
            .await?;
        self.put_manifest(desc, bytes).await
    }

    async fn copy_blob(&self, desc: &Descriptor) -> Result<(), TransportError> {
        // A manifest of the source's repository lists the blob: the repository holds it.
        if let Some(src) = &self.src_origin {
            self.locations.held(src, &desc.digest);
        }
        let seen = self
            .done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&desc.digest);
        if seen || self.dst.has_blob(desc).await? {
            if let Some(dst) = &self.dst_origin {
                self.locations.held(dst, &desc.digest);
            }
            self.progress.event(Event::BlobExists {
                digest: &desc.digest,
                size: desc.size,
            });
            return Ok(());
        }
        if self.mount_blob(desc).await? {
            return Ok(());
        }
        self.progress.event(Event::BlobStart {
            digest: &desc.digest,
            size: desc.size,
            media_type: &desc.media_type,
        });
        let stream = self.src.blob(desc).await?;
        let progress = self.progress.clone();
        let digest = desc.digest.clone();
        let counted = Counting::new(stream, move |n| {
            progress.event(Event::BlobProgress {
                digest: &digest,
                bytes: n,
            })
        });
        self.dst
            .put_blob(desc, Box::pin(counted))
            .await
            .map_err(|e| self.name_source(e, desc))?;
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(desc.digest.clone());
        if let Some(dst) = &self.dst_origin {
            self.locations.held(dst, &desc.digest);
        }
        self.progress.event(Event::BlobDone {
            digest: &desc.digest,
        });
        Ok(())
    }

    /// Mounts a blob the destination lacks from another repository of its registry known to
    /// hold it, trying the best few; returns whether one worked. A repository the registry
    /// proves wrong is forgotten (the source's own is not: it holds every blob it lists).
    async fn mount_blob(&self, desc: &Descriptor) -> Result<bool, TransportError> {
        let Some(dst) = &self.dst_origin else {
            return Ok(false);
        };
        // Found missing there: whatever was known of it is wrong.
        self.locations.wrong(dst, &desc.digest);
        let candidates = self
            .locations
            .candidates(dst, self.src_origin.as_ref(), &desc.digest)?;
        for from in candidates {
            match self.dst.mount_blob(desc, &from).await? {
                Mount::Mounted => {
                    self.locations.held(&from, &desc.digest);
                    self.locations.held(dst, &desc.digest);
                    self.done
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(desc.digest.clone());
                    self.progress.event(Event::BlobMounted {
                        digest: &desc.digest,
                        size: desc.size,
                        from: &from.repository,
                    });
                    return Ok(true);
                }
                Mount::Missing if Some(&from) != self.src_origin.as_ref() => {
                    self.locations.wrong(&from, &desc.digest);
                }
                Mount::Missing => {}
                Mount::Declined => self.locations.declined(&from),
            }
        }
        Ok(false)
    }

    async fn put_manifest(
        &self,
        desc: &Descriptor,
        bytes: bytes::Bytes,
    ) -> Result<(), TransportError> {
        self.dst.put_manifest(desc, bytes).await?;
        self.progress.event(Event::ManifestWritten {
            digest: &desc.digest,
            media_type: &desc.media_type,
        });
        Ok(())
    }

    /// A damaged blob is the source's fault: say which source.
    fn name_source(&self, e: TransportError, desc: &Descriptor) -> TransportError {
        match e {
            TransportError::Damaged { mismatch, .. } => TransportError::Damaged {
                place: self.src.describe(),
                digest: desc.digest.clone(),
                mismatch,
            },
            other => other,
        }
    }
}
