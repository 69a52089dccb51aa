//! Image manifests and indexes (OCI and Docker schema 2), read from and written to JSON.
//!
//! berth never re-serialises a manifest it did not make: the exact bytes travel with their
//! digest. These types are for reading what a manifest points at, and for writing new ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::descriptor::Descriptor;
use crate::media_type::{self, Kind};

/// Largest manifest berth reads, as registries commonly enforce.
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "Docker schema 1 manifests ({0}) are not supported: they were retired in 2019; re-push the image with a current client"
    )]
    Schema1(String),
    #[error("unsupported schemaVersion {0}: expected 2")]
    SchemaVersion(u64),
    #[error(
        "not an image manifest or index (media type {0:?}); berth reads OCI and Docker schema 2 manifests and indexes"
    )]
    NotAManifest(String),
    #[error("manifest is {0} bytes; the limit is {MAX_MANIFEST_SIZE}")]
    TooLarge(usize),
}

/// An OCI image manifest or Docker schema 2 manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageManifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u64,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An OCI image index or Docker manifest list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageIndex {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u64,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageManifest {
    /// A new OCI manifest.
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> ImageManifest {
        ImageManifest {
            schema_version: 2,
            media_type: Some(media_type::OCI_MANIFEST.to_string()),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: None,
            extra: Map::new(),
        }
    }

    /// Canonical bytes of a manifest berth creates (compact JSON, fields in spec order).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("manifest serialises")
    }
}

impl ImageIndex {
    pub fn new(manifests: Vec<Descriptor>) -> ImageIndex {
        ImageIndex {
            schema_version: 2,
            media_type: Some(media_type::OCI_INDEX.to_string()),
            artifact_type: None,
            manifests,
            subject: None,
            annotations: None,
            extra: Map::new(),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("index serialises")
    }
}

/// A parsed manifest of either kind.
// Manifests are parsed a few at a time and matched on often; boxing the bigger variant would
// cost every match a dereference to save memory nobody misses.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Manifest {
    Image(ImageManifest),
    Index(ImageIndex),
}

/// Only the fields needed to tell what kind of document this is.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "schemaVersion", default)]
    schema_version: Option<u64>,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Value>,
    #[serde(default)]
    config: Option<Value>,
    #[serde(rename = "fsLayers", default)]
    fs_layers: Option<Value>,
}

impl Manifest {
    /// Parses manifest bytes. `content_type` is the media type the bytes were served or
    /// described with, used when the document itself doesn't say.
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest, ManifestError> {
        if bytes.len() > MAX_MANIFEST_SIZE {
            return Err(ManifestError::TooLarge(bytes.len()));
        }
        let probe: Probe = serde_json::from_slice(bytes)?;
        let declared = probe.media_type.as_deref().or(content_type);
        let kind = match declared.map(media_type::kind) {
            Some(Kind::Index) => Kind::Index,
            Some(Kind::Manifest) => Kind::Manifest,
            Some(Kind::Schema1) => {
                return Err(ManifestError::Schema1(declared.unwrap_or_default().into()));
            }
            _ if probe.fs_layers.is_some() => {
                return Err(ManifestError::Schema1("schemaVersion 1".into()));
            }
            // OCI documents may omit mediaType; tell them apart by their fields.
            _ if probe.manifests.is_some() => Kind::Index,
            _ if probe.config.is_some() => Kind::Manifest,
            _ => {
                return Err(ManifestError::NotAManifest(
                    declared.unwrap_or("none").into(),
                ));
            }
        };
        match probe.schema_version {
            Some(2) => {}
            Some(1) => return Err(ManifestError::Schema1("schemaVersion 1".into())),
            Some(v) => return Err(ManifestError::SchemaVersion(v)),
            None => return Err(ManifestError::SchemaVersion(0)),
        }
        Ok(match kind {
            Kind::Index => Manifest::Index(serde_json::from_slice(bytes)?),
            _ => Manifest::Image(serde_json::from_slice(bytes)?),
        })
    }

    /// The media type to describe these bytes with: the declared one, or the OCI default.
    pub fn media_type(&self) -> &str {
        match self {
            Manifest::Image(m) => m.media_type.as_deref().unwrap_or(media_type::OCI_MANIFEST),
            Manifest::Index(i) => i.media_type.as_deref().unwrap_or(media_type::OCI_INDEX),
        }
    }

    /// Everything this manifest needs to be complete: config and layers, or child manifests.
    /// The `subject` is not included: it may live elsewhere.
    pub fn children(&self) -> Vec<&Descriptor> {
        match self {
            Manifest::Image(m) => std::iter::once(&m.config).chain(&m.layers).collect(),
            Manifest::Index(i) => i.manifests.iter().collect(),
        }
    }

    pub fn subject(&self) -> Option<&Descriptor> {
        match self {
            Manifest::Image(m) => m.subject.as_ref(),
            Manifest::Index(i) => i.subject.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    const DOCKER: &str = r#"{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
      "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},
   "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654,
      "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}]
}"#;

    #[test]
    fn reads_docker_manifest() {
        let m = Manifest::parse(DOCKER.as_bytes(), None).unwrap();
        assert_eq!(m.media_type(), media_type::DOCKER_MANIFEST);
        let Manifest::Image(img) = &m else { panic!() };
        assert_eq!(img.layers[0].size, 32654);
        assert_eq!(m.children().len(), 2);
    }

    #[test]
    fn tells_kinds_apart_without_media_type() {
        let index = r#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            Manifest::parse(index.as_bytes(), None),
            Ok(Manifest::Index(_))
        ));
        let schema1 = r#"{"schemaVersion":1,"fsLayers":[]}"#;
        let err = Manifest::parse(schema1.as_bytes(), None).unwrap_err();
        assert!(err.to_string().contains("schema 1"), "{err}");
        let config = r#"{"architecture":"amd64"}"#;
        assert!(Manifest::parse(config.as_bytes(), None).is_err());
        assert!(Manifest::parse(b"nope", None).is_err());
        let v3 = r#"{"schemaVersion":3,"manifests":[]}"#;
        assert!(Manifest::parse(v3.as_bytes(), None).is_err());
    }

    #[test]
    fn keeps_subject_artifact_type_and_unknown_fields() {
        let sub = Digest::sha256(b"subject");
        let json = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","artifactType":"application/x.sig","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{}","size":2}},"layers":[],"subject":{{"mediaType":"{}","digest":"{}","size":10}},"x-extra":{{"k":1}}}}"#,
            media_type::OCI_MANIFEST,
            Digest::sha256(b"{}"),
            media_type::OCI_MANIFEST,
            sub
        );
        let Manifest::Image(m) = Manifest::parse(json.as_bytes(), None).unwrap() else {
            panic!()
        };
        assert_eq!(m.subject.as_ref().unwrap().digest, sub);
        assert_eq!(m.artifact_type.as_deref(), Some("application/x.sig"));
        let back = String::from_utf8(m.to_bytes()).unwrap();
        assert!(back.contains(r#""x-extra":{"k":1}"#), "{back}");
    }
}
