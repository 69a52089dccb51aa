//! Installed packages against the vulnerability database: findings out.
//!
//! Each advisory entry is judged in its ecosystem's own version order (berth-version):
//! OSV ranges and version lists as the OSV schema says ([`ranges`]), distribution verdicts
//! (the Debian security tracker's) by the distribution's *source* package and release, with
//! dpkg's order for the fixed version; language packages by their OSV ecosystem and the name
//! it writes (`language.rs`). Findings that name the same flaw under two ids (a
//! `GHSA-…` and its `CVE-…`) are merged into one. What cannot be judged (a version that does
//! not read in its ecosystem's order, an ecosystem berth has no order for) is reported as
//! [`Unjudged`], never guessed either way.

mod language;
mod ranges;

use std::fmt;

use berth_catalog::{Catalog, Distro, Package, PackageType, SourcePackage};
use berth_version::{Ecosystem, compare};
use berth_vulndb::{Advisory, Affected, Database, DistroState, Level, Versions};

pub use language::{Lookup, ecosystem};

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
    /// For a language package, the file that lists it (its first evidence: the metadata
    /// file, lockfile, archive or executable), which tells apart two copies at one version.
    pub path: Option<String>,
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

/// A package whose advisories the database could not give (its file is damaged): unjudged,
/// not silently clean.
fn unreadable(e: berth_vulndb::Error, package: &str, installed: &str) -> Unjudged {
    Unjudged {
        id: "(vulnerability database)".to_owned(),
        package: package.to_owned(),
        installed: installed.to_owned(),
        why: e.to_string(),
    }
}

/// What matching found: findings in package then id order, and what could not be judged.
#[derive(Debug, Default, PartialEq)]
pub struct Matches {
    pub findings: Vec<Finding>,
    pub unjudged: Vec<Unjudged>,
}

/// Matches every package of `catalog` whose advisories `db` can hold. Distribution packages
/// by *source* package and version: Debian's dpkg packages against the tracker's verdicts for
/// the release (`Debian:<codename>`) and OSV's Debian records (`Debian:<VERSION_ID>`); Alpine's
/// apk packages against secdb and OSV records for the release (`Alpine:v<major>.<minor>`).
/// Language packages by name and version against OSV records of their ecosystem (PyPI, npm,
/// Maven, Go, crates.io; `language.rs`). rpm packages have no advisory source yet.
pub fn catalog(db: &Database, catalog: &Catalog) -> Matches {
    let mut out = Matches::default();
    for package in &catalog.packages {
        let Some(key) = lookup(catalog.distro.as_ref(), package) else {
            continue;
        };
        let is_language = language::ecosystem(package.package_type).is_some();
        let at = Installed {
            package: &package.name,
            installed: &package.version,
            source: (!is_language).then(|| SourcePackage {
                name: key.name.clone(),
                version: key.version.clone(),
            }),
            path: is_language
                .then(|| package.evidence.first().cloned())
                .flatten(),
        };
        match_installed(db, &key, at, &mut out);
    }
    out.findings.sort_by(|a, b| {
        (&a.package, &a.installed, &a.path, &a.id).cmp(&(&b.package, &b.installed, &b.path, &b.id))
    });
    out
}

/// Matches one package of an OSV ecosystem (`crates.io`, `PyPI`, `Go`…) at `version`.
pub fn package(db: &Database, ecosystem: &str, name: &str, version: &str) -> Matches {
    let mut out = Matches::default();
    let key = Lookup {
        ecosystems: vec![ecosystem.to_owned()],
        name: name.to_owned(),
        version: version.to_owned(),
    };
    let at = Installed {
        package: name,
        installed: version,
        source: None,
        path: None,
    };
    match_installed(db, &key, at, &mut out);
    out.findings.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Where the advisories of `package` are filed and what they call it: for a distribution's
/// package, the release's ecosystems and its source package; for a language package, its OSV
/// ecosystem and name (`language.rs`). `None` when nothing can hold advisories for it (no
/// distribution, an rpm package, a language package without a version to judge).
pub fn lookup(distro: Option<&Distro>, package: &Package) -> Option<Lookup> {
    if language::ecosystem(package.package_type).is_some() {
        return language::lookup(package);
    }
    let ecosystems = distro_ecosystems(distro?, package.package_type);
    if ecosystems.is_empty() {
        return None;
    }
    let source = source_of(package);
    Some(Lookup {
        ecosystems,
        name: source.name,
        version: source.version,
    })
}

/// The installed package a match reports.
struct Installed<'a> {
    package: &'a str,
    installed: &'a str,
    source: Option<SourcePackage>,
    path: Option<String>,
}

/// Judges every advisory entry `key` finds, adding the findings (merged by alias) and what
/// could not be judged to `out`.
fn match_installed(db: &Database, key: &Lookup, at: Installed, out: &mut Matches) {
    let mut found = Vec::new();
    for ecosystem in &key.ecosystems {
        let hits = db.lookup(ecosystem, &key.name).unwrap_or_else(|e| {
            out.unjudged.push(unreadable(e, at.package, at.installed));
            Vec::new()
        });
        for (advisory, affected) in hits {
            match judge(affected, &key.version) {
                Ok(Some(verdict)) => found.push(finding(advisory, affected, verdict, &at)),
                Ok(None) => {}
                Err(why) => out.unjudged.push(Unjudged {
                    id: advisory.id.clone(),
                    package: at.package.to_owned(),
                    installed: at.installed.to_owned(),
                    why,
                }),
            }
        }
    }
    out.findings.extend(merge_aliases(found));
}

/// The database ecosystems that hold advisories for a `kind` package of `distro`
/// (`Debian:bookworm` and `Debian:12`, `Alpine:v3.20`), in the order they are consulted.
pub fn distro_ecosystems(distro: &Distro, kind: PackageType) -> Vec<String> {
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

fn finding(advisory: &Advisory, affected: &Affected, verdict: Verdict, at: &Installed) -> Finding {
    // The entry's own severity (the tracker's urgency for the release) over the advisory's.
    let severity = if affected.severity.is_empty() {
        &advisory.severity
    } else {
        &affected.severity
    };
    Finding {
        id: advisory.id.clone(),
        aliases: advisory.aliases.clone(),
        package: at.package.to_owned(),
        installed: at.installed.to_owned(),
        source: at.source.clone(),
        path: at.path.clone(),
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
