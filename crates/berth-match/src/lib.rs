//! Installed packages against the vulnerability database: findings out.
//!
//! Each advisory entry is judged in its ecosystem's own version order (berth-version):
//! OSV ranges and version lists as the OSV schema says ([`ranges`]), distribution verdicts
//! (the Debian security tracker's) by the distribution's *source* package and release, with
//! dpkg's order for the fixed version. Findings that name the same flaw under two ids (a
//! `GHSA-…` and its `CVE-…`) are merged into one. What cannot be judged (a version that does
//! not read in its ecosystem's order, an ecosystem berth has no order for) is reported as
//! [`Unjudged`], never guessed either way.

mod ranges;

use std::fmt;

use berth_catalog::{Catalog, Distro, Package, PackageType, SourcePackage};
use berth_version::{Ecosystem, compare};
use berth_vulndb::{Advisory, Affected, Database, DistroState, Level, Versions};

/// A finding's status, as Trivy names them (its `Status` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// A fixed version exists.
    Fixed,
    /// Affected, and no fix yet.
    Affected,
    /// Affected, and the distribution does not intend to fix it.
    WillNotFix,
    /// Affected, and the distribution has postponed the fix.
    FixDeferred,
    /// Affected, and the release no longer gets fixes for the package.
    EndOfLife,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Fixed => "fixed",
            Status::Affected => "affected",
            Status::WillNotFix => "will_not_fix",
            Status::FixDeferred => "fix_deferred",
            Status::EndOfLife => "end_of_life",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One vulnerable package.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The advisory's id (`CVE-…`, `GHSA-…`, `RUSTSEC-…`).
    pub id: String,
    /// The other ids of the flaw, merged findings' ids among them.
    pub aliases: Vec<String>,
    /// The installed package (for a distribution, the binary package).
    pub package: String,
    pub installed: String,
    /// The source package and version it was matched by, for distribution packages.
    pub source: Option<SourcePackage>,
    /// The version that fixes it, when there is one.
    pub fixed_version: Option<String>,
    pub severity: Level,
    /// The source's own rating word (Debian's urgency, GitHub's `MODERATE`), when it gives one.
    pub severity_rating: Option<String>,
    pub status: Status,
}

/// An advisory entry that names the package but could not be judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unjudged {
    pub id: String,
    pub package: String,
    pub installed: String,
    pub why: String,
}

/// What matching found: findings in package then id order, and what could not be judged.
#[derive(Debug, Default, PartialEq)]
pub struct Matches {
    pub findings: Vec<Finding>,
    pub unjudged: Vec<Unjudged>,
}

/// Matches every package of `catalog` whose advisories `db` can hold, by *source* package
/// and version: Debian's dpkg packages against the tracker's verdicts for the release
/// (`Debian:<codename>`) and OSV's Debian records (`Debian:<VERSION_ID>`); Alpine's apk
/// packages against secdb and OSV records for the release (`Alpine:v<major>.<minor>`).
pub fn catalog(db: &Database, catalog: &Catalog) -> Matches {
    let mut out = Matches::default();
    let Some(distro) = &catalog.distro else {
        return out;
    };
    for package in &catalog.packages {
        let source = source_of(package);
        let mut found = Vec::new();
        for ecosystem in distro_ecosystems(distro, package.package_type) {
            for (advisory, affected) in db.lookup(&ecosystem, &source.name) {
                match judge(affected, &source.version) {
                    Ok(Some(verdict)) => found.push(finding(
                        advisory,
                        affected,
                        verdict,
                        &package.name,
                        &package.version,
                        Some(source.clone()),
                    )),
                    Ok(None) => {}
                    Err(why) => out.unjudged.push(Unjudged {
                        id: advisory.id.clone(),
                        package: package.name.clone(),
                        installed: package.version.clone(),
                        why,
                    }),
                }
            }
        }
        out.findings.extend(merge_aliases(found));
    }
    out.findings
        .sort_by(|a, b| (&a.package, &a.installed, &a.id).cmp(&(&b.package, &b.installed, &b.id)));
    out
}

