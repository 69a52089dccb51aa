//! The berth CLI end to end: import, images, tag, inspect, history, rmi, gc, and how it fails.

use std::fs;

use test_support::{Berth, busybox_rootfs, json};

fn berth(dir: &tempfile::TempDir) -> Berth {
    Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("root"))
}

fn rootfs(dir: &tempfile::TempDir) -> String {
    let rootfs = dir.path().join("rootfs");
    busybox_rootfs(&rootfs);
    rootfs.display().to_string()
}

#[test]
fn import_inspect_history_and_images() {
    let dir = tempfile::tempdir().unwrap();
    let b = berth(&dir);
    let rootfs = rootfs(&dir);
    let digest = b
        .ok(&[
            "import",
            &rootfs,
            "busybox:1",
            "--platform",
            "linux/arm64",
            "--change",
            r#"CMD ["echo", "hi"]"#,
            "-c",
            "ENV PATH=/bin",
            "-c",
            "USER 1000:1000",
            "-c",
            "EXPOSE 8080",
            "--message",
            "base image",
        ])
        .trim()
        .to_string();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );

    let inspect = json(&b.ok(&["inspect", "busybox:1"]));
    let img = &inspect[0];
    assert_eq!(img["Id"], digest);
    assert_eq!(img["RepoTags"][0], "busybox:1");
    assert_eq!(img["RepoDigests"][0], format!("busybox@{digest}"));
    assert_eq!(img["Architecture"], "arm64");
    assert_eq!(img["Variant"], "v8");
    assert_eq!(img["Os"], "linux");
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["echo", "hi"]));
    assert_eq!(img["Config"]["Env"][0], "PATH=/bin");
    assert_eq!(img["Config"]["User"], "1000:1000");
    assert!(img["Config"]["ExposedPorts"]["8080/tcp"].is_object());
    assert_eq!(img["Comment"], "base image");
    assert_eq!(img["RootFS"]["Type"], "layers");
    assert_eq!(img["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    let size = img["Size"].as_u64().unwrap();
    let busybox_len = fs::metadata(test_support::busybox()).unwrap().len();
    assert!(
        size > busybox_len,
        "uncompressed size {size} holds busybox ({busybox_len})"
    );

    // The same image by ID prefix, by full digest and by name@digest.
    let short = &digest[7..19];
    for name in [short, digest.as_str(), &format!("busybox@{digest}")] {
        assert_eq!(json(&b.ok(&["inspect", name]))[0]["Id"], digest, "{name}");
    }

    let history = b.ok(&["history", "busybox:1"]);
    let lines: Vec<&str> = history.lines().collect();
    assert!(lines[0].starts_with("IMAGE"), "{history}");
    assert!(
        lines[1].starts_with(short) && lines[1].contains("berth import"),
        "{history}"
    );
    assert!(lines[1].contains("base image"), "{history}");

    let images = b.ok(&["images"]);
    assert!(
        images
            .lines()
            .any(|l| l.starts_with("busybox") && l.contains(short)),
        "{images}"
    );
    assert_eq!(b.ok(&["images", "-q"]).trim(), short);
    assert_eq!(b.ok(&["images", "-q", "--no-trunc"]).trim(), digest);
    let row = json(
        b.ok(&["images", "--format", "json"])
            .lines()
            .next()
            .unwrap(),
    );
    assert_eq!(row["Repository"], "busybox");
    assert_eq!(row["Tag"], "1");
    assert_eq!(row["Digest"], digest);
}

/// `--change` and a Dockerfile line are one grammar applied by one piece of code: the same
/// metadata instructions give the same config whether `berth build` or `berth import` applies
/// them.
#[test]
fn import_changes_make_the_config_a_build_makes() {
    let dir = tempfile::tempdir().unwrap();
    let b = berth(&dir);
    let rootfs = rootfs(&dir);
    let lines = [
        "ENV PATH=/bin A=1",
        "ENV B=${A}-$PATH C=${UNSET:-fallback}",
        r#"CMD ["sh", "-c", "echo $B"]"#,
        "ENTRYPOINT /bin/run --fast",
        "USER 1000:1000",
        "WORKDIR app",
        "EXPOSE 8000-8001/udp 80",
        r#"LABEL org.example.name="my app""#,
        "VOLUME /data",
        "STOPSIGNAL SIGINT",
        "ONBUILD run make",
    ];
    b.ok(&["import", "-q", &rootfs, "base"]);
    let context = dir.path().join("context");
    fs::create_dir_all(&context).unwrap();
    fs::write(
        context.join("Dockerfile"),
        format!("FROM base\n{}\n", lines.join("\n")),
    )
    .unwrap();
    b.ok(&["build", "-q", "-t", "built", context.to_str().unwrap()]);
    let mut import = vec!["import", "-q", rootfs.as_str(), "imported"];
    for line in &lines {
        import.extend(["--change", line]);
    }
    b.ok(&import);

    let config = |name: &str| json(&b.ok(&["inspect", name]))[0]["Config"].clone();
    let built = config("built");
    assert_eq!(built["Env"][1], "A=1", "{built}");
    assert_eq!(built["WorkingDir"], "/app", "{built}");
    assert_eq!(config("imported"), built);
}

#[test]
fn tag_rmi_and_gc() {
    let dir = tempfile::tempdir().unwrap();
    let b = berth(&dir);
    let rootfs = rootfs(&dir);
    let digest = b.ok(&["import", "-q", &rootfs, "a:1"]).trim().to_string();
    b.ok(&["tag", "a:1", "localhost:5000/team/a:2"]);
    let tags = json(&b.ok(&["inspect", &digest]))[0]["RepoTags"].clone();
    assert_eq!(tags, serde_json::json!(["a:1", "localhost:5000/team/a:2"]));

    // Removing by ID while two names point at it needs --force.
    let err = b.fails(&["rmi", &digest[7..19]]);
    assert!(err.contains("2 names point at it"), "{err}");

    let out = b.ok(&["rmi", "a:1"]);
    assert_eq!(out.trim(), "Untagged: a:1");
    let out = b.ok(&["rmi", "localhost:5000/team/a:2"]);
    assert!(
        out.contains("Untagged: localhost:5000/team/a:2")
            && out.contains(&format!("Deleted: {digest}")),
        "{out}"
    );
    assert_eq!(b.ok(&["images", "-q"]), "");
    // rmi freed the blobs at once: nothing is left for gc.
    let blobs = fs::read_dir(b.root.join("blobs/sha256")).unwrap().count();
    assert_eq!(blobs, 0);
    assert!(b.ok(&["gc"]).starts_with("Removed 0 blobs"));
    b.fails(&["inspect", "a:1"]);
}

#[test]
fn gc_removes_only_what_no_image_uses() {
    let dir = tempfile::tempdir().unwrap();
    let b = berth(&dir);
    let rootfs = rootfs(&dir);
    b.ok(&["import", "-q", &rootfs, "keep:1"]);
    // A stray blob and a leftover partial file, as a killed writer would leave.
    fs::write(
        b.root
            .join("blobs/sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        "",
    )
    .unwrap();
    fs::write(b.root.join("ingest/.berth-1-2-3.partial"), "half").unwrap();
    let out = b.ok(&["gc"]);
    assert!(out.starts_with("Removed 1 blobs"), "{out}");
    assert!(out.contains("cleared 1 partial files"), "{out}");
    b.ok(&["inspect", "keep:1"]);
    assert!(b.ok(&["fsck"]).contains("all good"));
}

#[test]
fn global_flags_go_before_or_after_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("r").display().to_string();
    let bin = env!("CARGO_BIN_EXE_berth");
    for args in [
        vec!["--root", &root, "--log-level", "debug", "images"],
        vec!["images", "--root", &root, "--log-level", "error"],
        vec!["--log-level", "info", "images", "--root", &root],
    ] {
        let out = std::process::Command::new(bin)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("REPOSITORY"));
    }
    assert!(dir.path().join("r/berth.db").is_file());

    // $BERTH_ROOT is the default root.
    let env_root = dir.path().join("env-root");
    let out = std::process::Command::new(bin)
        .arg("images")
        .env("BERTH_ROOT", &env_root)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(env_root.join("berth.db").is_file());
}

