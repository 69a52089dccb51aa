//! `berth gc` and `berth fsck`

use anyhow::bail;

use crate::Context;
use crate::cli::{FsckArgs, GcArgs};
use crate::ui::format;

pub fn run(ctx: &Context, args: GcArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let gc = |wait| {
        if args.build_cache {
            store.gc_build_cache(wait, berth_store::DEFAULT_GRACE)
        } else {
            store.gc(wait, berth_store::DEFAULT_GRACE)
        }
    };
    let report = match gc(false)? {
        Some(r) => r,
        None => {
            eprintln!("Waiting for other berth processes writing to the store…");
            gc(true)?.expect("waited for the lock")
        }
    };
    println!(
        "Removed {} blobs, {} freed; forgot {} manifests; cleared {} partial files",
        report.blobs_removed,
        format::size(report.bytes_freed),
        report.manifests_forgotten,
        report.partial_files_removed
    );
    if args.build_cache || report.build_dirs_removed > 0 {
        println!(
            "Build cache: dropped {} entries, removed {} unpacked layers and leftovers",
            report.build_cache_dropped, report.build_dirs_removed
        );
    }
    Ok(())
}

pub fn fsck(ctx: &Context, args: FsckArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let report = store.fsck(args.repair)?;
    for (digest, why) in &report.corrupt {
        println!("corrupt: {digest}: {why}");
    }
    for (manifest, missing) in &report.incomplete {
        println!("incomplete: manifest {manifest} needs {missing}, which is missing");
    }
    for problem in &report.broken_links {
        let link = &problem.link;
        let tags = if link.tags.is_empty() {
            String::new()
        } else {
            format!(" (tags {})", link.tags.join(", "))
        };
        let what = if link.child_is_manifest {
            "manifest"
        } else {
            "blob"
        };
        if problem.repaired {
            println!(
                "relinked: repository {}: {what} {} of manifest {}{tags}",
                link.repo, link.child, link.manifest
            );
            continue;
        }
        println!(
            "unlinked: repository {}: manifest {}{tags} references {what} {}, which {} answers 404; {}",
            link.repo,
            link.manifest,
            link.child,
            link.api_path(),
            problem.fix()
        );
    }
    if args.repair && report.removed > 0 {
        println!("removed {} damaged blobs", report.removed);
    }
    println!(
        "checked {} blobs: {}",
        report.blobs_checked,
        if report.is_clean() {
            "all good"
        } else {
            "problems found"
        }
    );
    if !report.is_clean() {
        bail!(
            "the store has damaged or missing content; `berth fsck --repair` removes damaged blobs and links whole ones back into their repositories, then load, import or push the affected images again"
        );
    }
    Ok(())
}
