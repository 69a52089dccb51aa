//! Faults on loopback: a proxy between berth and a registry (berth's and distribution's) drops
//! connections in the middle of blobs, answers 429 with `Retry-After` and 503, loses
//! acknowledgements, and flips bytes. A copy completes when it can (resuming downloads with
//! `Range`, retrying with backoff) and fails cleanly when it can't or the data is wrong: one
//! error line naming the registry, the status or the digest, nothing tagged, nothing damaged
//! kept.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use test_support::{Berth, BerthRegistry, Exchange, Fault, FaultProxy, Registry, json};

const BIN: &str = env!("CARGO_BIN_EXE_berth");

/// Where a dropped blob download is cut.
const CUT: u64 = 100_000;

/// The registry behind the proxy: kept alive by the box.
fn upstream(kind: &str, dir: &Path) -> (String, Box<dyn std::any::Any>) {
    match kind {
        "berth" => {
            let r = BerthRegistry::start(BIN, &dir.join("registry"), None);
            (r.addr.clone(), Box::new(r))
        }
        "distribution" => {
            let r = Registry::start();
            (r.addr.clone(), Box::new(r))
        }
        other => panic!("no registry {other}"),
    }
}

/// Imports a directory of a few random files (one layer of ~600 KiB that gzip can't shrink)
/// as `name`, and pushes it straight to `registry` as `repo:1`; returns the image's digest.
fn pushed_image(c: &Berth, dir: &Path, seed: u64, registry: &str, repo: &str) -> String {
    let rootfs = dir.join(format!("rootfs{seed}"));
    fs::create_dir_all(rootfs.join("data")).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ (seed + 1);
    for i in 0..3 {
        let mut buf = vec![0u8; 200 << 10];
        for chunk in buf.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        fs::File::create(rootfs.join(format!("data/file{i}")))
            .unwrap()
            .write_all(&buf)
            .unwrap();
    }
    fs::write(rootfs.join("data/README"), format!("image {seed}\n")).unwrap();
    let digest = c
        .ok(&[
            "import",
            "-q",
            &rootfs.display().to_string(),
            "faults/app:1",
        ])
        .trim()
        .to_string();
    let target = format!("{registry}/{repo}:1");
    let out = c.ok(&["push", "-q", "faults/app:1", &target]);
    assert_eq!(out.trim(), format!("Pushed {target}@{digest}"));
    digest
}

fn blob_digest(e: &Exchange) -> &str {
    e.path
        .rsplit_once("/blobs/")
        .map(|(_, d)| d.split('?').next().unwrap())
        .unwrap_or_else(|| panic!("not a blob request: {}", e.path))
}

/// (a) The first blob download that is long enough is cut after CUT bytes: berth resumes it
/// with `Range: bytes=CUT-`, and the image arrives whole, with the pushed digest. The manifest
/// is cut too, once.
fn dropped_download_resumes(kind: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _registry) = upstream(kind, dir.path());
    let pusher = Berth::client(BIN, dir.path(), "pusher");
    let digest = pushed_image(&pusher, dir.path(), 1, &addr, "faults/a");

    let proxy = FaultProxy::start(
        &addr,
        vec![
            Fault::DropMidBody {
                path_contains: "/blobs/sha256:",
                after_bytes: CUT,
                times: 1,
            },
            // A manifest cut short is fetched again (it is small).
            Fault::DropMidBody {
                path_contains: "/manifests/",
                after_bytes: 50,
                times: 1,
            },
        ],
    );
    let puller = Berth::client(BIN, dir.path(), "puller");
    let reference = format!("{}/faults/a:1", proxy.addr);
    let out = puller.ok(&["pull", "-q", &reference]);
    assert_eq!(out.trim(), format!("Pulled {reference}@{digest}"), "{kind}");
    assert!(puller.ok(&["fsck"]).contains("all good"), "{kind}");
    assert_eq!(
        json(&puller.ok(&["inspect", &reference]))[0]["Id"],
        digest.as_str(),
        "{kind}"
    );

    assert_eq!(proxy.fired(0), 1, "{kind}: the download was cut");
    assert_eq!(proxy.fired(1), 1, "{kind}: the manifest was cut");
    let exchanges = proxy.exchanges();
    let cut = exchanges
        .iter()
        .position(|e| e.fault == Some(0))
        .expect("the cut download");
    assert_eq!(exchanges[cut].header("range"), None);
    let resumed = exchanges[cut + 1..]
        .iter()
        .find(|e| e.method == "GET" && e.path == exchanges[cut].path)
        .unwrap_or_else(|| panic!("{kind}: no second request for {}", exchanges[cut].path));
    assert_eq!(
        resumed.header("range"),
        Some(format!("bytes={CUT}-").as_str()),
        "{kind}: the download resumed where it was cut"
    );
    assert!(
        matches!(resumed.status, Some(200 | 206)),
        "{kind}: {resumed:?}"
    );
}

