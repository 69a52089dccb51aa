//! Trivy as the oracle of berth's Debian findings.
//!
//! The same advisory inputs, the tracker-format feeds berth-vulndb imports, are written into a
//! Trivy database (scripts/trivy-db/write.py, trivy-db's bucket layout), and Trivy 0.76 scans
//! offline a root file system made of the bookworm corpus's dpkg `status`, `os-release` and
//! `debian_version`, then the image `berth import` makes of it (as an OCI layout). Its findings
//! must equal berth's, computed through the libraries (berth-vulndb, berth-catalog,
//! berth-match) and by `berth scan` of the directory, the stored image and the layout, except
//! for the differences listed in [`DIFFERENCES`], each a choice berth makes on purpose.
//!
//! Then [`FLAG_CASES`] records how Trivy's `--ignore-unfixed`, `--severity`, `--exit-code` and
//! `.trivyignore` (with `exp:` dates) behave on the same data, and `berth scan` (the command,
//! its database made by `berth db import`) must behave the same, and report the same rows in
//! the same JSON shape.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_catalog::{DirFs, catalog};
use berth_vulndb::Database;

/// A finding as both report it: (id, package, installed version, fixed version, severity,
/// status).
type Row = (String, String, String, Option<String>, String, String);

/// One verdict of each kind the tracker gives, on packages of the corpus's `status`:
/// coreutils 9.1-1, and util-linux 2.38.1-5+deb12u3 (whose binary `bsdutils` carries an epoch
/// its source lacks).
const STATES: &str = r#"{
 "coreutils": {
  "CVE-2099-0001": {"description": "unfixed", "releases": {"bookworm": {"status": "open", "urgency": "low"}}},
  "CVE-2099-0002": {"description": "no-dsa", "releases": {"bookworm": {"status": "open", "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": ""}}},
  "CVE-2099-0003": {"description": "postponed", "releases": {"bookworm": {"status": "open", "urgency": "medium", "nodsa": "Revisit when fixed upstream", "nodsa_reason": "postponed"}}},
  "CVE-2099-0004": {"description": "ignored", "releases": {"bookworm": {"status": "open", "urgency": "low", "nodsa": "", "nodsa_reason": "ignored"}}},
  "CVE-2099-0005": {"description": "not-affected", "releases": {"bookworm": {"status": "resolved", "fixed_version": "0", "urgency": "not yet assigned"}}},
  "CVE-2099-0006": {"description": "undetermined", "releases": {"bookworm": {"status": "undetermined", "urgency": "not yet assigned"}}},
  "CVE-2099-0007": {"description": "fixed after", "releases": {"bookworm": {"status": "resolved", "fixed_version": "9.1-1+deb12u1", "urgency": "high**"}}},
  "CVE-2099-0008": {"description": "fixed in the installed version", "releases": {"bookworm": {"status": "resolved", "fixed_version": "9.1-1", "urgency": "high"}}}
 },
 "util-linux": {
  "CVE-2099-0009": {"description": "end-of-life", "releases": {"bookworm": {"status": "open", "urgency": "end-of-life"}}},
  "CVE-2099-0010": {"description": "", "releases": {"bookworm": {"status": "resolved", "fixed_version": "2.38.1-5+deb12u4", "urgency": "not yet assigned"}}}
 }
}"#;

/// An urgency Trivy and berth read differently (see [`DIFFERENCES`]); kept out of the flag
/// table so that the table holds for both.
const UNIMPORTANT: &str = r#"{
 "coreutils": {
  "CVE-2099-0011": {"description": "unimportant", "releases": {"bookworm": {"status": "open", "urgency": "unimportant"}}}
 }
}"#;

/// Where Trivy and berth differ on purpose, all in severity: (id, Trivy's, berth's, why).
const DIFFERENCES: &[(&str, &str, &str, &str)] = &[(
    "CVE-2099-0011",
    "LOW",
    "UNKNOWN",
    "the tracker's `unimportant` says the flaw has no security impact on Debian's build; \
     trivy-db files it as LOW, berth keeps the word and gives no level (docs/scan.md)",
)];

/// One run of the flag table: the flags, whether `.trivyignore` ([`IGNORE_FILE`]) is in the
/// working directory, the ids reported (`None`: no report, the run fails) and the exit code.
struct FlagCase {
    flags: &'static [&'static str],
    ignore_file: bool,
    reported: Option<&'static [&'static str]>,
    exit: i32,
}

const fn case(
    flags: &'static [&'static str],
    ignore_file: bool,
    reported: Option<&'static [&'static str]>,
    exit: i32,
) -> FlagCase {
    FlagCase {
        flags,
        ignore_file,
        reported,
        exit,
    }
}

