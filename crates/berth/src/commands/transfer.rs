//! `berth push`, `berth pull` and `berth copy`: one copy between two locations.

use std::sync::Arc;

use anyhow::Context as _;
use berth_oci::{Platform, Reference};
use berth_transport::{CopyOptions, ImageSource, Platforms, Root, copy as copy_images};
use serde_json::json;

use crate::Context;
use crate::cli::{CopyArgs, OutputArgs, PullArgs, PushArgs};
use crate::location::Location;
use crate::ui::progress::Reporter;

pub fn push(ctx: &Context, args: PushArgs) -> anyhow::Result<()> {
    let dest = match &args.destination {
        Some(d) => d.strip_prefix("docker://").unwrap_or(d).to_string(),
        None => args.image.clone(),
    };
    let dest =
        Location::Registry(Reference::parse(&dest).with_context(|| format!("pushing to {dest}"))?);
    let written = run(
        ctx,
        &Location::Store(args.image.clone()),
        &dest,
        Platforms::All,
        &args.output,
    )?;
    report(&args.output, "Pushed", &dest, &written);
    Ok(())
}

pub fn pull(ctx: &Context, args: PullArgs) -> anyhow::Result<()> {
    let reference = Reference::parse(args.image.strip_prefix("docker://").unwrap_or(&args.image))?;
    let platforms = platforms(args.platform.as_deref(), args.all_platforms, true)?;
    let source = Location::Registry(reference.clone());
    let dest = Location::Store(
        reference
            .tagged()
            .unwrap_or_else(|| reference.clone())
            .to_string(),
    );
    let written = run(ctx, &source, &dest, platforms, &args.output)?;
    report(&args.output, "Pulled", &source, &written);
    Ok(())
}

pub fn copy(ctx: &Context, args: CopyArgs) -> anyhow::Result<()> {
    let source = Location::parse(&args.source)?;
    let dest = Location::parse(&args.destination)?;
    let platforms = platforms(
        args.platform.as_deref(),
        args.all_platforms,
        source.is_registry(),
    )?;
    let written = run(ctx, &source, &dest, platforms, &args.output)?;
    report(&args.output, "Copied", &dest, &written);
    Ok(())
}

/// `--platform`, `--all-platforms`, or the default: the host's image from a registry (as
/// `docker pull` and `skopeo copy` do), every platform otherwise.
fn platforms(platform: Option<&str>, all: bool, from_registry: bool) -> anyhow::Result<Platforms> {
    Ok(match super::platform(platform)? {
        Some(p) => Platforms::One(p),
        None if all || !from_registry => Platforms::All,
        None => Platforms::One(Platform::host()),
    })
}

/// Copies images from one location to another with progress as `output` asks.
pub(crate) fn run(
    ctx: &Context,
    source: &Location,
    dest: &Location,
    platforms: Platforms,
    output: &OutputArgs,
) -> anyhow::Result<Vec<Root>> {
    run_wrapped(ctx, source, dest, platforms, output, |src, roots| {
        (src, roots)
    })
}

/// As [`run`], with `wrap` given the source and its images (named as `dest` names them) to
/// add to before the copy: `berth build` adds its attestations so.
pub(crate) fn run_wrapped(
    ctx: &Context,
    source: &Location,
    dest: &Location,
    platforms: Platforms,
    output: &OutputArgs,
    wrap: impl FnOnce(Box<dyn ImageSource>, Vec<Root>) -> (Box<dyn ImageSource>, Vec<Root>),
) -> anyhow::Result<Vec<Root>> {
    let reporter = Arc::new(Reporter::for_output(output));
    let opts = CopyOptions {
        platforms,
        blob_locations: blob_locations(ctx, source, dest),
        ..CopyOptions::default()
    };
    ctx.runtime()?
        .block_on(async {
            let src = source.source(ctx).await?;
            let roots = dest.rename(src.roots().await?)?;
            let (src, roots) = wrap(src, roots);
            let dst = dest.destination(ctx, &src.describe())?;
            anyhow::Ok(copy_images(src.as_ref(), dst.as_ref(), roots, &opts, reporter).await?)
        })
        .with_context(|| format!("copying {source} to {dest}"))
}

/// The store's record of which registry repositories hold which blobs, for a copy from or to
/// a registry: pushes mount what it knows instead of uploading, and every such copy adds to
/// it. A copy between layouts and registries uses it too, when the store opens; without one
/// the copy goes on, with nothing to mount from but its own source.
fn blob_locations(
    ctx: &Context,
    source: &Location,
    dest: &Location,
) -> Option<Arc<berth_store::Store>> {
    if !source.is_registry() && !dest.is_registry() {
        return None;
    }
    ctx.store().ok()
}

/// The result: one line per image copied (`REF@digest`), or a JSON object.
pub(crate) fn report(output: &OutputArgs, verb: &str, place: &Location, written: &[Root]) {
    for root in written {
        let name = root.names.first().map(Reference::familiar);
        if output.json {
            let line = json!({
                "event": "done",
                "location": place.to_string(),
                "name": name,
                "digest": root.descriptor.digest.to_string(),
                "mediaType": root.descriptor.media_type,
                "size": root.descriptor.size,
            });
            println!("{line}");
        } else {
            match name {
                Some(n) => println!(
                    "{verb} {}@{}",
                    n.split('@').next().unwrap_or(&n),
                    root.descriptor.digest
                ),
                None => println!("{verb} {}", root.descriptor.digest),
            }
        }
    }
}
