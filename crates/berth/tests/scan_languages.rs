//! `berth scan` of language packages (`test_support::languages`: Python metadata, a scoped
//! npm package, a jar, a Go executable, a cargo-auditable executable) against the osv-pypi,
//! osv-go and osv-rustsec corpora: the findings reported per target as Trivy groups them
//! (Python, Node.js and Java gathered; each executable its own target), in every format, the
//! same from `dir:` and from the tree imported as an image; `--pkg-types` selects them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Output;

use berth_vulndb::Database;
use serde_json::Value;
use test_support::languages::{self, at};
use test_support::reports::{validate_cyclonedx, validate_sarif};
use test_support::{Berth, json, run_ok};

const BIN: &str = env!("CARGO_BIN_EXE_berth");

struct Fixture {
    dir: tempfile::TempDir,
    berth: Berth,
    rootfs: PathBuf,
    db: PathBuf,
}

impl Fixture {
    fn new() -> Option<Fixture> {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::new();
        for corpus in ["osv-rustsec", "osv-go", "osv-pypi"] {
            db.import(corpus, &test_support::corpus(corpus)?).unwrap();
        }
        languages::advisories(&dir.path().join("ghsa"));
        db.import("ghsa", &dir.path().join("ghsa")).unwrap();
        db.save(&dir.path().join("db")).unwrap();
        let rootfs = dir.path().join("rootfs");
        languages::language_rootfs(&rootfs, &dir.path().join("scratch"));
        Some(Fixture {
            berth: Berth::new(BIN, &dir.path().join("root")),
            db: dir.path().join("db"),
            rootfs,
            dir,
        })
    }

    fn scan(&self, target: &str, args: &[&str]) -> Output {
        self.berth
            .scan(target, &self.db, self.dir.path())
            .args(args)
            .output()
            .unwrap()
    }

    fn report(&self, target: &str, args: &[&str]) -> String {
        run_ok(
            self.berth
                .scan(target, &self.db, self.dir.path())
                .args(args),
        )
    }
}

/// A result's findings: (id, package, installed, fixed, PkgPath).
type Rows = BTreeSet<(String, String, String, String, String)>;

/// Per target: its class, type and findings.
fn results(report: &Value) -> BTreeMap<String, (String, String, Rows)> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    report["Results"]
        .as_array()
        .unwrap_or_else(|| panic!("no Results: {report:#}"))
        .iter()
        .map(|r| {
            let rows = r["Vulnerabilities"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| {
                    (
                        text(&v["VulnerabilityID"]),
                        text(&v["PkgName"]),
                        text(&v["InstalledVersion"]),
                        text(&v["FixedVersion"]),
                        text(&v["PkgPath"]),
                    )
                })
                .collect();
            (
                text(&r["Target"]),
                (text(&r["Class"]), text(&r["Type"]), rows),
            )
        })
        .collect()
}

fn row(
    id: &str,
    name: &str,
    installed: &str,
    fixed: &str,
    path: &str,
) -> (String, String, String, String, String) {
    (
        id.into(),
        name.into(),
        installed.into(),
        fixed.into(),
        path.into(),
    )
}

