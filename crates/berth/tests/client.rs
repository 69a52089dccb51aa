//! berth's registry client end to end, against berth registry and the distribution registry:
//! login and logout (basic and token auth, credential helpers), push, pull, copy between every
//! transport, resolve, manifest inspect, tags with paging, delete; and Docker's config.json as
//! the real clients read it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_oci::Digest;
use test_support::registry::{Image, oci_image};
use test_support::{
    Berth, BerthRegistry, Exchange, Fault, FaultProxy, Podman, Registry, busybox_rootfs, json,
    require, run_ok,
};

const BIN: &str = env!("CARGO_BIN_EXE_berth");

fn htpasswd(dir: &Path, users: &[(&str, &str)]) -> PathBuf {
    let path = dir.join("htpasswd");
    let text: String = users
        .iter()
        .map(|(u, p)| format!("{u}:{}\n", bcrypt::hash(p, 4).unwrap()))
        .collect();
    fs::write(&path, text).unwrap();
    path
}

/// Imports busybox into a client's store as `name`; returns the image digest.
fn import(c: &Berth, dir: &Path, name: &str) -> String {
    let rootfs = dir.join("rootfs");
    if !rootfs.exists() {
        busybox_rootfs(&rootfs);
    }
    let out = c.ok(&[
        "import",
        "-q",
        &rootfs.display().to_string(),
        name,
        "-c",
        r#"CMD ["echo", "pushed by berth"]"#,
    ]);
    out.trim().to_string()
}

fn skopeo() -> Command {
    require("skopeo");
    let mut c = Command::new("skopeo");
    c.arg("--insecure-policy");
    c
}

/// Both registries, with the same users under basic auth.
fn registries(dir: &Path, users: &Path) -> Vec<(&'static str, String, Box<dyn std::any::Any>)> {
    let berth = BerthRegistry::start(
        BIN,
        &dir.join("berth-registry"),
        Some(&format!(
            "[auth]\nmode = \"basic\"\nhtpasswd = \"{}\"\n",
            users.display()
        )),
    );
    let distribution = Registry::start_with(Some(users));
    vec![
        ("berth", berth.addr.clone(), Box::new(berth)),
        (
            "distribution",
            distribution.addr.clone(),
            Box::new(distribution),
        ),
    ]
}