/// What Trivy does with flags on the [`STATES`] data, measured with Trivy 0.76.0.
const FLAG_CASES: &[FlagCase] = &[
    case(&[], false, Some(ALL), 0),
    // Only findings with a fixed version: `affected`, `will_not_fix`, `fix_deferred` and
    // `end_of_life` all go.
    case(
        &["--ignore-unfixed"],
        false,
        Some(&["CVE-2099-0007", "CVE-2099-0010"]),
        0,
    ),
    case(
        &["--severity", "HIGH,CRITICAL"],
        false,
        Some(&["CVE-2099-0007"]),
        0,
    ),
    case(
        &["--severity", "LOW"],
        false,
        Some(&["CVE-2099-0001", "CVE-2099-0002", "CVE-2099-0004"]),
        0,
    ),
    case(
        &["--severity", "UNKNOWN,MEDIUM"],
        false,
        Some(&["CVE-2099-0003", "CVE-2099-0009", "CVE-2099-0010"]),
        0,
    ),
    case(&["--exit-code", "3"], false, Some(ALL), 3),
    case(
        &["--exit-code", "3", "--severity", "CRITICAL"],
        false,
        Some(&[]),
        0,
    ),
    case(
        &["--exit-code", "3", "--ignore-unfixed", "--severity", "HIGH"],
        false,
        Some(&["CVE-2099-0007"]),
        3,
    ),
    // IGNORE_FILE: 0007 for good, 0001 until 2999 (ignored), 0010 until 2000 (expired: reported).
    case(
        &[],
        true,
        Some(&[
            "CVE-2099-0002",
            "CVE-2099-0003",
            "CVE-2099-0004",
            "CVE-2099-0009",
            "CVE-2099-0010",
        ]),
        0,
    ),
    case(
        &["--exit-code", "3", "--ignore-unfixed", "--severity", "HIGH"],
        true,
        Some(&[]),
        0,
    ),
    case(
        &["--exit-code", "3", "--ignore-unfixed"],
        true,
        Some(&["CVE-2099-0010"]),
        3,
    ),
    // A named ignore file that is not there is an error, not an empty list.
    case(&["--ignorefile", "absent.trivyignore"], false, None, 1),
];

const ALL: &[&str] = &[
    "CVE-2099-0001",
    "CVE-2099-0002",
    "CVE-2099-0003",
    "CVE-2099-0004",
    "CVE-2099-0007",
    "CVE-2099-0009",
    "CVE-2099-0010",
];

const IGNORE_FILE: &str = "\
# a comment
CVE-2099-0007
CVE-2099-0010 exp:2000-01-01
CVE-2099-0001 exp:2999-12-31
";

/// A root file system and the advisory feeds a scanner reads.
struct Fixture {
    root: PathBuf,
    feeds: Vec<PathBuf>,
    dir: PathBuf,
}

impl Fixture {
    /// The corpus's Debian root file system under `dir`, scanned against `feeds`.
    fn new(dir: &Path, corpus: &Path, feeds: Vec<PathBuf>) -> Fixture {
        let root = dir.join("root");
        for (from, to) in [
            ("status", "var/lib/dpkg/status"),
            ("os-release", "etc/os-release"),
            ("debian_version", "etc/debian_version"),
        ] {
            fs::create_dir_all(root.join(to).parent().unwrap()).unwrap();
            fs::copy(corpus.join(from), root.join(to)).unwrap();
        }
        Fixture {
            root,
            feeds,
            dir: dir.to_owned(),
        }
    }
}

/// What one run gave: the findings (`None` when the run wrote no report) and the exit code.
struct Scan {
    rows: Option<BTreeSet<Row>>,
    exit: i32,
}

trait Scanner {
    /// Scans `fixture` with `flags`, in the working directory `cwd`.
    fn scan(&self, fixture: &Fixture, flags: &[&str], cwd: &Path) -> Scan;
}

/// Trivy, offline, on a database written from the fixture's feeds.
struct Trivy {
    cache: PathBuf,
}

impl Trivy {
    fn new(fixture: &Fixture, name: &str) -> Trivy {
        let cache = fixture.dir.join(name);
        test_support::trivy::write_db(&cache, &fixture.feeds);
        Trivy { cache }
    }
}

impl Scanner for Trivy {
    fn scan(&self, fixture: &Fixture, flags: &[&str], cwd: &Path) -> Scan {
        let out = test_support::trivy::rootfs(&self.cache)
            .current_dir(cwd)
            .args(flags)
            .arg(&fixture.root)
            .output()
            .unwrap();
        Scan {
            rows: report_rows(&out.stdout),
            exit: out.status.code().expect("trivy ended by a signal"),
        }
    }
}

