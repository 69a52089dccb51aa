//! Pull enforcement: a manifest GET of a repository a signature policy covers is refused
//! (403 `DENIED`, with the reason) unless the policy passes for that manifest's digest, judged
//! on the artifacts stored in this registry. The policy and its checks are the embedding
//! program's (berth's `policy` module) behind [`PullGate`]; this module decides what is gated
//! and keeps the verdicts.
//!
//! Signatures and attestations themselves stay pullable (a verifier has to read them), and so
//! do manifest HEADs (a digest, a type and a size: what a signer resolves a tag to), blobs,
//! the referrers API and pushes: a signature must be pushable for an image not yet pullable.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use berth_oci::Digest;
use berth_store::Store;

/// The policy a registry enforces on pulls.
pub trait PullGate: Send + Sync {
    /// Whether pulls from `repo` are judged at all.
    fn covers(&self, repo: &str) -> bool;
    /// The verdict on manifest `digest` of `repo`, from what `store` holds: `Err` says why the
    /// pull is refused. Called off the async workers; may read the store freely.
    fn judge(&self, store: &Store, repo: &str, digest: &Digest) -> Result<(), String>;
}

type Verdict = Result<(), String>;

/// A gate with its verdicts remembered per repository and manifest digest, until a manifest
/// is pushed to the repository (a signature, an attestation, a referrer or a tag may change
/// them).
pub struct Gate {
    judge: Arc<dyn PullGate>,
    verdicts: Mutex<HashMap<String, HashMap<Digest, Verdict>>>,
}

impl Gate {
    pub fn new(judge: Arc<dyn PullGate>) -> Gate {
        Gate {
            judge,
            verdicts: Mutex::default(),
        }
    }

    pub fn covers(&self, repo: &str) -> bool {
        self.judge.covers(repo)
    }

    /// The policy, to judge with off the async workers.
    pub fn judge(&self) -> Arc<dyn PullGate> {
        self.judge.clone()
    }

    pub fn cached(&self, repo: &str, digest: &Digest) -> Option<Verdict> {
        let verdicts = self.verdicts.lock().unwrap_or_else(|e| e.into_inner());
        verdicts.get(repo)?.get(digest).cloned()
    }

    pub fn remember(&self, repo: &str, digest: &Digest, verdict: Verdict) {
        let mut verdicts = self.verdicts.lock().unwrap_or_else(|e| e.into_inner());
        verdicts
            .entry(repo.to_string())
            .or_default()
            .insert(digest.clone(), verdict);
    }

    /// A manifest was pushed to `repo`: its verdicts are judged again.
    pub fn forget(&self, repo: &str) {
        let mut verdicts = self.verdicts.lock().unwrap_or_else(|e| e.into_inner());
        verdicts.remove(repo);
    }
}

/// Media types of the layers of signatures and attestations (cosign's legacy formats and
/// sigstore bundles): a manifest whose layers are all such is an artifact, not a runnable
/// image, and stays pullable. A `subject` field is not enough: an image can carry one.
const ARTIFACT_LAYER_PREFIXES: [&str; 3] = [
    "application/vnd.dev.cosign.simplesigning",
    "application/vnd.dsse.envelope",
    "application/vnd.dev.sigstore.bundle",
];

/// Whether the manifest `bytes` is a signature or attestation artifact.
pub fn is_signature_artifact(bytes: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return false;
    };
    let Some(layers) = value.get("layers").and_then(|l| l.as_array()) else {
        return false;
    };
    !layers.is_empty()
        && layers.iter().all(|layer| {
            layer
                .get("mediaType")
                .and_then(|t| t.as_str())
                .is_some_and(|t| ARTIFACT_LAYER_PREFIXES.iter().any(|p| t.starts_with(p)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_manifests_of_signature_layers_are_artifacts() {
        let with = |layers: &str| format!(r#"{{"schemaVersion":2,"layers":{layers}}}"#);
        let sig = with(r#"[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json"}]"#);
        assert!(is_signature_artifact(sig.as_bytes()));
        let bundle = with(r#"[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}]"#);
        assert!(is_signature_artifact(bundle.as_bytes()));
        let image = with(
            r#"[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip"}]"#,
        );
        assert!(!is_signature_artifact(image.as_bytes()));
        assert!(!is_signature_artifact(with("[]").as_bytes()));
        assert!(!is_signature_artifact(br#"{"manifests":[]}"#));
    }
}