#[test]
fn login_push_pull_copy_resolve_tags_delete_against_both_registries() {
    let dir = tempfile::tempdir().unwrap();
    let users = htpasswd(dir.path(), &[("alice", "s3cret")]);
    for (kind, addr, _guard) in registries(dir.path(), &users) {
        let c = Berth::client(BIN, dir.path(), kind);
        let digest = import(&c, dir.path(), "app:1");
        let target = format!("{addr}/team/app:1");

        // Without credentials: a clear 401 that says to log in.
        let err = c.fails(&["push", "app:1", &target]);
        assert!(
            err.contains("401") && err.contains(&format!("berth login {addr}")),
            "{kind}: {err}"
        );
        let bad = c.login(&addr, "alice", "wrong");
        assert!(
            !bad.status.success(),
            "{kind}: a wrong password must not log in"
        );
        let ok = c.login(&addr, "alice", "s3cret");
        assert!(
            ok.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&ok.stdout).trim(),
            "Login Succeeded"
        );
        let config = fs::read_to_string(c.docker_config_dir().join("config.json")).unwrap();
        assert!(
            !config.contains("s3cret"),
            "the password is not stored in the clear"
        );

        let out = c.ok(&["push", "app:1", &target]);
        assert_eq!(out.trim(), format!("Pushed {target}@{digest}"), "{kind}");
        for tag in ["2", "3", "10"] {
            c.ok(&["push", "-q", "app:1", &format!("{addr}/team/app:{tag}")]);
        }
        assert_eq!(
            c.ok(&["resolve", &target]).trim(),
            format!("{target}@{digest}")
        );
        let raw = c.ok(&["manifest", "inspect", &target]);
        assert_eq!(
            Digest::sha256(raw.trim_end_matches('\n').as_bytes()).to_string(),
            digest,
            "{kind}: exact bytes"
        );
        // Paging through Link headers, two tags at a time.
        let tags = c.ok(&["tags", &format!("{addr}/team/app"), "--page-size", "2"]);
        assert_eq!(
            tags.lines().collect::<Vec<_>>(),
            ["1", "10", "2", "3"],
            "{kind}"
        );

        // Pull into another store: same digest, every byte checked.
        let c2 = Berth::client(BIN, dir.path(), &format!("{kind}-puller"));
        fs::create_dir_all(c2.docker_config_dir()).unwrap();
        fs::copy(
            c.docker_config_dir().join("config.json"),
            c2.docker_config_dir().join("config.json"),
        )
        .unwrap();
        let out = c2.ok(&["pull", &target]);
        assert_eq!(out.trim(), format!("Pulled {target}@{digest}"));
        assert_eq!(json(&c2.ok(&["inspect", &target]))[0]["Id"], digest);
        assert!(c2.ok(&["fsck"]).contains("all good"));

        // Registry to registry: blobs mount, nothing moves twice.
        let copied = c.ok(&[
            "copy",
            "--json",
            &format!("docker://{target}"),
            &format!("docker://{addr}/other/app:1"),
        ]);
        let events: Vec<serde_json::Value> = copied.lines().map(json).collect();
        assert!(
            events.iter().any(|e| e["event"] == "blob_mounted"),
            "{kind}: {copied}"
        );
        assert_eq!(events.last().unwrap()["digest"], digest);

        // Delete by tag removes the manifest (and its other tags).
        let out = c.ok(&["delete", &format!("{addr}/team/app:3")]);
        assert!(out.contains(&digest), "{out}");
        let err = c.fails(&["resolve", &target]);
        assert!(
            err.contains("404") || err.contains("not found") || err.contains("unknown"),
            "{kind}: {err}"
        );

        let out = c.ok(&["logout", &addr]);
        assert!(
            out.contains(&format!("Removed the login credentials for {addr}")),
            "{out}"
        );
        assert!(c.ok(&["logout", &addr]).contains("Not logged in"));
    }
}

#[test]
fn token_auth_and_config_json_the_real_clients_read() {
    let dir = tempfile::tempdir().unwrap();
    let users = htpasswd(dir.path(), &[("alice", "s3cret")]);
    let reg = BerthRegistry::start(
        BIN,
        &dir.path().join("registry"),
        Some(&format!(
            "[auth]\nmode = \"token\"\nhtpasswd = \"{}\"\n",
            users.display()
        )),
    );
    let c = Berth::client(BIN, dir.path(), "token");
    let digest = import(&c, dir.path(), "app:1");
    assert!(c.login(&reg.addr, "alice", "s3cret").status.success());
    let target = format!("{}/team/app:1", reg.addr);
    c.ok(&["push", "-q", "app:1", &target]);

    // skopeo and podman sign in with the config.json berth wrote.
    let authfile = c
        .docker_config_dir()
        .join("config.json")
        .display()
        .to_string();
    let raw = run_ok(skopeo().args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--authfile",
        &authfile,
        &format!("docker://{target}"),
    ]));
    assert_eq!(Digest::sha256(raw.as_bytes()).to_string(), digest);
    let podman = Podman::new(&dir.path().join("podman"));
    run_ok(podman.command().args([
        "pull",
        "--tls-verify=false",
        "--authfile",
        &authfile,
        &target,
    ]));
    assert_eq!(podman.run_image(&target, &[]), "pushed by berth\n");

    // And berth reads what podman writes.
    let podman_auth = dir.path().join("podman-auth.json").display().to_string();
    run_ok(podman.command().args([
        "login",
        "--tls-verify=false",
        "--authfile",
        &podman_auth,
        "-u",
        "alice",
        "-p",
        "s3cret",
        &reg.addr,
    ]));
    let c2 = Berth::client(BIN, dir.path(), "reads-podman");
    fs::create_dir_all(c2.docker_config_dir()).unwrap();
    fs::copy(&podman_auth, c2.docker_config_dir().join("config.json")).unwrap();
    assert_eq!(
        c2.ok(&["resolve", &target]).trim(),
        format!("{target}@{digest}")
    );
}

