//! The trusted root: the certificate authorities (Fulcio), transparency logs (Rekor),
//! certificate-transparency logs and timestamp authorities a verifier trusts, each with the
//! time span it is trusted for. The JSON is protobuf's JSON mapping of sigstore's
//! `TrustedRoot` message (`bytes` in standard base64, times in RFC 3339).
//!
//! Reading is strict where leniency would widen trust: an unknown media type, a key of a type
//! berth cannot verify with, a certificate that does not parse or a time that does not read
//! is refused with the thing named, never skipped.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use x509_cert::Certificate;
use x509_cert::der::Decode as _;

use crate::signature::PublicKey;

/// The media types of the trusted roots berth reads: the first spelling and the one the
/// specification settled on later.
pub const MEDIA_TYPES: [&str; 2] = [
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.1+json",
];

/// Why a file is not a trusted root berth can use.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    #[error("not a sigstore trusted root: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "unknown trusted root media type {0:?}: berth reads {known} (upgrade berth if the root is newer)",
        known = MEDIA_TYPES.join(", ")
    )]
    UnknownMediaType(String),
    #[error(
        "trusted root: {what} has a key of type {details:?}, which berth cannot verify with (ECDSA P-256 with SHA-256 and P-384 with SHA-384 are supported)"
    )]
    UnknownKeyType { what: String, details: String },
    #[error("trusted root: {what}: {reason}")]
    Invalid { what: String, reason: String },
}

/// A time span; an open end means "until further notice".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

impl Validity {
    pub fn contains(&self, time: DateTime<Utc>) -> bool {
        self.start <= time && self.end.is_none_or(|end| time <= end)
    }
}

/// A certificate authority: Fulcio issuing signing certificates, or a timestamp authority.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    pub uri: String,
    /// The chain from the issuing certificate up to the root, as the trusted root lists it.
    pub chain: Vec<Certificate>,
    pub valid_for: Validity,
}

/// A transparency log (Rekor) or a certificate-transparency log.
#[derive(Debug, Clone)]
pub struct TransparencyLog {
    pub base_url: String,
    /// The log's id: SHA-256 of its public key (DER SubjectPublicKeyInfo).
    pub key_id: Vec<u8>,
    pub key: PublicKey,
    pub valid_for: Validity,
}

/// What a verifier trusts.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    pub certificate_authorities: Vec<CertificateAuthority>,
    pub tlogs: Vec<TransparencyLog>,
    pub ctlogs: Vec<TransparencyLog>,
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

impl TrustedRoot {
    pub fn from_json(bytes: &[u8]) -> Result<TrustedRoot, RootError> {
        let wire: wire::TrustedRoot = serde_json::from_slice(bytes)?;
        if !MEDIA_TYPES.contains(&wire.media_type.as_str()) {
            return Err(RootError::UnknownMediaType(wire.media_type));
        }
        let logs = |list: Vec<wire::Log>, kind: &str| -> Result<Vec<_>, RootError> {
            list.into_iter()
                .enumerate()
                .map(|(i, log)| read_log(log, &format!("{kind} {i}")))
                .collect()
        };
        let cas = |list: Vec<wire::Authority>, kind: &str| -> Result<Vec<_>, RootError> {
            list.into_iter()
                .enumerate()
                .map(|(i, ca)| read_authority(ca, &format!("{kind} {i}")))
                .collect()
        };
        Ok(TrustedRoot {
            certificate_authorities: cas(wire.certificate_authorities, "certificate authority")?,
            tlogs: logs(wire.tlogs, "transparency log")?,
            ctlogs: logs(wire.ctlogs, "certificate-transparency log")?,
            timestamp_authorities: cas(wire.timestamp_authorities, "timestamp authority")?,
        })
    }
}

fn read_log(log: wire::Log, what: &str) -> Result<TransparencyLog, RootError> {
    let what = format!("{what} ({})", log.base_url);
    let invalid = |reason: String| RootError::Invalid {
        what: what.clone(),
        reason,
    };
    if log.hash_algorithm != "SHA2_256" {
        return Err(invalid(format!(
            "hash algorithm {:?} is not SHA2_256, the only one sigstore's logs use",
            log.hash_algorithm
        )));
    }
    let der = decode_b64(&log.public_key.raw_bytes).map_err(&invalid)?;
    let key = PublicKey::from_spki_der(&der, &log.public_key.key_details).map_err(|e| match e {
        crate::signature::KeyError::UnknownType => RootError::UnknownKeyType {
            what: what.clone(),
            details: log.public_key.key_details.clone(),
        },
        other => invalid(other.to_string()),
    })?;
    let valid_for = log
        .public_key
        .valid_for
        .ok_or_else(|| invalid("the key has no validFor".to_string()))
        .and_then(|v| read_validity(v).map_err(&invalid))?;
    Ok(TransparencyLog {
        base_url: log.base_url,
        key_id: decode_b64(&log.log_id.key_id).map_err(&invalid)?,
        key,
        valid_for,
    })
}

fn read_authority(ca: wire::Authority, what: &str) -> Result<CertificateAuthority, RootError> {
    let what = format!("{what} ({})", ca.uri);
    let invalid = |reason: String| RootError::Invalid {
        what: what.clone(),
        reason,
    };
    let chain = ca
        .cert_chain
        .certificates
        .iter()
        .map(|c| {
            let der = decode_b64(&c.raw_bytes)?;
            Certificate::from_der(&der).map_err(|e| format!("a certificate does not parse: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(&invalid)?;
    if chain.is_empty() {
        return Err(invalid("the certificate chain is empty".to_string()));
    }
    Ok(CertificateAuthority {
        uri: ca.uri,
        chain,
        valid_for: read_validity(ca.valid_for).map_err(&invalid)?,
    })
}

fn read_validity(v: wire::TimeRange) -> Result<Validity, String> {
    let time = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("time {text:?} is not RFC 3339: {e}"))
    };
    let start = v
        .start
        .as_deref()
        .ok_or_else(|| "validFor has no start".to_string())
        .and_then(time)?;
    let end = v.end.as_deref().map(time).transpose()?;
    Ok(Validity { start, end })
}

fn decode_b64(text: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(text)
        .map_err(|e| format!("not base64: {e}"))
}

/// The JSON shape.
mod wire {
    use super::Deserialize;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct TrustedRoot {
        pub media_type: String,
        #[serde(default)]
        pub tlogs: Vec<Log>,
        #[serde(default)]
        pub certificate_authorities: Vec<Authority>,
        #[serde(default)]
        pub ctlogs: Vec<Log>,
        #[serde(default)]
        pub timestamp_authorities: Vec<Authority>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Log {
        #[serde(default)]
        pub base_url: String,
        pub hash_algorithm: String,
        pub public_key: PublicKey,
        pub log_id: LogId,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct PublicKey {
        pub raw_bytes: String,
        pub key_details: String,
        pub valid_for: Option<TimeRange>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct LogId {
        pub key_id: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Authority {
        #[serde(default)]
        pub uri: String,
        pub cert_chain: Chain,
        pub valid_for: TimeRange,
    }

    #[derive(Deserialize)]
    pub struct Chain {
        pub certificates: Vec<RawBytes>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct RawBytes {
        pub raw_bytes: String,
    }

    #[derive(Deserialize)]
    pub struct TimeRange {
        pub start: Option<String>,
        pub end: Option<String>,
    }
}
