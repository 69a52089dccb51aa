//! `berth build` against Dockerfiles and contexts written to break it: deep directory trees,
//! configs too large for any tool to read back, and file names that are not UTF-8 (copied
//! byte for byte). Each is built, or refused with an error naming the cause; never a crash
//! or a silent drop.
//!
//! Needs root (namespaces, overlay mounts), as CI runs it.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use test_support::Berth;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn berth(&self) -> Berth {
        Berth::new(env!("CARGO_BIN_EXE_berth"), &self.path("store"))
    }

    /// A context directory holding only this Dockerfile.
    fn dockerfile(&self, name: &str, text: &str) -> PathBuf {
        let dir = self.path(name);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("Dockerfile"), text).unwrap();
        dir
    }
}

/// 40,000 labels make a config above the 4 MiB every tool reads configs under: the build
/// refuses to write it, naming the labels, instead of storing an image that `inspect`,
/// `history` and `save` then refuse.
#[test]
fn a_config_larger_than_any_tool_reads_is_refused_when_written() {
    let env = Env::new();
    let b = env.berth();
    let mut text = String::from("FROM scratch\nLABEL");
    for i in 0..40_000 {
        write!(text, " \\\n  label.{i:05}={}", "v".repeat(100)).unwrap();
    }
    text.push('\n');
    let context = env.dockerfile("labels", &text);
    let err = b.fails(&["build", "-t", "labels", context.to_str().unwrap()]);
    assert!(err.contains("above the 4 MiB limit"), "{err}");
    assert!(err.contains("40000 LABELs take "), "{err}");
    assert_eq!(b.ok(&["images", "-q"]).trim(), "", "nothing is tagged");

    // Under the limit (the LABEL line is in the history too: twice the labels) is written,
    // and reads back.
    let mut text = String::from("FROM scratch\nLABEL");
    for i in 0..15_000 {
        write!(text, " \\\n  label.{i:05}={}", "v".repeat(100)).unwrap();
    }
    text.push('\n');
    let context = env.dockerfile("fewer", &text);
    b.ok(&["build", "-t", "fewer", context.to_str().unwrap()]);
    b.ok(&["inspect", "fewer"]);
    b.ok(&["history", "fewer"]);
    b.ok(&[
        "save",
        "-o",
        env.path("fewer.tar").to_str().unwrap(),
        "fewer",
    ]);
}

/// An OCI layout whose one image has a 5 MiB config: `load` (the same copy as `pull`) refuses it
/// by the same limit, so the store never holds an image it could not read back.
#[test]
fn a_config_past_the_limit_is_refused_when_loaded() {
    use sha2::{Digest as _, Sha256};
    let env = Env::new();
    let b = env.berth();
    let dir = env.path("layout");
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let hex = format!("{:x}", Sha256::digest(bytes));
        fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
        "config": {"Labels": {"big": "x".repeat(5 << 20)}},
    });
    let (cd, cn) = put(config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
        "layers": [],
    });
    let (md, mn) = put(manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
            "annotations": {"io.containerd.image.name": "docker.io/library/big:latest"},
        }],
    });
    fs::write(dir.join("index.json"), index.to_string()).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let err = b.fails(&["load", "-q", "-i", dir.to_str().unwrap()]);
    assert!(err.contains(&format!("the config {cd}")), "{err}");
    assert!(err.contains("above the 4 MiB limit"), "{err}");
    b.assert_nothing_kept();
}

/// How deep the trees of the deep-tree test go: BuildKit builds a 2,000-level tree, so berth
/// must too (whatever walks it: context, COPY, snapshot diff, layer write, apply).
const DEEP: usize = 2000;

/// `d/d/…/d` (`DEEP` levels): 3,999 bytes, just under `PATH_MAX` with a short prefix.
fn deep_path() -> String {
    vec!["d"; DEEP].join("/")
}

/// Makes `DEEP` nested directories `d` under `dir` with a file `leaf` holding `content` at the
/// bottom, one relative `cd` at a time (the whole host path is longer than `PATH_MAX`).
fn deep_tree(dir: &std::path::Path, content: &str) {
    fs::create_dir_all(dir).unwrap();
    let script = format!(
        "i=0; while [ $i -lt {DEEP} ]; do mkdir d && cd d || exit 1; i=$((i+1)); done; echo {content} > leaf"
    );
    test_support::run_ok(
        std::process::Command::new(test_support::busybox())
            .args(["sh", "-c", &script])
            .current_dir(dir),
    );
}

