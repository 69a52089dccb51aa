//! Docker archives (`docker save` format): `manifest.json`, `repositories`, configs and layer
//! tars. Loadable by `docker load` and `podman load`.
//!
//! The format has no manifests, so reading one synthesises an OCI manifest per image (config
//! and layer bytes kept exactly; the config digest, Docker's image ID, is unchanged). Layers are
//! stored uncompressed, as Docker does: writing one decompresses gzip and zstd layers, so an
//! image that went through a Docker archive has a different manifest digest than before,
//! but the same config and diff IDs.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use berth_oci::compression::read_head;
use berth_oci::media_type::{self, Kind};
use berth_oci::{
    Algorithm, Compression, Descriptor, Digest, HashingWriter, ImageConfig, ImageManifest,
    MAX_CONFIG_SIZE, Manifest, Reference, VerifyingReader,
};
use berth_store::blobs::parent_dir;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::files::Files;
use crate::stream::{self, BlobStream};
use crate::tar_out::{Pending, TarOut};
use crate::{Capabilities, ImageDestination, ImageSource, Root, TransportError};

pub const MANIFEST_FILE: &str = "manifest.json";
const REPOSITORIES_FILE: &str = "repositories";
/// The largest `manifest.json` read (it lists every image of the archive, so it may be larger
/// than one image's config, which is bounded by [`MAX_CONFIG_SIZE`]).
const MAX_JSON: u64 = 16 * 1024 * 1024;

/// One image in `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// Reads the images of a Docker archive.
pub struct DockerArchiveSource {
    place: String,
    files: Arc<dyn Files>,
    roots: Vec<Root>,
    /// Synthesised manifests by digest.
    manifests: HashMap<Digest, Bytes>,
    /// Where each config and layer is in the archive.
    paths: HashMap<Digest, String>,
}

