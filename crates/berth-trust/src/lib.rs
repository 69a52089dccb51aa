//! Decides offline whether a sigstore bundle's signer is trusted: keyless verification, as
//! cosign and sigstore's verifiers do it, against a trusted root instead of the network.
//!
//! A keyless bundle carries a short-lived certificate Fulcio issued to an OIDC identity, a
//! signature made with its key, and a Rekor entry proving the signature was logged while the
//! certificate was valid. [`verify_bundle`] checks, failing closed at the first step that
//! does not hold, each failure its own [`TrustError`]:
//!
//! 1. the signing certificate was valid at the integrated time of a log entry whose SET signs
//!    that time, is for code signing and chains to a certificate authority of the
//!    [`TrustedRoot`] that was trusted then (`cert`), and carries a signed certificate
//!    timestamp of a CT log of the root (`sct`);
//! 2. it names the signer the [`Policy`] asks for: identity (SAN) and OIDC issuer;
//! 3. the signature verifies with the certificate's key (DSSE: over the PAE);
//! 4. each transparency-log entry is from a log of the root valid at its time, records this
//!    signature, certificate and payload, and is proven logged: by its inclusion proof up to a
//!    checkpoint the log signed (required from bundle v0.2 on) and/or its signed promise, the
//!    SET (`tlog`, [`merkle`]).
//!
//! Bundles keyed by a public key (no certificate) are not keyless: berth-sign verifies them.
//!
//! A legacy keyless signature (cosign's `.sig` layer with its certificate and Rekor bundle in
//! annotations) says what a bundle v0.1 with a message signature says, and
//! [`verify_legacy_signature`] verifies it as one.

mod cert;
pub mod merkle;
pub mod policy;
pub mod root;
mod sct;
mod signature;
mod tlog;

use berth_sigstore::bundle::{
    Certificate, Content, HashOutput, KeyMaterial, MessageSignature, VerificationMaterial,
};
use berth_sigstore::{Bundle, MediaType, Statement};
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use x509_cert::der::{DecodePem as _, Encode as _};

pub use cert::Identity;
pub use policy::{Match, Policy};
pub use root::{RootError, TrustedRoot};
pub use signature::PublicKey;

/// Why a bundle's signer is not trusted. Each names the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(
        "the bundle is signed with a public key, not a certificate: verify it with the key (--key), not keyless"
    )]
    NotKeyless,
    #[error(
        "the bundle has no transparency-log entry: keyless verification needs one to know when the certificate was used"
    )]
    NoLogEntry,
    #[error("the bundle's certificate does not parse: {0}")]
    CertificateUnreadable(String),
    #[error("the signing certificate is not trusted: {0}")]
    CertificateUntrusted(String),
    #[error(
        "{what} was not valid at the log's integrated time {time} (valid {not_before} to {not_after})"
    )]
    CertificateNotValidAt {
        what: String,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        time: DateTime<Utc>,
    },
    #[error(
        "the certificate authority {authority} was not trusted at {time} (its validFor in the trusted root)"
    )]
    AuthorityNotValidAt {
        authority: String,
        time: DateTime<Utc>,
    },
    #[error("the signing certificate's transparency is not proven: {0}")]
    SctUnverified(String),
    #[error("the signing certificate names no identity (no email or URI subject alternative name)")]
    NoIdentity,
    #[error(
        "the signing certificate names no OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8 or .1.1)"
    )]
    NoIssuer,
    #[error("the certificate identity is {found:?}, not {expected} (--certificate-identity)")]
    IdentityMismatch { expected: String, found: String },
    #[error(
        "the certificate's OIDC issuer is {found:?}, not {expected} (--certificate-oidc-issuer)"
    )]
    IssuerMismatch { expected: String, found: String },
    #[error("the DSSE envelope holds {0} signatures; a keyless bundle holds exactly one")]
    SignatureCount(usize),
    #[error("the signature does not verify with the signing certificate's key")]
    SignatureInvalid,
    #[error(
        "no transparency-log entry carries a signed entry timestamp (SET), the only signed time berth verifies offline (RFC 3161 timestamps are not supported yet)"
    )]
    NoSignedTime,
    #[error("the integrated time {0} is not a time")]
    BadIntegratedTime(i64),
    #[error("the transparency log with key id {0} is not in the trusted root")]
    LogNotTrusted(String),
    #[error("the transparency log {log} was not trusted at the entry's integrated time {time}")]
    LogNotValidAt { log: String, time: DateTime<Utc> },
    #[error("the transparency-log entry is not about this signature: {0}")]
    EntryMismatch(String),
    #[error(
        "the transparency-log entry is of kind {0}, which berth does not verify (dsse and hashedrekord 0.0.1 are)"
    )]
    UnsupportedEntry(String),
    #[error("the transparency-log entry has neither an inclusion promise nor an inclusion proof")]
    NoInclusion,
    #[error(
        "a transparency-log entry has no inclusion proof, which a bundle of type {0} must carry"
    )]
    NoInclusionProof(&'static str),
    #[error("the inclusion promise (SET) does not verify with the key of {0}")]
    InclusionPromiseInvalid(String),
    #[error("the inclusion proof does not verify: {0}")]
    InclusionProofInvalid(String),
    #[error("the inclusion proof's checkpoint does not verify: {0}")]
    CheckpointInvalid(String),
}

