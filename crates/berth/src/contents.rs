//! What an image or a directory holds: its catalogue, read from every place berth reads images
//! (the store, a registry, an OCI layout or archive, a Docker archive; see [`Location`]) or from
//! `dir:PATH`. `berth sbom` and `berth scan` both start here.
//!
//! An image's layers are streamed from the place's [`ImageSource`] straight into the
//! catalogers' merged view (`berth_catalog::ImageFs`): nothing is pulled into the store or
//! extracted to disk, and the same image gives the same catalogue wherever it is read from.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, bail};
use berth_catalog::{Catalog, DirFs, ImageFs, Layer, LayerCache, WANTED, catalog};
use berth_explain::Attribution;
use berth_oci::{Descriptor, Digest, ImageConfig, Manifest, Platform, Reference};
use berth_sbom::Subject;
use berth_transport::ImageSource;
use tokio::io::AsyncReadExt as _;
use tokio_util::io::SyncIoBridge;

use crate::Context;
use crate::location::Location;

/// A catalogued image or directory.
pub struct Contents {
    pub subject: Subject,
    pub catalog: Catalog,
    /// For an image: the facts a report names it by.
    pub image: Option<ImageFacts>,
    /// Where each package came from, in the catalogue's order; empty for a directory.
    pub attributions: Vec<Option<Attribution>>,
}

/// What a scan report says of the image itself.
pub struct ImageFacts {
    /// The config's digest (what `docker images` calls the image ID).
    pub config_digest: Digest,
    pub diff_ids: Vec<Digest>,
    /// The names the place gives the image, tagged ones as `NAME:TAG`.
    pub repo_tags: Vec<String>,
    /// For an image in a registry, `REPOSITORY@DIGEST` (what the registry serves it as), as
    /// Docker lists the repo digests of a pulled image.
    pub repo_digests: Vec<String>,
}

/// Whether an image's layers may be catalogued from the layer cache (and their scans kept
/// there): `--no-cache` or `BERTH_NO_CACHE` says no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    Use,
    Bypass,
}

/// The layer cache's option, for every command that reads contents.
#[derive(clap::Args, Debug)]
pub struct CacheArgs {
    /// Read every layer, neither using nor keeping layer scans in the cache (ROOT/cache/layers)
    #[arg(long, env = "BERTH_NO_CACHE", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_cache: bool,
}

impl CacheArgs {
    pub fn caching(&self) -> Caching {
        if self.no_cache {
            Caching::Bypass
        } else {
            Caching::Use
        }
    }
}

/// Catalogues `target`: `dir:PATH`, or an image wherever [`Location`] finds it.
pub fn read(
    ctx: &Context,
    target: &str,
    platform: Option<&str>,
    caching: Caching,
) -> anyhow::Result<Contents> {
    let contents = match target.strip_prefix("dir:") {
        Some(path) => directory(path)?,
        None => image(ctx, target, platform, caching)?,
    };
    // What was left out (a file too large, malformed metadata), said before any report.
    for warning in &contents.catalog.warnings {
        eprintln!("berth: warning: {warning}");
    }
    Ok(contents)
}

fn directory(path: &str) -> anyhow::Result<Contents> {
    let fs = DirFs::open(Path::new(path)).with_context(|| format!("reading directory {path}"))?;
    let catalog = catalog(&fs).with_context(|| format!("cataloguing directory {path}"))?;
    Ok(Contents {
        subject: Subject::Directory {
            path: path.to_string(),
        },
        catalog,
        image: None,
        attributions: Vec::new(),
    })
}

