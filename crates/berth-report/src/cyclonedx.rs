//! CycloneDX 1.6 with `vulnerabilities`: berth-sbom's document of the same catalogue, and one
//! vulnerability per id, `affects` naming each package it was found in by its `bom-ref`.

use std::collections::BTreeMap;

use berth_vulndb::Level;
use serde_json::{Value, json};

use crate::{Scan, Vulnerability, cvss_version, primary_url};

pub(crate) fn report(scan: &Scan) -> Value {
    let sbom = berth_sbom::write(
        berth_sbom::Format::CycloneDx,
        scan.subject,
        scan.catalog,
        scan.created,
    );
    let mut doc: Value = serde_json::from_slice(&sbom).expect("berth-sbom writes JSON");
    // The component of a package, by (name, version): berth-sbom gives each a unique bom-ref.
    let mut refs: BTreeMap<(&str, &str), String> = BTreeMap::new();
    for c in doc["components"].as_array().into_iter().flatten() {
        if let (Some(name), Some(version), Some(r)) = (
            c["name"].as_str(),
            c["version"].as_str(),
            c["bom-ref"].as_str(),
        ) {
            refs.entry((name, version)).or_insert_with(|| r.to_string());
        }
    }
    let mut by_id: BTreeMap<&str, Vec<&Vulnerability>> = BTreeMap::new();
    for v in &scan.vulnerabilities {
        by_id.entry(&v.finding.id).or_default().push(v);
    }
    let vulnerabilities: Vec<Value> = by_id
        .values()
        .map(|found| {
            let first = found[0];
            let affects: Vec<Value> = found
                .iter()
                .filter_map(|v| {
                    let r = refs.get(&(v.package.name.as_str(), v.package.version.as_str()))?;
                    Some(json!({
                        "ref": r,
                        "versions": [{"version": v.finding.installed, "status": "affected"}],
                    }))
                })
                .collect();
            vulnerability(first, affects)
        })
        .collect();
    doc["vulnerabilities"] = Value::Array(vulnerabilities);
    doc
}

fn vulnerability(v: &Vulnerability, affects: Vec<Value>) -> Value {
    let f = &v.finding;
    let source = json!({"name": v.source.id(), "url": primary_url(v)});
    let mut ratings = vec![json!({
        "source": {"name": v.source.id()},
        "severity": severity(f.severity),
    })];
    for c in &v.cvss {
        let method = match cvss_version(&c.vector) {
            "2.0" => "CVSSv2",
            "3.0" => "CVSSv3",
            "4.0" => "CVSSv4",
            _ => "CVSSv31",
        };
        let mut rating = json!({"source": {"name": v.source.id()}});
        if let Some(score) = c.score {
            rating["score"] = json!(score);
            rating["severity"] = json!(severity(Level::from_score(score)));
        }
        rating["method"] = json!(method);
        rating["vector"] = json!(c.vector);
        ratings.push(rating);
    }
    let mut o = json!({
        "id": f.id,
        "source": source,
        "ratings": ratings,
    });
    if let Some(title) = &v.title {
        o["description"] = json!(title);
    }
    if let Some(fixed) = &f.fixed_version {
        o["recommendation"] = json!(format!("Upgrade {} to version {fixed}", f.package));
    }
    o["advisories"] = json!([{"url": primary_url(v)}]);
    o["affects"] = Value::Array(affects);
    o
}

/// CycloneDX's severity words.
fn severity(level: Level) -> &'static str {
    match level {
        Level::Critical => "critical",
        Level::High => "high",
        Level::Medium => "medium",
        Level::Low => "low",
        Level::Unknown => "unknown",
    }
}
