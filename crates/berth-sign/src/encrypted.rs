//! cosign's encrypted private key envelope: a JSON document naming the KDF (scrypt, with its
//! parameters and salt) and the cipher (NaCl secretbox, with its nonce), and the ciphertext.
//! The JSON field names are cosign's; base64 is the standard alphabet with padding (Go's
//! encoding of `[]byte`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::key::KeyError;

pub(crate) const KDF_NAME: &str = "scrypt";
pub(crate) const CIPHER_NAME: &str = "nacl/secretbox";

/// The scrypt parameters berth writes: cosign's (N=65536, r=8, p=1).
const WRITE_PARAMS: ScryptParams = ScryptParams {
    n: 65536,
    r: 8,
    p: 1,
};

/// The parameter sets berth reads: the two cosign has written (its older releases used
/// N=32768). Anything else is refused before any work is done, so a hostile file cannot make
/// berth spend minutes or gigabytes in scrypt.
const READ_PARAMS: [ScryptParams; 2] = [
    ScryptParams {
        n: 32768,
        r: 8,
        p: 1,
    },
    WRITE_PARAMS,
];

const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// Opens an envelope with `password`, giving the sealed plaintext (a PKCS#8 DER key).
pub(crate) fn open(body: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| KeyError::Envelope(e.to_string()))?;
    if envelope.kdf.name != KDF_NAME {
        return Err(KeyError::UnsupportedKdf(envelope.kdf.name));
    }
    let params = envelope.kdf.params;
    if !READ_PARAMS.contains(&params) {
        return Err(KeyError::UnsupportedKdfParams {
            n: params.n,
            r: params.r,
            p: params.p,
        });
    }
    if envelope.cipher.name != CIPHER_NAME {
        return Err(KeyError::UnsupportedCipher(envelope.cipher.name));
    }
    let salt = decode_field("kdf.salt", &envelope.kdf.salt)?;
    let nonce = decode_field("cipher.nonce", &envelope.cipher.nonce)?;
    if nonce.len() != NONCE_LEN {
        return Err(KeyError::Envelope(format!(
            "cipher.nonce is {} bytes, secretbox takes {NONCE_LEN}",
            nonce.len()
        )));
    }
    let ciphertext = decode_field("ciphertext", &envelope.ciphertext)?;
    let key = derive_key(password, &salt, params)?;
    let plaintext = XSalsa20Poly1305::new(key.as_slice().into())
        .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
        // secretbox's only failure is authentication: the key derived from this password is not
        // the one that sealed the box (or the box was altered).
        .map_err(|_| KeyError::WrongPassword)?;
    Ok(Zeroizing::new(plaintext))
}

/// Seals `plaintext` (a PKCS#8 DER key) under `password` with fresh random salt and nonce, and
/// gives the envelope's JSON.
pub(crate) fn seal(plaintext: &[u8], password: &[u8]) -> Result<Vec<u8>, KeyError> {
    let mut salt = [0u8; SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let key = derive_key(password, &salt, WRITE_PARAMS)?;
    let ciphertext = XSalsa20Poly1305::new(key.as_slice().into())
        .encrypt(Nonce::from_slice(&nonce), plaintext)
        .map_err(|_| KeyError::Envelope("secretbox refused to seal the key".into()))?;
    let envelope = Envelope {
        kdf: Kdf {
            name: KDF_NAME.into(),
            params: WRITE_PARAMS,
            salt: STANDARD.encode(salt),
        },
        cipher: Cipher {
            name: CIPHER_NAME.into(),
            nonce: STANDARD.encode(nonce),
        },
        ciphertext: STANDARD.encode(ciphertext),
    };
    Ok(serde_json::to_vec(&envelope).expect("the envelope is plain JSON"))
}

fn derive_key(
    password: &[u8],
    salt: &[u8],
    params: ScryptParams,
) -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
    // Only the vetted parameter sets reach here, whose N is a power of two.
    let log_n = params.n.trailing_zeros() as u8;
    let scrypt_params = scrypt::Params::new(log_n, params.r, params.p, KEY_LEN)
        .map_err(|e| KeyError::Envelope(format!("scrypt parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    scrypt::scrypt(password, salt, &scrypt_params, key.as_mut_slice())
        .map_err(|e| KeyError::Envelope(format!("scrypt: {e}")))?;
    Ok(key)
}

fn decode_field(field: &'static str, value: &str) -> Result<Vec<u8>, KeyError> {
    STANDARD
        .decode(value)
        .map_err(|e| KeyError::Envelope(format!("{field} is not base64: {e}")))
}
