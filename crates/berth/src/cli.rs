//! The command line: every command, flag and argument.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "berth",
    version,
    about = "Build, ship and secure container images: one fast binary, no daemon.",
    disable_help_subcommand = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug)]
pub struct Global {
    /// Store directory [default: $BERTH_ROOT, else $XDG_DATA_HOME/berth or ~/.local/share/berth]
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// How much to log on standard error [default: warn; info for `registry serve`]
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<LogLevel>,
    /// Reach this registry (HOST[:PORT]) over plain HTTP; localhost and 127.0.0.0/8 always are
    #[arg(long, global = true, value_name = "HOST")]
    pub insecure_registry: Vec<String>,
    /// Trust this CA certificate (PEM) for registries, besides the system's
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,
    /// Longest a registry may go silent in the middle of an answer before the transfer counts
    /// as stalled and is retried, in seconds (fractions allowed) [default: 60]
    #[arg(long, global = true, value_name = "SECONDS", env = "BERTH_READ_TIMEOUT", value_parser = seconds)]
    pub read_timeout: Option<Duration>,
    /// Retries of a registry request or transfer that failed in passing [default: 5]
    #[arg(long, global = true, value_name = "N", env = "BERTH_RETRIES")]
    pub retries: Option<u32>,
}

/// A positive number of seconds, fractions allowed (`0.5`, `30`).
fn seconds(value: &str) -> Result<Duration, String> {
    let secs: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "{value} seconds: give more than 0 and at most a day"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build an image from a Dockerfile and a context, with no daemon
    Build(Box<BuildArgs>),
    /// Make a one-layer image from a directory or tarball (like `docker import`)
    Import(ImportArgs),
    /// List images
    Images(ImagesArgs),
    /// Give an image another name
    Tag(TagArgs),
    /// Remove images (their blobs go with the next `berth gc`, or at once if nothing else runs)
    Rmi(RmiArgs),
    /// Show an image's details as JSON, shaped like `docker inspect`
    Inspect(InspectArgs),
    /// Show how an image was made, layer by layer
    History(HistoryArgs),
    /// Write images to a Docker archive, an OCI archive or an OCI layout directory
    Save(SaveArgs),
    /// Read images from a Docker archive, an OCI archive or an OCI layout (format detected)
    Load(LoadArgs),
    /// Remove blobs no image uses, and leftovers of interrupted writes
    Gc(GcArgs),
    /// Check every blob against its digest and every image for missing parts
    Fsck(FsckArgs),
    /// Run a registry: the OCI distribution API over this store
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Sign in to a registry; the credential goes where Docker keeps it
    Login(LoginArgs),
    /// Forget a registry's credential
    Logout(LogoutArgs),
    /// Push an image from the store to a registry
    Push(PushArgs),
    /// Pull an image from a registry into the store
    Pull(PullArgs),
    /// Copy images between registries, layouts, archives and the store
    Copy(CopyArgs),
    /// Print the digest a reference names now, as REF@sha256:…
    Resolve(ResolveArgs),
    /// Look at manifests
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// List a repository's tags
    Tags(TagsArgs),
    /// Delete an image (its manifest) from a registry
    Delete(DeleteArgs),
    /// Check Dockerfiles: BuildKit's checks, hadolint's DL rules and berth's own
    Lint(crate::commands::lint::LintArgs),
    /// The vulnerability database: update it from the advisory feeds, import files, status
    #[command(subcommand)]
    Db(crate::commands::db::DbCommand),
    /// Make and manage signing keys, in cosign's formats
    #[command(subcommand)]
    Key(crate::commands::key::KeyCommand),
    /// List the packages an image or a directory holds, as a CycloneDX, SPDX or berth JSON document
    Sbom(SbomArgs),
    /// Find the vulnerable packages of an image or a directory: a CI gate with Trivy's flags and reports
    Scan(crate::commands::scan::ScanArgs),
    /// Check an image against a policy: signers, attestations, scan findings, base image
    #[command(subcommand)]
    Policy(crate::commands::policy::PolicyCommand),
    /// Sign an image in a registry with a key, in cosign's formats
    Sign(crate::commands::sign::SignArgs),
    /// Sign an in-toto attestation (SBOM, provenance, ...) about an image in a registry
    Attest(crate::commands::sign::AttestArgs),
    /// Check an image's signatures with a public key, or keyless against a trusted root
    Verify(crate::commands::verify::VerifyArgs),
    /// Check an image's attestations with a public key, or keyless against a trusted root
    VerifyAttestation(crate::commands::verify::VerifyAttestationArgs),
    /// Show the signatures, attestations and SBOMs attached to an image
    Tree(crate::commands::verify::TreeArgs),
}

