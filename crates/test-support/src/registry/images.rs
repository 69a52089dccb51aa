//! Random images, indexes and artifacts to push: every one different, each with the blobs and
//! child manifests it references.

use berth_oci::Digest;
use serde_json::{Value, json};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("random bytes");
    buf
}

/// A random lowercase word, for unique names.
pub fn random_word() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// A blob of content with its media type.
#[derive(Clone, Debug)]
pub struct Blob {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub digest: Digest,
}

impl Blob {
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob {
            media_type: media_type.to_string(),
            digest: Digest::sha256(&bytes),
            bytes,
        }
    }

    pub fn descriptor(&self) -> Value {
        descriptor(&self.media_type, &self.digest, self.bytes.len())
    }
}

/// A manifest (image, index or artifact) with everything it references.
#[derive(Clone, Debug)]
pub struct Image {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub digest: Digest,
    /// Blobs to push first.
    pub blobs: Vec<Blob>,
    /// Child manifests to push (by digest) first.
    pub children: Vec<Image>,
}

impl Image {
    fn new(media_type: &str, doc: &Value, blobs: Vec<Blob>, children: Vec<Image>) -> Image {
        // Pretty-printed, so a registry that re-serialises would be caught.
        let bytes = serde_json::to_vec_pretty(doc).expect("JSON");
        Image {
            media_type: media_type.to_string(),
            digest: Digest::sha256(&bytes),
            bytes,
            blobs,
            children,
        }
    }

    pub fn descriptor(&self) -> Value {
        descriptor(&self.media_type, &self.digest, self.bytes.len())
    }

    pub fn size(&self) -> usize {
        self.bytes.len()
    }
}

pub fn descriptor(media_type: &str, digest: &Digest, size: usize) -> Value {
    json!({ "mediaType": media_type, "digest": digest.to_string(), "size": size })
}

fn config_blob(media_type: &str) -> Blob {
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": { "type": "layers", "diff_ids": [] },
        "config": { "Labels": { "nonce": random_word() } },
    });
    Blob::new(media_type, serde_json::to_vec(&config).unwrap())
}

/// An image manifest of the given types with `layers` random layers.
pub fn image_of(media_type: &str, config_type: &str, layer_type: &str, layers: usize) -> Image {
    let config = config_blob(config_type);
    let layers: Vec<Blob> = (0..layers)
        .map(|i| Blob::new(layer_type, random_bytes(100 + i * 37)))
        .collect();
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.descriptor(),
        "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
    });
    let mut blobs = vec![config];
    blobs.extend(layers);
    Image::new(media_type, &doc, blobs, Vec::new())
}

/// An OCI image manifest with random layers.
pub fn oci_image(layers: usize) -> Image {
    image_of(OCI_MANIFEST, OCI_CONFIG, OCI_LAYER, layers)
}

/// A Docker schema 2 manifest with random layers.
pub fn docker_image(layers: usize) -> Image {
    image_of(DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER, layers)
}

/// An index (OCI or Docker manifest list) of `children`.
pub fn index_of(media_type: &str, children: Vec<Image>) -> Image {
    let platforms = ["amd64", "arm64", "riscv64", "s390x", "ppc64le"];
    let manifests: Vec<Value> = children
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut d = c.descriptor();
            d["platform"] =
                json!({ "os": "linux", "architecture": platforms[i % platforms.len()] });
            d
        })
        .collect();
    let doc = json!({ "schemaVersion": 2, "mediaType": media_type, "manifests": manifests });
    Image::new(media_type, &doc, Vec::new(), children)
}

/// What an artifact refers to: a manifest's media type, digest and size.
#[derive(Clone, Debug)]
pub struct Subject {
    pub media_type: String,
    pub digest: Digest,
    pub size: usize,
}

impl Subject {
    pub fn of(image: &Image) -> Subject {
        Subject {
            media_type: image.media_type.clone(),
            digest: image.digest.clone(),
            size: image.size(),
        }
    }

    /// A manifest nobody pushed.
    pub fn missing() -> Subject {
        let bytes = random_bytes(64);
        Subject {
            media_type: OCI_MANIFEST.to_string(),
            digest: Digest::sha256(&bytes),
            size: 64,
        }
    }

    fn descriptor(&self) -> Value {
        descriptor(&self.media_type, &self.digest, self.size)
    }
}

/// An OCI artifact manifest: `artifact_type` (or none, so the config's media type stands in),
/// a config of `config_type`, one random layer, a subject and annotations.
pub fn artifact(
    artifact_type: Option<&str>,
    config_type: &str,
    subject: Option<&Subject>,
    annotations: &[(&str, &str)],
) -> Image {
    let config = if config_type == OCI_EMPTY {
        Blob::new(OCI_EMPTY, b"{}".to_vec())
    } else {
        Blob::new(config_type, random_bytes(32))
    };
    let layer = Blob::new("application/octet-stream", random_bytes(64));
    let mut doc = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    });
    if let Some(t) = artifact_type {
        doc["artifactType"] = json!(t);
    }
    if let Some(s) = subject {
        doc["subject"] = s.descriptor();
    }
    if !annotations.is_empty() {
        let map: serde_json::Map<String, Value> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        doc["annotations"] = Value::Object(map);
    }
    Image::new(OCI_MANIFEST, &doc, vec![config, layer], Vec::new())
}

/// An OCI index with a subject and annotations (no artifactType), listing `children`.
pub fn index_referrer(
    subject: &Subject,
    children: Vec<Image>,
    annotations: &[(&str, &str)],
) -> Image {
    let map: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": children.iter().map(Image::descriptor).collect::<Vec<_>>(),
        "subject": subject.descriptor(),
        "annotations": map,
    });
    Image::new(OCI_INDEX, &doc, Vec::new(), children)
}
