//! A scan's findings as the reports CI tooling reads: Trivy's JSON report
//! ([`Format::Json`]: `SchemaVersion` 2, so that what reads Trivy's JSON reads berth's), a
//! table grouped by target ([`Format::Table`]), SARIF 2.1.0 for code scanning
//! ([`Format::Sarif`]), CycloneDX 1.6 with `vulnerabilities` ([`Format::CycloneDx`]) and the
//! SPDX SBOM ([`Format::SpdxJson`], as Trivy writes it: the packages, no findings).
//!
//! Matching is berth-match's; this crate only writes. Every format groups the findings the same
//! way ([`targets`]): one target for the distribution's packages (`os-pkgs`), and for language
//! packages (`lang-pkgs`) one per language for those found one per file (Python, Node.js, Java)
//! and one per lockfile or executable, as Trivy groups them.

mod cyclonedx;
mod json;
mod sarif;
mod table;

use std::collections::BTreeMap;

use berth_catalog::{Catalog, Package, PackageType};
use berth_match::Finding;
use berth_oci::Digest;
use berth_sbom::Subject;
use berth_vulndb::{Cvss, Level};
use chrono::{DateTime, Utc};

/// What was scanned, what it holds, and what is vulnerable in it.
pub struct Scan<'a> {
    pub subject: &'a Subject,
    pub catalog: &'a Catalog,
    /// For an image: what the report says of the image itself.
    pub image: Option<ImageFacts<'a>>,
    /// The findings left after the user's filters.
    pub vulnerabilities: Vec<Vulnerability<'a>>,
    /// When the report was made (`SOURCE_DATE_EPOCH` when set).
    pub created: DateTime<Utc>,
}

/// The image's identity, as Trivy's `Metadata` gives it.
pub struct ImageFacts<'a> {
    /// The config's digest: the image ID.
    pub id: &'a Digest,
    pub diff_ids: &'a [Digest],
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
}

/// One finding, with the package it is in and what the advisory says.
pub struct Vulnerability<'a> {
    pub finding: Finding,
    pub package: &'a Package,
    /// The advisory's summary.
    pub title: Option<String>,
    pub cvss: Vec<Cvss>,
    /// Where the advisory came from: `debian`, `alpine`, `osv`.
    pub source: DataSource,
}

/// The database source of a finding, as Trivy's `DataSource` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataSource {
    /// The Debian security tracker.
    Debian,
    /// Alpine's secdb.
    Alpine,
    /// An OSV record.
    Osv,
}

impl DataSource {
    /// The source of an advisory entry for `ecosystem` (`Debian:bookworm`, `Alpine:v3.20`, `PyPI`).
    pub fn of_ecosystem(ecosystem: &str) -> DataSource {
        match ecosystem.split(':').next() {
            Some("Debian") => DataSource::Debian,
            Some("Alpine") => DataSource::Alpine,
            _ => DataSource::Osv,
        }
    }

    fn id(self) -> &'static str {
        match self {
            DataSource::Debian => "debian",
            DataSource::Alpine => "alpine",
            DataSource::Osv => "osv",
        }
    }

    fn name(self) -> &'static str {
        match self {
            DataSource::Debian => "Debian Security Tracker",
            DataSource::Alpine => "Alpine Secdb",
            DataSource::Osv => "OSV",
        }
    }
}

/// The report formats, with Trivy's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Sarif,
    CycloneDx,
    SpdxJson,
}

/// The report for `scan` in `format`, ending in a newline.
pub fn write(format: Format, scan: &Scan) -> Vec<u8> {
    let json = |value: serde_json::Value| {
        let mut out = serde_json::to_vec_pretty(&value).expect("a JSON value serialises");
        out.push(b'\n');
        out
    };
    match format {
        Format::Table => table::write(scan).into_bytes(),
        Format::Json => json(json::report(scan)),
        Format::Sarif => json(sarif::report(scan)),
        Format::CycloneDx => json(cyclonedx::report(scan)),
        Format::SpdxJson => berth_sbom::write(
            berth_sbom::Format::SpdxJson,
            scan.subject,
            scan.catalog,
            scan.created,
        ),
    }
}

/// Trivy's `Class` of a result: the distribution's packages, or a language's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    OsPkgs,
    LangPkgs,
}

impl Class {
    /// The class of a package type (what `--pkg-types os,library` selects by). A new
    /// distribution package manager belongs with dpkg and apk here.
    pub fn of(kind: PackageType) -> Class {
        if matches!(kind, PackageType::Deb | PackageType::Apk | PackageType::Rpm) {
            Class::OsPkgs
        } else {
            Class::LangPkgs
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Class::OsPkgs => "os-pkgs",
            Class::LangPkgs => "lang-pkgs",
        }
    }
}

/// One result of a report: a target and its findings, sorted as Trivy sorts them (package,
/// installed version, most severe first, id).
struct Target<'s, 'a> {
    name: String,
    class: Class,
    /// Trivy's `Type`: the distribution (`debian`) for os-pkgs, the package type otherwise.
    kind: String,
    vulnerabilities: Vec<&'s Vulnerability<'a>>,
}

/// The subject's name as the report names it.
fn artifact_name(subject: &Subject) -> &str {
    match subject {
        Subject::Image { name, .. } => name,
        Subject::Directory { path } => path,
    }
}

