//! `berth build` end to end: the cache hits exactly the steps it should, secrets and cache
//! mounts stay out of the image, hostile contexts and layers are refused or contained, and
//! SOURCE_DATE_EPOCH makes the same digest on two stores.
//!
//! Needs root (namespaces, overlay mounts), as CI runs it.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use test_support::{Berth, busybox, json};

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

    /// A berth whose store has `busybox` (every applet linked), imported the same way each time.
    fn berth(&self, store: &str) -> Berth {
        let b = Berth::new(env!("CARGO_BIN_EXE_berth"), &self.path(store));
        let rootfs = self.path("rootfs");
        if !rootfs.exists() {
            full_busybox(&rootfs);
        }
        b.ok(&[
            "import",
            "--source-date-epoch",
            "0",
            rootfs.to_str().unwrap(),
            "busybox",
        ]);
        b
    }

    /// A context directory with these files.
    fn context(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.path(name);
        for (path, content) in files {
            let p = dir.join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }
        dir
    }
}

/// busybox with a link for every applet, and /etc/passwd with an `app` user.
fn full_busybox(dir: &Path) {
    fs::create_dir_all(dir.join("bin")).unwrap();
    fs::copy(busybox(), dir.join("bin/busybox")).unwrap();
    let list = std::process::Command::new(busybox())
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).unwrap();
        }
    }
    fs::create_dir_all(dir.join("etc")).unwrap();
    fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
    )
    .unwrap();
    fs::write(dir.join("etc/group"), "root:x:0:\napp:x:1000:\n").unwrap();
    fs::create_dir_all(dir.join("tmp")).unwrap();
}

/// Runs a build with JSON progress; returns (image id, names of steps run, names cached).
fn build(b: &Berth, context: &Path, extra: &[&str]) -> (String, Vec<String>, Vec<String>) {
    let mut args = vec!["build", "--progress", "json"];
    args.extend_from_slice(extra);
    args.push(context.to_str().unwrap());
    parse_build(&b.ok(&args))
}

/// [`build`]'s answer from the JSON progress `out`.
fn parse_build(out: &str) -> (String, Vec<String>, Vec<String>) {
    let mut names = std::collections::BTreeMap::new();
    let (mut ran, mut cached, mut id) = (vec![], vec![], String::new());
    for line in out.lines() {
        let v = json(line);
        let step = v["step"].as_u64().unwrap_or(0);
        match v["event"].as_str() {
            Some("started") => {
                names.insert(step, v["name"].as_str().unwrap().to_string());
            }
            Some("cached") => cached.push(names[&step].clone()),
            Some("done") if !names[&step].contains(" FROM ") => ran.push(names[&step].clone()),
            Some("image") => id = v["id"].as_str().unwrap().to_string(),
            _ => {}
        }
    }
    assert!(!id.is_empty(), "no image event in:\n{out}");
    (id, ran, cached)
}

/// The instruction part of step names (`[deps 3/5] RUN make` -> `RUN make`).
fn steps(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| n.split_once("] ").map(|(_, s)| s).unwrap_or(n).to_string())
        .collect()
}

