//! `berth registry` with the real clients: skopeo, podman, buildah, docker and oras, each
//! checked by digest and bytes, with and without authentication; and Go's net/http on the
//! answers given before a request body is read.

use std::fs;
use std::path::Path;
use std::process::Command;

use berth_oci::Digest;
use test_support::{Berth, BerthRegistry, Dockerd, Podman, busybox_rootfs, json, require, run_ok};

const BIN: &str = env!("CARGO_BIN_EXE_berth");

struct Env {
    dir: tempfile::TempDir,
    berth: Berth,
    digest: String,
}

/// A store with busybox imported, saved as an OCI layout (`layout`, tag 1) and a Docker
/// archive (`image.tar`).
fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::new(BIN, &dir.path().join("cli"));
    let rootfs = dir.path().join("rootfs");
    busybox_rootfs(&rootfs);
    let digest = berth
        .ok(&[
            "import",
            "-q",
            &rootfs.display().to_string(),
            "interop/busybox:1",
            "-c",
            r#"CMD ["echo", "hello from the registry"]"#,
        ])
        .trim()
        .to_string();
    berth.ok(&[
        "save",
        "interop/busybox:1",
        "--format",
        "oci-dir",
        "-o",
        &p(&dir, "layout"),
    ]);
    berth.ok(&["save", "interop/busybox:1", "-o", &p(&dir, "image.tar")]);
    Env { dir, berth, digest }
}

fn p(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).display().to_string()
}

fn skopeo() -> Command {
    require("skopeo");
    let mut c = Command::new("skopeo");
    c.arg("--insecure-policy");
    c
}

fn htpasswd(dir: &Path, users: &[(&str, &str)]) -> String {
    let path = dir.join("htpasswd");
    let text: String = users
        .iter()
        .map(|(u, pw)| format!("{u}:{}\n", bcrypt::hash(pw, 4).unwrap()))
        .collect();
    fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn raw_digest(out: &str) -> String {
    Digest::sha256(out.as_bytes()).to_string()
}

#[test]
fn skopeo_copies_in_and_out_lists_tags_and_deletes() {
    let e = env();
    let reg = BerthRegistry::start(BIN, &e.dir.path().join("registry"), None);
    let remote = format!("docker://{}/interop/busybox", reg.addr);
    for tag in ["1", "2"] {
        run_ok(skopeo().args([
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:1", p(&e.dir, "layout")),
            &format!("{remote}:{tag}"),
        ]));
    }
    let raw = run_ok(skopeo().args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("{remote}:1"),
    ]));
    assert_eq!(
        raw_digest(&raw),
        e.digest,
        "the registry serves the exact pushed manifest"
    );
    let tags = json(&run_ok(skopeo().args([
        "list-tags",
        "--tls-verify=false",
        &remote,
    ])));
    assert_eq!(tags["Tags"], serde_json::json!(["1", "2"]));

    // Out again, into a layout berth loads with the same digest.
    let out = p(&e.dir, "out");
    run_ok(skopeo().args([
        "copy",
        "--src-tls-verify=false",
        &format!("{remote}:2"),
        &format!("oci:{out}:x"),
    ]));
    let b2 = Berth::new(BIN, &e.dir.path().join("cli2"));
    assert_eq!(
        b2.ok(&["load", "-i", &out]).trim(),
        format!("Loaded image ID: {}", e.digest)
    );

    // Deleting by tag resolves to the manifest: both tags go.
    run_ok(skopeo().args(["delete", "--tls-verify=false", &format!("{remote}:1")]));
    let after = skopeo()
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("{remote}:2"),
        ])
        .output()
        .unwrap();
    assert!(!after.status.success(), "a deleted manifest must not pull");
    // The blobs the CLI and the registry share are stored once.
    let blobs_before = fs::read_dir(e.berth.root.join("blobs/sha256"))
        .unwrap()
        .count();
    assert!(blobs_before >= 3);
}