/// What a verified bundle says, and who said it.
#[derive(Debug, Clone)]
pub struct Verified {
    pub signer: Identity,
    pub content: VerifiedContent,
    /// When the log recorded the signature (of the first entry with a signed timestamp).
    pub integrated_time: DateTime<Utc>,
    /// The logs' indexes of the entries.
    pub log_indexes: Vec<i64>,
}

/// The signed content.
#[derive(Debug, Clone)]
pub enum VerifiedContent {
    /// A DSSE envelope's payload; `statement` when it is an in-toto statement.
    Dsse {
        payload_type: String,
        payload: Vec<u8>,
        statement: Option<Statement>,
    },
    /// A signature over an artifact digest: the caller must compare the digest with the
    /// artifact's, as the bundle alone cannot say which artifact it signs.
    Digest { algorithm: String, digest: Vec<u8> },
}

/// Verifies a keyless bundle against a trusted root and a policy (see the crate's
/// documentation for the steps).
pub fn verify_bundle(
    bundle: &Bundle,
    root: &TrustedRoot,
    policy: &Policy,
) -> Result<Verified, TrustError> {
    let material = &bundle.verification_material;
    let leaf_der = match &material.key {
        KeyMaterial::Certificate(cert) => &cert.raw_bytes,
        // The leaf comes first; the rest of the chain the bundle carries is not trusted.
        KeyMaterial::X509CertificateChain(chain) => {
            &chain
                .certificates
                .first()
                .ok_or_else(|| TrustError::CertificateUnreadable("the chain is empty".into()))?
                .raw_bytes
        }
        KeyMaterial::PublicKey(_) => return Err(TrustError::NotKeyless),
    };
    let leaf = cert::Leaf::from_der(leaf_der)?;
    check_entries_present(bundle)?;
    // The time the certificate must have been valid at. Only a signed entry timestamp signs
    // the integrated time (an inclusion proof does not cover it), so only entries with one
    // give a time, as in sigstore-go.
    let times = material
        .tlog_entries
        .iter()
        .filter(|entry| entry.inclusion_promise.is_some())
        .map(tlog::integrated_time)
        .collect::<Result<Vec<_>, _>>()?;
    let time = *times.first().ok_or(TrustError::NoSignedTime)?;

    let issuer = leaf.verify_chain(root, time)?;
    sct::verify(&leaf.cert, issuer, root)?;
    let signer = check_identity(&leaf, policy)?;
    let (signed, content) = check_signature(bundle, &leaf)?;
    for other in times.iter().filter(|&&t| t != time) {
        leaf.verify_chain(root, *other)?;
    }
    for entry in &material.tlog_entries {
        tlog::verify_entry(entry, root, &leaf.cert, &signed)?;
    }
    Ok(Verified {
        signer,
        content,
        integrated_time: time,
        log_indexes: material.tlog_entries.iter().map(|e| e.log_index).collect(),
    })
}

