//! A P-256 key pair and the PEM forms it is read from and written to.

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::der::pem::{self, LineEnding};
use p256::pkcs8::der::{Decode as _, asn1::ObjectIdentifier};
use p256::pkcs8::{
    DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _,
};
use rand_core::OsRng;
use zeroize::Zeroizing;

use crate::encrypted;

/// The PEM label berth writes encrypted keys under: cosign's current one.
pub const ENCRYPTED_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The label older cosign releases wrote; the envelope inside is the same.
const ENCRYPTED_COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
const PKCS8_LABEL: &str = "PRIVATE KEY";
const SEC1_LABEL: &str = "EC PRIVATE KEY";
const PUBLIC_LABEL: &str = "PUBLIC KEY";

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Why a key could not be read or written. No variant carries the password or key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM key: {0}")]
    Pem(String),
    #[error(
        "PEM type {0:?} is not a key berth reads; expected {ENCRYPTED_LABEL:?}, \
         {ENCRYPTED_COSIGN_LABEL:?}, {PKCS8_LABEL:?} or {SEC1_LABEL:?}"
    )]
    UnsupportedPem(String),
    #[error("PEM type {0:?} is not a public key; expected {PUBLIC_LABEL:?}")]
    NotPublicKey(String),
    #[error("encrypted key envelope is malformed: {0}")]
    Envelope(String),
    #[error("encrypted key uses KDF {0:?}; only {kdf:?} is supported", kdf = encrypted::KDF_NAME)]
    UnsupportedKdf(String),
    #[error(
        "encrypted key uses scrypt N={n} r={r} p={p}; only cosign's N=32768 or N=65536 with \
         r=8 p=1 are accepted"
    )]
    UnsupportedKdfParams { n: u64, r: u32, p: u32 },
    #[error("encrypted key uses cipher {0:?}; only {c:?} is supported", c = encrypted::CIPHER_NAME)]
    UnsupportedCipher(String),
    #[error("wrong password: the key does not decrypt with the password given")]
    WrongPassword,
    #[error("the private key is not DER: {0}")]
    Der(String),
    #[error("{0} keys are not supported: only ECDSA P-256 keys are")]
    UnsupportedAlgorithm(String),
}

/// An ECDSA P-256 private key. The scalar is wiped from memory when this is dropped.
pub struct PrivateKey(SigningKey);

/// An ECDSA P-256 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PrivateKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        Self(SigningKey::random(&mut OsRng))
    }

    /// Reads a PEM private key: cosign's encrypted forms (opened with `password`), PKCS#8 or
    /// SEC1. `password` is only used for the encrypted forms.
    pub fn from_pem(pem_text: &[u8], password: &[u8]) -> Result<Self, KeyError> {
        let (label, der) = pem::decode_vec(pem_text).map_err(|e| KeyError::Pem(e.to_string()))?;
        let der = Zeroizing::new(der);
        match label {
            ENCRYPTED_LABEL | ENCRYPTED_COSIGN_LABEL => {
                let inner = encrypted::open(&der, password)?;
                Self::from_sealed_der(&inner)
            }
            PKCS8_LABEL => Self::from_pkcs8_der(&der),
            SEC1_LABEL => Self::from_sec1_der(&der),
            other => Err(KeyError::UnsupportedPem(other.to_string())),
        }
    }

    /// cosign seals PKCS#8, but keys it imported from `EC PRIVATE KEY` files were sealed as
    /// SEC1 (its vector `pemcosigneckey.pem` is one), and cosign opens both.
    fn from_sealed_der(der: &[u8]) -> Result<Self, KeyError> {
        match p256::pkcs8::PrivateKeyInfo::from_der(der) {
            Ok(_) => Self::from_pkcs8_der(der),
            Err(pkcs8_error) if sec1::EcPrivateKey::from_der(der).is_err() => Err(KeyError::Der(
                format!("neither PKCS#8 nor SEC1: {pkcs8_error}"),
            )),
            Err(_) => Self::from_sec1_der(der),
        }
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let info =
            p256::pkcs8::PrivateKeyInfo::from_der(der).map_err(|e| KeyError::Der(e.to_string()))?;
        require_p256_algorithm(&info.algorithm)?;
        SigningKey::from_pkcs8_der(der)
            .map(Self)
            .map_err(|e| KeyError::Der(e.to_string()))
    }

    fn from_sec1_der(der: &[u8]) -> Result<Self, KeyError> {
        let key = sec1::EcPrivateKey::from_der(der).map_err(|e| KeyError::Der(e.to_string()))?;
        // SEC1 makes the curve optional; a key without it is taken as the curve its length
        // fits, which the conversion below checks.
        if let Some(curve) = key.parameters.and_then(|p| p.named_curve()) {
            require_p256(curve)?;
        }
        let secret = p256::SecretKey::from_sec1_der(der)
            .map_err(|_| KeyError::Der("not a valid P-256 SEC1 private key".into()))?;
        Ok(Self(SigningKey::from(secret)))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(*self.0.verifying_key())
    }

    /// The key sealed under `password` as cosign writes it (PEM [`ENCRYPTED_LABEL`], scrypt
    /// N=65536 r=8 p=1, random 32-byte salt and 24-byte nonce).
    pub fn to_encrypted_pem(&self, password: &[u8]) -> Result<String, KeyError> {
        let pkcs8 = self
            .0
            .to_pkcs8_der()
            .map_err(|e| KeyError::Der(e.to_string()))?;
        let envelope = encrypted::seal(pkcs8.as_bytes(), password)?;
        pem::encode_string(ENCRYPTED_LABEL, LineEnding::LF, &envelope)
            .map_err(|e| KeyError::Pem(e.to_string()))
    }

    /// An ECDSA signature over SHA-256 of `message`, DER-encoded (the form cosign stores).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signature: Signature = self.0.sign(message);
        signature.to_der().as_bytes().to_vec()
    }
}