#[test]
fn skopeo_creds_with_basic_and_token_auth() {
    let e = env();
    let users = htpasswd(e.dir.path(), &[("alice", "s3cret"), ("bob", "hunter2")]);
    for mode in ["basic", "token"] {
        let config = format!(
            "[auth]\nmode = \"{mode}\"\nhtpasswd = \"{users}\"\n[[auth.rules]]\nusers = [\"alice\"]\nrepositories = [\"**\"]\nactions = [\"pull\", \"push\", \"delete\"]\n[[auth.rules]]\nusers = [\"bob\"]\nrepositories = [\"**\"]\nactions = [\"pull\"]\n"
        );
        let reg = BerthRegistry::start(
            BIN,
            &e.dir.path().join(format!("reg-{mode}")),
            Some(&config),
        );
        let src = format!("oci:{}:1", p(&e.dir, "layout"));
        let dest = format!("docker://{}/secure/busybox:1", reg.addr);
        let push = |creds: Option<&str>| {
            let mut c = skopeo();
            c.args(["copy", "--dest-tls-verify=false"]);
            if let Some(creds) = creds {
                c.args(["--dest-creds", creds]);
            }
            c.args([src.as_str(), dest.as_str()]).output().unwrap()
        };
        let none = push(None);
        assert!(
            !none.status.success(),
            "{mode}: pushing without credentials must fail"
        );
        let wrong = push(Some("alice:wrong"));
        assert!(
            !wrong.status.success(),
            "{mode}: a wrong password must fail"
        );
        let reader = push(Some("bob:hunter2"));
        assert!(!reader.status.success(), "{mode}: bob may only pull");
        let stderr = String::from_utf8_lossy(&reader.stderr);
        assert!(
            stderr.contains("denied") || stderr.contains("DENIED") || stderr.contains("403"),
            "{mode}: {stderr}"
        );
        let ok = push(Some("alice:s3cret"));
        assert!(
            ok.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let raw = run_ok(skopeo().args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            "bob:hunter2",
            &dest,
        ]));
        assert_eq!(raw_digest(&raw), e.digest, "{mode}");
    }
}

#[test]
fn podman_logs_in_pushes_and_pulls() {
    let e = env();
    let users = htpasswd(e.dir.path(), &[("alice", "s3cret")]);
    let config = format!("[auth]\nmode = \"token\"\nhtpasswd = \"{users}\"\n");
    let reg = BerthRegistry::start(BIN, &e.dir.path().join("registry"), Some(&config));
    let podman = Podman::new(&e.dir.path().join("podman"));
    let auth = p(&e.dir, "podman-auth.json");
    let login = |user: &str, pw: &str| {
        podman
            .command()
            .args([
                "login",
                "--tls-verify=false",
                "--authfile",
                &auth,
                "-u",
                user,
                "-p",
                pw,
                &reg.addr,
            ])
            .output()
            .unwrap()
    };
    assert!(
        !login("alice", "nope").status.success(),
        "a wrong password must not log in"
    );
    let ok = login("alice", "s3cret");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    run_ok(
        podman
            .command()
            .args(["load", "-i", &p(&e.dir, "image.tar")]),
    );
    let target = format!("{}/team/busybox:1", reg.addr);
    run_ok(
        podman
            .command()
            .args(["tag", "docker.io/interop/busybox:1", &target]),
    );
    run_ok(
        podman
            .command()
            .args(["push", "--tls-verify=false", "--authfile", &auth, &target]),
    );
    run_ok(
        podman
            .command()
            .args(["rmi", &target, "docker.io/interop/busybox:1"]),
    );
    run_ok(
        podman
            .command()
            .args(["pull", "--tls-verify=false", "--authfile", &auth, &target]),
    );
    assert_eq!(podman.run_image(&target, &[]), "hello from the registry\n");
}

/// Auth with a rule letting anyone pull `public/**`: the config every client tripped on when
/// `/v2/` answered anonymous callers 200 (they never sent credentials, and a wrong password
/// "logged in").
fn auth_with_anonymous_pulls(dir: &Path, mode: &str) -> String {
    let users = htpasswd(dir, &[("alice", "s3cret")]);
    format!(
        "[auth]\nmode = \"{mode}\"\nhtpasswd = \"{users}\"\n\
         [[auth.rules]]\nusers = [\"alice\"]\nrepositories = [\"**\"]\nactions = [\"pull\", \"push\", \"delete\"]\n\
         [[auth.rules]]\nusers = [\"anonymous\"]\nrepositories = [\"public/**\"]\nactions = [\"pull\"]\n"
    )
}

