//! `berth resolve`, `berth manifest inspect`, `berth tags` and `berth delete`.

use std::io::Write;

use anyhow::Context as _;
use berth_oci::{Reference, Repository};
use berth_remote::ops;

use crate::Context;
use crate::cli::{DeleteArgs, ManifestInspectArgs, ResolveArgs, TagsArgs};
use crate::location::Location;

/// A registry reference, `docker://` optional.
pub fn reference(s: &str) -> anyhow::Result<Reference> {
    Ok(Reference::parse(s.strip_prefix("docker://").unwrap_or(s))?)
}

/// Where `resolve` and `manifest inspect` look: a registry for a bare name (as `docker
/// manifest inspect` does), or any location written with its transport.
fn locate(s: &str) -> anyhow::Result<Location> {
    if s.contains("://")
        || ["oci:", "oci-archive:", "docker-archive:", "local:"]
            .iter()
            .any(|t| s.starts_with(t))
    {
        return Location::parse(s);
    }
    Ok(Location::Registry(reference(s)?))
}

pub fn resolve(ctx: &Context, args: ResolveArgs) -> anyhow::Result<()> {
    let location = locate(&args.image)?;
    let digest = ctx.runtime()?.block_on(async {
        match &location {
            Location::Registry(r) => {
                let registry = ctx.client()?.registry(r.registry())?;
                anyhow::Ok(ops::resolve(&registry, r).await?)
            }
            other => {
                let source = other.source(ctx).await?;
                let roots = source.roots().await?;
                anyhow::Ok(
                    roots
                        .first()
                        .context("no image there")?
                        .descriptor
                        .digest
                        .clone(),
                )
            }
        }
    })?;
    let name = match &location {
        Location::Registry(r) => r
            .tagged()
            .map_or_else(|| r.repository().familiar(), |t| t.familiar()),
        other => other.to_string(),
    };
    println!("{name}@{digest}");
    Ok(())
}

pub fn manifest_inspect(ctx: &Context, args: ManifestInspectArgs) -> anyhow::Result<()> {
    let location = locate(&args.image)?;
    let bytes = ctx
        .runtime()?
        .block_on(async {
            let source = location.source(ctx).await?;
            let roots = source.roots().await?;
            let root = roots.first().context("no image there")?;
            anyhow::Ok(source.manifest(&root.descriptor).await?)
        })
        .with_context(|| format!("reading the manifest of {location}"))?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    out.write_all(b"\n")?;
    Ok(())
}

pub fn tags(ctx: &Context, args: TagsArgs) -> anyhow::Result<()> {
    let repository = Repository::parse(
        args.repository
            .strip_prefix("docker://")
            .unwrap_or(&args.repository),
    )?;
    let tags = ctx.runtime()?.block_on(async {
        let registry = ctx.client()?.registry(repository.registry())?;
        anyhow::Ok(ops::tags(&registry, &repository, args.page_size.max(1)).await?)
    })?;
    for t in tags {
        println!("{t}");
    }
    Ok(())
}

pub fn delete(ctx: &Context, args: DeleteArgs) -> anyhow::Result<()> {
    let r = reference(&args.image)?;
    let digest = ctx.runtime()?.block_on(async {
        let registry = ctx.client()?.registry(r.registry())?;
        anyhow::Ok(ops::delete(&registry, &r).await?)
    })?;
    println!("Deleted {}@{digest}", r.repository().familiar());
    Ok(())
}
