//! The policy a registry enforces on pulls (`pull_policy` in `berth registry serve`'s
//! configuration): the signature and attestation rules of a `berth policy` file, judged on the
//! signatures stored in the registry itself (bundle referrers and cosign's legacy tags). The
//! scan and base-image rules need the image's contents or other registries and are left to
//! `berth policy check`.

use std::path::Path;

use berth_attach::LegacyKind;
use berth_oci::Digest;
use berth_oci::manifest::{ImageManifest, MAX_MANIFEST_SIZE, Manifest};
use berth_registry::gate::PullGate;
use berth_sign::image::{DSSE_MEDIA_TYPE, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE};
use berth_store::{Store, StoreError};

use super::super::verify::{Findings, Found, LegacyKeyless, check_attestation, check_signature};
use super::{Glob, Policy, judge_signers};

/// A policy file's signature rules, enforced by a registry serving at `addr`.
pub struct SignaturePolicy {
    policy: Policy,
    /// How clients name this registry: patterns may be written with it (`ADDR/team/*`).
    addr: String,
}

impl SignaturePolicy {
    pub fn read(path: &Path, addr: String) -> anyhow::Result<SignaturePolicy> {
        Ok(SignaturePolicy {
            policy: Policy::read(path)?,
            addr,
        })
    }

    fn matches(&self, globs: &[Glob], repo: &str) -> bool {
        let named = format!("{}/{repo}", self.addr);
        globs.iter().any(|g| g.matches(repo) || g.matches(&named))
    }
}

impl PullGate for SignaturePolicy {
    fn covers(&self, repo: &str) -> bool {
        let file = &self.policy.file;
        file.signatures
            .iter()
            .any(|r| self.matches(&r.repositories, repo))
            || file
                .attestations
                .iter()
                .any(|r| self.matches(&r.repositories, repo))
    }

    fn judge(&self, store: &Store, repo: &str, digest: &Digest) -> Result<(), String> {
        let file = &self.policy.file;
        let failed = |e: StoreError| format!("reading the stored signatures failed: {e}");
        let signatures =
            stored_claims(store, repo, digest, LegacyKind::Signatures).map_err(failed)?;
        for rule in file
            .signatures
            .iter()
            .filter(|r| self.matches(&r.repositories, repo))
        {
            let (pass, reason) =
                judge_signers(&rule.signers, &signatures, digest, "signature", |v, f| {
                    check_signature(v, &Default::default(), f, digest).map(drop)
                });
            if !pass {
                return Err(reason);
            }
        }
        let attestations =
            stored_claims(store, repo, digest, LegacyKind::Attestations).map_err(failed)?;
        for rule in file
            .attestations
            .iter()
            .filter(|r| self.matches(&r.repositories, repo))
        {
            let uri = super::super::sign::predicate_uri(&rule.predicate_type)
                .map_err(|e| format!("{e:#}"))?;
            let what = format!("attestation of type {uri}");
            let (pass, reason) =
                judge_signers(&rule.signers, &attestations, digest, &what, |v, f| {
                    check_attestation(v, uri, f, digest).map(drop)
                });
            if !pass {
                return Err(reason);
            }
        }
        Ok(())
    }
}

/// The signature (or attestation) claims stored for `digest` in `repo`: the sigstore bundles of
/// its referrers and the layers of its legacy tag. What cannot be read is a refusal reason.
fn stored_claims(
    store: &Store,
    repo: &str,
    digest: &Digest,
    kind: LegacyKind,
) -> Result<Findings, StoreError> {
    let mut findings = Findings::default();
    let referrers =
        store
            .meta()
            .referrers(repo, digest, None, None, berth_attach::MAX_REFERRERS)?;
    for referrer in referrers {
        let is_bundle = referrer
            .artifact_type
            .as_deref()
            .is_some_and(|t| t.starts_with(super::super::verify::BUNDLE_PREFIX));
        if !is_bundle {
            continue;
        }
        let origin = format!("referrer {}", referrer.digest);
        let Some(manifest) = image_manifest(store, &referrer.digest)? else {
            findings
                .refused
                .push(format!("{origin}: not an image manifest"));
            continue;
        };
        for layer in &manifest.layers {
            match read_layer(store, &layer.digest, layer.size)? {
                Some(bytes) => findings.found.push(Found::bundle(origin.clone(), bytes)),
                None => findings
                    .refused
                    .push(format!("{origin}: its layer {} is too large", layer.digest)),
            }
        }
    }
    let tag = kind.tag(digest);
    let Some(legacy) = store.meta().repo_manifest_by_tag(repo, &tag)? else {
        return Ok(findings);
    };
    let Some(manifest) = image_manifest(store, &legacy.digest)? else {
        findings
            .refused
            .push(format!("the tag {tag}: not an image manifest"));
        return Ok(findings);
    };
    let expected = match kind {
        LegacyKind::Attestations => DSSE_MEDIA_TYPE,
        _ => SIMPLE_SIGNING_MEDIA_TYPE,
    };
    for (i, layer) in manifest.layers.iter().enumerate() {
        let origin = format!("layer {i} of the tag {tag}");
        if layer.media_type != expected {
            findings.refused.push(format!(
                "{origin}: media type {:?}, not {expected:?}",
                layer.media_type
            ));
            continue;
        }
        let Some(bytes) = read_layer(store, &layer.digest, layer.size)? else {
            findings.refused.push(format!("{origin}: too large"));
            continue;
        };
        let found = match (kind, layer.annotation(SIGNATURE_ANNOTATION)) {
            (LegacyKind::Attestations, _) => Found::legacy_attestation(origin, bytes),
            (_, Some(signature)) => Found::legacy_signature(
                origin,
                bytes,
                signature.to_string(),
                LegacyKeyless::of(layer),
            ),
            (_, None) => {
                findings
                    .refused
                    .push(format!("{origin}: no {SIGNATURE_ANNOTATION} annotation"));
                continue;
            }
        };
        findings.found.push(found);
    }
    Ok(findings)
}

fn image_manifest(store: &Store, digest: &Digest) -> Result<Option<ImageManifest>, StoreError> {
    let bytes = store.blobs().read(digest, MAX_MANIFEST_SIZE as u64)?;
    Ok(match Manifest::parse(&bytes, None) {
        Ok(Manifest::Image(m)) => Some(m),
        _ => None,
    })
}

/// A signature layer, unless it is past the bound `berth verify` reads.
fn read_layer(
    store: &Store,
    digest: &Digest,
    size: u64,
) -> Result<Option<bytes::Bytes>, StoreError> {
    if size > berth_attach::MAX_ARTIFACT_LAYER {
        return Ok(None);
    }
    let bytes = store
        .blobs()
        .read(digest, berth_attach::MAX_ARTIFACT_LAYER)?;
    Ok(Some(bytes.into()))
}