/// Verifies a legacy keyless signature: `signature` over `payload` by the certificate
/// `certificate_pem` (the layer's `dev.sigstore.cosign/certificate`), logged as the Rekor
/// bundle `rekor_bundle` (its `dev.sigstore.cosign/bundle`) says; the same checks as
/// [`verify_bundle`], with the SET as the proof of inclusion.
pub fn verify_legacy_signature(
    payload: &[u8],
    signature: &[u8],
    certificate_pem: &str,
    rekor_bundle: &str,
    root: &TrustedRoot,
    policy: &Policy,
) -> Result<Verified, TrustError> {
    let unreadable = |e: &dyn std::fmt::Display| TrustError::CertificateUnreadable(e.to_string());
    let raw_bytes = x509_cert::Certificate::from_pem(certificate_pem.trim())
        .and_then(|c| c.to_der())
        .map_err(|e| unreadable(&e))?;
    let entry = berth_sigstore::rekor::entry_of(rekor_bundle)
        .map_err(|e| TrustError::EntryMismatch(e.to_string()))?;
    let bundle = Bundle {
        media_type: MediaType::V01,
        verification_material: VerificationMaterial {
            key: KeyMaterial::Certificate(Certificate { raw_bytes }),
            tlog_entries: vec![entry],
            timestamp_verification_data: None,
        },
        content: Content::MessageSignature(MessageSignature {
            message_digest: Some(HashOutput {
                algorithm: "SHA2_256".into(),
                digest: Sha256::digest(payload).to_vec(),
            }),
            signature: signature.to_vec(),
        }),
    };
    verify_bundle(&bundle, root, policy)
}

/// Each entry must carry a proof of inclusion: a promise (SET) or a proof, and from bundle
/// v0.2 on, as the bundle specification says, an inclusion proof.
fn check_entries_present(bundle: &Bundle) -> Result<(), TrustError> {
    let entries = &bundle.verification_material.tlog_entries;
    if entries.is_empty() {
        return Err(TrustError::NoLogEntry);
    }
    for entry in entries {
        match (&entry.inclusion_promise, &entry.inclusion_proof) {
            (None, None) => return Err(TrustError::NoInclusion),
            (_, None) if bundle.media_type >= MediaType::V02 => {
                return Err(TrustError::NoInclusionProof(bundle.media_type.as_str()));
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_identity(leaf: &cert::Leaf, policy: &Policy) -> Result<Identity, TrustError> {
    let identity = leaf.identity()?;
    if !policy.identity.matches(&identity.san) {
        return Err(TrustError::IdentityMismatch {
            expected: policy.identity.to_string(),
            found: identity.san,
        });
    }
    if !policy.issuer.matches(&identity.issuer) {
        return Err(TrustError::IssuerMismatch {
            expected: policy.issuer.to_string(),
            found: identity.issuer,
        });
    }
    Ok(identity)
}

/// Verifies the bundle's one signature with the leaf's key; returns what the log entry must
/// record and what was signed.
fn check_signature<'b>(
    bundle: &'b Bundle,
    leaf: &cert::Leaf,
) -> Result<(tlog::Signed<'b>, VerifiedContent), TrustError> {
    match &bundle.content {
        Content::DsseEnvelope(env) => {
            let [sig] = env.signatures.as_slice() else {
                return Err(TrustError::SignatureCount(env.signatures.len()));
            };
            if !leaf
                .key
                .verifies(leaf.key.natural_hash(), &env.signed_bytes(), &sig.sig)
            {
                return Err(TrustError::SignatureInvalid);
            }
            let statement = (env.payload_type == berth_sigstore::IN_TOTO_PAYLOAD_TYPE)
                .then(|| serde_json::from_slice::<Statement>(&env.payload).ok())
                .flatten();
            Ok((
                tlog::Signed::Dsse {
                    payload: &env.payload,
                    signature: &sig.sig,
                },
                VerifiedContent::Dsse {
                    payload_type: env.payload_type.clone(),
                    payload: env.payload.clone(),
                    statement,
                },
            ))
        }
        Content::MessageSignature(message) => {
            let digest = message.message_digest.as_ref().ok_or_else(|| {
                TrustError::EntryMismatch("the message signature carries no digest".into())
            })?;
            if !leaf
                .key
                .verifies_prehash(&digest.digest, &message.signature)
            {
                return Err(TrustError::SignatureInvalid);
            }
            Ok((
                tlog::Signed::Digest {
                    algorithm: &digest.algorithm,
                    digest: &digest.digest,
                    signature: &message.signature,
                },
                VerifiedContent::Digest {
                    algorithm: digest.algorithm.clone(),
                    digest: digest.digest.clone(),
                },
            ))
        }
    }
}
