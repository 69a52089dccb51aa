//! `berth load [-i PATH]`: any of the three archive formats, detected.

use std::io::{self, IsTerminal};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use berth_transport::local::StoreDestination;
use berth_transport::{CopyOptions, Input, copy, open_any};

use crate::Context;
use crate::cli::LoadArgs;
use crate::ui::progress::Reporter;

pub fn run(ctx: &Context, args: LoadArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let temp_dir = store.root().join("ingest");
    let label = args
        .input
        .clone()
        .unwrap_or_else(|| "standard input".into());
    let input = match args.input.as_deref() {
        None | Some("-") => {
            if io::stdin().is_terminal() {
                bail!("no archive given: use -i PATH, or pipe an archive into berth load");
            }
            Input::Stream(Box::new(io::stdin().lock()))
        }
        Some(path) => Input::Path(Path::new(path)),
    };
    let (_, source) = open_any(input, &temp_dir).with_context(|| format!("loading {label}"))?;
    let dest = StoreDestination::new(store.clone(), &source.describe())?;
    let reporter = Arc::new(Reporter::new(args.quiet));
    let written = ctx
        .runtime()?
        .block_on(async {
            let roots = source.roots().await?;
            copy(
                source.as_ref(),
                &dest,
                roots,
                &CopyOptions::default(),
                reporter.clone(),
            )
            .await
        })
        .with_context(|| format!("loading {label}"))?;
    for root in written {
        if root.names.is_empty() {
            println!("Loaded image ID: {}", root.descriptor.digest);
        }
        for name in root.names {
            println!("Loaded image: {}", name.familiar());
        }
    }
    Ok(())
}
