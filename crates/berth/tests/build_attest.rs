//! Attestations at build time (`berth build --sbom --provenance --push`, signed or not) and
//! `berth sbom --attach`, against berth's registry (referrers API) and distribution 2.8.2 (the
//! referrers tag schema): verified with `berth verify-attestation`, listed by `berth tree` and
//! by oras's client, their predicates read back, and every stored blob searched for secrets.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;
use test_support::{Berth, BerthRegistry, Registry, busybox};

const SECRET_FILE_VALUE: &str = "file-secret-5f1d9c";
const SECRET_ARG_VALUE: &str = "marked-arg-77aa31";
const TOKEN_ARG_VALUE: &str = "token-arg-0c4e2b";

/// A store holding a busybox base with an apk database (one package), and a key pair.
struct Setup {
    dir: tempfile::TempDir,
    berth: Berth,
    key: String,
    public: String,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("store"));
    let rootfs = dir.path().join("rootfs");
    fs::create_dir_all(rootfs.join("bin")).unwrap();
    fs::copy(busybox(), rootfs.join("bin/busybox")).unwrap();
    for applet in ["sh", "cat", "echo", "test"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    fs::create_dir_all(rootfs.join("lib/apk/db")).unwrap();
    fs::write(
        rootfs.join("lib/apk/db/installed"),
        "P:busybox\nV:1.36.1-r29\nA:x86_64\nL:GPL-2.0-only\no:busybox\n\n",
    )
    .unwrap();
    berth.ok(&[
        "import",
        "-q",
        "--source-date-epoch",
        "0",
        rootfs.to_str().unwrap(),
        "base:1",
    ]);
    let (key, public) = test_support::openssl_key_pair(dir.path(), "signer");
    Setup {
        key,
        public,
        dir,
        berth,
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c"])
        .arg("init.defaultBranch=main")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl Setup {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Pushes `base:1` to `addr/base:1`; returns its manifest digest.
    fn push_base(&self, addr: &str) -> String {
        let out = self
            .berth
            .ok(&["push", "-q", "base:1", &format!("{addr}/base:1")]);
        out.trim().rsplit_once('@').unwrap().1.to_string()
    }

    /// A context building on `addr/base:1` that reads a secret and takes build args.
    fn context(&self, name: &str, addr: &str) -> PathBuf {
        let dir = self.path(name);
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("Dockerfile"),
            format!(
                "FROM {addr}/base:1\n\
                 ARG VERSION\n\
                 RUN --mount=type=secret,id=tok test -s /run/secrets/tok && echo $VERSION > /version\n\
                 ARG API_TOKEN\n"
            ),
        )
        .unwrap();
        dir
    }

    fn verify_attestation(&self, image: &str, kind: &str) -> Value {
        let out = self.berth.ok(&[
            "verify-attestation",
            "--key",
            &self.public,
            "--type",
            kind,
            image,
        ]);
        // Each verified envelope, as cosign prints them: the statement is its payload.
        let envelopes: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(envelopes.len(), 1, "{out}");
        let payload = base64::engine::general_purpose::STANDARD
            .decode(envelopes[0]["payload"].as_str().unwrap())
            .unwrap();
        serde_json::from_slice(&payload).unwrap()
    }
}

/// oras's client lists `digest`'s referrers: the referrers API, or the tag-schema index.
fn oras_referrers(addr: &str, repo: &str, digest: &str) -> Vec<Value> {
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/build_attest/referrers.py"
        ))
        .args([addr, repo, digest])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "referrers.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every file under `root` (a registry's storage), and each base64 string inside JSON ones
/// decoded (DSSE payloads are base64), searched for `needle`.
fn stored_anywhere(root: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = fs::read(&path).unwrap();
            let mut texts = vec![bytes.clone()];
            if let Ok(json) = serde_json::from_slice::<Value>(&bytes) {
                strings(&json, &mut |s| {
                    if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(s) {
                        texts.push(decoded);
                    }
                });
            }
            let hit = |t: &Vec<u8>| t.windows(needle.len()).any(|w| w == needle.as_bytes());
            if texts.iter().any(hit) {
                found.push(path);
            }
        }
    }
    found
}

fn strings(value: &Value, f: &mut impl FnMut(&str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, f)),
        Value::Object(map) => map.values().for_each(|v| strings(v, f)),
        _ => {}
    }
}

