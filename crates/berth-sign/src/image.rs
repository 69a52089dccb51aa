//! Signatures and attestations of images, in cosign's two formats, made and checked.
//!
//! - Legacy: a "simple signing" payload naming the image's digest, signed as it is (ECDSA over
//!   SHA-256 of the bytes); attestations are DSSE envelopes of in-toto statements.
//! - Sigstore bundle: a DSSE envelope of an in-toto statement (for a plain signature, the
//!   predicate type [`SIGN_PREDICATE_TYPE`]) in a bundle v0.3 whose verification material is
//!   a hint at the public key, as cosign 3 writes with a key and no transparency log.
//!
//! Verifying answers what was signed only after the signature is checked, and checks that the
//! signed payload names the digest the caller resolved: a signature is never taken for an
//! image it does not name.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use berth_sigstore::bundle::{KeyMaterial, PublicKeyIdentifier};
use berth_sigstore::{
    Bundle, Content, Envelope, IN_TOTO_PAYLOAD_TYPE, MediaType, Statement, Subject,
    VerificationMaterial,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{PrivateKey, PublicKey};

/// The predicate type of cosign 3's image signatures.
pub const SIGN_PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";
/// The media type of a legacy signature layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The media type of a legacy attestation layer.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The layer annotation holding a legacy signature (standard base64 of the DER signature).
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The `critical.type` of a simple signing payload.
const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";

/// Why a signature or what it signs is not accepted. Each names what failed and where.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("the signature does not verify with the key given")]
    BadSignature,
    #[error("the signed payload is malformed: {0}")]
    Payload(String),
    #[error("the signature is over {signed}, not the image's digest {wanted}")]
    OtherDigest { signed: String, wanted: String },
    #[error("the attestation's predicate type is {found:?}, not {wanted:?}")]
    OtherPredicateType { found: String, wanted: String },
    #[error("annotation {key}={wanted:?} is not in the signed payload (it has {found})")]
    Annotation {
        key: String,
        wanted: String,
        found: String,
    },
    #[error(transparent)]
    Bundle(#[from] berth_sigstore::BundleError),
    /// Not a `#[source]`: the message says the reason already, and a chain would repeat it.
    #[error("keyless: {0}")]
    Untrusted(berth_trust::TrustError),
    #[error("{0}")]
    Unsupported(String),
}

impl From<berth_trust::TrustError> for VerifyError {
    fn from(e: berth_trust::TrustError) -> VerifyError {
        VerifyError::Untrusted(e)
    }
}

/// The payload of a legacy signature, in cosign's key order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimpleSigning {
    pub critical: Critical,
    /// `cosign sign -a` annotations; `null` when none.
    pub optional: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Critical {
    pub identity: Identity,
    pub image: ImageDigest,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageDigest {
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

impl SimpleSigning {
    /// The payload for the image `repository@digest` (`digest` as `sha256:<hex>`).
    pub fn new(repository: &str, digest: &str, annotations: &BTreeMap<String, String>) -> Self {
        SimpleSigning {
            critical: Critical {
                identity: Identity {
                    docker_reference: repository.to_string(),
                },
                image: ImageDigest {
                    docker_manifest_digest: digest.to_string(),
                },
                kind: SIMPLE_SIGNING_TYPE.to_string(),
            },
            optional: string_map(annotations),
        }
    }

    /// Compact JSON, as cosign writes it.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a payload always serialises")
    }
}

fn string_map(annotations: &BTreeMap<String, String>) -> Option<Map<String, Value>> {
    (!annotations.is_empty()).then(|| {
        annotations
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect()
    })
}

/// The in-toto statement of cosign 3's image signature: the image's digest as subject (with
/// the annotations), an empty predicate.
pub fn sign_statement(
    repository: &str,
    digest_hex: &str,
    annotations: &BTreeMap<String, String>,
) -> Statement {
    let mut subject = Subject::sha256(repository, digest_hex);
    subject.annotations = string_map(annotations);
    Statement::new(subject, SIGN_PREDICATE_TYPE, Value::Object(Map::new()))
}

/// A DSSE envelope of `statement`, signed over its pre-authentication encoding.
pub fn sign_statement_envelope(key: &PrivateKey, statement: &Statement) -> Envelope {
    let payload = serde_json::to_vec(statement).expect("a statement always serialises");
    let signed = berth_sigstore::pae(IN_TOTO_PAYLOAD_TYPE, &payload);
    Envelope {
        payload,
        payload_type: IN_TOTO_PAYLOAD_TYPE.to_string(),
        signatures: vec![berth_sigstore::Signature {
            sig: key.sign(&signed),
            keyid: String::new(),
        }],
    }
}

/// A bundle v0.3 of `envelope` for verification with `key`'s public half: no certificate, no
/// transparency-log entry (there is no log here), a hint naming the key.
pub fn key_bundle(key: &PublicKey, envelope: Envelope) -> Bundle {
    Bundle {
        media_type: MediaType::V03,
        verification_material: VerificationMaterial {
            key: KeyMaterial::PublicKey(PublicKeyIdentifier { hint: key.hint() }),
            tlog_entries: Vec::new(),
            timestamp_verification_data: None,
        },
        content: Content::DsseEnvelope(envelope),
    }
}

/// What checks signatures: a public key, or keyless, a bundle's certificate checked against a
/// trusted root and the signer it must name (berth-trust).
pub enum Verifier {
    Key(PublicKey),
    Keyless {
        root: Box<berth_trust::TrustedRoot>,
        signer: berth_trust::Policy,
    },
}

/// What cosign annotates a legacy keyless signature layer with: the signing certificate
/// (`dev.sigstore.cosign/certificate`, PEM) and the Rekor bundle
/// (`dev.sigstore.cosign/bundle`, JSON); each `None` when the layer lacks it.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeylessMaterial<'a> {
    pub certificate: Option<&'a str>,
    pub rekor_bundle: Option<&'a str>,
}

impl Verifier {
    /// A legacy signature layer: with a key, `signature` (DER) over `payload`; keyless, also
    /// its certificate and Rekor bundle, as berth-trust checks a bundle's.
    pub fn verify_legacy_signature(
        &self,
        payload: &[u8],
        signature: &[u8],
        material: KeylessMaterial<'_>,
    ) -> Result<(), VerifyError> {
        let Verifier::Keyless { root, signer } = self else {
            return self.verify_blob(payload, signature);
        };
        let Some(certificate) = material.certificate else {
            return Err(VerifyError::Unsupported(
                "the signature carries no certificate: it was made with a key (verify it with --key)"
                    .into(),
            ));
        };
        let Some(rekor_bundle) = material.rekor_bundle else {
            return Err(VerifyError::Unsupported(
                "the signature carries no Rekor bundle (dev.sigstore.cosign/bundle): berth \
                 verifies keyless signatures offline, through the log's signed entry timestamp"
                    .into(),
            ));
        };
        berth_trust::verify_legacy_signature(
            payload,
            signature,
            certificate,
            rekor_bundle,
            root,
            signer,
        )?;
        Ok(())
    }

    /// A legacy signature: `signature` (DER) over `payload`.
    pub fn verify_blob(&self, payload: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
        match self {
            Verifier::Key(key) if key.verify(payload, signature) => Ok(()),
            Verifier::Key(_) => Err(VerifyError::BadSignature),
            Verifier::Keyless { .. } => Err(VerifyError::Unsupported(KEYLESS_BUNDLES_ONLY.into())),
        }
    }

    /// A DSSE envelope: some signature of it verifies over its pre-authentication encoding.
    pub fn verify_envelope(&self, envelope: &Envelope) -> Result<(), VerifyError> {
        if let Verifier::Keyless { .. } = self {
            return Err(VerifyError::Unsupported(KEYLESS_BUNDLES_ONLY.into()));
        }
        let signed = envelope.signed_bytes();
        if envelope
            .signatures
            .iter()
            .any(|s| self.verify_blob(&signed, &s.sig).is_ok())
        {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }

    /// A bundle (JSON): its envelope, once its signature verifies.
    pub fn verify_bundle(&self, bytes: &[u8]) -> Result<Envelope, VerifyError> {
        let bundle = Bundle::from_json(bytes)?;
        match (self, &bundle.verification_material.key) {
            (Verifier::Key(_), KeyMaterial::PublicKey(_)) => {}
            (Verifier::Key(_), _) => {
                return Err(VerifyError::Unsupported(
                    "the bundle was signed keylessly (it carries a certificate), not with a key"
                        .into(),
                ));
            }
            (Verifier::Keyless { root, signer }, _) => {
                if !matches!(bundle.content, Content::DsseEnvelope(_)) {
                    return Err(not_an_envelope());
                }
                berth_trust::verify_bundle(&bundle, root, signer)?;
                let Content::DsseEnvelope(envelope) = bundle.content else {
                    return Err(not_an_envelope());
                };
                return Ok(envelope);
            }
        }
        let Content::DsseEnvelope(envelope) = bundle.content else {
            return Err(not_an_envelope());
        };
        self.verify_envelope(&envelope)?;
        Ok(envelope)
    }
}

/// Keyless attestations are read from sigstore bundles only: a legacy `.att` layer's log
/// entry (an `intoto` record) is not one berth verifies.
const KEYLESS_BUNDLES_ONLY: &str = "keyless verification covers sigstore bundles (referrers) \
     and legacy signatures; a legacy attestation tag is verified with --key";

fn not_an_envelope() -> VerifyError {
    VerifyError::Unsupported(
        "the bundle holds a message signature, not the DSSE envelope an image's signature or \
         attestation is"
            .into(),
    )
}

/// A verified legacy payload's claims: it names `digest` and carries `annotations`.
pub fn check_simple_signing(
    payload: &[u8],
    digest: &str,
    annotations: &BTreeMap<String, String>,
) -> Result<SimpleSigning, VerifyError> {
    let signing: SimpleSigning =
        serde_json::from_slice(payload).map_err(|e| VerifyError::Payload(e.to_string()))?;
    if signing.critical.kind != SIMPLE_SIGNING_TYPE {
        return Err(VerifyError::Payload(format!(
            "critical.type is {:?}, not {SIMPLE_SIGNING_TYPE:?}",
            signing.critical.kind
        )));
    }
    let signed = &signing.critical.image.docker_manifest_digest;
    if signed != digest {
        return Err(VerifyError::OtherDigest {
            signed: signed.clone(),
            wanted: digest.to_string(),
        });
    }
    check_annotations(signing.optional.as_ref(), annotations)?;
    Ok(signing)
}

/// A verified envelope's statement: in-toto, about `digest_hex` (sha256), of
/// `predicate_type`, carrying `annotations` on the subject naming the digest.
pub fn check_statement(
    envelope: &Envelope,
    digest_hex: &str,
    predicate_type: &str,
    annotations: &BTreeMap<String, String>,
) -> Result<Statement, VerifyError> {
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(VerifyError::Payload(format!(
            "payload type {:?}, not {IN_TOTO_PAYLOAD_TYPE:?}",
            envelope.payload_type
        )));
    }
    let statement: Statement = serde_json::from_slice(&envelope.payload)
        .map_err(|e| VerifyError::Payload(format!("not an in-toto statement: {e}")))?;
    if !statement.is_known_type() {
        return Err(VerifyError::Payload(format!(
            "statement type {:?} is not in-toto's",
            statement.statement_type
        )));
    }
    let Some(subject) = statement
        .subject
        .iter()
        .find(|s| s.digest.get("sha256").is_some_and(|d| d == digest_hex))
    else {
        let signed = statement
            .subject
            .iter()
            .filter_map(|s| s.digest.get("sha256"))
            .map(|d| format!("sha256:{d}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(VerifyError::OtherDigest {
            signed: if signed.is_empty() {
                "no sha256 digest".into()
            } else {
                signed
            },
            wanted: format!("sha256:{digest_hex}"),
        });
    };
    if statement.predicate_type != predicate_type {
        return Err(VerifyError::OtherPredicateType {
            found: statement.predicate_type.clone(),
            wanted: predicate_type.to_string(),
        });
    }
    check_annotations(subject.annotations.as_ref(), annotations)?;
    Ok(statement)
}

fn check_annotations(
    found: Option<&Map<String, Value>>,
    wanted: &BTreeMap<String, String>,
) -> Result<(), VerifyError> {
    for (key, value) in wanted {
        let have = found.and_then(|m| m.get(key));
        if have.and_then(Value::as_str) != Some(value.as_str()) {
            return Err(VerifyError::Annotation {
                key: key.clone(),
                wanted: value.clone(),
                found: have.map_or_else(|| "none".to_string(), Value::to_string),
            });
        }
    }
    Ok(())
}

/// The predicate type an attestation's `--type` names: cosign's short names, or a URI.
pub fn predicate_type_uri(name: &str) -> Option<&str> {
    Some(match name {
        "custom" => CUSTOM_PREDICATE_TYPE,
        "slsaprovenance" | "slsaprovenance02" => "https://slsa.dev/provenance/v0.2",
        "slsaprovenance1" => "https://slsa.dev/provenance/v1",
        "spdx" | "spdxjson" => "https://spdx.dev/Document",
        "cyclonedx" => "https://cyclonedx.org/bom",
        "link" => "https://in-toto.io/Link/v1",
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1",
        "openvex" => "https://openvex.dev/ns",
        uri if is_uri(uri) => uri,
        _ => return None,
    })
}

/// cosign's predicate type for `--type custom`: the file wrapped as text with a timestamp.
const CUSTOM_PREDICATE_TYPE: &str = "https://cosign.sigstore.dev/attestation/v1";

fn is_uri(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+')
            && !rest.is_empty()
    })
}

