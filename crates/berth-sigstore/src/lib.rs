//! Sigstore's formats as data, shared by everything in berth that signs or verifies.
//!
//! - [`bundle`]: the sigstore bundle (`application/vnd.dev.sigstore.bundle.v0.3+json` and the
//!   older v0.1/v0.2), the JSON form of sigstore's protobuf messages: the signed content (a
//!   DSSE envelope or a bare message signature) and the material to verify it with (a public
//!   key hint, a certificate or chain, transparency-log entries, timestamps).
//! - [`dsse`]: the DSSE envelope and its pre-authentication encoding, the exact bytes a DSSE
//!   signature covers.
//! - [`statement`]: the in-toto statement an attestation's envelope carries.
//! - [`rekor`]: the Rekor bundle cosign annotates a legacy keyless signature with, read into
//!   a bundle's transparency-log entry.
//!
//! Nothing here touches a key or the network; berth-sign signs and verifies on top of it.

pub mod bundle;
pub mod dsse;
pub mod rekor;
pub mod statement;

pub use bundle::{Bundle, BundleError, Content, MediaType, VerificationMaterial};
pub use dsse::{Envelope, Signature, pae};
pub use statement::{IN_TOTO_PAYLOAD_TYPE, Statement, Subject};

/// Standard base64 with padding, as protobuf's JSON mapping writes `bytes` fields.
pub(crate) mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("not base64: {e}")))
    }
}

/// 64-bit integers, which protobuf's JSON mapping writes as strings (and readers accept as
/// numbers too).
pub(crate) mod int64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(n: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&n.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Number(i64),
        }
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(n),
            Either::Text(t) => t
                .parse()
                .map_err(|_| serde::de::Error::custom(format!("{t:?} is not a 64-bit integer"))),
        }
    }
}

/// Lists of `bytes` fields.
pub(crate) mod b64_list {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(list: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(list.len()))?;
        for bytes in list {
            seq.serialize_element(&STANDARD.encode(bytes))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| {
                STANDARD
                    .decode(text.as_bytes())
                    .map_err(|e| serde::de::Error::custom(format!("not base64: {e}")))
            })
            .collect()
    }
}