/// Matches one package of an OSV ecosystem (`crates.io`, `PyPI`, `Go`…) at `version`.
pub fn package(db: &Database, ecosystem: &str, name: &str, version: &str) -> Matches {
    let mut out = Matches::default();
    let mut found = Vec::new();
    for (advisory, affected) in db.lookup(ecosystem, name) {
        match judge(affected, version) {
            Ok(Some(verdict)) => {
                found.push(finding(advisory, affected, verdict, name, version, None))
            }
            Ok(None) => {}
            Err(why) => out.unjudged.push(Unjudged {
                id: advisory.id.clone(),
                package: name.to_owned(),
                installed: version.to_owned(),
                why,
            }),
        }
    }
    out.findings = merge_aliases(found);
    out.findings.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The ecosystems a distribution's advisories for packages of `kind` are filed under.
fn distro_ecosystems(distro: &Distro, kind: PackageType) -> Vec<String> {
    let mut out = Vec::new();
    match (distro.id.as_str(), kind) {
        ("debian", PackageType::Deb) => {
            if let Some(codename) = &distro.version_codename {
                out.push(format!("Debian:{codename}"));
            }
            if let Some(version) = &distro.version_id {
                out.push(format!("Debian:{version}"));
            }
        }
        ("alpine", PackageType::Apk) => {
            // VERSION_ID 3.20.3 is release v3.20.
            let release = distro.version_id.as_deref().and_then(|v| {
                let mut parts = v.split('.');
                Some(format!("v{}.{}", parts.next()?, parts.next()?))
            });
            out.extend(release.map(|r| format!("Alpine:{r}")));
        }
        _ => {}
    }
    out
}

/// The source package a package was built from (itself, when the database is silent).
fn source_of(package: &Package) -> SourcePackage {
    package.source.clone().unwrap_or_else(|| SourcePackage {
        name: package.name.clone(),
        version: package.version.clone(),
    })
}

/// The verdict for one version under one advisory entry.
struct Verdict {
    status: Status,
    fixed: Option<String>,
}

/// Judges `version` against `affected`, in the order of the entry's ecosystem.
fn judge(affected: &Affected, version: &str) -> Result<Option<Verdict>, String> {
    let affected_with = |status| {
        Some(Verdict {
            status,
            fixed: None,
        })
    };
    Ok(match &affected.versions {
        Versions::Distro(DistroState::Fixed(fixed)) => {
            let order = Ecosystem::for_osv(&affected.ecosystem).ok_or_else(|| {
                format!("berth knows no version order for {:?}", affected.ecosystem)
            })?;
            let before = compare(order, version, fixed).map_err(|e| e.to_string())?;
            before.is_lt().then(|| Verdict {
                status: Status::Fixed,
                fixed: Some(fixed.clone()),
            })
        }
        Versions::Distro(DistroState::Unfixed) => affected_with(Status::Affected),
        Versions::Distro(DistroState::WillNotFix) => affected_with(Status::WillNotFix),
        Versions::Distro(DistroState::FixDeferred) => affected_with(Status::FixDeferred),
        Versions::Distro(DistroState::EndOfLife) => affected_with(Status::EndOfLife),
        Versions::Osv { ranges, listed } => {
            ranges::affects(&affected.ecosystem, ranges, listed, version)?.map(|hit| Verdict {
                status: if hit.fixed.is_some() {
                    Status::Fixed
                } else {
                    Status::Affected
                },
                fixed: hit.fixed,
            })
        }
    })
}

fn finding(
    advisory: &Advisory,
    affected: &Affected,
    verdict: Verdict,
    package: &str,
    installed: &str,
    source: Option<SourcePackage>,
) -> Finding {
    // The entry's own severity (the tracker's urgency for the release) over the advisory's.
    let severity = if affected.severity.is_empty() {
        &advisory.severity
    } else {
        &affected.severity
    };
    Finding {
        id: advisory.id.clone(),
        aliases: advisory.aliases.clone(),
        package: package.to_owned(),
        installed: installed.to_owned(),
        source,
        fixed_version: verdict.fixed,
        severity: severity.level(),
        severity_rating: severity.rating.clone(),
        status: verdict.status,
    }
}

/// One finding per flaw: findings of one package whose ids or aliases meet are merged into
/// the first, which keeps its id and gains the others' ids as aliases.
fn merge_aliases(found: Vec<Finding>) -> Vec<Finding> {
    let mut merged: Vec<Finding> = Vec::with_capacity(found.len());
    for finding in found {
        let names = |f: &Finding| -> Vec<String> {
            std::iter::once(f.id.clone())
                .chain(f.aliases.iter().cloned())
                .collect()
        };
        let mine = names(&finding);
        match merged
            .iter_mut()
            .find(|m| names(m).iter().any(|n| mine.contains(n)))
        {
            Some(into) => {
                for name in mine {
                    if name != into.id && !into.aliases.contains(&name) {
                        into.aliases.push(name);
                    }
                }
                if into.fixed_version.is_none() {
                    into.fixed_version = finding.fixed_version;
                    into.status = finding.status;
                }
                if into.severity == Level::Unknown {
                    into.severity = finding.severity;
                }
            }
            None => merged.push(finding),
        }
    }
    merged
}
