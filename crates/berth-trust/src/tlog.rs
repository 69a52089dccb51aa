//! The transparency-log entry: that a log of the trusted root recorded this very signature,
//! by the log's signed promise (the SET) and/or an inclusion proof up to a checkpoint the log
//! signed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use berth_sigstore::bundle::TransparencyLogEntry;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::der::{DecodePem as _, Encode as _};

use crate::TrustError;
use crate::merkle;
use crate::root::{TransparencyLog, TrustedRoot};

/// What the entry's body must be about: the signature the bundle carries, made with the
/// bundle's certificate over this content.
pub enum Signed<'a> {
    /// A DSSE envelope: the entry holds the payload's SHA-256.
    Dsse {
        payload: &'a [u8],
        signature: &'a [u8],
    },
    /// A signature over an artifact's digest.
    Digest {
        algorithm: &'a str,
        digest: &'a [u8],
        signature: &'a [u8],
    },
}

/// The entry's integrated time, as it says; only its SET signs it.
pub fn integrated_time(entry: &TransparencyLogEntry) -> Result<DateTime<Utc>, TrustError> {
    DateTime::from_timestamp(entry.integrated_time, 0)
        .ok_or(TrustError::BadIntegratedTime(entry.integrated_time))
}

/// Checks one entry against the trusted root and the bundle's signature.
pub fn verify_entry(
    entry: &TransparencyLogEntry,
    root: &TrustedRoot,
    leaf: &Certificate,
    signed: &Signed<'_>,
) -> Result<(), TrustError> {
    let time = integrated_time(entry)?;
    // A log may be listed more than once, one key span each.
    let mut listed = root
        .tlogs
        .iter()
        .filter(|log| log.key_id == entry.log_id.key_id)
        .peekable();
    let first = *listed
        .peek()
        .ok_or_else(|| TrustError::LogNotTrusted(hex::encode(&entry.log_id.key_id)))?;
    let log = listed
        .find(|log| log.valid_for.contains(time))
        .ok_or_else(|| TrustError::LogNotValidAt {
            log: first.base_url.clone(),
            time,
        })?;
    check_body(entry, leaf, signed)?;
    if entry.inclusion_proof.is_none() && entry.inclusion_promise.is_none() {
        return Err(TrustError::NoInclusion);
    }
    if let Some(proof) = &entry.inclusion_proof {
        check_proof(entry, log, proof)?;
    }
    if let Some(promise) = &entry.inclusion_promise {
        check_promise(entry, log, &promise.signed_entry_timestamp)?;
    }
    Ok(())
}

/// What Rekor signs for its promise: this JSON, canonical (RFC 8785: keys sorted, no
/// blanks), the body in base64 and the log id in hex.
#[derive(Serialize)]
struct PromisePayload<'a> {
    body: &'a str,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logID")]
    log_id: &'a str,
    #[serde(rename = "logIndex")]
    log_index: i64,
}

fn check_promise(
    entry: &TransparencyLogEntry,
    log: &TransparencyLog,
    set: &[u8],
) -> Result<(), TrustError> {
    let body = STANDARD.encode(&entry.canonicalized_body);
    let log_id = hex::encode(&entry.log_id.key_id);
    let payload = serde_json::to_vec(&PromisePayload {
        body: &body,
        integrated_time: entry.integrated_time,
        log_id: &log_id,
        log_index: entry.log_index,
    })
    .expect("the promise payload always serialises");
    if log.key.verifies(log.key.natural_hash(), &payload, set) {
        Ok(())
    } else {
        Err(TrustError::InclusionPromiseInvalid(log.base_url.clone()))
    }
}

fn check_proof(
    entry: &TransparencyLogEntry,
    log: &TransparencyLog,
    proof: &berth_sigstore::bundle::InclusionProof,
) -> Result<(), TrustError> {
    let (index, size) = match (
        u64::try_from(proof.log_index),
        u64::try_from(proof.tree_size),
    ) {
        (Ok(index), Ok(size)) => (index, size),
        _ => {
            return Err(TrustError::InclusionProofInvalid(format!(
                "negative index {} or tree size {}",
                proof.log_index, proof.tree_size
            )));
        }
    };
    merkle::verify_inclusion(
        &merkle::leaf_hash(&entry.canonicalized_body),
        index,
        size,
        &proof.hashes,
        &proof.root_hash,
    )
    .map_err(|e| TrustError::InclusionProofInvalid(e.to_string()))?;
    let checkpoint = Checkpoint::parse(&proof.checkpoint.envelope)
        .map_err(|e| TrustError::CheckpointInvalid(e.to_string()))?;
    checkpoint.check_signed_by(log)?;
    if checkpoint.size != size || checkpoint.root != proof.root_hash {
        return Err(TrustError::CheckpointInvalid(format!(
            "it names tree size {} and root {}, the proof {size} and {}",
            checkpoint.size,
            hex::encode(&checkpoint.root),
            hex::encode(&proof.root_hash)
        )));
    }
    Ok(())
}

