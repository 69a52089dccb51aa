//! The tracker's verdicts as a scan reports them, a DSA merged with its CVE, and what cannot
//! be judged, on a small root file system.

use std::fs;

use berth_catalog::{DirFs, catalog};
use berth_match::Status;
use berth_vulndb::Database;

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
    "CVE-2020-0006": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "1.0-1", "urgency": "high"}}}
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
    let root = tmp.path().join("root");
    fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("var/lib/dpkg/status"), STATUS).unwrap();
    fs::write(
        root.join("etc/os-release"),
        "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
    )
    .unwrap();
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
            ("libfoo1", v, "CVE-2020-0002", Status::WillNotFix, None),
            ("libfoo1", v, "CVE-2020-0003", Status::FixDeferred, None),
            // The bookworm verdict, not trixie's; the DSA naming it is merged in.
            ("libfoo1", v, "CVE-2020-0005", Status::Fixed, Some("1.0-2")),
        ]
    );
    assert_eq!(found.findings[3].aliases, ["DSA-0001-1"]);
    assert_eq!(found.findings[3].severity.as_str(), "HIGH");
    // A fixed version dpkg would refuse is said, not guessed either way.
    assert_eq!(found.unjudged.len(), 1, "{:?}", found.unjudged);
    assert_eq!(found.unjudged[0].id, "CVE-2020-0007");
    assert!(
        found.unjudged[0].why.contains("2.0 -2"),
        "{:?}",
        found.unjudged
    );
}
