//! `berth inspect REF…`: JSON shaped like `docker inspect`.

use berth_store::Store;
use serde_json::{Value, json};

use crate::Context;
use crate::cli::InspectArgs;
use crate::commands::images::image_size;

pub fn run(ctx: &Context, args: InspectArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let platform = super::platform(args.platform.as_deref())?;
    let mut out = Vec::new();
    for name in &args.images {
        out.push(describe(&store, name, platform.as_ref())?);
    }
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    serde::Serialize::serialize(&out, &mut ser)?;
    println!("{}", String::from_utf8(buf)?);
    Ok(())
}

fn describe(
    store: &Store,
    name: &str,
    platform: Option<&berth_oci::Platform>,
) -> anyhow::Result<Value> {
    let (record, _) = store.lookup(name)?;
    let image = store.image(&record, platform)?;
    let tags = store.meta().tags_of(&record)?;
    let repo_digests: Vec<String> = store
        .meta()
        .repositories_of(&record)?
        .iter()
        .filter_map(|r| berth_oci::Repository::parse(r).ok())
        .map(|r| format!("{}@{}", r.familiar(), record))
        .collect();
    let config = &image.config;
    let mut v = json!({
        "Id": record.to_string(),
        "RepoTags": tags.iter().map(|t| t.familiar()).collect::<Vec<_>>(),
        "RepoDigests": repo_digests,
        "Parent": "",
        "Comment": config.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
        "Created": config.created.clone().unwrap_or_default(),
        "DockerVersion": config.extra.get("docker_version").cloned().unwrap_or(json!("")),
        "Author": config.author.clone().unwrap_or_default(),
        "Config": config.config.clone().unwrap_or_default(),
        "Architecture": config.architecture,
        "Os": config.os,
        "Size": image_size(store, &image)?,
        "RootFS": {
            "Type": config.rootfs.kind,
            "Layers": config.rootfs.diff_ids,
        },
        "Descriptor": {
            "mediaType": image.manifest.media_type.clone().unwrap_or_default(),
            "digest": image.manifest_digest.to_string(),
        },
    });
    if let Some(variant) = &config.variant {
        v["Variant"] = json!(variant);
    }
    Ok(v)
}
