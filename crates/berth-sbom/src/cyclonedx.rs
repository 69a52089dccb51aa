//! CycloneDX 1.6 JSON: the subject is `metadata.component`, each package a `library`
//! component whose `bom-ref` is its purl, and the subject's `dependencies` entry lists them
//! all; each package's own entry lists the packages it needs.

use berth_catalog::Dependency;
use serde_json::{Value, json};

use crate::licence::{Licence, classify, conjunction};
use crate::{Entry, Subject, content_digest, uuid_from};

/// The subject's `bom-ref`: the manifest digest for an image, the path for a directory.
fn root_ref(subject: &Subject) -> String {
    match subject {
        Subject::Image { digest, .. } => format!("image:{digest}"),
        Subject::Directory { path } => format!("dir:{path}"),
    }
}

fn root(subject: &Subject) -> Value {
    match subject {
        Subject::Image { name, digest } => json!({
            "bom-ref": root_ref(subject),
            "type": "container",
            "name": name,
            "version": digest.to_string(),
        }),
        Subject::Directory { path } => json!({
            "bom-ref": root_ref(subject),
            "type": "file",
            "name": path,
        }),
    }
}

fn component(entry: &Entry) -> Value {
    let p = entry.package;
    let mut c = json!({
        "bom-ref": entry.key,
        "type": "library",
        "name": p.name,
        "version": p.version,
    });
    let licences = licences(&p.licenses);
    if !licences.is_empty() {
        c["licenses"] = Value::Array(licences);
    }
    if let Some(cpe) = berth_catalog::cpe::of_package(p) {
        c["cpe"] = json!(cpe);
    }
    if let Some(purl) = &p.purl {
        c["purl"] = json!(purl);
    }
    let mut properties =
        vec![json!({"name": "berth:package:type", "value": p.package_type.as_str()})];
    if !p.arch.is_empty() {
        properties.push(json!({"name": "berth:package:arch", "value": p.arch}));
    }
    if let Some(source) = &p.source {
        properties.push(json!({"name": "berth:package:source", "value": source.name}));
        properties.push(json!({"name": "berth:package:sourceVersion", "value": source.version}));
    }
    for (i, path) in p.evidence.iter().enumerate() {
        properties.push(json!({"name": format!("berth:location:{i}:path"), "value": path}));
    }
    if let Some(layer) = &p.layer {
        properties
            .push(json!({"name": "berth:location:layerID", "value": layer.diff_id.to_string()}));
    }
    c["properties"] = Value::Array(properties);
    c
}

/// One SPDX expression when every declared licence is one; else each licence by name (the
/// schema allows either a single expression or licences, not both).
fn licences(declared: &[String]) -> Vec<Value> {
    let classified = classify(declared);
    if classified.iter().all(|l| matches!(l, Licence::Spdx(_))) && !declared.is_empty() {
        return vec![json!({"expression": conjunction(declared)})];
    }
    declared
        .iter()
        .map(|name| json!({"license": {"name": name}}))
        .collect()
}

pub(crate) fn document(
    subject: &Subject,
    packages: &[Entry],
    needs: &[Dependency],
    created: &str,
) -> Value {
    let components: Vec<Value> = packages.iter().map(component).collect();
    let root = root(subject);
    let serial = uuid_from(&content_digest(&json!([&root, &components])));
    let mut dependencies = vec![json!({
        "ref": root_ref(subject),
        "dependsOn": packages.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
    })];
    // Every component appears in `dependencies`, as CycloneDX asks, even with nothing below
    // it.
    dependencies.extend(packages.iter().enumerate().map(|(i, e)| {
        let below: Vec<&str> = crate::needed_by(needs, i)
            .iter()
            .map(|d| packages[d.dependency].key.as_str())
            .collect();
        if below.is_empty() {
            json!({"ref": e.key})
        } else {
            json!({"ref": e.key, "dependsOn": below})
        }
    }));
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{serial}"),
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "berth",
                    "version": env!("CARGO_PKG_VERSION"),
                }],
            },
            "component": root,
        },
        "components": components,
        "dependencies": dependencies,
    })
}
