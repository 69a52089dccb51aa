//! Moving images between the store, OCI layouts, OCI archives and Docker archives: digests kept
//! where the format allows, and damaged content refused without a trace.

use std::fs;
use std::path::{Path, PathBuf};

use berth_oci::{Descriptor, Digest, ImageIndex, ImageManifest, Manifest, Platform, media_type};
use test_support::{Berth, busybox_rootfs, json};

struct Env {
    dir: tempfile::TempDir,
    n: std::cell::Cell<usize>,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            n: std::cell::Cell::new(0),
        }
    }

    /// A berth with a fresh, empty store.
    fn berth(&self) -> Berth {
        self.n.set(self.n.get() + 1);
        Berth::new(
            env!("CARGO_BIN_EXE_berth"),
            &self.dir.path().join(format!("store{}", self.n.get())),
        )
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn rootfs(&self) -> String {
        let p = self.path("rootfs");
        if !p.exists() {
            busybox_rootfs(&p);
        }
        p.display().to_string()
    }
}

fn id(b: &Berth, name: &str) -> String {
    json(&b.ok(&["inspect", name]))[0]["Id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let d = Digest::parse(digest).unwrap();
    fs::read(layout.join("blobs/sha256").join(d.hex())).unwrap()
}

fn store_blob(b: &Berth, digest: &str) -> Vec<u8> {
    blob(&b.root, digest)
}

#[test]
fn round_trip_store_layout_oci_archive_docker_archive_store() {
    let env = Env::new();
    let b1 = env.berth();
    let d = b1
        .ok(&["import", "-q", &env.rootfs(), "rt:1", "-c", "CMD [\"sh\"]"])
        .trim()
        .to_string();
    let original = store_blob(&b1, &d);
    let Manifest::Image(m) = Manifest::parse(&original, None).unwrap() else {
        panic!()
    };
    let config_digest = m.config.digest.to_string();

    // store → OCI layout: the same manifest bytes, named in index.json.
    b1.ok(&[
        "save",
        "rt:1",
        "--format",
        "oci-dir",
        "-o",
        &env.s("layout"),
    ]);
    assert_eq!(blob(&env.path("layout"), &d), original);
    let index = json(&fs::read_to_string(env.path("layout/index.json")).unwrap());
    assert_eq!(index["manifests"][0]["digest"], d);
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "1"
    );
    assert_eq!(
        index["manifests"][0]["annotations"]["io.containerd.image.name"],
        "docker.io/library/rt:1"
    );

    // OCI layout → store → OCI archive → store: the digest never changes.
    let b2 = env.berth();
    assert_eq!(
        b2.ok(&["load", "-i", &env.s("layout")]).trim(),
        "Loaded image: rt:1"
    );
    assert_eq!(id(&b2, "rt:1"), d);
    b2.ok(&["save", "rt:1", "--format", "oci", "-o", &env.s("oci.tar")]);
    let b3 = env.berth();
    b3.ok(&["load", "-i", &env.s("oci.tar")]);
    assert_eq!(id(&b3, "rt:1"), d);
    assert_eq!(store_blob(&b3, &d), original);

    // → Docker archive → store: layers are stored uncompressed there, so the manifest is new,
    // but exactly the one expected: same config (Docker's image ID), layers by diff ID.
    b3.ok(&["save", "rt:1", "-o", &env.s("docker.tar")]);
    let b4 = env.berth();
    b4.ok(&["load", "-i", &env.s("docker.tar")]);
    let config = store_blob(&b4, &config_digest);
    let diff_id = json(&String::from_utf8(config.clone()).unwrap())["rootfs"]["diff_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let uncompressed = store_blob(&b4, &diff_id);
    let expected = ImageManifest::new(
        Descriptor::of_bytes(media_type::OCI_CONFIG, &config),
        vec![Descriptor::of_bytes(media_type::OCI_LAYER, &uncompressed)],
    );
    let expected = Digest::sha256(&expected.to_bytes()).to_string();
    assert_ne!(expected, d);
    assert_eq!(id(&b4, "rt:1"), expected);
    assert_eq!(
        json(&b4.ok(&["inspect", "rt:1"]))[0]["Config"]["Cmd"][0],
        "sh"
    );

    // A Docker archive round trip is a fixed point, and saving is deterministic.
    b4.ok(&["save", "rt:1", "-o", &env.s("docker2.tar")]);
    b4.ok(&["save", "rt:1", "-o", &env.s("docker3.tar")]);
    assert_eq!(
        fs::read(env.path("docker2.tar")).unwrap(),
        fs::read(env.path("docker3.tar")).unwrap()
    );
    assert_eq!(
        fs::read(env.path("docker.tar")).unwrap(),
        fs::read(env.path("docker2.tar")).unwrap()
    );
    let b5 = env.berth();
    b5.ok(&["load", "-i", &env.s("docker2.tar")]);
    assert_eq!(id(&b5, "rt:1"), expected);
}

#[test]
fn several_images_and_names_in_one_archive() {
    let env = Env::new();
    let b = env.berth();
    let rootfs = env.rootfs();
    let a = b
        .ok(&["import", "-q", &rootfs, "a:1", "-c", "CMD [\"a\"]"])
        .trim()
        .to_string();
    let c = b
        .ok(&["import", "-q", &rootfs, "c:1", "-c", "CMD [\"c\"]"])
        .trim()
        .to_string();
    b.ok(&["tag", "a:1", "localhost:5000/a:latest"]);
    for format in ["docker", "oci", "oci-dir"] {
        let out = env.s(&format!("multi-{format}"));
        b.ok(&[
            "save",
            "a:1",
            "localhost:5000/a",
            "c:1",
            "--format",
            format,
            "-o",
            &out,
        ]);
        let b2 = env.berth();
        let loaded = b2.ok(&["load", "-i", &out]);
        for name in ["a:1", "localhost:5000/a:latest", "c:1"] {
            assert!(
                loaded.contains(&format!("Loaded image: {name}\n")),
                "{format}: {loaded}"
            );
        }
        if format != "docker" {
            assert_eq!(id(&b2, "a:1"), a);
            assert_eq!(id(&b2, "c:1"), c);
        }
        assert_eq!(id(&b2, "a:1"), id(&b2, "localhost:5000/a"));
    }
}

/// Builds a two-platform index in an OCI layout from two imported images.
fn two_platform_layout(env: &Env) -> (PathBuf, String, String, String) {
    let b = env.berth();
    let rootfs = env.rootfs();
    let amd = b
        .ok(&[
            "import",
            "-q",
            &rootfs,
            "p:amd",
            "--platform",
            "linux/amd64",
        ])
        .trim()
        .to_string();
    let arm = b
        .ok(&[
            "import",
            "-q",
            &rootfs,
            "p:arm",
            "--platform",
            "linux/arm64/v8",
        ])
        .trim()
        .to_string();
    let layout = env.path("multi");
    b.ok(&[
        "save",
        "p:amd",
        "p:arm",
        "--format",
        "oci-dir",
        "-o",
        &layout.display().to_string(),
    ]);
    let child = |digest: &str, p: &str| {
        let bytes = blob(&layout, digest);
        let mut d = Descriptor::of_bytes(media_type::OCI_MANIFEST, &bytes);
        d.platform = Some(Platform::parse(p).unwrap());
        d
    };
    let index = ImageIndex::new(vec![
        child(&amd, "linux/amd64"),
        child(&arm, "linux/arm64/v8"),
    ]);
    let bytes = index.to_bytes();
    let digest = Digest::sha256(&bytes);
    fs::write(layout.join("blobs/sha256").join(digest.hex()), &bytes).unwrap();
    let mut entry = Descriptor::of_bytes(media_type::OCI_INDEX, &bytes);
    entry.set_annotation("io.containerd.image.name", "docker.io/library/multi:1");
    entry.set_annotation("org.opencontainers.image.ref.name", "1");
    fs::write(
        layout.join("index.json"),
        ImageIndex::new(vec![entry]).to_bytes(),
    )
    .unwrap();
    (layout, digest.to_string(), amd, arm)
}

#[test]
fn multi_platform_indexes_are_kept_or_narrowed() {
    let env = Env::new();
    let (layout, index, amd, arm) = two_platform_layout(&env);
    let b = env.berth();
    b.ok(&["load", "-i", &layout.display().to_string()]);
    assert_eq!(id(&b, "multi:1"), index);
    let arm_view = json(&b.ok(&["inspect", "multi:1", "--platform", "linux/arm64"]));
    assert_eq!(arm_view[0]["Architecture"], "arm64");
    assert_eq!(arm_view[0]["Descriptor"]["digest"], arm);
    let err = b.fails(&["inspect", "multi:1", "--platform", "linux/s390x"]);
    assert!(
        err.contains("no image for linux/s390x") && err.contains("linux/arm64/v8"),
        "{err}"
    );

    // OCI keeps the whole index; --platform narrows it to one image.
    b.ok(&[
        "save",
        "multi:1",
        "--format",
        "oci",
        "-o",
        &env.s("all.tar"),
    ]);
    let b2 = env.berth();
    b2.ok(&["load", "-i", &env.s("all.tar")]);
    assert_eq!(id(&b2, "multi:1"), index);
    b.ok(&[
        "save",
        "multi:1",
        "--format",
        "oci",
        "--platform",
        "linux/arm64",
        "-o",
        &env.s("arm.tar"),
    ]);
    let b3 = env.berth();
    b3.ok(&["load", "-i", &env.s("arm.tar")]);
    assert_eq!(id(&b3, "multi:1"), arm);

    // A Docker archive can't hold an index: it gets the host's image, or the one asked for.
    b.ok(&[
        "save",
        "multi:1",
        "--platform",
        "linux/amd64",
        "-o",
        &env.s("d.tar"),
    ]);
    let b4 = env.berth();
    b4.ok(&["load", "-i", &env.s("d.tar")]);
    assert_eq!(
        json(&b4.ok(&["inspect", "multi:1"]))[0]["Architecture"],
        "amd64"
    );
    let _ = amd;
}

#[test]
fn an_index_saved_with_only_some_platforms_loads_the_hosts() {
    let env = Env::new();
    let (layout, _, amd, arm) = two_platform_layout(&env);
    // Docker and containerd save indexes listing platforms they never pulled.
    let host_is_arm = Platform::host().architecture == "arm64";
    let (kept, dropped) = if host_is_arm { (arm, amd) } else { (amd, arm) };
    fs::remove_file(layout.join("blobs/sha256").join(&dropped[7..])).unwrap();
    let b = env.berth();
    let out = b
        .command()
        .args(["load", "-i", &layout.display().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("berth: warning:") && stderr.contains(&dropped),
        "{stderr}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Loaded image: multi:1"
    );
    assert_eq!(id(&b, "multi:1"), kept);
    assert!(b.ok(&["fsck"]).contains("all good"));
}

/// Damages a layout: truncates or alters the largest blob (the layer).
fn damage(layout: &Path, truncate: bool) -> String {
    let dir = layout.join("blobs/sha256");
    let (path, _) = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let len = fs::metadata(&p).unwrap().len();
            (p, len)
        })
        .max_by_key(|(_, len)| *len)
        .unwrap();
    let mut bytes = fs::read(&path).unwrap();
    if truncate {
        bytes.truncate(bytes.len() / 2);
    } else {
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
    }
    fs::write(&path, bytes).unwrap();
    format!("sha256:{}", path.file_name().unwrap().to_str().unwrap())
}