#[test]
fn credential_helpers_store_get_and_erase() {
    let dir = tempfile::tempdir().unwrap();
    let users = htpasswd(dir.path(), &[("alice", "s3cret")]);
    let reg = BerthRegistry::start(
        BIN,
        &dir.path().join("registry"),
        Some(&format!(
            "[auth]\nmode = \"basic\"\nhtpasswd = \"{}\"\n",
            users.display()
        )),
    );
    // A credential helper as Docker defines them: `store`, `get`, `erase` on standard input.
    let bin = dir.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let store = dir.path().join("helper-store.json");
    let helper = bin.join("docker-credential-test");
    fs::write(
        &helper,
        format!(
            r#"#!/usr/bin/env python3
import json, os, sys
path = "{}"
data = json.load(open(path)) if os.path.exists(path) else {{}}
action = sys.argv[1]
if action == "store":
    item = json.load(sys.stdin)
    data[item["ServerURL"]] = item
    json.dump(data, open(path, "w"))
elif action == "get":
    url = sys.stdin.read().strip()
    if url not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps({{"ServerURL": url, "Username": data[url]["Username"], "Secret": data[url]["Secret"]}}))
elif action == "erase":
    url = sys.stdin.read().strip()
    if url not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    del data[url]
    json.dump(data, open(path, "w"))
"#,
            store.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&helper, fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = Berth::client(BIN, dir.path(), "helper");
    c.path_prefix = Some(bin.clone());
    fs::create_dir_all(c.docker_config_dir()).unwrap();
    fs::write(
        c.docker_config_dir().join("config.json"),
        format!(r#"{{"credHelpers": {{"{}": "test"}}}}"#, reg.addr),
    )
    .unwrap();
    let digest = import(&c, dir.path(), "app:1");
    assert!(c.login(&reg.addr, "alice", "s3cret").status.success());
    let kept: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&store).unwrap()).unwrap();
    assert_eq!(
        kept[&reg.addr]["Username"], "alice",
        "the helper holds the credential"
    );
    let config = fs::read_to_string(c.docker_config_dir().join("config.json")).unwrap();
    assert!(
        !config.contains("auths"),
        "nothing in config.json itself: {config}"
    );
    let out = c.ok(&["push", "app:1", &format!("{}/x:1", reg.addr)]);
    assert!(out.contains(&digest));
    c.ok(&["logout", &reg.addr]);
    let kept: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&store).unwrap()).unwrap();
    assert!(kept.get(&reg.addr).is_none());
    let err = c.fails(&["push", "app:1", &format!("{}/x:2", reg.addr)]);
    assert!(err.contains("401"), "{err}");
    // A helper that isn't installed is named, with the fix.
    fs::write(
        c.docker_config_dir().join("config.json"),
        r#"{"credsStore": "nosuch"}"#,
    )
    .unwrap();
    let err = c.fails(&["push", "app:1", &format!("{}/x:3", reg.addr)]);
    assert!(err.contains("docker-credential-nosuch"), "{err}");
}

