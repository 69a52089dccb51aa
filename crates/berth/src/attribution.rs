//! Where each package of a catalogued image came from (berth-explain): its layer's history
//! entry and, for images this store's berth built, the Dockerfile lines the build record
//! names. Shared by every command that reports packages of an image.

use anyhow::Context as _;
use berth_catalog::{Catalog, Filesystem};
use berth_dockerfile::origin::BuildRecord;
use berth_explain::Attribution;
use berth_oci::{Digest, ImageConfig};
use berth_store::Store;

/// The attribution of each package of `catalog` (read from `fs`, the image whose config is
/// `config`, filed under `config_digest`), in the catalogue's order. `what` names the image
/// for errors.
pub fn of_image(
    store: Option<&Store>,
    fs: &dyn Filesystem,
    catalog: &Catalog,
    config: &ImageConfig,
    config_digest: &Digest,
    what: &str,
) -> anyhow::Result<Vec<Option<Attribution>>> {
    let replaced = berth_catalog::replaced(fs, catalog).with_context(|| what.to_string())?;
    let record = match store {
        Some(store) => build_record(store, config_digest)?,
        None => None,
    };
    Ok(berth_explain::attribute(
        catalog,
        config,
        record.as_ref(),
        &replaced,
    ))
}

/// The build record berth kept for the image config `config` if it built it. One this berth
/// cannot read (a newer berth's) costs the Dockerfile lines, not the command.
fn build_record(store: &Store, config: &Digest) -> anyhow::Result<Option<BuildRecord>> {
    let Some(text) = store.meta().build_record_get(config)? else {
        return Ok(None);
    };
    match BuildRecord::from_json(&text) {
        Ok(record) => Ok(Some(record)),
        Err(why) => {
            eprintln!(
                "berth: warning: the build record of image config {config} does not read ({why}): no Dockerfile lines; build the image again with this berth to have them"
            );
            Ok(None)
        }
    }
}