/// `berth scan`, on a database `berth db import` made of the fixture's feeds.
struct BerthCli {
    root: PathBuf,
    db: PathBuf,
}

impl BerthCli {
    fn new(fixture: &Fixture, name: &str) -> BerthCli {
        let root = fixture.dir.join(name);
        let db = root.join("vulndb");
        let mut import = Command::new(env!("CARGO_BIN_EXE_berth"));
        import
            .arg("--root")
            .arg(&root)
            .args(["db", "import", "--db"]);
        import.arg(&db);
        for (i, feed) in fixture.feeds.iter().enumerate() {
            import.arg(format!("feed{i}={}", feed.display()));
        }
        test_support::run_ok(&mut import);
        BerthCli { root, db }
    }
}

impl BerthCli {
    /// `berth scan --format json` of `target`, with `flags`, in `cwd`.
    fn run(&self, target: &str, flags: &[&str], cwd: &Path) -> Scan {
        let out = Command::new(env!("CARGO_BIN_EXE_berth"))
            .current_dir(cwd)
            .arg("--root")
            .arg(&self.root)
            .args(["scan", "--format", "json", "--db"])
            .arg(&self.db)
            .args(flags)
            .arg(target)
            .output()
            .unwrap();
        Scan {
            rows: report_rows(&out.stdout),
            exit: out.status.code().expect("berth ended by a signal"),
        }
    }

    /// `berth scan` of an image (in the store, or a location such as `oci:DIR`).
    fn scan_image(&self, target: &str) -> Scan {
        self.run(target, &[], &self.root)
    }
}

impl Scanner for BerthCli {
    fn scan(&self, fixture: &Fixture, flags: &[&str], cwd: &Path) -> Scan {
        self.run(&format!("dir:{}", fixture.root.display()), flags, cwd)
    }
}

/// The findings of a report in Trivy's JSON (`berth scan --format json` writes the same
/// shape), or `None` when the output is not one.
fn report_rows(stdout: &[u8]) -> Option<BTreeSet<Row>> {
    let report = serde_json::from_slice::<serde_json::Value>(stdout).ok()?;
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().map(str::to_owned);
    let rows = report["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Vulnerabilities"].as_array().into_iter().flatten())
        .map(|v| {
            (
                text(v, "VulnerabilityID").unwrap(),
                text(v, "PkgName").unwrap(),
                text(v, "InstalledVersion").unwrap(),
                text(v, "FixedVersion"),
                text(v, "Severity").unwrap(),
                text(v, "Status").unwrap(),
            )
        })
        .collect();
    Some(rows)
}

/// berth's findings through the libraries (the `berth scan` command takes no flags yet).
fn berth_library(fixture: &Fixture) -> BTreeSet<Row> {
    let mut db = Database::new();
    for (i, feed) in fixture.feeds.iter().enumerate() {
        db.import(&format!("feed{i}"), feed).unwrap();
    }
    let installed = catalog(&DirFs::open(&fixture.root).unwrap()).unwrap();
    let found = berth_match::catalog(&db, &installed);
    assert!(found.unjudged.is_empty(), "{:?}", found.unjudged);
    found
        .findings
        .iter()
        .map(|f| {
            (
                f.id.clone(),
                f.package.clone(),
                f.installed.clone(),
                f.fixed_version.clone(),
                f.severity.as_str().to_owned(),
                f.status.as_str().to_owned(),
            )
        })
        .collect()
}

/// Trivy's rows with each listed difference turned into berth's value.
fn as_berth_reads(rows: BTreeSet<Row>) -> BTreeSet<Row> {
    rows.into_iter()
        .map(|mut row| {
            for (id, trivy, berth, _why) in DIFFERENCES {
                if row.0 == *id {
                    assert_eq!(row.4, *trivy, "{id}: the difference is gone; remove it");
                    row.4 = (*berth).to_owned();
                }
            }
            row
        })
        .collect()
}

/// Every case of [`FLAG_CASES`], run by `scanner` in a directory of its own.
fn check_flags(scanner: &dyn Scanner, fixture: &Fixture, name: &str) {
    for (i, case) in FLAG_CASES.iter().enumerate() {
        let FlagCase {
            flags,
            ignore_file,
            reported,
            exit,
        } = case;
        let cwd = fixture.dir.join(format!("{name}-case{i}"));
        fs::create_dir_all(&cwd).unwrap();
        if *ignore_file {
            fs::write(cwd.join(".trivyignore"), IGNORE_FILE).unwrap();
        }
        let scan = scanner.scan(fixture, flags, &cwd);
        let got = scan
            .rows
            .map(|rows| rows.into_iter().map(|r| r.0).collect::<BTreeSet<_>>());
        let want = reported.map(|ids| ids.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            (got, scan.exit),
            (want, *exit),
            "{name} {flags:?} (.trivyignore: {ignore_file})"
        );
    }
}