#[test]
fn dropped_download_resumes_from_berth_registry() {
    dropped_download_resumes("berth");
}

#[test]
fn dropped_download_resumes_from_distribution() {
    dropped_download_resumes("distribution");
}

/// (d) One flipped byte in a blob: the pull fails with status 1 and an error naming the blob,
/// and the store keeps no image and no damaged or partial blob.
fn corrupt_byte_fails_cleanly(kind: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _registry) = upstream(kind, dir.path());
    let pusher = Berth::client(BIN, dir.path(), "pusher");
    pushed_image(&pusher, dir.path(), 2, &addr, "faults/d");

    let proxy = FaultProxy::start(
        &addr,
        vec![Fault::CorruptByte {
            path_contains: "/blobs/sha256:",
            offset: 100,
            times: 1,
        }],
    );
    let puller = Berth::client(BIN, dir.path(), "puller");
    let reference = format!("{}/faults/d:1", proxy.addr);
    let err = puller.fails(&["pull", "-q", &reference]);
    assert_eq!(proxy.fired(0), 1, "{kind}");
    let corrupted = proxy
        .exchanges()
        .into_iter()
        .find(|e| e.fault == Some(0))
        .unwrap();
    let digest = blob_digest(&corrupted);
    assert!(
        err.contains(digest) && err.contains("damaged"),
        "{kind}: the error names the damaged blob {digest}: {err}"
    );
    puller.assert_nothing_kept();
    let hex = digest.trim_start_matches("sha256:");
    assert!(
        !puller.root.join("blobs/sha256").join(hex).exists(),
        "{kind}: the damaged blob is not kept"
    );

    // Without the fault the same pull works: nothing of the failed one is in the way.
    proxy.set_plan(Vec::new());
    puller.ok(&["pull", "-q", &reference]);
    assert!(puller.ok(&["fsck"]).contains("all good"));
}

#[test]
fn corrupt_byte_fails_cleanly_from_berth_registry() {
    corrupt_byte_fails_cleanly("berth");
}

#[test]
fn corrupt_byte_fails_cleanly_from_distribution() {
    corrupt_byte_fails_cleanly("distribution");
}

/// (b) 429 with `Retry-After: 1` twice on the manifest: berth waits as told, then pulls.
#[test]
fn too_many_requests_honours_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _registry) = upstream("berth", dir.path());
    let pusher = Berth::client(BIN, dir.path(), "pusher");
    let digest = pushed_image(&pusher, dir.path(), 3, &addr, "faults/b");

    let proxy = FaultProxy::start(
        &addr,
        vec![Fault::Status {
            path_contains: "/manifests/",
            methods: &["GET"],
            status: 429,
            retry_after: Some(1),
            times: 2,
        }],
    );
    let puller = Berth::client(BIN, dir.path(), "puller");
    let reference = format!("{}/faults/b:1", proxy.addr);
    let start = Instant::now();
    let out = puller.ok(&["pull", "-q", &reference]);
    let took = start.elapsed();
    assert_eq!(out.trim(), format!("Pulled {reference}@{digest}"));
    assert_eq!(proxy.fired(0), 2);
    assert!(took >= Duration::from_millis(1900), "took {took:?}");
    let gets: Vec<Exchange> = proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.method == "GET" && e.path.contains("/manifests/"))
        .collect();
    let statuses: Vec<Option<u16>> = gets.iter().map(|e| e.status).collect();
    assert_eq!(statuses[..3], [Some(429), Some(429), Some(200)]);
    for pair in gets[..3].windows(2) {
        let pause = pair[1].at - pair[0].at;
        assert!(
            pause >= Duration::from_millis(950),
            "Retry-After: 1 honoured, not {pause:?}"
        );
    }
    assert!(puller.ok(&["fsck"]).contains("all good"));
}

