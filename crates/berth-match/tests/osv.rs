//! OSV matching on the real corpora: for advisories picked from each, versions inside their
//! ranges are found (with the fix the advisory names) and versions outside are not.

use std::sync::OnceLock;

use berth_match::{Status, package};
use berth_vulndb::Database;

/// The three OSV corpora in one database, imported once for all tests.
fn db() -> Option<&'static Database> {
    static DB: OnceLock<Option<Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = Database::new();
        for corpus in ["osv-rustsec", "osv-go", "osv-pypi"] {
            db.import(corpus, &test_support::corpus(corpus)?).unwrap();
        }
        Some(db)
    })
    .as_ref()
}

/// The fixed version `id` reports for the package at `version`: `Some(None)` when affected
/// without a fix, `None` when `id` does not affect it.
fn verdict(ecosystem: &str, name: &str, version: &str, id: &str) -> Option<Option<String>> {
    let found = package(db().unwrap(), ecosystem, name, version);
    assert!(found.unjudged.is_empty(), "{:?}", found.unjudged);
    let finding = found
        .findings
        .into_iter()
        .find(|f| f.id == id || f.aliases.iter().any(|a| a == id))?;
    assert_eq!(
        finding.status,
        if finding.fixed_version.is_some() {
            Status::Fixed
        } else {
            Status::Affected
        }
    );
    Some(finding.fixed_version)
}

#[test]
fn boundaries_of_advisories_from_each_corpus() {
    if db().is_none() {
        return;
    }
    let fixed = |v: &str| Some(Some(v.to_owned()));
    /// Ecosystem, package, version, advisory, and the verdict `verdict` gives.
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Option<Option<String>>,
    );
    let cases: &[Case] = &[
        // RUSTSEC-2016-0001: introduced 0.0.0-0, fixed 0.9.0.
        (
            "crates.io",
            "openssl",
            "0.0.1",
            "RUSTSEC-2016-0001",
            fixed("0.9.0"),
        ),
        (
            "crates.io",
            "openssl",
            "0.8.9",
            "RUSTSEC-2016-0001",
            fixed("0.9.0"),
        ),
        ("crates.io", "openssl", "0.9.0", "RUSTSEC-2016-0001", None),
        ("crates.io", "openssl", "0.10.0", "RUSTSEC-2016-0001", None),
        // RUSTSEC-2017-0002: two branches, fixed 0.9.18 and 0.10.2.
        (
            "crates.io",
            "hyper",
            "0.9.17",
            "RUSTSEC-2017-0002",
            fixed("0.9.18"),
        ),
        ("crates.io", "hyper", "0.9.18", "RUSTSEC-2017-0002", None),
        (
            "crates.io",
            "hyper",
            "0.10.1",
            "RUSTSEC-2017-0002",
            fixed("0.10.2"),
        ),
        ("crates.io", "hyper", "0.10.2", "RUSTSEC-2017-0002", None),
        // GO-2020-0001: introduced 0, fixed 1.6.0; Go writes versions with a `v`.
        (
            "Go",
            "github.com/gin-gonic/gin",
            "v1.5.0",
            "GO-2020-0001",
            fixed("1.6.0"),
        ),
        (
            "Go",
            "github.com/gin-gonic/gin",
            "1.5.0",
            "GO-2020-0001",
            fixed("1.6.0"),
        ),
        (
            "Go",
            "github.com/gin-gonic/gin",
            "v1.6.0",
            "GO-2020-0001",
            None,
        ),
        // GO-2022-0344: three branches (…1.4.13, 1.5.0…1.5.10, 1.6.0…1.6.1).
        (
            "Go",
            "github.com/containerd/containerd",
            "v1.4.12",
            "GO-2022-0344",
            fixed("1.4.13"),
        ),
        (
            "Go",
            "github.com/containerd/containerd",
            "v1.4.13",
            "GO-2022-0344",
            None,
        ),
        (
            "Go",
            "github.com/containerd/containerd",
            "v1.5.9",
            "GO-2022-0344",
            fixed("1.5.10"),
        ),
        (
            "Go",
            "github.com/containerd/containerd",
            "v1.5.10",
            "GO-2022-0344",
            None,
        ),
        (
            "Go",
            "github.com/containerd/containerd",
            "v1.6.0",
            "GO-2022-0344",
            fixed("1.6.1"),
        ),
        (
            "Go",
            "github.com/containerd/containerd",
            "v1.6.1",
            "GO-2022-0344",
            None,
        ),
        // PYSEC-2021-76: ECOSYSTEM introduced 0, fixed 3.7.4 (PEP 440 order; any spelling
        // of the name).
        ("PyPI", "aiohttp", "3.7.3", "PYSEC-2021-76", fixed("3.7.4")),
        (
            "PyPI",
            "AIOHTTP",
            "3.7.4rc1",
            "PYSEC-2021-76",
            fixed("3.7.4"),
        ),
        ("PyPI", "aiohttp", "3.7.4", "PYSEC-2021-76", None),
        ("PyPI", "aiohttp", "3.8.0", "PYSEC-2021-76", None),
        // PYSEC-2022-42969: introduced 0, last_affected 1.11.0: affected, no fix.
        ("PyPI", "py", "1.11.0", "PYSEC-2022-42969", Some(None)),
        ("PyPI", "py", "1.10.0", "PYSEC-2022-42969", Some(None)),
        ("PyPI", "py", "1.11.1", "PYSEC-2022-42969", None),
        // PYSEC-2024-1: a `versions` list only (0.5).
        ("PyPI", "gratient", "0.5", "PYSEC-2024-1", Some(None)),
        ("PyPI", "gratient", "0.5.0", "PYSEC-2024-1", Some(None)),
        ("PyPI", "gratient", "0.6", "PYSEC-2024-1", None),
    ];
    for (ecosystem, name, version, id, want) in cases {
        assert_eq!(
            &verdict(ecosystem, name, version, id),
            want,
            "{id} for {name} {version}"
        );
    }
}

#[test]
fn aliases_are_kept_so_cve_ids_find_the_finding() {
    if db().is_none() {
        return;
    }
    // RUSTSEC-2016-0001 is CVE-2016-10931 and GHSA-34p9-f4q3-c4r7.
    let found = package(db().unwrap(), "crates.io", "openssl", "0.8.0");
    let finding = found
        .findings
        .iter()
        .find(|f| f.id == "RUSTSEC-2016-0001")
        .unwrap();
    assert!(finding.aliases.contains(&"CVE-2016-10931".to_owned()));
    assert_eq!(finding.severity.as_str(), "HIGH", "CVSS 3.0 base score 8.1");
}
