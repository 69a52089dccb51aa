//! The dpkg cataloger against Trivy 0.76 (`trivy rootfs --list-all-pkgs`, offline), the second
//! oracle beside Syft: on the Debian bookworm minbase root file system, the same packages with
//! the same version, architecture and source package, and the same dependencies between them.

use std::collections::BTreeSet;
use std::fs;

use berth_catalog::{Catalog, DirFs, catalog};
use test_support::run_ok;

/// name, version (epoch included), architecture, source name, source version.
type Row = (String, String, String, String, String);

/// A Debian version as Trivy splits it: `[epoch:]version[-release]`.
fn debian_version(epoch: &serde_json::Value, version: &str, release: &str) -> String {
    let epoch = match epoch.as_u64() {
        Some(e) if e > 0 => format!("{e}:"),
        _ => String::new(),
    };
    match release {
        "" => format!("{epoch}{version}"),
        release => format!("{epoch}{version}-{release}"),
    }
}

#[test]
fn dpkg_packages_and_dependencies_are_the_ones_trivy_finds() {
    let root = test_support::debian_rootfs();
    let tmp = tempfile::tempdir().unwrap();
    // Trivy lists packages only with a database to scan against: an empty feed makes one.
    let feed = tmp.path().join("empty.json");
    fs::write(&feed, "{}").unwrap();
    let cache = tmp.path().join("cache");
    test_support::trivy::write_db(&cache, &[feed]);
    let out = run_ok(
        test_support::trivy::rootfs(&cache)
            .arg("--list-all-pkgs")
            .arg(&root),
    );
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let [result] = report["Results"].as_array().unwrap().as_slice() else {
        panic!("one target: {report}");
    };
    assert_eq!(result["Class"], "os-pkgs");
    let packages = result["Packages"].as_array().unwrap();
    let text = |p: &serde_json::Value, k: &str| p[k].as_str().unwrap_or_default().to_string();
    let trivy: BTreeSet<Row> = packages
        .iter()
        .map(|p| {
            (
                text(p, "Name"),
                debian_version(&p["Epoch"], &text(p, "Version"), &text(p, "Release")),
                text(p, "Arch"),
                text(p, "SrcName"),
                debian_version(
                    &p["SrcEpoch"],
                    &text(p, "SrcVersion"),
                    &text(p, "SrcRelease"),
                ),
            )
        })
        .collect();
    // Trivy's `DependsOn` names each installed dependency as `name@version`.
    let trivy_depends: BTreeSet<(String, String)> = packages
        .iter()
        .flat_map(|p| {
            let dependent = text(p, "Name");
            p["DependsOn"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |d| {
                    let (name, _) = d.as_str().unwrap().split_once('@').unwrap();
                    (name.to_string(), dependent.clone())
                })
        })
        .collect();

    let found: Catalog = catalog(&DirFs::open(&root).unwrap()).unwrap();
    let berth: BTreeSet<Row> = found
        .packages
        .iter()
        .map(|p| {
            let source = p.source.as_ref().unwrap();
            (
                p.name.clone(),
                p.version.clone(),
                p.arch.clone(),
                source.name.clone(),
                source.version.clone(),
            )
        })
        .collect();
    assert!(trivy.len() > 80, "trivy found {} packages", trivy.len());
    assert_eq!(berth, trivy, "packages");
    let name = |i: usize| found.packages[i].name.clone();
    let depends: BTreeSet<(String, String)> = found
        .dependencies
        .iter()
        .map(|d| (name(d.dependency), name(d.dependent)))
        .collect();
    assert!(trivy_depends.len() > 80, "{trivy_depends:?}");
    // Trivy reads `Depends` only; berth (as Syft) reads `Pre-Depends` too, which dpkg holds
    // to more strictly (configured before the package is even unpacked). Every edge only
    // berth has must be such a pre-dependency, and every edge of Trivy's berth's.
    let status = fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    let only_berth: Vec<_> = depends.difference(&trivy_depends).collect();
    for (dependency, dependent) in &only_berth {
        let names = pre_depends(&status, dependent);
        assert!(
            names.contains(dependency.as_str()),
            "{dependent} -> {dependency} is no pre-dependency ({names:?})"
        );
    }
    assert!(!only_berth.is_empty());
    let only_trivy: Vec<_> = trivy_depends.difference(&depends).collect();
    assert!(only_trivy.is_empty(), "only Trivy: {only_trivy:?}");
}

/// The packages `package`'s `Pre-Depends` field names (every alternative, versions and
/// architecture qualifiers dropped), and those that provide one of them (`awk` by `mawk`).
fn pre_depends<'s>(status: &'s str, package: &str) -> BTreeSet<&'s str> {
    let stanzas: Vec<&str> = status.split("\n\n").collect();
    let names = |stanza: &'s str, field: &str| -> BTreeSet<&'s str> {
        stanza
            .lines()
            .filter_map(|l| l.strip_prefix(field))
            .flat_map(|value| value.split([',', '|']))
            .filter_map(|alternative| alternative.split_whitespace().next())
            .map(|name| name.split(':').next().unwrap())
            .collect()
    };
    let stanza = stanzas
        .iter()
        .find(|s| s.lines().any(|l| l == format!("Package: {package}")))
        .unwrap();
    let mut wanted = names(stanza, "Pre-Depends: ");
    for other in &stanzas {
        if !names(other, "Provides: ").is_disjoint(&wanted) {
            wanted.extend(names(other, "Package: "));
        }
    }
    wanted
}