#[test]
fn copy_between_every_transport_keeps_digests() {
    let dir = tempfile::tempdir().unwrap();
    let reg = BerthRegistry::start(BIN, &dir.path().join("registry"), None);
    let c = Berth::client(BIN, dir.path(), "copier");
    let digest = import(&c, dir.path(), "app:1");
    let p = |n: &str| dir.path().join(n).display().to_string();
    let hops = [
        ("local:app:1".to_string(), format!("oci:{}:1", p("layout"))),
        (
            format!("oci:{}:1", p("layout")),
            format!("oci-archive:{}", p("a.tar")),
        ),
        (
            format!("oci-archive:{}", p("a.tar")),
            format!("docker://{}/hop/app:1", reg.addr),
        ),
        (
            format!("docker://{}/hop/app:1", reg.addr),
            format!("docker://{}/hop2/app:1", reg.addr),
        ),
        (
            format!("docker://{}/hop2/app:1", reg.addr),
            "local:copied/app:1".to_string(),
        ),
    ];
    for (src, dst) in &hops {
        let out = c.ok(&["copy", "-q", src, dst]);
        assert!(out.contains(&digest), "{src} -> {dst}: {out}");
    }
    assert_eq!(json(&c.ok(&["inspect", "copied/app:1"]))[0]["Id"], digest);
    // Docker archives hold uncompressed layers: a new manifest, the same config.
    c.ok(&[
        "copy",
        "-q",
        "local:app:1",
        &format!("docker-archive:{}:app:1", p("d.tar")),
    ]);
    let out = c.ok(&[
        "copy",
        "-q",
        &format!("docker-archive:{}", p("d.tar")),
        "local:from-docker:1",
    ]);
    assert!(!out.contains(&digest));
    assert_eq!(
        json(&c.ok(&["inspect", "from-docker:1"]))[0]["RootFS"],
        json(&c.ok(&["inspect", "app:1"]))[0]["RootFS"]
    );
    // Errors name the place.
    let err = c.fails(&["copy", &format!("oci:{}:nosuch", p("layout")), "local:x"]);
    assert!(err.contains("nosuch"), "{err}");
    let err = c.fails(&["copy", "local:app:1", "containers-storage:x"]);
    assert!(err.contains("docker://"), "{err}");
}

#[test]
fn images_pushed_by_berth_pull_with_skopeo_podman_and_docker_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let reg = BerthRegistry::start(BIN, &dir.path().join("registry"), None);
    let c = Berth::client(BIN, dir.path(), "interop");
    let digest = import(&c, dir.path(), "app:1");
    let target = format!("{}/interop/app:1", reg.addr);
    c.ok(&["push", "-q", "app:1", &target]);

    let raw = run_ok(skopeo().args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{target}"),
    ]));
    assert_eq!(Digest::sha256(raw.as_bytes()).to_string(), digest);
    let podman = Podman::new(&dir.path().join("podman"));
    run_ok(
        podman
            .command()
            .args(["pull", "--tls-verify=false", &target]),
    );
    assert_eq!(podman.run_image(&target, &[]), "pushed by berth\n");
    let dockerd = test_support::Dockerd::start();
    run_ok(dockerd.command().args(["pull", &target]));
    let out = run_ok(
        dockerd
            .command()
            .args(["run", "--rm", "--network=none", &target]),
    );
    assert_eq!(out, "pushed by berth\n");
    let repo_digests =
        run_ok(
            dockerd
                .command()
                .args(["inspect", "--format", "{{json .RepoDigests}}", &target]),
        );
    assert!(
        repo_digests.contains(&digest),
        "docker sees the same digest: {repo_digests}"
    );

    // The other way: what skopeo and docker push, berth pulls with the same digest.
    let layout = dir.path().join("layout");
    c.ok(&[
        "copy",
        "-q",
        "local:app:1",
        &format!("oci:{}:1", layout.display()),
    ]);
    let by_skopeo = format!("{}/by-skopeo/app:1", reg.addr);
    run_ok(skopeo().args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:1", layout.display()),
        &format!("docker://{by_skopeo}"),
    ]));
    let out = c.ok(&["pull", &by_skopeo]);
    assert!(out.contains(&digest), "{out}");
    let by_docker = format!("{}/by-docker/app:1", reg.addr);
    run_ok(dockerd.command().args(["tag", &target, &by_docker]));
    let pushed = run_ok(dockerd.command().args(["push", &by_docker]));
    let docker_digest = pushed
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap()
        .to_string();
    let out = c.ok(&["pull", &by_docker]);
    assert!(out.contains(&docker_digest), "{out}");
    assert!(c.ok(&["fsck"]).contains("all good"));
}

