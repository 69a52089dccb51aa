//! `berth import SOURCE [REF]`

use std::fs::File;
use std::io::{self, IsTerminal};
use std::path::Path;

use anyhow::{Context as _, bail};
use berth_build::import::{ImportOptions, ImportSource, import};
use berth_oci::{Platform, Reference};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::Context;
use crate::cli::ImportArgs;

pub fn run(ctx: &Context, args: ImportArgs) -> anyhow::Result<()> {
    let name = args
        .reference
        .as_deref()
        .map(Reference::parse)
        .transpose()?;
    if name.as_ref().is_some_and(|n| n.digest().is_some()) {
        bail!("can't name an imported image by digest; give a tag, such as busybox:latest");
    }
    let opts = ImportOptions {
        platform: super::platform(args.platform.as_deref())?.unwrap_or_else(Platform::host),
        changes: args.changes,
        source_date_epoch: args.source_date_epoch,
        message: args.message,
    };
    let store = ctx.store()?;
    let path = Path::new(&args.source);
    let source = if args.source == "-" {
        ImportSource::Tarball(Box::new(io::stdin().lock()), "standard input".into())
    } else if path.is_dir() {
        ImportSource::Dir(path)
    } else {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        ImportSource::Tarball(Box::new(file), path.display().to_string())
    };
    let bar = progress_bar(args.quiet);
    let imported = import(&store, source, name.as_ref(), &opts, &|done, total| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let imported = imported.with_context(|| format!("importing {}", args.source))?;
    for skipped in &imported.skipped {
        eprintln!(
            "berth: warning: skipped {}: a socket can't be stored in a layer",
            berth_rootfs::path::shown(skipped)
        );
    }
    if !args.quiet {
        if let Some(name) = &name {
            eprintln!("Imported {} as {}", args.source, name.familiar());
        }
    }
    println!("{}", imported.manifest.digest);
    Ok(())
}

/// A bar on a terminal for the file content written into the layer; nothing otherwise.
fn progress_bar(quiet: bool) -> Option<ProgressBar> {
    if quiet || !io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "Importing [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    Some(bar)
}
