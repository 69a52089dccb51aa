//! Alpine's secdb JSON (one file per release and repository, `v3.20/main.json`) into
//! advisories: for each origin package, the version that fixed each issue.
//!
//! A `secfixes` key is the fixing version; the key `0` lists issues that never affected the
//! release's package, which are not kept. A value may hold several ids separated by blanks
//! (`CVE-2021-1 CVE-2021-2`); each is its own advisory.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::{Advisory, Affected, DistroState, Severity, Versions};

#[derive(Deserialize)]
struct SecDb {
    distroversion: String,
    packages: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    pkg: Package,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    secfixes: BTreeMap<String, Option<Vec<String>>>,
}

/// Whether a JSON document is a secdb file: `distroversion` and a `packages` list.
pub(crate) fn looks_like(value: &serde_json::Value) -> bool {
    value.get("distroversion").is_some_and(|v| v.is_string())
        && value.get("packages").is_some_and(|p| p.is_array())
}

/// One advisory per issue, its affected entries one per package (ecosystem
/// `Alpine:<distroversion>`, as OSV names Alpine releases), and the number of "never
/// affected" issues dropped.
pub(crate) fn parse(path: &Path, value: serde_json::Value) -> Result<(Vec<Advisory>, usize)> {
    let db: SecDb = serde_json::from_value(value).map_err(|e| Error::Malformed {
        path: path.to_owned(),
        format: "Alpine secdb JSON",
        why: e.to_string(),
    })?;
    let ecosystem = format!("Alpine:{}", db.distroversion);
    let mut advisories: BTreeMap<String, Advisory> = BTreeMap::new();
    let mut dropped = 0;
    for Entry { pkg } in db.packages {
        for (version, ids) in pkg.secfixes {
            for id in ids.iter().flatten().flat_map(|ids| ids.split_whitespace()) {
                if version == "0" {
                    dropped += 1;
                    continue;
                }
                let advisory = advisories.entry(id.to_owned()).or_insert_with(|| Advisory {
                    id: id.to_owned(),
                    aliases: Vec::new(),
                    summary: None,
                    severity: Severity::default(),
                    affected: Vec::new(),
                });
                advisory.affected.push(Affected {
                    ecosystem: ecosystem.clone(),
                    name: pkg.name.clone(),
                    severity: Severity::default(),
                    versions: Versions::Distro(DistroState::Fixed(version.clone())),
                });
            }
        }
    }
    Ok((advisories.into_values().collect(), dropped))
}
