//! Cache keys, BuildKit's rule: a step's key is a hash of its parent's key, the step's
//! resolved definition and the platform. Content enters through checksums (files a `COPY`
//! reads, the chain of layers a stage produced), never through times.

use berth_oci::Platform;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The key of a stage's starting point.
pub fn base(kind: &str, identity: &str, platform: &Platform) -> String {
    hash(&["base", kind, identity, &platform.to_string()])
}

/// The key of a step: `definition` is its resolved form (command, env, user, mounts, sources'
/// checksums…), serialised canonically by serde_json (object keys in insertion order, which
/// the callers fix).
pub fn step(parent: &str, definition: &Value, platform: &Platform) -> String {
    hash(&[
        "step",
        parent,
        &definition.to_string(),
        &platform.to_string(),
    ])
}

/// What a chain of layers holds, content-addressed: equal diff IDs in equal order mean equal
/// files, so `COPY --from` a stage that rebuilt to the same layers still hits the cache.
pub fn chain(diff_ids: impl IntoIterator<Item = String>) -> String {
    let ids: Vec<String> = diff_ids.into_iter().collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    hash(&refs)
}

fn hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        // Length-prefixed, so ("ab","c") and ("a","bc") differ.
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_depend_on_parent_definition_and_platform() {
        let amd = Platform::new("linux", "amd64", None);
        let arm = Platform::new("linux", "arm64", None);
        let k = step("p", &json!({"run": "make"}), &amd);
        assert_eq!(k, step("p", &json!({"run": "make"}), &amd));
        assert_ne!(k, step("q", &json!({"run": "make"}), &amd));
        assert_ne!(k, step("p", &json!({"run": "make all"}), &amd));
        assert_ne!(k, step("p", &json!({"run": "make"}), &arm));
        assert_ne!(
            chain(["ab".into(), "c".into()]),
            chain(["a".into(), "bc".into()])
        );
    }
}
