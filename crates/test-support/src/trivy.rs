//! Trivy as an oracle: a database `scripts/trivy-db/write.py` writes from the same inputs
//! berth imports, and `trivy rootfs` run offline on it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{require, run_ok};

/// Writes a Trivy database into `cache` from tracker feeds and OSV directories.
pub fn write_db(cache: &Path, inputs: &[PathBuf]) {
    require("trivy");
    let writer = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/trivy-db/write.py");
    run_ok(Command::new("python3").arg(writer).arg(cache).args(inputs));
}

/// `trivy rootfs` as JSON, vulnerabilities only, offline on the database in `cache`; the
/// flags and the directory follow.
pub fn rootfs(cache: &Path) -> Command {
    offline("rootfs", cache)
}

/// `trivy image` as [`rootfs`] runs, on an image read from a file or layout: flags, then
/// `--input` and the path follow.
pub fn image(cache: &Path) -> Command {
    offline("image", cache)
}

fn offline(target: &str, cache: &Path) -> Command {
    let mut c = Command::new("trivy");
    c.args([target, "--quiet", "--format", "json", "--scanners", "vuln"])
        .args([
            "--skip-db-update",
            "--skip-java-db-update",
            "--offline-scan",
        ])
        .arg("--cache-dir")
        .arg(cache);
    c
}