/// The target `package` belongs to, without findings yet.
fn target_of<'s, 'a>(scan: &Scan, package: &Package) -> Target<'s, 'a> {
    let class = Class::of(package.package_type);
    let (name, kind) = match class {
        Class::OsPkgs => {
            let distro = scan.catalog.distro.as_ref();
            let family = distro.map_or("unknown", |d| d.id.as_str());
            let version = distro
                .and_then(|d| d.version_id.as_deref())
                .unwrap_or("unknown");
            (
                format!("{} ({family} {version})", artifact_name(scan.subject)),
                family.to_string(),
            )
        }
        // Trivy gathers the packages it finds one per file (a `METADATA`, a `package.json`
        // under `node_modules`, a jar) into one result per language; a lockfile or an
        // executable is a result of its own, named by its path.
        Class::LangPkgs => {
            let kind = lang_type(package);
            let file = || {
                package.evidence.first().map_or_else(
                    || kind.to_string(),
                    |e| e.trim_start_matches('/').to_string(),
                )
            };
            let name = gathered_target(kind).map_or_else(file, str::to_string);
            (name, kind.to_string())
        }
    };
    Target {
        name,
        class,
        kind,
        vulnerabilities: Vec::new(),
    }
}

/// Trivy's type of a language package (its `Type`), told from the file that lists it.
fn lang_type(package: &Package) -> &'static str {
    let file = package.evidence.first().map_or("", String::as_str);
    let base = file.rsplit('/').next().unwrap_or(file);
    match (package.package_type, base) {
        (PackageType::Npm, "package-lock.json") => "npm",
        (PackageType::Npm, "yarn.lock") => "yarn",
        (PackageType::Npm, "pnpm-lock.yaml") => "pnpm",
        (PackageType::Npm, _) => "node-pkg",
        (PackageType::Python, "poetry.lock") => "poetry",
        (PackageType::Python, "Pipfile.lock") => "pipenv",
        (PackageType::Python, "requirements.txt") => "pip",
        (PackageType::Python, _) => "python-pkg",
        (PackageType::JavaArchive, "pom.xml") => "pom",
        (PackageType::JavaArchive, _) => "jar",
        (PackageType::GoModule, "go.mod") => "gomod",
        (PackageType::GoModule, _) => "gobinary",
        (PackageType::RustCrate, "Cargo.lock") => "cargo",
        (PackageType::RustCrate, _) => "rustbinary",
        (PackageType::Deb | PackageType::Apk | PackageType::Rpm, _) => {
            package.package_type.as_str()
        }
    }
}

/// The one target Trivy names by language for the types it finds one package per file of.
fn gathered_target(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "python-pkg" => "Python",
        "node-pkg" => "Node.js",
        "jar" => "Java",
        _ => return None,
    })
}

/// The file a package of a gathered language target is found in (Trivy's `PkgPath`); `None`
/// for the packages of a target named by its own file, and the distribution's.
fn pkg_path(package: &Package) -> Option<&str> {
    let gathered = Class::of(package.package_type) == Class::LangPkgs
        && gathered_target(lang_type(package)).is_some();
    gathered
        .then(|| package.evidence.first())
        .flatten()
        .map(|e| e.trim_start_matches('/'))
}

/// The scan's targets: the distribution's packages first (present whenever the catalogue has
/// any, even with no findings, as Trivy lists it), then the language targets ([`target_of`]),
/// also listed without findings.
fn targets<'s, 'a>(scan: &'s Scan<'a>) -> Vec<Target<'s, 'a>> {
    let mut by_key: BTreeMap<(Class, String), Target> = BTreeMap::new();
    for package in &scan.catalog.packages {
        let t = target_of(scan, package);
        by_key.entry((t.class, t.name.clone())).or_insert(t);
    }
    for v in &scan.vulnerabilities {
        let t = target_of(scan, v.package);
        by_key
            .entry((t.class, t.name.clone()))
            .or_insert(t)
            .vulnerabilities
            .push(v);
    }
    let mut out: Vec<Target> = by_key.into_values().collect();
    for t in &mut out {
        t.vulnerabilities.sort_by(|a, b| {
            let (a, b) = (&a.finding, &b.finding);
            (
                &a.package,
                &a.installed,
                std::cmp::Reverse(a.severity),
                &a.id,
            )
                .cmp(&(
                    &b.package,
                    &b.installed,
                    std::cmp::Reverse(b.severity),
                    &b.id,
                ))
        });
    }
    out
}

/// How many findings of each level, in Trivy's order (UNKNOWN to CRITICAL).
fn counts<'a>(vulnerabilities: impl IntoIterator<Item = &'a &'a Vulnerability<'a>>) -> [usize; 5] {
    let mut n = [0; 5];
    for v in vulnerabilities {
        n[v.finding.severity as usize] += 1;
    }
    n
}

const LEVELS: [Level; 5] = [
    Level::Unknown,
    Level::Low,
    Level::Medium,
    Level::High,
    Level::Critical,
];

/// The page a finding's id links to: the tracker for Debian's, the advisory database for
/// GitHub's, OSV otherwise.
fn primary_url(v: &Vulnerability) -> String {
    let id = &v.finding.id;
    match v.source {
        DataSource::Debian if id.starts_with("CVE-") => {
            format!("https://security-tracker.debian.org/tracker/{id}")
        }
        _ if id.starts_with("GHSA-") => format!("https://github.com/advisories/{id}"),
        _ if id.starts_with("CVE-") => format!("https://nvd.nist.gov/vuln/detail/{id}"),
        _ => format!("https://osv.dev/vulnerability/{id}"),
    }
}

/// The CVSS version of a vector (`CVSS:3.1/…` → `3.1`; a v2 vector has no prefix).
fn cvss_version(vector: &str) -> &str {
    vector
        .strip_prefix("CVSS:")
        .and_then(|v| v.split('/').next())
        .unwrap_or("2.0")
}
