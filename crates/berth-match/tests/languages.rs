//! Language packages catalogued from a real tree (`test_support::languages`: Python
//! metadata, a scoped npm package, a Maven jar, a Go executable, a cargo-auditable executable)
//! matched against the osv-pypi, osv-go and osv-rustsec corpora and GitHub-shaped records for
//! what the corpora lack. Each version comes from an advisory: inside a range (found, with the
//! fix), at the fix (not found), at `last_affected` (found, no fix), in a `versions` list.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use berth_catalog::{Catalog, DirFs, Package, PackageType};
use berth_match::{Finding, Matches, Status};
use berth_vulndb::Database;
use test_support::languages::{self, at};

struct Fixture {
    db: Database,
    catalog: Catalog,
}

/// The corpora and the extra records in one database, the tree catalogued: once for all tests.
fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let mut db = Database::new();
            for corpus in ["osv-rustsec", "osv-go", "osv-pypi"] {
                db.import(corpus, &test_support::corpus(corpus)?).unwrap();
            }
            languages::advisories(&dir.path().join("ghsa"));
            db.import("ghsa", &dir.path().join("ghsa")).unwrap();
            let root = dir.path().join("rootfs");
            languages::language_rootfs(&root, &dir.path().join("scratch"));
            let catalog = berth_catalog::catalog(&DirFs::open(&root).unwrap()).unwrap();
            // Both are in memory: the tree and the records are not needed any more.
            Some(Fixture { db, catalog })
        })
        .as_ref()
}

/// Findings by (file, package, version): each finding's id and fixed version.
fn by_package(findings: &[Finding]) -> BTreeMap<(String, String, String), Vec<Finding>> {
    let mut out: BTreeMap<_, Vec<Finding>> = BTreeMap::new();
    for f in findings {
        let path = f
            .path
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/');
        out.entry((path.to_owned(), f.package.clone(), f.installed.clone()))
            .or_default()
            .push(f.clone());
    }
    out
}

fn ids(findings: &[Finding]) -> BTreeMap<&str, Option<&str>> {
    findings
        .iter()
        .map(|f| (f.id.as_str(), f.fixed_version.as_deref()))
        .collect()
}

#[test]
fn every_ecosystem_from_a_catalogued_tree() {
    let Some(fx) = fixture() else { return };
    // Every file of the tree is catalogued, the clean ones too.
    let files: BTreeSet<&str> = fx
        .catalog
        .packages
        .iter()
        .filter_map(|p| p.evidence.first())
        .map(|e| e.trim_start_matches('/'))
        .collect();
    for file in [
        at::PYYAML,
        at::PYYAML_FIXED,
        at::PY,
        at::GRATIENT,
        at::WIDGET,
        at::JAR,
        at::GO,
        at::RUST,
    ] {
        assert!(files.contains(file), "{file} not catalogued: {files:?}");
    }
    let matches = berth_match::catalog(&fx.db, &fx.catalog);
    assert!(matches.unjudged.is_empty(), "{:#?}", matches.unjudged);
    let found = by_package(&matches.findings);
    let of = |path: &str, name: &str, version: &str| -> &[Finding] {
        found
            .get(&(path.to_owned(), name.to_owned(), version.to_owned()))
            .map_or(&[], Vec::as_slice)
    };

    // PyYAML 5.3.1: inside PYSEC-2021-142 (fixed 5.4), at PYSEC-2020-96's fix; the GHSA record
    // for the same CVE merged into it. 5.4, its fix, is clean.
    let pyyaml = of(at::PYYAML, "pyyaml", "5.3.1");
    assert_eq!(
        ids(pyyaml),
        BTreeMap::from([("PYSEC-2021-142", Some("5.4"))])
    );
    let aliases: BTreeSet<&str> = pyyaml[0].aliases.iter().map(String::as_str).collect();
    assert!(
        aliases.is_superset(&BTreeSet::from(["CVE-2020-14343", "GHSA-8q59-q68h-6hv4"])),
        "{aliases:?}"
    );
    assert_eq!(pyyaml[0].status, Status::Fixed);
    assert!(of(at::PYYAML_FIXED, "pyyaml", "5.4").is_empty());

    // py 1.11.0 is PYSEC-2022-42969's last_affected (no fix), and PYSEC-2020-92's fix.
    let py = of(at::PY, "py", "1.11.0");
    assert_eq!(ids(py), BTreeMap::from([("PYSEC-2022-42969", None)]));
    assert_eq!(py[0].status, Status::Affected);
    // gratient 0.5 is only listed by PYSEC-2024-1 (no range).
    assert_eq!(
        ids(of(at::GRATIENT, "gratient", "0.5")),
        BTreeMap::from([("PYSEC-2024-1", None)])
    );

    // npm, scoped; Maven by group:artifact.
    assert_eq!(
        ids(of(at::WIDGET, "@acme/widget", "1.2.0")),
        BTreeMap::from([("GHSA-aaaa-bbbb-cccc", Some("1.2.1"))])
    );
    assert_eq!(
        ids(of(at::JAR, "acme-core", "2.4.0")),
        BTreeMap::from([("GHSA-dddd-eeee-ffff", Some("2.4.1"))])
    );

    // Go modules, `v` and all; a pseudo-version before a pseudo-version fix.
    assert_eq!(
        ids(of(at::GO, "golang.org/x/text", "v0.3.0")),
        BTreeMap::from([
            ("GO-2020-0015", Some("0.3.3")),
            ("GO-2021-0113", Some("0.3.7")),
            ("GO-2022-1059", Some("0.3.8")),
            ("GO-2026-5970", Some("0.39.0")),
        ])
    );
    let crypto = of(
        at::GO,
        "golang.org/x/crypto",
        "v0.0.0-20200219234226-1ad67e1f0ef4",
    );
    assert_eq!(
        ids(crypto).get("GO-2020-0012"),
        Some(&Some("0.0.0-20200220183623-bac4c82f6975")),
        "{:?}",
        ids(crypto)
    );
    // The standard library at the local Go's release: inside GO-2099-0001 (every release
    // before 1.99.0); the toolchain's record for the same releases is the go command's.
    let stdlib: Vec<&Finding> = matches
        .findings
        .iter()
        .filter(|f| f.package == "stdlib")
        .collect();
    assert!(
        stdlib
            .iter()
            .all(|f| f.path.as_deref() == Some(&format!("/{}", at::GO)[..])),
        "{stdlib:?}"
    );
    let stdlib_ids: BTreeMap<&str, Option<&str>> = stdlib
        .iter()
        .map(|f| (f.id.as_str(), f.fixed_version.as_deref()))
        .collect();
    assert_eq!(stdlib_ids.get("GO-2099-0001"), Some(&Some("1.99.0")));
    assert!(!stdlib_ids.contains_key("GO-2099-0002"));

    // A crate compiled in by cargo-auditable.
    assert_eq!(
        ids(of(at::RUST, "anyhow", "1.0.102")),
        BTreeMap::from([("RUSTSEC-2026-0190", Some("1.0.103"))])
    );

    // Nothing else: the main modules, the Rust program itself, the fixed PyYAML.
    let reported: BTreeSet<&str> = matches
        .findings
        .iter()
        .filter(|f| f.package != "golang.org/x/crypto")
        .map(|f| f.package.as_str())
        .collect();
    assert_eq!(
        reported,
        BTreeSet::from([
            "@acme/widget",
            "pyyaml",
            "acme-core",
            "anyhow",
            "golang.org/x/text",
            "gratient",
            "py",
            "stdlib"
        ])
    );
}