/// (c) 503 three times on blob uploads (the POST, PATCH or PUT of a session): the push
/// completes, and what the registry holds pulls back with the same digest.
fn unavailable_uploads_retried(kind: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _registry) = upstream(kind, dir.path());
    let pusher = Berth::client(BIN, dir.path(), "pusher");
    let digest = pushed_image(&pusher, dir.path(), 4, &addr, "faults/seed");

    let proxy = FaultProxy::start(
        &addr,
        vec![Fault::Status {
            path_contains: "/blobs/uploads/",
            methods: &["POST", "PATCH", "PUT"],
            status: 503,
            retry_after: None,
            times: 3,
        }],
    );
    let target = format!("{}/faults/c:1", proxy.addr);
    let out = pusher.ok(&["push", "-q", "faults/app:1", &target]);
    assert_eq!(out.trim(), format!("Pushed {target}@{digest}"), "{kind}");
    assert_eq!(proxy.fired(0), 3, "{kind}");

    let puller = Berth::client(BIN, dir.path(), "puller");
    let direct = format!("{addr}/faults/c:1");
    let out = puller.ok(&["pull", "-q", &direct]);
    assert_eq!(out.trim(), format!("Pulled {direct}@{digest}"), "{kind}");
    assert!(puller.ok(&["fsck"]).contains("all good"));
}

#[test]
fn unavailable_uploads_retried_by_berth_registry() {
    unavailable_uploads_retried("berth");
}

#[test]
fn unavailable_uploads_retried_by_distribution() {
    unavailable_uploads_retried("distribution");
}

/// (e) A registry that answers 503 for good: the pull gives up after its retries, in bounded
/// time, with one error naming the registry and the status, and keeps nothing.
#[test]
fn unavailable_for_good_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _registry) = upstream("berth", dir.path());
    let pusher = Berth::client(BIN, dir.path(), "pusher");
    pushed_image(&pusher, dir.path(), 5, &addr, "faults/e");

    let proxy = FaultProxy::start(
        &addr,
        vec![Fault::Status {
            path_contains: "/faults/e/",
            methods: &[],
            status: 503,
            retry_after: None,
            times: usize::MAX,
        }],
    );
    let puller = Berth::client(BIN, dir.path(), "puller");
    let reference = format!("{}/faults/e:1", proxy.addr);
    let start = Instant::now();
    let err = puller.fails(&["pull", "-q", &reference]);
    let took = start.elapsed();
    assert!(
        err.contains(&proxy.addr) && err.contains("503"),
        "the error names the registry and the status: {err}"
    );
    assert!(took < Duration::from_secs(20), "gave up after {took:?}");
    // The first try and five retries.
    assert_eq!(proxy.fired(0), 6, "{err}");
    puller.assert_nothing_kept();
}

/// A download cut every time gives up after its resumes, promptly, naming the blob.
#[test]
fn download_cut_for_good_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _registry) = upstream("distribution", dir.path());
    let pusher = Berth::client(BIN, dir.path(), "pusher");
    pushed_image(&pusher, dir.path(), 6, &addr, "faults/h");

    let proxy = FaultProxy::start(
        &addr,
        vec![Fault::DropMidBody {
            path_contains: "/blobs/sha256:",
            after_bytes: 1000,
            times: usize::MAX,
        }],
    );
    let puller = Berth::client(BIN, dir.path(), "puller");
    let start = Instant::now();
    let err = puller.fails(&["pull", "-q", &format!("{}/faults/h:1", proxy.addr)]);
    assert!(start.elapsed() < Duration::from_secs(20));
    let cut: Vec<Exchange> = proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.fault == Some(0))
        .collect();
    let digest = blob_digest(&cut[0]);
    assert!(
        err.contains(digest) && err.contains("gave up after 5 resumes"),
        "{err}"
    );
    // Each resume asks for the bytes after those it has.
    let ranges: Vec<Option<&str>> = cut
        .iter()
        .filter(|e| blob_digest(e) == digest)
        .map(|e| e.header("range"))
        .collect();
    assert_eq!(
        ranges,
        [
            None,
            Some("bytes=1000-"),
            Some("bytes=2000-"),
            Some("bytes=3000-"),
            Some("bytes=4000-"),
            Some("bytes=5000-")
        ]
    );
    puller.assert_nothing_kept();
}