#[test]
fn secrets_never_reach_the_log_and_tls_trusts_ca_cert() {
    let dir = tempfile::tempdir().unwrap();
    let users = htpasswd(dir.path(), &[("alice", "Sup3rSecretPw")]);
    // TLS with a CA of the test's own, given with --ca-cert.
    let (ca, cert, key) = test_support::tls_certificates(dir.path());
    let reg = BerthRegistry::start(
        BIN,
        &dir.path().join("registry"),
        Some(&format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n[auth]\nmode = \"token\"\nhtpasswd = \"{}\"\n",
            cert.display(),
            key.display(),
            users.display()
        )),
    );
    // The registry is on 127.0.0.1, which berth reaches over plain HTTP unless told: reach it
    // as localhost with TLS by listing nothing insecure and giving the CA.
    let port = reg.addr.rsplit(':').next().unwrap();
    let host = format!("localhost:{port}");
    let c = Berth::client(BIN, dir.path(), "tls");
    import(&c, dir.path(), "app:1");
    let ca = ca.display().to_string();
    let login = c.run_with_stdin(
        &[
            "--log-level",
            "trace",
            "--ca-cert",
            &ca,
            "login",
            "-u",
            "alice",
            "--password-stdin",
            &host,
        ],
        "Sup3rSecretPw\n",
    );
    let push = c.run(&[
        "--log-level",
        "trace",
        "--ca-cert",
        &ca,
        "push",
        "app:1",
        &format!("{host}/tls/app:1"),
    ]);
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode("alice:Sup3rSecretPw");
    for (what, out) in [("login", &login), ("push", &push)] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{what}: {stderr}");
        assert!(
            !stderr.contains("Sup3rSecretPw") && !stderr.contains(&basic),
            "{what} logged a secret"
        );
        assert!(
            !stderr.to_lowercase().contains("bearer ey"),
            "{what} logged a token"
        );
    }
    // Without the CA the certificate is refused, and the error says what to do.
    let err = c.fails(&["push", "app:1", &format!("{host}/tls/app:2")]);
    assert!(err.contains("--ca-cert"), "{err}");
}

/// Writes `image` as an OCI layout in `dir` under the name `1`; returns its `oci:` location.
fn layout(dir: &Path, image: &Image) -> String {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    for b in &image.blobs {
        fs::write(blobs.join(b.digest.hex()), &b.bytes).unwrap();
    }
    fs::write(blobs.join(image.digest.hex()), &image.bytes).unwrap();
    let mut root = image.descriptor();
    root["annotations"] = serde_json::json!({ "org.opencontainers.image.ref.name": "1" });
    let index = serde_json::json!({ "schemaVersion": 2, "manifests": [root] });
    fs::write(dir.join("index.json"), index.to_string()).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    format!("oci:{}:1", dir.display())
}

/// Runs a transfer with `--json`; returns its events.
fn events(c: &Berth, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = args.to_vec();
    all.insert(1, "--json");
    c.ok(&all).lines().map(json).collect()
}

/// The repositories each blob was mounted from, in the order of the events.
fn mounted_from(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == "blob_mounted")
        .map(|e| e["from"].as_str().unwrap().to_string())
        .collect()
}

/// Requests that move blob bytes: an upload started without a mount, a chunk, a last PUT.
fn uploads(sent: &[Exchange]) -> Vec<String> {
    sent.iter()
        .filter(|e| {
            let upload = e.path.contains("/blobs/uploads/");
            (e.method == "POST" && upload && !e.path.contains("mount="))
                || (matches!(e.method.as_str(), "PATCH" | "PUT") && upload)
        })
        .map(|e| format!("{} {}", e.method, e.path))
        .collect()
}

/// Mount requests from `repo`, with the status each got.
fn mounts_from(sent: &[Exchange], repo: &str) -> Vec<Option<u16>> {
    let from = format!("from={repo}");
    sent.iter()
        .filter(|e| e.method == "POST" && e.path.contains("mount=") && e.path.ends_with(&from))
        .map(|e| e.status)
        .collect()
}

/// `DELETE` over plain HTTP/1.0; returns the status.
fn http_delete(addr: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "DELETE {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer.split(' ').nth(1).unwrap().parse().unwrap()
}

