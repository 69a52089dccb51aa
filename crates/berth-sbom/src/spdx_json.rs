//! SPDX 2.3 JSON: the document `DESCRIBES` the subject, a package that `CONTAINS` each
//! catalogued package; a package needed by another is `DEPENDENCY_OF` it (Syft's direction);
//! CPEs are `SECURITY` `cpe23Type` external references and purls `PACKAGE-MANAGER` ones; a
//! declared licence that is not an SPDX expression becomes a `LicenseRef-` with its text as
//! written.

use std::collections::BTreeMap;

use berth_catalog::Dependency;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::licence::{Licence, classify, conjunction, licence_ref};
use crate::{Entry, Subject, content_digest, uuid_from};

const ROOT_ID: &str = "SPDXRef-DocumentRoot";

/// A package's SPDXID: readable (type and name) and unique (a digest of its key), in the
/// characters SPDX allows (`[A-Za-z0-9.-]`).
fn spdx_id(entry: &Entry) -> String {
    let name: String = entry
        .package
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let digest = hex::encode(&Sha256::digest(entry.key.as_bytes())[..8]);
    format!(
        "SPDXRef-Package-{}-{name}-{digest}",
        entry.package.package_type
    )
}

fn root(subject: &Subject) -> Value {
    let mut root = json!({
        "name": subject.name(),
        "SPDXID": ROOT_ID,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
    });
    match subject {
        Subject::Image { digest, .. } => {
            root["versionInfo"] = json!(digest.to_string());
            root["primaryPackagePurpose"] = json!("CONTAINER");
        }
        Subject::Directory { .. } => root["primaryPackagePurpose"] = json!("FILE"),
    }
    root
}

/// The package, and the licences it declares that need a `LicenseRef-` definition.
fn package(entry: &Entry, extracted: &mut BTreeMap<String, String>) -> Value {
    let p = entry.package;
    let declared: Vec<String> = classify(&p.licenses)
        .into_iter()
        .map(|l| match l {
            Licence::Spdx(expression) => expression.to_string(),
            Licence::Other(text) => {
                let mut id = licence_ref(text);
                // Two texts that differ only in characters an identifier cannot hold
                // (`GPL+`, `GPL-`) must not share one.
                if extracted.get(&id).is_some_and(|known| known != text) {
                    id = format!("{id}-{}", hex::encode(&Sha256::digest(text)[..4]));
                }
                extracted.insert(id.clone(), text.to_string());
                id
            }
        })
        .collect();
    let declared = if declared.is_empty() {
        "NOASSERTION".to_string()
    } else {
        conjunction(&declared)
    };
    let mut package = json!({
        "name": p.name,
        "SPDXID": spdx_id(entry),
        "versionInfo": p.version,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "sourceInfo": format!("listed in {}", p.evidence.join(", ")),
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": declared,
        "copyrightText": "NOASSERTION",
    });
    let cpe = berth_catalog::cpe::of_package(p).map(|cpe| {
        json!({
            "referenceCategory": "SECURITY",
            "referenceType": "cpe23Type",
            "referenceLocator": cpe,
        })
    });
    let purl = p.purl.as_ref().map(|purl| {
        json!({
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": purl,
        })
    });
    let references: Vec<Value> = cpe.into_iter().chain(purl).collect();
    if !references.is_empty() {
        package["externalRefs"] = Value::Array(references);
    }
    package
}

pub(crate) fn document(
    subject: &Subject,
    packages: &[Entry],
    needs: &[Dependency],
    created: &str,
) -> Value {
    let mut extracted = BTreeMap::new();
    let mut all = vec![root(subject)];
    all.extend(packages.iter().map(|e| package(e, &mut extracted)));
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relatedSpdxElement": ROOT_ID,
        "relationshipType": "DESCRIBES",
    })];
    relationships.extend(packages.iter().map(|e| {
        json!({
            "spdxElementId": ROOT_ID,
            "relatedSpdxElement": spdx_id(e),
            "relationshipType": "CONTAINS",
        })
    }));
    relationships.extend(needs.iter().map(|d| {
        json!({
            "spdxElementId": spdx_id(&packages[d.dependency]),
            "relatedSpdxElement": spdx_id(&packages[d.dependent]),
            "relationshipType": "DEPENDENCY_OF",
        })
    }));
    let id = uuid_from(&content_digest(&json!([&all, &relationships])));
    let name: String = subject
        .name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": subject.name(),
        // SPDX's recommended form for a namespace nobody serves: spdx.org/spdxdocs, the
        // document's name, and a UUID — here the content's, so the same content gets the same.
        "documentNamespace": format!("https://spdx.org/spdxdocs/{name}-{id}"),
        "creationInfo": {
            "creators": [format!("Tool: berth-{}", env!("CARGO_PKG_VERSION"))],
            "created": created,
        },
        "packages": all,
        "relationships": relationships,
    });
    if !extracted.is_empty() {
        doc["hasExtractedLicensingInfos"] = extracted
            .into_iter()
            .map(|(id, text)| json!({"licenseId": id, "extractedText": text, "name": text}))
            .collect();
    }
    doc
}
