//! `berth db`: the vulnerability database — download the feeds again (`update`), import
//! advisory files (`import`), and say what it holds and how old it is (`status`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use berth_vulndb::{Database, Error as DbError, FORMAT_VERSION, Import, Origin, Source};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use serde::Deserialize;

use crate::Context;
use crate::ui::format;

/// Where the public feeds are, when neither `--source` nor a sources file says otherwise: the
/// OSV project's one zip per ecosystem, the Debian security tracker's JSON, and Alpine's
/// secdb for its supported releases.
const OSV_ZIPS: &str = "https://osv-vulnerabilities.storage.googleapis.com";
const OSV_ECOSYSTEMS: [(&str, &str); 10] = [
    ("osv-go", "Go"),
    ("osv-pypi", "PyPI"),
    ("osv-crates", "crates.io"),
    ("osv-npm", "npm"),
    ("osv-maven", "Maven"),
    ("osv-rubygems", "RubyGems"),
    ("osv-nuget", "NuGet"),
    ("osv-packagist", "Packagist"),
    ("osv-debian", "Debian"),
    ("osv-alpine", "Alpine"),
];
const DEBIAN_TRACKER: &str = "https://security-tracker.debian.org/tracker/data/json";
const ALPINE_SECDB: &str = "https://secdb.alpinelinux.org";
const ALPINE_RELEASES: [&str; 3] = ["v3.20", "v3.21", "v3.22"];

/// The sources file `berth db update` reads from the database directory when it exists.
const SOURCES_FILE: &str = "sources.toml";

#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Download the advisory feeds that changed since the last update and import them; nothing
    /// is replaced unless every source downloads and reads
    Update(UpdateArgs),
    /// Import advisory files, directories or zips (OSV, Debian tracker, Alpine secdb), each
    /// as a source named after its path or NAME=PATH, replacing a source of that name
    Import(ImportArgs),
    /// Show the database's format and each source: kind, advisories, dates, age
    Status(StatusArgs),
}

