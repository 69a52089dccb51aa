//! Key loading against cosign's own test vectors, refusals of keys and envelopes berth must not
//! accept, and generated key pairs checked by an independent reader (Python's scrypt, PyNaCl
//! and `cryptography`).

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use berth_sign::{
    FileError, KeyError, KeyPairPaths, Overwrite, PrivateKey, PublicKey, read_private_key,
    write_key_pair,
};

const PASSWORD: &[u8] = b"hello";

fn vector(name: &str) -> Option<PathBuf> {
    test_support::corpus("cosign").map(|dir| dir.join(name))
}

fn key_error(name: &str, password: &[u8]) -> Option<KeyError> {
    let path = vector(name)?;
    match read_private_key(&path, password) {
        Ok(_) => panic!("{name} loaded but must be refused"),
        Err(FileError::Key { source, .. }) => Some(source),
        Err(other) => panic!("{name}: {other}"),
    }
}

fn signs_and_verifies(key: &PrivateKey) {
    let message = b"berth signs this";
    let signature = key.sign(message);
    let public = key.public_key();
    assert!(public.verify(message, &signature));
    assert!(!public.verify(b"another message", &signature));
}

#[test]
fn cosign_encrypted_keys_decrypt_with_their_password_and_sign() {
    for name in [
        "pemcosignkey.pem",
        "pemcosigneckey.pem",
        "pemsigstorekey.pem",
    ] {
        let Some(path) = vector(name) else { return };
        let key = read_private_key(&path, PASSWORD).unwrap_or_else(|e| panic!("{e}"));
        signs_and_verifies(&key);
    }
}

#[test]
fn a_sealed_sec1_key_is_the_key_of_its_plain_twin() {
    // cosign's pemcosigneckey.pem seals validecp256.pem's key, as SEC1 rather than PKCS#8.
    let (Some(sealed), Some(plain)) = (vector("pemcosigneckey.pem"), vector("validecp256.pem"))
    else {
        return;
    };
    let sealed = read_private_key(&sealed, PASSWORD).unwrap();
    let plain = read_private_key(&plain, b"").unwrap();
    assert_eq!(sealed.public_key(), plain.public_key());
}

#[test]
fn a_wrong_password_is_named_as_such_and_not_echoed() {
    let Some(path) = vector("pemsigstorekey.pem") else {
        return;
    };
    let err = read_private_key(&path, b"not-the-password-xyzzy")
        .err()
        .unwrap();
    assert!(
        matches!(
            &err,
            FileError::Key {
                source: KeyError::WrongPassword,
                ..
            }
        ),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("wrong password"), "{message}");
    assert!(message.contains("pemsigstorekey.pem"), "{message}");
    assert!(!message.contains("xyzzy"), "{message}");
}

#[test]
fn plain_p256_keys_load() {
    for name in ["validecp256.pem", "validecpkcs8.pem"] {
        let Some(path) = vector(name) else { return };
        let key = read_private_key(&path, b"").unwrap_or_else(|e| panic!("{e}"));
        signs_and_verifies(&key);
    }
}

#[test]
fn keys_other_than_p256_are_refused_by_name() {
    for (name, algorithm) in [
        ("invalidecp224.pem", "P-224"),
        ("validrsapkcs8.pem", "RSA"),
        ("ed25519key.pem", "Ed25519"),
    ] {
        let Some(err) = key_error(name, b"") else {
            return;
        };
        let message = err.to_string();
        assert!(
            matches!(err, KeyError::UnsupportedAlgorithm(_)),
            "{name}: {message}"
        );
        assert!(message.contains(algorithm), "{name}: {message}");
        assert!(message.contains("only ECDSA P-256"), "{name}: {message}");
    }
}

/// The JSON envelope of a cosign vector, to alter.
fn envelope(name: &str) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(vector(name)?).unwrap();
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    Some(serde_json::from_slice(&STANDARD.decode(body).unwrap()).unwrap())
}

fn encrypted_pem(body: &[u8]) -> Vec<u8> {
    let b64 = STANDARD.encode(body);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
        lines.join("\n")
    )
    .into_bytes()
}

