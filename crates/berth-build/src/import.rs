//! `berth import`: a one-layer image from a root file system, like `docker import`.
//!
//! It assembles an image as a build's exporter does, from one layer of a whole tree instead of
//! a solve, and its `--change`s go through the frontend exactly as a Dockerfile's metadata
//! instructions do ([`berth_dockerfile::change`]).

use std::io::Read;
use std::path::Path;

use berth_dockerfile::change::{self, ChangeError};
use berth_layer::LayerError;
use berth_layer::source::{Entries, from_dir, from_tarball};
use berth_layer::write::{TarOptions, write_gzip_layer};
use berth_oci::config::RootFs;
use berth_oci::{
    Algorithm, Descriptor, Digest, History, ImageConfig, ImageManifest, Platform, Reference,
    media_type,
};
use berth_store::{LayerInfo, Store, StoreError};

use crate::export::rfc3339;

/// Where the root file system comes from.
pub enum ImportSource<'a> {
    Dir(&'a Path),
    /// A tarball (plain, gzip or zstd) and a name for it in messages.
    Tarball(Box<dyn Read + 'a>, String),
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub platform: Platform,
    /// Dockerfile instructions applied to the config (`--change`).
    pub changes: Vec<String>,
    /// Clamps mtimes and sets the creation time, for reproducible images.
    pub source_date_epoch: Option<i64>,
    /// A history comment (`--message`).
    pub message: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Change(#[from] ChangeError),
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ConfigTooLarge(#[from] berth_oci::ConfigTooLarge),
}

/// What an import made.
#[derive(Debug, Clone)]
pub struct Imported {
    pub manifest: Descriptor,
    pub config: Descriptor,
    pub layer: Descriptor,
    pub layer_info: LayerInfo,
    /// Objects the layer couldn't hold (sockets), skipped.
    pub skipped: Vec<std::ffi::OsString>,
}

/// Imports a root file system as a one-layer image and tags it `name`.
///
/// The image is a pure function of the tree and the options: entries are written in a fixed
/// order with fixed headers, and the creation time is `source_date_epoch`, or else the newest
/// mtime in the tree, never the clock. So importing the same tree twice gives the same digest.
///
/// `report` is called with (content bytes written, content bytes in all) as the layer is made.
pub fn import(
    store: &Store,
    source: ImportSource<'_>,
    name: Option<&Reference>,
    opts: &ImportOptions,
    report: &dyn Fn(u64, u64),
) -> Result<Imported, ImportError> {
    // Check the changes before doing any work.
    let container = change::container_config(&opts.changes)?;

    let _lock = store.write_lock()?;
    let entries: Entries = match source {
        ImportSource::Dir(dir) => from_dir(dir)?,
        ImportSource::Tarball(reader, label) => {
            from_tarball(reader, &store.root().join("ingest"), &label)?
        }
    };
    let tar_opts = TarOptions {
        source_date_epoch: opts.source_date_epoch,
    };
    let writer = store.blobs().writer(Algorithm::Sha256)?;
    let total = entries.content_size();
    report(0, total);
    let (writer, stats) =
        write_gzip_layer(&entries, &tar_opts, writer, &|done| report(done, total))?;
    let compressed = writer.written();
    let digest: Digest = writer.commit(None, None)?;
    let layer = Descriptor::new(media_type::OCI_LAYER_GZIP, digest, compressed);
    let layer_info = LayerInfo {
        diff_id: stats.diff_id.clone(),
        size: stats.size,
    };
    store.set_layer_info(&layer.digest, &layer_info)?;

    let created = rfc3339(opts.source_date_epoch.or(stats.newest_mtime).unwrap_or(0));
    let mut config = ImageConfig {
        created: Some(created.clone()),
        config: Some(container),
        rootfs: RootFs {
            diff_ids: vec![stats.diff_id],
            ..RootFs::default()
        },
        history: vec![History {
            created: Some(created),
            created_by: Some("berth import".to_string()),
            comment: opts.message.clone(),
            ..History::default()
        }],
        ..ImageConfig::default()
    };
    config.set_platform(&opts.platform);
    let config_bytes = config.to_bytes_within_limit()?;
    let config_desc = Descriptor::of_bytes(media_type::OCI_CONFIG, &config_bytes);
    store.blobs().write_bytes(&config_bytes)?;

    let manifest_bytes = ImageManifest::new(config_desc.clone(), vec![layer.clone()]).to_bytes();
    let manifest = Descriptor::of_bytes(media_type::OCI_MANIFEST, &manifest_bytes);
    store.put_manifest(&manifest_bytes, &manifest)?;
    let names: Vec<Reference> = name.into_iter().cloned().collect();
    store.add_image(&manifest.digest, &names)?;
    Ok(Imported {
        manifest,
        config: config_desc,
        layer,
        layer_info,
        skipped: entries.skipped,
    })
}