fn assert_nothing_loaded(b: &Berth) {
    assert_eq!(
        b.ok(&["images", "-q"]),
        "",
        "nothing may be tagged or listed"
    );
    assert!(b.ok(&["fsck"]).contains("all good"));
    let blobs: Vec<_> = fs::read_dir(b.root.join("blobs/sha256"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    // Blobs that did arrive whole may stay until gc, but each matches its name (fsck above).
    let _ = blobs;
}

#[test]
fn damaged_blobs_are_refused_naming_the_digest() {
    let env = Env::new();
    let b = env.berth();
    b.ok(&["import", "-q", &env.rootfs(), "dmg:1"]);
    for (i, truncate) in [true, false].into_iter().enumerate() {
        let layout = env.path(&format!("layout{i}"));
        b.ok(&[
            "save",
            "dmg:1",
            "--format",
            "oci-dir",
            "-o",
            &layout.display().to_string(),
        ]);
        let digest = damage(&layout, truncate);
        let b2 = env.berth();
        let err = b2.fails(&["load", "-i", &layout.display().to_string()]);
        assert!(err.contains(&digest), "{err}");
        assert!(
            err.contains(if truncate { "bytes, but" } else { "corrupt" }),
            "{err}"
        );
        assert_nothing_loaded(&b2);

        // The same damage inside an OCI archive.
        let archive = env.path(&format!("damaged{i}.tar"));
        let tar = std::process::Command::new("tar")
            .args([
                "-C",
                &layout.display().to_string(),
                "-cf",
                &archive.display().to_string(),
                ".",
            ])
            .status()
            .unwrap();
        assert!(tar.success());
        let b3 = env.berth();
        let err = b3.fails(&["load", "-i", &archive.display().to_string()]);
        assert!(err.contains(&digest), "{err}");
        assert_nothing_loaded(&b3);
    }
}

#[test]
fn a_damaged_docker_archive_layer_is_refused() {
    let env = Env::new();
    let b = env.berth();
    b.ok(&["import", "-q", &env.rootfs(), "dmg:1"]);
    b.ok(&["save", "dmg:1", "-o", &env.s("d.tar")]);
    let x = env.path("x");
    fs::create_dir(&x).unwrap();
    assert!(
        std::process::Command::new("tar")
            .args(["-C", &x.display().to_string(), "-xf", &env.s("d.tar")])
            .status()
            .unwrap()
            .success()
    );
    let layer = fs::read_dir(&x)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "tar"))
        .unwrap();
    let mut bytes = fs::read(&layer).unwrap();
    bytes[600] ^= 1;
    fs::write(&layer, bytes).unwrap();
    let digest = format!("sha256:{}", layer.file_stem().unwrap().to_str().unwrap());
    // Loaded as a directory and as a re-made archive.
    let b2 = env.berth();
    let err = b2.fails(&["load", "-i", &x.display().to_string()]);
    assert!(err.contains(&digest) && err.contains("corrupt"), "{err}");
    assert_nothing_loaded(&b2);
}