#[test]
fn language_findings_per_target_in_every_format_from_a_directory_and_an_image_as_trivy_finds_them()
{
    let Some(f) = Fixture::new() else { return };
    let dir = format!("dir:{}", f.rootfs.display());
    let report = json(&f.report(&dir, &["--format", "json"]));
    let got = results(&report);

    let targets: BTreeMap<&str, (&str, &str)> = got
        .iter()
        .map(|(t, (class, kind, _))| (t.as_str(), (class.as_str(), kind.as_str())))
        .collect();
    assert_eq!(
        targets,
        BTreeMap::from([
            ("Java", ("lang-pkgs", "jar")),
            ("Node.js", ("lang-pkgs", "node-pkg")),
            ("Python", ("lang-pkgs", "python-pkg")),
            (at::GO, ("lang-pkgs", "gobinary")),
            (at::RUST, ("lang-pkgs", "rustbinary")),
        ])
    );
    // The fixed PyYAML 5.4 in the other site-packages is clean; the GHSA record for PyYAML's
    // CVE is merged into the PYSEC one.
    assert_eq!(
        got["Python"].2,
        BTreeSet::from([
            row("PYSEC-2021-142", "pyyaml", "5.3.1", "5.4", at::PYYAML),
            row("PYSEC-2022-42969", "py", "1.11.0", "", at::PY),
            row("PYSEC-2024-1", "gratient", "0.5", "", at::GRATIENT),
        ])
    );
    assert_eq!(
        got["Node.js"].2,
        BTreeSet::from([row(
            "GHSA-aaaa-bbbb-cccc",
            "@acme/widget",
            "1.2.0",
            "1.2.1",
            at::WIDGET
        )])
    );
    assert_eq!(
        got["Java"].2,
        BTreeSet::from([row(
            "GHSA-dddd-eeee-ffff",
            "acme-core",
            "2.4.0",
            "2.4.1",
            at::JAR
        )])
    );
    assert_eq!(
        got[at::RUST].2,
        BTreeSet::from([row("RUSTSEC-2026-0190", "anyhow", "1.0.102", "1.0.103", "")])
    );
    // An executable's packages are named by their target alone (no PkgPath), as Trivy does.
    let go = &got[at::GO].2;
    for expected in [
        row("GO-2020-0015", "golang.org/x/text", "v0.3.0", "0.3.3", ""),
        row("GO-2022-1059", "golang.org/x/text", "v0.3.0", "0.3.8", ""),
        row(
            "GO-2020-0012",
            "golang.org/x/crypto",
            "v0.0.0-20200219234226-1ad67e1f0ef4",
            "0.0.0-20200220183623-bac4c82f6975",
            "",
        ),
    ] {
        assert!(go.contains(&expected), "{expected:?} not in {go:#?}");
    }
    // The standard library at the local Go's release, inside GO-2099-0001 (every release
    // before 1.99.0), and not the toolchain's GO-2099-0002.
    let stdlib: BTreeSet<&str> = go
        .iter()
        .filter(|r| r.1 == "stdlib")
        .map(|r| r.0.as_str())
        .collect();
    assert_eq!(stdlib, BTreeSet::from(["GO-2099-0001"]));
    let pyyaml = report["Results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .find(|v| v["VulnerabilityID"] == "PYSEC-2021-142")
        .unwrap();
    assert_eq!(pyyaml["PkgIdentifier"]["PURL"], "pkg:pypi/pyyaml@5.3.1");
    assert_eq!(pyyaml["DataSource"]["ID"], "osv");

    // --pkg-types: `os` leaves the language packages out, `library` gates on them.
    let os_only = json(&f.report(&dir, &["--format", "json", "--pkg-types", "os"]));
    assert_eq!(os_only.get("Results"), None, "{os_only:#}");
    let gate = f.scan(&dir, &["--pkg-types", "library", "--exit-code", "3"]);
    assert_eq!(
        gate.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&gate.stderr)
    );

    // The table: Trivy's headings for language targets.
    let table = f.report(&dir, &[]);
    for heading in [
        "Python (python-pkg)",
        "Node.js (node-pkg)",
        "Java (jar)",
        "usr/bin/hello (gobinary)",
        "usr/local/bin/audited (rustbinary)",
    ] {
        assert!(
            table.contains(&format!("\n{heading}\n")),
            "{heading} missing:\n{table}"
        );
    }

    // SARIF: language rules, each result at the file that lists the package.
    let sarif = f.report(&dir, &["--format", "sarif"]);
    validate_sarif(&sarif);
    let sarif = json(&sarif);
    let rules = &sarif["runs"][0]["tool"]["driver"]["rules"];
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"] == "LanguageSpecificPackageVulnerability")
    );
    let at_pyyaml = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "PYSEC-2021-142")
        .unwrap();
    assert_eq!(
        at_pyyaml["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        at::PYYAML
    );

    // CycloneDX: valid, each vulnerability affecting a component of the document.
    let cdx = f.report(&dir, &["--format", "cyclonedx"]);
    validate_cyclonedx(&cdx);
    let cdx = json(&cdx);
    let refs: BTreeSet<&str> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["bom-ref"].as_str())
        .collect();
    let vulns = cdx["vulnerabilities"].as_array().unwrap();
    assert!(vulns.iter().any(|v| v["id"] == "RUSTSEC-2026-0190"));
    for v in vulns {
        for a in v["affects"].as_array().unwrap() {
            assert!(refs.contains(a["ref"].as_str().unwrap()), "{v}");
        }
    }

    // The same tree as an image: the same targets and findings.
    f.berth.ok(&[
        "import",
        "-q",
        &f.rootfs.display().to_string(),
        "languages:1",
    ]);
    let image = json(&f.report("languages:1", &["--format", "json"]));
    assert_eq!(results(&image), got);

    the_same_as_trivy(&f);
}

/// Trivy 0.76 on the same tree (one test with the rest: building the executables is slow), offline, with a database `scripts/trivy-db/write.py` writes
/// from the same OSV records: the same targets, types and findings, but for the differences
/// berth makes on purpose. The jar is left out of both (`--skip-files`): Trivy insists on
/// downloading its Java database before it reads a jar.
fn the_same_as_trivy(f: &Fixture) {
    let cache = f.dir.path().join("trivy-cache");
    let mut inputs: Vec<PathBuf> = ["osv-pypi", "osv-go", "osv-rustsec"]
        .iter()
        .map(|c| test_support::corpus(c).unwrap())
        .collect();
    inputs.push(f.dir.path().join("ghsa"));
    test_support::trivy::write_db(&cache, &inputs);
    let trivy = run_ok(
        test_support::trivy::rootfs(&cache)
            .args(["--skip-files", at::JAR])
            .arg(&f.rootfs),
    );
    let mut trivy = results(&json(&trivy));
    let mut berth = results(&json(&f.report(
        &format!("dir:{}", f.rootfs.display()),
        &["--format", "json"],
    )));
    assert!(berth.remove("Java").is_some());

    // On purpose: the catalogue names Python distributions in lower case and gives the
    // standard library the Go release's own name (`go1.27.3`), as Syft does, where Trivy
    // keeps the metadata's `PyYAML` and writes `v1.27.3`; and berth merges the GHSA record
    // into the PYSEC one for the same CVE, where Trivy reports both ids.
    let python = &mut trivy.get_mut("Python").unwrap().2;
    let merged = row("GHSA-8q59-q68h-6hv4", "PyYAML", "5.3.1", "5.4", at::PYYAML);
    assert!(python.remove(&merged), "{python:#?}");
    *python = std::mem::take(python)
        .into_iter()
        .map(|(id, name, installed, fixed, path)| (id, name.to_lowercase(), installed, fixed, path))
        .collect();
    let go = &mut trivy.get_mut(at::GO).unwrap().2;
    *go = std::mem::take(go)
        .into_iter()
        .map(|(id, name, installed, fixed, path)| match name.as_str() {
            "stdlib" => (id, name, installed.replacen('v', "go", 1), fixed, path),
            _ => (id, name, installed, fixed, path),
        })
        .collect();
    assert_eq!(trivy, berth);
}