/// A Go standard library package at `tag`, as the Go cataloger names it.
fn stdlib(tag: &str) -> Catalog {
    Catalog {
        packages: vec![Package {
            name: "stdlib".into(),
            version: tag.into(),
            package_type: PackageType::GoModule,
            arch: String::new(),
            purl: None,
            source: None,
            licenses: vec![],
            evidence: vec!["/usr/bin/hello".into()],
            layer: None,
        }],
        ..Catalog::default()
    }
}

#[test]
fn the_go_standard_library_by_its_release() {
    let Some(fx) = fixture() else { return };
    let found = |tag: &str| -> Matches { berth_match::catalog(&fx.db, &stdlib(tag)) };
    // go1.26.5: GO-2026-5026 (fixed 1.26.6) affects it, GO-2026-4970 (fixed 1.26.5) does not;
    // GO-2026-6179 is the toolchain's, at the same versions, and is not the program's.
    let go1265 = found("go1.26.5");
    assert!(go1265.unjudged.is_empty(), "{:?}", go1265.unjudged);
    let ids1265 = ids(&go1265.findings);
    assert_eq!(ids1265.get("GO-2026-5026"), Some(&Some("1.26.6")));
    assert!(!ids1265.contains_key("GO-2026-4970"));
    assert!(!ids1265.contains_key("GO-2026-6179"));
    // A release candidate: go1.27rc2 is 1.27.0-rc.2, fixed for GO-2026-4970 and not for
    // GO-2026-5026 (fixed 1.27.0-rc.3).
    let rc = ids(&found("go1.27rc2").findings)
        .into_iter()
        .map(|(id, fix)| (id.to_owned(), fix.map(str::to_owned)))
        .collect::<BTreeMap<_, _>>();
    assert_eq!(
        rc.get("GO-2026-5026"),
        Some(&Some("1.27.0-rc.3".to_owned()))
    );
    assert!(!rc.contains_key("GO-2026-4970"));
    // go1.26.6 has the fix.
    assert!(!ids(&found("go1.26.6").findings).contains_key("GO-2026-5026"));
}

#[test]
fn packages_without_a_version_to_judge_are_left_alone() {
    let Some(fx) = fixture() else { return };
    let mut catalog = stdlib("devel go1.27-abcdef");
    let mut main = catalog.packages[0].clone();
    main.name = "example.com/hello".into();
    main.version = "(devel)".into();
    let mut rpm = main.clone();
    rpm.name = "openssl-libs".into();
    rpm.version = "3.0.7-27.el9".into();
    rpm.package_type = PackageType::Rpm;
    catalog.packages.extend([main, rpm]);
    assert_eq!(berth_match::catalog(&fx.db, &catalog), Matches::default());
}