#[test]
fn a_failed_save_leaves_no_file() {
    let env = Env::new();
    let b = env.berth();
    b.ok(&["import", "-q", &env.rootfs(), "s:1"]);
    // Damage the store's layer: every format must refuse it and leave nothing at the target.
    let layer = fs::read_dir(b.root.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = fs::read(&layer).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&layer, bytes).unwrap();
    for format in ["docker", "oci", "oci-dir"] {
        let out = env.path(&format!("out-{format}"));
        let err = b.fails(&[
            "save",
            "s:1",
            "--format",
            format,
            "-o",
            &out.display().to_string(),
        ]);
        assert!(err.contains("corrupt"), "{format}: {err}");
        assert!(!out.exists(), "{format}: {} was left behind", out.display());
        let leftovers: Vec<_> = fs::read_dir(env.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains("partial"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    let err = b.fails(&["fsck"]);
    assert!(err.contains("damaged"), "{err}");
}

#[test]
fn load_reads_standard_input_and_compressed_archives() {
    let env = Env::new();
    let b = env.berth();
    let d = b
        .ok(&["import", "-q", &env.rootfs(), "in:1"])
        .trim()
        .to_string();
    b.ok(&["save", "in:1", "--format", "oci", "-o", &env.s("a.tar")]);
    let gz = env.path("a.tar.gz");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -c {} > {}", env.s("a.tar"), gz.display()))
        .status()
        .unwrap();
    assert!(status.success());
    let b2 = env.berth();
    let out = b2
        .command()
        .args(["load"])
        .stdin(fs::File::open(&gz).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(id(&b2, "in:1"), d);
}
