//! ECDSA public keys and signature checks, on the audited `p256` and `p384` crates. Fulcio's
//! CAs sign with P-384 and SHA-384, its leaf certificates and Rekor's keys are P-256 with
//! SHA-256; a certificate may be signed with a hash other than its issuer key's natural one,
//! so the hash is chosen per signature.

use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use sha2::{Digest as _, Sha256, Sha384};
use x509_cert::der::Decode as _;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::spki::SubjectPublicKeyInfoRef;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// The hashes an ECDSA signature in sigstore is made over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(message).to_vec(),
            Hash::Sha384 => Sha384::digest(message).to_vec(),
        }
    }
}

/// An ECDSA public key berth can verify with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not an ECDSA P-256 or P-384 key")]
    UnknownType,
    #[error("the public key does not parse: {0}")]
    Malformed(String),
}

impl PublicKey {
    /// A key from DER SubjectPublicKeyInfo, its type as the trusted root's `keyDetails` names
    /// it; the key itself must be of that type.
    pub fn from_spki_der(der: &[u8], key_details: &str) -> Result<PublicKey, KeyError> {
        let key = PublicKey::from_spki(
            &SubjectPublicKeyInfoRef::from_der(der)
                .map_err(|e| KeyError::Malformed(e.to_string()))?,
        )?;
        match (key_details, &key) {
            ("PKIX_ECDSA_P256_SHA_256", PublicKey::P256(_))
            | ("PKIX_ECDSA_P384_SHA_384", PublicKey::P384(_)) => Ok(key),
            ("PKIX_ECDSA_P256_SHA_256" | "PKIX_ECDSA_P384_SHA_384", _) => Err(KeyError::Malformed(
                format!("the key is not the {key_details} its entry says"),
            )),
            _ => Err(KeyError::UnknownType),
        }
    }

    /// The key of a certificate or a SubjectPublicKeyInfo.
    pub fn from_spki(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<PublicKey, KeyError> {
        if spki.algorithm.oid != EC_PUBLIC_KEY {
            return Err(KeyError::UnknownType);
        }
        let curve: ObjectIdentifier = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as().ok())
            .ok_or(KeyError::UnknownType)?;
        let point = spki.subject_public_key.raw_bytes();
        let malformed = |e: p256::ecdsa::Error| KeyError::Malformed(e.to_string());
        match curve {
            P256_CURVE => p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(PublicKey::P256)
                .map_err(malformed),
            P384_CURVE => p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(PublicKey::P384)
                .map_err(malformed),
            _ => Err(KeyError::UnknownType),
        }
    }

    /// The hash this key's owner signs with when nothing else says: the curve's own.
    pub fn natural_hash(&self) -> Hash {
        match self {
            PublicKey::P256(_) => Hash::Sha256,
            PublicKey::P384(_) => Hash::Sha384,
        }
    }

    /// Whether `sig` (DER ECDSA-Sig-Value) signs `message` hashed with `hash`.
    pub fn verifies(&self, hash: Hash, message: &[u8], sig: &[u8]) -> bool {
        self.verifies_prehash(&hash.digest(message), sig)
    }

    /// Whether `sig` signs a message whose digest is `prehash`.
    pub fn verifies_prehash(&self, prehash: &[u8], sig: &[u8]) -> bool {
        match self {
            PublicKey::P256(key) => p256::ecdsa::Signature::from_der(sig)
                .is_ok_and(|sig| key.verify_prehash(prehash, &sig).is_ok()),
            PublicKey::P384(key) => p384::ecdsa::Signature::from_der(sig)
                .is_ok_and(|sig| key.verify_prehash(prehash, &sig).is_ok()),
        }
    }
}
