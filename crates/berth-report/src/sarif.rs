//! SARIF 2.1.0 as Trivy writes it for GitHub code scanning: one rule per vulnerability id
//! (with `properties.security-severity`, the number code scanning ranks alerts by), one result
//! per vulnerable package, located at the file that lists the package.

use std::collections::BTreeMap;

use berth_vulndb::Level;
use serde_json::{Value, json};

use crate::{Class, Scan, Vulnerability, artifact_name, cvss_version, primary_url, targets};

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

pub(crate) fn report(scan: &Scan) -> Value {
    let targets = targets(scan);
    let all: Vec<&Vulnerability> = targets
        .iter()
        .flat_map(|t| t.vulnerabilities.iter().copied())
        .collect();
    // Rules in id order, each once; results point at them by index.
    let mut rules: BTreeMap<&str, &Vulnerability> = BTreeMap::new();
    for v in &all {
        let kept = rules.entry(&v.finding.id).or_insert(v);
        if v.finding.severity > kept.finding.severity {
            *kept = v;
        }
    }
    let index: BTreeMap<&str, usize> = rules.keys().enumerate().map(|(i, id)| (*id, i)).collect();
    let results: Vec<Value> = all
        .iter()
        .map(|v| result(scan, v, index[v.finding.id.as_str()]))
        .collect();
    let mut run = json!({
        "tool": {
            "driver": {
                "fullName": "berth vulnerability scanner",
                "name": "berth",
                "rules": rules.values().map(|v| rule(v)).collect::<Vec<_>>(),
                "version": env!("CARGO_PKG_VERSION"),
            }
        },
        "results": results,
        "columnKind": "utf16CodeUnits",
        "originalUriBaseIds": {"ROOTPATH": {"uri": "file:///"}},
    });
    let mut properties = json!({"imageName": artifact_name(scan.subject)});
    if let Some(image) = &scan.image {
        properties["repoTags"] = json!(image.repo_tags);
        properties["repoDigests"] = json!(image.repo_digests);
        properties["imageID"] = json!(image.id.to_string());
    }
    run["properties"] = properties;
    json!({
        "version": "2.1.0",
        "$schema": SCHEMA,
        "runs": [run],
    })
}

/// The level code scanning shows: error for high and critical, warning for medium, note below.
fn level(severity: Level) -> &'static str {
    match severity {
        Level::Critical | Level::High => "error",
        Level::Medium => "warning",
        Level::Low | Level::Unknown => "note",
    }
}

/// `security-severity`, as Trivy gives it: the advisory's CVSS v3 base score where it has
/// one, else the score Trivy gives the level (CRITICAL 9.5, HIGH 8.0, MEDIUM 5.5, LOW 2.0,
/// UNKNOWN 0.0).
fn security_severity(v: &Vulnerability) -> String {
    let v3 = v
        .cvss
        .iter()
        .filter(|c| cvss_version(&c.vector).starts_with('3'))
        .find_map(|c| c.score);
    let score = v3.unwrap_or(match v.finding.severity {
        Level::Critical => 9.5,
        Level::High => 8.0,
        Level::Medium => 5.5,
        Level::Low => 2.0,
        Level::Unknown => 0.0,
    });
    format!("{score:.1}")
}

fn rule(v: &Vulnerability) -> Value {
    let f = &v.finding;
    let url = primary_url(v);
    let title = v.title.clone().unwrap_or_else(|| f.id.clone());
    let (id, severity, package) = (&f.id, f.severity, &f.package);
    let fixed = f.fixed_version.as_deref().unwrap_or("");
    let link = format!("[{id}]({url})");
    let help = format!(
        "Vulnerability {id}\nSeverity: {severity}\nPackage: {package}\nFixed Version: {fixed}\nLink: {link}\n{title}"
    );
    let markdown = format!(
        "**Vulnerability {id}**\n| Severity | Package | Fixed Version | Link |\n| --- | --- | --- | --- |\n|{severity}|{package}|{fixed}|{link}|\n\n{title}"
    );
    let name = match Class::of(v.package.package_type) {
        Class::OsPkgs => "OsPackageVulnerability",
        Class::LangPkgs => "LanguageSpecificPackageVulnerability",
    };
    json!({
        "id": f.id,
        "name": name,
        "shortDescription": {"text": title},
        "fullDescription": {"text": title},
        "defaultConfiguration": {"level": level(f.severity)},
        "helpUri": url,
        "help": {"text": help, "markdown": markdown},
        "properties": {
            "precision": "very-high",
            "security-severity": security_severity(v),
            "tags": ["vulnerability", "security", f.severity.as_str()],
        },
    })
}

fn result(scan: &Scan, v: &Vulnerability, rule_index: usize) -> Value {
    let f = &v.finding;
    // The file that lists the package, relative to the image's root.
    let evidence = v.package.evidence.first().map_or_else(
        || artifact_name(scan.subject).to_string(),
        |e| e.trim_start_matches('/').to_string(),
    );
    let message = format!(
        "Package: {}\nInstalled Version: {}\nVulnerability {}\nSeverity: {}\nFixed Version: {}\nLink: [{}]({})",
        f.package,
        f.installed,
        f.id,
        f.severity,
        f.fixed_version.as_deref().unwrap_or(""),
        f.id,
        primary_url(v),
    );
    json!({
        "ruleId": f.id,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": {"text": message},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": evidence, "uriBaseId": "ROOTPATH"},
                "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
            },
            "message": {"text": format!("{evidence}: {}@{}", f.package, f.installed)},
        }],
    })
}