/// A push to a second repository of a registry mounts every blob from the first, with no
/// upload: whether the image comes from the store (`push`) or a layout (`copy`), and whether
/// the store learnt where the blobs are by pushing them or by pulling them. Requests are
/// counted by a proxy in front of berth registry and the distribution registry.
#[test]
fn a_push_mounts_what_another_repository_of_the_registry_holds() {
    let dir = tempfile::tempdir().unwrap();
    let berth = BerthRegistry::start(BIN, &dir.path().join("berth-registry"), None);
    let distribution = Registry::start();
    let image = oci_image(4);
    let src = layout(&dir.path().join("layout"), &image);
    let digest = image.digest.to_string();
    let blobs = image.blobs.len();
    for (kind, upstream) in [("berth", &berth.addr), ("distribution", &distribution.addr)] {
        let proxy = FaultProxy::start(upstream, vec![]);
        let reg = &proxy.addr;
        let c = Berth::client(BIN, dir.path(), &format!("{kind}-pusher"));
        let first = events(&c, &["copy", &src, &format!("docker://{reg}/team/a:1")]);
        assert!(mounted_from(&first).is_empty(), "{kind}: {first:?}");
        assert!(uploads(&proxy.exchanges()).len() >= blobs, "{kind}");

        // From a layout: every blob mounted from where the store saw it, nothing uploaded.
        let before = proxy.exchanges().len();
        let second = events(&c, &["copy", &src, &format!("docker://{reg}/team/b:1")]);
        assert_eq!(mounted_from(&second), vec!["team/a"; blobs], "{kind}");
        let sent = &proxy.exchanges()[before..];
        assert_eq!(uploads(sent), Vec::<String>::new(), "{kind}");
        assert_eq!(
            mounts_from(sent, "team/a"),
            vec![Some(201); blobs],
            "{kind}"
        );

        // A pull teaches another store where the blobs are: its push mounts them too.
        let c2 = Berth::client(BIN, dir.path(), &format!("{kind}-puller"));
        c2.ok(&["pull", "-q", &format!("{reg}/team/b:1")]);
        let before = proxy.exchanges().len();
        let pushed = events(
            &c2,
            &[
                "push",
                &format!("{reg}/team/b:1"),
                &format!("{reg}/team/c:1"),
            ],
        );
        assert_eq!(mounted_from(&pushed), vec!["team/b"; blobs], "{kind}");
        assert_eq!(uploads(&proxy.exchanges()[before..]), Vec::<String>::new());
        assert_eq!(pushed.last().unwrap()["digest"], digest, "{kind}");
        assert_eq!(
            c.ok(&["resolve", &format!("{upstream}/team/c:1")]).trim(),
            format!("{upstream}/team/c:1@{digest}"),
            "{kind}"
        );
    }
}

