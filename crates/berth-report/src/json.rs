//! Trivy's JSON report (`SchemaVersion` 2): field names, nesting and omissions as Trivy
//! writes them (an absent value is left out, not written empty), so that tooling reading
//! Trivy's report reads berth's.

use serde_json::{Map, Value, json};

use crate::{Scan, Vulnerability, artifact_name, cvss_version, pkg_path, primary_url, targets};

pub(crate) fn report(scan: &Scan) -> Value {
    let results: Vec<Value> = targets(scan)
        .iter()
        .map(|t| {
            let mut r = json!({
                "Target": t.name,
                "Class": t.class.as_str(),
                "Type": t.kind,
            });
            if !t.vulnerabilities.is_empty() {
                r["Vulnerabilities"] = t.vulnerabilities.iter().map(|v| vulnerability(v)).collect();
            }
            r
        })
        .collect();
    let mut metadata = Map::new();
    if let Some(distro) = &scan.catalog.distro {
        let mut os = json!({"Family": distro.id});
        if let Some(version) = &distro.version_id {
            os["Name"] = json!(version);
        }
        metadata.insert("OS".into(), os);
    }
    if let Some(image) = &scan.image {
        metadata.insert("ImageID".into(), json!(image.id.to_string()));
        metadata.insert(
            "DiffIDs".into(),
            json!(
                image
                    .diff_ids
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
            ),
        );
        if !image.repo_tags.is_empty() {
            metadata.insert("RepoTags".into(), json!(image.repo_tags));
        }
        if !image.repo_digests.is_empty() {
            metadata.insert("RepoDigests".into(), json!(image.repo_digests));
        }
    }
    let mut report = json!({
        "SchemaVersion": 2,
        "CreatedAt": scan.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "ArtifactName": artifact_name(scan.subject),
        "ArtifactType": if scan.image.is_some() { "container_image" } else { "filesystem" },
        "Metadata": metadata,
    });
    if !results.is_empty() {
        report["Results"] = Value::Array(results);
    }
    report
}

fn vulnerability(v: &Vulnerability) -> Value {
    let f = &v.finding;
    let p = v.package;
    let mut o = json!({
        "VulnerabilityID": f.id,
        "PkgID": format!("{}@{}", p.name, p.version),
        "PkgName": f.package,
    });
    // A package of a gathered language target (`Python`) is also named by its file; one of a
    // lockfile, an executable or the distribution by its target alone, as Trivy writes them.
    if let Some(path) = pkg_path(p) {
        o["PkgPath"] = json!(path);
    }
    if let Some(purl) = &p.purl {
        o["PkgIdentifier"] = json!({"PURL": purl});
    }
    o["InstalledVersion"] = json!(f.installed);
    if let Some(fixed) = &f.fixed_version {
        o["FixedVersion"] = json!(fixed);
    }
    o["Status"] = json!(f.status.as_str());
    if let Some(layer) = &p.layer {
        o["Layer"] = json!({"DiffID": layer.diff_id.to_string()});
    }
    o["SeveritySource"] = json!(v.source.id());
    o["PrimaryURL"] = json!(primary_url(v));
    o["DataSource"] = json!({"ID": v.source.id(), "Name": v.source.name()});
    if let Some(title) = &v.title {
        o["Title"] = json!(title);
        o["Description"] = json!(title);
    }
    o["Severity"] = json!(f.severity.as_str());
    if !v.cvss.is_empty() {
        o["CVSS"] = json!({ v.source.id(): cvss(v) });
    }
    o["References"] = json!([primary_url(v)]);
    o
}

/// Trivy's CVSS entry for one source: the vector and score of each version it has
/// (`V2Vector`, `V2Score`, `V3Vector`, `V3Score`, `V40Vector`, `V40Score`).
fn cvss(v: &Vulnerability) -> Value {
    let mut o = Map::new();
    for c in &v.cvss {
        let key = match cvss_version(&c.vector) {
            "2.0" => "V2",
            "4.0" => "V40",
            _ => "V3",
        };
        o.insert(format!("{key}Vector"), json!(c.vector));
        if let Some(score) = c.score {
            o.insert(format!("{key}Score"), json!(score));
        }
    }
    Value::Object(o)
}