impl DockerArchiveSource {
    /// Reads `manifest.json` and works out every image's manifest. `selector` picks one image:
    /// a name from its RepoTags, or `@N` for the N-th image.
    pub(crate) fn new(
        place: String,
        files: Arc<dyn Files>,
        selector: Option<&str>,
    ) -> Result<DockerArchiveSource, TransportError> {
        let bytes = files
            .read(MANIFEST_FILE, MAX_JSON)
            .map_err(|e| TransportError::io(&place, e))?
            .ok_or_else(|| {
                TransportError::invalid(&place, "not a Docker archive: it has no manifest.json")
            })?;
        let entries: Vec<Entry> = serde_json::from_slice(&bytes)
            .map_err(|e| TransportError::invalid(&place, format!("manifest.json: {e}")))?;
        let mut source = DockerArchiveSource {
            place,
            files,
            roots: Vec::new(),
            manifests: HashMap::new(),
            paths: HashMap::new(),
        };
        for (i, entry) in entries.iter().enumerate() {
            let names: Vec<Reference> = entry
                .repo_tags
                .iter()
                .flatten()
                .map(|t| {
                    Reference::parse(t).map_err(|e| {
                        TransportError::invalid(
                            &source.place,
                            format!("manifest.json image {i}: {e}"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
            let wanted = match selector {
                None => true,
                Some(sel) => match sel.strip_prefix('@') {
                    Some(n) => n.parse::<usize>().ok() == Some(i),
                    None => Reference::parse(sel).is_ok_and(|r| names.contains(&r)),
                },
            };
            if wanted {
                let descriptor = source.synthesise(i, entry)?;
                source.roots.push(Root { descriptor, names });
            }
        }
        if source.roots.is_empty() {
            return Err(match selector {
                Some(sel) => TransportError::not_found(&source.place, format!("image {sel:?}")),
                None => TransportError::invalid(&source.place, "manifest.json lists no images"),
            });
        }
        Ok(source)
    }

    /// Builds an OCI manifest for one `manifest.json` entry.
    fn synthesise(&mut self, i: usize, entry: &Entry) -> Result<Descriptor, TransportError> {
        let place = self.place.clone();
        let config_bytes = self
            .files
            .read(&entry.config, MAX_CONFIG_SIZE as u64)
            .map_err(|e| TransportError::io(&place, e))?
            .ok_or_else(|| {
                TransportError::not_found(&place, format!("config {:?} of image {i}", entry.config))
            })?;
        let config = ImageConfig::parse(&config_bytes).map_err(|e| {
            TransportError::invalid(
                &place,
                format!("config {:?} is not an image config: {e}", entry.config),
            )
        })?;
        if config.rootfs.diff_ids.len() != entry.layers.len() {
            return Err(TransportError::invalid(
                &place,
                format!(
                    "image {i} lists {} layers but its config has {} diff IDs",
                    entry.layers.len(),
                    config.rootfs.diff_ids.len()
                ),
            ));
        }
        let config_desc = Descriptor::of_bytes(media_type::OCI_CONFIG, &config_bytes);
        self.paths
            .insert(config_desc.digest.clone(), entry.config.clone());
        let mut layers = Vec::new();
        for (path, want) in entry.layers.iter().zip(&config.rootfs.diff_ids) {
            let (layer, diff_id) = self.describe_layer(path)?;
            // As `docker load` does: the layers must be the ones the config names.
            if diff_id != *want {
                return Err(TransportError::invalid(
                    &place,
                    format!(
                        "layer {path:?} of image {i} has diff ID {diff_id}, but its config lists {want}; the archive is inconsistent"
                    ),
                ));
            }
            self.paths.insert(layer.digest.clone(), path.clone());
            layers.push(layer);
        }
        let bytes = ImageManifest::new(config_desc, layers).to_bytes();
        let desc = Descriptor::of_bytes(media_type::OCI_MANIFEST, &bytes);
        self.manifests
            .insert(desc.digest.clone(), Bytes::from(bytes));
        Ok(desc)
    }

    /// A layer file's descriptor and diff ID. Its compression is told by its first bytes; its
    /// digest by its name when the name is one (`blobs/sha256/<hex>`, `<hex>.tar`; the bytes
    /// are checked against it when read), or else by hashing it. A compressed layer (rare in
    /// Docker archives) is decompressed once to learn its diff ID.
    fn describe_layer(&self, path: &str) -> Result<(Descriptor, Digest), TransportError> {
        let place = &self.place;
        let io_err = |e| TransportError::io(place, e);
        let missing = || TransportError::not_found(place, format!("layer {path:?}"));
        let open = || -> Result<Box<dyn Read + Send>, TransportError> {
            self.files.open(path).map_err(io_err)?.ok_or_else(missing)
        };
        let size = self.files.size(path).map_err(io_err)?.ok_or_else(missing)?;
        let head = read_head(&mut open()?).map_err(io_err)?;
        // A compression berth doesn't read (xz, bzip2) is copied as the plain bytes it seems.
        let compression = Compression::sniff(&head).unwrap_or(Compression::None);
        let hash = |reader: &mut dyn Read| -> Result<Digest, TransportError> {
            let mut w = HashingWriter::new(io::sink(), Algorithm::Sha256);
            io::copy(reader, &mut w).map_err(io_err)?;
            Ok(w.finish().1)
        };
        let file_name = path.rsplit('/').next().unwrap_or(path);
        let stem = file_name.strip_suffix(".tar").unwrap_or(file_name);
        let digest = match Digest::from_hex(Algorithm::Sha256, stem) {
            Ok(named) => named,
            Err(_) => hash(&mut open()?)?,
        };
        let diff_id = match compression {
            Compression::None => digest.clone(),
            c => hash(&mut c.decoder(open()?).map_err(io_err)?)?,
        };
        Ok((
            Descriptor::new(compression.oci_layer(), digest, size),
            diff_id,
        ))
    }
}

#[async_trait]
impl ImageSource for DockerArchiveSource {
    fn describe(&self) -> String {
        self.place.clone()
    }

    async fn roots(&self) -> Result<Vec<Root>, TransportError> {
        Ok(self.roots.clone())
    }

    async fn manifest(&self, desc: &Descriptor) -> Result<Bytes, TransportError> {
        self.manifests.get(&desc.digest).cloned().ok_or_else(|| {
            TransportError::not_found(&self.place, format!("manifest {}", desc.digest))
        })
    }

    async fn blob(&self, desc: &Descriptor) -> Result<BlobStream, TransportError> {
        let path = self.paths.get(&desc.digest).ok_or_else(|| {
            TransportError::not_found(&self.place, format!("blob {}", desc.digest))
        })?;
        let reader = self
            .files
            .open(path)
            .map_err(|e| TransportError::io(&self.place, e))?
            .ok_or_else(|| TransportError::not_found(&self.place, format!("{path:?}")))?;
        Ok(stream::from_blocking(VerifyingReader::new(
            reader,
            &desc.digest,
            Some(desc.size),
        )))
    }
}

/// Opens a Docker archive (a file, or a directory it was unpacked into) for reading;
/// `selector` picks one image: a name from its RepoTags, or `@N` for the N-th.
pub fn open(
    path: &std::path::Path,
    selector: Option<&str>,
    temp_dir: &std::path::Path,
) -> Result<DockerArchiveSource, TransportError> {
    let place = format!("docker-archive:{}", path.display());
    let files: Arc<dyn Files> = if path.is_dir() {
        Arc::new(crate::files::DirFiles::new(path))
    } else {
        Arc::new(
            crate::tar_index::TarIndex::open(path, temp_dir)
                .map_err(|e| TransportError::io(&place, e))?,
        )
    };
    DockerArchiveSource::new(place, files, selector)
}

/// A layer as written into the archive.
#[derive(Debug, Clone)]
struct WrittenLayer {
    diff_id: Digest,
    path: String,
}

struct Writer {
    out: TarOut,
    spool_dir: PathBuf,
    configs: HashMap<Digest, Vec<u8>>,
    layers: HashMap<Digest, WrittenLayer>,
    manifests: HashMap<Digest, ImageManifest>,
}

/// Writes a Docker archive into a temporary file beside `path`, renamed into place at commit.
pub struct DockerArchiveDestination {
    place: String,
    writer: Pending<Writer>,
}

impl DockerArchiveDestination {
    pub fn new(path: &Path) -> Result<DockerArchiveDestination, TransportError> {
        let place = format!("docker-archive:{}", path.display());
        let out = TarOut::create(path).map_err(|e| TransportError::io(&place, e))?;
        let spool_dir = parent_dir(path).to_path_buf();
        Ok(DockerArchiveDestination {
            place,
            writer: Pending::new(Writer {
                out,
                spool_dir,
                configs: HashMap::new(),
                layers: HashMap::new(),
                manifests: HashMap::new(),
            }),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Writer) -> Result<T, TransportError>,
    ) -> Result<T, TransportError> {
        with_writer(&self.writer, &self.place, f)
    }
}

fn with_writer<T>(
    writer: &Pending<Writer>,
    place: &str,
    f: impl FnOnce(&mut Writer) -> Result<T, TransportError>,
) -> Result<T, TransportError> {
    writer.with(f).unwrap_or_else(|| Err(committed(place)))
}

fn committed(place: &str) -> TransportError {
    TransportError::invalid(place, "the archive was already committed")
}

impl Writer {
    fn put_config(
        &mut self,
        place: &str,
        desc: &Descriptor,
        data: impl Read,
    ) -> Result<(), TransportError> {
        if desc.size > MAX_CONFIG_SIZE as u64 {
            return Err(TransportError::invalid(
                place,
                format!(
                    "config {} is {} bytes; the limit is {MAX_CONFIG_SIZE}",
                    desc.digest, desc.size
                ),
            ));
        }
        let mut bytes = Vec::new();
        VerifyingReader::new(data, &desc.digest, Some(desc.size))
            .read_to_end(&mut bytes)
            .map_err(|e| TransportError::from_read(place, &desc.digest, e))?;
        self.out
            .bytes(&format!("{}.json", desc.digest.hex()), &bytes)
            .map_err(|e| TransportError::io(place, e))?;
        self.configs.insert(desc.digest.clone(), bytes);
        Ok(())
    }

    /// Writes a layer uncompressed as `<diff-id>.tar`. A compressed layer is decompressed to a
    /// spool file first: the tar header needs its size before its bytes.
    fn put_layer(
        &mut self,
        place: &str,
        desc: &Descriptor,
        compression: Compression,
        data: impl Read,
    ) -> Result<(), TransportError> {
        let verified = VerifyingReader::new(data, &desc.digest, Some(desc.size));
        let read_err = |e| TransportError::from_read(place, &desc.digest, e);
        let layer = if compression == Compression::None {
            let layer = WrittenLayer {
                diff_id: desc.digest.clone(),
                path: format!("{}.tar", desc.digest.hex()),
            };
            if !self.out.contains(&layer.path) {
                self.out
                    .file(&layer.path, desc.size, verified)
                    .map_err(read_err)?;
            }
            layer
        } else {
            let spool =
                tempfile::tempfile_in(&self.spool_dir).map_err(|e| TransportError::io(place, e))?;
            let mut hashed = HashingWriter::new(spool, Algorithm::Sha256);
            let copied = compression
                .decoder(verified)
                .and_then(|mut d| io::copy(&mut d, &mut hashed));
            // A decoder fails on damaged data before the digest check can: name the blob.
            copied.map_err(|e| match read_err(e) {
                TransportError::Io { place, source } => TransportError::invalid(
                    &place,
                    format!("layer {} can't be decompressed: {source}", desc.digest),
                ),
                other => other,
            })?;
            let (mut spool, diff_id, size) = hashed.finish();
            let layer = WrittenLayer {
                path: format!("{}.tar", diff_id.hex()),
                diff_id,
            };
            if !self.out.contains(&layer.path) {
                spool.rewind().map_err(|e| TransportError::io(place, e))?;
                self.out
                    .file(
                        &layer.path,
                        size,
                        io::BufReader::with_capacity(1 << 20, spool),
                    )
                    .map_err(|e| TransportError::io(place, e))?;
            }
            layer
        };
        self.layers.insert(desc.digest.clone(), layer);
        Ok(())
    }

    /// The `manifest.json` entry for one image, checking its layers against its config.
    fn entry(&self, place: &str, root: &Root) -> Result<Entry, TransportError> {
        let manifest = self.manifests.get(&root.descriptor.digest).ok_or_else(|| {
            TransportError::invalid(
                place,
                format!("image {} was not written", root.descriptor.digest),
            )
        })?;
        let config_bytes = self.configs.get(&manifest.config.digest).ok_or_else(|| {
            TransportError::invalid(
                place,
                format!("config {} was not written", manifest.config.digest),
            )
        })?;
        let config = ImageConfig::parse(config_bytes).map_err(|e| {
            TransportError::invalid(
                place,
                format!(
                    "config {} is not an image config: {e}",
                    manifest.config.digest
                ),
            )
        })?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(TransportError::invalid(
                place,
                format!(
                    "image {} has {} layers but its config lists {} diff IDs",
                    root.descriptor.digest,
                    manifest.layers.len(),
                    config.rootfs.diff_ids.len()
                ),
            ));
        }
        let mut layers = Vec::new();
        for (layer, want) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
            let written = self.layers.get(&layer.digest).ok_or_else(|| {
                TransportError::invalid(place, format!("layer {} was not written", layer.digest))
            })?;
            if written.diff_id != *want {
                return Err(TransportError::invalid(
                    place,
                    format!(
                        "layer {} decompresses to {} but the image config says {want}; the image is inconsistent",
                        layer.digest, written.diff_id
                    ),
                ));
            }
            layers.push(written.path.clone());
        }
        let tags: Vec<String> = root
            .names
            .iter()
            .filter_map(|n| n.tagged().map(|t| t.to_string()))
            .collect();
        Ok(Entry {
            config: format!("{}.json", manifest.config.digest.hex()),
            repo_tags: (!tags.is_empty()).then_some(tags),
            layers,
        })
    }
}

#[async_trait]
impl ImageDestination for DockerArchiveDestination {
    fn describe(&self) -> String {
        self.place.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            indexes: false,
            ordered: true,
        }
    }

    async fn has_blob(&self, desc: &Descriptor) -> Result<bool, TransportError> {
        self.with(|w| {
            Ok(w.configs.contains_key(&desc.digest)
                || w.layers.contains_key(&desc.digest)
                || w.manifests.contains_key(&desc.digest))
        })
    }

    async fn put_blob(&self, desc: &Descriptor, data: BlobStream) -> Result<(), TransportError> {
        let kind = media_type::kind(&desc.media_type);
        let writer = self.writer.clone();
        let place = self.place.clone();
        let d = desc.clone();
        stream::read_blocking(data, move |data| {
            with_writer(&writer, &place, |w| match kind {
                Kind::Config => w.put_config(&place, &d, data),
                Kind::Layer(c) => w.put_layer(&place, &d, c, data),
                _ => Err(TransportError::Unsupported {
                    place: place.clone(),
                    why: format!(
                        "blob {} has media type {:?}; Docker archives hold only image configs and layers",
                        d.digest, d.media_type
                    ),
                }),
            })
        })
        .await
        .map_err(|e| TransportError::io(&self.place, io::Error::other(e)))?
    }

    async fn put_manifest(&self, desc: &Descriptor, bytes: Bytes) -> Result<(), TransportError> {
        crate::check_bytes(&self.place, desc, &bytes)?;
        let manifest = match Manifest::parse(&bytes, Some(&desc.media_type)) {
            Ok(Manifest::Image(m)) => m,
            Ok(Manifest::Index(_)) => {
                return Err(TransportError::Unsupported {
                    place: self.place.clone(),
                    why: "Docker archives can't hold image indexes; choose a platform".into(),
                });
            }
            Err(source) => {
                return Err(TransportError::Manifest {
                    place: self.place.clone(),
                    digest: desc.digest.clone(),
                    source,
                });
            }
        };
        self.with(|w| {
            w.manifests.insert(desc.digest.clone(), manifest);
            Ok(())
        })
    }

    async fn commit(&self, roots: &[Root]) -> Result<(), TransportError> {
        let writer = self.writer.clone();
        let place = self.place.clone();
        let roots = roots.to_vec();
        tokio::task::spawn_blocking(move || {
            let mut w = writer.take().ok_or_else(|| committed(&place))?;
            let entries = roots
                .iter()
                .map(|r| w.entry(&place, r))
                .collect::<Result<Vec<_>, _>>()?;
            // `repositories` maps each repository and tag to the image's top layer, for
            // loaders older than manifest.json.
            let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
            for (root, entry) in roots.iter().zip(&entries) {
                let top = entry
                    .layers
                    .last()
                    .map(|l| l.trim_end_matches(".tar").to_string());
                for name in root.names.iter().filter(|n| n.tag().is_some()) {
                    repositories
                        .entry(name.repository().to_string())
                        .or_default()
                        .insert(
                            name.tag().unwrap_or_default().to_string(),
                            top.clone().unwrap_or_default(),
                        );
                }
            }
            let io_err = |e| TransportError::io(&place, e);
            w.out
                .bytes(MANIFEST_FILE, &to_json(&entries))
                .map_err(io_err)?;
            if !repositories.is_empty() {
                w.out
                    .bytes(REPOSITORIES_FILE, &to_json(&repositories))
                    .map_err(io_err)?;
            }
            w.out.finish().map_err(io_err)
        })
        .await
        .map_err(|e| TransportError::io(&self.place, io::Error::other(e)))?
    }
}

fn to_json(v: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(v).expect("archive metadata serialises")
}
