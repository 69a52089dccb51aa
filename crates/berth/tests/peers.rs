//! The real tools read what berth writes, and berth reads what they write: skopeo, umoci,
//! podman and the distribution registry.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use berth_oci::Digest;
use test_support::{Berth, Dockerd, Podman, Registry, busybox_rootfs, json, require, run_ok};

fn setup() -> (tempfile::TempDir, Berth, String) {
    let dir = tempfile::tempdir().unwrap();
    let b = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("root"));
    let rootfs = dir.path().join("rootfs");
    busybox_rootfs(&rootfs);
    let digest = b
        .ok(&[
            "import",
            "-q",
            &rootfs.display().to_string(),
            "peer/busybox:1",
            "-c",
            r#"CMD ["echo", "hello from berth"]"#,
        ])
        .trim()
        .to_string();
    (dir, b, digest)
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

#[test]
fn skopeo_reads_berths_layout_and_pushes_it_to_the_distribution_registry() {
    let (dir, b, digest) = setup();
    let layout = p(&dir, "layout");
    b.ok(&[
        "save",
        "peer/busybox:1",
        "--format",
        "oci-dir",
        "-o",
        &layout,
    ]);

    let inspect = json(&run_ok(
        skopeo().args(["inspect", &format!("oci:{layout}:1")]),
    ));
    assert_eq!(inspect["Digest"], digest);
    assert_eq!(
        inspect["Architecture"],
        berth_oci::Platform::host().architecture
    );
    let raw = run_ok(skopeo().args(["inspect", "--raw", &format!("oci:{layout}:1")]));
    assert_eq!(Digest::sha256(raw.as_bytes()).to_string(), digest);

    let registry = Registry::start();
    let remote = format!("docker://{}/peer/busybox:1", registry.addr);
    run_ok(skopeo().args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{layout}:1"),
        &remote,
    ]));
    let pushed = run_ok(skopeo().args(["inspect", "--raw", "--tls-verify=false", &remote]));
    assert_eq!(
        Digest::sha256(pushed.as_bytes()).to_string(),
        digest,
        "the registry holds berth's exact manifest"
    );

    // And back: skopeo pulls into a layout, berth loads it with the same digest.
    let pulled = p(&dir, "pulled");
    run_ok(skopeo().args([
        "copy",
        "--src-tls-verify=false",
        &remote,
        &format!("oci:{pulled}:1"),
    ]));
    let b2 = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("root2"));
    let out = b2.ok(&["load", "-i", &pulled]);
    assert_eq!(out.trim(), format!("Loaded image ID: {digest}"));
    assert_eq!(json(&b2.ok(&["inspect", &digest]))[0]["Id"], digest);
}

#[test]
fn berth_reads_what_skopeo_writes_in_every_format() {
    let (dir, b, digest) = setup();
    let layout = p(&dir, "layout");
    b.ok(&[
        "save",
        "peer/busybox:1",
        "--format",
        "oci-dir",
        "-o",
        &layout,
    ]);
    let config = json(&b.ok(&["inspect", "peer/busybox:1"]))[0]["RootFS"].clone();
    let src = format!("oci:{layout}:1");

    let oci_archive = p(&dir, "skopeo-oci.tar");
    run_ok(skopeo().args([
        "copy",
        &src,
        &format!("oci-archive:{oci_archive}:docker.io/peer/busybox:1"),
    ]));
    let docker_archive = p(&dir, "skopeo-docker.tar");
    run_ok(skopeo().args([
        "copy",
        &src,
        &format!("docker-archive:{docker_archive}:peer/busybox:1"),
    ]));

    let b2 = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("root2"));
    assert_eq!(
        b2.ok(&["load", "-i", &oci_archive]).trim(),
        "Loaded image: peer/busybox:1"
    );
    assert_eq!(
        json(&b2.ok(&["inspect", "peer/busybox:1"]))[0]["Id"],
        digest
    );

    let b3 = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("root3"));
    assert_eq!(
        b3.ok(&["load", "-i", &docker_archive]).trim(),
        "Loaded image: peer/busybox:1"
    );
    let loaded = json(&b3.ok(&["inspect", "peer/busybox:1"]));
    assert_eq!(loaded[0]["RootFS"], config, "same layers by diff ID");
    assert_eq!(loaded[0]["Config"]["Cmd"][1], "hello from berth");
}

#[test]
fn umoci_unpacks_berths_layout_with_modes_owners_and_links() {
    require("umoci");
    let (dir, b, _) = setup();
    let layout = p(&dir, "layout");
    b.ok(&[
        "save",
        "peer/busybox:1",
        "--format",
        "oci-dir",
        "-o",
        &layout,
    ]);
    let bundle = dir.path().join("bundle");
    run_ok(Command::new("umoci").args([
        "unpack",
        "--image",
        &format!("{layout}:1"),
        &bundle.display().to_string(),
    ]));
    let root = bundle.join("rootfs");
    let meta =
        |rel: &str| fs::symlink_metadata(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));

    assert_eq!(
        fs::read(root.join("bin/busybox")).unwrap(),
        fs::read(test_support::busybox()).unwrap()
    );
    assert_eq!(meta("bin/busybox").mode() & 0o7777, 0o755);
    assert_eq!(meta("bin/suid").mode() & 0o7777, 0o4755);
    assert_eq!(meta("tmp").mode() & 0o7777, 0o1777);
    let data = meta("home/app/data");
    assert_eq!(
        (data.uid(), data.gid(), data.mode() & 0o7777),
        (1000, 1000, 0o640)
    );
    assert_eq!(
        (meta("home/app").uid(), meta("home/app").gid()),
        (1000, 1000)
    );
    assert_eq!(
        fs::read_link(root.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        meta("etc/motd").ino(),
        meta("etc/motd.hard").ino(),
        "hard link kept"
    );
    assert_eq!(
        fs::read_to_string(root.join("etc/motd")).unwrap(),
        "hello from berth\n"
    );
}

