//! `berth pull` against a registry that sends without end or stalls: the berth process stays
//! small (its peak resident memory, from /proc), the store's ingest folder stays small, and a
//! pull killed in the middle leaves nothing behind once the next command writing to the store
//! runs.
//! The second-host and pagination cases are in berth-remote's tests/hostile.rs.

use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use berth_oci::{Digest, media_type};
use test_support::Berth;
use test_support::registry::{Answer, HostileRegistry};

const BIN: &str = env!("CARGO_BIN_EXE_berth");

/// What watching a berth process to its end saw.
struct Watched {
    status: std::process::ExitStatus,
    stderr: String,
    /// Peak resident memory (VmHWM), in bytes, as last read before the process ended.
    peak_rss: u64,
    /// The most the store's ingest folder held at any sample, in bytes.
    peak_ingest: u64,
}

/// Memory or disk use past which a watched berth is killed: far past any bound it should keep.
const RUNAWAY: u64 = 1 << 30;

fn vm_hwm(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn dir_size(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Runs berth with `args` (standard error to a file), sampling its peak memory and the size
/// of its ingest folder every few milliseconds until it exits; kills it past `limit`.
fn watch(berth: &Berth, args: &[&str], limit: Duration) -> Watched {
    let stderr_path = berth.root.with_extension("stderr");
    let stderr = fs::File::create(&stderr_path).unwrap();
    let mut child: Child = berth
        .command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("berth starts");
    let ingest = berth.root.join("ingest");
    let started = Instant::now();
    let (mut peak_rss, mut peak_ingest) = (0, 0);
    let status = loop {
        if let Some(hwm) = vm_hwm(child.id()) {
            peak_rss = peak_rss.max(hwm);
        }
        peak_ingest = peak_ingest.max(dir_size(&ingest));
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        // A berth that runs away is stopped long before it hurts the machine.
        let runaway = peak_rss > RUNAWAY || peak_ingest > RUNAWAY;
        if runaway || started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "berth {args:?} stopped after {:?}: peak RSS {peak_rss}, ingest {peak_ingest}; {}",
                started.elapsed(),
                fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Watched {
        status,
        stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
        peak_rss,
        peak_ingest,
    }
}

/// berth with a store of its own, short read timeouts and few retries: a stall costs seconds.
fn berth(dir: &Path) -> Berth {
    Berth::client(BIN, dir, "puller")
}

const FAST: [&str; 4] = ["--read-timeout", "0.5", "--retries", "1"];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    FAST.iter().copied().chain(extra.iter().copied()).collect()
}

/// An image whose layer is `layer_size` bytes by its descriptor: its manifest and config.
fn image(layer_size: u64, layer_digest: &Digest) -> (Vec<u8>, Vec<u8>) {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": { "type": "layers", "diff_ids": [layer_digest.to_string()] },
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": { "mediaType": media_type::OCI_CONFIG, "digest": Digest::sha256(&config).to_string(), "size": config.len() },
        "layers": [ { "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest.to_string(), "size": layer_size } ],
    }))
    .unwrap();
    (manifest, config)
}

/// A registry serving `manifest` and `config`, and every other blob as `layer` says.
fn registry_of(
    manifest: Vec<u8>,
    config: Vec<u8>,
    layer: impl Fn() -> Answer + Send + Sync + 'static,
) -> HostileRegistry {
    let config_path = format!("/blobs/{}", Digest::sha256(&config));
    HostileRegistry::start("127.0.0.1", move |req| {
        if req.path == "/v2/" {
            Answer::status(200)
        } else if req.path.contains("/manifests/") {
            Answer::ok(manifest.clone()).header("Content-Type", media_type::OCI_MANIFEST)
        } else if req.path.ends_with(&config_path) {
            Answer::ok(config.clone())
        } else {
            layer()
        }
    })
}

#[test]
fn an_endless_manifest_is_refused_and_berth_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let registry = HostileRegistry::start("127.0.0.1", |req| match req.path.as_str() {
        "/v2/" => Answer::status(200),
        _ => {
            Answer::endless(vec![b' '; 256 << 10]).header("Content-Type", media_type::OCI_MANIFEST)
        }
    });
    let image = format!("{}/hostile/app:v1", registry.addr);
    let seen = watch(
        &berth(dir.path()),
        &args(&["pull", &image]),
        Duration::from_secs(30),
    );
    assert!(!seen.status.success(), "{}", seen.stderr);
    for part in [registry.addr.as_str(), "hostile/app", "v1", "4194304"] {
        assert!(
            seen.stderr.contains(part),
            "{part} missing: {}",
            seen.stderr
        );
    }
    // The 4 MiB manifest, berth's code and its runtime: nowhere near the gigabytes an
    // unbounded read reaches in seconds.
    assert!(
        seen.peak_rss < 96 << 20,
        "berth peaked at {} MiB",
        seen.peak_rss >> 20
    );
}

