//! `berth key generate`: where the password comes from, what is written, and what is refused.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn generate(dir: &Path, env: &[(&str, &str)], extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.current_dir(dir)
        .args(["key", "generate"])
        .args(extra)
        .env_remove("COSIGN_PASSWORD")
        .env_remove("BERTH_PASSWORD")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn generate_writes_a_pair_cosign_reads_and_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = generate(dir.path(), &[("COSIGN_PASSWORD", "s3cret")], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let key_path = dir.path().join("cosign.key");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key_path), 0o600);
    let key = berth_sign::read_private_key(&key_path, b"s3cret").unwrap();
    let public = std::fs::read_to_string(dir.path().join("cosign.pub")).unwrap();
    assert_eq!(public, key.public_key().to_pem());

    // Again, without --force: refused, and the key is untouched.
    let before = std::fs::read(&key_path).unwrap();
    let out = generate(dir.path(), &[("COSIGN_PASSWORD", "s3cret")], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cosign.key already exists; pass --force"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&key_path).unwrap(), before);

    // BERTH_PASSWORD serves too, with --force and a prefix of one's own.
    let out = generate(
        dir.path(),
        &[("BERTH_PASSWORD", "other")],
        &["--output-key-prefix", "release", "--force"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    berth_sign::read_private_key(&dir.path().join("release.key"), b"other").unwrap();
}

#[test]
fn generate_without_a_password_or_a_terminal_says_how_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = generate(dir.path(), &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(
        message.contains("COSIGN_PASSWORD or BERTH_PASSWORD"),
        "{message}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
