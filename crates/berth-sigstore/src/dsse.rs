//! DSSE (Dead Simple Signing Envelope): a payload, its type, and signatures over the
//! pre-authentication encoding of both, so a signature can never be replayed over the same
//! bytes read as another type.

use serde::{Deserialize, Serialize};

/// A DSSE envelope, as JSON carries it (`payload` and `sig` in standard base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    #[serde(with = "crate::b64")]
    pub payload: Vec<u8>,
    pub payload_type: String,
    pub signatures: Vec<Signature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    #[serde(with = "crate::b64")]
    pub sig: Vec<u8>,
    /// An unauthenticated hint at the key; cosign writes it empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keyid: String,
}

impl Envelope {
    /// The bytes every signature of this envelope covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

/// The pre-authentication encoding `DSSEv1 <len(type)> <type> <len(body)> <body>`, lengths in
/// ASCII decimal bytes, fields separated by one space.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let head = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    );
    let mut out = Vec::with_capacity(head.len() + payload.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_specification_example() {
        // The example of the DSSE protocol document: type `http://example.com/HelloWorld`,
        // body `hello world`.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn lengths_count_bytes_not_characters() {
        assert_eq!(pae("t", "é".as_bytes()), b"DSSEv1 1 t 2 \xc3\xa9".to_vec());
    }

    #[test]
    fn envelope_round_trips_through_json() {
        let text = r#"{"payload":"aGk=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AQI="}]}"#;
        let env: Envelope = serde_json::from_str(text).unwrap();
        assert_eq!(env.payload, b"hi");
        assert_eq!(env.signatures[0].sig, vec![1, 2]);
        assert_eq!(serde_json::to_string(&env).unwrap(), text);
    }
}
