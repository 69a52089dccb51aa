//! `berth sign`, `attest`, `verify`, `verify-attestation` and `tree` against real registries:
//! berth's (referrers API) and distribution 2.8 (no referrers API: the tag schema), in both
//! of cosign's formats; berth's bundles checked by sigstore-js's verifier, its DSSE envelopes
//! by securesystemslib, its referrers listed by oras's client; and the hostile cases, each
//! failing closed with its reason.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use test_support::{Berth, BerthRegistry, Registry};

/// A store with two small images, a key pair and a stranger's public key.
struct Setup {
    dir: tempfile::TempDir,
    berth: Berth,
    key: String,
    public: String,
    stranger: String,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("store"));
    for (name, content) in [("one", "one\n"), ("two", "two\n")] {
        let ctx = dir.path().join(name);
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("file"), content).unwrap();
        berth.ok(&["import", "-q", ctx.to_str().unwrap(), &format!("{name}:1")]);
    }
    // Plain PKCS#8 keys from openssl: an independent key maker, and no scrypt in the tests.
    let (key, public) = test_support::openssl_key_pair(dir.path(), "signer");
    let (_, stranger) = test_support::openssl_key_pair(dir.path(), "stranger");
    Setup {
        dir,
        berth,
        key,
        public,
        stranger,
    }
}

impl Setup {
    /// Pushes `name:1` to `registry/repo:1`; returns the manifest digest.
    fn push(&self, name: &str, registry: &str, repo: &str) -> String {
        let out = self.berth.ok(&[
            "push",
            "-q",
            &format!("{name}:1"),
            &format!("{registry}/{repo}:1"),
        ]);
        out.trim().rsplit_once('@').unwrap().1.to_string()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.berth
            .command()
            .args(args)
            .env_remove("COSIGN_PASSWORD")
            .env_remove("BERTH_PASSWORD")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "berth {args:?}: {stderr}");
        (String::from_utf8(out.stdout).unwrap(), stderr)
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "berth {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    }

    fn sign(&self, image: &str, extra: &[&str]) -> String {
        let mut args = vec!["sign", "--key", &self.key];
        args.extend(extra);
        args.push(image);
        self.ok(&args).1
    }

    fn attest(&self, image: &str, kind: &str, predicate: &Value, extra: &[&str]) {
        let file = self.dir.path().join(format!("predicate-{kind}.json"));
        fs::write(&file, predicate.to_string()).unwrap();
        let mut args = vec![
            "attest",
            "--key",
            &self.key,
            "--type",
            kind,
            "--predicate",
            file.to_str().unwrap(),
        ];
        args.extend(extra);
        args.push(image);
        self.ok(&args);
    }

    fn verify(&self, image: &str, extra: &[&str]) -> Vec<Value> {
        let mut args = vec!["verify", "--key", &self.public];
        args.extend(extra);
        args.push(image);
        let (out, err) = self.ok(&args);
        assert!(err.contains("Verification for "), "{err}");
        serde_json::from_str(&out).unwrap()
    }