/// A registry that won't mount from a repository the store remembers still gets the image,
/// uploaded, and the remembered repository is forgotten: the distribution registry with the
/// first repository's blobs deleted, and berth registry behind a proxy that answers every
/// mount with 202 (an upload started instead).
#[test]
fn a_refused_mount_uploads_and_forgets_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let image = oci_image(3);
    let src = layout(&dir.path().join("layout"), &image);
    let digest = image.digest.to_string();
    let blobs = image.blobs.len();
    let arrived = |reg: &str, repo: &str| {
        let name = format!("{reg}-{repo}").replace([':', '/', '.'], "-");
        let puller = Berth::client(BIN, dir.path(), &name);
        let out = puller.ok(&["pull", "-q", &format!("{reg}/{repo}:1")]);
        assert_eq!(out.trim(), format!("Pulled {reg}/{repo}:1@{digest}"));
        assert!(puller.ok(&["fsck"]).contains("all good"));
    };

    // Distribution: team/a's blobs deleted after the store saw them there.
    let distribution = Registry::start();
    let proxy = FaultProxy::start(&distribution.addr, vec![]);
    let reg = &proxy.addr;
    let c = Berth::client(BIN, dir.path(), "distribution");
    c.ok(&["copy", "-q", &src, &format!("docker://{reg}/team/a:1")]);
    let forget = |repo: &str| {
        for b in &image.blobs {
            let path = format!("/v2/{repo}/blobs/{}", b.digest);
            assert_eq!(http_delete(&distribution.addr, &path), 202, "{path}");
        }
    };
    forget("team/a");
    let before = proxy.exchanges().len();
    let out = events(&c, &["copy", &src, &format!("docker://{reg}/team/c:1")]);
    assert!(mounted_from(&out).is_empty(), "{out:?}");
    let sent = &proxy.exchanges()[before..];
    assert_eq!(mounts_from(sent, "team/a"), vec![Some(202); blobs]);
    assert!(!uploads(sent).is_empty());
    arrived(&distribution.addr, "team/c");
    // team/a is forgotten: the next push tries team/c alone.
    forget("team/c");
    let before = proxy.exchanges().len();
    c.ok(&["copy", "-q", &src, &format!("docker://{reg}/team/d:1")]);
    let sent = &proxy.exchanges()[before..];
    assert_eq!(
        mounts_from(sent, "team/a"),
        vec![],
        "team/a was proven wrong"
    );
    assert_eq!(mounts_from(sent, "team/c"), vec![Some(202); blobs]);
    arrived(&distribution.addr, "team/d");

    // berth registry behind a proxy that turns every mount into "202, upload it".
    let berth = BerthRegistry::start(BIN, &dir.path().join("berth-registry"), None);
    let refuse = Fault::Status {
        path_contains: "mount=",
        methods: &["POST"],
        status: 202,
        retry_after: None,
        times: usize::MAX,
    };
    let proxy = FaultProxy::start(&berth.addr, vec![refuse]);
    let reg = &proxy.addr;
    let c = Berth::client(BIN, dir.path(), "berth");
    c.ok(&["copy", "-q", &src, &format!("docker://{reg}/team/a:1")]);
    let out = events(&c, &["copy", &src, &format!("docker://{reg}/team/b:1")]);
    assert!(mounted_from(&out).is_empty(), "{out:?}");
    assert_eq!(proxy.fired(0), blobs);
    arrived(&berth.addr, "team/b");
    let before = proxy.exchanges().len();
    c.ok(&["copy", "-q", &src, &format!("docker://{reg}/team/c:1")]);
    let sent = &proxy.exchanges()[before..];
    assert_eq!(
        mounts_from(sent, "team/a"),
        vec![],
        "team/a was proven wrong"
    );
    assert_eq!(mounts_from(sent, "team/b"), vec![Some(202); blobs]);
    // Once the registry mounts again, the repository the blobs were last uploaded to serves.
    proxy.set_plan(vec![]);
    let out = events(&c, &["copy", &src, &format!("docker://{reg}/team/d:1")]);
    assert_eq!(mounted_from(&out), vec!["team/c"; blobs]);
}

/// With token auth, a mount asks for the right to pull the source repository too; a user
/// without it still pushes the image, uploaded.
#[test]
fn a_mount_needs_the_right_to_pull_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let users = htpasswd(dir.path(), &[("alice", "s3cret"), ("bob", "b0b")]);
    let reg = BerthRegistry::start(
        BIN,
        &dir.path().join("registry"),
        Some(&format!(
            "[auth]\nmode = \"token\"\nhtpasswd = \"{}\"\n\n\
             [[auth.rules]]\nusers = [\"alice\"]\nrepositories = [\"team/**\"]\nactions = [\"pull\", \"push\"]\n\n\
             [[auth.rules]]\nusers = [\"bob\"]\nrepositories = [\"bob/**\"]\nactions = [\"pull\", \"push\"]\n",
            users.display()
        )),
    );
    let c = Berth::client(BIN, dir.path(), "token");
    let digest = import(&c, dir.path(), "app:1");
    assert!(c.login(&reg.addr, "alice", "s3cret").status.success());
    c.ok(&["push", "-q", "app:1", &format!("{}/team/a:1", reg.addr)]);
    let out = events(&c, &["push", "app:1", &format!("{}/team/b:1", reg.addr)]);
    assert_eq!(mounted_from(&out), ["team/a", "team/a"], "{out:?}");

    assert!(c.login(&reg.addr, "bob", "b0b").status.success());
    let target = format!("{}/bob/app:1", reg.addr);
    let out = events(&c, &["push", "app:1", &target]);
    assert!(mounted_from(&out).is_empty(), "{out:?}");
    assert_eq!(
        out.iter().filter(|e| e["event"] == "blob_done").count(),
        2,
        "{out:?}"
    );
    assert_eq!(
        c.ok(&["resolve", &target]).trim(),
        format!("{target}@{digest}")
    );
}
