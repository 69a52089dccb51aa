//! `berth registry` as an operator runs it: graceful shutdown, TLS, `berth registry gc`, and
//! one store shared with the CLI.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use test_support::{Berth, BerthRegistry, busybox_rootfs, require, run_ok};

const BIN: &str = env!("CARGO_BIN_EXE_berth");

fn skopeo() -> Command {
    require("skopeo");
    let mut c = Command::new("skopeo");
    c.arg("--insecure-policy");
    c
}

/// A store with busybox imported and saved as an OCI layout.
fn layout(dir: &tempfile::TempDir) -> (Berth, String, String) {
    let berth = Berth::new(BIN, &dir.path().join("store"));
    let rootfs = dir.path().join("rootfs");
    busybox_rootfs(&rootfs);
    let digest = berth
        .ok(&[
            "import",
            "-q",
            &rootfs.display().to_string(),
            "ops/busybox:1",
        ])
        .trim()
        .to_string();
    let layout = dir.path().join("layout").display().to_string();
    berth.ok(&[
        "save",
        "ops/busybox:1",
        "--format",
        "oci-dir",
        "-o",
        &layout,
    ]);
    (berth, layout, digest)
}

fn http(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn sigterm_finishes_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = BerthRegistry::start(BIN, &dir.path().join("root"), None);
    let answer = http(
        &reg.addr,
        "POST /v2/slow/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    let location = answer
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .expect("a Location")
        .trim()
        .to_string();
    // Start a chunk, send SIGTERM halfway, then finish it: the server must answer it.
    let body = vec![7u8; 200_000];
    let mut s = TcpStream::connect(&reg.addr).unwrap();
    write!(
        s,
        "PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body[..100_000]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = reg.pid().unwrap();
    run_ok(Command::new("kill").args(["-TERM", &pid.to_string()]));
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(&body[100_000..]).unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 202"), "{response}");
    assert!(
        response.to_lowercase().contains("range: 0-199999"),
        "{response}"
    );
    assert!(reg.stop(), "the server exits cleanly after SIGTERM");
    // And it no longer listens.
    assert!(TcpStream::connect(&reg.addr).is_err());
}

#[test]
fn serves_tls_from_cert_and_key_files() {
    let dir = tempfile::tempdir().unwrap();
    let (_, layout, digest) = layout(&dir);
    let certs = dir.path().join("certs");
    fs::create_dir_all(&certs).unwrap();
    // Only the CA goes in the cert dir: skopeo takes any *.key there for a client key.
    let (cert, key) = (certs.join("ca.crt"), dir.path().join("server.key"));
    run_ok(Command::new("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        &key.display().to_string(),
        "-out",
        &cert.display().to_string(),
    ]));
    let config = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let reg = BerthRegistry::start(BIN, &dir.path().join("root"), Some(&config));
    let out = run_ok(Command::new("curl").args([
        "-sS",
        "--cacert",
        &cert.display().to_string(),
        &format!("https://{}/v2/", reg.addr),
    ]));
    assert_eq!(out, "{}");
    // skopeo verifies the certificate against the CA in --dest-cert-dir.
    let dest = format!("docker://{}/tls/busybox:1", reg.addr);
    run_ok(skopeo().args([
        "copy",
        "--dest-cert-dir",
        &certs.display().to_string(),
        &format!("oci:{layout}:1"),
        &dest,
    ]));
    let raw = run_ok(skopeo().args([
        "inspect",
        "--raw",
        "--cert-dir",
        &certs.display().to_string(),
        &dest,
    ]));
    assert_eq!(
        berth_oci::Digest::sha256(raw.as_bytes()).to_string(),
        digest
    );
    // Plain HTTP gets no registry.
    let plain = Command::new("curl")
        .args(["-sS", "-f", &format!("http://{}/v2/", reg.addr)])
        .output()
        .unwrap();
    assert!(!plain.status.success());
}

#[test]
fn the_cli_and_the_registry_share_one_store_and_one_gc() {
    let dir = tempfile::tempdir().unwrap();
    let (berth, layout, digest) = layout(&dir);
    let blobs = |b: &Berth| fs::read_dir(b.root.join("blobs/sha256")).unwrap().count();
    let before = blobs(&berth);
    // The registry serves the CLI's store: pushing the same image stores nothing twice.
    let mut reg = BerthRegistry::start(BIN, &berth.root, None);
    let dest = format!("docker://{}/shared/busybox:1", reg.addr);
    run_ok(skopeo().args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{layout}:1"),
        &dest,
    ]));
    assert_eq!(
        blobs(&berth),
        before,
        "a blob is stored once, whoever wrote it"
    );

    // The CLI's gc keeps what the registry holds, even once the CLI's image is gone.
    berth.ok(&["rmi", "ops/busybox:1"]);
    berth.ok(&["gc"]);
    let raw = run_ok(skopeo().args(["inspect", "--raw", "--tls-verify=false", &dest]));
    assert_eq!(
        berth_oci::Digest::sha256(raw.as_bytes()).to_string(),
        digest
    );
    run_ok(skopeo().args([
        "copy",
        "--src-tls-verify=false",
        &dest,
        &format!("oci:{}:x", dir.path().join("out").display()),
    ]));

    // Once the registry drops the image, `berth registry gc` takes its blobs, and an upload
    // not yet used survives while it is young.
    run_ok(skopeo().args(["delete", "--tls-verify=false", &dest]));
    reg.stop();
    let stray = http_push_blob(&mut reg, b"a blob no manifest uses yet");
    let out = berth.ok(&["registry", "gc"]);
    // The deleted manifest goes; within the grace period its layers stay, pushed lately.
    assert!(out.starts_with("Removed 1 blobs"), "{out}");
    assert!(
        berth.root.join("blobs/sha256").join(&stray[7..]).exists(),
        "young uploads are kept: {out}"
    );
    let out = berth.ok(&["registry", "gc", "--grace", "0"]);
    assert!(out.starts_with("Removed 3 blobs"), "{out}");
    assert_eq!(blobs(&berth), 0, "{out}");
    assert!(berth.ok(&["fsck"]).contains("all good"));
    let err = berth.fails(&["registry", "gc", "--grace", "soon"]);
    assert!(err.contains("not a duration"), "{err}");
}

