//! berth-rootfs' hostile corpus through COPY and ADD into a root filesystem, on both
//! resolution strategies.

use std::fs;

use berth_dockerfile::ignore::Patterns;
use berth_fileops::{CopyOptions, checksum, copy};
use berth_rootfs::testing::{
    Case, SECRET, Scene, on_both_strategies, race, race_planted, run_corpus,
};

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

/// The read side: the COPY source is the raced root, its `d` a directory holding `secret`
/// at one moment and a symlink to the outside (which holds its own `secret`) at the next.
/// Whatever a copy or a checksum answers, the outside bytes never reach the destination.
#[test]
fn race_reading_copy_sources() {
    on_both_strategies("race_reading_copy_sources", || {
        let dest = tempfile::tempdir().unwrap();
        let plant = |scene: &Scene| {
            fs::write(scene.root.join("d/secret"), b"inside").unwrap();
            fs::create_dir(scene.root.join("d/sub")).unwrap();
            fs::write(scene.root.join("d/sub/x"), b"inside").unwrap();
        };
        race_planted("COPY source", 300, plant, |scene, i| {
            let opts = CopyOptions::default();
            let dir = format!("/dir{i}/");
            let file = format!("/file{i}");
            let _ = copy(&scene.root, &strings(&["d"]), &dir, dest.path(), &opts);
            let _ = copy(
                &scene.root,
                &strings(&["d/secret"]),
                &file,
                dest.path(),
                &opts,
            );
            let _ = copy(&scene.root, &strings(&["d/*"]), &dir, dest.path(), &opts);
            let _ = checksum(&scene.root, &strings(&["d"]), &Patterns::default(), None);
            for copied in [format!("dir{i}/secret"), format!("file{i}")] {
                if let Ok(bytes) = fs::read(dest.path().join(&copied)) {
                    assert_ne!(bytes, SECRET, "{copied}: read outside the source root");
                }
            }
        });
    });
}
