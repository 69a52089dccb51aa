//! berth's own JSON: the catalogue as berth-catalog holds it, field for field, for scripts
//! that want berth's facts (source package, evidence, layer, and for an image where each
//! package came from) without a format's vocabulary.

use berth_catalog::Dependency;
use serde_json::{Value, json};

use crate::{Entry, Subject};

fn subject_of(subject: &Subject) -> Value {
    match subject {
        Subject::Image { name, digest } => {
            json!({"type": "image", "name": name, "digest": digest.to_string()})
        }
        Subject::Directory { path } => json!({"type": "directory", "path": path}),
    }
}

/// Package `i` of `packages`, with the keys of those it depends on.
fn package(packages: &[Entry], needs: &[Dependency], i: usize) -> Value {
    let entry = &packages[i];
    let p = entry.package;
    let depends_on: Vec<&str> = crate::needed_by(needs, i)
        .iter()
        .map(|d| packages[d.dependency].key.as_str())
        .collect();
    let mut out = json!({
        "name": p.name,
        "version": p.version,
        "type": p.package_type.as_str(),
        "arch": p.arch,
        "purl": p.purl,
        "source": p.source.as_ref().map(|s| json!({"name": s.name, "version": s.version})),
        "cpe": berth_catalog::cpe::of_package(p),
        "licenses": p.licenses,
        "evidence": p.evidence,
        "layer": p.layer.as_ref().map(|l| json!({"index": l.index, "diffID": l.diff_id.to_string()})),
        "key": entry.key,
        "dependsOn": depends_on,
    });
    // Where the package came from (history entry, Dockerfile lines, an upgrade), when the
    // caller worked it out: an image's packages.
    if let Some(a) = entry.attribution {
        out["origin"] = serde_json::to_value(a).expect("an attribution serialises");
    }
    out
}

pub(crate) fn document(
    subject: &Subject,
    distro: Option<&berth_catalog::Distro>,
    packages: &[Entry],
    needs: &[Dependency],
    created: &str,
) -> Value {
    json!({
        "schema": "berth-sbom/1",
        "created": created,
        "tool": {"name": "berth", "version": env!("CARGO_PKG_VERSION")},
        "subject": subject_of(subject),
        "distro": distro.map(|d| json!({
            "id": d.id,
            "versionID": d.version_id,
            "versionCodename": d.version_codename,
            "idLike": d.id_like,
            "prettyName": d.pretty_name,
        })),
        "packages": (0..packages.len()).map(|i| package(packages, needs, i)).collect::<Vec<_>>(),
    })
}
