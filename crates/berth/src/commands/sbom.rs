//! `berth sbom [dir:PATH | IMAGE] [-o FILE] [--format cyclonedx|spdx-json|berth-json]`

use std::io::Write as _;
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
        Some(path) => write_file(path, &doc),
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

/// Writes `doc` to `path` whole or not at all: a temporary file beside it, renamed over it.
fn write_file(path: &Path, doc: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.write_all(doc)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