#[test]
fn clients_sign_in_and_push_where_anonymous_may_pull() {
    let e = env();
    for mode in ["basic", "token"] {
        let config = auth_with_anonymous_pulls(e.dir.path(), mode);
        let reg = BerthRegistry::start(
            BIN,
            &e.dir.path().join(format!("reg-{mode}")),
            Some(&config),
        );

        // skopeo sends its credentials once challenged, and a wrong password fails.
        let src = format!("oci:{}:1", p(&e.dir, "layout"));
        let dest = format!("docker://{}/public/busybox:1", reg.addr);
        let push = |creds: &str| {
            skopeo()
                .args(["copy", "--dest-tls-verify=false", "--dest-creds", creds])
                .args([src.as_str(), dest.as_str()])
                .output()
                .unwrap()
        };
        assert!(
            !push("alice:wrong").status.success(),
            "{mode}: skopeo, wrong password"
        );
        let ok = push("alice:s3cret");
        assert!(
            ok.status.success(),
            "{mode}: skopeo push: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        // Anonymous pulls of public/** still work.
        let raw = run_ok(skopeo().args(["inspect", "--raw", "--tls-verify=false", &dest]));
        assert_eq!(raw_digest(&raw), e.digest, "{mode}");

        // podman login checks the password; its push then signs in.
        let podman = Podman::new(&e.dir.path().join(format!("podman-{mode}")));
        let auth = p(&e.dir, &format!("podman-auth-{mode}.json"));
        let login = |pw: &str| {
            podman
                .command()
                .args([
                    "login",
                    "--tls-verify=false",
                    "--authfile",
                    &auth,
                    "-u",
                    "alice",
                    "-p",
                    pw,
                    &reg.addr,
                ])
                .output()
                .unwrap()
        };
        assert!(
            !login("nope").status.success(),
            "{mode}: podman login, wrong password"
        );
        assert!(
            !Path::new(&auth).exists() || !fs::read_to_string(&auth).unwrap().contains(&reg.addr),
            "{mode}: podman stored a wrong password"
        );
        let ok = login("s3cret");
        assert!(
            ok.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        run_ok(
            podman
                .command()
                .args(["load", "-i", &p(&e.dir, "image.tar")]),
        );
        let target = format!("{}/team/busybox:{mode}", reg.addr);
        run_ok(
            podman
                .command()
                .args(["tag", "docker.io/interop/busybox:1", &target]),
        );
        run_ok(
            podman
                .command()
                .args(["push", "--tls-verify=false", "--authfile", &auth, &target]),
        );

        // berth login fails on a wrong password and stores nothing; the right one is kept.
        let client = Berth::client(BIN, e.dir.path(), &format!("berth-{mode}"));
        let wrong = client.login(&reg.addr, "alice", "wrong");
        assert!(
            !wrong.status.success(),
            "{mode}: berth login, wrong password"
        );
        let stored = client.docker_config_dir().join("config.json");
        assert!(
            !stored.exists() || !fs::read_to_string(&stored).unwrap().contains(&reg.addr),
            "{mode}: berth stored a wrong password"
        );
        let ok = client.login(&reg.addr, "alice", "s3cret");
        assert!(
            ok.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert!(
            fs::read_to_string(&stored).unwrap().contains(&reg.addr),
            "{mode}"
        );
    }
}

#[test]
fn docker_logs_in_and_pushes_where_anonymous_may_pull() {
    let e = env();
    let config = auth_with_anonymous_pulls(e.dir.path(), "basic");
    let reg = BerthRegistry::start(BIN, &e.dir.path().join("registry"), Some(&config));
    let dockerd = Dockerd::start();
    let docker_config = e.dir.path().join("docker-config");
    fs::create_dir_all(&docker_config).unwrap();
    let docker = || {
        let mut c = dockerd.command();
        c.env("DOCKER_CONFIG", &docker_config);
        c
    };
    let bad = docker()
        .args(["login", "-u", "alice", "-p", "wrong", &reg.addr])
        .output()
        .unwrap();
    assert!(!bad.status.success(), "docker login with a wrong password");
    run_ok(
        docker()
            .args(["login", "-u", "alice", "--password-stdin", &reg.addr])
            .stdin_bytes(b"s3cret"),
    );
    run_ok(docker().args(["load", "-i", &p(&e.dir, "image.tar")]));
    let target = format!("{}/team/busybox:1", reg.addr);
    run_ok(docker().args(["tag", "interop/busybox:1", &target]));
    run_ok(docker().args(["push", &target]));
    let raw = run_ok(skopeo().args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        "alice:s3cret",
        &format!("docker://{target}"),
    ]));
    assert!(!raw.is_empty());
}

#[test]
fn buildah_pushes() {
    require("buildah");
    let e = env();
    let reg = BerthRegistry::start(BIN, &e.dir.path().join("registry"), None);
    let storage = e.dir.path().join("buildah");
    let buildah = || {
        let mut c = Command::new("buildah");
        c.arg("--root")
            .arg(storage.join("storage"))
            .arg("--runroot")
            .arg(storage.join("run"))
            .args(["--storage-driver", "vfs"]);
        c
    };
    // buildah pulls from berth's registry and pushes back to it.
    let src = format!("docker://{}/src/busybox:1", reg.addr);
    run_ok(skopeo().args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:1", p(&e.dir, "layout")),
        &src,
    ]));
    run_ok(buildah().args(["pull", "--tls-verify=false", &src]));
    let dest = format!("docker://{}/built/busybox:1", reg.addr);
    run_ok(buildah().args([
        "push",
        "--tls-verify=false",
        &format!("{}/src/busybox:1", reg.addr),
        &dest,
    ]));
    let config = json(&run_ok(skopeo().args([
        "inspect",
        "--config",
        "--tls-verify=false",
        &dest,
    ])));
    assert_eq!(config["config"]["Cmd"][1], "hello from the registry");
}