/// A checkpoint: a signed note (C2SP `signed-note`) whose text is the log's origin, tree size
/// and root hash, then a blank line and one line per signature, `— NAME BASE64`, the base64
/// holding a 4-byte key hint and the signature.
struct Checkpoint<'a> {
    /// The signed text, through the newline before the blank line.
    note: &'a str,
    size: u64,
    root: Vec<u8>,
    signatures: Vec<(&'a str, Vec<u8>)>,
}

impl<'a> Checkpoint<'a> {
    fn parse(envelope: &'a str) -> Result<Checkpoint<'a>, &'static str> {
        let split = envelope
            .find("\n\n")
            .ok_or("no blank line between the note and its signatures")?;
        let (note, signature_lines) = (&envelope[..split + 1], &envelope[split + 2..]);
        let mut lines = note.lines();
        let _origin = lines.next().ok_or("no origin line")?;
        let size = lines
            .next()
            .and_then(|l| l.parse().ok())
            .ok_or("the tree size line is not a number")?;
        let root = lines
            .next()
            .and_then(|l| STANDARD.decode(l).ok())
            .ok_or("the root hash line is not base64")?;
        let signatures = signature_lines
            .lines()
            .map(|line| {
                let rest = line
                    .strip_prefix("\u{2014} ")
                    .ok_or("a signature line does not start with an em dash")?;
                let (name, b64) = rest
                    .split_once(' ')
                    .ok_or("a signature line has no signature")?;
                let bytes = STANDARD
                    .decode(b64)
                    .map_err(|_| "a signature is not base64")?;
                if bytes.len() < 5 {
                    return Err("a signature is too short");
                }
                Ok((name, bytes))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if signatures.is_empty() {
            return Err("no signatures");
        }
        Ok(Checkpoint {
            note,
            size,
            root,
            signatures,
        })
    }

    /// Some signature's key hint is the log's (the first four bytes of its key id) and
    /// verifies with the log's key over the note.
    fn check_signed_by(&self, log: &TransparencyLog) -> Result<(), TrustError> {
        let signed = self.signatures.iter().any(|(_name, bytes)| {
            bytes[..4] == log.key_id[..4.min(log.key_id.len())]
                && log
                    .key
                    .verifies(log.key.natural_hash(), self.note.as_bytes(), &bytes[4..])
        });
        if signed {
            Ok(())
        } else {
            Err(TrustError::CheckpointInvalid(format!(
                "no signature by {} verifies",
                log.base_url
            )))
        }
    }
}

/// The parts of a Rekor entry body berth compares with the bundle.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    api_version: String,
    kind: String,
    spec: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseSpec {
    payload_hash: HashValue,
    signatures: Vec<DsseSignature>,
}

#[derive(Deserialize)]
struct DsseSignature {
    signature: String,
    verifier: String,
}

#[derive(Deserialize)]
struct HashValue {
    algorithm: String,
    value: String,
}

#[derive(Deserialize)]
struct HashedRekordSpec {
    data: HashedRekordData,
    signature: HashedRekordSignature,
}

#[derive(Deserialize)]
struct HashedRekordData {
    hash: HashValue,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HashedRekordSignature {
    content: String,
    public_key: HashedRekordKey,
}

#[derive(Deserialize)]
struct HashedRekordKey {
    content: String,
}

/// What an entry body records, to compare with the bundle.
struct Recorded {
    hash: HashValue,
    /// Base64, as the body holds it.
    signature: String,
    /// Base64 of the PEM certificate.
    verifier: String,
}

/// The body must be of the kind and version the entry says, and record this signature by
/// this certificate over this content.
fn check_body(
    entry: &TransparencyLogEntry,
    leaf: &Certificate,
    signed: &Signed<'_>,
) -> Result<(), TrustError> {
    let mismatch = |what: &str| TrustError::EntryMismatch(what.to_string());
    let body: Body = serde_json::from_slice(&entry.canonicalized_body)
        .map_err(|e| mismatch(&format!("the body is not a Rekor entry: {e}")))?;
    if body.kind != entry.kind_version.kind || body.api_version != entry.kind_version.version {
        return Err(mismatch(&format!(
            "the body is a {} {}, the entry says {} {}",
            body.kind, body.api_version, entry.kind_version.kind, entry.kind_version.version
        )));
    }
    let unreadable = |e: serde_json::Error| mismatch(&format!("the body does not read: {e}"));
    let (recorded, algorithm, digest, signature) =
        match (body.kind.as_str(), body.api_version.as_str(), signed) {
            ("dsse", "0.0.1", Signed::Dsse { payload, signature }) => {
                let mut spec: DsseSpec = serde_json::from_value(body.spec).map_err(unreadable)?;
                if spec.signatures.len() != 1 {
                    return Err(mismatch("the body records other than one signature"));
                }
                let only = spec.signatures.remove(0);
                let recorded = Recorded {
                    hash: spec.payload_hash,
                    signature: only.signature,
                    verifier: only.verifier,
                };
                (
                    recorded,
                    "sha256",
                    Sha256::digest(payload).to_vec(),
                    *signature,
                )
            }
            (
                "hashedrekord",
                "0.0.1",
                Signed::Digest {
                    algorithm,
                    digest,
                    signature,
                },
            ) => {
                let spec: HashedRekordSpec =
                    serde_json::from_value(body.spec).map_err(unreadable)?;
                let recorded = Recorded {
                    hash: spec.data.hash,
                    signature: spec.signature.content,
                    verifier: spec.signature.public_key.content,
                };
                // The bundle names hashes as protobuf does, the body as Rekor does.
                let algorithm = match *algorithm {
                    "SHA2_256" => "sha256",
                    "SHA2_384" => "sha384",
                    "SHA2_512" => "sha512",
                    _ => return Err(mismatch("the bundle's digest algorithm is unknown")),
                };
                (recorded, algorithm, digest.to_vec(), *signature)
            }
            (kind @ ("dsse" | "hashedrekord"), "0.0.1", _) => {
                return Err(mismatch(&format!(
                    "a {kind} entry cannot record this bundle's kind of signature"
                )));
            }
            (kind, version, _) => {
                return Err(TrustError::UnsupportedEntry(format!("{kind} {version}")));
            }
        };
    if recorded.hash.algorithm != algorithm || recorded.hash.value != hex::encode(&digest) {
        return Err(mismatch(
            "it records another payload hash than the bundle's",
        ));
    }
    if STANDARD.decode(&recorded.signature).ok().as_deref() != Some(signature) {
        return Err(mismatch("it records another signature than the bundle's"));
    }
    let recorded_cert = STANDARD
        .decode(&recorded.verifier)
        .ok()
        .and_then(|pem| Certificate::from_pem(&pem).ok())
        .and_then(|cert| cert.to_der().ok());
    if recorded_cert.is_none() || recorded_cert != leaf.to_der().ok() {
        return Err(mismatch("it records another certificate than the bundle's"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_sigstore::bundle::{KindVersion, LogId};
    use x509_cert::der::{Decode as _, EncodePem as _};

    /// The signing certificate of cosign's corpus bundle.
    fn corpus_leaf() -> Option<Certificate> {
        let dir = test_support::corpus("cosign")?;
        let bundle: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join("oci-attestation.sigstore.json")).unwrap(),
        )
        .unwrap();
        let der = STANDARD
            .decode(
                bundle["verificationMaterial"]["certificate"]["rawBytes"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        Some(Certificate::from_der(&der).unwrap())
    }

    fn hashedrekord(digest_hex: &str, sig: &[u8], cert: &Certificate) -> TransparencyLogEntry {
        let pem = cert.to_pem(x509_cert::der::pem::LineEnding::LF).unwrap();
        let body = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": digest_hex}},
                "signature": {
                    "content": STANDARD.encode(sig),
                    "publicKey": {"content": STANDARD.encode(pem)},
                },
            },
        });
        TransparencyLogEntry {
            log_index: 1,
            log_id: LogId {
                key_id: vec![0; 32],
            },
            kind_version: KindVersion {
                kind: "hashedrekord".into(),
                version: "0.0.1".into(),
            },
            integrated_time: 0,
            inclusion_promise: None,
            inclusion_proof: None,
            canonicalized_body: serde_json::to_vec(&body).unwrap(),
        }
    }

    #[test]
    fn a_hashedrekord_body_must_record_the_digest_signature_and_certificate() {
        let Some(leaf) = corpus_leaf() else { return };
        let digest = Sha256::digest(b"artifact").to_vec();
        let signed = Signed::Digest {
            algorithm: "SHA2_256",
            digest: &digest,
            signature: b"sig",
        };
        let entry = hashedrekord(&hex::encode(&digest), b"sig", &leaf);
        check_body(&entry, &leaf, &signed).unwrap();

        let other_digest = hashedrekord(&hex::encode(Sha256::digest(b"other")), b"sig", &leaf);
        let other_sig = hashedrekord(&hex::encode(&digest), b"gis", &leaf);
        for entry in [other_digest, other_sig] {
            assert!(matches!(
                check_body(&entry, &leaf, &signed),
                Err(TrustError::EntryMismatch(_))
            ));
        }
        // A DSSE signature is never matched against a hashedrekord entry.
        let dsse = Signed::Dsse {
            payload: b"artifact",
            signature: b"sig",
        };
        assert!(matches!(
            check_body(&entry, &leaf, &dsse),
            Err(TrustError::EntryMismatch(_))
        ));
        let mut intoto = entry.clone();
        intoto.kind_version.kind = "intoto".into();
        intoto.canonicalized_body = String::from_utf8(entry.canonicalized_body.clone())
            .unwrap()
            .replace("hashedrekord", "intoto")
            .into_bytes();
        assert!(matches!(
            check_body(&intoto, &leaf, &dsse),
            Err(TrustError::UnsupportedEntry(_))
        ));
    }
}
