//! A root file system of language packages at versions the OSV corpora name: Python
//! distributions, a scoped npm package, a Maven jar, a Go executable with vendored modules and
//! a Rust executable built by cargo-auditable. Each version is taken from an advisory of
//! `osv-pypi`, `osv-go` or `osv-rustsec` (or of [`advisories`]), inside a range, at its fix, at
//! a `last_affected` boundary or in a `versions` list, so that a test knows what a matcher
//! must find.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::run_ok;

/// Where each package of [`language_rootfs`] is, as the catalogue names its file.
pub mod at {
    pub const PYYAML: &str = "usr/lib/python3/site-packages/PyYAML-5.3.1.dist-info/METADATA";
    pub const PYYAML_FIXED: &str =
        "opt/venv/lib/python3.11/site-packages/PyYAML-5.4.dist-info/METADATA";
    pub const PY: &str = "usr/lib/python3/site-packages/py-1.11.0.dist-info/METADATA";
    pub const GRATIENT: &str = "usr/lib/python3/site-packages/gratient-0.5.dist-info/METADATA";
    pub const WIDGET: &str = "app/node_modules/@acme/widget/package.json";
    pub const JAR: &str = "app/lib/acme-core-2.4.0.jar";
    pub const GO: &str = "usr/bin/hello";
    pub const RUST: &str = "usr/local/bin/audited";
}