#[derive(Args, Debug)]
pub struct SbomArgs {
    /// What to describe: an image (a store name, digest or ID, docker://REF, oci:PATH[:REF],
    /// oci-archive:PATH[:REF], docker-archive:PATH[:REF]) or dir:PATH for a directory holding a
    /// root file system
    pub target: String,
    /// Write the document to this file (whole or not at all) [default: standard output]
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "cyclonedx")]
    pub format: SbomFormat,
    /// For a multi-platform image, the platform to describe [default: this host's]
    #[arg(long)]
    pub platform: Option<String>,
    /// Push the SBOM to the registry as an OCI referrer of the image (IMAGE in a registry)
    #[arg(long)]
    pub attach: bool,
    #[command(flatten)]
    pub cache: crate::contents::CacheArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbomFormat {
    /// CycloneDX 1.6 JSON
    Cyclonedx,
    /// SPDX 2.3 JSON
    SpdxJson,
    /// berth's own JSON: each package's type, arch, purl, source, licences, evidence and layer
    BerthJson,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Registry host, e.g. registry.example.com or localhost:5000
    pub registry: String,
    /// User name [default: asked on the terminal]
    #[arg(short, long)]
    pub username: Option<String>,
    /// Read the password from standard input (so it is never on a command line)
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    pub registry: String,
}