    fn verify_attestation(&self, image: &str, kind: &str) -> Vec<Value> {
        let (out, _) = self.ok(&[
            "verify-attestation",
            "--key",
            &self.public,
            "--type",
            kind,
            image,
        ]);
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn tree(&self, image: &str) -> String {
        self.ok(&["tree", image]).0
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn peer(args: &[&str]) -> Output {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sign/peer.py");
    Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .unwrap()
}

fn peer_ok(args: &[&str]) -> String {
    let out = peer(args);
    assert!(
        out.status.success(),
        "peer.py {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A manifest's bytes as the registry serves them.
fn manifest_bytes(addr: &str, repo: &str, reference: &str) -> Vec<u8> {
    let out = peer(&["manifest", addr, repo, reference]);
    assert!(
        out.status.success(),
        "manifest {repo}:{reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn manifest(addr: &str, repo: &str, reference: &str) -> Value {
    serde_json::from_slice(&manifest_bytes(addr, repo, reference)).unwrap()
}

/// The referrers berth's registry lists for `digest`.
fn referrers(addr: &str, repo: &str, digest: &str) -> Vec<Value> {
    peer_ok(&["referrers", addr, repo, digest])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The payload of a verified signature names the image's digest.
fn signed_digest(payload: &Value) -> String {
    if let Some(d) = payload.pointer("/critical/image/docker-manifest-digest") {
        return d.as_str().unwrap().to_string();
    }
    format!(
        "sha256:{}",
        payload["subject"][0]["digest"]["sha256"].as_str().unwrap()
    )
}

/// Runs one of the sigstore-js scripts beside this test (its modules installed by
/// scripts/install-test-deps); what it printed, as the error when it failed.
fn sigstore_js(script: &str, args: &[&Path]) -> Result<(), String> {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-deps/sigstore-js/node_modules");
    assert!(
        modules.join("@sigstore/verify").is_dir(),
        "{} is missing: run scripts/install-test-deps",
        modules.display()
    );
    let out = Command::new("node")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/sign")
                .join(script),
        )
        .args(args)
        .env("NODE_PATH", &modules)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `@sigstore/verify` checks a bundle with a public key, offline.
fn sigstore_js_verifies(bundle: &Path, public: &str) -> Result<(), String> {
    sigstore_js("verify-bundle.js", &[bundle, Path::new(public)])
}

#[test]
fn berth_registry_referrers_round_trip_checked_by_peers() {
    let s = setup();
    let registry = BerthRegistry::start(env!("CARGO_BIN_EXE_berth"), &s.file("registry"), None);
    let addr = registry.addr.as_str();
    let digest = s.push("one", addr, "app");
    let tagged = format!("{addr}/app:1");
    let pinned = format!("{addr}/app@{digest}");

    // Signing by tag warns and signs the digest the tag named then.
    let said = s.sign(&tagged, &[]);
    assert!(said.contains("uses a tag, not a digest"), "{said}");
    s.sign(&pinned, &["--bundle-format", "legacy", "-a", "team=blue"]);
    let payloads = s.verify(&tagged, &[]);
    assert_eq!(payloads.len(), 2, "{payloads:?}");
    assert!(
        payloads.iter().all(|p| signed_digest(p) == digest),
        "{payloads:?}"
    );
    // The annotation is in the legacy payload only: one signature carries it.
    let annotated = s.verify(&pinned, &["-a", "team=blue"]);
    assert_eq!(annotated.len(), 1);
    assert_eq!(annotated[0]["optional"]["team"], "blue");
    let err = s.fails(&["verify", "--key", &s.public, "-a", "team=red", &pinned]);
    assert!(err.contains("annotation team=\"red\""), "{err}");

    s.attest(
        &pinned,
        "slsaprovenance1",
        &json!({"buildDefinition": {"buildType": "x"}}),
        &[],
    );
    s.attest(
        &pinned,
        "cyclonedx",
        &json!({"bomFormat": "CycloneDX"}),
        &["--bundle-format", "legacy"],
    );
    let slsa = s.verify_attestation(&pinned, "slsaprovenance1");
    assert_eq!(slsa.len(), 1);
    let cdx = s.verify_attestation(&pinned, "cyclonedx");
    assert_eq!(cdx.len(), 1);
    let err = s.fails(&[
        "verify-attestation",
        "--key",
        &s.public,
        "--type",
        "vuln",
        &pinned,
    ]);
    assert!(
        err.contains("not \"https://cosign.sigstore.dev/attestation/vuln/v1\""),
        "{err}"
    );

    let tree = s.tree(&pinned);
    let hex = digest.trim_start_matches("sha256:");
    assert!(
        tree.contains(&format!(
            "🔐 Signatures for an image tag: {addr}/app:sha256-{hex}.sig"
        )),
        "{tree}"
    );
    assert!(
        tree.contains(&format!(
            "💾 Attestations for an image tag: {addr}/app:sha256-{hex}.att"
        )),
        "{tree}"
    );
    assert!(
        tree.contains("🔗 https://sigstore.dev/cosign/sign/v1 artifacts via OCI referrer: "),
        "{tree}"
    );
    assert!(
        tree.contains("🔗 https://slsa.dev/provenance/v1 artifacts via OCI referrer: "),
        "{tree}"
    );

    // oras's client lists the two bundles as referrers of the image.
    let listed = referrers(addr, "app", &digest);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|r| r["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json")
    );

    // sigstore-js verifies the signature's bundle with the key, and refuses it tampered.
    let manifest_of = |d: &str| manifest(addr, "app", d);
    let signature = listed
        .iter()
        .map(|d| manifest_of(d["digest"].as_str().unwrap()))
        .find(|m| {
            m["annotations"]["dev.sigstore.bundle.predicateType"]
                == "https://sigstore.dev/cosign/sign/v1"
        })
        .unwrap();
    assert_eq!(signature["subject"]["digest"], digest.as_str());
    assert_eq!(
        signature["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(
        signature["annotations"]["dev.sigstore.bundle.content"],
        "dsse-envelope"
    );
    let bundle_path = s.file("bundle.json");
    fetch_blob(
        addr,
        "app",
        signature["layers"][0]["digest"].as_str().unwrap(),
        &bundle_path,
    );
    sigstore_js_verifies(&bundle_path, &s.public).unwrap();
    assert!(sigstore_js_verifies(&bundle_path, &s.stranger).is_err());
    let mut bundle: Value = serde_json::from_slice(&fs::read(&bundle_path).unwrap()).unwrap();
    let tampered = bundle["dsseEnvelope"]["payload"]
        .as_str()
        .unwrap()
        .replacen('e', "f", 1);
    bundle["dsseEnvelope"]["payload"] = tampered.into();
    let tampered_path = s.file("tampered.json");
    fs::write(&tampered_path, bundle.to_string()).unwrap();
    let refused = sigstore_js_verifies(&tampered_path, &s.public).unwrap_err();
    assert!(refused.contains("refused"), "{refused}");

    // A bundle sigstore-js wrote (its bundle builder, the same key) verifies in berth.
    let statement = s.file("statement.json");
    let about = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": format!("{addr}/app"), "digest": {"sha256": hex}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {},
    });
    fs::write(&statement, about.to_string()).unwrap();
    let theirs = s.file("theirs.json");
    sigstore_js("sign-bundle.js", &[&statement, Path::new(&s.key), &theirs]).unwrap();
    let theirs: Value = serde_json::from_slice(&fs::read(&theirs).unwrap()).unwrap();
    let media_type = theirs["mediaType"].as_str().unwrap().to_string();
    attach_bundle(&s, addr, "app", &digest, &theirs, &media_type);
    let payloads = s.verify(&pinned, &[]);
    assert_eq!(payloads.len(), 3, "{payloads:?}");
    assert!(payloads.contains(&about), "{payloads:?}");

    // securesystemslib verifies the legacy attestation's DSSE envelope with the key.
    let att = manifest_of(&format!("sha256-{hex}.att"));
    assert_eq!(
        att["layers"][0]["annotations"]["predicateType"],
        "https://cyclonedx.org/bom"
    );
    let envelope = s.file("envelope.json");
    fetch_blob(
        addr,
        "app",
        att["layers"][0]["digest"].as_str().unwrap(),
        &envelope,
    );
    assert_eq!(
        peer_ok(&["dsse-verify", envelope.to_str().unwrap(), &s.public]).trim(),
        "verified"
    );
    let out = peer(&["dsse-verify", envelope.to_str().unwrap(), &s.stranger]);
    assert!(!out.status.success());
}

#[test]
fn distribution_without_referrers_api_uses_the_tag_schema() {
    let s = setup();
    let registry = Registry::start();
    let addr = registry.addr.as_str();
    let digest = s.push("one", addr, "app");
    let pinned = format!("{addr}/app@{digest}");
    let hex = digest.trim_start_matches("sha256:");

    s.sign(&pinned, &[]);
    s.sign(&pinned, &["-a", "n=2"]);
    s.attest(&pinned, "custom", &json!({"hello": "world"}), &[]);
    // The fallback index lists all three: updated, not replaced.
    let index = manifest(addr, "app", &format!("sha256-{hex}"));
    let listed = index["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{index}");
    assert!(
        listed
            .iter()
            .all(|d| d["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json")
    );
    assert_eq!(s.verify(&pinned, &[]).len(), 2);
    assert_eq!(s.verify(&pinned, &["-a", "n=2"]).len(), 1);
    let custom = s.verify_attestation(&pinned, "custom");
    assert_eq!(custom.len(), 1);

    // Legacy signatures accumulate, one layer each; the same signature twice is one layer.
    s.sign(&pinned, &["--bundle-format", "legacy"]);
    s.sign(&pinned, &["--bundle-format", "legacy"]);
    s.sign(&pinned, &["--bundle-format", "legacy", "-a", "n=3"]);
    let sig = manifest(addr, "app", &format!("sha256-{hex}.sig"));
    assert_eq!(sig["layers"].as_array().unwrap().len(), 2, "{sig}");
    assert!(
        sig["layers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json")
    );
    assert_eq!(s.verify(&pinned, &[]).len(), 4);

    let tree = s.tree(&pinned);
    assert_eq!(tree.matches("via OCI referrer").count(), 3, "{tree}");
    assert!(tree.contains("🔐 Signatures for an image tag"), "{tree}");
    assert!(
        tree.contains("https://cosign.sigstore.dev/attestation/v1 artifacts via OCI referrer"),
        "{tree}"
    );

    // An index signed --recursive: the index, and each image it lists.
    let two = s.push("two", addr, "app");
    let descriptor = |d: &str| {
        let bytes = manifest_bytes(addr, "app", d);
        let m: Value = serde_json::from_slice(&bytes).unwrap();
        json!({"mediaType": m["mediaType"], "digest": d, "size": bytes.len()})
    };
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [descriptor(&digest), descriptor(&two)],
    });
    put(&s, addr, "app", "multi", &index);
    let index_digest = format!("sha256:{}", sha256_hex(index.to_string().as_bytes()));
    s.sign(
        &format!("{addr}/app:multi"),
        &["--recursive", "--bundle-format", "legacy"],
    );
    // The first image's legacy signature was there already: it is not added twice.
    for (d, n) in [(&index_digest, 1), (&two, 1), (&digest, 4)] {
        let payloads = s.verify(&format!("{addr}/app@{d}"), &[]);
        assert_eq!(payloads.len(), n, "{d}: {payloads:?}");
        assert!(payloads.iter().all(|p| signed_digest(p) == *d));
    }

    // A key sealed as cosign seals it opens with COSIGN_PASSWORD; without a password and a
    // terminal to ask on, signing stops saying how to give one, and nothing is pushed.
    let prefix = s.file("sealed");
    let with_password = |args: &[&str]| {
        s.berth
            .command()
            .args(args)
            .env("COSIGN_PASSWORD", "s3cret")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = with_password(&[
        "key",
        "generate",
        "--output-key-prefix",
        prefix.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let sealed_key = format!("{}.key", prefix.display());
    let sealed_pub = format!("{}.pub", prefix.display());
    let err = s.fails(&["sign", "--key", &sealed_key, &index_ref(addr)]);
    assert!(
        err.contains("set COSIGN_PASSWORD or BERTH_PASSWORD"),
        "{err}"
    );
    let out = with_password(&["sign", "--key", &sealed_key, &index_ref(addr)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (verified, _) = s.ok(&["verify", "--key", &sealed_pub, &index_ref(addr)]);
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&verified).unwrap().len(),
        1
    );
}

fn index_ref(addr: &str) -> String {
    format!("{addr}/app:multi")
}

#[test]
fn verification_fails_closed() {
    let s = setup();
    let registry = BerthRegistry::start(env!("CARGO_BIN_EXE_berth"), &s.file("registry"), None);
    let addr = registry.addr.as_str();
    let one = s.push("one", addr, "app");
    let two = s.push("two", addr, "other");
    let one_ref = format!("{addr}/app@{one}");
    let two_ref = format!("{addr}/other@{two}");
    let hex_two = two.trim_start_matches("sha256:");

    // No key: keyless signing is out of reach, and said so.
    let err = s.fails(&["sign", &one_ref]);
    assert!(err.contains("keyless signing"), "{err}");

    // Nothing signed yet.
    let err = s.fails(&["verify", "--key", &s.public, &two_ref]);
    assert!(
        err.contains(&format!("no signatures found for {addr}/other@{two}")),
        "{err}"
    );

    // A wrong key.
    s.sign(&one_ref, &[]);
    s.sign(&one_ref, &["--bundle-format", "legacy"]);
    let err = s.fails(&["verify", "--key", &s.stranger, &one_ref]);
    assert_eq!(
        err.matches("does not verify with the key given").count(),
        2,
        "{err}"
    );

    // Signatures over another image, put where `other`'s signatures would be.
    let hex_one = one.trim_start_matches("sha256:");
    let sig = manifest(addr, "app", &format!("sha256-{hex_one}.sig"));
    copy_blobs(&s, addr, "app", "other", &sig);
    put(&s, addr, "other", &format!("sha256-{hex_two}.sig"), &sig);
    let err = s.fails(&["verify", "--key", &s.public, &two_ref]);
    assert!(
        err.contains(&format!(
            "the signature is over {one}, not the image's digest {two}"
        )),
        "{err}"
    );

    // A bundle whose payload was changed after signing, attached to `other`.
    let listed = referrers(addr, "app", &one);
    let signature = manifest(addr, "app", listed[0]["digest"].as_str().unwrap());
    let bundle_path = s.file("b.json");
    fetch_blob(
        addr,
        "app",
        signature["layers"][0]["digest"].as_str().unwrap(),
        &bundle_path,
    );
    let bundle: Value = serde_json::from_slice(&fs::read(&bundle_path).unwrap()).unwrap();
    let mut statement: Value = decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap());
    statement["subject"][0]["digest"]["sha256"] = hex_two.into();
    let mut tampered = bundle.clone();
    tampered["dsseEnvelope"]["payload"] = encode(&statement).into();
    attach_bundle(
        &s,
        addr,
        "other",
        &two,
        &tampered,
        "application/vnd.dev.sigstore.bundle.v0.3+json",
    );
    let err = s.fails(&["verify", "--key", &s.public, &two_ref]);
    assert!(err.contains("does not verify with the key given"), "{err}");

    // A bundle of a media type no version of berth reads.
    let mut unknown = bundle.clone();
    unknown["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.9+json".into();
    attach_bundle(
        &s,
        addr,
        "other",
        &two,
        &unknown,
        "application/vnd.dev.sigstore.bundle.v0.9+json",
    );
    let err = s.fails(&["verify", "--key", &s.public, &two_ref]);
    assert!(
        err.contains(
            "unknown sigstore bundle media type \"application/vnd.dev.sigstore.bundle.v0.9+json\""
        ),
        "{err}"
    );

    // A legacy layer of the wrong media type, and one past the size limit.
    let mut malformed = sig.clone();
    malformed["layers"][0]["mediaType"] = "application/octet-stream".into();
    put(
        &s,
        addr,
        "other",
        &format!("sha256-{hex_two}.sig"),
        &malformed,
    );
    let err = s.fails(&["verify", "--key", &s.public, &two_ref]);
    assert!(err.contains("media type \"application/octet-stream\", not \"application/vnd.dev.cosign.simplesigning.v1+json\""), "{err}");
    let big = s.file("big");
    fs::write(&big, vec![b' '; (4 << 20) + 1]).unwrap();
    let pushed = peer_ok(&["push-blob", addr, "other", big.to_str().unwrap()]);
    let (big_digest, big_size) = pushed.trim().split_once(' ').unwrap();
    let mut oversized = sig.clone();
    oversized["layers"][0]["digest"] = big_digest.into();
    oversized["layers"][0]["size"] = big_size.parse::<u64>().unwrap().into();
    put(
        &s,
        addr,
        "other",
        &format!("sha256-{hex_two}.sig"),
        &oversized,
    );
    let err = s.fails(&["verify", "--key", &s.public, &two_ref]);
    assert!(
        err.contains(&format!(
            "{big_digest} is 4194305 bytes, more than the 4194304 bytes berth reads"
        )),
        "{err}"
    );

    // Keyless: cosign's own keyless attestation (its certificate and Rekor entry checked
    // against the trusted root it was made under), attached to `app`. Its statement names an
    // image no test can push, so the wiring ends at the subject check; a matching subject is
    // verified in crates/berth-sign/tests/keyless.rs.
    let corpus = test_support::corpus("cosign").unwrap();
    let cosign_bundle: Value =
        serde_json::from_slice(&fs::read(corpus.join("oci-attestation.sigstore.json")).unwrap())
            .unwrap();
    let media_type = cosign_bundle["mediaType"].as_str().unwrap().to_string();
    attach_bundle(&s, addr, "app", &one, &cosign_bundle, &media_type);
    let root = corpus.join("trusted_root_pgi.json");
    let keyless = |command: &str, identity: &str| {
        s.fails(&[
            command,
            "--trusted-root",
            root.to_str().unwrap(),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            "https://github.com/login/oauth",
            &one_ref,
        ])
    };
    let err = keyless("verify-attestation", "cody@soyland.com");
    assert!(
        err.contains(&format!(
            "the signature is over sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4, not the image's digest {one}"
        )),
        "{err}"
    );
    let err = keyless("verify-attestation", "mallory@example.com");
    assert!(
        err.contains(
            "the certificate identity is \"cody@soyland.com\", not \"mallory@example.com\""
        ),
        "{err}"
    );
    // berth's key-signed bundles and legacy signatures are not taken for keyless ones.
    let err = keyless("verify", "cody@soyland.com");
    assert!(
        err.contains("the bundle is signed with a public key, not a certificate"),
        "{err}"
    );
    assert!(
        err.contains("the signature carries no certificate: it was made with a key"),
        "{err}"
    );

    // The key never shows, whatever fails.
    let key = fs::read_to_string(&s.key).unwrap();
    let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!err.contains(&body[..20]));
}

fn decode(text: &str) -> Value {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn encode(value: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

fn fetch_blob(addr: &str, repo: &str, digest: &str, to: &Path) {
    peer_ok(&["blob", addr, repo, digest, to.to_str().unwrap()]);
}

fn put(s: &Setup, addr: &str, repo: &str, reference: &str, manifest: &Value) {
    let path = s.file("manifest.json");
    fs::write(&path, manifest.to_string()).unwrap();
    peer_ok(&[
        "put-manifest",
        addr,
        repo,
        reference,
        path.to_str().unwrap(),
    ]);
}

fn push_bytes(s: &Setup, addr: &str, repo: &str, bytes: &[u8]) -> (String, u64) {
    let path = s.file("blob");
    fs::write(&path, bytes).unwrap();
    let out = peer_ok(&["push-blob", addr, repo, path.to_str().unwrap()]);
    let (digest, size) = out.trim().split_once(' ').unwrap();
    (digest.to_string(), size.parse().unwrap())
}

/// The config and layers a manifest of `from` names, into `to`.
fn copy_blobs(s: &Setup, addr: &str, from: &str, to: &str, manifest: &Value) {
    let descriptors =
        std::iter::once(&manifest["config"]).chain(manifest["layers"].as_array().unwrap());
    for d in descriptors {
        let path = s.file("copied");
        fetch_blob(addr, from, d["digest"].as_str().unwrap(), &path);
        push_bytes(s, addr, to, &fs::read(&path).unwrap());
    }
}

/// A referrer of `subject` holding `bundle`, as berth and cosign lay it out.
fn attach_bundle(
    s: &Setup,
    addr: &str,
    repo: &str,
    subject: &str,
    bundle: &Value,
    media_type: &str,
) {
    let (config, _) = push_bytes(s, addr, repo, b"{}");
    let (layer, size) = push_bytes(s, addr, repo, bundle.to_string().as_bytes());
    let subject_bytes = manifest_bytes(addr, repo, subject);
    let subject_manifest: Value = serde_json::from_slice(&subject_bytes).unwrap();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": media_type,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": media_type, "digest": layer, "size": size}],
        "subject": {"mediaType": subject_manifest["mediaType"], "digest": subject, "size": subject_bytes.len()},
    });
    let bytes = manifest.to_string();
    let digest = format!("sha256:{}", sha256_hex(bytes.as_bytes()));
    put(s, addr, repo, &digest, &manifest);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `sigstore attach` (@sigstore/cli, sigstore-js's own registry client) pushes a bundle
/// sigstore-js signed to berth's registry, behind basic auth as the CLI needs; berth finds it
/// as a referrer, verifies it with the key and lists it in the tree.
#[test]
fn a_bundle_sigstore_attach_pushed_is_found_and_verified() {
    let s = setup();
    let users = s.file("htpasswd");
    fs::write(
        &users,
        format!("alice:{}\n", bcrypt::hash("s3cret", 4).unwrap()),
    )
    .unwrap();
    let registry = BerthRegistry::start(
        env!("CARGO_BIN_EXE_berth"),
        &s.file("registry"),
        Some(&format!(
            "[auth]\nmode = \"basic\"\nhtpasswd = \"{}\"\n",
            users.display()
        )),
    );
    let addr = registry.addr.as_str();
    let login = s.berth.login(addr, "alice", "s3cret");
    assert!(login.status.success(), "{login:?}");
    let digest = s.push("one", addr, "app");
    let hex = digest.strip_prefix("sha256:").unwrap();
    let pinned = format!("{addr}/app@{digest}");

    let about = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": format!("{addr}/app"), "digest": {"sha256": hex}}],
        "predicateType": "https://cosign.sigstore.dev/attestation/v1",
        "predicate": {"Data": "attached by sigstore-js", "Timestamp": "2026-12-05T00:00:00Z"},
    });
    let statement = s.file("statement.json");
    fs::write(&statement, about.to_string()).unwrap();
    let bundle = s.file("bundle.json");
    sigstore_js("sign-bundle.js", &[&statement, Path::new(&s.key), &bundle]).unwrap();
    let cli = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-deps/sigstore-js/node_modules/@sigstore/cli/bin/run");
    let out = Command::new("node")
        .arg(&cli)
        .args(["attach", &pinned, "--attestation"])
        .arg(&bundle)
        .args(["-u", "alice", "-p", "s3cret"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sigstore attach: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let payloads = s.verify_attestation(&pinned, "custom");
    assert_eq!(payloads.len(), 1, "{payloads:?}");
    // As cosign prints them: the verified envelopes, the statement inside.
    let statement = decode(payloads[0]["payload"].as_str().unwrap());
    assert_eq!(statement, about, "{payloads:?}");
    let tree = s.tree(&pinned);
    assert!(
        tree.contains("application/vnd.dev.sigstore.bundle"),
        "{tree}"
    );
    // Not with a stranger's key.
    let err = s.fails(&[
        "verify-attestation",
        "--key",
        &s.stranger,
        "--type",
        "custom",
        &pinned,
    ]);
    assert!(!err.is_empty());
}

/// A legacy keyless signature (cosign's `.sig` layer with its certificate, chain and Rekor
/// bundle in annotations), made by `tests/sign/legacy_keyless.py` with a sigstore instance of
/// its own in Python's `cryptography`: `berth verify` checks it against that instance's
/// trusted root, and refuses it for another signer, another root, a tampered SET or a key.
#[test]
fn a_legacy_keyless_signature_verifies_against_its_trusted_root() {
    let s = setup();
    let registry = BerthRegistry::start(env!("CARGO_BIN_EXE_berth"), &s.file("registry"), None);
    let addr = registry.addr.as_str();
    let (identity, issuer) = ("builder@berth.test", "https://issuer.berth.test");
    let make = |repo: &str, out: &str, tamper: bool| -> (String, PathBuf) {
        let digest = s.push("one", addr, repo);
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sign/legacy_keyless.py");
        let out = s.file(out);
        let mut make = Command::new("python3");
        make.args([script, addr, repo, &digest])
            .arg(&out)
            .args([identity, issuer]);
        if tamper {
            make.arg("--tamper-set");
        }
        test_support::run_ok(&mut make);
        (format!("{addr}/{repo}@{digest}"), out)
    };
    let keyless = |image: &str, root: &Path, identity: &str| {
        let root = root.to_str().unwrap().to_string();
        s.run(&[
            "verify",
            "--trusted-root",
            &root,
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
            image,
        ])
    };

    let (image, made) = make("team/keyless", "keyless", false);
    let out = keyless(&image, &made.join("trusted_root.json"), identity);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("The code-signing certificate was verified using trusted certificate authority certificates"),
        "{stderr}"
    );
    let verified: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let digest = image.rsplit_once('@').unwrap().1;
    assert_eq!(
        verified[0]["critical"]["image"]["docker-manifest-digest"],
        digest
    );
    assert!(s.tree(&image).contains("🔐 Signatures"));

    let tag = format!("layer 0 of the tag {}.sig", digest.replace(':', "-"));
    let refused = |out: Output, why: &str| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&format!("{tag}: {why}")), "{stderr}");
        // The reason is said once.
        assert_eq!(stderr.matches(why).count(), 1, "{stderr}");
    };
    refused(
        keyless(
            &image,
            &made.join("trusted_root.json"),
            "mallory@berth.test",
        ),
        "keyless: the certificate identity is \"builder@berth.test\", not \"mallory@berth.test\"",
    );
    refused(
        keyless(&image, &made.join("other_root.json"), identity),
        "keyless: the signing certificate is not trusted: no certificate authority of the trusted root issued it",
    );
    refused(
        s.run(&["verify", "--key", &s.public, &image]),
        "the signature does not verify with the key given",
    );
    let (tampered, made) = make("team/tampered", "tampered", true);
    let out = keyless(&tampered, &made.join("trusted_root.json"), identity);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("keyless: the inclusion promise (SET) does not verify with the key of https://rekor.berth.test"),
        "{stderr}"
    );
}