#[test]
fn docker_logs_in_pushes_and_pulls() {
    let e = env();
    let users = htpasswd(e.dir.path(), &[("alice", "s3cret")]);
    let config = format!("[auth]\nmode = \"token\"\nhtpasswd = \"{users}\"\n");
    let reg = BerthRegistry::start(BIN, &e.dir.path().join("registry"), Some(&config));
    let dockerd = Dockerd::start();
    let docker_config = e.dir.path().join("docker-config");
    fs::create_dir_all(&docker_config).unwrap();
    let docker = || {
        let mut c = dockerd.command();
        c.env("DOCKER_CONFIG", &docker_config);
        c
    };
    let bad = docker()
        .args(["login", "-u", "alice", "-p", "wrong", &reg.addr])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    run_ok(
        docker()
            .args(["login", "-u", "alice", "--password-stdin", &reg.addr])
            .stdin_bytes(b"s3cret"),
    );
    run_ok(docker().args(["load", "-i", &p(&e.dir, "image.tar")]));
    let target = format!("{}/team/busybox:1", reg.addr);
    run_ok(docker().args(["tag", "interop/busybox:1", &target]));
    let pushed = run_ok(docker().args(["push", &target]));
    run_ok(docker().args(["rmi", &target, "interop/busybox:1"]));
    run_ok(docker().args(["pull", &target]));
    let out = run_ok(docker().args(["run", "--rm", "--network=none", &target]));
    assert_eq!(out, "hello from the registry\n");
    // What docker says it pushed is what the registry serves.
    let digest = pushed
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .expect("docker push prints the digest")
        .to_string();
    let raw = run_ok(skopeo().args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        "alice:s3cret",
        &format!("docker://{target}"),
    ]));
    assert_eq!(raw_digest(&raw), digest);
}