/// Starts the registry again, uploads one blob by single POST, stops it; returns the digest.
fn http_push_blob(reg: &mut BerthRegistry, data: &[u8]) -> String {
    reg.restart();
    let digest = berth_oci::Digest::sha256(data).to_string();
    let mut s = TcpStream::connect(&reg.addr).unwrap();
    write!(
        s,
        "POST /v2/stray/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        data.len()
    )
    .unwrap();
    s.write_all(data).unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    reg.stop();
    digest
}

#[test]
fn bad_configs_fail_with_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::new(BIN, &dir.path().join("root"));
    let config = dir.path().join("bad.toml");
    fs::write(&config, "[auth]\nmode = \"basic\"\n").unwrap();
    let err = berth.fails(&[
        "registry",
        "serve",
        "--config",
        &config.display().to_string(),
    ]);
    assert!(
        err.contains("bad.toml") && err.contains("htpasswd"),
        "{err}"
    );
    fs::write(&config, "adress = \"127.0.0.1:1\"\n").unwrap();
    let err = berth.fails(&[
        "registry",
        "serve",
        "--config",
        &config.display().to_string(),
    ]);
    assert!(err.contains("bad.toml") && err.contains("adress"), "{err}");
    // A port in use is named.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = berth.fails(&["registry", "serve", "--addr", &addr]);
    assert!(
        err.contains(&addr) && err.contains("another server"),
        "{err}"
    );
}

/// A repository that lost its link to a layer serves a manifest nobody can pull: fsck names
/// the repository, the manifest and its tag, the API path that fails and the fix, and
/// `--repair` links the blob again.
#[test]
fn fsck_finds_a_broken_repository_link_and_repairs_it() {
    require("sqlite3");
    let dir = tempfile::tempdir().unwrap();
    let (berth, layout, _) = layout(&dir);
    let mut reg = BerthRegistry::start(BIN, &berth.root, None);
    let dest = format!("docker://{}/links/busybox:1", reg.addr);
    run_ok(skopeo().args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{layout}:1"),
        &dest,
    ]));
    reg.stop();
    assert!(berth.ok(&["fsck"]).contains("all good"));

    // Break the link of one of the image's blobs, as a stray delete or a bad restore would.
    let db = berth.root.join("berth.db").display().to_string();
    let layer = run_ok(Command::new("sqlite3").args([
        &db,
        "SELECT r.child FROM refs r
         JOIN repo_manifests m ON m.digest = r.parent
         JOIN repo_blobs b ON b.repo = m.repo AND b.digest = r.child
         WHERE m.repo = 'links/busybox' ORDER BY 1 LIMIT 1;",
    ]));
    let layer = layer.trim().to_string();
    assert!(layer.starts_with("sha256:"), "{layer}");
    run_ok(Command::new("sqlite3").args([
        &db,
        &format!("DELETE FROM repo_blobs WHERE repo = 'links/busybox' AND digest = '{layer}';"),
    ]));

    let out = berth.run(&["fsck"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("unlinked: "))
        .unwrap_or_else(|| panic!("fsck reports the broken link: {stdout}"));
    for part in [
        "repository links/busybox",
        "(tags 1)",
        &format!("/v2/links/busybox/blobs/{layer}"),
        "berth fsck --repair",
    ] {
        assert!(line.contains(part), "{part:?} in {line}");
    }
    assert!(stdout.contains("problems found"), "{stdout}");

    let repaired = berth.ok(&["fsck", "--repair"]);
    assert!(
        repaired.contains(&format!("relinked: repository links/busybox: blob {layer}")),
        "{repaired}"
    );
    assert!(berth.ok(&["fsck"]).contains("all good"));
    reg.restart();
    run_ok(skopeo().args([
        "copy",
        "--src-tls-verify=false",
        &dest,
        &format!("oci:{}:x", dir.path().join("out").display()),
    ]));
}
