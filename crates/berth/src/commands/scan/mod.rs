//! `berth scan IMAGE|dir:PATH`: the vulnerable packages of an image or a directory, as a CI
//! gate with Trivy's flags (`--severity`, `--exit-code`, `--ignore-unfixed`, `--ignorefile`,
//! `--pkg-types`, `--skip-dirs`, `--format`) and Trivy's report shapes (berth-report).
//! Progress and warnings go to standard error; the report alone to standard output or `-o`.

mod ignore;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use berth_catalog::{Catalog, Package};
use berth_match::Finding;
use berth_report::{Class, DataSource, Format, ImageFacts, Scan, Vulnerability};
use berth_vulndb::{Database, Level};
use clap::{Args, ValueEnum};

use crate::Context;
use crate::contents::Contents;
use ignore::Ignores;

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// What to scan: an image (a store name, docker://REF, oci:PATH[:REF], oci-archive:PATH[:REF],
    /// docker-archive:PATH[:REF]) or dir:PATH for a directory holding a root file system
    pub target: String,
    /// Report only findings of these severities
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        default_value = "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL",
        value_parser = parse_level
    )]
    pub severity: Vec<Level>,
    /// Exit with this status when a finding remains after the filters
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub exit_code: u8,
    /// Leave out findings that have no fixed version yet
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// Ids to accept, one a line, each optionally until exp:YYYY-MM-DD
    #[arg(long, value_name = "FILE", default_value = ".trivyignore")]
    pub ignorefile: PathBuf,
    /// Which packages to scan: os (the distribution's), library (languages')
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        default_value = "os,library"
    )]
    pub pkg_types: Vec<PkgType>,
    /// Leave out packages listed by files under these directories
    #[arg(long, value_delimiter = ',', value_name = "DIR")]
    pub skip_dirs: Vec<String>,
    /// The report's format
    #[arg(long, value_enum, default_value = "table")]
    pub format: ReportFormat,
    /// Write the report to this file (whole or not at all) [default: standard output]
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Accepted for Trivy's command lines: berth never downloads during a scan
    #[arg(long)]
    pub offline: bool,
    /// The vulnerability database's directory [default: ROOT/vulndb]
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
    /// Warn when a database source is older than this (e.g. 72h, 7d)
    #[arg(long, value_name = "AGE", default_value = "7d", value_parser = parse_age)]
    pub db_max_age: Duration,
    /// For a multi-platform image, the platform to scan [default: this host's]
    #[arg(long)]
    pub platform: Option<String>,
    #[command(flatten)]
    pub cache: crate::contents::CacheArgs,
    /// After the report, say per finding which instruction brought its package in and what to
    /// change (on standard error when the report is not a table)
    #[arg(long)]
    pub explain: bool,
    /// Compare with an older image: print what the target (the rebuild) fixed, introduced and
    /// left instead of the report; --exit-code then gates on introduced findings only
    #[arg(long, value_name = "OLD")]
    pub diff: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkgType {
    /// The distribution's packages (dpkg, apk)
    Os,
    /// Language packages (Python, Node, Go, Rust, Java)
    Library,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// Per target a summary line and a table
    Table,
    /// Trivy's JSON report (SchemaVersion 2)
    Json,
    /// SARIF 2.1.0, for code scanning
    Sarif,
    /// CycloneDX 1.6 with vulnerabilities
    Cyclonedx,
    /// The SPDX 2.3 SBOM
    SpdxJson,
}

/// A scan that found what `--exit-code` gates on: main exits with the code.
#[derive(Debug)]
pub struct Gate(pub u8);

impl std::fmt::Display for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "findings remain after the filters (exit code {})",
            self.0
        )
    }
}

impl std::error::Error for Gate {}

pub fn run(ctx: &Context, args: ScanArgs) -> anyhow::Result<()> {
    let created = berth_sbom::creation_time()?;
    let db = open_db(ctx, &args)?;
    let explicit_ignorefile = args.ignorefile.as_os_str() != ".trivyignore";
    let ignores = Ignores::read(
        &args.ignorefile,
        explicit_ignorefile,
        chrono::Utc::now().date_naive(),
        &mut |w| eprintln!("berth: warning: {w}"),
    )?;

    let (contents, kept) = findings(ctx, &db, &ignores, &args, &args.target)?;
    if let Some(old) = &args.diff {
        let (before, old_kept) = findings(ctx, &db, &ignores, &args, old)?;
        let diff = berth_explain::diff(
            berth_explain::Scan {
                catalog: &before.catalog,
                findings: &old_kept,
            },
            berth_explain::Scan {
                catalog: &contents.catalog,
                findings: &kept,
            },
        );
        emit(&args, diff.render().as_bytes())?;
        return gate(&args, diff.introduced.len());
    }
    let explanation = args
        .explain
        .then(|| berth_explain::explain_all(&kept, &contents.catalog, &contents.attributions));
    let remaining = kept.len();

    let Contents {
        subject,
        catalog,
        image,
        ..
    } = &contents;
    let vulnerabilities = kept
        .into_iter()
        .filter_map(|f| describe(&db, catalog, f))
        .collect();
    let scan = Scan {
        subject,
        catalog,
        image: image.as_ref().map(|i| ImageFacts {
            id: &i.config_digest,
            diff_ids: &i.diff_ids,
            repo_tags: i.repo_tags.clone(),
            repo_digests: i.repo_digests.clone(),
        }),
        vulnerabilities,
        created,
    };
    let mut report = berth_report::write(format(args.format), &scan);
    match explanation {
        // The table is for people: the explanations follow it. A machine format stays whole
        // and parseable, the explanations going to standard error.
        Some(text) if args.format == ReportFormat::Table && args.output.is_none() => {
            report.extend_from_slice(format!("\nWhere each finding came from:\n{text}").as_bytes());
        }
        Some(text) => eprint!("berth: where each finding came from:\n{text}"),
        None => {}
    }
    emit(&args, &report)?;
    gate(&args, remaining)
}

