//! `berth images`

use berth_oci::Digest;
use berth_store::{ResolvedImage, Store};
use serde_json::json;

use crate::Context;
use crate::cli::{ImagesArgs, ListFormat};
use crate::ui::{format, table};

/// Uncompressed size of an image's layers, as Docker reports it.
pub fn image_size(store: &Store, image: &ResolvedImage) -> anyhow::Result<u64> {
    let mut total = 0;
    for layer in &image.manifest.layers {
        total += store.layer_info(layer)?.size;
    }
    Ok(total)
}

/// `sha256:` and 12 digits, or the whole digest.
pub fn image_id(digest: &Digest, no_trunc: bool) -> String {
    if no_trunc {
        digest.to_string()
    } else {
        digest.short().to_string()
    }
}

pub fn run(ctx: &Context, args: ImagesArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let mut rows = Vec::new();
    for record in store.images()? {
        if args.quiet {
            let id = image_id(&record.digest, args.no_trunc);
            if !rows.iter().any(|r: &Vec<String>| r[0] == id) {
                rows.push(vec![id]);
            }
            continue;
        }
        // A multi-platform image is described by its host-platform image when it has one.
        let (created, size) = match store.image(&record.digest, None) {
            Ok(image) => (
                image.config.created.as_deref().and_then(format::parse_time),
                Some(image_size(&store, &image)?),
            ),
            Err(_) => (None, None),
        };
        let names: Vec<(String, String)> = if record.tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            record
                .tags
                .iter()
                .map(|t| {
                    (
                        t.repository().familiar(),
                        t.tag().unwrap_or("<none>").to_string(),
                    )
                })
                .collect()
        };
        for (repo, tag) in names {
            rows.push(vec![
                repo,
                tag,
                record.digest.to_string(),
                image_id(&record.digest, args.no_trunc),
                created.map(format::ago).unwrap_or_else(|| "N/A".into()),
                created.map(|c| c.to_rfc3339()).unwrap_or_default(),
                size.map(format::size).unwrap_or_else(|| "N/A".into()),
            ]);
        }
    }
    if args.quiet {
        for row in rows {
            println!("{}", row[0]);
        }
        return Ok(());
    }
    if args.format == ListFormat::Json {
        for r in &rows {
            let line = json!({
                "Repository": r[0], "Tag": r[1], "Digest": r[2], "ID": r[3],
                "CreatedSince": r[4], "CreatedAt": r[5], "Size": r[6],
            });
            println!("{line}");
        }
        return Ok(());
    }
    let pick = |r: &Vec<String>| -> Vec<String> {
        let mut out = vec![r[0].clone(), r[1].clone()];
        if args.digests {
            out.push(r[2].clone());
        }
        out.extend([r[3].clone(), r[4].clone(), r[6].clone()]);
        out
    };
    let mut header = vec!["REPOSITORY", "TAG"];
    if args.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "CREATED", "SIZE"]);
    table::print(&header, &rows.iter().map(pick).collect::<Vec<_>>());
    Ok(())
}