#[test]
fn an_endless_layer_is_cut_at_its_size_and_the_ingest_folder_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let layer_size = 10_000;
    let (manifest, config) = image(layer_size, &Digest::sha256(b"the real layer"));
    let registry = registry_of(manifest, config, || Answer::endless(vec![0u8; 64 << 10]));
    let berth = berth(dir.path());
    let image = format!("{}/hostile/app:v1", registry.addr);
    let seen = watch(&berth, &args(&["pull", &image]), Duration::from_secs(30));
    assert!(!seen.status.success(), "{}", seen.stderr);
    assert!(seen.stderr.contains("longer than"), "{}", seen.stderr);
    assert!(
        seen.peak_ingest <= 1 << 20,
        "the ingest folder held {} bytes for a {layer_size}-byte layer",
        seen.peak_ingest
    );
    berth.assert_nothing_kept();
}

#[test]
fn a_pull_killed_in_the_middle_leaves_nothing_once_the_next_writer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let layer = vec![1u8; 1 << 20];
    let (manifest, config) = image(layer.len() as u64, &Digest::sha256(&layer));
    // Half the layer, then silence: berth sits with a partial file until it is killed.
    let half = layer[..layer.len() / 2].to_vec();
    let announced = layer.len() as u64;
    let registry = registry_of(manifest, config, move || {
        Answer::stall(half.clone(), announced)
    });
    let berth = berth(dir.path());
    let image = format!("{}/hostile/app:v1", registry.addr);
    let mut child = berth
        .command()
        .args(["--read-timeout", "60", "pull", "--quiet", &image])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("berth starts");
    let ingest = berth.root.join("ingest");
    let started = Instant::now();
    while dir_size(&ingest) < layer.len() as u64 / 8 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the partial layer never reached the ingest folder"
        );
        assert!(child.try_wait().unwrap().is_none(), "berth ended early");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(dir_size(&ingest) > 0, "the kill left a partial file");

    // The next command that writes to the store, alone, reclaims them.
    let rootfs = dir.path().join("rootfs");
    fs::create_dir_all(&rootfs).unwrap();
    fs::write(rootfs.join("hello"), "hello").unwrap();
    berth.ok(&["import", "-q", rootfs.to_str().unwrap(), "next:1"]);
    assert_eq!(
        fs::read_dir(&ingest).unwrap().count(),
        0,
        "partial files stayed after the next writer ran"
    );
}

#[test]
fn the_read_timeout_is_a_positive_number_of_seconds_from_the_flag_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let berth = berth(dir.path());
    let err = berth.fails(&["--read-timeout", "0", "images"]);
    assert!(err.contains("more than 0"), "{err}");
    let err = berth.fails(&["--read-timeout", "soon", "images"]);
    assert!(err.contains("not a number of seconds"), "{err}");
    let out = berth
        .command()
        .env("BERTH_READ_TIMEOUT", "-1")
        .arg("images")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("more than 0"));
    berth.ok(&["--read-timeout", "2.5", "--retries", "0", "images"]);
}