#[test]
fn oras_pushes_an_artifact_with_a_subject_and_finds_it_by_referrers() {
    let e = env();
    let reg = BerthRegistry::start(BIN, &e.dir.path().join("registry"), None);
    run_ok(skopeo().args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:1", p(&e.dir, "layout")),
        &format!("docker://{}/art/app:1", reg.addr),
    ]));
    let script = r#"
import json, os, sys
import oras.client, oras.oci
host, digest, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
os.chdir(workdir)
with open("sbom.json", "w") as f:
    f.write('{"bom": "berth"}')
client = oras.client.OrasClient(hostname=host, insecure=True)
manifest = client.get_manifest(f"{host}/art/app:1")
subject = oras.oci.Subject(mediaType=manifest["mediaType"], digest=digest, size=len(json.dumps(manifest)))
subject.size = int(client.do_request(f"http://{host}/v2/art/app/manifests/1", "HEAD").headers["Content-Length"])
resp = client.push(target=f"{host}/art/app:sbom", files=["sbom.json:application/vnd.example.sbom+json"], subject=subject, manifest_annotations={"org.example.kind": "sbom"})
assert resp.status_code == 201, resp.text
pushed = resp.headers["Docker-Content-Digest"]
assert resp.headers.get("OCI-Subject") == digest, dict(resp.headers)
refs = client.do_request(f"http://{host}/v2/art/app/referrers/{digest}", "GET").json()
print(json.dumps({"pushed": pushed, "referrers": refs}))
os.mkdir("pulled")
client.pull(target=f"{host}/art/app:sbom", outdir="pulled")
print(open("pulled/sbom.json").read(), file=sys.stderr)
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &reg.addr,
            &e.digest,
            &e.dir.path().display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "oras: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = json(String::from_utf8_lossy(&out.stdout).trim());
    let refs = &result["referrers"]["manifests"];
    assert_eq!(refs.as_array().unwrap().len(), 1, "{result}");
    assert_eq!(refs[0]["digest"], result["pushed"]);
    assert_eq!(refs[0]["annotations"]["org.example.kind"], "sbom");
    assert!(refs[0]["artifactType"].is_string(), "{result}");
    assert_eq!(
        fs::read_to_string(e.dir.path().join("pulled/sbom.json")).unwrap(),
        r#"{"bom": "berth"}"#
    );
}

/// Go's net/http, the client containerd, skopeo and the conformance suite are built on, gets
/// every answer the registry gives before reading a body (416, 404, 401, 413, 400), never a
/// `write: broken pipe`, and sends its next request over the same connection; a 24 MiB body
/// gets its answer and `Connection: close` (tests/go/early_answers.go, run 20 rounds).
#[test]
fn go_net_http_keeps_its_connection_through_early_answers() {
    require("go");
    let dir = tempfile::tempdir().unwrap();
    let users = htpasswd(dir.path(), &[("alice", "s3cret")]);
    let config = format!(
        "[auth]\nmode = \"basic\"\nhtpasswd = \"{users}\"\n[[auth.rules]]\nusers = [\"alice\"]\nrepositories = [\"**\"]\nactions = [\"pull\", \"push\"]\n"
    );
    let reg = BerthRegistry::start(BIN, &dir.path().join("registry"), Some(&config));
    let client = dir.path().join("early_answers");
    // Offline and standard library only; the build cache stays with cargo's, so later runs
    // take a second.
    run_ok(
        Command::new("go")
            .args(["build", "-o"])
            .arg(&client)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go/early_answers.go"))
            .env(
                "GOCACHE",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-build"),
            )
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "")
            .env("CGO_ENABLED", "0"),
    );
    let out = Command::new(&client)
        .args([&format!("http://{}", reg.addr), "alice", "s3cret", "20"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "Go's net/http against early answers:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Feeds bytes to a command's standard input.
trait StdinBytes {
    fn stdin_bytes(&mut self, bytes: &[u8]) -> &mut Self;
}

impl StdinBytes for Command {
    fn stdin_bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let path = std::env::temp_dir().join(format!("berth-stdin-{}", std::process::id()));
        fs::write(&path, bytes).unwrap();
        self.stdin(fs::File::open(&path).unwrap());
        let _ = fs::remove_file(&path);
        self
    }
}