/// A 2,000-level tree from the context and one made by `RUN mkdir -p` build, save, load into
/// another store and are applied there as the base of another build; `import` takes one too.
#[test]
fn a_two_thousand_level_tree_builds_saves_loads_and_applies() {
    let env = Env::new();
    let b = env.berth();
    let rootfs = env.path("rootfs");
    test_support::busybox_rootfs(&rootfs);
    b.ok(&["import", rootfs.to_str().unwrap(), "busybox"]);

    let deep = deep_path();
    let context = env.dockerfile(
        "deep",
        &format!(
            "FROM busybox\n\
             COPY ctx /ctx/\n\
             RUN /bin/busybox mkdir -p /made/{deep} && echo made > /made/{deep}/leaf\n\
             RUN cat /ctx/{deep}/leaf /made/{deep}/leaf > /both\n"
        ),
    );
    deep_tree(&context.join("ctx"), "context");
    b.ok(&["build", "-t", "deep", context.to_str().unwrap()]);

    // Saved and loaded into another store; pushed to a registry, pulled into a third store and
    // applied there under a RUN.
    let archive = env.path("deep.tar");
    b.ok(&["save", "-o", archive.to_str().unwrap(), "deep"]);
    let loaded = Berth::new(env!("CARGO_BIN_EXE_berth"), &env.path("loaded"));
    loaded.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
    loaded.ok(&["fsck"]);
    let registry = test_support::BerthRegistry::start(
        env!("CARGO_BIN_EXE_berth"),
        &env.path("registry"),
        None,
    );
    let remote = format!("{}/deep:1", registry.addr);
    b.ok(&["push", "-q", "deep", &remote]);
    let other = Berth::new(env!("CARGO_BIN_EXE_berth"), &env.path("other"));
    other.ok(&["pull", "-q", &remote]);
    other.ok(&["tag", &remote, "deep"]);
    let check = env.dockerfile(
        "check",
        &format!(
            "FROM deep\n\
             RUN test \"$(cat /both /ctx/{deep}/leaf /made/{deep}/leaf)\" = \"$(printf 'context\\nmade\\ncontext\\nmade')\"\n"
        ),
    );
    other.ok(&["build", "-t", "checked", check.to_str().unwrap()]);
    // The copy snapshotter merges the deep layers into a plain directory, and `-o` copies the
    // image's files out.
    let out = env.path("out");
    let copied = other
        .command()
        .env("BERTH_SNAPSHOTTER", "copy")
        .args(["build", "-q", "--no-cache", "-o", out.to_str().unwrap()])
        .arg(&check)
        .output()
        .unwrap();
    assert!(
        copied.status.success(),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    assert!(out.join("both").is_file());
    other.ok(&["fsck"]);

    // Imported as a root file system.
    b.ok(&[
        "import",
        context.join("ctx").to_str().unwrap(),
        "deep-import",
    ]);
}

/// Names are bytes on Linux, and berth copies them byte for byte, as BuildKit does: a context
/// file, directory, symlink and hard link whose names are not UTF-8 (and a symlink target)
/// go through `COPY .`, and a RUN makes more, on both snapshotters; the image saved and
/// loaded into another store and built FROM there keeps every byte; `.dockerignore`
/// excludes such a name with a pattern that matches it.
#[test]
fn names_that_are_not_utf8_round_trip_byte_for_byte() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use test_support::tree::Tree;
    let env = Env::new();
    let b = env.berth();
    let rootfs = env.path("rootfs");
    test_support::busybox_rootfs(&rootfs);
    b.ok(&["import", rootfs.to_str().unwrap(), "busybox"]);

    let context = env.dockerfile(
        "ctx",
        "FROM busybox\nCOPY . /ctx/\n\
         RUN echo made > \"/ctx/$(printf 'made\\377\\376')\"\n",
    );
    let at = |name: &[u8]| context.join(OsStr::from_bytes(name));
    fs::write(at(b"bad\xff\xfe"), "bad\n").unwrap();
    fs::create_dir(at(b"dir\xff")).unwrap();
    fs::write(at(b"dir\xff/in\xfe"), "in\n").unwrap();
    fs::hard_link(at(b"dir\xff/in\xfe"), at(b"hard\xfc")).unwrap();
    std::os::unix::fs::symlink(OsStr::from_bytes(b"bad\xff\xfe"), at(b"link\xfd")).unwrap();
    fs::write(at(b"skip\xff"), "skip\n").unwrap();
    fs::write(context.join(".dockerignore"), "skip?\n").unwrap();

    let out = |name: &str, snapshotter: &str| {
        let dir = env.path(name);
        let built = b
            .command()
            .env("BERTH_SNAPSHOTTER", snapshotter)
            .args(["build", "-q", "--no-cache", "-o", dir.to_str().unwrap()])
            .arg(&context)
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "{snapshotter}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        Tree::snapshot(&dir.join("ctx")).unwrap()
    };
    let overlay = out("out-overlay", "overlay");
    let copy = out("out-copy", "copy");
    assert_eq!(
        test_support::tree::diff("overlay", &overlay, "copy", &copy),
        Vec::<String>::new()
    );
    for name in [
        &b"bad\xff\xfe"[..],
        b"dir\xff/in\xfe",
        b"hard\xfc",
        b"made\xff\xfe",
    ] {
        assert!(
            overlay.get(OsStr::from_bytes(name)).is_some(),
            "{}",
            overlay.render()
        );
    }
    assert!(overlay.get(OsStr::from_bytes(b"skip\xff")).is_none());
    let hard = [
        OsStr::from_bytes(b"dir\xff/in\xfe"),
        OsStr::from_bytes(b"hard\xfc"),
    ];
    assert!(
        overlay
            .hardlinks
            .contains(&hard.into_iter().map(OsStr::to_owned).collect::<Vec<_>>())
    );

    b.ok(&["build", "-q", "-t", "names", context.to_str().unwrap()]);
    let archive = env.path("names.tar");
    b.ok(&["save", "-o", archive.to_str().unwrap(), "names"]);
    let loaded = Berth::new(env!("CARGO_BIN_EXE_berth"), &env.path("loaded"));
    loaded.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
    loaded.ok(&["fsck"]);
    let check = env.dockerfile(
        "check",
        "FROM names\n\
         RUN test \"$(cat /ctx/bad?? /ctx/link? /ctx/hard? /ctx/made??)\" = \"$(printf 'bad\\nbad\\nin\\nmade')\"\n",
    );
    let back = env.path("out-loaded");
    loaded.ok(&[
        "build",
        "-q",
        "-o",
        back.to_str().unwrap(),
        check.to_str().unwrap(),
    ]);
    let back = Tree::snapshot(&back.join("ctx")).unwrap();
    assert_eq!(
        test_support::tree::diff("built", &overlay, "loaded", &back),
        Vec::<String>::new()
    );
}

