//! The Debian bookworm known-answer corpus: a real minbase dpkg status, tracker-format data
//! from the archive's changelogs, and `expected.json` made with dpkg as the oracle.

use std::collections::BTreeSet;
use std::fs;

use berth_catalog::{DirFs, catalog};
use berth_match::Status;
use berth_vulndb::Database;

type Row = (String, String, String, String, String, String, String);

fn row(v: &serde_json::Value) -> Row {
    let s = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("{k} in {v}"))
            .to_owned()
    };
    (
        s("package"),
        s("version"),
        s("source"),
        s("source_version"),
        s("cve"),
        s("fixed_version"),
        s("urgency"),
    )
}

#[test]
fn bookworm_findings_equal_the_dpkg_oracle() {
    let Some(corpus) = test_support::corpus("debian-bookworm") else {
        return;
    };
    // The catalogers read a root file system: lay the corpus's two files where they live.
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("var/lib/dpkg")).unwrap();
    fs::create_dir_all(root.path().join("etc")).unwrap();
    fs::copy(
        corpus.join("status"),
        root.path().join("var/lib/dpkg/status"),
    )
    .unwrap();
    fs::copy(
        corpus.join("os-release"),
        root.path().join("etc/os-release"),
    )
    .unwrap();
    let installed = catalog(&DirFs::open(root.path()).unwrap()).unwrap();
    assert_eq!(installed.packages.len(), 88);

    let mut db = Database::new();
    db.import("debian", &corpus.join("tracker.json")).unwrap();
    let found = berth_match::catalog(&db, &installed);
    assert!(found.unjudged.is_empty(), "{:?}", found.unjudged);

    let got: BTreeSet<Row> = found
        .findings
        .iter()
        .map(|f| {
            assert_eq!(f.status, Status::Fixed, "{f:?}");
            let source = f.source.clone().unwrap();
            (
                f.package.clone(),
                f.installed.clone(),
                source.name,
                source.version,
                f.id.clone(),
                f.fixed_version.clone().unwrap(),
                f.severity_rating.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(got.len(), found.findings.len(), "no finding twice");

    let expected = test_support::json(&fs::read_to_string(corpus.join("expected.json")).unwrap());
    let affected: BTreeSet<Row> = expected["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(row)
        .collect();
    let controls: BTreeSet<Row> = expected["not_affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(row)
        .collect();
    assert_eq!(affected.len(), 27);
    assert_eq!(controls.len(), 9);
    assert_eq!(got, affected);
    let reported_controls: Vec<_> = controls
        .iter()
        .filter(|c| {
            found
                .findings
                .iter()
                .any(|f| f.package == c.0 && f.id == c.4)
        })
        .collect();
    assert!(reported_controls.is_empty(), "{reported_controls:?}");
}