#[test]
fn podman_loads_and_runs_berths_archives_and_berth_loads_podmans() {
    let (dir, b, digest) = setup();
    let podman = Podman::new(&dir.path().join("podman"));
    let docker_archive = p(&dir, "image.tar");
    b.ok(&["save", "peer/busybox:1", "-o", &docker_archive]);
    let config_digest = {
        let Ok(berth_oci::Manifest::Image(m)) = berth_oci::Manifest::parse(
            &fs::read(b.root.join("blobs/sha256").join(&digest[7..])).unwrap(),
            None,
        ) else {
            panic!("an image manifest")
        };
        m.config.digest.to_string()
    };

    let out = run_ok(podman.command().args(["load", "-i", &docker_archive]));
    assert!(out.contains("docker.io/peer/busybox:1"), "{out}");
    let id = run_ok(podman.command().args([
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        "docker.io/peer/busybox:1",
    ]));
    assert_eq!(
        format!("sha256:{}", id.trim()),
        config_digest,
        "podman's image ID is berth's config digest"
    );
    assert_eq!(
        podman.run_image("docker.io/peer/busybox:1", &[]),
        "hello from berth\n"
    );

    // podman reads berth's OCI archive too.
    let oci_archive = p(&dir, "image-oci.tar");
    b.ok(&["tag", "peer/busybox:1", "peer/busybox:oci"]);
    b.ok(&[
        "save",
        "peer/busybox:oci",
        "--format",
        "oci",
        "-o",
        &oci_archive,
    ]);
    run_ok(podman.command().args(["load", "-i", &oci_archive]));
    assert_eq!(
        podman.run_image("docker.io/peer/busybox:oci", &["cat", "/etc/motd"]),
        "hello from berth\n"
    );

    // And berth reads what podman saves.
    let saved = p(&dir, "podman-saved.tar");
    run_ok(
        podman
            .command()
            .args(["save", "-o", &saved, "docker.io/peer/busybox:1"]),
    );
    let b2 = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("root2"));
    assert_eq!(
        b2.ok(&["load", "-i", &saved]).trim(),
        "Loaded image: peer/busybox:1"
    );
    let rootfs = json(&b2.ok(&["inspect", "peer/busybox:1"]))[0]["RootFS"].clone();
    assert_eq!(
        rootfs,
        json(&b.ok(&["inspect", "peer/busybox:1"]))[0]["RootFS"]
    );
}

#[test]
fn docker_loads_and_runs_berths_archive_and_berth_loads_dockers() {
    let (dir, b, digest) = setup();
    let archive = p(&dir, "image.tar");
    b.ok(&["save", "peer/busybox:1", "-o", &archive]);
    let dockerd = Dockerd::start();
    let out = run_ok(dockerd.command().args(["load", "-i", &archive]));
    assert_eq!(out.trim(), "Loaded image: peer/busybox:1");
    let out = run_ok(
        dockerd
            .command()
            .args(["run", "--rm", "--network=none", "peer/busybox:1"]),
    );
    assert_eq!(out, "hello from berth\n");
    let id = run_ok(
        dockerd
            .command()
            .args(["inspect", "--format", "{{.Id}}", "peer/busybox:1"]),
    );

    // docker save gives back what berth's own Docker archive loads as: the same image.
    let saved = p(&dir, "docker-saved.tar");
    run_ok(
        dockerd
            .command()
            .args(["save", "-o", &saved, "peer/busybox:1"]),
    );
    let b2 = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("root2"));
    b2.ok(&["load", "-i", &saved]);
    let b3 = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("root3"));
    b3.ok(&["load", "-i", &archive]);
    let via_docker = json(&b2.ok(&["inspect", "peer/busybox:1"]));
    let via_berth = json(&b3.ok(&["inspect", "peer/busybox:1"]));
    assert_eq!(via_docker[0]["Id"], via_berth[0]["Id"]);
    assert_ne!(
        via_docker[0]["Id"], digest,
        "Docker archives hold uncompressed layers"
    );
    let config = berth_oci::Manifest::parse(
        &fs::read(
            b2.root
                .join("blobs/sha256")
                .join(&via_docker[0]["Id"].as_str().unwrap()[7..]),
        )
        .unwrap(),
        None,
    )
    .unwrap();
    let berth_oci::Manifest::Image(m) = config else {
        panic!("an image manifest")
    };
    assert_eq!(
        m.config.digest.to_string(),
        id.trim(),
        "Docker's image ID is the config digest"
    );
}
