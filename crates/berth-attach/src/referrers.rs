//! OCI 1.1 referrers: artifacts whose manifest names the image as its `subject`.
//!
//! A registry with the referrers API (`GET /v2/<name>/referrers/<digest>`) lists them itself.
//! One without it answers 404 there; then the writers keep an index of them under the tag
//! `<alg>-<hex>` of the subject's digest (the distribution specification's referrers tag
//! schema), which readers read instead.

use std::collections::{BTreeMap, HashSet};

use berth_oci::manifest::{ImageIndex, ImageManifest, Manifest};
use berth_oci::{Descriptor, Digest, media_type};
use berth_remote::Kind;
use berth_remote::ops::{ListPages, Listed, list_pages};
use bytes::Bytes;

use crate::{AttachError, MAX_REFERRERS, Place};

/// Where a list of referrers came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// The registry's referrers API.
    Api,
    /// The index under the subject's fallback tag (the registry has no referrers API).
    TagSchema,
}

/// One layer of an artifact to attach.
pub struct Layer {
    pub media_type: String,
    pub bytes: Bytes,
    pub annotations: BTreeMap<String, String>,
}

/// An artifact to attach to an image as a referrer.
pub struct Artifact {
    pub artifact_type: String,
    pub layers: Vec<Layer>,
    pub annotations: BTreeMap<String, String>,
}

/// An artifact as OCI content: its blobs (the empty config, the layers) and its manifest.
pub struct Packed {
    pub blobs: Vec<(Descriptor, Bytes)>,
    /// The manifest's descriptor as a referrers listing gives it: with the artifact type and
    /// the manifest's annotations.
    pub manifest: Descriptor,
    pub bytes: Bytes,
}

impl Artifact {
    /// The artifact's manifest with `subject` as its subject, and the blobs it names: what a
    /// registry or an OCI layout stores.
    pub fn pack(self, subject: &Descriptor) -> Packed {
        let empty = Bytes::from_static(b"{}");
        let mut config = Descriptor::of_bytes(media_type::OCI_EMPTY, &empty);
        let mut blobs = vec![(config.clone(), empty)];
        // cosign names the artifact type on the empty config too.
        config.artifact_type = Some(self.artifact_type.clone());
        let mut layers = Vec::with_capacity(self.layers.len());
        for layer in self.layers {
            let mut desc = Descriptor::of_bytes(&layer.media_type, &layer.bytes);
            blobs.push((desc.clone(), layer.bytes));
            desc.annotations = (!layer.annotations.is_empty()).then_some(layer.annotations);
            layers.push(desc);
        }
        let mut manifest = ImageManifest::new(config, layers);
        manifest.artifact_type = Some(self.artifact_type.clone());
        manifest.subject = Some(Descriptor::new(
            &subject.media_type,
            subject.digest.clone(),
            subject.size,
        ));
        let annotations = (!self.annotations.is_empty()).then_some(self.annotations);
        manifest.annotations = annotations.clone();
        let bytes = Bytes::from(manifest.to_bytes());
        let mut desc = Descriptor::of_bytes(media_type::OCI_MANIFEST, &bytes);
        desc.artifact_type = Some(self.artifact_type);
        desc.annotations = annotations;
        Packed {
            blobs,
            manifest: desc,
            bytes,
        }
    }
}

/// The tag the referrers tag schema lists `subject`'s referrers under: `sha256-<hex>`.
pub fn fallback_tag(subject: &Digest) -> String {
    format!("{}-{}", subject.algorithm().name(), subject.hex())
}

impl Place {
    /// The referrers of `subject`: the registry's list, or the tag schema's index where the
    /// registry has no referrers API (none there: no referrers).
    pub async fn referrers(
        &self,
        subject: &Digest,
    ) -> Result<(Vec<Descriptor>, Listing), AttachError> {
        if let Some(list) = self.referrers_api(subject).await? {
            return Ok((list, Listing::Api));
        }
        let list = self
            .fallback_index(subject)
            .await?
            .map(|index| index.manifests)
            .unwrap_or_default();
        Ok((unique(list, subject)?, Listing::TagSchema))
    }