#[derive(Args, Debug)]
pub struct DbDir {
    /// The database's directory [default: ROOT/vulndb]
    #[arg(long = "db", value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub db: DbDir,
    /// Download source NAME from URL; given, only these are updated (repeatable)
    #[arg(long = "source", value_name = "NAME=URL")]
    pub sources: Vec<String>,
    /// A TOML file with a [sources] table of NAME = "URL" [default: DIR/sources.toml when it
    /// exists, else the public OSV, Debian tracker and Alpine secdb feeds]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub db: DbDir,
    /// Files, directories or zips to import, each PATH or NAME=PATH
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub db: DbDir,
    /// Output format
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub format: StatusFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum StatusFormat {
    Text,
    Json,
}

pub fn run(ctx: &Context, command: DbCommand) -> anyhow::Result<()> {
    match command {
        DbCommand::Update(args) => update(ctx, args),
        DbCommand::Import(args) => import(ctx, args),
        DbCommand::Status(args) => status(ctx, args),
    }
}

/// The database directory: `--db`, else [`berth_vulndb::DIR_NAME`] under berth's root.
pub fn dir(ctx: &Context, db: &DbDir) -> anyhow::Result<PathBuf> {
    match &db.dir {
        Some(dir) => Ok(dir.clone()),
        None => Ok(ctx.root()?.join(berth_vulndb::DIR_NAME)),
    }
}

/// The database under `dir`, or an empty one when there is none yet, or when the file is
/// damaged or of another format: making it anew is the way out such a file's error gives,
/// so the sources it held are said lost, not kept.
fn existing(dir: &Path) -> anyhow::Result<Database> {
    match Database::open(dir) {
        Ok(db) => Ok(db),
        Err(DbError::Missing { .. }) => Ok(Database::new()),
        Err(e @ (DbError::NotADatabase { .. } | DbError::NewerFormat { .. })) => {
            eprintln!("berth: warning: {e}: replacing it, without the sources it held");
            Ok(Database::new())
        }
        Err(e) => Err(e.into()),
    }
}

fn import(ctx: &Context, args: ImportArgs) -> anyhow::Result<()> {
    let dir = dir(ctx, &args.db)?;
    let mut db = existing(&dir)?;
    let mut imports = Vec::new();
    for arg in &args.paths {
        let (name, path) = match arg.split_once('=') {
            Some((name, path)) if !name.is_empty() && !Path::new(arg).exists() => (name, path),
            _ => (arg.as_str(), arg.as_str()),
        };
        let start = Instant::now();
        let import = Import::read(name, Path::new(path))?;
        eprintln!("{}, {:.1}s", summary(&import.source), secs(start.elapsed()));
        imports.push(import);
    }
    db.replace(imports)?;
    let file = db.save(&dir)?;
    eprintln!("saved {}", file.display());
    Ok(())
}

/// `NAME: 1,234 advisories (5 withdrawn, 6 not reported)`.
fn summary(source: &Source) -> String {
    format!(
        "{}: {} advisories ({} withdrawn, {} not reported)",
        source.name, source.advisories, source.withdrawn, source.not_reported
    )
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourcesFile {
    sources: BTreeMap<String, String>,
}

/// What to update: the `--source` flags, else the sources file, else the public feeds.
fn upstreams(dir: &Path, args: &UpdateArgs) -> anyhow::Result<Vec<(String, String)>> {
    if !args.sources.is_empty() {
        return args
            .sources
            .iter()
            .map(|s| match s.split_once('=') {
                Some((name, url)) if !name.is_empty() && !url.is_empty() => {
                    Ok((name.to_owned(), url.to_owned()))
                }
                _ => bail!("--source {s:?}: give NAME=URL"),
            })
            .collect();
    }
    let config = match &args.config {
        Some(file) => Some(file.clone()),
        None => Some(dir.join(SOURCES_FILE)).filter(|f| f.exists()),
    };
    if let Some(file) = config {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let parsed: SourcesFile =
            toml::from_str(&text).with_context(|| format!("reading {}", file.display()))?;
        return Ok(parsed.sources.into_iter().collect());
    }
    let mut out: Vec<(String, String)> = OSV_ECOSYSTEMS
        .iter()
        .map(|(name, eco)| (name.to_string(), format!("{OSV_ZIPS}/{eco}/all.zip")))
        .collect();
    out.push(("debian-tracker".into(), DEBIAN_TRACKER.into()));
    for release in ALPINE_RELEASES {
        for repo in ["main", "community"] {
            out.push((
                format!("alpine-{release}-{repo}"),
                format!("{ALPINE_SECDB}/{release}/{repo}.json"),
            ));
        }
    }
    Ok(out)
}

fn update(ctx: &Context, args: UpdateArgs) -> anyhow::Result<()> {
    let dir = dir(ctx, &args.db)?;
    let upstreams = upstreams(&dir, &args)?;
    let mut db = existing(&dir)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let client = http_client(ctx)?;
    let runtime = ctx.runtime()?;
    let mut imports = Vec::new();
    let mut failed = Vec::new();
    for (name, url) in &upstreams {
        let known = db
            .sources()
            .iter()
            .find(|s| &s.name == name)
            .and_then(|s| s.origin.as_ref())
            .filter(|o| &o.url == url);
        match runtime.block_on(fetch(&client, &dir, name, url, known)) {
            Ok(Some(import)) => imports.push(import),
            Ok(None) => eprintln!("{name}: not modified"),
            Err(e) => {
                eprintln!("{name}: {e:#}");
                failed.push(name.as_str());
            }
        }
    }
    if !failed.is_empty() {
        let hint = if failed.len() == upstreams.len() {
            format!(
                ": where these addresses cannot be reached, name mirrors (`--source NAME=URL`, \
                 or a [sources] table in {}) or import local copies with `berth db import PATH…`",
                dir.join(SOURCES_FILE).display()
            )
        } else {
            String::new()
        };
        bail!(
            "{} of {} sources failed ({}); the database is unchanged{hint}",
            failed.len(),
            upstreams.len(),
            failed.join(", ")
        );
    }
    if imports.is_empty() {
        eprintln!("all {} sources are current", upstreams.len());
        return Ok(());
    }
    db.replace(imports)?;
    let file = db.save(&dir)?;
    eprintln!("saved {}", file.display());
    Ok(())
}

/// A client for the feeds: berth's user agent, timeouts and `--ca-cert`s.
fn http_client(ctx: &Context) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(
            ctx.remote
                .read_timeout
                .unwrap_or(berth_remote::DEFAULT_READ_TIMEOUT),
        );
    for path in &ctx.remote.ca_certs {
        let pem = std::fs::read(path).with_context(|| format!("--ca-cert {}", path.display()))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("--ca-cert {}: not PEM certificates", path.display()))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().context("setting up HTTP")
}

/// Downloads one source into a temporary file beside the database and reads it: `None` when
/// the server says the copy the database holds is current.
async fn fetch(
    client: &reqwest::Client,
    dir: &Path,
    name: &str,
    url: &str,
    known: Option<&Origin>,
) -> anyhow::Result<Option<Import>> {
    let mut request = client.get(url);
    if let Some(etag) = known.and_then(|o| o.etag.as_deref()) {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    if let Some(date) = known.and_then(|o| o.last_modified.as_deref()) {
        request = request.header(reqwest::header::IF_MODIFIED_SINCE, date);
    }
    let start = Instant::now();
    let mut response = request.send().await.with_context(|| format!("GET {url}"))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    if !status.is_success() {
        bail!("GET {url}: {status}");
    }
    eprintln!("{name}: downloading {url}");
    let header = |h| {
        response
            .headers()
            .get(h)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let origin = Origin {
        url: url.to_owned(),
        etag: header(reqwest::header::ETAG),
        last_modified: header(reqwest::header::LAST_MODIFIED),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    let mut got = 0u64;
    let mut shown = Instant::now();
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("GET {url}: reading the body"))?
    {
        file.write_all(&chunk)
            .with_context(|| format!("writing {}", file.path().display()))?;
        got += chunk.len() as u64;
        if shown.elapsed() >= Duration::from_secs(2) {
            eprintln!("{name}: {}", format::size(got));
            shown = Instant::now();
        }
    }
    eprintln!(
        "{name}: {} in {:.1}s",
        format::size(got),
        secs(start.elapsed())
    );
    let mut import = Import::read(name, file.path()).with_context(|| format!("reading {url}"))?;
    let served = origin
        .last_modified
        .as_deref()
        .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
        .and_then(|d| u64::try_from(d.timestamp()).ok());
    import.source.modified = import.source.modified.max(served);
    import.source.origin = Some(origin);
    eprintln!("{}", summary(&import.source));
    Ok(Some(import))
}

fn status(ctx: &Context, args: StatusArgs) -> anyhow::Result<()> {
    let dir = dir(ctx, &args.db)?;
    let db = Database::open(&dir)?;
    let now = SystemTime::now();
    match args.format {
        StatusFormat::Json => {
            let sources: Vec<_> = db
                .sources()
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "name": s.name,
                        "kind": kind(s),
                        "advisories": s.advisories,
                        "withdrawn": s.withdrawn,
                        "not_reported": s.not_reported,
                        "imported": rfc3339(s.imported),
                        "modified": s.modified.map(rfc3339),
                        "age_seconds": s.age(now).as_secs(),
                        "url": s.origin.as_ref().map(|o| &o.url),
                    })
                })
                .collect();
            let out = serde_json::json!({
                "path": Database::path(&dir),
                "format": FORMAT_VERSION,
                "sources": sources,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        StatusFormat::Text => {
            println!(
                "{} (format {FORMAT_VERSION})",
                Database::path(&dir).display()
            );
            let rows: Vec<Vec<String>> = db
                .sources()
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        kind(s),
                        s.advisories.to_string(),
                        rfc3339(s.imported),
                        s.modified.map_or_else(|| "-".to_owned(), rfc3339),
                        format::duration(s.age(now).as_secs()),
                    ]
                })
                .collect();
            crate::ui::table::print(
                &[
                    "SOURCE",
                    "KIND",
                    "ADVISORIES",
                    "IMPORTED",
                    "MODIFIED",
                    "AGE",
                ],
                &rows,
            );
        }
    }
    Ok(())
}

/// The formats a source was read from: `osv`, `debian-tracker`, `alpine-secdb`.
fn kind(source: &Source) -> String {
    let kinds: Vec<_> = source.formats.iter().map(|f| f.as_str()).collect();
    if kinds.is_empty() {
        "-".to_owned()
    } else {
        kinds.join(",")
    }
}

fn rfc3339(secs: u64) -> String {
    let at: DateTime<Utc> = (UNIX_EPOCH + Duration::from_secs(secs)).into();
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