/// What `berth scan` with `args` would report for its target, as the findings left after the
/// filters: the gate `berth policy check` applies, with the same database and ignorefile.
pub(crate) fn remaining_findings(ctx: &Context, args: &ScanArgs) -> anyhow::Result<Vec<Finding>> {
    let db = open_db(ctx, args)?;
    let ignores = Ignores::read(
        &args.ignorefile,
        args.ignorefile.as_os_str() != ".trivyignore",
        chrono::Utc::now().date_naive(),
        &mut |w| eprintln!("berth: warning: {w}"),
    )?;
    Ok(findings(ctx, &db, &ignores, args, &args.target)?.1)
}

/// Catalogues `target` and matches it: the packages `--pkg-types`/`--skip-dirs` keep (with
/// their attributions) and the findings the filters leave.
fn findings(
    ctx: &Context,
    db: &Database,
    ignores: &Ignores,
    args: &ScanArgs,
    target: &str,
) -> anyhow::Result<(Contents, Vec<Finding>)> {
    let mut contents =
        crate::contents::read(ctx, target, args.platform.as_deref(), args.cache.caching())?;
    retain_wanted(&mut contents, &args.pkg_types, &args.skip_dirs);
    let count = contents.catalog.packages.len();
    let noun = if count == 1 { "package" } else { "packages" };
    eprintln!("berth: {target}: {count} {noun}");
    let matches = berth_match::catalog(db, &contents.catalog);
    for u in &matches.unjudged {
        eprintln!(
            "berth: warning: {} in {} {} not judged: {}",
            u.id, u.package, u.installed, u.why
        );
    }
    let kept = matches
        .findings
        .into_iter()
        .filter(|f| args.severity.contains(&f.severity))
        .filter(|f| !(args.ignore_unfixed && f.fixed_version.is_none()))
        .filter(|f| !ignores.accepts(&f.id, &f.aliases))
        .collect();
    Ok((contents, kept))
}

/// Keeps the packages `--pkg-types` and `--skip-dirs` want, and their attributions with them
/// (the two lists are in the same order).
fn retain_wanted(contents: &mut Contents, types: &[PkgType], skip_dirs: &[String]) {
    let keep: Vec<bool> = contents
        .catalog
        .packages
        .iter()
        .map(|p| wanted(p, types, skip_dirs))
        .collect();
    let mut flags = keep.iter();
    contents
        .catalog
        .packages
        .retain(|_| *flags.next().unwrap_or(&false));
    if !contents.attributions.is_empty() {
        let mut flags = keep.iter();
        contents
            .attributions
            .retain(|_| *flags.next().unwrap_or(&false));
    }
}

/// Writes `bytes` to `-o FILE` (whole or not at all) or standard output.
fn emit(args: &ScanArgs, bytes: &[u8]) -> anyhow::Result<()> {
    match &args.output {
        Some(path) => berth_store::blobs::write_atomic(path, bytes)
            .with_context(|| format!("writing the report to {}", path.display())),
        None => {
            print!("{}", String::from_utf8_lossy(bytes));
            Ok(())
        }
    }
}

/// `--exit-code`: fails with the code when `remaining` findings are left.
fn gate(args: &ScanArgs, remaining: usize) -> anyhow::Result<()> {
    if remaining > 0 && args.exit_code != 0 {
        return Err(Gate(args.exit_code).into());
    }
    Ok(())
}