#[test]
fn malformed_envelopes_fail_cleanly_and_fast() {
    let Some(good) = envelope("pemsigstorekey.pem") else {
        return;
    };
    let altered = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        edit(&mut v);
        encrypted_pem(&serde_json::to_vec(&v).unwrap())
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "N not a power of two",
            altered(&|v| v["kdf"]["params"]["N"] = 30000.into()),
            "N=30000",
        ),
        (
            "huge N",
            altered(&|v| v["kdf"]["params"]["N"] = (1u64 << 40).into()),
            "only cosign's",
        ),
        ("r=16", altered(&|v| v["kdf"]["params"]["r"] = 16.into()), "r=16"),
        ("other KDF", altered(&|v| v["kdf"]["name"] = "pbkdf2".into()), "pbkdf2"),
        (
            "other cipher",
            altered(&|v| v["cipher"]["name"] = "aes-gcm".into()),
            "aes-gcm",
        ),
        (
            "bad base64 salt",
            altered(&|v| v["kdf"]["salt"] = "!!not base64".into()),
            "kdf.salt is not base64",
        ),
        (
            "short nonce",
            altered(&|v| v["cipher"]["nonce"] = STANDARD.encode([0u8; 12]).into()),
            "cipher.nonce",
        ),
        (
            "missing ciphertext",
            altered(&|v| {
                v.as_object_mut().unwrap().remove("ciphertext");
            }),
            "ciphertext",
        ),
        (
            "truncated JSON",
            encrypted_pem(&serde_json::to_vec(&good).unwrap()[..40]),
            "malformed",
        ),
        (
            "truncated PEM",
            encrypted_pem(&serde_json::to_vec(&good).unwrap())[..100].to_vec(),
            "not a PEM key",
        ),
        (
            "bad base64 in PEM",
            b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n!!!!\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n".to_vec(),
            "not a PEM key",
        ),
        (
            "a certificate",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
            "\"CERTIFICATE\" is not a key",
        ),
    ];
    for (what, pem, expected) in cases {
        let start = Instant::now();
        let err = PrivateKey::from_pem(&pem, PASSWORD)
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        let message = err.to_string();
        assert!(message.contains(expected), "{what}: {message}");
        assert!(
            start.elapsed() < Duration::from_millis(200),
            "{what} took {:?}",
            start.elapsed()
        );
    }
}

/// Python opens the sealed key with hashlib.scrypt and PyNaCl and prints the public key
/// `cryptography` derives from the PKCS#8 inside, as PEM.
const PYTHON_OPEN: &str = r#"
import base64, hashlib, json, sys
import nacl.secret
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
text = open(sys.argv[1]).read().splitlines()
assert text[0] == "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----", text[0]
env = json.loads(base64.b64decode("".join(text[1:-1])))
kdf, cipher = env["kdf"], env["cipher"]
assert kdf["name"] == "scrypt" and kdf["params"] == {"N": 65536, "r": 8, "p": 1}, kdf
assert cipher["name"] == "nacl/secretbox", cipher
salt, nonce = base64.b64decode(kdf["salt"]), base64.b64decode(cipher["nonce"])
assert len(salt) == 32 and len(nonce) == 24
key = hashlib.scrypt(sys.argv[2].encode(), salt=salt, n=65536, r=8, p=1, maxmem=128 << 20, dklen=32)
der = nacl.secret.SecretBox(key).decrypt(base64.b64decode(env["ciphertext"]), nonce)
private = serialization.load_der_private_key(der, password=None)
assert isinstance(private.curve, ec.SECP256R1), private.curve
sys.stdout.write(private.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
"#;

#[test]
fn generated_key_pair_opens_in_python_and_is_written_safely() {
    let dir = tempfile::tempdir().unwrap();
    let paths = KeyPairPaths::from_prefix(&dir.path().join("cosign"));
    let key = PrivateKey::generate();
    let password = b"correct horse battery staple";
    write_key_pair(&paths, &key, password, Overwrite::Never).unwrap();

    let mode = |p: &PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&paths.private), 0o600);
    let public_pem = std::fs::read_to_string(&paths.public).unwrap();
    assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert_eq!(public_pem, key.public_key().to_pem());
    let read_back = PublicKey::from_pem(&public_pem).unwrap();
    assert_eq!(read_back, key.public_key());
    assert!(read_back.verify(b"m", &key.sign(b"m")));

    // berth reads back what it wrote.
    let again = read_private_key(&paths.private, password).unwrap();
    assert_eq!(again.public_key(), key.public_key());

    // The independent reader derives the same public key from the sealed private key.
    let out = Command::new("python3")
        .args(["-c", PYTHON_OPEN])
        .arg(&paths.private)
        .arg(std::str::from_utf8(password).unwrap())
        .output()
        .expect("python3 runs (scripts/install-test-deps installs pynacl and cryptography)");
    assert!(
        out.status.success(),
        "python could not open berth's key: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), public_pem);

    // An existing key is left alone unless replacing is asked for.
    let before = std::fs::read(&paths.private).unwrap();
    let err = write_key_pair(&paths, &PrivateKey::generate(), password, Overwrite::Never)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("already exists; pass --force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&paths.private).unwrap(), before);
    let other = PrivateKey::generate();
    write_key_pair(&paths, &other, password, Overwrite::Replace).unwrap();
    assert_eq!(mode(&paths.private), 0o600);
    let replaced = read_private_key(&paths.private, password).unwrap();
    assert_eq!(replaced.public_key(), other.public_key());

    // No temporary file is left beside the keys.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["cosign.key", "cosign.pub"]);

    // A prefix in a directory that does not exist is named as such.
    let nowhere = KeyPairPaths::from_prefix(&dir.path().join("missing/cosign"));
    let err = write_key_pair(&nowhere, &key, password, Overwrite::Never)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("missing: no such directory"),
        "{err}"
    );
}

#[test]
fn a_public_key_file_must_hold_a_p256_public_key() {
    let Some(path) = vector("validecpkcs8.pem") else {
        return;
    };
    let private_pem = std::fs::read_to_string(path).unwrap();
    let err = PublicKey::from_pem(&private_pem).err().unwrap();
    assert!(
        err.to_string()
            .contains("\"PRIVATE KEY\" is not a public key"),
        "{err}"
    );
}
