//! `berth rmi REF…`

use anyhow::bail;

use crate::Context;
use crate::cli::RmiArgs;
use crate::ui::format;

pub fn run(ctx: &Context, args: RmiArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    // Check every name first, so a bad one removes nothing.
    let mut targets = Vec::new();
    for name in &args.images {
        let (digest, tag) = store.lookup(name)?;
        let tags = store.meta().tags_of(&digest)?;
        if tag.is_none() && tags.len() > 1 && !args.force {
            bail!(
                "unable to remove {name}: {} names point at it ({}); remove them by name or use --force",
                tags.len(),
                tags.iter()
                    .map(|t| t.familiar())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        targets.push((digest, tag));
    }
    for (digest, tag) in targets {
        let remaining = match tag {
            Some(tag) => {
                store.meta().untag(&tag)?;
                println!("Untagged: {}", tag.familiar());
                store.meta().tags_of(&digest)?.len()
            }
            None => {
                for t in store.meta().tags_of(&digest)? {
                    println!("Untagged: {}", t.familiar());
                }
                0
            }
        };
        if remaining == 0 && store.meta().is_image(&digest)? {
            store.meta().remove_image(&digest)?;
            println!("Deleted: {digest}");
        }
    }
    // Free the space now unless another berth process is writing; `berth gc` catches up later.
    if let Some(report) = store.gc(false, berth_store::DEFAULT_GRACE)? {
        if report.blobs_removed > 0 {
            eprintln!(
                "Freed {} ({} blobs)",
                format::size(report.bytes_freed),
                report.blobs_removed
            );
        }
    }
    Ok(())
}
