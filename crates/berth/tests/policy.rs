//! `berth policy check` against berth's registry: one registry and one set of images for the
//! whole group (a base with a Debian package catalogue, an app built on it, signed and attested
//! with openssl-made keys, an unsigned image and an image on another base), each rule kind
//! passing and failing with its reason, and the policy file's own errors failing closed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use berth_vulndb::Database;
use serde_json::Value;
use test_support::{Berth, BerthRegistry, run_ok};

const BIN: &str = env!("CARGO_BIN_EXE_berth");

// A zlib with a HIGH advisory fixed in a later version, and a LOW one unfixed.
const STATUS: &str = "\
Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library

Package: libfoo1
Status: install ok installed
Architecture: amd64
Source: foo
Version: 1.0-1
Description: foo's library
";

const OS_RELEASE: &str = "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n";

const TRACKER: &str = r#"{
  "zlib": {"CVE-2099-0001": {"description": "zlib overflow", "releases": {"bookworm": {
    "status": "resolved", "fixed_version": "1:1.2.13.dfsg-1+deb12u1", "urgency": "high", "repositories": {}}}}},
  "foo": {"CVE-2099-0002": {"description": "foo leaks", "releases": {"bookworm": {
    "status": "open", "urgency": "low", "repositories": {}}}}}
}"#;

struct Setup {
    dir: tempfile::TempDir,
    berth: Berth,
    addr: String,
    base: String,
    other: String,
    app: String,
    unsigned: String,
    _registry: BerthRegistry,
}

