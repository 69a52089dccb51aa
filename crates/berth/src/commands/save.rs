//! `berth save REF… -o PATH [--format docker|oci|oci-dir]`

use std::sync::Arc;

use anyhow::Context as _;
use berth_transport::docker_archive::DockerArchiveDestination;
use berth_transport::layout::{OciArchiveDestination, OciDirDestination};
use berth_transport::local::StoreSource;
use berth_transport::{CopyOptions, ImageDestination, ImageSource, Platforms, copy};

use crate::Context;
use crate::cli::{SaveArgs, SaveFormat};
use crate::ui::progress::Reporter;

pub fn run(ctx: &Context, args: SaveArgs) -> anyhow::Result<()> {
    let platform = super::platform(args.platform.as_deref())?;
    let store = ctx.store()?;
    let source = StoreSource::new(store, &args.images)?;
    let out = &args.output;
    let dest: Box<dyn ImageDestination> = match args.format {
        SaveFormat::Docker => Box::new(DockerArchiveDestination::new(out)?),
        SaveFormat::Oci => Box::new(OciArchiveDestination::new(out)?),
        SaveFormat::OciDir => Box::new(OciDirDestination::new(out)?),
    };
    let opts = CopyOptions {
        platforms: platform.map_or(Platforms::All, Platforms::One),
        ..CopyOptions::default()
    };
    let reporter = Arc::new(Reporter::new(args.quiet));
    ctx.runtime()?
        .block_on(async {
            let roots = source.roots().await?;
            copy(&source, dest.as_ref(), roots, &opts, reporter).await
        })
        .with_context(|| format!("saving to {}", out.display()))?;
    Ok(())
}
