//! Keyless verification of cosign's own bundle (`oci-attestation.sigstore.json`, a DSSE
//! attestation cosign made with a Fulcio certificate and logged in Rekor) against the trusted
//! root it was made under (`trusted_root_pgi.json`), both read in place from the cosign corpus;
//! and of tampered copies, each of which must fail at the step it breaks. @sigstore/verify,
//! sigstore-js's verifier, checks the same bundles and roots and must agree on each.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use berth_sigstore::{Bundle, BundleError};
use berth_trust::{
    Match, Policy, RootError, TrustError, TrustedRoot, VerifiedContent, verify_bundle,
};
use serde_json::{Value, json};

// The signing certificate (`openssl x509 -text` of the bundle's `certificate.rawBytes`):
//   Issuer: O = sigstore.dev, CN = sigstore-intermediate
//   Validity: Feb 28 19:18:11 2025 GMT to Feb 28 19:28:11 2025 GMT
//   X509v3 Subject Alternative Name: critical, email:cody@soyland.com
//   1.3.6.1.4.1.57264.1.1 and .1.8: https://github.com/login/oauth
// The Rekor entry's integrated time is 1740770291, 2025-02-28T19:18:11Z.
const IDENTITY: &str = "cody@soyland.com";
const ISSUER: &str = "https://github.com/login/oauth";

