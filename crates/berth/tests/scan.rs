//! `berth scan` end to end: the CI gate (exit code, severity, unfixed, ignore file with
//! expiry), the report shapes (Trivy's JSON field by field, the table, SARIF valid against the
//! SARIF 2.1.0 schema, CycloneDX valid with vulnerabilities), the Debian known-answer corpus
//! as a directory and as an image, and the one image-opening path of `berth sbom` and
//! `berth scan` giving the same catalogue from every place an image can be.
//!
//! The fixture is a small Debian root file system (a dpkg status and os-release) and a
//! tracker-format advisory file written here, with one finding of each kind: fixed HIGH,
//! unfixed LOW, fixed MEDIUM, and an `unimportant` one (UNKNOWN).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use berth_vulndb::Database;
use serde_json::Value;
use test_support::reports::{validate_cyclonedx, validate_sarif};
use test_support::{Berth, BerthRegistry, json};

const BIN: &str = env!("CARGO_BIN_EXE_berth");

const STATUS: &str = "\
Package: bar
Status: install ok installed
Architecture: amd64
Version: 2.0-1
Description: bar

Package: libfoo1
Status: install ok installed
Architecture: amd64
Source: foo
Version: 1.0-1
Description: foo's library

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library
";

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n";

const TRACKER: &str = r#"{
  "zlib": {"CVE-2099-0001": {"description": "zlib overflow", "releases": {"bookworm": {
    "status": "resolved", "fixed_version": "1:1.2.13.dfsg-1+deb12u1", "urgency": "high", "repositories": {}}}}},
  "foo": {"CVE-2099-0002": {"description": "foo leaks", "releases": {"bookworm": {
    "status": "open", "urgency": "low", "repositories": {}}}}},
  "bar": {
    "CVE-2099-0003": {"description": "bar crashes", "releases": {"bookworm": {
      "status": "resolved", "fixed_version": "2.0-2", "urgency": "medium", "repositories": {}}}},
    "CVE-2099-0004": {"description": "bar is odd", "releases": {"bookworm": {
      "status": "open", "urgency": "unimportant", "repositories": {}}}}
  }
}"#;

/// A store, the fixture's root file system and its database.
struct Fixture {
    dir: tempfile::TempDir,
    berth: Berth,
    rootfs: PathBuf,
    db: PathBuf,
    /// When the database was imported.
    imported: Instant,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        write_rootfs(&rootfs, STATUS, OS_RELEASE);
        let tracker = dir.path().join("tracker.json");
        fs::write(&tracker, TRACKER).unwrap();
        let db = database(dir.path(), &tracker);
        let imported = Instant::now();
        let berth = Berth::new(BIN, &dir.path().join("root"));
        Fixture {
            dir,
            berth,
            rootfs,
            db,
            imported,
        }
    }

    fn target(&self) -> String {
        format!("dir:{}", self.rootfs.display())
    }

    /// `berth scan TARGET --db DB ARGS` in the fixture's directory (no `.trivyignore` there
    /// unless a test writes one).
    fn scan(&self, target: &str, args: &[&str]) -> Output {
        self.berth
            .scan(target, &self.db, self.dir.path())
            .args(args)
            .output()
            .unwrap()
    }

    /// `berth ARGS`, with the database for a scan.
    fn scan_like(&self, args: &[&str]) -> Output {
        let mut c = self.berth.command();
        c.args(args);
        if args[0] == "scan" {
            c.arg("--db").arg(&self.db);
        }
        c.output().unwrap()
    }

    /// The exit status of a scan of the fixture directory with `args`.
    fn status(&self, args: &[&str]) -> i32 {
        self.scan(&self.target(), args).status.code().unwrap()
    }

    /// The report of a successful scan.
    fn report(&self, target: &str, args: &[&str]) -> String {
        let out = self.scan(target, args);
        assert!(
            out.status.success(),
            "berth scan {target} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn write_rootfs(root: &Path, status: &str, os_release: &str) {
    fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("var/lib/dpkg/status"), status).unwrap();
    fs::write(root.join("etc/os-release"), os_release).unwrap();
}