/// How a transfer reports itself.
#[derive(Args, Debug, Clone, Copy)]
pub struct OutputArgs {
    /// No progress, only the result
    #[arg(short, long)]
    pub quiet: bool,
    /// Progress and result as JSON lines on standard output
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The build context: a directory, or `-` for a tar on standard input
    pub context: String,
    /// Name the image (repeatable)
    #[arg(short = 't', long = "tag", value_name = "REF")]
    pub tags: Vec<String>,
    /// The Dockerfile [default: CONTEXT/Dockerfile]; `-` reads it from standard input
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<String>,
    /// Set a build argument; `NAME` alone takes the value from the environment
    #[arg(long = "build-arg", value_name = "NAME[=VALUE]")]
    pub build_args: Vec<String>,
    /// Build this stage (and what it needs) instead of the last one
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Run every step, using no cached result
    #[arg(long)]
    pub no_cache: bool,
    /// Fetch base images from their registry even if the store has them
    #[arg(long)]
    pub pull: bool,
    /// Build for this platform (os/arch[/variant]) [default: this host's]
    #[arg(long)]
    pub platform: Option<String>,
    /// Add a label to the image (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// A secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VAR (repeatable)
    #[arg(long = "secret", value_name = "SPEC")]
    pub secrets: Vec<String>,
    /// Network for RUN steps: default (a namespace of each RUN's own with outbound access
    /// through pasta, from the passt package), none (loopback only), host (the host's network,
    /// loopback services included; also lets RUN --network=host have it)
    #[arg(long, value_enum, default_value = "default")]
    pub network: BuildNetwork,
    /// Where the result goes: type=image (the store, default), type=local,dest=DIR,
    /// type=oci,dest=FILE, type=docker,dest=FILE (repeatable)
    #[arg(short = 'o', long = "output", value_name = "SPEC")]
    pub outputs: Vec<String>,
    /// Push the tagged image to its registry after building
    #[arg(long)]
    pub push: bool,
    /// Write the image ID (its manifest digest) to this file
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Write build results (digests, names) as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub metadata_file: Option<PathBuf>,
    /// How to show progress
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: Progress,
    /// Show only the image ID at the end (same as --progress=quiet)
    #[arg(short, long)]
    pub quiet: bool,
    /// Compress new layers with zstd instead of gzip
    #[arg(long)]
    pub zstd: bool,
    /// Attach the image's SBOM (CycloneDX) as an attestation (with --push or --output type=oci)
    #[arg(long)]
    pub sbom: bool,
    /// Attach a SLSA v1 provenance attestation; mode=max adds each layer's Dockerfile lines
    #[arg(long, value_name = "mode=min|max", num_args = 0..=1, require_equals = true,
          default_missing_value = "mode=min")]
    pub provenance: Option<String>,
    /// BuildKit's spelling: type=sbom, or type=provenance[,mode=min|max] (repeatable)
    #[arg(long = "attest", value_name = "SPEC")]
    pub attest: Vec<String>,
    /// Sign the attestations with this key (cosign's formats, as `berth attest --key`)
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
    /// A build arg whose value stays out of the provenance (repeatable; names holding SECRET,
    /// TOKEN, PASSWORD or KEY are withheld anyway)
    #[arg(long = "secret-build-arg", value_name = "NAME")]
    pub secret_build_args: Vec<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildNetwork {
    Default,
    None,
    Host,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    Auto,
    Tty,
    Plain,
    Quiet,
    Json,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Image in the store
    pub image: String,
    /// Where to push [default: the image's own name]
    pub destination: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Image reference, e.g. localhost:5000/team/app:1.0
    pub image: String,
    /// From a multi-platform image, this platform's image [default: this host's]
    #[arg(long, conflicts_with = "all_platforms")]
    pub platform: Option<String>,
    /// Pull the whole multi-platform image
    #[arg(long)]
    pub all_platforms: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct CopyArgs {
    /// docker://REF, oci:PATH[:REF], oci-archive:PATH[:REF], docker-archive:PATH[:REF], local:REF
    pub source: String,
    /// Same forms as the source
    pub destination: String,
    /// From a multi-platform image, this platform's image [default: the host's from a registry, all otherwise]
    #[arg(long, conflicts_with = "all_platforms")]
    pub platform: Option<String>,
    /// Copy the whole multi-platform image, every platform
    #[arg(long)]
    pub all_platforms: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct ResolveArgs {
    /// Image reference (a registry's, or any location)
    pub image: String,
}

#[derive(Subcommand, Debug)]
pub enum ManifestCommand {
    /// Print an image's manifest (or index) exactly as stored
    Inspect(ManifestInspectArgs),
}

#[derive(Args, Debug)]
pub struct ManifestInspectArgs {
    /// Image reference (a registry's, or any location)
    pub image: String,
}

#[derive(Args, Debug)]
pub struct TagsArgs {
    /// Repository, e.g. localhost:5000/team/app
    pub repository: String,
    /// Tags asked for per request (the registry may send fewer, and Link to the rest)
    #[arg(long, default_value_t = 1000)]
    pub page_size: usize,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Image reference; a tag deletes the manifest it names, and so every tag on it
    pub image: String,
}

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Serve the registry until SIGTERM or SIGINT
    Serve(ServeArgs),
    /// Expire stale uploads, apply retention and collect garbage, as the server does hourly
    Gc(RegistryGcArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:5000, or the config file's]
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<std::net::SocketAddr>,
    /// Configuration file (TOML): auth, policies, TLS, GC
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RegistryGcArgs {
    /// Configuration file (TOML), for policies and the grace period
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Keep unreferenced uploads younger than this (e.g. 30m, 1h) [default: the config's, 1h]
    #[arg(long, value_name = "DURATION")]
    pub grace: Option<String>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A directory, or a tarball (plain, gzip or zstd); `-` reads a tarball from standard input
    pub source: String,
    /// Name for the image, e.g. busybox:latest
    pub reference: Option<String>,
    /// Platform the image runs on [default: this host's]
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Apply a Dockerfile instruction to the config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR); repeatable
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Clamp file times to this Unix time and use it as the creation time [default: $SOURCE_DATE_EPOCH]
    #[arg(long, value_name = "SECONDS", env = "SOURCE_DATE_EPOCH")]
    pub source_date_epoch: Option<i64>,
    /// Comment recorded in the image's history
    #[arg(short, long)]
    pub message: Option<String>,
    /// Print only the image digest
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate IDs
    #[arg(long)]
    pub no_trunc: bool,
    /// Output format: a table, or one JSON object per line
    #[arg(long, value_enum, default_value = "table")]
    pub format: ListFormat,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    /// Existing image: name, digest or ID
    pub source: String,
    /// New name, e.g. registry.example.com/team/app:1.0
    pub target: String,
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Images to remove: names, digests or IDs
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Remove an image named by ID even if several names point at it
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Images: names, digests or IDs
    #[arg(required = true)]
    pub images: Vec<String>,
    /// For a multi-platform image, the platform to show [default: this host's]
    #[arg(long)]
    pub platform: Option<String>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Image: name, digest or ID
    pub image: String,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Print sizes and dates in human-readable form
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    /// For a multi-platform image, the platform to show [default: this host's]
    #[arg(long)]
    pub platform: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveFormat {
    /// `docker save` format (layers uncompressed), for `docker load` and `podman load`
    Docker,
    /// A tar of an OCI image layout
    Oci,
    /// An OCI image layout directory
    OciDir,
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Images: names, digests or IDs
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Where to write (a file; a directory for --format oci-dir)
    #[arg(short, long, value_name = "PATH")]
    pub output: PathBuf,
    #[arg(long, value_enum, default_value = "docker")]
    pub format: SaveFormat,
    /// Save only this platform of multi-platform images [default: all for OCI, host for docker]
    #[arg(long)]
    pub platform: Option<String>,
    /// Don't show progress
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Archive or layout directory to read; `-` or nothing reads an archive from standard input
    #[arg(short, long, value_name = "PATH")]
    pub input: Option<String>,
    /// Don't show progress
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct GcArgs {
    /// Also drop the build cache (as `docker builder prune -a` does): its layers, cache
    /// mounts and unpacked snapshots go unless an image still uses them
    #[arg(long)]
    pub build_cache: bool,
}

#[derive(Args, Debug)]
pub struct FsckArgs {
    /// Remove damaged blobs (images that need them must then be loaded again)
    #[arg(long)]
    pub repair: bool,
}
