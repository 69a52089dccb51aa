//! `berth history REF`

use crate::Context;
use crate::cli::HistoryArgs;
use crate::commands::images::image_id;
use crate::ui::{format, table};

pub fn run(ctx: &Context, args: HistoryArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let platform = super::platform(args.platform.as_deref())?;
    let (record, _) = store.lookup(&args.image)?;
    let image = store.image(&record, platform.as_ref())?;
    let steps = image.config.history_with_layers();
    let mut rows = Vec::new();
    // Newest first, as Docker prints it; only the top step is the image itself.
    for (i, (step, layer)) in steps.iter().enumerate().rev() {
        let size = match layer.and_then(|l| image.manifest.layers.get(l)) {
            Some(desc) => store.layer_info(desc)?.size,
            None => 0,
        };
        let created = step.created.as_deref().and_then(format::parse_time);
        let created = match (created, args.human) {
            (Some(t), true) => format::ago(t),
            (Some(t), false) => t.to_rfc3339(),
            (None, _) => String::new(),
        };
        let by = step.created_by.clone().unwrap_or_default();
        rows.push(vec![
            if i + 1 == steps.len() {
                image_id(&record, args.no_trunc)
            } else {
                "<missing>".to_string()
            },
            created,
            if args.no_trunc {
                by
            } else {
                format::truncate(&by, 45)
            },
            if args.human {
                format::size(size)
            } else {
                size.to_string()
            },
            step.comment.clone().unwrap_or_default(),
        ]);
    }
    table::print(
        &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
        &rows,
    );
    Ok(())
}
