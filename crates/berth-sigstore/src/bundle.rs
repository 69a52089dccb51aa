//! The sigstore bundle: one JSON document holding a signature (a DSSE envelope or a bare
//! message signature) and everything needed to verify it offline.
//!
//! The JSON is protobuf's JSON mapping of sigstore's `Bundle` message: camelCase names,
//! `bytes` as standard base64, 64-bit integers as strings. Reading is strict where a wrong
//! guess would weaken a verification: an unknown media type, a bundle with both or neither
//! kind of content, or a verification material of no known kind is refused, not skipped.

use serde::{Deserialize, Serialize};

/// The bundle versions berth reads. It writes v0.3, as cosign 3 does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MediaType {
    V01,
    V02,
    V03,
}

impl MediaType {
    /// The media type of the bundle format berth writes, also the OCI artifact type of a
    /// bundle pushed as a referrer.
    pub const V03_STR: &'static str = "application/vnd.dev.sigstore.bundle.v0.3+json";

    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::V01 => "application/vnd.dev.sigstore.bundle+json;version=0.1",
            MediaType::V02 => "application/vnd.dev.sigstore.bundle+json;version=0.2",
            MediaType::V03 => Self::V03_STR,
        }
    }

    pub fn parse(text: &str) -> Option<MediaType> {
        match text {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => Some(MediaType::V01),
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => Some(MediaType::V02),
            // v0.3 has two spellings; the first is the one the specification settled on.
            Self::V03_STR | "application/vnd.dev.sigstore.bundle+json;version=0.3" => {
                Some(MediaType::V03)
            }
            _ => None,
        }
    }
}

/// Why bytes are not a bundle berth can use.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not a sigstore bundle: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "unknown sigstore bundle media type {0:?}: berth reads bundle versions 0.1 to 0.3; upgrade berth if the bundle is newer"
    )]
    UnknownMediaType(String),
}

/// A sigstore bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub media_type: MediaType,
    pub verification_material: VerificationMaterial,
    pub content: Content,
}

/// What was signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Content {
    /// A DSSE envelope (attestations, and cosign 3's image signatures).
    DsseEnvelope(crate::dsse::Envelope),
    /// A signature over a digest of an artifact (`cosign sign-blob`).
    MessageSignature(MessageSignature),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSignature {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_digest: Option<HashOutput>,
    #[serde(with = "crate::b64")]
    pub signature: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HashOutput {
    /// `SHA2_256`, `SHA2_384`, `SHA2_512`.
    pub algorithm: String,
    #[serde(with = "crate::b64")]
    pub digest: Vec<u8>,
}

/// What verifies the signature: a key or certificate, and the proofs that it was logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    #[serde(flatten)]
    pub key: KeyMaterial,
    #[serde(default)]
    pub tlog_entries: Vec<TransparencyLogEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_verification_data: Option<TimestampVerificationData>,
}

/// Which key signed: a hint at a key the verifier already holds, or a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KeyMaterial {
    PublicKey(PublicKeyIdentifier),
    /// The leaf first (bundles v0.1 and v0.2).
    X509CertificateChain(CertificateChain),
    /// The leaf alone (bundle v0.3).
    Certificate(Certificate),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyIdentifier {
    /// Unauthenticated; may be empty.
    #[serde(default)]
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateChain {
    pub certificates: Vec<Certificate>,
}

/// A DER X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    #[serde(with = "crate::b64")]
    pub raw_bytes: Vec<u8>,
}

/// One transparency-log (Rekor) entry for the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransparencyLogEntry {
    #[serde(with = "crate::int64")]
    pub log_index: i64,
    pub log_id: LogId,
    pub kind_version: KindVersion,
    #[serde(with = "crate::int64")]
    pub integrated_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_promise: Option<InclusionPromise>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<InclusionProof>,
    /// The entry body exactly as the log canonicalised it (JSON).
    #[serde(with = "crate::b64")]
    pub canonicalized_body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogId {
    /// SHA-256 of the log's public key (DER SPKI).
    #[serde(with = "crate::b64")]
    pub key_id: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindVersion {
    pub kind: String,
    pub version: String,
}

/// The log's signed promise to include the entry (the SET).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionPromise {
    #[serde(with = "crate::b64")]
    pub signed_entry_timestamp: Vec<u8>,
}

/// A Merkle inclusion proof of the entry, and the signed checkpoint of the tree it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    #[serde(with = "crate::int64")]
    pub log_index: i64,
    #[serde(with = "crate::b64")]
    pub root_hash: Vec<u8>,
    #[serde(with = "crate::int64")]
    pub tree_size: i64,
    #[serde(with = "crate::b64_list")]
    pub hashes: Vec<Vec<u8>>,
    pub checkpoint: Checkpoint,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// A signed note: origin, tree size, root hash, blank line, signature lines.
    pub envelope: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimestampVerificationData {
    #[serde(default)]
    pub rfc3161_timestamps: Vec<Rfc3161Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rfc3161Timestamp {
    #[serde(with = "crate::b64")]
    pub signed_timestamp: Vec<u8>,
}

/// The JSON shape: content is one of two fields, exactly one present.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    media_type: String,
    verification_material: VerificationMaterial,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dsse_envelope: Option<crate::dsse::Envelope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_signature: Option<MessageSignature>,
}

