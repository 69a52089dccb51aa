//! The command line: every command, flag and argument.

use std::path::PathBuf;

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
    Gc,
    /// Check every blob against its digest and every image for missing parts
    Fsck(FsckArgs),
    /// Run a registry: the OCI distribution API over this store
    #[command(subcommand)]
    Registry(RegistryCommand),
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
pub struct FsckArgs {
    /// Remove damaged blobs (images that need them must then be loaded again)
    #[arg(long)]
    pub repair: bool,
}
