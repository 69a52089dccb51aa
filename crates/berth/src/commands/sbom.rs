//! `berth sbom [dir:PATH | IMAGE] [-o FILE] [--format cyclonedx|spdx-json|berth-json]`

use std::path::Path;

use anyhow::Context as _;
use berth_catalog::{Catalog, DirFs, ImageFs, Layer, WANTED, catalog};
use berth_sbom::{Format, Subject};

use crate::Context;
use crate::cli::{SbomArgs, SbomFormat};

pub fn run(ctx: &Context, args: SbomArgs) -> anyhow::Result<()> {
    // Read before cataloguing: a bad SOURCE_DATE_EPOCH should not cost a walk of the image.
    let created = berth_sbom::creation_time()?;
    let (subject, found) = match args.target.strip_prefix("dir:") {
        Some(path) => directory(path)?,
        None => image(ctx, &args.target, args.platform.as_deref())?,
    };
    let format = match args.format {
        SbomFormat::Cyclonedx => Format::CycloneDx,
        SbomFormat::SpdxJson => Format::SpdxJson,
        SbomFormat::BerthJson => Format::BerthJson,
    };
    let doc = berth_sbom::write(format, &subject, &found, created);
    match &args.output {
        // Whole or not at all, as the store writes its own files.
        Some(path) => berth_store::blobs::write_atomic(path, &doc)
            .with_context(|| format!("writing the SBOM to {}", path.display())),
        // print! (not a write) so that `berth sbom … | head` ends quietly, as main arranges.
        None => {
            print!("{}", String::from_utf8_lossy(&doc));
            Ok(())
        }
    }
}

fn directory(path: &str) -> anyhow::Result<(Subject, Catalog)> {
    let fs = DirFs::open(Path::new(path)).with_context(|| format!("reading directory {path}"))?;
    let found = catalog(&fs).with_context(|| format!("cataloguing directory {path}"))?;
    Ok((
        Subject::Directory {
            path: path.to_string(),
        },
        found,
    ))
}

fn image(ctx: &Context, name: &str, platform: Option<&str>) -> anyhow::Result<(Subject, Catalog)> {
    let store = ctx.store()?;
    let blobs = store.blobs();
    let platform = super::platform(platform)?;
    let (record, _) = store.lookup(name)?;
    let image = store.image(&record, platform.as_ref())?;
    let diff_ids = &image.config.rootfs.diff_ids;
    anyhow::ensure!(
        diff_ids.len() == image.manifest.layers.len(),
        "image {name} ({}): the manifest lists {} layers but the config {} diff IDs; the image is damaged, pull or build it again",
        image.manifest_digest,
        image.manifest.layers.len(),
        diff_ids.len()
    );
    let layers = image
        .manifest
        .layers
        .iter()
        .zip(diff_ids)
        .map(|(desc, diff_id)| {
            Layer::new(diff_id.clone(), move || {
                blobs
                    .open(&desc.digest, Some(desc.size))
                    .map_err(std::io::Error::other)
            })
        })
        .collect();
    let what = || format!("cataloguing image {name} ({})", image.manifest_digest);
    let fs = ImageFs::read(layers, &WANTED).with_context(what)?;
    let found = catalog(&fs).with_context(what)?;
    let subject = Subject::Image {
        name: name.to_string(),
        digest: image.manifest_digest.clone(),
    };
    Ok((subject, found))
}
