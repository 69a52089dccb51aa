//! kill -9 of `berth registry` in the middle of parallel pushes: after a restart, every push a
//! client saw succeed still pulls, byte for byte, and the store is consistent.

use std::fs;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use test_support::{Berth, BerthRegistry, busybox_rootfs, require, run_ok};

const BIN: &str = env!("CARGO_BIN_EXE_berth");

/// An image of `megabytes` of incompressible data in its own layout; returns (layout, digest).
fn random_image(dir: &std::path::Path, n: usize, megabytes: usize) -> (String, String) {
    let rootfs = dir.join(format!("rootfs{n}"));
    busybox_rootfs(&rootfs);
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ (n as u64 + 1);
    for i in 0..megabytes {
        let mut f = fs::File::create(rootfs.join(format!("data{i}"))).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        for chunk in buf.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        f.write_all(&buf).unwrap();
    }
    let berth = Berth::new(BIN, &dir.join(format!("cli{n}")));
    let digest = berth
        .ok(&[
            "import",
            "-q",
            &rootfs.display().to_string(),
            &format!("crash/img{n}:1"),
        ])
        .trim()
        .to_string();
    let layout = dir.join(format!("layout{n}")).display().to_string();
    berth.ok(&[
        "save",
        &format!("crash/img{n}:1"),
        "--format",
        "oci-dir",
        "-o",
        &layout,
    ]);
    (layout, digest)
}

fn push(layout: &str, dest: &str) -> Child {
    Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{layout}:1"),
            dest,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn acknowledged_pushes_survive_kill_9() {
    require("skopeo");
    let dir = tempfile::tempdir().unwrap();
    // Fresh images every round: skopeo remembers which blobs a registry has and would mount
    // them instead of uploading, and the kills must land in uploads.
    let images_for = |round: usize| -> Vec<(String, String)> {
        (0..4)
            .map(|n| random_image(dir.path(), round * 10 + n, 4))
            .collect()
    };
    let mut reg = BerthRegistry::start(BIN, &dir.path().join("registry"), None);

    // How long the parallel pushes take when left alone, to spread the kills across them.
    let warmup = images_for(99);
    let start = Instant::now();
    let mut children: Vec<Child> = warmup
        .iter()
        .enumerate()
        .map(|(n, (layout, _))| {
            push(
                layout,
                &format!("docker://{}/crash/img{n}:warmup", reg.addr),
            )
        })
        .collect();
    for c in &mut children {
        assert!(c.wait().unwrap().success());
    }
    let full = start.elapsed();

    let mut full = full;
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    let mut interrupted = 0;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..8 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let fraction = (seed >> 11) as f64 / (1u64 << 53) as f64;
        // Some rounds are killed mid-upload, some after everything was acknowledged.
        let deadline = full.mul_f64(1.3 * fraction);
        let images = images_for(round);
        let targets: Vec<(String, String)> = images
            .iter()
            .enumerate()
            .map(|(n, (_, digest))| {
                (
                    format!("{}/crash/r{round}/img{n}:1", reg.addr),
                    digest.clone(),
                )
            })
            .collect();
        let start = Instant::now();
        let mut children: Vec<Child> = images
            .iter()
            .zip(&targets)
            .map(|((layout, _), (target, _))| push(layout, &format!("docker://{target}")))
            .collect();
        let mut statuses = vec![None; children.len()];
        while start.elapsed() < deadline && statuses.iter().any(Option::is_none) {
            for (child, status) in children.iter_mut().zip(statuses.iter_mut()) {
                if status.is_none() {
                    *status = child.try_wait().unwrap();
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        if statuses.iter().all(Option::is_some) {
            // Finished before the kill: learn how long a round takes.
            full = (full + start.elapsed()) / 2;
        }
        reg.kill();
        for ((child, status), target) in children.iter_mut().zip(statuses).zip(&targets) {
            let status = status.unwrap_or_else(|| child.wait().unwrap());
            if status.success() {
                acknowledged.push(target.clone());
            } else {
                interrupted += 1;
            }
        }
        reg.restart();
        // Everything acknowledged so far pulls whole, with the pushed digest.
        for (target, digest) in &acknowledged {
            let out = dir.path().join("check");
            let _ = fs::remove_dir_all(&out);
            run_ok(Command::new("skopeo").args([
                "--insecure-policy",
                "copy",
                "--src-tls-verify=false",
                &format!("docker://{target}"),
                &format!("oci:{}:x", out.display()),
            ]));
            let index: serde_json::Value =
                serde_json::from_str(&fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
            assert_eq!(
                index["manifests"][0]["digest"], *digest,
                "round {round}: {target}"
            );
        }
    }
    eprintln!(
        "{interrupted} pushes interrupted, {} acknowledged",
        acknowledged.len()
    );
    assert!(
        interrupted >= 4 && acknowledged.len() >= 4,
        "{interrupted} pushes were interrupted and {} acknowledged: the kills must land both in and after uploads",
        acknowledged.len()
    );
    // And the store underneath is consistent.
    let fsck = Berth::new(BIN, &reg.root).run(&["fsck"]);
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stdout)
    );
}
