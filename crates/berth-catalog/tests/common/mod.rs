//! What the Syft comparisons share: Syft's JSON for a source, and both tools' packages and
//! dependency edges in one shape, so each test compares sets.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use berth_catalog::{Catalog, Package};
use test_support::run_ok;

/// type, name, version, purl.
pub type Row = (String, String, String, String);

/// Dependencies as (dependency, dependent), each named by the test's label.
pub type Edges = BTreeSet<(String, String)>;

pub fn row(ty: &str, name: &str, version: &str, purl: &str) -> Row {
    (ty.into(), name.into(), version.into(), purl.into())
}

/// Syft's JSON document for `source` (`dir:…`, `oci-dir:…`), offline.
pub fn syft_json(source: &str) -> serde_json::Value {
    let out = run_ok(
        Command::new("syft")
            .arg(source)
            .args(["-o", "json", "-q"])
            .env("SYFT_CHECK_FOR_APP_UPDATE", "false"),
    );
    serde_json::from_str(&out).expect("syft writes JSON")
}

/// Each of Syft's artifacts as a row.
pub fn syft_rows(doc: &serde_json::Value) -> Vec<Row> {
    artifacts(doc)
        .iter()
        .map(|a| {
            let field = |k: &str| a[k].as_str().unwrap_or_default();
            row(
                field("type"),
                field("name"),
                field("version"),
                field("purl"),
            )
        })
        .collect()
}

/// Syft's `dependency-of` relationships, each end named by `label(name, version)`.
pub fn syft_edges(doc: &serde_json::Value, label: fn(&str, &str) -> String) -> Edges {
    let named: BTreeMap<&str, String> = artifacts(doc)
        .iter()
        .map(|a| {
            let field = |k: &str| a[k].as_str().unwrap_or_default();
            (field("id"), label(field("name"), field("version")))
        })
        .collect();
    doc["artifactRelationships"]
        .as_array()
        .expect("syft lists relationships")
        .iter()
        .filter(|r| r["type"] == "dependency-of")
        .map(|r| {
            let end = |k: &str| named[r[k].as_str().unwrap()].clone();
            (end("parent"), end("child"))
        })
        .collect()
}

/// berth's packages as rows.
pub fn rows(packages: Vec<Package>) -> BTreeSet<Row> {
    packages
        .into_iter()
        .map(|p| {
            (
                p.package_type.to_string(),
                p.name,
                p.version,
                p.purl.unwrap_or_default(),
            )
        })
        .collect()
}

/// berth's dependencies, each end named as [`syft_edges`] names Syft's.
pub fn edges(found: &Catalog, label: fn(&str, &str) -> String) -> Edges {
    let end = |i: usize| label(&found.packages[i].name, &found.packages[i].version);
    found
        .dependencies
        .iter()
        .map(|d| (end(d.dependency), end(d.dependent)))
        .collect()
}

fn artifacts(doc: &serde_json::Value) -> &Vec<serde_json::Value> {
    doc["artifacts"].as_array().expect("syft lists artifacts")
}
