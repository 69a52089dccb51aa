use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use berth_oci::config::MAX_CONFIG_SIZE;
use berth_oci::manifest::MAX_MANIFEST_SIZE;
use berth_oci::{Descriptor, Digest, ImageConfig, ImageManifest, Manifest, Platform, Reference};

use crate::blobs::Blobs;
use crate::error::{StoreError, io_err};
use crate::lock::{self, StoreLock};
use crate::meta::{ImageRecord, LayerInfo, Meta};

/// The local content store. Safe to share between threads and between processes.
pub struct Store {
    root: PathBuf,
    blobs: Blobs,
    meta: Mutex<Meta>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish()
    }
}

/// One platform's image, resolved from a tag or digest.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// The image record the user named (an index, or the manifest itself).
    pub record: Digest,
    pub manifest_digest: Digest,
    pub manifest: ImageManifest,
    pub config: ImageConfig,
}

impl Store {
    /// Opens the store at `root`, creating it if needed.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        for dir in [root.to_path_buf(), root.join("blobs"), root.join("ingest")] {
            fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        }
        let meta = Meta::open(&root.join("berth.db"))?;
        Ok(Store {
            root: root.to_path_buf(),
            blobs: Blobs::new(root.join("blobs"), root.join("ingest")),
            meta: Mutex::new(meta),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    pub fn meta(&self) -> MutexGuard<'_, Meta> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.meta.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The metadata database if no one holds it now; `None` rather than waiting. For callers
    /// that must not block (an async worker), which then wait elsewhere.
    pub fn try_meta(&self) -> Option<MutexGuard<'_, Meta>> {
        match self.meta.try_lock() {
            Ok(meta) => Some(meta),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Held by anything that writes blobs, from the first blob to the last record.
    /// The first writer to start after one was killed removes the partial blobs it left.
    pub fn write_lock(&self) -> Result<StoreLock, StoreError> {
        self.reclaim_partial_blobs()?;
        lock::shared(&self.root.join("lock"))
    }

    /// Removes the partial blobs a killed writer left in `ingest/`, if no writer runs now.
    /// Every writer holds the write lock (shared) from its first blob on, so getting it
    /// exclusively means every partial file there is an orphan; with a writer running, the
    /// orphans wait for the next writer to start alone (or for `berth gc`).
    fn reclaim_partial_blobs(&self) -> Result<(), StoreError> {
        if let Some(_alone) = self.gc_lock(false)? {
            self.blobs.clear_partial_blobs()?;
        }
        Ok(())
    }

    pub(crate) fn gc_lock(&self, wait: bool) -> Result<Option<StoreLock>, StoreError> {
        lock::exclusive(&self.root.join("lock"), wait)
    }

    /// Records a manifest whose bytes are already stored, once everything it references is.
    pub fn record_manifest(&self, bytes: &[u8], desc: &Descriptor) -> Result<(), StoreError> {
        let manifest = Manifest::parse(bytes, Some(&desc.media_type)).map_err(|source| {
            StoreError::Manifest {
                digest: desc.digest.clone(),
                source,
            }
        })?;
        if !self.blobs.contains(&desc.digest) {
            return Err(StoreError::BlobNotFound(desc.digest.clone()));
        }
        let children: Vec<Digest> = manifest
            .children()
            .iter()
            .map(|d| d.digest.clone())
            .collect();
        let mut meta = self.meta();
        for (child, child_desc) in children.iter().zip(manifest.children()) {
            let present = if berth_oci::media_type::is_manifest(&child_desc.media_type) {
                meta.has_manifest(child)?
            } else {
                self.blobs.contains(child)
            };
            if !present {
                return Err(StoreError::Incomplete {
                    manifest: desc.digest.clone(),
                    missing: child.clone(),
                });
            }
        }
        meta.record_manifest(
            &desc.digest,
            manifest.media_type(),
            bytes.len() as u64,
            &children,
        )
    }

    /// Stores manifest bytes as a blob and records them. Everything they reference must be
    /// stored already.
    pub fn put_manifest(&self, bytes: &[u8], desc: &Descriptor) -> Result<(), StoreError> {
        if !self.blobs.contains(&desc.digest) {
            self.blobs
                .write_from(&desc.digest, Some(desc.size), bytes)?;
        }
        self.record_manifest(bytes, desc)
    }

    /// Makes a recorded manifest an image and points `names` at it.
    pub fn add_image(&self, digest: &Digest, names: &[Reference]) -> Result<(), StoreError> {
        self.meta().add_image(digest, names)
    }

    /// Finds the image a user named: a tag, `name@digest`, a full digest or a unique prefix
    /// of an image's digest (as `berth images` shows). Returns the tag too when it was one.
    pub fn lookup(&self, name: &str) -> Result<(Digest, Option<Reference>), StoreError> {
        let unknown = || StoreError::UnknownImage(name.to_string());
        let meta = self.meta();
        if let Ok(d) = Digest::parse(name) {
            return if meta.is_image(&d)? || meta.has_manifest(&d)? {
                Ok((d, None))
            } else {
                Err(unknown())
            };
        }
        let parsed = Reference::parse(name);
        if let Ok(reference) = &parsed {
            if let Some(d) = reference.digest() {
                return if meta.has_manifest(d)? {
                    Ok((d.clone(), None))
                } else {
                    Err(unknown())
                };
            }
            if let Some(d) = meta.tag_target(reference)? {
                return Ok((d, Some(reference.clone())));
            }
        }
        let prefix = name.strip_prefix("sha256:").unwrap_or(name);
        if prefix.len() >= 4 && prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            let matches: Vec<Digest> = meta
                .images()?
                .into_iter()
                .map(|i| i.digest)
                .filter(|d| d.hex().starts_with(prefix))
                .collect();
            match matches.as_slice() {
                [one] => return Ok((one.clone(), None)),
                [] => {}
                _ => {
                    return Err(StoreError::UnknownImage(format!(
                        "{name} (ambiguous: matches {} images; give more digits)",
                        matches.len()
                    )));
                }
            }
        }
        // Neither an image nor a name: say what is wrong with it as a name.
        match parsed {
            Err(e) => Err(StoreError::InvalidName(e)),
            Ok(_) => Err(unknown()),
        }
    }

    /// Reads and parses a stored manifest.
    pub fn manifest(&self, digest: &Digest) -> Result<(Vec<u8>, Manifest), StoreError> {
        let bytes = self.blobs.read(digest, MAX_MANIFEST_SIZE as u64)?;
        let hint = self.meta().manifest_info(digest)?.map(|(mt, _)| mt);
        let manifest =
            Manifest::parse(&bytes, hint.as_deref()).map_err(|source| StoreError::Manifest {
                digest: digest.clone(),
                source,
            })?;
        Ok((bytes, manifest))
    }

    pub fn config(&self, desc: &Descriptor) -> Result<(Vec<u8>, ImageConfig), StoreError> {
        let bytes = self.blobs.read(&desc.digest, MAX_CONFIG_SIZE as u64)?;
        let config = ImageConfig::parse(&bytes).map_err(|source| StoreError::Config {
            digest: desc.digest.clone(),
            source,
        })?;
        Ok((bytes, config))
    }

    /// The image for `platform` (the host's by default) that `record` names.
    pub fn image(
        &self,
        record: &Digest,
        platform: Option<&Platform>,
    ) -> Result<ResolvedImage, StoreError> {
        let mut digest = record.clone();
        // Indexes may nest; follow them to an image manifest.
        for _ in 0..8 {
            let (_, manifest) = self.manifest(&digest)?;
            match manifest {
                Manifest::Image(m) => {
                    let (_, config) = self.config(&m.config)?;
                    return Ok(ResolvedImage {
                        record: record.clone(),
                        manifest_digest: digest,
                        manifest: m,
                        config,
                    });
                }
                Manifest::Index(index) => {
                    let want = platform.cloned().unwrap_or_else(Platform::host);
                    let child = want.select(&index.manifests).ok_or_else(|| {
                        let have: Vec<String> = index
                            .manifests
                            .iter()
                            .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
                            .collect();
                        StoreError::UnknownImage(format!(
                            "{record} has no image for {want} (it has: {}); choose one with --platform",
                            have.join(", ")
                        ))
                    })?;
                    digest = child.digest.clone();
                }
            }
        }
        Err(StoreError::UnknownImage(format!(
            "{record}: indexes nested too deeply"
        )))
    }

    pub fn images(&self) -> Result<Vec<ImageRecord>, StoreError> {
        self.meta().images()
    }

    /// A layer's diff ID and uncompressed size, computed once and remembered.
    pub fn layer_info(&self, layer: &Descriptor) -> Result<LayerInfo, StoreError> {
        if let Some(info) = self.meta().layer_info(&layer.digest)? {
            return Ok(info);
        }
        let info = crate::layer_info::measure(&self.blobs, layer)?;
        self.meta().set_layer_info(&layer.digest, &info)?;
        Ok(info)
    }

    /// Remembers what a layer holds when the writer already knows (an import made it).
    pub fn set_layer_info(&self, layer: &Digest, info: &LayerInfo) -> Result<(), StoreError> {
        self.meta().set_layer_info(layer, info)
    }
}