#[test]
fn bad_input_gets_one_line_naming_the_cause_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let b = berth(&dir);
    let rootfs = rootfs(&dir);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["inspect", "UPPER/X"], "must be lowercase"),
        (vec!["inspect", "nosuch:1"], "no such image: nosuch:1"),
        (vec!["tag", "nosuch", "x"], "no such image"),
        (vec!["import", &rootfs, "x:"], "tag \"\" is empty"),
        (
            vec![
                "import",
                &rootfs,
                "x@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ],
            "by digest",
        ),
        (vec!["import", "/no/such/dir", "x"], "/no/such/dir"),
        (
            vec!["import", &rootfs, "x", "--change", "RUN rm -rf /"],
            "RUN can't be applied",
        ),
        (
            vec!["import", &rootfs, "x", "--platform", "linux/"],
            "invalid platform",
        ),
        (
            vec!["load", "-i", "/no/such/archive.tar"],
            "/no/such/archive.tar",
        ),
        (
            vec!["save", "nosuch", "-o", "/tmp/x.tar"],
            "no such image: nosuch",
        ),
        (vec!["images", "--bogus"], "--bogus"),
        (vec!["frobnicate"], "frobnicate"),
        (vec!["--log-level", "loud", "images"], "loud"),
    ];
    for (args, want) in cases {
        let err = b.fails(&args);
        assert!(err.starts_with("berth: "), "{args:?}: {err}");
        assert!(
            err.contains(want),
            "{args:?}: {err:?} should mention {want:?}"
        );
    }
    // A bad import leaves no image behind.
    assert_eq!(b.ok(&["images", "-q"]), "");
    assert!(!std::path::Path::new("/tmp/x.tar").exists());
}

#[test]
fn help_and_version_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let b = berth(&dir);
    assert!(b.ok(&["--help"]).contains("import"));
    assert!(b.ok(&["--version"]).starts_with("berth "));
    assert!(b.ok(&["save", "--help"]).contains("--format"));
}

#[test]
fn a_closed_standard_output_ends_berth_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let b = berth(&dir);
    b.ok(&["import", "-q", &rootfs(&dir), "busybox"]);
    // The reader is gone before berth writes a byte, as with `berth inspect busybox | true`.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = b
        .command()
        .args(["inspect", "busybox"])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
}