/// Answers lost after the registry acted (the connection closes instead): the request is sent
/// again, and a blob the registry took though its session is gone counts as uploaded.
fn lost_acknowledgements_recovered(kind: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _registry) = upstream(kind, dir.path());
    let pusher = Berth::client(BIN, dir.path(), "pusher");
    let digest = pushed_image(&pusher, dir.path(), 7, &addr, "faults/seed");

    let proxy = FaultProxy::start(
        &addr,
        vec![
            // distribution: the blob is in, the session is gone, and the PUT again is a 404.
            Fault::DropResponse {
                path_contains: "/blobs/uploads/",
                methods: &["PUT"],
                times: 1,
            },
            Fault::DropResponse {
                path_contains: "/blobs/uploads/",
                methods: &["POST"],
                times: 1,
            },
            Fault::DropResponse {
                path_contains: "/manifests/",
                methods: &["PUT"],
                times: 2,
            },
        ],
    );
    let target = format!("{}/faults/f:1", proxy.addr);
    let out = pusher.ok(&["push", "-q", "faults/app:1", &target]);
    assert_eq!(out.trim(), format!("Pushed {target}@{digest}"), "{kind}");
    // berth registry takes small blobs in the POST, distribution in the PUT after it.
    let put = usize::from(kind == "distribution");
    assert_eq!(
        [proxy.fired(0), proxy.fired(1), proxy.fired(2)],
        [put, 1, 2],
        "{kind}"
    );

    let puller = Berth::client(BIN, dir.path(), "puller");
    let direct = format!("{addr}/faults/f:1");
    let out = puller.ok(&["pull", "-q", &direct]);
    assert_eq!(out.trim(), format!("Pulled {direct}@{digest}"), "{kind}");
}

#[test]
fn lost_acknowledgements_recovered_with_berth_registry() {
    lost_acknowledgements_recovered("berth");
}

#[test]
fn lost_acknowledgements_recovered_with_distribution() {
    lost_acknowledgements_recovered("distribution");
}

/// The answer to a chunk (PATCH) lost after the registry stored it: berth registry says 416 to
/// the chunk sent again, berth asks how far the upload got and finishes it. distribution keeps
/// the session's state in the URL and cancels the session when a PATCH comes again, so there
/// the push fails (restarting the blob would need its bytes again); it must fail cleanly,
/// tagging nothing.
#[test]
fn lost_chunk_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let pusher = Berth::client(BIN, dir.path(), "pusher");
    // One layer of 6 MiB, above the single-request limit: it goes up in a PATCH.
    let rootfs = dir.path().join("big");
    fs::create_dir_all(&rootfs).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut buf = vec![0u8; 6 << 20];
    for chunk in buf.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes());
    }
    fs::write(rootfs.join("big"), &buf).unwrap();
    let digest = pusher
        .ok(&[
            "import",
            "-q",
            &rootfs.display().to_string(),
            "faults/big:1",
        ])
        .trim()
        .to_string();

    for kind in ["berth", "distribution"] {
        let (addr, _registry) = upstream(kind, &dir.path().join(kind));
        let proxy = FaultProxy::start(
            &addr,
            vec![Fault::DropResponse {
                path_contains: "/blobs/uploads/",
                methods: &["PATCH"],
                times: 1,
            }],
        );
        let target = format!("{}/faults/g:1", proxy.addr);
        let out = pusher.run(&["push", "-q", "faults/big:1", &target]);
        assert_eq!(proxy.fired(0), 1, "{kind}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let statuses: Vec<Option<u16>> = proxy
            .exchanges()
            .iter()
            .filter(|e| e.method == "PATCH")
            .map(|e| e.status)
            .collect();
        assert_eq!(statuses.first(), Some(&None), "{kind}: the answer was lost");
        if out.status.success() {
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                format!("Pushed {target}@{digest}"),
                "{kind}"
            );
            if kind == "berth" {
                assert!(statuses.contains(&Some(416)), "{kind}: {statuses:?}");
            }
            let puller = Berth::client(BIN, dir.path(), kind);
            let direct = format!("{addr}/faults/g:1");
            let out = puller.ok(&["pull", "-q", &direct]);
            assert_eq!(out.trim(), format!("Pulled {direct}@{digest}"), "{kind}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{kind}: {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            assert_eq!(
                stderr.lines().filter(|l| l.starts_with("berth: ")).count(),
                1,
                "{stderr}"
            );
            if kind == "berth" {
                // berth registry answers the chunk sent again with 416 before reading it and
                // closes the connection, so the answer can be lost to a broken pipe (the proxy
                // says 502); only that may make the push fail.
                assert!(
                    statuses[1..].iter().all(|s| *s == Some(502)),
                    "{kind}: {statuses:?}: {stderr}"
                );
            }
            let tags = pusher.run(&["tags", &format!("{addr}/faults/g")]);
            assert!(
                !tags.status.success() || String::from_utf8_lossy(&tags.stdout).trim().is_empty(),
                "{kind}: nothing tagged"
            );
        }
    }
}
