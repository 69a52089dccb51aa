//! cosign's tags beside an image: `sha256-<hex>.sig` (signatures), `.att` (attestations) and
//! `.sbom`, each an image whose layers are the artifacts. Attaching another one appends a
//! layer, so what others attached stays.

use berth_oci::manifest::{ImageManifest, Manifest};
use berth_oci::{Digest, media_type};
use bytes::Bytes;

use crate::referrers::{Layer, fallback_tag};
use crate::{AttachError, MAX_REFERRERS, Place};

/// Which of cosign's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LegacyKind {
    Signatures,
    Attestations,
    Sboms,
}

impl LegacyKind {
    pub const ALL: [LegacyKind; 3] = [
        LegacyKind::Signatures,
        LegacyKind::Attestations,
        LegacyKind::Sboms,
    ];

    fn suffix(self) -> &'static str {
        match self {
            LegacyKind::Signatures => "sig",
            LegacyKind::Attestations => "att",
            LegacyKind::Sboms => "sbom",
        }
    }

    /// The tag: `sha256-<hex>.sig`, `.att` or `.sbom`.
    pub fn tag(self, subject: &Digest) -> String {
        format!("{}.{}", fallback_tag(subject), self.suffix())
    }
}

impl Place {
    /// The image under `kind`'s tag for `subject`, if there is one.
    pub async fn legacy(
        &self,
        subject: &Digest,
        kind: LegacyKind,
    ) -> Result<Option<ImageManifest>, AttachError> {
        let tag = kind.tag(subject);
        let Some(fetched) = self.manifest(&tag).await? else {
            return Ok(None);
        };
        match Manifest::parse(&fetched.bytes, Some(&fetched.descriptor.media_type)) {
            Ok(Manifest::Image(image)) if image.layers.len() <= MAX_REFERRERS => Ok(Some(image)),
            Ok(Manifest::Image(image)) => Err(AttachError::Malformed(format!(
                "the tag {tag} of {} has {} layers, more than the {MAX_REFERRERS} berth reads",
                self.repository().familiar(),
                image.layers.len()
            ))),
            _ => Err(AttachError::Malformed(format!(
                "the tag {tag} of {} is not an image manifest",
                self.repository().familiar()
            ))),
        }
    }

    /// Appends `layer` to the image under `kind`'s tag (made if absent). A layer with the
    /// same bytes and annotations already there is not added again: returns whether it was.
    pub async fn append_legacy(
        &self,
        subject: &Digest,
        kind: LegacyKind,
        layer: Layer,
    ) -> Result<bool, AttachError> {
        let mut layers = self
            .legacy(subject, kind)
            .await?
            .map(|image| image.layers)
            .unwrap_or_default();
        let annotations = (!layer.annotations.is_empty()).then_some(layer.annotations);
        let digest = Digest::sha256(&layer.bytes);
        if layers
            .iter()
            .any(|l| l.digest == digest && l.annotations == annotations)
        {
            return Ok(false);
        }
        let mut desc = self.put_blob(&layer.media_type, layer.bytes).await?;
        desc.annotations = annotations;
        layers.push(desc);
        let config = self
            .put_blob(media_type::OCI_CONFIG, Bytes::from(image_config(&layers)))
            .await?;
        let manifest = ImageManifest::new(config, layers);
        self.put_manifest(
            &kind.tag(subject),
            media_type::OCI_MANIFEST,
            manifest.to_bytes(),
        )
        .await?;
        Ok(true)
    }
}

/// The config of an artifact image: empty but for the layers' digests, which a config must
/// list for the image to be one (cosign writes the same shape).
fn image_config(layers: &[berth_oci::Descriptor]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.to_string()).collect();
    let config = serde_json::json!({
        "architecture": "",
        "config": {},
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    serde_json::to_vec(&config).expect("JSON values serialise")
}
