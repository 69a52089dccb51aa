//! The store under concurrent writers and sudden death: two processes writing the same blob or
//! tag are safe, and a kill -9 at any moment leaves no partial blob under a final name and no
//! tag pointing at a missing manifest.

use std::fs;
use std::io::Write;
use std::process::{Child, Stdio};
use std::time::Instant;

use test_support::{Berth, busybox_rootfs, json};

/// A root file system big enough that an import or load takes a while: busybox plus
/// incompressible files.
fn big_rootfs(dir: &std::path::Path, megabytes: usize) {
    busybox_rootfs(dir);
    fs::create_dir_all(dir.join("data")).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..megabytes {
        let mut f = fs::File::create(dir.join(format!("data/blob{i:03}"))).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        for chunk in buf.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        f.write_all(&buf).unwrap();
    }
}

/// Every tag resolves to a complete image and every blob matches its name.
fn assert_consistent(b: &Berth, context: &str) {
    let out = b.run(&["fsck"]);
    assert!(
        out.status.success(),
        "{context}: fsck found problems:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for line in b.ok(&["images", "--format", "json"]).lines() {
        let row = json(line);
        if row["Tag"] == "<none>" {
            continue;
        }
        let name = format!(
            "{}:{}",
            row["Repository"].as_str().unwrap(),
            row["Tag"].as_str().unwrap()
        );
        let inspect = b.run(&["inspect", &name]);
        assert!(
            inspect.status.success(),
            "{context}: tag {name} is broken: {}",
            String::from_utf8_lossy(&inspect.stderr)
        );
    }
    let ingest_is_only_partials = fs::read_dir(b.root.join("ingest"))
        .map(|d| {
            d.flatten()
                .all(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        })
        .unwrap_or(true);
    assert!(ingest_is_only_partials, "{context}");
}

fn spawn(b: &Berth, args: &[&str]) -> Child {
    b.command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The names in `dir` now (none if it is not there yet).
fn entries(dir: &std::path::Path) -> std::collections::HashSet<std::ffi::OsString> {
    fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
        .unwrap_or_default()
}

/// Waits until `ready()` or until `child` ends (then false); a minute at most.
fn wait_for(child: &mut Child, ready: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_micros(500));
    }
    false
}

#[test]
fn concurrent_writers_of_the_same_blobs_and_tags_are_safe() {
    let dir = tempfile::tempdir().unwrap();
    let b = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("root"));
    let rootfs = dir.path().join("rootfs");
    big_rootfs(&rootfs, 4);
    let rootfs = rootfs.display().to_string();
    let expected = b
        .ok(&["import", "-q", &rootfs, "same:1"])
        .trim()
        .to_string();
    let archive = dir.path().join("same.tar").display().to_string();
    b.ok(&["save", "same:1", "--format", "oci", "-o", &archive]);
    b.ok(&["rmi", "same:1"]);

    for round in 0..3 {
        let mut children: Vec<Child> = (0..3)
            .map(|_| spawn(&b, &["import", "-q", &rootfs, "same:1"]))
            .collect();
        children.extend((0..2).map(|_| spawn(&b, &["load", "-i", &archive])));
        children.push(spawn(&b, &["gc"]));
        for mut c in children {
            assert!(
                c.wait().unwrap().success(),
                "round {round}: a concurrent writer failed"
            );
        }
        assert_consistent(&b, &format!("round {round}"));
        assert_eq!(json(&b.ok(&["inspect", "same:1"]))[0]["Id"], expected);
    }
}

#[test]
fn kill_9_at_any_moment_leaves_the_store_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let b = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("root"));
    let rootfs = dir.path().join("rootfs");
    big_rootfs(&rootfs, 24);
    let rootfs = rootfs.display().to_string();

    let archive = dir.path().join("victim.tar").display().to_string();
    let timed = |args: &[&str], root: &str| {
        let b = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join(root));
        let start = Instant::now();
        b.ok(args);
        start.elapsed()
    };
    // How long each whole operation takes here, to spread the kills across it.
    let import_time = timed(&["import", "-q", &rootfs, "victim:base"], "root");
    b.ok(&["save", "victim:base", "--format", "oci", "-o", &archive]);
    let load_time = timed(&["load", "-i", &archive], "timing");
    let save_target = dir.path().join("timing.tar").display().to_string();
    let save_time = timed(&["save", "victim:base", "-o", &save_target], "root");

    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut killed = 0;
    for round in 0..12 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let fraction = (seed >> 11) as f64 / (1u64 << 53) as f64;
        let save_target = dir.path().join(format!("out{round}.tar"));
        // Loads go into a fresh store each time, so they have everything to write.
        let fresh = Berth::new(
            env!("CARGO_BIN_EXE_berth"),
            &dir.path().join(format!("load{round}")),
        );
        // Where each writer's first bytes show: a partial blob in the store's ingest folder,
        // or the save's temporary file beside its target.
        let (watched, full) = match round % 3 {
            0 => (b.root.join("ingest"), import_time),
            1 => (fresh.root.join("ingest"), load_time),
            _ => (dir.path().to_path_buf(), save_time),
        };
        let before = entries(&watched);
        let (store, mut child) = match round % 3 {
            0 => (
                &b,
                spawn(&b, &["import", "-q", &rootfs, &format!("victim:{round}")]),
            ),
            1 => (&fresh, spawn(&fresh, &["load", "-i", &archive])),
            _ => (
                &b,
                spawn(
                    &b,
                    &[
                        "save",
                        "victim:base",
                        "-o",
                        &save_target.display().to_string(),
                    ],
                ),
            ),
        };
        // The kill lands a random way into the writing, counted from when it visibly began
        // (not from the spawn, whose start-up a busy machine stretches), so that timings
        // taken earlier still place most kills mid-way.
        let started = Instant::now();
        let began = wait_for(&mut child, || {
            entries(&watched).difference(&before).count() > 0
        });
        let delay = full
            .saturating_sub(started.elapsed())
            .mul_f64(fraction * 0.5);
        if began {
            std::thread::sleep(delay);
        }
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if !status.success() {
            killed += 1;
        }
        let context = format!("round {round}, killed after {delay:?} of {full:?} ({status})");
        assert_consistent(store, &context);
        if save_target.exists() {
            // Only a finished save is renamed into place: it must load whole.
            let b2 = Berth::new(
                env!("CARGO_BIN_EXE_berth"),
                &dir.path().join(format!("check{round}")),
            );
            b2.ok(&["load", "-i", &save_target.display().to_string()]);
        }
    }
    assert!(
        killed >= 8,
        "only {killed} of 12 writers were killed mid-way: the test needs a bigger input"
    );
    // Whatever the kills left, gc clears it and the base image is intact.
    b.ok(&["gc"]);
    assert_consistent(&b, "after gc");
    let partials = fs::read_dir(b.root.join("ingest")).unwrap().count();
    assert_eq!(partials, 0);
}