fn image(
    ctx: &Context,
    target: &str,
    platform: Option<&str>,
    caching: Caching,
) -> anyhow::Result<Contents> {
    let location = Location::parse(target)?;
    let platform = crate::commands::platform(platform)?.unwrap_or_else(Platform::host);
    let runtime = ctx.runtime()?;
    let (source, resolved) = runtime
        .block_on(async {
            let source: Arc<dyn ImageSource> = Arc::from(location.source(ctx).await?);
            let resolved = resolve(source.as_ref(), &platform).await?;
            anyhow::Ok((source, resolved))
        })
        .with_context(|| format!("reading image {target}"))?;
    let Resolved {
        names,
        root_digest,
        manifest_digest,
        layers,
        config_digest,
        config,
    } = resolved;
    let diff_ids = config.rootfs.diff_ids.clone();
    anyhow::ensure!(
        diff_ids.len() == layers.len(),
        "image {target} ({manifest_digest}): the manifest lists {} layers but the config {} diff IDs; the image is damaged, pull or build it again",
        layers.len(),
        diff_ids.len()
    );
    // The catalogers read on threads of their own (not the runtime's): each layer's stream is
    // driven by the runtime and read there through a blocking bridge.
    let handle = runtime.handle().clone();
    let mismatch = Arc::new(Mutex::new(None));
    let stored = matches!(location, Location::Store(_));
    let layers = layers
        .into_iter()
        .zip(&diff_ids)
        .map(|(desc, diff_id)| {
            let (source, handle, mismatch) = (source.clone(), handle.clone(), mismatch.clone());
            let blob = desc.digest.clone();
            let layer = Layer::new(diff_id.clone(), move || {
                let stream = handle
                    .block_on(source.blob(&desc))
                    .map_err(std::io::Error::other)?;
                Ok(ReadToEnd {
                    inner: SyncIoBridge::new_with_handle(stream, handle.clone()),
                    digest: desc.digest.clone(),
                    mismatch: mismatch.clone(),
                })
            })
            .with_blob(blob);
            // The store checked its blobs as they were written; see Layer::checked_at_rest.
            match stored {
                true => layer.checked_at_rest(),
                false => layer,
            }
        })
        .collect();
    let what = || format!("cataloguing image {target} ({manifest_digest})");
    let cache = match caching {
        Caching::Use => layer_cache(ctx),
        Caching::Bypass => None,
    };
    let fs = match &cache {
        Some(cache) => ImageFs::read_cached(layers, &WANTED, cache),
        None => ImageFs::read(layers, &WANTED),
    }
    .with_context(what)?;
    let catalog = catalog(&fs).with_context(what)?;
    // Every layer reader has been dropped (and so read to its end) by now.
    if let Some(e) = mismatch.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e).with_context(what);
    }
    // Only now, every blob read having passed its digest check, are their scans kept. A cache
    // that cannot be written costs the next run time, not this one its result.
    if let Some(cache) = &cache
        && let Err(e) = cache.commit()
    {
        eprintln!(
            "berth: warning: keeping layer scans in {}: {e}; the next read of these layers reads them again",
            cache.dir().display()
        );
    }
    // Build records are kept by config digest in the local store, so an image built here is
    // attributed to its Dockerfile lines wherever it is read from. Reading an image elsewhere
    // makes no store where there is none.
    let store = match ctx.root() {
        Ok(root) if root.exists() => Some(ctx.store()?),
        _ => None,
    };
    let attributions = crate::attribution::of_image(
        store.as_deref(),
        &fs,
        &catalog,
        &config,
        &config_digest,
        &what(),
    )?;
    Ok(Contents {
        subject: Subject::Image {
            name: target.to_string(),
            digest: manifest_digest,
        },
        catalog,
        image: Some(ImageFacts {
            config_digest,
            diff_ids,
            repo_tags: names
                .iter()
                .filter_map(|n| n.tagged())
                .map(|n| n.familiar())
                .collect(),
            repo_digests: match &location {
                Location::Registry(r) => {
                    vec![format!("{}@{root_digest}", r.repository().familiar())]
                }
                _ => Vec::new(),
            },
        }),
        attributions,
    })
}

/// The layer cache under the berth root (`ROOT/cache/layers`), for this build of berth.
fn layer_cache(ctx: &Context) -> Option<LayerCache> {
    let dir = ctx.root().ok()?.join("cache").join("layers");
    Some(LayerCache::new(
        dir,
        &build_identity()?,
        LayerCache::DEFAULT_CAP,
    ))
}

