//! kill -9 of `berth registry` in the middle of parallel pushes: after a restart, every push a
//! client saw succeed still pulls, byte for byte, and the store is consistent. Each round's
//! kill is chosen (during an upload, after so many acknowledgements, after all of them), not
//! timed, so the test means the same on an idle machine and a busy one.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

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

/// When a round's kill lands.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// Once `acknowledged` pushes have succeeded, at a moment an upload is in progress (seen
    /// with the server stopped, so it can't finish before the kill).
    DuringUpload { acknowledged: usize },
    /// After every push of the round was acknowledged.
    AfterAll,
}

/// The rounds: kills during uploads, after some or no acknowledgements, and after all of them.
/// Chosen, not timed, so a busy machine changes when they land but never which kind they are.
const ROUNDS: [Kill; 8] = [
    Kill::DuringUpload { acknowledged: 0 },
    Kill::AfterAll,
    Kill::DuringUpload { acknowledged: 1 },
    Kill::AfterAll,
    Kill::DuringUpload { acknowledged: 2 },
    Kill::DuringUpload { acknowledged: 0 },
    Kill::AfterAll,
    Kill::DuringUpload { acknowledged: 3 },
];

/// The pushes of one round and what became of each (None: still running).
struct Round {
    children: Vec<Child>,
    statuses: Vec<Option<ExitStatus>>,
}

impl Round {
    fn poll(&mut self) {
        for (child, status) in self.children.iter_mut().zip(self.statuses.iter_mut()) {
            if status.is_none() {
                *status = child.try_wait().unwrap();
            }
        }
    }

    fn acknowledged(&self) -> usize {
        self.statuses
            .iter()
            .filter(|s| s.is_some_and(|s| s.success()))
            .count()
    }

    fn running(&self) -> bool {
        self.statuses.iter().any(Option::is_none)
    }

    /// Waits for every push to end.
    fn wait(&mut self) {
        for (child, status) in self.children.iter_mut().zip(self.statuses.iter_mut()) {
            if status.is_none() {
                *status = Some(child.wait().unwrap());
            }
        }
    }

    /// Waits for every push to end; returns their statuses.
    fn finish(mut self) -> Vec<ExitStatus> {
        self.children
            .iter_mut()
            .zip(self.statuses)
            .map(|(child, status)| status.unwrap_or_else(|| child.wait().unwrap()))
            .collect()
    }
}

/// The upload sessions in the registry's store now.
fn upload_files(root: &Path) -> HashSet<OsString> {
    fs::read_dir(root.join("uploads"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

fn signal(pid: u32, signal: &str) {
    run_ok(Command::new("kill").args([signal, &pid.to_string()]));
}

/// Waits for `acknowledged` pushes, then stops the server the first time an upload session of
/// this round is open while it is stopped: an open session means its push has not been
/// acknowledged and, the server being stopped, can't be before the kill. Returns false if
/// every push ended first.
fn stop_during_an_upload(
    reg: &BerthRegistry,
    round: &mut Round,
    acknowledged: usize,
    before: &HashSet<OsString>,
) -> bool {
    let pid = reg.pid().expect("the registry runs");
    loop {
        round.poll();
        if !round.running() {
            return false;
        }
        let open = || upload_files(&reg.root).difference(before).count() > 0;
        if round.acknowledged() >= acknowledged && open() {
            signal(pid, "-STOP");
            if open() {
                return true;
            }
            signal(pid, "-CONT");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn acknowledged_pushes_survive_kill_9() {
    require("skopeo");
    let dir = tempfile::tempdir().unwrap();
    let mut reg = BerthRegistry::start(BIN, &dir.path().join("registry"), None);

    let mut acknowledged: Vec<(String, String)> = Vec::new();
    let mut interrupted = 0;
    for (round, kill) in ROUNDS.into_iter().enumerate() {
        // Fresh images every round: skopeo remembers which blobs a registry has and would
        // mount them instead of uploading, and the kills must land in uploads.
        let images: Vec<(String, String)> = (0..4)
            .map(|n| random_image(dir.path(), round * 10 + n, 4))
            .collect();
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
        let before = upload_files(&reg.root);
        let children: Vec<Child> = images
            .iter()
            .zip(&targets)
            .map(|((layout, _), (target, _))| push(layout, &format!("docker://{target}")))
            .collect();
        let mut pushes = Round {
            statuses: vec![None; children.len()],
            children,
        };
        let landed_in_upload = match kill {
            Kill::DuringUpload { acknowledged } => {
                stop_during_an_upload(&reg, &mut pushes, acknowledged, &before)
            }
            Kill::AfterAll => false,
        };
        if matches!(kill, Kill::AfterAll) {
            pushes.wait();
            assert_eq!(
                pushes.acknowledged(),
                4,
                "round {round}: a push failed with no kill"
            );
        }
        reg.kill();
        let statuses = pushes.finish();
        let round_interrupted = statuses.iter().filter(|s| !s.success()).count();
        if landed_in_upload {
            assert!(
                round_interrupted >= 1,
                "round {round}: the kill landed in an upload"
            );
        }
        for (status, target) in statuses.iter().zip(&targets) {
            if status.success() {
                acknowledged.push(target.clone());
            } else {
                interrupted += 1;
            }
        }
        eprintln!("round {round} ({kill:?}): {round_interrupted} of 4 pushes interrupted");
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