/// The predicate of an attestation of type `uri` from the file's bytes: cosign's custom type
/// wraps the text (`{"Data": …, "Timestamp": …}`), every other type is the file's JSON.
pub fn predicate(uri: &str, file: &[u8], timestamp: &str) -> Result<Value, VerifyError> {
    if uri == CUSTOM_PREDICATE_TYPE {
        let text = std::str::from_utf8(file)
            .map_err(|_| VerifyError::Payload("the predicate file is not UTF-8 text".into()))?;
        return Ok(serde_json::json!({"Data": text, "Timestamp": timestamp}));
    }
    let value: Value = serde_json::from_slice(file).map_err(|e| {
        VerifyError::Payload(format!("the predicate of type {uri} is not JSON: {e}"))
    })?;
    if !value.is_object() {
        return Err(VerifyError::Payload(format!(
            "the predicate of type {uri} is not a JSON object"
        )));
    }
    Ok(value)
}

/// A legacy signature layer's annotation value.
pub fn signature_annotation(signature: &[u8]) -> String {
    STANDARD.encode(signature)
}

/// The signature an annotation holds.
pub fn signature_from_annotation(text: &str) -> Result<Vec<u8>, VerifyError> {
    STANDARD
        .decode(text.trim().as_bytes())
        .map_err(|e| VerifyError::Payload(format!("{SIGNATURE_ANNOTATION} is not base64: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_signing_is_written_in_cosigns_key_order() {
        let none = SimpleSigning::new("r.example/app", "sha256:ab", &BTreeMap::new());
        assert_eq!(
            String::from_utf8(none.to_bytes()).unwrap(),
            r#"{"critical":{"identity":{"docker-reference":"r.example/app"},"image":{"docker-manifest-digest":"sha256:ab"},"type":"cosign container image signature"},"optional":null}"#
        );
        let annotated = SimpleSigning::new(
            "r.example/app",
            "sha256:ab",
            &BTreeMap::from([("team".to_string(), "x".to_string())]),
        );
        assert!(
            String::from_utf8(annotated.to_bytes())
                .unwrap()
                .ends_with(r#""optional":{"team":"x"}}"#)
        );
    }

    #[test]
    fn a_signed_statement_verifies_and_names_its_digest() {
        let key = PrivateKey::generate();
        let verifier = Verifier::Key(key.public_key());
        let annotations = BTreeMap::from([("a".to_string(), "b".to_string())]);
        let statement = sign_statement("r/app", "ab", &annotations);
        let envelope = sign_statement_envelope(&key, &statement);
        let bundle = key_bundle(&key.public_key(), envelope).to_json();
        let envelope = verifier.verify_bundle(&bundle).unwrap();
        check_statement(&envelope, "ab", SIGN_PREDICATE_TYPE, &annotations).unwrap();
        assert!(matches!(
            check_statement(&envelope, "cd", SIGN_PREDICATE_TYPE, &annotations),
            Err(VerifyError::OtherDigest { .. })
        ));
        let other = BTreeMap::from([("a".to_string(), "c".to_string())]);
        assert!(matches!(
            check_statement(&envelope, "ab", SIGN_PREDICATE_TYPE, &other),
            Err(VerifyError::Annotation { .. })
        ));
        let stranger = Verifier::Key(PrivateKey::generate().public_key());
        assert!(matches!(
            stranger.verify_bundle(&bundle),
            Err(VerifyError::BadSignature)
        ));
    }

    #[test]
    fn predicate_types_are_cosigns() {
        assert_eq!(
            predicate_type_uri("slsaprovenance1"),
            Some("https://slsa.dev/provenance/v1")
        );
        assert_eq!(
            predicate_type_uri("https://example.com/p/v1"),
            Some("https://example.com/p/v1")
        );
        assert_eq!(predicate_type_uri("nonsense"), None);
        let custom = predicate(CUSTOM_PREDICATE_TYPE, b"hi", "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(custom["Data"], "hi");
    }
}
