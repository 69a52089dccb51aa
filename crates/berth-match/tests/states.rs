//! The tracker's verdicts as a scan reports them, a DSA merged with its CVE, and what cannot
//! be judged, on a small root file system.

use std::fs;
use std::path::{Path, PathBuf};

use berth_catalog::{DirFs, catalog};
use berth_match::Status;
use berth_vulndb::Database;

/// A root file system under `dir` holding `files` (path, content).
fn root_with(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    let root = dir.join("root");
    for (path, content) in files {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    root
}

const STATUS: &str = "\
Package: libfoo1
Status: install ok installed
Architecture: amd64
Source: foo (1.0-1)
Version: 1.0-1+b1

Package: bar
Status: install ok installed
Architecture: amd64
Version: 2.0-1
";

const FEED: &str = r#"{
  "foo": {
    "CVE-2020-0001": {"releases": {"bookworm": {"status": "open", "urgency": "low"}}},
    "CVE-2020-0002": {"releases": {"bookworm": {"status": "open", "nodsa": "Minor issue", "urgency": "low"}}},
    "CVE-2020-0003": {"releases": {"bookworm": {"status": "open", "nodsa": "", "nodsa_reason": "postponed", "urgency": "low"}}},
    "CVE-2020-0004": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "0", "urgency": "low"}}},
    "CVE-2020-0005": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "1.0-2", "urgency": "high"},
                                   "trixie": {"status": "resolved", "fixed_version": "1.0-9", "urgency": "high"}}},
    "CVE-2020-0006": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "1.0-1", "urgency": "high"}}},
    "CVE-2020-0008": {"releases": {"bookworm": {"status": "open", "urgency": "end-of-life"}}}
  },
  "bar": {
    "CVE-2020-0007": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "2.0 -2", "urgency": "low"}}}
  }
}"#;

const DSA: &str = r#"{
  "id": "DSA-0001-1", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2020-0005"],
  "affected": [{"package": {"ecosystem": "Debian:12", "name": "foo"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0-2"}]}]}]
}"#;

#[test]
fn tracker_verdicts_become_trivy_statuses() {
    let tmp = tempfile::tempdir().unwrap();
    let root = root_with(
        tmp.path(),
        &[
            ("var/lib/dpkg/status", STATUS),
            (
                "etc/os-release",
                "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
            ),
        ],
    );
    fs::write(tmp.path().join("feed.json"), FEED).unwrap();
    fs::write(tmp.path().join("dsa.json"), DSA).unwrap();
    let mut db = Database::new();
    db.import("tracker", &tmp.path().join("feed.json")).unwrap();
    db.import("osv", &tmp.path().join("dsa.json")).unwrap();

    let found = berth_match::catalog(&db, &catalog(&DirFs::open(&root).unwrap()).unwrap());
    let got: Vec<_> = found
        .findings
        .iter()
        .map(|f| {
            (
                f.package.as_str(),
                f.installed.as_str(),
                f.id.as_str(),
                f.status,
                f.fixed_version.as_deref(),
            )
        })
        .collect();
    let v = "1.0-1+b1";
    assert_eq!(
        got,
        [
            ("libfoo1", v, "CVE-2020-0001", Status::Affected, None),
            // <no-dsa>: no advisory planned, not "will not fix" (Trivy: affected).
            ("libfoo1", v, "CVE-2020-0002", Status::Affected, None),
            ("libfoo1", v, "CVE-2020-0003", Status::FixDeferred, None),
            // The bookworm verdict, not trixie's; the DSA naming it is merged in.
            ("libfoo1", v, "CVE-2020-0005", Status::Fixed, Some("1.0-2")),
            ("libfoo1", v, "CVE-2020-0008", Status::EndOfLife, None),
        ]
    );
    assert_eq!(found.findings[3].aliases, ["DSA-0001-1"]);
    assert_eq!(found.findings[3].severity.as_str(), "HIGH");
    assert_eq!(found.findings[4].status.as_str(), "end_of_life");
    // A fixed version dpkg would refuse is said, not guessed either way.
    assert_eq!(found.unjudged.len(), 1, "{:?}", found.unjudged);
    assert_eq!(found.unjudged[0].id, "CVE-2020-0007");
    assert!(
        found.unjudged[0].why.contains("2.0 -2"),
        "{:?}",
        found.unjudged
    );
}

const APK_INSTALLED: &str = "\
P:libcrypto3
V:3.1.4-r0
A:x86_64
o:openssl

P:musl
V:1.2.4-r2
A:x86_64
o:musl
";

const SECDB: &str = r#"{
  "apkurl": "{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
  "archs": ["x86_64"],
  "reponame": "main",
  "urlprefix": "https://example.invalid/alpine",
  "distroversion": "v3.19",
  "packages": [
    {"pkg": {"name": "openssl", "secfixes": {
      "3.1.4-r1": ["CVE-2023-5678"],
      "3.1.4-r0": ["CVE-2023-5363"],
      "3.1.2-r0": ["CVE-2023-2975 CVE-2023-3446"],
      "0": ["CVE-2022-0001"]
    }}},
    {"pkg": {"name": "musl", "secfixes": {"1.2.4_git20230717-r1": ["CVE-2025-26519"]}}}
  ]
}"#;

#[test]
fn alpine_packages_match_secdb_by_origin_in_apk_order() {
    let tmp = tempfile::tempdir().unwrap();
    let root = root_with(
        tmp.path(),
        &[
            ("lib/apk/db/installed", APK_INSTALLED),
            ("etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n"),
        ],
    );
    fs::write(tmp.path().join("main.json"), SECDB).unwrap();
    let mut db = Database::new();
    let source = db.import("secdb", &tmp.path().join("main.json")).unwrap();
    assert_eq!(
        source.advisories, 5,
        "two ids in one value are two advisories"
    );
    assert_eq!(source.not_reported, 1, "the \"0\" key: never affected");

    let found = berth_match::catalog(&db, &catalog(&DirFs::open(&root).unwrap()).unwrap());
    assert!(found.unjudged.is_empty(), "{:?}", found.unjudged);
    let got: Vec<_> = found
        .findings
        .iter()
        .map(|f| {
            (
                f.package.as_str(),
                f.id.as_str(),
                f.fixed_version.as_deref(),
            )
        })
        .collect();
    // 3.1.4-r0 < 3.1.4-r1; 1.2.4-r2 < 1.2.4_git20230717-r1 (a `_git` suffix sorts after
    // the plain version in apk's order).
    assert_eq!(
        got,
        [
            ("libcrypto3", "CVE-2023-5678", Some("3.1.4-r1")),
            ("musl", "CVE-2025-26519", Some("1.2.4_git20230717-r1")),
        ]
    );
}