/// A database of `advisories`, in `dir/db`.
fn database(dir: &Path, advisories: &Path) -> PathBuf {
    let path = dir.join("db");
    let mut db = Database::new();
    db.import("debian", advisories).unwrap();
    db.save(&path).unwrap();
    path
}

/// The (id, package) pairs of a JSON report.
fn findings(report: &Value) -> BTreeSet<(String, String)> {
    report["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .map(|v| {
            (
                v["VulnerabilityID"].as_str().unwrap().to_string(),
                v["PkgName"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn ids(report: &str) -> BTreeSet<String> {
    findings(&json(report))
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn gate() {
    let f = Fixture::new();
    // Findings and no --exit-code: 0; with it: the code.
    assert_eq!(f.status(&[]), 0);
    assert_eq!(f.status(&["--exit-code", "3"]), 3);
    // Nothing critical: the gate passes.
    assert_eq!(f.status(&["--severity", "CRITICAL", "--exit-code", "3"]), 0);
    assert_eq!(
        f.status(&["--severity", "HIGH,CRITICAL", "--exit-code", "1"]),
        1
    );
    let only_high = f.report(&f.target(), &["--severity", "HIGH", "--format", "json"]);
    assert_eq!(ids(&only_high), set(&["CVE-2099-0001"]));
    // --ignore-unfixed leaves out the LOW and UNKNOWN ones that have no fix.
    let fixed = f.report(&f.target(), &["--ignore-unfixed", "--format", "json"]);
    assert_eq!(ids(&fixed), set(&["CVE-2099-0001", "CVE-2099-0003"]));
    assert_eq!(
        f.status(&[
            "--ignore-unfixed",
            "--severity",
            "LOW,UNKNOWN",
            "--exit-code",
            "1"
        ]),
        0
    );

    // The ignore file: an id, an unexpired entry and an expired one, with comments.
    let ignore = f.dir.path().join("accepted.txt");
    fs::write(
        &ignore,
        "# accepted until the base moves\nCVE-2099-0001 exp:2999-01-01\n\nCVE-2099-0003 exp:2000-01-01 # lapsed\nCVE-2099-0004\n",
    )
    .unwrap();
    let ignore_arg = ignore.to_str().unwrap();
    let out = f.scan(
        &f.target(),
        &["--ignorefile", ignore_arg, "--format", "json"],
    );
    assert!(out.status.success());
    assert_eq!(
        ids(&String::from_utf8(out.stdout).unwrap()),
        set(&["CVE-2099-0002", "CVE-2099-0003"]),
        "the unexpired entries suppress, the expired one does not"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{ignore_arg}:4: CVE-2099-0003 expired on 2000-01-01"
        )),
        "{err}"
    );
    assert_eq!(
        f.status(&[
            "--ignorefile",
            ignore_arg,
            "--severity",
            "HIGH",
            "--exit-code",
            "1"
        ]),
        0
    );
    assert_eq!(
        f.status(&[
            "--ignorefile",
            ignore_arg,
            "--severity",
            "MEDIUM",
            "--exit-code",
            "1"
        ]),
        1
    );
    // .trivyignore in the current directory is read by default.
    fs::write(f.dir.path().join(".trivyignore"), "CVE-2099-0001\n").unwrap();
    assert_eq!(f.status(&["--severity", "HIGH", "--exit-code", "1"]), 0);
    fs::remove_file(f.dir.path().join(".trivyignore")).unwrap();

    // A malformed entry is named by file and line; a named file that is missing is an error.
    fs::write(&ignore, "CVE-1\nCVE-2 exp:soon\n").unwrap();
    let out = f.scan(&f.target(), &["--ignorefile", ignore_arg]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{ignore_arg}:2: exp:soon")), "{err}");
    let out = f.scan(&f.target(), &["--ignorefile", "missing.txt"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.txt"));

    // --pkg-types library leaves nothing of a distribution; --skip-dirs the dpkg database.
    assert_eq!(f.status(&["--pkg-types", "library", "--exit-code", "1"]), 0);
    assert_eq!(
        f.status(&["--skip-dirs", "/var/lib/dpkg", "--exit-code", "1"]),
        0
    );
    assert_eq!(
        f.status(&["--skip-dirs", "/var/lib/dp", "--exit-code", "1"]),
        1
    );

    // No database: the error says how to get one. The data's age is said on stderr.
    let out = f
        .berth
        .command()
        .args(["scan", &f.target()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("berth db import"),
        "{err}"
    );
    let out = f.scan(&f.target(), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("database source debian: 4 advisories, data "),
        "{err}"
    );
    assert!(!err.contains("warning"), "{err}");
    // Once the data is older than --db-max-age, a warning says so (the report still comes).
    std::thread::sleep(Duration::from_secs(2).saturating_sub(f.imported.elapsed()));
    let out = f.scan(&f.target(), &["--db-max-age", "1s", "--exit-code", "4"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: database source debian is")
            && err.contains("more than --db-max-age 1s"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn json_table_sarif_cyclonedx() {
    let f = Fixture::new();
    let b = &f.berth;
    let rootfs = f.rootfs.display().to_string();
    b.ok(&["import", "-q", &rootfs, "fixture:1"]);

    let report = json(&f.report("fixture:1", &["--format", "json"]));
    assert_eq!(report["SchemaVersion"], 2);
    assert_eq!(report["CreatedAt"], "2024-01-01T00:00:00Z");
    assert_eq!(report["ArtifactName"], "fixture:1");
    assert_eq!(report["ArtifactType"], "container_image");
    let meta = &report["Metadata"];
    assert_eq!(
        meta["OS"],
        serde_json::json!({"Family": "debian", "Name": "12"})
    );
    assert!(meta["ImageID"].as_str().unwrap().starts_with("sha256:"));
    let diff_id = meta["DiffIDs"][0].as_str().unwrap();
    assert_eq!(meta["RepoTags"], serde_json::json!(["fixture:1"]));
    let result = &report["Results"][0];
    assert_eq!(result["Target"], "fixture:1 (debian 12)");
    assert_eq!(result["Class"], "os-pkgs");
    assert_eq!(result["Type"], "debian");
    let vulns = result["Vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 4);
    // Sorted as Trivy sorts: package, then the most severe first.
    let order: Vec<&str> = vulns
        .iter()
        .map(|v| v["VulnerabilityID"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "CVE-2099-0003",
            "CVE-2099-0004",
            "CVE-2099-0002",
            "CVE-2099-0001"
        ]
    );
    let zlib = &vulns[3];
    assert_eq!(zlib["PkgName"], "zlib1g");
    assert_eq!(zlib["PkgID"], "zlib1g@1:1.2.13.dfsg-1");
    assert_eq!(
        zlib["PkgIdentifier"]["PURL"],
        "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib"
    );
    assert_eq!(zlib["InstalledVersion"], "1:1.2.13.dfsg-1");
    assert_eq!(zlib["FixedVersion"], "1:1.2.13.dfsg-1+deb12u1");
    assert_eq!(zlib["Status"], "fixed");
    assert_eq!(zlib["Layer"]["DiffID"], diff_id);
    assert_eq!(zlib["SeveritySource"], "debian");
    assert_eq!(
        zlib["PrimaryURL"],
        "https://security-tracker.debian.org/tracker/CVE-2099-0001"
    );
    assert_eq!(zlib["Title"], "zlib overflow");
    assert_eq!(zlib["Severity"], "HIGH");
    let foo = &vulns[2];
    assert_eq!(foo["Status"], "affected");
    assert!(foo.get("FixedVersion").is_none(), "left out, as Trivy does");
    assert_eq!(vulns[1]["Severity"], "UNKNOWN");

    // The table: the summary line and the columns.
    let table = f.report("fixture:1", &[]);
    assert!(
        table.contains("fixture:1 (debian 12)\n=====================\nTotal: 4 (UNKNOWN: 1, LOW: 1, MEDIUM: 1, HIGH: 1, CRITICAL: 0)"),
        "{table}"
    );
    for heading in [
        "Library",
        "Vulnerability",
        "Severity",
        "Status",
        "Installed Version",
        "Fixed Version",
        "Title",
    ] {
        assert!(table.contains(heading), "{table}");
    }
    assert!(
        table.contains("│ zlib1g  │ CVE-2099-0001 │ HIGH     │ fixed    │ 1:1.2.13.dfsg-1   │ 1:1.2.13.dfsg-1+deb12u1 │ zlib overflow │"),
        "{table}"
    );

    // SARIF: valid against the SARIF 2.1.0 schema; one rule per id, with its score.
    let sarif = f.report("fixture:1", &["--format", "sarif"]);
    validate_sarif(&sarif);
    let sarif = json(&sarif);
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 4);
    assert_eq!(rules[0]["id"], "CVE-2099-0001");
    assert_eq!(rules[0]["properties"]["security-severity"], "8.0");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let zlib = results
        .iter()
        .find(|r| r["ruleId"] == "CVE-2099-0001")
        .unwrap();
    assert_eq!(zlib["level"], "error");
    assert_eq!(
        zlib["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "var/lib/dpkg/status"
    );

    // CycloneDX: valid 1.6, each vulnerability affecting a component of the document.
    let cdx = f.report(
        "fixture:1",
        &["--format", "cyclonedx", "-o", "report.cdx.json"],
    );
    assert!(cdx.is_empty(), "-o: nothing on standard output");
    let cdx = fs::read_to_string(f.dir.path().join("report.cdx.json")).unwrap();
    validate_cyclonedx(&cdx);
    let cdx = json(&cdx);
    let refs: BTreeSet<&str> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    let vulns = cdx["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 4);
    for v in vulns {
        let affected = v["affects"][0]["ref"].as_str().unwrap();
        assert!(refs.contains(affected), "{v}");
    }
    // spdx-json is the SBOM, as Trivy writes it.
    let spdx = json(&f.report("fixture:1", &["--format", "spdx-json"]));
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
}

/// The same image read from the store, a berth registry, an OCI layout, an OCI archive and a
/// Docker archive gives the same catalogue (each package's layer included) and the same
/// findings; where the place keeps the manifest as it is (all but the Docker archive, which
/// stores layers uncompressed), the same SBOM but for the name asked for (and the serial
/// number made from it).
#[test]
fn every_image_location() {
    let f = Fixture::new();
    let b = &f.berth;
    let d = f.dir.path();
    b.ok(&["import", "-q", &f.rootfs.display().to_string(), "fixture:1"]);
    let registry = BerthRegistry::start(BIN, &d.join("registry"), None);
    let remote = format!("{}/fixture:1", registry.addr);
    b.ok(&["push", "-q", "fixture:1", &remote]);
    let places = [
        ("fixture:1".to_string(), true),
        (format!("docker://{remote}"), true),
        (format!("oci:{}:fixture", d.join("layout").display()), true),
        (
            format!("oci-archive:{}", d.join("image.oci.tar").display()),
            true,
        ),
        (
            format!("docker-archive:{}", d.join("image.docker.tar").display()),
            false,
        ),
    ];
    for (place, _) in &places[2..] {
        b.ok(&["copy", "-q", "fixture:1", place]);
    }
    let sbom = |place: &str, format: &str| {
        let out = b
            .command()
            .args(["sbom", place, "--format", format])
            .env("SOURCE_DATE_EPOCH", "1704067200")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "berth sbom {place}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The name asked for, and so the serial number made from the content, differ.
        let mut doc = json(
            &String::from_utf8(out.stdout)
                .unwrap()
                .replace(place, "IMAGE"),
        );
        doc.as_object_mut().unwrap().remove("serialNumber");
        doc
    };
    let want_packages = sbom("fixture:1", "berth-json")["packages"].clone();
    assert_eq!(want_packages.as_array().unwrap().len(), 3);
    let want_cdx = sbom("fixture:1", "cyclonedx");
    let want_findings = findings(&json(&f.report("fixture:1", &["--format", "json"])));
    assert_eq!(want_findings.len(), 4);
    for (place, same_manifest) in &places {
        assert_eq!(
            sbom(place, "berth-json")["packages"],
            want_packages,
            "{place}"
        );
        if *same_manifest {
            assert_eq!(sbom(place, "cyclonedx"), want_cdx, "{place}");
        }
        let report = json(&f.report(place, &["--format", "json"]));
        assert_eq!(findings(&report), want_findings, "{place}");
        if let Some(reference) = place.strip_prefix("docker://") {
            let digest = report["Metadata"]["RepoDigests"][0].as_str().unwrap();
            assert!(
                digest.starts_with(&format!("{}@sha256:", reference.trim_end_matches(":1"))),
                "{digest}"
            );
        }
    }

    // A place holding two images, with none named, is refused: which one is for the user.
    let two = d.join("two");
    let other = d.join("other-rootfs");
    write_rootfs(
        &other,
        &STATUS.replace("Package: bar", "Package: baz"),
        OS_RELEASE,
    );
    b.ok(&["import", "-q", &other.display().to_string(), "other:1"]);
    b.ok(&[
        "copy",
        "-q",
        "fixture:1",
        &format!("oci:{}:fixture", two.display()),
    ]);
    b.ok(&[
        "copy",
        "-q",
        "other:1",
        &format!("oci:{}:other", two.display()),
    ]);
    let err = b.fails(&["sbom", &format!("oci:{}", two.display())]);
    assert!(
        err.contains("holds 2 images; name one (PATH:NAME)"),
        "{err}"
    );

    // A layer altered where decompression does not look (the gzip header's time stamp): the
    // catalogers stop at the tar's end, but the blob is read to its end, its digest checked,
    // and the image refused rather than described.
    let layout = oci_layer(&d.join("layout"));
    let mut bytes = fs::read(&layout).unwrap();
    assert_eq!(bytes[..2], [0x1f, 0x8b], "a gzip layer");
    bytes[4] ^= 0xff;
    fs::write(&layout, bytes).unwrap();
    let place = &places[2].0;
    for args in [["sbom", place.as_str()], ["scan", place.as_str()]] {
        let out = f.scan_like(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("the data is corrupt or was altered"),
            "{args:?}: {err}"
        );
        assert!(
            out.stdout.is_empty(),
            "{args:?}: no report of altered bytes"
        );
    }
}

/// The blob file of the only layer of the only image in an OCI layout.
fn oci_layer(layout: &Path) -> PathBuf {
    let blob = |digest: &str| {
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let index = json(&fs::read_to_string(layout.join("index.json")).unwrap());
    let manifest =
        json(&fs::read_to_string(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap());
    blob(manifest["layers"][0]["digest"].as_str().unwrap())
}

/// The Debian bookworm corpus (a real minbase dpkg status, tracker-format data and
/// `expected.json` made with dpkg as the oracle): the findings of `berth scan` as a directory
/// and as an image equal the oracle's affected rows.
#[test]
fn debian_corpus() {
    let Some(corpus) = test_support::corpus("debian-bookworm") else {
        return;
    };
    let f = Fixture::new();
    let d = f.dir.path();
    let rootfs = d.join("bookworm");
    write_rootfs(
        &rootfs,
        &fs::read_to_string(corpus.join("status")).unwrap(),
        &fs::read_to_string(corpus.join("os-release")).unwrap(),
    );
    let db = database(&d.join("corpus"), &corpus.join("tracker.json"));
    let expected: Value = json(&fs::read_to_string(corpus.join("expected.json")).unwrap());
    let want: BTreeSet<(String, String, String, String)> = expected["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("cve"), s("package"), s("version"), s("fixed_version"))
        })
        .collect();
    assert_eq!(want.len(), 27);
    f.berth.ok(&[
        "import",
        "-q",
        &rootfs.display().to_string(),
        "bookworm:corpus",
    ]);
    for target in [
        format!("dir:{}", rootfs.display()),
        "bookworm:corpus".into(),
    ] {
        let out = f
            .berth
            .command()
            .args([
                "scan",
                &target,
                "--format",
                "json",
                "--exit-code",
                "5",
                "--db",
            ])
            .arg(&db)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(5),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = json(&String::from_utf8(out.stdout).unwrap());
        let got: BTreeSet<(String, String, String, String)> =
            report["Results"][0]["Vulnerabilities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    let s = |k: &str| v[k].as_str().unwrap().to_string();
                    (
                        s("VulnerabilityID"),
                        s("PkgName"),
                        s("InstalledVersion"),
                        s("FixedVersion"),
                    )
                })
                .collect();
        assert_eq!(got, want, "{target}");
    }
}
