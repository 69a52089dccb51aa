//! `berth registry serve` and `berth registry gc`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use berth_registry::{Config, Server, maintenance};
use berth_store::Store;

use crate::Context;
use crate::cli::{RegistryCommand, RegistryGcArgs, ServeArgs};
use crate::ui::format;

pub fn run(ctx: &Context, cmd: RegistryCommand) -> anyhow::Result<()> {
    match cmd {
        RegistryCommand::Serve(args) => serve(ctx, args),
        RegistryCommand::Gc(args) => gc(ctx, args),
    }
}

fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::default()),
    }
}

/// The store: `--root`/`$BERTH_ROOT` first, then the config file's `root`, then the default.
fn open_store(ctx: &Context, config: &Config) -> anyhow::Result<Arc<Store>> {
    let root = match (&ctx.root, std::env::var_os("BERTH_ROOT"), &config.root) {
        (None, None, Some(root)) => root.clone(),
        _ => ctx.root()?,
    };
    let store = Store::open(&root)
        .with_context(|| format!("opening the berth store at {}", root.display()))?;
    Ok(Arc::new(store))
}

fn serve(ctx: &Context, args: ServeArgs) -> anyhow::Result<()> {
    let mut config = load_config(args.config.as_deref())?;
    if let Some(addr) = args.addr {
        config.addr = addr;
    }
    // The pull policy is read relative to the configuration, as its other paths are not: it
    // is berth's policy file, whose own paths are relative to itself.
    let pull_policy = config.pull_policy.as_ref().map(|p| match &args.config {
        Some(file) => file.parent().unwrap_or(Path::new(".")).join(p),
        None => p.clone(),
    });
    let store = open_store(ctx, &config)?;
    let runtime = ctx.runtime()?;
    runtime.block_on(async move {
        let mut server = Server::bind(config, store).await?;
        if let Some(path) = pull_policy {
            let addr = server.local_addr().to_string();
            let policy = super::policy::SignaturePolicy::read(&path, addr)
                .context("the registry's pull_policy")?;
            server = server.with_pull_gate(Arc::new(policy));
        }
        eprintln!("berth registry listening on {}", server.url());
        server.run(shutdown_signal()).await;
        anyhow::Ok(())
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handling, serve until killed.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

fn gc(ctx: &Context, args: RegistryGcArgs) -> anyhow::Result<()> {
    let mut config = load_config(args.config.as_deref())?;
    if let Some(grace) = args.grace.as_deref() {
        let Some(d) = berth_registry::config::parse_duration(grace) else {
            bail!("--grace {grace:?} is not a duration such as 90s, 30m, 1h or 7d");
        };
        config.gc.grace = d;
    }
    let store = open_store(ctx, &config)?;
    let report = maintenance::run(&store, &config)?;
    println!(
        "Removed {} blobs, {} freed; forgot {} manifests; expired {} uploads; retired {} tags and {} manifests; {} in {} blobs remain",
        report.gc.blobs_removed,
        format::size(report.gc.bytes_freed),
        report.gc.manifests_forgotten,
        report.uploads_expired,
        report.tags_retired,
        report.manifests_retired,
        format::size(report.storage_bytes),
        report.storage_blobs,
    );
    Ok(())
}
