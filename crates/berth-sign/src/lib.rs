//! Signing keys in cosign's formats.
//!
//! berth reads the private keys `cosign generate-key-pair` writes (PEM `ENCRYPTED SIGSTORE PRIVATE
//! KEY` or the older `ENCRYPTED COSIGN PRIVATE KEY`: scrypt derives a key from the password,
//! NaCl secretbox seals a PKCS#8 ECDSA P-256 key) and plain P-256 keys (PKCS#8 `PRIVATE KEY`,
//! SEC1 `EC PRIVATE KEY`), and writes key pairs cosign reads back. Signing builds on
//! [`PrivateKey`]: [`image`] makes and checks cosign's image signatures and attestations. Every
//! cryptographic step is an audited crate's.

mod encrypted;
mod files;
pub mod image;
mod key;

pub use files::{FileError, KeyPairPaths, Overwrite, read_private_key, write_key_pair};
pub use key::{KeyError, PrivateKey, PublicKey};