const APP: &str = "\
FROM busybox AS deps
WORKDIR /app
COPY deps.txt .
RUN sed 's/^/installed /' deps.txt > /app/installed
COPY src/ ./src/
RUN cat installed src/* > /app/built
FROM busybox
COPY --from=deps /app/built /app/built
USER 1000
CMD [\"cat\", \"/app/built\"]
";

#[test]
fn cache_hits_exactly_the_expected_steps() {
    let env = Env::new();
    let b = env.berth("store");
    let ctx = env.context(
        "app",
        &[
            ("Dockerfile", APP),
            ("deps.txt", "left-pad\n"),
            ("src/a.txt", "a\n"),
            ("src/b.txt", "b\n"),
        ],
    );

    let (cold, ran, cached) = build(&b, &ctx, &["-t", "app"]);
    assert!(cached.is_empty(), "cold build used the cache: {cached:?}");
    assert_eq!(
        steps(&ran),
        [
            "WORKDIR /app",
            "COPY deps.txt .",
            "RUN sed 's/^/installed /' deps.txt > /app/installed",
            "COPY src/ ./src/",
            "RUN cat installed src/* > /app/built",
            "COPY --from=deps /app/built /app/built",
        ]
    );
    let out = b.ok(&["inspect", "app"]);
    assert_eq!(json(&out)[0]["Config"]["User"], "1000");

    // Nothing changed: nothing runs, the same image comes out.
    let (warm, ran, cached) = build(&b, &ctx, &["-t", "app"]);
    assert_eq!(warm, cold);
    assert!(ran.is_empty(), "a no-op rebuild ran {ran:?}");
    assert_eq!(cached.len(), 6);

    // A touched file (same bytes) is no change.
    let f = ctx.join("src/a.txt");
    let later = fs::metadata(&f).unwrap().modified().unwrap() + std::time::Duration::from_secs(5);
    fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let (touched, ran, _) = build(&b, &ctx, &[]);
    assert_eq!(touched, cold);
    assert!(ran.is_empty(), "touching a file re-ran {ran:?}");

    // One source file changed: the dependency steps stay cached.
    fs::write(ctx.join("src/b.txt"), "b2\n").unwrap();
    let (_, ran, cached) = build(&b, &ctx, &[]);
    assert_eq!(
        steps(&cached),
        [
            "WORKDIR /app",
            "COPY deps.txt .",
            "RUN sed 's/^/installed /' deps.txt > /app/installed"
        ]
    );
    assert_eq!(
        steps(&ran),
        [
            "COPY src/ ./src/",
            "RUN cat installed src/* > /app/built",
            "COPY --from=deps /app/built /app/built",
        ]
    );

    // A dependency changed: everything after it runs again.
    fs::write(ctx.join("deps.txt"), "left-pad\nis-odd\n").unwrap();
    let (_, ran, cached) = build(&b, &ctx, &["-t", "app"]);
    assert_eq!(steps(&cached), ["WORKDIR /app"]);
    assert_eq!(ran.len(), 5, "{ran:?}");
    let files = env.path("out");
    b.ok(&[
        "build",
        "-q",
        "--output",
        &format!("type=local,dest={}", files.display()),
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(
        fs::read_to_string(files.join("app/built")).unwrap(),
        "installed left-pad\ninstalled is-odd\na\nb2\n"
    );

    // --no-cache runs everything.
    let (_, ran, cached) = build(&b, &ctx, &["--no-cache"]);
    assert!(cached.is_empty());
    assert_eq!(ran.len(), 6);

    // The cache lives in the store: `berth gc` keeps it, `berth gc --build-cache` drops it
    // with every unpacked layer no image needs.
    b.ok(&["gc"]);
    let (_, ran, _) = build(&b, &ctx, &[]);
    assert!(ran.is_empty(), "gc dropped cached steps: {ran:?}");
    let unpacked = || fs::read_dir(b.root.join("build/layers")).unwrap().count();
    let before = unpacked();
    b.ok(&["rmi", "app"]);
    let out = b.ok(&["gc", "--build-cache"]);
    assert!(out.contains("Build cache: dropped"), "{out}");
    // What untagged images of earlier builds still use stays; app's own layers went.
    assert!(unpacked() < before, "{out}");
    let (_, ran, cached) = build(&b, &ctx, &[]);
    assert!(cached.is_empty());
    assert_eq!(ran.len(), 6);
}

/// Every byte of every layer (decompressed), the config and the manifest of an image.
fn image_bytes(b: &Berth, env: &Env, image: &str) -> Vec<u8> {
    let layout = env.path(&format!("layout-{}", image.replace(':', "-")));
    b.ok(&["copy", image, &format!("oci:{}", layout.display())]);
    let mut all = Vec::new();
    for entry in fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let bytes = fs::read(entry.unwrap().path()).unwrap();
        if bytes.starts_with(&[0x1f, 0x8b]) {
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut all)
                .unwrap();
        } else {
            all.extend_from_slice(&bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn secrets_and_cache_mounts_never_reach_the_image() {
    let env = Env::new();
    let b = env.berth("store");
    let secret = env.path("token");
    fs::write(&secret, "s3cr3t-value-4711").unwrap();
    // The Dockerfile checks the secret by its hash, so the value itself appears nowhere but in
    // the secret file.
    let md5 = "4ea02af967c747f3e8cb2eaca5dadc6f";
    let ctx = env.context(
        "ctx",
        &[(
            "Dockerfile",
            &format!("FROM busybox\n\
             RUN --mount=type=secret,id=tok test \"$(md5sum < /run/secrets/tok)\" = \"{md5}  -\" && echo file-ok > /ok\n\
             RUN --mount=type=secret,id=tok,env=TOK test \"$(echo -n $TOK | md5sum)\" = \"{md5}  -\" && echo env-ok >> /ok\n\
             RUN --mount=type=cache,target=/cache echo cached-bytes-0815 > /cache/blob && ls /cache > /listing\n\
             RUN --mount=type=cache,target=/cache tr a-z A-Z < /cache/blob > /seen\n"),
        )],
    );
    let secret_arg = format!("id=tok,src={}", secret.display());
    build(&b, &ctx, &["-t", "sec", "--secret", &secret_arg]);
    let bytes = image_bytes(&b, &env, "sec");
    assert!(
        !contains(&bytes, "s3cr3t-value-4711"),
        "the secret is in the image"
    );
    assert!(
        !contains(&bytes, "cached-bytes-0815\n"),
        "cache content is in a layer"
    );
    let history = b.ok(&["history", "--no-trunc", "sec"]);
    assert!(!history.contains("s3cr3t"), "{history}");

    let out = env.path("out");
    b.ok(&[
        "build",
        "-q",
        "--secret",
        &secret_arg,
        "-o",
        out.to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(
        fs::read_to_string(out.join("ok")).unwrap(),
        "file-ok\nenv-ok\n"
    );
    assert_eq!(fs::read_to_string(out.join("listing")).unwrap(), "blob\n");
    // The second RUN saw what the first left in the cache.
    assert_eq!(
        fs::read_to_string(out.join("seen")).unwrap(),
        "CACHED-BYTES-0815\n"
    );
    assert!(!out.join("cache/blob").exists());
    // Not even the mount point is left behind.
    assert!(!out.join("run").exists());

    // Without the secret, the build says which one is missing and how to give it.
    let out = b.run(&[
        "build",
        "--no-cache",
        "--progress",
        "plain",
        ctx.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("Dockerfile:2: secret \"tok\" was not given")
            && stderr.contains("--secret id=tok"),
        "{stderr}"
    );
}

#[test]
fn a_failing_run_names_the_line_and_shows_its_output() {
    let env = Env::new();
    let b = env.berth("store");
    let ctx = env.context(
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo preparing\nRUN echo about to fail; exit 3\n",
        )],
    );
    let err = b.fails(&["build", "--progress", "plain", ctx.to_str().unwrap()]);
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert!(err.contains("exited with code 3"), "{err}");
    assert!(err.contains("about to fail"), "{err}");
    // The earlier step is cached for the next try.
    let out = b.run(&["build", "--progress", "plain", ctx.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("RUN echo preparing\n#2 CACHED"), "{stderr}");
}

#[test]
fn hostile_contexts_and_commands_leave_the_host_untouched() {
    let env = Env::new();
    let b = env.berth("store");
    let marker = format!("/tmp/berth-escape-{}", std::process::id());
    let _ = fs::remove_file(&marker);
    let ctx = env.context(
        "ctx",
        &[
            (
                "Dockerfile",
                &format!(
                    "FROM busybox\n\
                     COPY evil /evil\n\
                     COPY ../../../../etc/hostname /hostname-copy\n\
                     RUN cd / && cd ../../.. && echo escaped > {marker} ; echo x > /../../..{marker}-2 ; true\n"
                ),
            ),
            ("etc/hostname", "the context's own file\n"),
            ("inside", "in the context\n"),
        ],
    );
    // A symlink to a host file: COPY resolves it inside the context, never on the host.
    std::os::unix::fs::symlink("/etc/passwd", ctx.join("evil")).unwrap();
    let out = env.path("out");
    let result = b.run(&[
        "build",
        "-q",
        "-o",
        out.to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    let host_passwd = fs::read_to_string("/etc/passwd").unwrap();
    if result.status.success() {
        if let Ok(copied) = fs::read_to_string(out.join("evil")) {
            assert_ne!(
                copied, host_passwd,
                "COPY followed a symlink out of the context"
            );
        }
        // `../` in a COPY source stays inside the context.
        assert_eq!(
            fs::read_to_string(out.join("hostname-copy")).unwrap(),
            "the context's own file\n"
        );
    } else {
        let err = String::from_utf8_lossy(&result.stderr);
        assert!(err.contains("evil"), "{err}");
    }
    assert!(!Path::new(&marker).exists(), "a RUN wrote to the host");
    assert!(
        !Path::new(&format!("{marker}-2")).exists(),
        "a RUN wrote to the host"
    );
}

#[test]
fn source_date_epoch_gives_the_same_digest_on_two_stores() {
    let env = Env::new();
    let ctx = env.context(
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM busybox AS b\nRUN mkdir -p /out && echo hi > /out/hi && ln -s hi /out/link\nCOPY a.txt /out/\nFROM busybox\nCOPY --from=b /out /out\nLABEL x=y\n",
            ),
            ("a.txt", "a\n"),
        ],
    );
    let one = env.berth("one");
    let two = env.berth("two");
    let (a, _, _) = build(&one, &ctx, &["--build-arg", "SOURCE_DATE_EPOCH=1700000000"]);
    let (b, _, _) = build(&two, &ctx, &["--build-arg", "SOURCE_DATE_EPOCH=1700000000"]);
    assert_eq!(a, b, "the same inputs gave different images on two stores");
    let c = build(
        &two,
        &ctx,
        &["--no-cache", "--build-arg", "SOURCE_DATE_EPOCH=1700000000"],
    )
    .0;
    assert_eq!(a, c, "rebuilding without the cache changed the digest");
    let inspect = json(&one.ok(&["inspect", &a]));
    assert_eq!(inspect[0]["Created"], "2023-11-14T22:13:20Z");
}

/// A tar with one entry whose name is written as is (no checks), plus an honest directory.
fn raw_tar(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    for (name, kind, link) in entries {
        let mut h = tar::Header::new_old();
        let field = &mut h.as_old_mut().name;
        field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_size(if *kind == tar::EntryType::Regular {
            6
        } else {
            0
        });
        if !link.is_empty() {
            h.set_link_name(link).unwrap();
        }
        h.set_cksum();
        let data: &[u8] = if *kind == tar::EntryType::Regular {
            b"pwned\n"
        } else {
            b""
        };
        out.append(&h, data).unwrap();
    }
    out.into_inner().unwrap()
}

/// Loads an image whose layers are `layers` (uncompressed tars) under `name`.
fn load_image(b: &Berth, env: &Env, name: &str, layers: &[Vec<u8>]) {
    use sha2::{Digest as _, Sha256};
    let dir = env.path(&format!("layout-{name}"));
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let hex = format!("{:x}", Sha256::digest(bytes));
        fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let mut descs = vec![];
    let mut diff_ids = vec![];
    for l in layers {
        let (d, n) = put(l);
        diff_ids.push(d.clone());
        descs.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": n
        }));
    }
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {"Env": ["PATH=/bin"]},
    });
    let (cd, cn) = put(config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
        "layers": descs,
    });
    let (md, mn) = put(manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
            "annotations": {"io.containerd.image.name": format!("docker.io/library/{name}:latest")},
        }],
    });
    fs::write(dir.join("index.json"), index.to_string()).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    b.ok(&["load", "-q", "-i", dir.to_str().unwrap()]);
}

#[test]
fn hostile_base_layers_are_refused_naming_the_layer_and_entry() {
    use tar::EntryType::{Directory, Regular, Symlink};
    let env = Env::new();
    let b = env.berth("store");
    let victim = env.path("victim");
    fs::create_dir_all(&victim).unwrap();
    let escape = format!("../../../../../../..{}/escaped", victim.display());
    let cases: [(&str, Vec<Vec<u8>>, &str); 3] = [
        (
            "dotdot",
            vec![raw_tar(&[(&escape, Regular, "")])],
            "escaped",
        ),
        (
            "symlink",
            vec![raw_tar(&[
                ("link", Symlink, victim.to_str().unwrap()),
                ("link/escaped", Regular, ""),
            ])],
            "link/escaped",
        ),
        (
            "device",
            vec![raw_tar(&[
                ("dev", Directory, ""),
                ("dev/sda", tar::EntryType::Block, ""),
            ])],
            "",
        ),
    ];
    for (name, layers, entry) in cases {
        load_image(&b, &env, name, &layers);
        let ctx = env.context(
            name,
            &[("Dockerfile", &format!("FROM {name}\nCOPY Dockerfile /\n"))],
        );
        let out = b.run(&["build", "-q", ctx.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if entry.is_empty() {
            // A device node in a layer is kept in the image but never created on the host.
            assert!(out.status.success(), "{name}: {stderr}");
        } else {
            assert!(!out.status.success(), "{name}: a hostile layer was applied");
            assert!(
                stderr.contains("layer sha256:") && stderr.contains(entry),
                "{name}: {stderr}"
            );
        }
        assert_eq!(
            fs::read_dir(&victim).unwrap().count(),
            0,
            "{name} wrote outside"
        );
    }
    // The unpacked device placeholder is a plain empty file, not a block device.
    let layers = b.root.join("build/layers");
    for dir in fs::read_dir(layers).unwrap() {
        let p = dir.unwrap().path().join("dev/sda");
        if let Ok(m) = fs::symlink_metadata(&p) {
            assert!(m.is_file(), "{} is a device on the host", p.display());
        }
    }
}

/// The diff IDs of an image's layers.
fn layers(b: &Berth, image: &str) -> Vec<String> {
    json(&b.ok(&["inspect", image]))[0]["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_rerun_copy_writes_only_what_changed_and_makes_the_same_layers() {
    let env = Env::new();
    // ~16 KB a file, so the COPY's layer spans several gzip chunks.
    let mut files: Vec<(String, String)> = (0..40)
        .map(|i| {
            let line = format!("/* file {i:02}: filler filler filler filler filler filler */\n");
            let body = format!("int f{i};\n{}", line.repeat(250));
            (format!("src/m{}/f{i}.c", i % 4), body)
        })
        .collect();
    files.push((
        "Dockerfile".into(),
        "FROM busybox\nCOPY src/ /app/src/\nRUN cat /app/src/*/* | md5sum > /sum\n".into(),
    ));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let ctx = env.context("ctx", &refs);
    let sde = ["--build-arg", "SOURCE_DATE_EPOCH=1700000000"];
    let b = env.berth("incremental");
    build(&b, &ctx, &[&sde[..], &["-t", "app"]].concat());

    // One file changed: the COPY reruns on top of its previous result, writing one file.
    fs::write(ctx.join("src/m1/f5.c"), "int f5 = 5;\n").unwrap();
    let rerun = b.run(
        &[
            &["build", "--progress", "json", "--log-level", "debug"][..],
            &sde[..],
            &["-t", "app", ctx.to_str().unwrap()],
        ]
        .concat(),
    );
    let log = String::from_utf8_lossy(&rerun.stderr);
    assert!(rerun.status.success(), "{log}");
    let (_, ran, _) = parse_build(&String::from_utf8_lossy(&rerun.stdout));
    assert_eq!(
        steps(&ran),
        [
            "COPY src/ /app/src/",
            "RUN cat /app/src/*/* | md5sum > /sum"
        ]
    );
    let deltas: Vec<PathBuf> = fs::read_dir(b.root.join("build/layers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "base"))
        .collect();
    assert_eq!(deltas.len(), 1, "the rerun should be stored as a delta");
    let delta = deltas[0].with_extension("");
    let written: Vec<_> = walk_files(&delta);
    assert_eq!(
        written,
        ["app/src/m1/f5.c"],
        "the delta holds only the changed file"
    );
    // ...and its layer copies the gzip chunks of the files that did not change from the
    // previous layer, deflating only the changed one's.
    let copy_layer = log
        .lines()
        .find(|l| l.contains("layer written"))
        .unwrap_or_else(|| panic!("no layer written in:\n{log}"));
    let field = |name: &str| -> usize {
        let at = copy_layer.find(&format!(" {name}=")).unwrap() + name.len() + 2;
        copy_layer[at..].split(' ').next().unwrap().parse().unwrap()
    };
    let (chunks, reused) = (field("chunks"), field("chunks_reused"));
    assert!(chunks >= 3, "{copy_layer}");
    assert!(reused >= 1 && reused < chunks, "{copy_layer}");

    // The same context built from nothing gives exactly the same layers, compressed bytes
    // and all.
    let full = env.berth("full");
    build(
        &full,
        &ctx,
        &[&sde[..], &["--no-cache", "-t", "app"]].concat(),
    );
    assert_eq!(layers(&b, "app"), layers(&full, "app"));
    assert_eq!(
        layer_blobs(&b, &env, "app"),
        layer_blobs(&full, &env, "app")
    );

    // A removed file changes the selection's shape: no delta can express that, the copy
    // starts over, and the file is gone.
    fs::remove_file(ctx.join("src/m2/f6.c")).unwrap();
    build(&b, &ctx, &[&sde[..], &["-t", "app"]].concat());
    build(
        &full,
        &ctx,
        &[&sde[..], &["--no-cache", "-t", "app"]].concat(),
    );
    assert_eq!(layers(&b, "app"), layers(&full, "app"));
    let out = env.path("out");
    b.ok(&[
        "build",
        "-q",
        "-o",
        out.to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    assert!(!out.join("app/src/m2/f6.c").exists());
    assert_eq!(
        fs::read_to_string(out.join("app/src/m1/f5.c")).unwrap(),
        "int f5 = 5;\n"
    );

    // gc keeps a delta's base while the delta is in use.
    b.ok(&["gc"]);
    let (_, ran, _) = build(&b, &ctx, &[&sde[..], &["-t", "app"]].concat());
    assert!(ran.is_empty(), "{ran:?}");
    b.ok(&[
        "build",
        "-q",
        "-o",
        env.path("out2").to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
}

/// The digests of an image's layer blobs (compressed), and the bytes of each, in order.
fn layer_blobs(b: &Berth, env: &Env, image: &str) -> Vec<(String, Vec<u8>)> {
    let layout = env.path(&format!(
        "blobs-{}",
        b.root.file_name().unwrap().to_string_lossy()
    ));
    let _ = fs::remove_dir_all(&layout);
    b.ok(&["copy", image, &format!("oci:{}", layout.display())]);
    let blob = |digest: &str| {
        let hex = digest.strip_prefix("sha256:").unwrap();
        fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
    };
    let index = json(&fs::read_to_string(layout.join("index.json")).unwrap());
    let manifest = blob(index["manifests"][0]["digest"].as_str().unwrap());
    let manifest = json(&String::from_utf8(manifest).unwrap());
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let digest = l["digest"].as_str().unwrap().to_string();
            let bytes = blob(&digest);
            (digest, bytes)
        })
        .collect()
}

/// Regular files under `dir`, relative, sorted.
fn walk_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                todo.push(p);
            } else if m.is_file() {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_context_can_come_as_a_tar_on_standard_input() {
    use std::io::Write;
    let env = Env::new();
    let b = env.berth("store");
    let ctx = env.context(
        "ctx",
        &[
            ("Dockerfile", "FROM scratch\nCOPY . /ctx/\n"),
            ("app/main.txt", "from a tar\n"),
            (".dockerignore", "secret.txt\n"),
            ("secret.txt", "never in the image\n"),
        ],
    );
    let tar = std::process::Command::new("tar")
        .args(["-C", ctx.to_str().unwrap(), "-cf", "-", "."])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let out = env.path("out");
    let mut child = b
        .command()
        .args(["build", "-q", "-o", out.to_str().unwrap(), "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(
        fs::read_to_string(out.join("ctx/app/main.txt")).unwrap(),
        "from a tar\n"
    );
    assert!(
        !out.join("ctx/secret.txt").exists(),
        ".dockerignore was not applied"
    );
    // FROM scratch: nothing but what was copied.
    let mut top: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["ctx"]);
}

#[test]
fn the_copy_snapshotter_builds_the_same_files_as_overlayfs() {
    use test_support::tree::{Tree, diff};
    let env = Env::new();
    let ctx = env.context(
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM busybox AS base\n\
                 RUN mkdir -p /data/keep /data/gone /data/swap && echo a > /data/keep/a \
                     && echo b > /data/gone/b && echo c > /data/swap/c && echo f > /data/file \
                     && ln -s /data/keep/a /data/link && ln /data/file /data/hard\n\
                 RUN rm -r /data/gone /data/file && rm -r /data/swap && mkdir /data/swap \
                     && echo new > /data/swap/n && echo more >> /data/keep/a && chmod 0700 /data/keep\n\
                 COPY app/ /app/\n\
                 RUN --mount=type=bind,source=app,target=/mnt,rw echo scratch > /mnt/x && cat /mnt/main.txt > /copied\n\
                 FROM busybox\n\
                 COPY --from=base /data /data\n\
                 COPY --from=base /app /app\n\
                 RUN rm /bin/ls && echo done > /done\n",
            ),
            ("app/main.txt", "main\n"),
        ],
    );
    let overlay = env.berth("overlay");
    let copy = env.berth("copy");
    let out_overlay = env.path("out-overlay");
    let out_copy = env.path("out-copy");
    overlay.ok(&[
        "build",
        "-q",
        "-o",
        out_overlay.to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    let built = copy
        .command()
        .env("BERTH_SNAPSHOTTER", "copy")
        .args([
            "build",
            "-q",
            "-o",
            out_copy.to_str().unwrap(),
            ctx.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let a = Tree::snapshot(&out_overlay).unwrap();
    let b = Tree::snapshot(&out_copy).unwrap();
    let differences = diff("overlay", &a, "copy", &b);
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    assert!(!out_copy.join("bin/ls").exists());
    assert!(!out_copy.join("data/gone").exists());
    assert!(!out_copy.join("data/swap/c").exists());
    assert!(!out_copy.join("app/x").exists());
}

#[test]
fn cache_mount_sharing_modes_hold_across_parallel_stages() {
    let env = Env::new();
    let b = env.berth("store");
    // Two independent stages run at the same time; the final one waits for both.
    let stage = |name: &str, sharing: &str, id: &str| {
        format!(
            "FROM busybox AS {name}\n\
             RUN --mount=type=cache,id={id},sharing={sharing},target=/c \
                 echo start-{name} >> /c/log; sleep 0.4; echo end-{name} >> /c/log; \
                 ls /c | tr '\\n' ' ' > /seen; cp /c/log /log\n"
        )
    };
    let dockerfile = format!(
        "{}{}{}{}FROM busybox\n\
         COPY --from=l1 /log /l1.log\nCOPY --from=l2 /log /l2.log\n\
         COPY --from=p1 /log /p1.log\nCOPY --from=p2 /log /p2.log\n",
        stage("l1", "locked", "L"),
        stage("l2", "locked", "L"),
        stage("p1", "private", "P"),
        stage("p2", "private", "P"),
    );
    let ctx = env.context("ctx", &[("Dockerfile", &dockerfile)]);
    let out = env.path("out");
    b.ok(&[
        "build",
        "-q",
        "-o",
        out.to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    // Locked: the second stage's command ran only after the first one's ended.
    let log = fs::read_to_string(out.join("l1.log"))
        .unwrap()
        .max(fs::read_to_string(out.join("l2.log")).unwrap());
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4, "{log}");
    assert!(
        lines[0].starts_with("start-") && lines[1].starts_with("end-"),
        "{log}"
    );
    assert_eq!(lines[0][6..], lines[1][4..], "interleaved: {log}");
    // Private: the two stages ran at the same time, each with a cache of its own.
    for p in ["p1", "p2"] {
        let log = fs::read_to_string(out.join(format!("{p}.log"))).unwrap();
        assert_eq!(
            log,
            format!("start-{p}\nend-{p}\n"),
            "{p}'s cache was shared"
        );
    }
}

/// A bind mount's source is resolved inside the context (a symlink to the host's /etc leads
/// to the context's own etc/), and a file source is mounted as the file.
#[test]
fn bind_mount_sources_resolve_inside_the_context() {
    let env = Env::new();
    let b = env.berth("store");
    let ctx = env.context(
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM busybox\n\
                 RUN --mount=type=bind,source=hostile/hostname,target=/h cat /h > /got\n\
                 RUN --mount=type=bind,source=hostile,target=/d ls /d > /list\n",
            ),
            ("etc/hostname", "the context's own file\n"),
        ],
    );
    std::os::unix::fs::symlink("/etc", ctx.join("hostile")).unwrap();
    let out = env.path("out");
    b.ok(&[
        "build",
        "-q",
        "-o",
        out.to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    let read = |n: &str| fs::read_to_string(out.join(n)).unwrap();
    assert_eq!(read("got"), "the context's own file\n");
    assert_eq!(read("list"), "hostname\n");
}

/// WORKDIR through an absolute symlink an earlier step made: the directory is made inside
/// the root, where the link leads there, never on the host.
#[test]
fn workdir_through_a_symlink_is_made_inside_the_root() {
    let env = Env::new();
    let b = env.berth("store");
    let marker = format!("/tmp/berth-workdir-escape-{}", std::process::id());
    let _ = fs::remove_dir_all(&marker);
    let ctx = env.context(
        "ctx",
        &[(
            "Dockerfile",
            &format!("FROM busybox\nRUN ln -s {marker} /wd\nWORKDIR /wd/sub\nRUN pwd > /pwd\n"),
        )],
    );
    let out = env.path("out");
    b.ok(&[
        "build",
        "-q",
        "-o",
        out.to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    assert!(
        !Path::new(&marker).exists(),
        "WORKDIR made a host directory"
    );
    assert!(out.join(&marker[1..]).join("sub").is_dir());
    assert_eq!(
        fs::read_to_string(out.join("pwd")).unwrap(),
        format!("{marker}/sub\n")
    );
}

#[test]
fn run_gets_home_from_the_image_passwd_unless_env_sets_it() {
    let env = Env::new();
    let b = env.berth("store");
    let ctx = env.context(
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox\n\
             RUN mkdir -m 1777 /out && echo \"$HOME\" > /out/root\n\
             USER app\n\
             RUN echo \"$HOME\" > /out/app\n\
             USER 4242\n\
             RUN echo \"$HOME\" > /out/nobody\n\
             ENV HOME=/custom\n\
             RUN echo \"$HOME\" > /out/env\n",
        )],
    );
    let out = env.path("out");
    b.ok(&[
        "build",
        "-q",
        "-o",
        out.to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    let read = |n: &str| fs::read_to_string(out.join("out").join(n)).unwrap();
    assert_eq!(read("root"), "/root\n");
    assert_eq!(read("app"), "/home/app\n");
    assert_eq!(read("nobody"), "/\n");
    assert_eq!(read("env"), "/custom\n");
}

#[test]
fn platform_sets_the_image_platform_and_the_target_args() {
    let env = Env::new();
    let b = env.berth("store");
    let ctx = env.context(
        "ctx",
        &[(
            "Dockerfile",
            "FROM scratch\nARG TARGETPLATFORM\nARG TARGETARCH\nLABEL p=$TARGETPLATFORM a=$TARGETARCH\nCOPY Dockerfile /\n",
        )],
    );
    b.ok(&[
        "build",
        "-q",
        "--platform",
        "linux/arm64",
        "-t",
        "arm",
        ctx.to_str().unwrap(),
    ]);
    let v = json(&b.ok(&["inspect", "arm"]));
    assert_eq!(v[0]["Architecture"], "arm64");
    assert_eq!(v[0]["Os"], "linux");
    assert_eq!(v[0]["Config"]["Labels"]["p"], "linux/arm64");
    assert_eq!(v[0]["Config"]["Labels"]["a"], "arm64");
}

/// Every character or block device under `dir` other than an overlay whiteout (0/0).
fn live_devices(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let ft = meta.file_type();
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_block_device() || (ft.is_char_device() && meta.rdev() != 0) {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn run_is_confined_as_docker_build_confines_it() {
    let env = Env::new();
    let b = env.berth("store");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = std::io::Write::write_all(&mut conn, b"host-loopback-service\n");
        }
    });
    let name = format!("berth-build-test-{}", std::process::id());
    let abstract_addr = {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap()
    };
    let _abstract = std::os::unix::net::UnixListener::bind_addr(&abstract_addr).unwrap();
    let ctx = env.context(
        "ctx",
        &[(
            "Dockerfile",
            &format!(
                "FROM busybox\n\
                 RUN mknod /dev/kvm c 10 232 || true; mknod /loop0 b 7 0 || true; \
                     unshare -Urm mount -t tmpfs none /mnt || true; mount -t tmpfs none /mnt || true; \
                     nc -w 3 127.0.0.1 {port} </dev/null || true; \
                     echo abstract-sockets-seen=$(grep -c @{name} /proc/net/unix); \
                     grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status\n"
            ),
        )],
    );
    let out = b.run(&["build", "--progress", "plain", ctx.to_str().unwrap()]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    for refused in [
        "mknod: /dev/kvm: Operation not permitted",
        "mknod: /loop0: Operation not permitted",
        "unshare: unshare(0x10020000): Operation not permitted",
        "mount: permission denied (are you root?)",
        "nc: can't connect to remote host (127.0.0.1): Connection refused",
        "abstract-sockets-seen=0",
        "NoNewPrivs:\t0",
        "Seccomp:\t2",
    ] {
        assert!(log.contains(refused), "{refused:?} not in:\n{log}");
    }
    assert!(!log.contains("host-loopback-service"), "{log}");
    assert!(!log.contains("RUN used the host's network"), "{log}");
    assert_eq!(live_devices(&env.path("store")), Vec::<PathBuf>::new());

    // The host's network only on request, and said so.
    let out = b.run(&[
        "build",
        "--progress",
        "plain",
        "--no-cache",
        "--network",
        "host",
        ctx.to_str().unwrap(),
    ]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("host-loopback-service"), "{log}");
    assert!(log.contains("abstract-sockets-seen=1"), "{log}");
    assert!(
        log.contains("RUN used the host's network (--network host)"),
        "{log}"
    );

    // A Dockerfile cannot grant itself the host's network.
    let ctx = env.context(
        "ctx-host",
        &[("Dockerfile", "FROM busybox\nRUN --network=host true\n")],
    );
    let err = b.fails(&["build", "--progress", "plain", ctx.to_str().unwrap()]);
    assert!(
        err.contains(
            "RUN --network=host needs the build's consent: run berth build --network host"
        ),
        "{err}"
    );
}