impl Bundle {
    /// Reads a bundle, refusing unknown versions and ambiguous content.
    pub fn from_json(bytes: &[u8]) -> Result<Bundle, BundleError> {
        let wire: Wire = serde_json::from_slice(bytes)?;
        let media_type = MediaType::parse(&wire.media_type)
            .ok_or_else(|| BundleError::UnknownMediaType(wire.media_type.clone()))?;
        let content = match (wire.dsse_envelope, wire.message_signature) {
            (Some(env), None) => Content::DsseEnvelope(env),
            (None, Some(sig)) => Content::MessageSignature(sig),
            (Some(_), Some(_)) => {
                return Err(BundleError::Json(serde::de::Error::custom(
                    "the bundle holds both a DSSE envelope and a message signature",
                )));
            }
            (None, None) => {
                return Err(BundleError::Json(serde::de::Error::custom(
                    "the bundle holds neither a DSSE envelope nor a message signature",
                )));
            }
        };
        Ok(Bundle {
            media_type,
            verification_material: wire.verification_material,
            content,
        })
    }

    /// The bundle as JSON, fields in the order sigstore's tools write them.
    pub fn to_json(&self) -> Vec<u8> {
        let (dsse_envelope, message_signature) = match &self.content {
            Content::DsseEnvelope(env) => (Some(env.clone()), None),
            Content::MessageSignature(sig) => (None, Some(sig.clone())),
        };
        let wire = Wire {
            media_type: self.media_type.as_str().to_string(),
            verification_material: self.verification_material.clone(),
            dsse_envelope,
            message_signature,
        };
        serde_json::to_vec(&wire).expect("a bundle always serialises")
    }

    /// The DSSE envelope, when that is what the bundle signs.
    pub fn envelope(&self) -> Option<&crate::dsse::Envelope> {
        match &self.content {
            Content::DsseEnvelope(env) => Some(env),
            Content::MessageSignature(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus_bundle() -> Option<Vec<u8>> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus/cosign/oci-attestation.sigstore.json");
        match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(_) => {
                eprintln!(
                    "the corpus is not beside this checkout ({}): cosign's bundle not checked",
                    path.display()
                );
                None
            }
        }
    }

    #[test]
    fn reads_cosigns_attestation_bundle_and_writes_it_back_the_same() {
        let Some(bytes) = corpus_bundle() else { return };
        let bundle = Bundle::from_json(&bytes).unwrap();
        assert_eq!(bundle.media_type, MediaType::V03);
        assert!(matches!(
            bundle.verification_material.key,
            KeyMaterial::Certificate(_)
        ));
        let entry = &bundle.verification_material.tlog_entries[0];
        assert_eq!(entry.log_index, 175508996);
        assert_eq!(entry.kind_version.kind, "dsse");
        let proof = entry.inclusion_proof.as_ref().unwrap();
        assert_eq!(proof.tree_size, 53604735);
        assert_eq!(proof.root_hash.len(), 32);
        let env = bundle.envelope().unwrap();
        assert_eq!(env.payload_type, crate::IN_TOTO_PAYLOAD_TYPE);
        // Same JSON value after a round trip: nothing dropped or renamed.
        let original: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let again: serde_json::Value = serde_json::from_slice(&bundle.to_json()).unwrap();
        assert_eq!(original, again);
    }

    #[test]
    fn refuses_unknown_versions_and_ambiguous_content() {
        let material = r#""verificationMaterial":{"publicKey":{"hint":""},"tlogEntries":[]}"#;
        let env = r#"{"payload":"","payloadType":"t","signatures":[]}"#;
        let sig = r#"{"signature":"AA=="}"#;
        let unknown = format!(
            r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.9+json",{material},"dsseEnvelope":{env}}}"#
        );
        assert!(matches!(
            Bundle::from_json(unknown.as_bytes()),
            Err(BundleError::UnknownMediaType(_))
        ));
        let both = format!(
            r#"{{"mediaType":"{}",{material},"dsseEnvelope":{env},"messageSignature":{sig}}}"#,
            MediaType::V03_STR
        );
        assert!(Bundle::from_json(both.as_bytes()).is_err());
        let neither = format!(r#"{{"mediaType":"{}",{material}}}"#, MediaType::V03_STR);
        assert!(Bundle::from_json(neither.as_bytes()).is_err());
        let ok = format!(
            r#"{{"mediaType":"{}",{material},"messageSignature":{sig}}}"#,
            MediaType::V03_STR
        );
        let bundle = Bundle::from_json(ok.as_bytes()).unwrap();
        assert!(bundle.envelope().is_none());
    }

    #[test]
    fn a_key_material_of_no_known_kind_is_refused() {
        let text = format!(
            r#"{{"mediaType":"{}","verificationMaterial":{{"tlogEntries":[]}},"messageSignature":{{"signature":"AA=="}}}}"#,
            MediaType::V03_STR
        );
        assert!(Bundle::from_json(text.as_bytes()).is_err());
    }
}