impl PublicKey {
    /// Reads a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), as in cosign's `.pub` files. Only P-256
    /// keys are accepted.
    pub fn from_pem(pem_text: &str) -> Result<Self, KeyError> {
        let (label, der) =
            pem::decode_vec(pem_text.as_bytes()).map_err(|e| KeyError::Pem(e.to_string()))?;
        if label != PUBLIC_LABEL {
            return Err(KeyError::NotPublicKey(label.to_string()));
        }
        let info = p256::pkcs8::spki::SubjectPublicKeyInfoRef::from_der(&der)
            .map_err(|e| KeyError::Der(e.to_string()))?;
        require_p256_algorithm(&info.algorithm)?;
        VerifyingKey::from_public_key_der(&der)
            .map(Self)
            .map_err(|e| KeyError::Der(e.to_string()))
    }

    /// PEM `PUBLIC KEY` (SubjectPublicKeyInfo), the form of cosign's `.pub` files.
    pub fn to_pem(&self) -> String {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .expect("a P-256 point always encodes")
    }

    /// The hint a sigstore bundle names this key by: standard base64 of SHA-256 of its
    /// SubjectPublicKeyInfo DER. Unauthenticated: only a label.
    pub fn hint(&self) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        let der = self
            .0
            .to_public_key_der()
            .expect("a P-256 point always encodes");
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(der.as_bytes()))
    }

    /// Checks a DER ECDSA signature over SHA-256 of `message`.
    pub fn verify(&self, message: &[u8], signature_der: &[u8]) -> bool {
        Signature::from_der(signature_der)
            .is_ok_and(|signature| self.0.verify(message, &signature).is_ok())
    }
}

/// Checks a PKCS#8 or SPKI algorithm identifier names ECDSA on P-256, naming what it is
/// otherwise.
fn require_p256_algorithm(
    algorithm: &p256::pkcs8::spki::AlgorithmIdentifierRef<'_>,
) -> Result<(), KeyError> {
    if algorithm.oid != EC_PUBLIC_KEY {
        return Err(KeyError::UnsupportedAlgorithm(algorithm_name(
            algorithm.oid,
        )));
    }
    let curve = algorithm
        .parameters_oid()
        .map_err(|e| KeyError::Der(format!("EC key without a named curve: {e}")))?;
    require_p256(curve)
}

fn require_p256(curve: ObjectIdentifier) -> Result<(), KeyError> {
    if curve == P256 {
        return Ok(());
    }
    let name = match curve.to_string().as_str() {
        "1.3.132.0.33" => "ECDSA P-224".to_string(),
        "1.3.132.0.34" => "ECDSA P-384".to_string(),
        "1.3.132.0.35" => "ECDSA P-521".to_string(),
        "1.3.132.0.10" => "ECDSA secp256k1".to_string(),
        other => format!("ECDSA on curve {other}"),
    };
    Err(KeyError::UnsupportedAlgorithm(name))
}

fn algorithm_name(oid: ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => "RSA".to_string(),
        "1.3.101.112" => "Ed25519".to_string(),
        "1.3.101.113" => "Ed448".to_string(),
        other => format!("algorithm {other}"),
    }
}
