//! berth's own JSON: the catalogue as berth-catalog holds it, field for field, for scripts
//! that want berth's facts (source package, evidence, layer) without a format's vocabulary.

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

fn package(entry: &Entry) -> Value {
    let p = entry.package;
    json!({
        "name": p.name,
        "version": p.version,
        "type": p.package_type.as_str(),
        "arch": p.arch,
        "purl": p.purl,
        "source": p.source.as_ref().map(|s| json!({"name": s.name, "version": s.version})),
        "licenses": p.licenses,
        "evidence": p.evidence,
        "layer": p.layer.as_ref().map(|l| json!({"index": l.index, "diffID": l.diff_id.to_string()})),
    })
}

pub(crate) fn document(
    subject: &Subject,
    distro: Option<&berth_catalog::Distro>,
    packages: &[Entry],
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
        "packages": packages.iter().map(package).collect::<Vec<_>>(),
    })
}