/// What changes whenever berth's catalogers may: its version and its executable's size and
/// modification time (a rebuild of the same version is another build). `None` when the
/// executable cannot be looked at: no entry could then be trusted to be this build's.
fn build_identity() -> Option<String> {
    let exe = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
    let modified = exe
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(format!(
        "berth {} {} {modified}",
        env!("CARGO_PKG_VERSION"),
        exe.len()
    ))
}

/// Bytes a layer may hold after its tar archive's end (the end-of-archive blocks' padding, a
/// compressor's trailer) that are read to reach the stream's end.
const TRAILER_LIMIT: u64 = 1 << 20;

/// A layer blob that is read to its end once the catalogers are done with it. The catalogers
/// stop at the tar archive's end-of-archive marker, but a place checks a blob's size and digest
/// as its stream ends: reading the few bytes left runs that check, and a blob that fails it
/// (or holds more than [`TRAILER_LIMIT`] bytes past its archive) fails the catalogue instead of
/// describing bytes nobody vouched for.
struct ReadToEnd<R: Read> {
    inner: R,
    digest: Digest,
    mismatch: Arc<Mutex<Option<anyhow::Error>>>,
}

impl<R: Read> Read for ReadToEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: Read> Drop for ReadToEnd<R> {
    fn drop(&mut self) {
        let failed = match std::io::copy(
            &mut (&mut self.inner).take(TRAILER_LIMIT),
            &mut std::io::sink(),
        ) {
            Ok(n) if n < TRAILER_LIMIT => return,
            Ok(_) => anyhow::anyhow!(
                "layer {} holds more than {TRAILER_LIMIT} bytes after its tar archive ends",
                self.digest
            ),
            Err(e) => anyhow::Error::new(e).context(format!("layer {}", self.digest)),
        };
        let mut slot = self.mismatch.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(failed);
    }
}

/// The image a place holds, as far as its manifest and config tell.
struct Resolved {
    names: Vec<Reference>,
    /// The digest of what the place holds (an index, for a multi-platform image).
    root_digest: Digest,
    manifest_digest: Digest,
    layers: Vec<Descriptor>,
    config_digest: Digest,
    config: ImageConfig,
}

/// Follows the place's one image (through indexes, to `platform`'s image) to its manifest
/// and config.
async fn resolve(source: &dyn ImageSource, platform: &Platform) -> anyhow::Result<Resolved> {
    let roots = source.roots().await?;
    let (names, mut desc) = match roots.as_slice() {
        [one] => (one.names.clone(), one.descriptor.clone()),
        [] => bail!("{} holds no image", source.describe()),
        several => bail!(
            "{} holds {} images; name one (PATH:NAME)",
            source.describe(),
            several.len()
        ),
    };
    let root_digest = desc.digest.clone();
    // Indexes may nest; follow them to an image manifest.
    for _ in 0..8 {
        let bytes = source.manifest(&desc).await?;
        match Manifest::parse(&bytes, Some(&desc.media_type))
            .with_context(|| format!("manifest {}", desc.digest))?
        {
            Manifest::Image(m) => {
                let mut raw = Vec::new();
                // The stream checks the size and digest as it ends.
                source
                    .blob(&m.config)
                    .await?
                    .read_to_end(&mut raw)
                    .await
                    .with_context(|| format!("reading config {}", m.config.digest))?;
                let config = ImageConfig::parse(&raw)
                    .with_context(|| format!("config {}", m.config.digest))?;
                return Ok(Resolved {
                    names,
                    root_digest,
                    manifest_digest: desc.digest,
                    layers: m.layers,
                    config_digest: m.config.digest,
                    config,
                });
            }
            Manifest::Index(index) => {
                desc = platform
                    .select(&index.manifests)
                    .with_context(|| {
                        let have: Vec<String> = index
                            .manifests
                            .iter()
                            .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
                            .collect();
                        format!(
                            "index {} has no image for {platform} (it has: {}); choose one with --platform",
                            desc.digest,
                            have.join(", ")
                        )
                    })?
                    .clone();
            }
        }
    }
    bail!("{}: indexes nest more than 8 deep", source.describe())
}