#[test]
fn build_attestations_signed_and_unsigned_in_berths_registry() {
    let s = setup();
    let registry = BerthRegistry::start(env!("CARGO_BIN_EXE_berth"), &s.path("registry"), None);
    let addr = registry.addr.as_str();
    let base_digest = s.push_base(addr);
    let secret = s.path("tok");
    fs::write(&secret, SECRET_FILE_VALUE).unwrap();
    let secret_spec = format!("id=tok,src={}", secret.display());

    // A git checkout as the context, with an origin remote.
    let ctx = s.context("ctx", addr);
    git(&ctx, &["init", "-q"]);
    git(
        &ctx,
        &[
            "remote",
            "add",
            "origin",
            "https://git.example/team/app.git",
        ],
    );
    git(&ctx, &["add", "Dockerfile"]);
    git(&ctx, &["commit", "-q", "-m", "app"]);
    let commit = git(&ctx, &["rev-parse", "HEAD"]);

    let image = format!("{addr}/app:1");
    let token_arg = format!("API_TOKEN={TOKEN_ARG_VALUE}");
    let marked_arg = format!("DEPLOY_NOTE={SECRET_ARG_VALUE}");
    let out = s.berth.ok(&[
        "build",
        "-q",
        "--sbom",
        "--provenance=mode=max",
        "--sign-key",
        &s.key,
        "--secret",
        &secret_spec,
        "--build-arg",
        "VERSION=1.2.3",
        "--build-arg",
        &token_arg,
        "--build-arg",
        &marked_arg,
        "--secret-build-arg",
        "DEPLOY_NOTE",
        "-t",
        &image,
        "--push",
        ctx.to_str().unwrap(),
    ]);
    let digest = out.lines().last().unwrap().to_string();
    let pinned = format!("{addr}/app@{digest}");

    // The SBOM lists the image's packages, about the pushed manifest.
    let sbom = s.verify_attestation(&pinned, "cyclonedx");
    assert_eq!(sbom["predicateType"], "https://cyclonedx.org/bom");
    assert_eq!(
        format!(
            "sha256:{}",
            sbom["subject"][0]["digest"]["sha256"].as_str().unwrap()
        ),
        digest
    );
    let components = sbom["predicate"]["components"].as_array().unwrap();
    assert!(
        components
            .iter()
            .any(|c| c["name"] == "busybox" && c["version"] == "1.36.1-r29"),
        "{components:?}"
    );

    // The provenance: the base by digest, the git source, the Dockerfile's digest, the args
    // that are not secret, mode=max's build record.
    let prov = s.verify_attestation(&image, "slsaprovenance1");
    assert_eq!(prov["predicateType"], "https://slsa.dev/provenance/v1");
    let p = &prov["predicate"];
    let deps = p["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    let base_hex = base_digest.strip_prefix("sha256:").unwrap();
    assert!(
        deps.iter().any(|d| d["digest"]["sha256"] == base_hex
            && d["uri"]
                .as_str()
                .unwrap()
                .starts_with(&format!("pkg:docker/{addr}/base@1?platform="))),
        "{deps:?}"
    );
    assert!(
        deps.iter()
            .any(|d| d["digest"]["gitCommit"] == commit.as_str()
                && d["uri"] == format!("git+https://git.example/team/app.git@{commit}")),
        "{deps:?}"
    );
    let external = &p["buildDefinition"]["externalParameters"];
    let dockerfile = fs::read(ctx.join("Dockerfile")).unwrap();
    assert_eq!(
        external["configSource"]["digest"]["sha256"],
        sha256_hex(&dockerfile)
    );
    assert_eq!(external["request"]["args"]["build-arg:VERSION"], "1.2.3");
    assert_eq!(
        external["request"]["withheldBuildArgs"],
        serde_json::json!(["API_TOKEN", "DEPLOY_NOTE"])
    );
    assert_eq!(external["request"]["secrets"][0]["id"], "tok");
    let metadata = &p["runDetails"]["metadata"];
    assert!(metadata["startedOn"].as_str().unwrap() <= metadata["finishedOn"].as_str().unwrap());
    let record = p["buildDefinition"]["internalParameters"]["buildRecord"]["history"]
        .as_array()
        .expect("mode=max has the build record");
    assert!(
        record.iter().any(|o| o["instruction"]
            .as_str()
            .unwrap()
            .starts_with("RUN --mount=type=secret")
            && o["startLine"] == 3),
        "{record:?}"
    );

    // Flags that can't be honoured are refused before any build.
    let ctx_arg = ctx.to_str().unwrap();
    for (args, said) in [
        (vec!["--sbom", "-t", "x:1"], "add --push"),
        (
            vec!["--sign-key", s.key.as_str(), "--push", "-t", &image],
            "add --sbom or --provenance",
        ),
        (
            vec!["--provenance=mode=huge", "--push", "-t", &image],
            "mode=min or mode=max",
        ),
        (
            vec!["--attest", "type=vex", "--push", "-t", &image],
            "type=sbom",
        ),
    ] {
        let mut all = vec!["build", "-q"];
        all.extend(args);
        all.push(ctx_arg);
        let err = s.berth.fails(&all);
        assert!(err.contains(said), "{all:?}: {err}");
    }

    // Unsigned, BuildKit's spelling, mode=min: bare in-toto statements as referrers.
    let ctx2 = s.context("ctx2", addr);
    let image2 = format!("{addr}/plain:1");
    let out = s.berth.ok(&[
        "build",
        "-q",
        "--attest",
        "type=sbom",
        "--attest",
        "type=provenance,mode=min",
        "--secret",
        &secret_spec,
        "-t",
        &image2,
        "--push",
        ctx2.to_str().unwrap(),
    ]);
    let digest2 = out.lines().last().unwrap().to_string();
    let tree = s.berth.ok(&["tree", &image2]);
    assert_eq!(
        tree.matches("🔗 application/vnd.in-toto+json artifacts via OCI referrer")
            .count(),
        2,
        "{tree}"
    );
    let listed = oras_referrers(addr, "plain", &digest2);
    assert_eq!(listed.len(), 2, "{listed:?}");
    let mut types: Vec<&str> = listed
        .iter()
        .map(|r| r["predicateType"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "https://cyclonedx.org/bom",
            "https://slsa.dev/provenance/v1"
        ]
    );
    let min = listed
        .iter()
        .find(|r| r["predicateType"] == "https://slsa.dev/provenance/v1")
        .unwrap();
    let statement = &min["statement"];
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        digest2.strip_prefix("sha256:").unwrap()
    );
    let internal = &statement["predicate"]["buildDefinition"]["internalParameters"];
    assert!(internal.get("buildRecord").is_none(), "{internal}");
    // Not a git checkout: no source dependency, only the base.
    let deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    assert_eq!(deps.len(), 1, "{deps:?}");
    // Unsigned attestations are not taken for signed ones.
    let out = s.berth.run(&[
        "verify-attestation",
        "--key",
        &s.public,
        "--type",
        "cyclonedx",
        &image2,
    ]);
    assert!(!out.status.success());

    // An OCI layout keeps the (signed) attestations as referrers: manifests listed in
    // index.json whose subject is the image.
    let layout = s.path("layout.tar");
    let out = s.berth.ok(&[
        "build",
        "-q",
        "--sbom",
        "--provenance",
        "--sign-key",
        &s.key,
        "--secret",
        &secret_spec,
        "-t",
        &format!("{addr}/laid:1"),
        "--output",
        &format!("type=oci,dest={}", layout.display()),
        ctx2.to_str().unwrap(),
    ]);
    let image_digest = out.lines().last().unwrap().to_string();
    let files = untar(&layout);
    let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{index}");
    assert_eq!(entries[0]["digest"], image_digest.as_str());
    let mut predicate_types = Vec::new();
    for entry in &entries[1..] {
        let blob = |digest: &str| &files[&format!("blobs/sha256/{}", &digest[7..])];
        let manifest: Value =
            serde_json::from_slice(blob(entry["digest"].as_str().unwrap())).unwrap();
        assert_eq!(manifest["subject"]["digest"], image_digest.as_str());
        assert_eq!(
            manifest["artifactType"],
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        predicate_types.push(
            manifest["annotations"]["dev.sigstore.bundle.predicateType"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        let bundle: Value =
            serde_json::from_slice(blob(manifest["layers"][0]["digest"].as_str().unwrap()))
                .unwrap();
        assert!(
            bundle["dsseEnvelope"]["signatures"][0]["sig"].is_string(),
            "{bundle}"
        );
    }
    predicate_types.sort();
    assert_eq!(
        predicate_types,
        [
            "https://cyclonedx.org/bom",
            "https://slsa.dev/provenance/v1"
        ]
    );
    // Loading the layout loads the image, not its referrers as images of their own.
    let loader = Berth::new(env!("CARGO_BIN_EXE_berth"), &s.path("loader"));
    let said = loader.ok(&["load", "-i", layout.to_str().unwrap()]);
    assert_eq!(said.matches("Loaded image").count(), 1, "{said}");

    // A build arg marked secret that the Dockerfile declares would be in the image's
    // history: the build refuses before pushing.
    let ctx3 = s.context("ctx3", addr);
    fs::write(
        ctx3.join("Dockerfile"),
        format!("FROM {addr}/base:1\nARG DEPLOY_NOTE\nRUN true\n"),
    )
    .unwrap();
    let err = s.berth.fails(&[
        "build",
        "-q",
        "--provenance",
        "--build-arg",
        &marked_arg,
        "--secret-build-arg",
        "DEPLOY_NOTE",
        "-t",
        &format!("{addr}/leak:1"),
        "--push",
        ctx3.to_str().unwrap(),
    ]);
    assert!(err.contains("DEPLOY_NOTE is marked secret"), "{err}");
    assert!(!err.contains(SECRET_ARG_VALUE), "{err}");

    // No secret value reached the registry, in any blob, raw or base64. (API_TOKEN, secret
    // by its name only and declared, is in the image's history as BuildKit puts it there; it
    // is out of the provenance, checked above.)
    let provenance_text = prov.to_string();
    assert!(!provenance_text.contains(TOKEN_ARG_VALUE));
    assert!(!provenance_text.contains(SECRET_ARG_VALUE));
    for needle in [SECRET_FILE_VALUE, SECRET_ARG_VALUE] {
        let found = stored_anywhere(&registry.root, needle);
        assert!(found.is_empty(), "{needle} is stored in {found:?}");
    }
}

#[test]
fn sbom_attach_in_berths_registry_and_distribution() {
    let s = setup();
    let berths = BerthRegistry::start(env!("CARGO_BIN_EXE_berth"), &s.path("registry"), None);
    let distribution = Registry::start();
    for (addr, format, media_type) in [
        (
            berths.addr.as_str(),
            "cyclonedx",
            "application/vnd.cyclonedx+json",
        ),
        (
            distribution.addr.as_str(),
            "spdx-json",
            "application/spdx+json",
        ),
    ] {
        let digest = s.push_base(addr);
        let image = format!("{addr}/base:1");
        let written = s.path("sbom.json");
        s.berth.ok(&[
            "sbom",
            &image,
            "--attach",
            "--format",
            format,
            "-o",
            written.to_str().unwrap(),
        ]);
        let tree = s.berth.ok(&["tree", &image]);
        assert!(
            tree.contains(&format!("🔗 {media_type} artifacts via OCI referrer")),
            "{tree}"
        );
        let listed = oras_referrers(addr, "base", &digest);
        assert_eq!(listed.len(), 1, "{listed:?}");
        let referrer = &listed[0];
        assert_eq!(referrer["artifactType"], media_type);
        assert!(referrer["created"].as_str().unwrap().ends_with('Z'));
        // The layer is the document berth wrote.
        assert_eq!(referrer["layer"], sha256_hex(&fs::read(&written).unwrap()));
    }
    // A directory has no registry to attach to; berth's own JSON is no standard SBOM.
    let err = s.berth.fails(&["sbom", "dir:/tmp", "--attach"]);
    assert!(err.contains("--attach"), "{err}");
    let image = format!("{}/base:1", berths.addr);
    let err = s
        .berth
        .fails(&["sbom", &image, "--attach", "--format", "berth-json"]);
    assert!(err.contains("--format cyclonedx"), "{err}");
}

/// The files of a tar archive, by path.
fn untar(path: &Path) -> std::collections::HashMap<String, Vec<u8>> {
    let mut archive = tar::Archive::new(fs::File::open(path).unwrap());
    let mut files = std::collections::HashMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        files.insert(name, bytes);
    }
    files
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("{:x}", sha2::Sha256::digest(bytes))
}
