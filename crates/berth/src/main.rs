//! `berth`: build, ship and secure container images.

mod attribution;
mod cli;
mod commands;
mod contents;
mod location;
mod provenance;
mod ui;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use berth_store::Store;
use clap::Parser;

use crate::cli::{Cli, Command, LogLevel};

fn main() -> ExitCode {
    quiet_when_stdout_closes();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let default_level = match &cli.command {
        Command::Registry(cli::RegistryCommand::Serve(_)) => LogLevel::Info,
        _ => LogLevel::Warn,
    };
    init_logging(cli.global.log_level.unwrap_or(default_level));
    // A build mounts overlays: in a mount namespace of its own they vanish with the process,
    // however it ends. This must happen while the process has one thread.
    if matches!(cli.command, Command::Build(_)) {
        if let Err(e) = berth_build::isolate_mounts() {
            eprintln!("berth: {e}");
            return ExitCode::FAILURE;
        }
    }
    // Tree walks hold a descriptor per level: deep trees need more than many systems' 1,024.
    if matches!(cli.command, Command::Build(_) | Command::Import(_)) {
        berth_build::limits::raise_open_files();
    }
    // Lint needs no store, and exits 2 (not 1) when a file can't be read.
    if let Command::Lint(args) = cli.command {
        return commands::lint::run(args);
    }
    let ctx = Context {
        root: cli.global.root.clone(),
        remote: berth_remote::Options {
            insecure_registries: cli.global.insecure_registry.clone(),
            ca_certs: cli.global.ca_cert.clone(),
            read_timeout: cli.global.read_timeout,
            retries: cli.global.retries,
            ..berth_remote::Options::default()
        },
        client: std::sync::OnceLock::new(),
        store: std::sync::OnceLock::new(),
    };
    match run(&ctx, cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `berth scan --exit-code N` found what it gates on: its report is out, nothing failed.
            if let Some(gate) = e.downcast_ref::<commands::scan::Gate>() {
                return ExitCode::from(gate.0);
            }
            eprintln!("berth: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn run(ctx: &Context, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Build(args) => commands::build::run(ctx, *args),
        Command::Import(args) => commands::import::run(ctx, args),
        Command::Images(args) => commands::images::run(ctx, args),
        Command::Tag(args) => commands::tag::run(ctx, args),
        Command::Rmi(args) => commands::rmi::run(ctx, args),
        Command::Inspect(args) => commands::inspect::run(ctx, args),
        Command::History(args) => commands::history::run(ctx, args),
        Command::Save(args) => commands::save::run(ctx, args),
        Command::Load(args) => commands::load::run(ctx, args),
        Command::Gc(args) => commands::gc::run(ctx, args),
        Command::Fsck(args) => commands::gc::fsck(ctx, args),
        Command::Registry(cmd) => commands::registry::run(ctx, cmd),
        Command::Login(args) => commands::login::login(ctx, args),
        Command::Logout(args) => commands::login::logout(ctx, args),
        Command::Push(args) => commands::transfer::push(ctx, args),
        Command::Pull(args) => commands::transfer::pull(ctx, args),
        Command::Copy(args) => commands::transfer::copy(ctx, args),
        Command::Resolve(args) => commands::remote::resolve(ctx, args),
        Command::Manifest(cli::ManifestCommand::Inspect(args)) => {
            commands::remote::manifest_inspect(ctx, args)
        }
        Command::Tags(args) => commands::remote::tags(ctx, args),
        Command::Delete(args) => commands::remote::delete(ctx, args),
        Command::Db(cmd) => commands::db::run(ctx, cmd),
        Command::Key(cmd) => commands::key::run(cmd),
        Command::Sbom(args) => commands::sbom::run(ctx, args),
        Command::Scan(args) => commands::scan::run(ctx, args),
        Command::Policy(command) => commands::policy::run(ctx, command),
        Command::Sign(args) => commands::sign::sign(ctx, args),
        Command::Attest(args) => commands::sign::attest(ctx, args),
        Command::Verify(args) => commands::verify::verify(ctx, args),
        Command::VerifyAttestation(args) => commands::verify::verify_attestation(ctx, args),
        Command::Tree(args) => commands::verify::tree(ctx, args),
        Command::Lint(_) => unreachable!("berth lint runs before the store is opened"),
    }
}

/// `berth inspect x | head -1` ends quietly when `head` does, with the status a shell gives a
/// process a closed pipe stopped (128 + SIGPIPE), as other Unix tools do. Rust ignores SIGPIPE
/// so that network writes fail with EPIPE instead of killing the process (berth needs that),
/// and `println!` then panics on the closed standard output: that one panic is turned into the
/// quiet exit.
fn quiet_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info)
    }));
}

/// What every command needs: where the store is, how to reach registries.
pub struct Context {
    pub root: Option<PathBuf>,
    pub remote: berth_remote::Options,
    client: std::sync::OnceLock<Arc<berth_remote::Client>>,
    store: std::sync::OnceLock<Arc<Store>>,
}

impl Context {
    /// `--root`, else `$BERTH_ROOT`, else `$XDG_DATA_HOME/berth`, else `~/.local/share/berth`.
    pub fn root(&self) -> anyhow::Result<PathBuf> {
        if let Some(root) = &self.root {
            return Ok(root.clone());
        }
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(root) = env("BERTH_ROOT") {
            return Ok(root);
        }
        if let Some(data) = env("XDG_DATA_HOME") {
            return Ok(data.join("berth"));
        }
        let home = env("HOME").context("can't find the store: set --root, $BERTH_ROOT or $HOME")?;
        Ok(home.join(".local/share/berth"))
    }

    /// The store, opened on first use.
    pub fn store(&self) -> anyhow::Result<Arc<Store>> {
        if let Some(s) = self.store.get() {
            return Ok(s.clone());
        }
        let root = self.root()?;
        let store = Store::open(&root)
            .with_context(|| format!("opening the berth store at {}", root.display()))?;
        Ok(self.store.get_or_init(|| Arc::new(store)).clone())
    }

    /// The registry client, made on first use.
    pub fn client(&self) -> anyhow::Result<Arc<berth_remote::Client>> {
        if let Some(c) = self.client.get() {
            return Ok(c.clone());
        }
        let client = Arc::new(berth_remote::Client::new(self.remote.clone())?);
        Ok(self.client.get_or_init(|| client).clone())
    }

    /// Where archives read from standard input or compressed are unpacked: the store's
    /// ingest directory, so they share its file system.
    pub fn temp_dir(&self) -> anyhow::Result<PathBuf> {
        Ok(self.store()?.root().join("ingest"))
    }

    /// A runtime for commands that move images.
    pub fn runtime(&self) -> anyhow::Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")
    }
}

/// The error and its causes on one line, without repeating a cause its parent already quotes.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    // Multi-line messages (a TOML parser's, say) fold onto the one line.
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Help and version print as usual; a usage mistake prints one line and exits 1.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    // clap's first paragraph says what is wrong; the usage after it is for --help.
    let rendered = e.render().to_string();
    let first: Vec<&str> = rendered
        .trim_start()
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = first.join(" ");
    let message = message.trim_start_matches("error: ");
    eprintln!("berth: {message} (see 'berth --help')");
    ExitCode::FAILURE
}

fn init_logging(level: LogLevel) {
    let level = match level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
        LogLevel::Trace => "trace",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
