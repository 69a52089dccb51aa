//! `berth sbom` end to end: the Debian minbase tree as a directory and imported as an image
//! give the same packages; the image is the root by name and manifest digest; output is the
//! same bytes under SOURCE_DATE_EPOCH; bad input fails naming the thing.

use std::collections::BTreeSet;
use std::fs;

use serde_json::Value;
use test_support::{Berth, json};

fn purls(doc: &Value) -> BTreeSet<String> {
    doc["components"]
        .as_array()
        .expect("a CycloneDX document lists components")
        .iter()
        .map(|c| {
            c["purl"]
                .as_str()
                .expect("each package has a purl")
                .to_string()
        })
        .collect()
}

/// Runs `berth sbom ARGS` with SOURCE_DATE_EPOCH set; returns standard output.
fn sbom(b: &Berth, args: &[&str]) -> String {
    let out = b
        .command()
        .arg("sbom")
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1704067200")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "berth sbom {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn directory_and_image() {
    let dir = tempfile::tempdir().unwrap();
    let b = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("root"));
    let rootfs = test_support::debian_rootfs().display().to_string();
    b.ok(&["import", "-q", &rootfs, "minbase:1"]);

    let from_dir = json(&sbom(&b, &[&format!("dir:{rootfs}")]));
    let image_doc = sbom(&b, &["minbase:1"]);
    let from_image = json(&image_doc);
    assert!(purls(&from_dir).len() > 80, "{}", from_dir["components"]);
    assert_eq!(purls(&from_dir), purls(&from_image));
    let root = &from_image["metadata"]["component"];
    assert_eq!(root["type"], "container");
    assert_eq!(root["name"], "minbase:1");
    assert!(
        root["version"].as_str().unwrap().starts_with("sha256:"),
        "{root}"
    );
    assert_eq!(from_image["metadata"]["timestamp"], "2024-01-01T00:00:00Z");
    // Every package carries the layer that added it: the import's only one.
    let layer = &from_image["components"][0]["properties"];
    assert!(
        layer.to_string().contains("berth:location:layerID"),
        "{layer}"
    );

    // -o writes the same bytes as standard output; SPDX describes the same packages.
    let out = dir.path().join("minbase.cdx.json");
    sbom(&b, &["minbase:1", "-o", out.to_str().unwrap()]);
    assert_eq!(fs::read_to_string(&out).unwrap(), image_doc);
    let spdx = json(&sbom(&b, &["minbase:1", "--format", "spdx-json"]));
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    let packages = spdx["packages"].as_array().unwrap();
    assert_eq!(
        packages.len(),
        purls(&from_image).len() + 1,
        "the image and its packages"
    );
}

#[test]
fn bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let b = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("root"));
    let err = b.fails(&["sbom", "nosuch:1"]);
    assert!(err.contains("nosuch:1"), "{err}");
    let missing = dir.path().join("missing");
    let err = b.fails(&["sbom", &format!("dir:{}", missing.display())]);
    assert!(err.contains(&missing.display().to_string()), "{err}");
    let out = b
        .command()
        .args(["sbom", &format!("dir:{}", dir.path().display())])
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("SOURCE_DATE_EPOCH=\"yesterday\""),
        "{err}"
    );
}