fn corpus() -> Option<PathBuf> {
    test_support::corpus("cosign")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn policy(identity: &str, issuer: &str) -> Policy {
    Policy {
        identity: Match::exact(identity),
        issuer: Match::exact(issuer),
    }
}

/// A copy of the bundle, the root or the policy, changed in one way.
struct Case {
    name: &'static str,
    bundle: Value,
    root: Value,
    identity: &'static str,
    issuer: &'static str,
    /// What berth must say: `None` to accept.
    expect: Option<fn(&Failure) -> bool>,
    /// Why @sigstore/verify accepts what berth refuses, where it is known to.
    sigstore_js_accepts: Option<&'static str>,
}

/// Why berth refused a case: the bundle did not read, or did not verify.
#[derive(Debug)]
enum Failure {
    Bundle(BundleError),
    Trust(TrustError),
}

fn berth_verifies(case: &Case) -> Result<berth_trust::Verified, Failure> {
    let bundle =
        Bundle::from_json(&serde_json::to_vec(&case.bundle).unwrap()).map_err(Failure::Bundle)?;
    let root = TrustedRoot::from_json(&serde_json::to_vec(&case.root).unwrap()).unwrap();
    verify_bundle(&bundle, &root, &policy(case.identity, case.issuer)).map_err(Failure::Trust)
}

fn b64_field(value: &mut Value, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = STANDARD.decode(value.as_str().unwrap()).unwrap();
    change(&mut bytes);
    *value = json!(STANDARD.encode(&bytes));
}

fn flip_last(bytes: &mut [u8]) {
    *bytes.last_mut().unwrap() ^= 1;
}

/// Every case: the bundle as it is, then one change each.
fn cases(dir: &Path) -> Vec<Case> {
    let bundle = read_json(&dir.join("oci-attestation.sigstore.json"));
    let root = read_json(&dir.join("trusted_root_pgi.json"));
    let base = |name| Case {
        name,
        bundle: bundle.clone(),
        root: root.clone(),
        identity: IDENTITY,
        issuer: ISSUER,
        expect: None,
        sigstore_js_accepts: None,
    };
    let mut cases = vec![base("the bundle as cosign wrote it")];
    let mut add = |name, change: &dyn Fn(&mut Case), expect: fn(&Failure) -> bool| {
        let mut case = base(name);
        change(&mut case);
        case.expect = Some(expect);
        cases.push(case);
    };
    use Failure::Trust as T;
    add(
        "a payload byte changed",
        &|c| {
            b64_field(&mut c.bundle["dsseEnvelope"]["payload"], |p| {
                let at = p.windows(3).position(|w| w == b"bar").unwrap();
                p[at + 2] = b'z';
            })
        },
        |f| matches!(f, T(TrustError::SignatureInvalid)),
    );
    add(
        "the signature changed",
        &|c| {
            b64_field(&mut c.bundle["dsseEnvelope"]["signatures"][0]["sig"], |b| {
                flip_last(b)
            })
        },
        |f| matches!(f, T(TrustError::SignatureInvalid)),
    );
    add(
        "another certificate: self-signed, same identity, envelope re-signed with its key",
        &|c| replace_certificate(&mut c.bundle),
        |f| matches!(f, T(TrustError::CertificateUntrusted(r)) if r.contains("does not verify")),
    );
    add(
        "the SET changed",
        &|c| {
            let e = tlog_entry(&mut c.bundle);
            b64_field(&mut e["inclusionPromise"]["signedEntryTimestamp"], |b| {
                flip_last(b)
            })
        },
        |f| matches!(f, T(TrustError::InclusionPromiseInvalid(_))),
    );
    add(
        "an inclusion-proof hash changed",
        &|c| {
            let e = tlog_entry(&mut c.bundle);
            b64_field(&mut e["inclusionProof"]["hashes"][3], |b| flip_last(b))
        },
        |f| matches!(f, T(TrustError::InclusionProofInvalid(_))),
    );
    add(
        "the checkpoint's signature changed",
        &|c| {
            let e = tlog_entry(&mut c.bundle);
            let envelope = e["inclusionProof"]["checkpoint"]["envelope"]
                .as_str()
                .unwrap();
            let (note, line) = envelope
                .rsplit_once("\u{2014} rekor.sigstore.dev ")
                .unwrap();
            let mut sig = json!(line.trim_end());
            b64_field(&mut sig, |b| flip_last(b));
            e["inclusionProof"]["checkpoint"]["envelope"] = json!(format!(
                "{note}\u{2014} rekor.sigstore.dev {}\n",
                sig.as_str().unwrap()
            ));
        },
        |f| matches!(f, T(TrustError::CheckpointInvalid(_))),
    );
    add(
        "the checkpoint names another tree size",
        &|c| {
            let e = tlog_entry(&mut c.bundle);
            let envelope = e["inclusionProof"]["checkpoint"]["envelope"]
                .as_str()
                .unwrap();
            e["inclusionProof"]["checkpoint"]["envelope"] =
                json!(envelope.replacen("\n53604735\n", "\n53604736\n", 1));
        },
        |f| matches!(f, T(TrustError::CheckpointInvalid(_))),
    );
    add(
        "the canonicalized body changed (the inclusion proof catches it)",
        &|c| change_body(tlog_entry(&mut c.bundle)),
        |f| matches!(f, T(TrustError::InclusionProofInvalid(_))),
    );
    add(
        "the canonicalized body changed, in a v0.1 bundle with no inclusion proof (the SET catches it)",
        &|c| {
            as_v01_without_proof(&mut c.bundle);
            change_body(tlog_entry(&mut c.bundle));
        },
        |f| matches!(f, T(TrustError::InclusionPromiseInvalid(_))),
    );
    add(
        "a v0.3 bundle without its inclusion proof",
        &|c| {
            tlog_entry(&mut c.bundle)
                .as_object_mut()
                .unwrap()
                .remove("inclusionProof");
        },
        |f| matches!(f, T(TrustError::NoInclusionProof(_))),
    );
    add(
        "no SET: the integrated time is signed by nothing",
        &|c| {
            tlog_entry(&mut c.bundle)
                .as_object_mut()
                .unwrap()
                .remove("inclusionPromise");
            c.sigstore_js_accepts = Some(
                "@sigstore/verify takes the integrated time of an entry without a SET as \
                 verified; berth, like sigstore-go, takes only a signed time",
            );
        },
        |f| matches!(f, T(TrustError::NoSignedTime)),
    );
    add(
        "the body records another payload hash",
        &|c| {
            let e = tlog_entry(&mut c.bundle);
            b64_field(&mut e["canonicalizedBody"], |body| {
                let text = String::from_utf8(body.clone()).unwrap().replace(
                    "15692616e9c435907c41411466e493f195a39ca68c973a4f5390df3d301398bd",
                    "25692616e9c435907c41411466e493f195a39ca68c973a4f5390df3d301398bd",
                );
                *body = text.into_bytes();
            });
        },
        |f| matches!(f, T(TrustError::EntryMismatch(_))),
    );
    add(
        "no transparency-log entry",
        &|c| c.bundle["verificationMaterial"]["tlogEntries"] = json!([]),
        |f| matches!(f, T(TrustError::NoLogEntry)),
    );
    add(
        "an entry with neither promise nor proof",
        &|c| {
            let e = tlog_entry(&mut c.bundle).as_object_mut().unwrap();
            e.remove("inclusionPromise");
            e.remove("inclusionProof");
        },
        |f| matches!(f, T(TrustError::NoInclusion)),
    );
    add(
        "a wrong identity",
        &|c| c.identity = "mallory@example.com",
        |f| matches!(f, T(TrustError::IdentityMismatch { .. })),
    );
    add(
        "a wrong issuer",
        &|c| c.issuer = "https://accounts.google.com",
        |f| matches!(f, T(TrustError::IssuerMismatch { .. })),
    );
    add(
        "an integrated time after the certificate expired",
        &|c| {
            let e = tlog_entry(&mut c.bundle);
            e["integratedTime"] = json!((1740770291 + 86400).to_string());
        },
        |f| matches!(f, T(TrustError::CertificateNotValidAt { .. })),
    );
    add(
        "a trusted root without the CT logs",
        &|c| c.root["ctlogs"] = json!([]),
        |f| matches!(f, T(TrustError::SctUnverified(_))),
    );
    add(
        "a trusted root whose CT log has another log's key under its id",
        &|c| {
            c.root["ctlogs"][1]["publicKey"]["rawBytes"] =
                c.root["ctlogs"][0]["publicKey"]["rawBytes"].clone()
        },
        |f| matches!(f, T(TrustError::SctUnverified(_))),
    );
    add(
        "a trusted root without the log",
        &|c| c.root["tlogs"] = json!([]),
        |f| matches!(f, T(TrustError::LogNotTrusted(_))),
    );
    add(
        "a trusted root whose log key expired before the entry",
        &|c| c.root["tlogs"][0]["publicKey"]["validFor"]["end"] = json!("2024-01-01T00:00:00Z"),
        |f| matches!(f, T(TrustError::LogNotValidAt { .. })),
    );
    add(
        "a trusted root without the CA that issued the certificate",
        &|c| {
            c.root["certificateAuthorities"]
                .as_array_mut()
                .unwrap()
                .truncate(1)
        },
        |f| matches!(f, T(TrustError::CertificateUntrusted(r)) if r.contains("no certificate authority")),
    );
    add(
        "a trusted root whose CA was trusted only until before the signature",
        &|c| c.root["certificateAuthorities"][1]["validFor"]["end"] = json!("2024-01-01T00:00:00Z"),
        |f| matches!(f, T(TrustError::AuthorityNotValidAt { .. })),
    );
    add(
        "an unknown bundle media type",
        &|c| c.bundle["mediaType"] = json!("application/vnd.dev.sigstore.bundle+cbor"),
        |f| matches!(f, Failure::Bundle(BundleError::UnknownMediaType(_))),
    );
    add(
        "a bundle version from the future",
        &|c| {
            c.bundle["mediaType"] = json!("application/vnd.dev.sigstore.bundle.v0.9+json");
            c.sigstore_js_accepts = Some(
                "@sigstore/bundle takes any media type of the form bundle.vN.N+json; berth \
                 refuses versions it does not know, which might mean what it cannot check",
            );
        },
        |f| matches!(f, Failure::Bundle(BundleError::UnknownMediaType(_))),
    );
    let mut rotated =
        base("a trusted root listing the log twice, the first span over before the entry");
    let mut expired = rotated.root["tlogs"][0].clone();
    expired["publicKey"]["validFor"]["end"] = json!("2024-01-01T00:00:00Z");
    rotated.root["tlogs"] = json!([expired, rotated.root["tlogs"][0].clone()]);
    cases.push(rotated);
    let mut v01 =
        base("the same signature as a v0.1 bundle with a certificate chain, no inclusion proof");
    as_v01_without_proof(&mut v01.bundle);
    cases.push(v01);
    let mut v02 = base("the same signature as a v0.2 bundle with a certificate chain");
    let cert = v02.bundle["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("certificate")
        .unwrap();
    v02.bundle["verificationMaterial"]["x509CertificateChain"] = json!({"certificates": [cert]});
    v02.bundle["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.2");
    cases.push(v02);
    cases
}

/// The bundle as v0.1 wrote it: the certificate as a chain, and only the SET (v0.1 bundles
/// need no inclusion proof).
fn as_v01_without_proof(bundle: &mut Value) {
    let material = bundle["verificationMaterial"].as_object_mut().unwrap();
    let cert = material.remove("certificate").unwrap();
    material.insert(
        "x509CertificateChain".into(),
        json!({"certificates": [cert]}),
    );
    bundle["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.1");
    tlog_entry(bundle)
        .as_object_mut()
        .unwrap()
        .remove("inclusionProof");
}

fn tlog_entry(bundle: &mut Value) -> &mut Value {
    &mut bundle["verificationMaterial"]["tlogEntries"][0]
}

/// The envelope hash is the one body field berth (like sigstore's verifiers) does not compare
/// with the bundle: only the log's signatures catch a change to it.
fn change_body(entry: &mut Value) {
    b64_field(&mut entry["canonicalizedBody"], |body| {
        let text = String::from_utf8(body.clone()).unwrap().replace(
            "c6adaaf149084f1977c14b5b1412f88258e5830d87a5c64403c403b9b73ff136",
            "d6adaaf149084f1977c14b5b1412f88258e5830d87a5c64403c403b9b73ff136",
        );
        assert_ne!(&text.as_bytes(), body);
        *body = text.into_bytes();
    });
}

/// A certificate an attacker can make: self-signed, naming the same email and valid at the
/// entry's time; the envelope is signed again with its key, so only the chain is wrong.
fn replace_certificate(bundle: &mut Value) {
    use p256::ecdsa::{DerSignature, SigningKey, signature::Signer as _};
    use x509_cert::builder::{Builder as _, CertificateBuilder, Profile};
    use x509_cert::der::asn1::Ia5String;
    use x509_cert::der::{Decode as _, Encode as _};
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectAltName};
    use x509_cert::spki::SubjectPublicKeyInfoOwned;
    use x509_cert::time::Validity;

    let key = SigningKey::random(&mut rand_core::OsRng);
    // Issued in the name of Fulcio's intermediate, byte for byte: only the signature differs.
    let real = STANDARD
        .decode(
            bundle["verificationMaterial"]["certificate"]["rawBytes"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let name = x509_cert::Certificate::from_der(&real)
        .unwrap()
        .tbs_certificate
        .issuer;
    let start = std::time::Duration::from_secs(1740770291 - 60);
    let validity = Validity {
        not_before: x509_cert::time::Time::try_from(std::time::UNIX_EPOCH + start).unwrap(),
        not_after: x509_cert::time::Time::try_from(
            std::time::UNIX_EPOCH + start + std::time::Duration::from_secs(600),
        )
        .unwrap(),
    };
    let spki = SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).unwrap();
    let mut builder = CertificateBuilder::new(
        Profile::Leaf {
            issuer: name.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
        },
        x509_cert::serial_number::SerialNumber::from(7u32),
        validity,
        name,
        spki,
        &key,
    )
    .unwrap();
    builder
        .add_extension(&SubjectAltName(vec![GeneralName::Rfc822Name(
            Ia5String::new(IDENTITY).unwrap(),
        )]))
        .unwrap();
    builder
        .add_extension(&ExtendedKeyUsage(vec![
            x509_cert::der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3"),
        ]))
        .unwrap();
    let cert = builder.build::<DerSignature>().unwrap().to_der().unwrap();
    bundle["verificationMaterial"]["certificate"]["rawBytes"] = json!(STANDARD.encode(cert));
    let env: berth_sigstore::Envelope =
        serde_json::from_value(bundle["dsseEnvelope"].clone()).unwrap();
    let sig: DerSignature = key.sign(&env.signed_bytes());
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = json!(STANDARD.encode(sig.as_bytes()));
}

#[test]
fn cosigns_bundle_verifies_offline_and_each_tampered_copy_fails_at_its_step() {
    let Some(dir) = corpus() else { return };
    let cases = cases(&dir);

    let verified = berth_verifies(&cases[0]).expect("cosign's bundle verifies");
    assert_eq!(verified.signer.san, IDENTITY);
    assert_eq!(verified.signer.issuer, ISSUER);
    assert_eq!(verified.integrated_time.timestamp(), 1740770291);
    assert_eq!(verified.log_indexes, vec![175508996]);
    let VerifiedContent::Dsse {
        statement: Some(statement),
        ..
    } = &verified.content
    else {
        panic!("an in-toto statement: {:?}", verified.content);
    };
    assert!(
        statement.covers_sha256("732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4")
    );

    let mut wrong = Vec::new();
    for case in &cases {
        match (berth_verifies(case), case.expect) {
            (Ok(_), None) => {}
            (Err(failure), Some(expect)) if expect(&failure) => {
                // Every refusal names what failed.
                let text = match &failure {
                    Failure::Bundle(e) => e.to_string(),
                    Failure::Trust(e) => e.to_string(),
                };
                assert!(text.len() > 20, "{}: {text}", case.name);
            }
            (got, _) => wrong.push(format!("{}: {:?}", case.name, got.map(|_| "accepted"))),
        }
    }
    assert!(wrong.is_empty(), "wrong outcomes:\n{}", wrong.join("\n"));
}

#[test]
fn a_regex_policy_matches_as_cosigns_does() {
    let Some(dir) = corpus() else { return };
    let case = &cases(&dir)[0];
    let bundle = Bundle::from_json(&serde_json::to_vec(&case.bundle).unwrap()).unwrap();
    let root = TrustedRoot::from_json(&serde_json::to_vec(&case.root).unwrap()).unwrap();
    let with = |identity: &str, issuer: &str| {
        verify_bundle(
            &bundle,
            &root,
            &Policy {
                identity: Match::regex(identity).unwrap(),
                issuer: Match::regex(issuer).unwrap(),
            },
        )
    };
    assert!(with("^[a-z]+@soyland\\.com$", "^https://github\\.com/").is_ok());
    assert!(matches!(
        with("^[a-z]+@example\\.com$", "^https://github\\.com/"),
        Err(TrustError::IdentityMismatch { .. })
    ));
    assert!(matches!(
        with("soyland", "accounts\\.google\\.com"),
        Err(TrustError::IssuerMismatch { .. })
    ));
}

#[test]
fn trusted_roots_with_unknown_media_types_or_key_types_are_refused() {
    let Some(dir) = corpus() else { return };
    let root = read_json(&dir.join("trusted_root_pgi.json"));
    let read = |v: &Value| TrustedRoot::from_json(&serde_json::to_vec(v).unwrap());
    let parsed = read(&root).unwrap();
    assert_eq!(parsed.tlogs.len(), 1);
    assert_eq!(parsed.certificate_authorities.len(), 2);
    assert_eq!(parsed.certificate_authorities[1].chain.len(), 2);
    assert_eq!(parsed.ctlogs.len(), 2);

    let mut newer = root.clone();
    newer["mediaType"] = json!("application/vnd.dev.sigstore.trustedroot.v0.1+json");
    assert!(read(&newer).is_ok());
    newer["mediaType"] = json!("application/vnd.dev.sigstore.trustedroot.v0.9+json");
    assert!(matches!(read(&newer), Err(RootError::UnknownMediaType(_))));

    let mut ed25519 = root.clone();
    ed25519["tlogs"][0]["publicKey"]["keyDetails"] = json!("PKIX_ED25519");
    let err = read(&ed25519).unwrap_err();
    assert!(matches!(err, RootError::UnknownKeyType { .. }), "{err}");
    assert!(err.to_string().contains("PKIX_ED25519"), "{err}");
}

/// Where scripts/install-test-deps puts @sigstore/cli 0.8.1 (its modules carry
/// @sigstore/verify), shared with crates/berth/tests/sign.rs.
const SIGSTORE_JS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../target/test-deps/sigstore-js/node_modules"
);

#[test]
fn sigstore_js_agrees_on_every_case() {
    let Some(dir) = corpus() else { return };
    let modules = Path::new(SIGSTORE_JS);
    assert!(
        modules.join("@sigstore/verify").is_dir(),
        "@sigstore/cli is not installed in {SIGSTORE_JS}: run scripts/install-test-deps"
    );
    let cases = cases(&dir);
    let work = tempfile::tempdir().unwrap();
    let mut list = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let (bundle, root) = (
            work.path().join(format!("{i}.bundle.json")),
            work.path().join(format!("{i}.root.json")),
        );
        std::fs::write(&bundle, serde_json::to_vec(&case.bundle).unwrap()).unwrap();
        std::fs::write(&root, serde_json::to_vec(&case.root).unwrap()).unwrap();
        list.push(json!({"root": root, "bundle": bundle, "identity": case.identity, "issuer": case.issuer}));
    }
    let mut node = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sigstore-verify.js"))
        .env("NODE_PATH", modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    std::io::Write::write_all(
        &mut node.stdin.take().unwrap(),
        &serde_json::to_vec(&list).unwrap(),
    )
    .unwrap();
    let out = node.wait_with_output().unwrap();
    assert!(out.status.success());
    let verdicts: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(verdicts.len(), cases.len());
    let mut disagree = Vec::new();
    for (case, verdict) in cases.iter().zip(&verdicts) {
        let outcome = berth_verifies(case);
        // Both verdicts, for the log: why each side refused.
        eprintln!(
            "{}:\n  berth: {:?}\n  @sigstore/verify: {verdict}",
            case.name,
            outcome.as_ref().map(|_| "accept")
        );
        let berth = outcome.is_ok();
        let js = verdict == "accept";
        if case.sigstore_js_accepts.is_some() {
            // A known difference: it must still be exactly that one.
            assert!(
                !berth && js,
                "{}: berth {berth}, @sigstore/verify {verdict}",
                case.name
            );
        } else if berth != js {
            disagree.push(format!(
                "{}: berth {}, @sigstore/verify {verdict}",
                case.name,
                if berth { "accepts" } else { "rejects" }
            ));
        }
    }
    assert!(
        disagree.is_empty(),
        "disagreements:\n{}",
        disagree.join("\n")
    );
    assert_eq!(verdicts[0], "accept");
}

#[test]
fn a_bundle_signed_with_a_key_is_not_verified_keyless() {
    let Some(dir) = corpus() else { return };
    let mut bundle = read_json(&dir.join("oci-attestation.sigstore.json"));
    let material = bundle["verificationMaterial"].as_object_mut().unwrap();
    material.remove("certificate");
    material.insert("publicKey".into(), json!({"hint": ""}));
    let bundle = Bundle::from_json(&serde_json::to_vec(&bundle).unwrap()).unwrap();
    let root =
        TrustedRoot::from_json(&std::fs::read(dir.join("trusted_root_pgi.json")).unwrap()).unwrap();
    let err = verify_bundle(&bundle, &root, &policy(IDENTITY, ISSUER)).unwrap_err();
    assert!(matches!(err, TrustError::NotKeyless), "{err}");
    assert!(err.to_string().contains("--key"), "{err}");
}