    /// The referrers API's list, page by page; `None` when the registry has no such API.
    async fn referrers_api(
        &self,
        subject: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, AttachError> {
        let repo = self.repo();
        let what = format!("listing the referrers of {subject}");
        let listing = ListPages {
            repo,
            first: format!("/v2/{repo}/referrers/{subject}"),
            accept: Some(media_type::OCI_INDEX),
            what: &what,
            absent_if_not_found: true,
        };
        let mut all = Vec::new();
        let listed = list_pages(&self.registry, listing, |body| {
            let page: ImageIndex = serde_json::from_slice(body).map_err(|e| {
                self.registry.error(
                    Some(repo),
                    Kind::Other,
                    format!("the referrers of {subject} are not an image index: {e}"),
                )
            })?;
            let count = page.manifests.len();
            all.extend(page.manifests);
            if all.len() > MAX_REFERRERS {
                return Err(self.registry.error(
                    Some(repo),
                    Kind::Other,
                    too_many(subject).to_string(),
                ));
            }
            Ok(count)
        })
        .await?;
        match listed {
            Listed::Absent => Ok(None),
            Listed::Read => Ok(Some(unique(all, subject)?)),
        }
    }

    /// The index under the subject's fallback tag, if there is one.
    async fn fallback_index(&self, subject: &Digest) -> Result<Option<ImageIndex>, AttachError> {
        let tag = fallback_tag(subject);
        let Some(fetched) = self.manifest(&tag).await? else {
            return Ok(None);
        };
        match Manifest::parse(&fetched.bytes, Some(&fetched.descriptor.media_type)) {
            Ok(Manifest::Index(index)) => Ok(Some(index)),
            _ => Err(AttachError::Malformed(format!(
                "the tag {tag} of {} is not the image index of {subject}'s referrers",
                self.repository().familiar()
            ))),
        }
    }

    /// Pushes `artifact` with `subject` as its subject, and lists it in the fallback index
    /// when the registry has no referrers API. Returns the artifact manifest's descriptor.
    pub async fn attach(
        &self,
        subject: &Descriptor,
        artifact: Artifact,
    ) -> Result<Descriptor, AttachError> {
        let packed = artifact.pack(subject);
        for (desc, bytes) in packed.blobs {
            self.put_blob(&desc.media_type, bytes).await?;
        }
        let digest = packed.manifest.digest.to_string();
        self.put_manifest(&digest, media_type::OCI_MANIFEST, packed.bytes.to_vec())
            .await?;
        if self.referrers_api(&subject.digest).await?.is_none() {
            self.list_in_fallback(&subject.digest, &packed.manifest)
                .await?;
        }
        Ok(packed.manifest)
    }

    /// Adds `referrer` to the fallback index of `subject`, keeping what it lists already.
    async fn list_in_fallback(
        &self,
        subject: &Digest,
        referrer: &Descriptor,
    ) -> Result<(), AttachError> {
        let mut index = self
            .fallback_index(subject)
            .await?
            .unwrap_or_else(|| ImageIndex::new(Vec::new()));
        if index.manifests.iter().any(|d| d.digest == referrer.digest) {
            return Ok(());
        }
        if index.manifests.len() >= MAX_REFERRERS {
            return Err(too_many(subject));
        }
        index.manifests.push(referrer.clone());
        self.put_manifest(
            &fallback_tag(subject),
            media_type::OCI_INDEX,
            index.to_bytes(),
        )
        .await?;
        Ok(())
    }
}

/// The list without repeats (a registry may list one twice), bounded.
fn unique(list: Vec<Descriptor>, subject: &Digest) -> Result<Vec<Descriptor>, AttachError> {
    if list.len() > MAX_REFERRERS {
        return Err(too_many(subject));
    }
    let mut seen = HashSet::new();
    Ok(list
        .into_iter()
        .filter(|d| seen.insert(d.digest.clone()))
        .collect())
}

fn too_many(subject: &Digest) -> AttachError {
    AttachError::Malformed(format!(
        "{subject} has more than {MAX_REFERRERS} referrers, the most berth lists; \
         delete old signatures and attestations"
    ))
}