/// A P-256 pair made by openssl, as paths.
fn openssl_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (key, public) = test_support::openssl_key_pair(dir, name);
    (key.into(), public.into())
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let berth = Berth::new(BIN, &d.join("store"));
    let registry = BerthRegistry::start(BIN, &d.join("registry"), None);
    let addr = registry.addr.clone();

    let base = d.join("base");
    fs::create_dir_all(base.join("var/lib/dpkg")).unwrap();
    fs::create_dir_all(base.join("etc")).unwrap();
    fs::write(base.join("var/lib/dpkg/status"), STATUS).unwrap();
    fs::write(base.join("etc/os-release"), OS_RELEASE).unwrap();
    berth.ok(&["import", "-q", base.to_str().unwrap(), "base:1"]);
    let other = d.join("other");
    fs::create_dir_all(&other).unwrap();
    fs::write(other.join("file"), "another base\n").unwrap();
    berth.ok(&["import", "-q", other.to_str().unwrap(), "other:1"]);
    for (name, from) in [("app", "base:1"), ("unsigned", "other:1")] {
        let ctx = d.join(format!("ctx-{name}"));
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("Dockerfile"), format!("FROM {from}\nCOPY f /f\n")).unwrap();
        fs::write(ctx.join("f"), name).unwrap();
        berth.ok(&[
            "build",
            "-q",
            "-t",
            &format!("{name}:1"),
            ctx.to_str().unwrap(),
        ]);
    }
    let push = |local: &str, remote: &str| {
        let out = berth.ok(&["push", "-q", local, &format!("{addr}/{remote}")]);
        out.trim().rsplit_once('@').unwrap().1.to_string()
    };
    let base = push("base:1", "library/base:1");
    let other = push("other:1", "library/other:1");
    let app = push("app:1", "team/app:1");
    let unsigned = push("unsigned:1", "team/unsigned:1");

    let (key, _) = openssl_pair(d, "signer");
    openssl_pair(d, "stranger");
    let app_ref = format!("{addr}/team/app@{app}");
    let sign = |args: &[&str]| {
        let out = berth
            .command()
            .args(args)
            .env_remove("COSIGN_PASSWORD")
            .env_remove("BERTH_PASSWORD")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sign(&["sign", "--key", key.to_str().unwrap(), &app_ref]);
    fs::write(d.join("predicate.json"), r#"{"built": "here"}"#).unwrap();
    sign(&[
        "attest",
        "--key",
        key.to_str().unwrap(),
        "--type",
        "custom",
        "--predicate",
        d.join("predicate.json").to_str().unwrap(),
        &app_ref,
    ]);

    fs::write(d.join("tracker.json"), TRACKER).unwrap();
    let mut db = Database::new();
    db.import("debian", &d.join("tracker.json")).unwrap();
    db.save(&d.join("db")).unwrap();

    Setup {
        dir,
        berth,
        addr,
        base,
        other,
        app,
        unsigned,
        _registry: registry,
    }
}

impl Setup {
    /// `berth policy check IMAGE --policy FILE -o json` with `policy` written to `name`.
    fn check(&self, image: &str, name: &str, policy: &str) -> (Output, Option<Value>) {
        let path = self.dir.path().join(name);
        fs::write(&path, policy.replace("ADDR", &self.addr)).unwrap();
        let out = self
            .berth
            .command()
            .args(["policy", "check", image, "--policy"])
            .arg(&path)
            .args(["-o", "json"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        let report = serde_json::from_slice(&out.stdout).ok();
        (out, report)
    }

    fn image(&self, repo: &str, digest: &str) -> String {
        format!("{}/{repo}@{digest}", self.addr)
    }
}

/// The verdicts of a report, as (rule, pass, reason).
fn verdicts(report: &Value) -> Vec<(String, bool, String)> {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_string(),
                r["pass"].as_bool().unwrap(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const FULL: &str = r#"
[[signatures]]
repositories = ["ADDR/team/*"]
keys = ["signer.pub"]

[[attestations]]
repositories = ["ADDR/team/app"]
predicate-type = "custom"
keys = ["signer.pub"]

[[scan]]
repositories = ["ADDR/team/**"]
max-severity = "HIGH"
db = "db"

[[base-images]]
repositories = ["ADDR/team/app"]
allowed = ["ADDR/library/other@OTHER", "ADDR/library/base@BASE"]
"#;

#[test]
fn policy_check_gives_each_rules_verdict_and_fails_closed() {
    let s = setup();
    let full = FULL.replace("OTHER", &s.other).replace("BASE", &s.base);

    // The signed, attested app on the allowed base, with nothing above HIGH: every rule passes.
    let app = s.image("team/app", &s.app);
    let (out, report) = s.check(&app, "full.toml", &full);
    let report = report.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report["pass"], true);
    assert_eq!(report["digest"], s.app.as_str());
    let v = verdicts(&report);
    let rules: Vec<&str> = v.iter().map(|(r, _, _)| r.as_str()).collect();
    assert_eq!(
        rules,
        [
            "signatures[0]",
            "attestations[0]",
            "base-images[0]",
            "scan[0]"
        ]
    );
    assert!(
        v[0].2
            .starts_with("signature by key signer.pub (referrer sha256:"),
        "{v:?}"
    );
    assert!(
        v[1].2.starts_with(
            "attestation of type https://cosign.sigstore.dev/attestation/v1 by key signer.pub"
        ),
        "{v:?}"
    );
    assert_eq!(
        v[2].2,
        format!(
            "built on {}/library/base@{}: its 1 layers are the image's first 1",
            s.addr, s.base
        )
    );
    assert_eq!(v[3].2, "no finding above HIGH");

    // The same policy as JSON, told by its content (no extension), and as text output.
    let json = r#"{"signatures": [{"repositories": ["ADDR/team/*"], "keys": ["signer.pub"]}]}"#;
    let (out, _) = s.check(&app, "policy", json);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The unsigned image, on another base: its rules fail with their reasons, exit 1.
    let unsigned = s.image("team/unsigned", &s.unsigned);
    let (out, report) = s.check(&unsigned, "full.toml", &full);
    assert_eq!(out.status.code(), Some(1));
    let v = verdicts(&report.unwrap());
    assert_eq!(
        v[0],
        (
            "signatures[0]".to_string(),
            false,
            format!(
                "no signature by key signer.pub: none found for {}",
                s.unsigned
            )
        )
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}/team/unsigned@{} fails 1 of 2 rules of the policy",
            s.addr, s.unsigned
        )),
        "{stderr}"
    );

    // A wrong key, a missing attestation, a finding above the maximum, another base.
    let strict = format!(
        r#"
[[signatures]]
repositories = ["ADDR/team/app"]
keys = ["stranger.pub"]

[[attestations]]
repositories = ["ADDR/team/app"]
predicate-type = "slsaprovenance1"
keys = ["signer.pub"]

[[scan]]
repositories = ["ADDR/team/app"]
max-severity = "medium"
db = "db"

[[base-images]]
repositories = ["ADDR/team/app"]
allowed = ["ADDR/library/other@{}"]
"#,
        s.other
    );
    let (out, report) = s.check(&app, "strict.toml", &strict);
    assert_eq!(out.status.code(), Some(1));
    let v = verdicts(&report.unwrap());
    assert!(v.iter().all(|(_, pass, _)| !pass), "{v:?}");
    assert!(
        v[0].2.starts_with(&format!(
            "no signature by key stranger.pub covers {}: referrer sha256:",
            s.app
        )) && v[0]
            .2
            .ends_with("the signature does not verify with the key given"),
        "{v:?}"
    );
    assert!(
        v[1].2.contains("the attestation's predicate type is \"https://cosign.sigstore.dev/attestation/v1\", not \"https://slsa.dev/provenance/v1\""),
        "{v:?}"
    );
    assert!(
        v[2].2.starts_with(&format!(
            "built on none of the allowed base images: not {}/library/other@{} (its layer 0, sha256:",
            s.addr, s.other
        )),
        "{v:?}"
    );
    assert_eq!(
        v[3].2,
        "1 findings above MEDIUM: CVE-2099-0001 in zlib1g 1:1.2.13.dfsg-1 (HIGH)"
    );

    // `require = "all"`: one signer of two is not enough.
    let all = r#"
[[signatures]]
repositories = ["ADDR/team/app"]
keys = ["signer.pub", "stranger.pub"]
require = "all"
"#;
    let (out, report) = s.check(&app, "all.toml", all);
    assert_eq!(out.status.code(), Some(1));
    let v = verdicts(&report.unwrap());
    assert!(
        v[0].2.starts_with("no signature by key stranger.pub"),
        "{v:?}"
    );

    // A keyless signer (cosign's trusted root from the corpus): berth's key-signed bundles and
    // legacy signatures are not taken for keyless ones.
    if let Some(corpus) = test_support::corpus("cosign") {
        let root = corpus.join("trusted_root_pgi.json");
        let keyless = format!(
            r#"
[[signatures]]
repositories = ["ADDR/team/app"]
[[signatures.keyless]]
trusted-root = "{}"
identity = "cody@soyland.com"
issuer-regexp = "^https://github\\.com/"
"#,
            root.display()
        );
        let (out, report) = s.check(&app, "keyless.toml", &keyless);
        assert_eq!(out.status.code(), Some(1));
        let v = verdicts(&report.unwrap());
        assert!(
        v[0].2.starts_with(&format!(
            "no signature by identity \"cody@soyland.com\" of issuer a match of /^https://github\\.com// covers {}: referrer sha256:",
            s.app
        )) && v[0].2.contains("the bundle is signed with a public key, not a certificate"),
        "{v:?}"
    );
    }

    // An image no rule covers is refused, and so is one the registry cannot be asked about.
    let (out, _) = s.check(&s.image("library/base", &s.base), "full.toml", &full);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no rule of the policy"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let closed = format!("127.0.0.1:1/team/app@{}", s.app);
    let (out, report) = s.check(&closed, "full.toml", &full);
    assert_eq!(out.status.code(), Some(1));
    assert!(report.is_none());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("127.0.0.1:1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_malformed_policy_fails_closed_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::new(BIN, &dir.path().join("store"));
    openssl_pair(dir.path(), "signer");
    let check = |name: &str, text: &str| -> String {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        let out = berth
            .command()
            .args(["policy", "check", "127.0.0.1:1/app:1", "--policy"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = check(
        "typo.toml",
        "[[signatures]]\nrepositories = [\"a/*\"]\nkey = [\"signer.pub\"]\n",
    );
    assert!(
        err.contains("typo.toml:3: not a valid policy (TOML): unknown field `key`"),
        "{err}"
    );
    let err = check("bad.json", "{\"signatures\": [\n  {\"repositories\": 1}]}");
    assert!(
        err.contains("bad.json: not a valid policy (JSON)") && err.contains("line 2"),
        "{err}"
    );
    let err = check(
        "both.toml",
        "[[signatures]]\nrepositories = [\"a/*\"]\n[[signatures.keyless]]\ntrusted-root = \"r.json\"\nidentity = \"a\"\nidentity-regexp = \"b\"\nissuer = \"i\"\n",
    );
    assert!(
        err.contains("both.toml:3") && err.contains("exactly one of identity and identity-regexp"),
        "{err}"
    );
    let err = check("nobody.toml", "[[signatures]]\nrepositories = [\"a/*\"]\n");
    assert!(err.contains("names no signer"), "{err}");
    let err = check(
        "missing.toml",
        "[[signatures]]\nrepositories = [\"a/*\"]\nkeys = [\"absent.pub\"]\n",
    );
    assert!(
        err.contains("reading the public key") && err.contains("absent.pub"),
        "{err}"
    );
    let err = check(
        "tag.toml",
        "[[base-images]]\nrepositories = [\"a/*\"]\nallowed = [\"127.0.0.1:1/base:1\"]\n",
    );
    assert!(
        err.contains("tag.toml:3") && err.contains("has no digest"),
        "{err}"
    );
}

/// `skopeo --insecure-policy ARGS` (the registries here are plain HTTP).
fn skopeo(args: &[&str]) -> Output {
    test_support::require("skopeo");
    Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_registry_refuses_pulls_the_signature_policy_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let berth = Berth::new(BIN, &d.join("store"));
    let (key, _) = openssl_pair(d, "signer");
    let (stranger, _) = openssl_pair(d, "stranger");
    fs::write(
        d.join("pull.toml"),
        "[[signatures]]\nrepositories = [\"team/*\"]\nkeys = [\"signer.pub\"]\n",
    )
    .unwrap();
    let gated = BerthRegistry::start(
        BIN,
        &d.join("gated"),
        Some(&format!(
            "pull_policy = \"{}\"\n",
            d.join("pull.toml").display()
        )),
    );
    // Where the image is built and signed before it is promoted: no policy there.
    let staging = BerthRegistry::start(BIN, &d.join("staging"), None);
    let ctx = d.join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("file"), "app\n").unwrap();
    berth.ok(&["import", "-q", ctx.to_str().unwrap(), "app:1"]);
    let push = |addr: &str, repo: &str| {
        let out = berth.ok(&["push", "-q", "app:1", &format!("{addr}/{repo}")]);
        out.trim().rsplit_once('@').unwrap().1.to_string()
    };
    // Pushes are let through; the pull of the unsigned image is refused with the reason.
    let digest = push(&gated.addr, "team/app:1");
    push(&gated.addr, "free/app:1");
    let image = format!("{}/team/app:1", gated.addr);
    let out = berth.run(&["pull", "-q", &image]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let reason = format!("no signature by key signer.pub: none found for {digest}");
    assert!(stderr.contains(&reason), "{stderr}");
    assert!(
        stderr.contains("403 Forbidden") && stderr.contains("(DENIED)"),
        "{stderr}"
    );
    let by_digest = format!("docker://{}/team/app@{digest}", gated.addr);
    let out = skopeo(&["inspect", "--raw", "--tls-verify=false", &by_digest]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("denied") && stderr.contains(&reason),
        "{stderr}"
    );
    // A HEAD is answered (digest, type and size, no content): it is how a signer resolves
    // the image. The GET of the same manifest is refused.
    let manifest = format!("http://{}/v2/team/app/manifests/1", gated.addr);
    let accept = "Accept: application/vnd.oci.image.manifest.v1+json";
    let status = |method: &[&str]| {
        run_ok(
            Command::new("curl")
                .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", accept])
                .args(method)
                .arg(&manifest),
        )
    };
    assert_eq!(status(&["-I"]), "200");
    assert_eq!(status(&[]), "403");
    // A repository the policy does not cover is not gated.
    berth.ok(&["pull", "-q", &format!("{}/free/app:1", gated.addr)]);

    // Signed in staging (same image, same digest) and the signature promoted: each pushed
    // signature tag changes the remembered verdict. First a stranger's signature, then ours.
    push(&staging.addr, "team/app:1");
    let staged = format!("{}/team/app@{digest}", staging.addr);
    let tag = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
    let sign_and_promote = |key: &Path| {
        let signed = berth
            .command()
            .args([
                "sign",
                "--key",
                key.to_str().unwrap(),
                "--bundle-format",
                "legacy",
                &staged,
            ])
            .env_remove("COSIGN_PASSWORD")
            .env_remove("BERTH_PASSWORD")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            signed.status.success(),
            "{}",
            String::from_utf8_lossy(&signed.stderr)
        );
        let out = skopeo(&[
            "copy",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &format!("docker://{}/team/app:{tag}", staging.addr),
            &format!("docker://{}/team/app:{tag}", gated.addr),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sign_and_promote(&stranger);
    let out = berth.run(&["pull", "-q", &image]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "no signature by key signer.pub covers {digest}: layer 0 of the tag {tag}: the signature does not verify with the key given"
        )),
        "{stderr}"
    );
    // Signed where it is gated, by tag (resolved with the HEAD the gate answers), in the
    // default bundle format: the referrer is judged and the pull goes through.
    let signed = berth
        .command()
        .args(["sign", "--key", key.to_str().unwrap(), &image])
        .env_remove("COSIGN_PASSWORD")
        .env_remove("BERTH_PASSWORD")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&signed.stderr);
    assert!(signed.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("resolved once, to {digest}")),
        "{stderr}"
    );
    berth.ok(&["pull", "-q", &image]);
    // The signature's subject is the image as a GET describes it: the HEAD's digest, type and
    // size.
    let get = |path: &str| -> String {
        let url = format!("http://{}/v2/team/app/{path}", gated.addr);
        run_ok(Command::new("curl").args(["-sSf", "-H", accept, &url]))
    };
    let listed: Value = serde_json::from_str(&get(&format!("referrers/{digest}"))).unwrap();
    let [referrer] = listed["manifests"].as_array().unwrap().as_slice() else {
        panic!("one referrer: {listed}");
    };
    let signature: Value = serde_json::from_str(&get(&format!(
        "manifests/{}",
        referrer["digest"].as_str().unwrap()
    )))
    .unwrap();
    let subject = &signature["subject"];
    assert_eq!(subject["digest"], digest.as_str());
    assert_eq!(subject["size"], get("manifests/1").len());
    assert_eq!(
        subject["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let out = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &by_digest,
        &format!("oci:{}:app", d.join("layout").display()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
