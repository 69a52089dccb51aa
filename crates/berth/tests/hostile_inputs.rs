//! `berth build` against Dockerfiles and contexts written to break it: deep directory trees,
//! configs too large for any tool to read back, and file names that are not UTF-8. Each is
//! built, or refused with an error naming the cause; never a crash or a silent drop.
//!
//! Needs root (namespaces, overlay mounts), as CI runs it.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use test_support::Berth;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn berth(&self) -> Berth {
        Berth::new(env!("CARGO_BIN_EXE_berth"), &self.path("store"))
    }

    /// A context directory holding only this Dockerfile.
    fn dockerfile(&self, name: &str, text: &str) -> PathBuf {
        let dir = self.path(name);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("Dockerfile"), text).unwrap();
        dir
    }
}

/// 40,000 labels make a config above the 4 MiB every tool reads configs under: the build
/// refuses to write it, naming the labels, instead of storing an image that `inspect`,
/// `history` and `save` then refuse.
#[test]
fn a_config_larger_than_any_tool_reads_is_refused_when_written() {
    let env = Env::new();
    let b = env.berth();
    let mut text = String::from("FROM scratch\nLABEL");
    for i in 0..40_000 {
        write!(text, " \\\n  label.{i:05}={}", "v".repeat(100)).unwrap();
    }
    text.push('\n');
    let context = env.dockerfile("labels", &text);
    let err = b.fails(&["build", "-t", "labels", context.to_str().unwrap()]);
    assert!(err.contains("above the 4 MiB limit"), "{err}");
    assert!(err.contains("40000 LABELs take "), "{err}");
    assert_eq!(b.ok(&["images", "-q"]).trim(), "", "nothing is tagged");

    // Under the limit (the LABEL line is in the history too: twice the labels) is written,
    // and reads back.
    let mut text = String::from("FROM scratch\nLABEL");
    for i in 0..15_000 {
        write!(text, " \\\n  label.{i:05}={}", "v".repeat(100)).unwrap();
    }
    text.push('\n');
    let context = env.dockerfile("fewer", &text);
    b.ok(&["build", "-t", "fewer", context.to_str().unwrap()]);
    b.ok(&["inspect", "fewer"]);
    b.ok(&["history", "fewer"]);
    b.ok(&[
        "save",
        "-o",
        env.path("fewer.tar").to_str().unwrap(),
        "fewer",
    ]);
}

/// An OCI layout whose one image has a 5 MiB config: `load` (the same copy as `pull`) refuses it
/// by the same limit, so the store never holds an image it could not read back.
#[test]
fn a_config_past_the_limit_is_refused_when_loaded() {
    use sha2::{Digest as _, Sha256};
    let env = Env::new();
    let b = env.berth();
    let dir = env.path("layout");
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let hex = format!("{:x}", Sha256::digest(bytes));
        fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
        "config": {"Labels": {"big": "x".repeat(5 << 20)}},
    });
    let (cd, cn) = put(config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
        "layers": [],
    });
    let (md, mn) = put(manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
            "annotations": {"io.containerd.image.name": "docker.io/library/big:latest"},
        }],
    });
    fs::write(dir.join("index.json"), index.to_string()).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let err = b.fails(&["load", "-q", "-i", dir.to_str().unwrap()]);
    assert!(err.contains(&format!("the config {cd}")), "{err}");
    assert!(err.contains("above the 4 MiB limit"), "{err}");
    b.assert_nothing_kept();
}
