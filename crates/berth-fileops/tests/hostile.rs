//! berth-rootfs' hostile corpus through COPY and ADD into a root filesystem, on both
//! resolution strategies.

use std::fs;

use berth_fileops::{CopyOptions, copy};
use berth_rootfs::testing::{Case, Scene, on_both_strategies, race, run_corpus};

/// A context with a file, a directory and the case's archive.
fn context(scene: &Scene, case: &Case) -> tempfile::TempDir {
    let ctx = tempfile::tempdir().unwrap();
    fs::write(ctx.path().join("f"), b"copied").unwrap();
    fs::create_dir_all(ctx.path().join("dir/sub")).unwrap();
    fs::write(ctx.path().join("dir/sub/x"), b"copied").unwrap();
    fs::write(ctx.path().join("a.tar"), (case.tar)(scene)).unwrap();
    ctx
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

#[test]
fn hostile_corpus_through_copy_and_add() {
    on_both_strategies("hostile_corpus_through_copy_and_add", || {
        run_corpus("COPY/ADD", |scene, case| {
            let ctx = context(scene, case);
            let dest = format!("/{}", case.path);
            let add = CopyOptions {
                unpack_archives: true,
                source_is_context: true,
                ..Default::default()
            };
            let plain = CopyOptions::default();
            for (sources, dest, opts) in [
                (&["f"][..], dest.clone(), &plain),
                (&["f"][..], format!("{dest}/"), &plain),
                (&["dir"][..], dest.clone(), &plain),
                (&["f", "dir"][..], format!("{dest}/"), &plain),
                (&["a.tar"][..], "/".to_string(), &add),
                (&["a.tar"][..], format!("{dest}/"), &add),
            ] {
                let _ = copy(ctx.path(), &strings(sources), &dest, &scene.root, opts);
            }
        });
    });
}

#[test]
fn race_through_copy() {
    on_both_strategies("race_through_copy", || {
        let ctx = tempfile::tempdir().unwrap();
        fs::create_dir_all(ctx.path().join("dir/sub")).unwrap();
        fs::write(ctx.path().join("dir/sub/secret"), b"evil").unwrap();
        fs::write(ctx.path().join("secret"), b"evil").unwrap();
        race("COPY", 300, |scene, i| {
            let opts = CopyOptions::default();
            let _ = copy(ctx.path(), &strings(&["dir"]), "/d/", &scene.root, &opts);
            let _ = copy(
                ctx.path(),
                &strings(&["secret"]),
                "/d/secret",
                &scene.root,
                &opts,
            );
            let _ = copy(
                ctx.path(),
                &strings(&["secret"]),
                &format!("/d/n{i}/"),
                &scene.root,
                &opts,
            );
        });
    });
}
