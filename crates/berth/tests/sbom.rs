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

/// A CycloneDX component without the layer an image's package came from (a directory has
/// none).
fn without_layer(component: &Value) -> Value {
    let mut component = component.clone();
    if let Some(properties) = component["properties"].as_array_mut() {
        properties.retain(|p| p["name"] != "berth:location:layerID");
    }
    component
}

/// Runs `berth sbom ARGS` with SOURCE_DATE_EPOCH set; returns standard output.
fn sbom(b: &Berth, args: &[&str]) -> String {
    sbom_env(b, args, &[])
}

/// As [`sbom`], with more environment variables.
fn sbom_env(b: &Berth, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = b
        .command()
        .arg("sbom")
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1704067200")
        .envs(env.iter().copied())
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
    // The image's licences, CPEs and dependencies between packages are the directory's
    // (the copyright files read from the layer, through its doc-directory symlinks).
    let components = |doc: &Value| -> Vec<Value> {
        let all = doc["components"].as_array().unwrap();
        all.iter().map(without_layer).collect()
    };
    assert_eq!(components(&from_dir), components(&from_image));
    let with = |key: &str| {
        let all = components(&from_image);
        all.iter().filter(|c| c.get(key).is_some()).count()
    };
    // libcrypt1's copyright file names no licence Syft's rules find either.
    assert_eq!(
        (with("licenses"), with("cpe")),
        (87, 88),
        "{}",
        from_image["components"]
    );
    let between = |doc: &Value| doc["dependencies"].as_array().unwrap()[1..].to_vec();
    assert_eq!(between(&from_dir), between(&from_image));
    assert!(
        between(&from_image)
            .iter()
            .filter(|d| d.get("dependsOn").is_some())
            .count()
            > 50,
        "{}",
        from_image["dependencies"]
    );
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

    // The read kept the layer's scan; the next reads take it from there, and the same bytes
    // come out with it, without it, and from a damaged entry (read again, rewritten).
    let cache = dir.path().join("root/cache/layers");
    let entries = || -> Vec<std::path::PathBuf> {
        fs::read_dir(&cache)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    };
    let [entry] = entries().try_into().expect("one entry for the one layer");
    let kept = fs::read(&entry).unwrap();
    assert!(sbom(&b, &["minbase:1", "--no-cache"]) == image_doc);
    fs::write(&entry, &kept[..kept.len() - 1]).unwrap();
    assert!(sbom(&b, &["minbase:1"]) == image_doc);
    assert!(
        fs::read(&entry).unwrap() == kept,
        "the damaged entry is rewritten"
    );
    fs::remove_dir_all(&cache).unwrap();
    assert!(sbom_env(&b, &["minbase:1"], &[("BERTH_NO_CACHE", "1")]) == image_doc);
    assert!(entries().is_empty(), "BERTH_NO_CACHE keeps nothing");

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

#[test]
fn language_packages_and_what_was_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let b = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("root"));
    let tree = dir.path().join("tree");
    let files = [
        (
            "usr/lib/python3/site-packages/Foo_Bar-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.0\nLicense: MIT\n",
        ),
        (
            "srv/node_modules/@scope/pkg/package.json",
            r#"{"name":"@scope/pkg","version":"2.0.0","license":"ISC"}"#,
        ),
        ("srv/node_modules/broken/package.json", "{\"name\": "),
    ];
    for (path, text) in files {
        let path = tree.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    let tree = tree.display().to_string();
    b.ok(&["import", "-q", &tree, "langs:1"]);

    for target in [format!("dir:{tree}"), "langs:1".to_string()] {
        let out = b
            .command()
            .args(["sbom", &target])
            .env("SOURCE_DATE_EPOCH", "1704067200")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{target}: {err}");
        let doc = json(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(
            purls(&doc),
            BTreeSet::from([
                "pkg:npm/%40scope/pkg@2.0.0".to_string(),
                "pkg:pypi/foo-bar@1.0".to_string()
            ]),
            "{target}"
        );
        // The image's warning also names the layer the file came from.
        assert!(
            err.starts_with("berth: warning: /srv/node_modules/broken/package.json:1")
                && err.contains("not JSON: EOF while parsing"),
            "{target}: {err}"
        );
        assert!(err.trim_end().ends_with("; left out"), "{target}: {err}");
    }
}
