//! The builder's side of the frontend: the Dockerfile described by berth-dockerfile, which
//! asks for base images' configs; the builder answers through [`Bases`] and keeps each image
//! it resolved for the solver.

use std::collections::BTreeMap;

use berth_dockerfile::describe::BuildOptions;
use berth_dockerfile::frontend::{self, Described, FrontendError};
use berth_oci::{Digest, ImageConfig};
use berth_store::ResolvedImage;

use crate::error::{BaseError, BuildError};
use crate::events::{Event, Events};
use crate::request::{Bases, BuildRequest};
use crate::snapshot::LayerRef;

/// An image the build reads (a base or a `--from` image), present in the store.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub manifest_digest: Digest,
    pub config: ImageConfig,
    /// Bottom first, with their diff IDs.
    pub layers: Vec<LayerRef>,
}

/// The images a build reads, by reference as the description names them.
pub(crate) type Images = BTreeMap<String, Image>;

/// Describes the request's Dockerfile, resolving every image it names through `bases`;
/// warnings go to `events`.
pub(crate) fn describe(
    req: &BuildRequest,
    bases: &dyn Bases,
    events: &dyn Events,
) -> Result<(Described, Images), BuildError> {
    let file = &req.dockerfile_name;
    let opts = BuildOptions {
        build_args: req.build_args.clone(),
        target: req.target.clone(),
        target_platform: req.platform.clone(),
        ..BuildOptions::default()
    };
    let mut images = Images::new();
    let described = frontend::describe(&req.dockerfile, opts, |reference, platform| {
        let resolved = bases.resolve(reference, platform, req.pull)?;
        let image = Image {
            layers: layers(&resolved)?,
            manifest_digest: resolved.manifest_digest,
            config: resolved.config,
        };
        let config = image.config.clone();
        images.insert(reference.to_string(), image);
        Ok(config)
    })
    .map_err(|e| match e {
        FrontendError::Syntax(source) => BuildError::Syntax {
            file: file.clone(),
            source,
        },
        FrontendError::Resolve(source) => BuildError::Describe {
            file: file.clone(),
            source,
        },
        FrontendError::Image { reference, source } => BuildError::BaseImage { reference, source },
    })?;
    for w in &described.description.warnings {
        events.emit(Event::Warning {
            message: match w.line {
                Some(l) => format!("{file}:{l}: {}", w.message),
                None => w.message.clone(),
            },
        });
    }
    Ok((described, images))
}

/// A resolved image's layers with their diff IDs, checked against each other.
fn layers(image: &ResolvedImage) -> Result<Vec<LayerRef>, BaseError> {
    let layers = &image.manifest.layers;
    let diff_ids = &image.config.rootfs.diff_ids;
    if layers.len() != diff_ids.len() {
        return Err(BaseError::Damaged {
            layers: layers.len(),
            diff_ids: diff_ids.len(),
        });
    }
    Ok(layers
        .iter()
        .zip(diff_ids)
        .map(|(d, id)| LayerRef {
            descriptor: d.clone(),
            diff_id: id.clone(),
        })
        .collect())
}
