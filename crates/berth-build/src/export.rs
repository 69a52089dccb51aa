//! The exporter: the target stage's state becomes an image in the store, or files on disk.

use std::path::Path;

use berth_dockerfile::origin::BuildRecord;
use berth_oci::{Descriptor, ImageConfig, ImageManifest, Reference, media_type};
use berth_store::Store;

use crate::error::BuildError;
use crate::snapshot::{LayerRef, Snapshots};
use crate::solver::StageState;

/// A built image in the store.
#[derive(Debug, Clone)]
pub struct Built {
    pub manifest: Descriptor,
    pub config: Descriptor,
    pub image: ImageConfig,
    pub layers: Vec<LayerRef>,
    /// Where each history entry came from in the Dockerfile (also in the store, filed under
    /// the config's digest): what a provenance attestation or `--explain` reports.
    pub record: BuildRecord,
}

/// Writes the image's config and manifest and records it (with `tags`) in the store, with
/// its build record (`dockerfile` is the Dockerfile's name as the build was given it).
pub fn to_store(
    store: &Store,
    state: &StageState,
    dockerfile: &str,
    labels: &std::collections::BTreeMap<String, String>,
    created: &str,
    tags: &[Reference],
) -> Result<Built, BuildError> {
    let mut image = state.config.image.clone();
    if !labels.is_empty() {
        let c = image.config.get_or_insert_with(Default::default);
        let map = c.labels.get_or_insert_with(Default::default);
        for (k, v) in labels {
            map.insert(k.clone(), v.clone());
        }
    }
    image.created = Some(created.to_string());
    image.set_platform(&state.platform);
    image.rootfs.diff_ids = state.layers.iter().map(|l| l.diff_id.clone()).collect();
    let non_empty = image.history.iter().filter(|h| !h.empty_layer).count();
    if non_empty != state.layers.len() {
        // History written by other tools may not line up; the layers are what count.
        tracing::debug!(
            non_empty,
            layers = state.layers.len(),
            "history does not match the layers"
        );
    }
    let config_bytes = image.to_bytes_within_limit()?;
    let config = Descriptor::of_bytes(media_type::OCI_CONFIG, &config_bytes);
    store.blobs().write_bytes(&config_bytes)?;
    // Filed before the image is: once the image is visible, so is where it came from.
    let record = BuildRecord::new(dockerfile.to_string(), state.origins.clone());
    store
        .meta()
        .build_record_put(&config.digest, &record.to_json())?;
    let manifest_bytes = ImageManifest::new(
        config.clone(),
        state.layers.iter().map(|l| l.descriptor.clone()).collect(),
    )
    .to_bytes();
    let manifest = Descriptor::of_bytes(media_type::OCI_MANIFEST, &manifest_bytes);
    store.put_manifest(&manifest_bytes, &manifest)?;
    store.add_image(&manifest.digest, tags)?;
    Ok(Built {
        manifest,
        config,
        image,
        layers: state.layers.clone(),
        record,
    })
}

/// `--output type=local,dest=DIR`: the image's files, as they are in a container.
pub fn to_directory(store: &Store, layers: &[LayerRef], dest: &Path) -> Result<(), BuildError> {
    let snapshots = Snapshots::new(store.root())?;
    let scratch = snapshots.scratch()?;
    let mut lowers = Vec::new();
    for l in layers.iter().rev() {
        lowers.extend(snapshots.unpacked(store, l)?);
    }
    let view = scratch.path().join("view");
    let overlay = snapshots.view(&lowers, &view)?;
    std::fs::create_dir_all(dest).map_err(|e| BuildError::io(dest, e))?;
    let opts = berth_fileops::CopyOptions {
        workdir: "/".into(),
        ..Default::default()
    };
    berth_fileops::copy(&view, &[".".to_string()], "/", dest, &opts).map_err(|source| {
        BuildError::Export {
            path: dest.to_path_buf(),
            source,
        }
    })?;
    overlay.close()
}

/// Seconds since the epoch as RFC 3339 UTC, whole seconds (`1970-01-01T00:00:00Z`).
pub fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
