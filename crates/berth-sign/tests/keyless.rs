//! The keyless verifier on the path `berth verify-attestation` takes: cosign's own keyless
//! attestation bundle (from the test corpus) verified against the trusted root it was made
//! under, then its statement checked against the image digest. The bundle's subject is an
//! image no test can push (its digest cannot be forged), so this is where a matching subject is
//! checked; tests/sign.rs in the berth crate checks the wiring through a registry.

use std::collections::BTreeMap;

use berth_sign::image::{
    KeylessMaterial, Verifier, VerifyError, check_statement, predicate_type_uri,
};
use berth_trust::{Match, Policy, TrustedRoot};

// The bundle's certificate and statement (see crates/berth-trust/tests/keyless.rs).
const IDENTITY: &str = "cody@soyland.com";
const ISSUER: &str = "https://github.com/login/oauth";
const SUBJECT: &str = "732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";

fn verifier(identity: Match, issuer: Match) -> Option<(Verifier, Vec<u8>)> {
    let dir = test_support::corpus("cosign")?;
    let root =
        TrustedRoot::from_json(&std::fs::read(dir.join("trusted_root_pgi.json")).unwrap()).unwrap();
    let bundle = std::fs::read(dir.join("oci-attestation.sigstore.json")).unwrap();
    let signer = Policy { identity, issuer };
    Some((
        Verifier::Keyless {
            root: Box::new(root),
            signer,
        },
        bundle,
    ))
}

#[test]
fn a_keyless_attestation_about_the_digest_verifies() {
    let Some((verifier, bundle)) = verifier(Match::exact(IDENTITY), Match::exact(ISSUER)) else {
        return;
    };
    let envelope = verifier.verify_bundle(&bundle).unwrap();
    let custom = predicate_type_uri("custom").unwrap();
    let statement = check_statement(&envelope, SUBJECT, custom, &BTreeMap::new()).unwrap();
    assert_eq!(statement.predicate_type, custom);

    let other = "0".repeat(64);
    let err = check_statement(&envelope, &other, custom, &BTreeMap::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("the signature is over sha256:{SUBJECT}, not the image's digest sha256:{other}")
    );
}

#[test]
fn a_keyless_verifier_refuses_another_signer_and_legacy_signatures() {
    let Some((verifier, bundle)) = verifier(
        Match::regex("@example\\.com$").unwrap(),
        Match::exact(ISSUER),
    ) else {
        return;
    };
    let err = verifier.verify_bundle(&bundle).unwrap_err();
    assert!(matches!(err, VerifyError::Untrusted(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "keyless: the certificate identity is \"cody@soyland.com\", not a match of /@example\\.com$/ (--certificate-identity)"
    );
    // A legacy signature made with a key: no certificate to verify keylessly.
    let err = verifier
        .verify_legacy_signature(b"payload", b"sig", KeylessMaterial::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the signature carries no certificate: it was made with a key"),
        "{err}"
    );
    // One with a certificate but no Rekor bundle: nothing proves it was logged.
    let material = KeylessMaterial {
        certificate: Some("-----BEGIN CERTIFICATE-----"),
        rekor_bundle: None,
    };
    let err = verifier
        .verify_legacy_signature(b"payload", b"sig", material)
        .unwrap_err();
    assert!(err.to_string().contains("carries no Rekor bundle"), "{err}");
    // A legacy DSSE attestation is verified with a key only.
    let err = verifier.verify_blob(b"payload", b"sig").unwrap_err();
    assert!(err.to_string().contains("verified with --key"), "{err}");
}
