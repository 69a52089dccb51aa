//! `berth sbom [dir:PATH | IMAGE] [-o FILE] [--format cyclonedx|spdx-json|berth-json]`, where
//! IMAGE is anywhere berth reads images (see [`crate::contents`]).

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use berth_attach::{Artifact, Layer};
use berth_oci::{Descriptor, Reference};
use berth_sbom::Format;
use bytes::Bytes;

use crate::Context;
use crate::cli::{SbomArgs, SbomFormat};
use crate::location::Location;

/// The artifact (and layer) type of an attached CycloneDX SBOM.
const CYCLONEDX_MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";
/// The artifact (and layer) type of an attached SPDX SBOM.
const SPDX_MEDIA_TYPE: &str = "application/spdx+json";
const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

pub fn run(ctx: &Context, args: SbomArgs) -> anyhow::Result<()> {
    // Checked before cataloguing: a wrong target should not cost a walk of the image.
    // With --attach, IMAGE is in a registry (docker:// may be left out) and is read there.
    let attach_to = match (args.attach, Location::parse(&args.target)) {
        (false, _) => None,
        (true, Ok(Location::Registry(reference))) => Some(reference),
        (true, Ok(Location::Store(name))) if !name.starts_with("dir:") => Some(
            Reference::parse(&name)
                .with_context(|| format!("--attach: {name} is not an image reference"))?,
        ),
        (true, _) => bail!(
            "--attach pushes the SBOM beside an image in a registry; {} is not one \
             (name it REGISTRY/REPOSITORY:TAG or docker://REF)",
            args.target
        ),
    };
    let format = match args.format {
        SbomFormat::Cyclonedx => Format::CycloneDx,
        SbomFormat::SpdxJson => Format::SpdxJson,
        SbomFormat::BerthJson => Format::BerthJson,
    };
    // The image is resolved once: the manifest catalogued is the one the SBOM is attached to.
    let attach_to = match attach_to {
        Some(reference) => {
            let media_type = match format {
                Format::CycloneDx => CYCLONEDX_MEDIA_TYPE,
                Format::SpdxJson => SPDX_MEDIA_TYPE,
                Format::BerthJson => bail!(
                    "--attach pushes a standard SBOM: give --format cyclonedx or --format spdx-json"
                ),
            };
            let subject = ctx.runtime()?.block_on(async {
                let place = super::sign::place(ctx, &reference)?;
                anyhow::Ok(super::sign::resolve(&place, &reference).await?)
            })?;
            Some((reference, subject, media_type))
        }
        None => None,
    };
    let target = match &attach_to {
        Some((reference, subject, _)) => format!(
            "docker://{}",
            Reference::with_digest(reference.repository().clone(), subject.digest.clone())
        ),
        None => args.target.clone(),
    };
    // Read before cataloguing: a bad SOURCE_DATE_EPOCH should not cost a walk of the image.
    let created = berth_sbom::creation_time()?;
    let contents =
        crate::contents::read(ctx, &target, args.platform.as_deref(), args.cache.caching())?;
    let doc = berth_sbom::write_attributed(
        format,
        &contents.subject,
        &contents.catalog,
        &contents.attributions,
        created,
    );
    if let Some((reference, subject, media_type)) = &attach_to {
        attach(ctx, reference, subject, media_type, doc.clone())?;
    }
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

/// Pushes `doc` as an OCI 1.1 referrer of `subject`, the manifest `reference` named:
/// artifact type the document's media type, empty config, one layer the document.
fn attach(
    ctx: &Context,
    reference: &Reference,
    subject: &Descriptor,
    media_type: &str,
    doc: Vec<u8>,
) -> anyhow::Result<()> {
    ctx.runtime()?.block_on(async {
        let place = super::sign::place(ctx, reference)?;
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let artifact = Artifact {
            artifact_type: media_type.to_string(),
            layers: vec![Layer {
                media_type: media_type.to_string(),
                bytes: Bytes::from(doc),
                annotations: BTreeMap::new(),
            }],
            annotations: BTreeMap::from([(CREATED_ANNOTATION.to_string(), created)]),
        };
        let attached = place.attach(subject, artifact).await?;
        eprintln!(
            "Attached the SBOM to {}@{} as {}@{}",
            place.repository().familiar(),
            subject.digest,
            place.repository().familiar(),
            attached.digest
        );
        anyhow::Ok(())
    })
}