/// How wide the wide-tree test goes: more directories than the open-file limit it runs under.
const WIDE: usize = 600;

/// A context and a `RUN` with 600 sibling directories build under a 256 open-file limit, on
/// both snapshotters: every walk holds a descriptor per level, never one per directory.
#[test]
fn a_wide_tree_builds_within_a_small_open_file_limit() {
    let env = Env::new();
    let b = env.berth();
    let rootfs = env.path("rootfs");
    test_support::busybox_rootfs(&rootfs);
    b.ok(&["import", rootfs.to_str().unwrap(), "busybox"]);
    let context = env.dockerfile(
        "wide",
        &format!(
            "FROM busybox\n\
             COPY wide /wide/\n\
             RUN cd /tmp && set -- && i=0 && while [ $i -lt {WIDE} ]; do set -- \"$@\" made$i; i=$((i+1)); done && /bin/busybox mkdir \"$@\"\n"
        ),
    );
    for i in 0..WIDE {
        let dir = context.join("wide").join(format!("d{i}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("f"), "f").unwrap();
    }
    for snapshotter in ["overlay", "copy"] {
        // berth as the test harness runs it, under prlimit (util-linux).
        let berth = b.command();
        let mut limited = std::process::Command::new("prlimit");
        limited
            .arg("--nofile=256:256")
            .arg(berth.get_program())
            .args(berth.get_args());
        for (key, value) in berth.get_envs() {
            match value {
                Some(value) => limited.env(key, value),
                None => limited.env_remove(key),
            };
        }
        let out = limited
            .env("BERTH_SNAPSHOTTER", snapshotter)
            .args(["build", "-q", "--no-cache", "-t", "wide"])
            .arg(&context)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{snapshotter}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