/// The database `--db` names (else the one under the berth root), with how old each source
/// is said on standard error, and a warning for each older than `--db-max-age`.
fn open_db(ctx: &Context, args: &ScanArgs) -> anyhow::Result<Database> {
    let dir = match &args.db {
        Some(dir) => dir.clone(),
        None => ctx.root()?.join(berth_vulndb::DIR_NAME),
    };
    let db = match Database::open(&dir) {
        Err(berth_vulndb::Error::Missing { path }) => anyhow::bail!(
            "no vulnerability database at {}: import advisories with `berth db import PATH…` or download them with `berth db update` (or name a database with --db DIR)",
            path.display()
        ),
        opened => opened
            .with_context(|| format!("opening the vulnerability database in {}", dir.display()))?,
    };
    let now = std::time::SystemTime::now();
    for source in db.sources() {
        // From the feed's own date where it has one, else from the import.
        let age = source.age(now);
        eprintln!(
            "berth: database source {}: {} advisories, data {} old",
            source.name,
            source.advisories,
            show_age(age)
        );
        if age > args.db_max_age {
            eprintln!(
                "berth: warning: database source {} is {} old, more than --db-max-age {}: run `berth db update` or import newer advisories",
                source.name,
                show_age(age),
                show_age(args.db_max_age)
            );
        }
    }
    Ok(db)
}

/// Whether `--pkg-types` and `--skip-dirs` keep `package`.
fn wanted(package: &Package, types: &[PkgType], skip_dirs: &[String]) -> bool {
    let kind = match Class::of(package.package_type) {
        Class::OsPkgs => PkgType::Os,
        Class::LangPkgs => PkgType::Library,
    };
    let skipped = |evidence: &String| {
        let file = evidence.trim_start_matches('/');
        skip_dirs.iter().any(|dir| {
            let dir = dir.trim_start_matches("./").trim_matches('/');
            dir.is_empty()
                || file
                    .strip_prefix(dir)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    };
    types.contains(&kind) && !package.evidence.iter().any(skipped)
}

/// A finding with its package and what its advisory says (title, CVSS, source).
fn describe<'a>(
    db: &Database,
    catalog: &'a Catalog,
    finding: Finding,
) -> Option<Vulnerability<'a>> {
    // A language package's finding names its file (two copies at one version in two places
    // are two targets); a distribution's names none.
    let package = catalog.packages.iter().find(|p| {
        let is_language = berth_match::ecosystem(p.package_type).is_some();
        p.name == finding.package
            && p.version == finding.installed
            && finding.path.as_ref() == is_language.then(|| p.evidence.first()).flatten()
    })?;
    let key = berth_match::lookup(catalog.distro.as_ref(), package);
    let ecosystems = key.as_ref().map_or(&[][..], |k| &k.ecosystems[..]);
    let found = key.as_ref().and_then(|key| {
        key.ecosystems.iter().find_map(|eco| {
            // An advisory that does not decode made the package unjudged in the match
            // already; here it only costs the title.
            (db.lookup(eco, &key.name).ok()?)
                .into_iter()
                .find(|(a, _)| a.id == finding.id)
        })
    });
    let (title, cvss, source) = match found {
        Some((advisory, affected)) => (
            advisory.summary.clone(),
            advisory
                .severity
                .cvss
                .iter()
                .chain(&affected.severity.cvss)
                .cloned()
                .collect(),
            DataSource::of_ecosystem(&affected.ecosystem),
        ),
        None => (
            None,
            Vec::new(),
            DataSource::of_ecosystem(ecosystems.first().map_or("", String::as_str)),
        ),
    };
    Some(Vulnerability {
        finding,
        package,
        title,
        cvss,
        source,
    })
}

fn format(f: ReportFormat) -> Format {
    match f {
        ReportFormat::Table => Format::Table,
        ReportFormat::Json => Format::Json,
        ReportFormat::Sarif => Format::Sarif,
        ReportFormat::Cyclonedx => Format::CycloneDx,
        ReportFormat::SpdxJson => Format::SpdxJson,
    }
}

pub(crate) fn parse_level(s: &str) -> Result<Level, String> {
    [
        Level::Unknown,
        Level::Low,
        Level::Medium,
        Level::High,
        Level::Critical,
    ]
    .into_iter()
    .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
    .ok_or_else(|| format!("{s:?} is not a severity: UNKNOWN, LOW, MEDIUM, HIGH or CRITICAL"))
}

/// `30m`, `72h`, `7d`, `2w` (a bare number is seconds).
fn parse_age(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration: write e.g. 72h or 7d"))?;
    let unit_secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "{s:?}: the unit is one of s, m, h, d, w (e.g. 72h or 7d)"
            ));
        }
    };
    Ok(Duration::from_secs(n.saturating_mul(unit_secs)))
}

/// An age as a person reads it: the largest whole unit (days, hours, minutes, seconds).
fn show_age(d: Duration) -> String {
    match d.as_secs() {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3600 => format!("{}h", s / 3600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("72h"), Ok(Duration::from_secs(72 * 3600)));
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_age("7 days").is_err());
        assert!(parse_age("d").is_err());
        assert_eq!(show_age(Duration::from_secs(3 * 86_400 + 5)), "3d");
    }
}