#[test]
fn trivy_and_berth_report_the_same_debian_findings() {
    let Some(corpus) = test_support::corpus("debian-bookworm") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("states.json"), STATES).unwrap();
    fs::write(tmp.path().join("unimportant.json"), UNIMPORTANT).unwrap();

    // The corpus's advisories and one of each verdict, together.
    let all = Fixture::new(
        &tmp.path().join("all"),
        &corpus,
        vec![
            corpus.join("tracker.json"),
            tmp.path().join("states.json"),
            tmp.path().join("unimportant.json"),
        ],
    );
    let trivy = Trivy::new(&all, "trivy-cache");
    let scan = trivy.scan(&all, &[], &all.dir);
    assert_eq!(scan.exit, 0);
    let trivy_rows = scan.rows.expect("trivy wrote a report");
    // The corpus's 27 rows (expected.json), and 9 packages × the states' verdicts.
    assert_eq!(
        trivy_rows
            .iter()
            .filter(|r| !r.0.starts_with("CVE-2099-"))
            .count(),
        27
    );
    let berth_rows = berth_library(&all);
    let trivy_rows = as_berth_reads(trivy_rows);
    // The command reports what the libraries find, in Trivy's JSON shape.
    let berth = BerthCli::new(&all, "berth-root");
    let cli = berth.scan(&all, &[], &all.dir);
    assert_eq!(cli.exit, 0);
    assert_eq!(
        cli.rows.as_ref(),
        Some(&berth_rows),
        "berth scan against its libraries"
    );
    let only_trivy: Vec<_> = trivy_rows.difference(&berth_rows).collect();
    let only_berth: Vec<_> = berth_rows.difference(&trivy_rows).collect();
    assert!(
        only_trivy.is_empty() && only_berth.is_empty(),
        "only Trivy: {only_trivy:#?}\nonly berth: {only_berth:#?}"
    );

    // The same root file system as an image: `trivy image` on it saved as an OCI layout,
    // `berth scan` on it in the store and in the layout. Nothing changes.
    let layout = all.dir.join("layout");
    let image = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
        c.arg("--root").arg(&berth.root).args(args);
        test_support::run_ok(&mut c)
    };
    image(&[
        "import",
        "-q",
        all.root.to_str().unwrap(),
        "debian-status:1",
    ]);
    image(&[
        "save",
        "-q",
        "debian-status:1",
        "--format",
        "oci-dir",
        "-o",
        layout.to_str().unwrap(),
    ]);
    let out = test_support::run_ok(
        test_support::trivy::image(&trivy.cache)
            .arg("--input")
            .arg(&layout),
    );
    let trivy_image = report_rows(out.as_bytes()).expect("trivy wrote a report");
    assert_eq!(as_berth_reads(trivy_image), berth_rows, "trivy image");
    for target in [
        "debian-status:1".to_string(),
        format!("oci:{}", layout.display()),
    ] {
        let out = berth.scan_image(&target);
        assert_eq!(out.rows.as_ref(), Some(&berth_rows), "berth scan {target}");
        assert_eq!(out.exit, 0);
    }

    // The tracker's verdicts as Trivy reports them (trivy-db's mapping, the scanner's output).
    let status_of = |id: &str| -> BTreeSet<(&str, Option<&str>)> {
        trivy_rows
            .iter()
            .filter(|r| r.0 == id)
            .map(|r| (r.5.as_str(), r.3.as_deref()))
            .collect()
    };
    for (id, status) in [
        ("CVE-2099-0001", "affected"),     // <unfixed>
        ("CVE-2099-0002", "affected"),     // <no-dsa>: a point release may still fix it
        ("CVE-2099-0003", "fix_deferred"), // <postponed>
        ("CVE-2099-0004", "will_not_fix"), // <ignored>
        ("CVE-2099-0009", "end_of_life"),  // <end-of-life>
    ] {
        assert_eq!(status_of(id), BTreeSet::from([(status, None)]), "{id}");
    }
    for id in ["CVE-2099-0005", "CVE-2099-0006", "CVE-2099-0008"] {
        assert!(
            status_of(id).is_empty(),
            "{id}: not-affected, undetermined, fixed before"
        );
    }

    // The flag table, on the states alone.
    let states = Fixture::new(
        &tmp.path().join("states"),
        &corpus,
        vec![tmp.path().join("states.json")],
    );
    check_flags(&Trivy::new(&states, "trivy-cache"), &states, "trivy");
    check_flags(&BerthCli::new(&states, "berth-root"), &states, "berth");
}