/// Writes the tree under `root`, building the executables in `scratch` (removed after). Needs
/// `go`, `cargo auditable` and `python3` (for the jar).
pub fn language_rootfs(root: &Path, scratch: &Path) {
    python(root);
    npm(root);
    jar(root);
    go_binary(scratch, &root.join(at::GO));
    rust_binary(scratch, &root.join(at::RUST));
    fs::remove_dir_all(scratch).unwrap();
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// PyYAML 5.3.1 (inside PYSEC-2021-142's range, at PYSEC-2020-96's fix) and 5.4 (its fix);
/// py 1.11.0 (PYSEC-2022-42969's `last_affected`); gratient 0.5 (PYSEC-2024-1 lists it, no
/// range). Names as the metadata writes them: `PyYAML` is `pyyaml` once normalised.
fn python(root: &Path) {
    for (path, name, version) in [
        (at::PYYAML, "PyYAML", "5.3.1"),
        (at::PYYAML_FIXED, "PyYAML", "5.4"),
        (at::PY, "py", "1.11.0"),
        (at::GRATIENT, "gratient", "0.5"),
    ] {
        write(
            &root.join(path),
            &format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n"),
        );
    }
}

/// `@acme/widget` 1.2.0, inside [`advisories`]' npm range.
fn npm(root: &Path) {
    write(
        &root.join(at::WIDGET),
        r#"{"name": "@acme/widget", "version": "1.2.0"}"#,
    );
}

/// A jar whose `pom.properties` names `org.acme:acme-core` 2.4.0, inside [`advisories`]'
/// Maven range (written with Python's zipfile: a jar is a zip).
fn jar(root: &Path) {
    let path = root.join(at::JAR);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    run_ok(
        Command::new("python3")
            .arg("-c")
            .arg(
                "import sys, zipfile\n\
                 with zipfile.ZipFile(sys.argv[1], 'w') as z:\n\
                 \x20   z.writestr('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\\r\\n\\r\\n')\n\
                 \x20   z.writestr('META-INF/maven/org.acme/acme-core/pom.properties',\n\
                 \x20       'groupId=org.acme\\nartifactId=acme-core\\nversion=2.4.0\\n')\n",
            )
            .arg(&path),
    );
}

/// A Go program with two vendored modules: `golang.org/x/text` v0.3.0 (before the fixes of
/// GO-2020-0015, GO-2021-0113, GO-2022-1059, GO-2026-5970) and `golang.org/x/crypto` at a
/// pseudo-version just before GO-2020-0012's pseudo-version fix. Built offline by the local
/// Go toolchain (its standard library is a package too).
fn go_binary(scratch: &Path, exe: &Path) {
    let src = scratch.join("go-src");
    let text = "golang.org/x/text v0.3.0";
    let crypto = "golang.org/x/crypto v0.0.0-20200219234226-1ad67e1f0ef4";
    let files = [
        (
            "go.mod".to_owned(),
            format!("module example.com/hello\n\ngo 1.22\n\nrequire (\n\t{text}\n\t{crypto}\n)\n"),
        ),
        (
            "main.go".to_owned(),
            "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/crypto/ssh\"\n\t\"golang.org/x/text/language\"\n)\n\n\
             func main() { fmt.Println(language.Name(), ssh.Name()) }\n"
                .to_owned(),
        ),
        (
            "vendor/modules.txt".to_owned(),
            format!(
                "# {crypto}\n## explicit\ngolang.org/x/crypto/ssh\n# {text}\n## explicit\ngolang.org/x/text/language\n"
            ),
        ),
        (
            "vendor/golang.org/x/text/language/language.go".to_owned(),
            "package language\n\nfunc Name() string { return \"language\" }\n".to_owned(),
        ),
        (
            "vendor/golang.org/x/crypto/ssh/ssh.go".to_owned(),
            "package ssh\n\nfunc Name() string { return \"ssh\" }\n".to_owned(),
        ),
    ];
    for (path, text) in files {
        write(&src.join(path), &text);
    }
    fs::create_dir_all(exe.parent().unwrap()).unwrap();
    go_build(&src, exe, &[]);
}

/// `go build -o EXE FLAGS .` in `src`: offline, from the vendored modules, with the local Go
/// toolchain only and no cgo, so that the executable is the same on any machine with that Go.
pub fn go_build(src: &Path, exe: &Path, flags: &[&str]) {
    run_ok(
        Command::new("go")
            .current_dir(src)
            .args(["build", "-o"])
            .arg(exe)
            .args(flags)
            .arg(".")
            .env("GOPROXY", "off")
            .env("GOFLAGS", "-mod=vendor")
            .env("GOTOOLCHAIN", "local")
            .env("GOWORK", "off")
            .env("CGO_ENABLED", "0"),
    );
}

/// A Rust program depending on anyhow 1.0.102 (RUSTSEC-2026-0190: fixed in 1.0.103), built by
/// cargo-auditable: from the local registry cache when it holds the crate, else downloaded.
fn rust_binary(scratch: &Path, exe: &Path) {
    let src = scratch.join("rust-src");
    write(
        &src.join("Cargo.toml"),
        "[package]\nname = \"audited\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nanyhow = \"=1.0.102\"\n\n[workspace]\n",
    );
    write(
        &src.join("src/main.rs"),
        "fn main() {\n    let e: anyhow::Result<()> = Err(anyhow::anyhow!(\"x\"));\n    println!(\"{}\", e.is_err());\n}\n",
    );
    let build = |offline: bool| {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(&src)
            .args(["auditable", "build", "--quiet"])
            .args(offline.then_some("--offline"))
            .env("CARGO_TARGET_DIR", src.join("target"))
            .env_remove("RUSTC_WRAPPER")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        cmd
    };
    if !build(true).status().is_ok_and(|s| s.success()) {
        run_ok(&mut build(false));
    }
    fs::create_dir_all(exe.parent().unwrap()).unwrap();
    fs::copy(src.join("target/debug/audited"), exe).unwrap();
}

/// OSV records in the shape GitHub's advisory database publishes, for what the corpora do not
/// cover: a scoped npm package, a Maven artifact (`group:artifact`), and a `GHSA-…` for the
/// flaw PYSEC-2021-142 names (CVE-2020-14343), which a matcher merges with it; and two in the
/// Go database's shape for every Go release before 1.99.0, one for the standard library
/// (which the Go executable's own Go release is inside, whichever it is), one for the
/// toolchain (the `go` command, which no program contains).
pub fn advisories(dir: &Path) {
    let record = |id: &str, aliases: &str, ecosystem: &str, name: &str, events: &str| {
        format!(
            r#"{{"schema_version": "1.4.0", "id": "{id}", "modified": "2026-01-02T00:00:00Z",
  "aliases": [{aliases}], "summary": "{id} in {name}",
  "severity": [{{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}],
  "affected": [{{"package": {{"ecosystem": "{ecosystem}", "name": "{name}"}},
    "ranges": [{{"type": "{kind}", "events": [{events}]}}]}}],
  "database_specific": {{"severity": "CRITICAL"}}}}"#,
            kind = if ecosystem == "npm" {
                "SEMVER"
            } else {
                "ECOSYSTEM"
            },
        )
    };
    fs::create_dir_all(dir).unwrap();
    for (id, aliases, ecosystem, name, events) in [
        (
            "GHSA-aaaa-bbbb-cccc",
            r#""CVE-2026-0001""#,
            "npm",
            "@acme/widget",
            r#"{"introduced": "1.0.0"}, {"fixed": "1.2.1"}"#,
        ),
        (
            "GHSA-dddd-eeee-ffff",
            r#""CVE-2026-0002""#,
            "Maven",
            "org.acme:acme-core",
            r#"{"introduced": "2.0"}, {"fixed": "2.4.1"}"#,
        ),
        (
            "GHSA-8q59-q68h-6hv4",
            r#""CVE-2020-14343""#,
            "PyPI",
            "PyYAML",
            r#"{"introduced": "0"}, {"fixed": "5.4"}"#,
        ),
        (
            "GO-2099-0001",
            "",
            "Go",
            "stdlib",
            r#"{"introduced": "0"}, {"fixed": "1.99.0"}"#,
        ),
        (
            "GO-2099-0002",
            "",
            "Go",
            "toolchain",
            r#"{"introduced": "0"}, {"fixed": "1.99.0"}"#,
        ),
    ] {
        fs::write(
            dir.join(format!("{id}.json")),
            record(id, aliases, ecosystem, name, events),
        )
        .unwrap();
    }
}
