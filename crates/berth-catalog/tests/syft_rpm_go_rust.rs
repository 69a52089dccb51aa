//! The rpm, Go and cargo-auditable catalogers against Syft 1.18.1 (`syft dir:`, offline) on
//! fixtures the real tools make here: rpm databases written by rpm itself (packages made by
//! rpmbuild), Go executables built by Go 1.27 (`go version -m` checks the build info read),
//! a Rust executable built by cargo-auditable. Berth finds what Syft finds (type, name,
//! version, purl); differences would be listed here with the reason (there are none).

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use berth_catalog::{Catalog, DirFs, File, catalog, golang, rust_audit};
use test_support::{require, run_ok};

mod common;

use common::{Edges, Row, row, rows, syft_edges, syft_json, syft_rows};

/// A package as `name@version`, as this test names both ends of a dependency.
fn name_at_version(name: &str, version: &str) -> String {
    format!("{name}@{version}")
}

/// Every package Syft finds in `dir`, and its `dependency-of` relationships.
fn syft(dir: &Path) -> (BTreeSet<Row>, Edges) {
    let doc = syft_json(&format!("dir:{}", dir.display()));
    let rows = syft_rows(&doc).into_iter().collect();
    (rows, syft_edges(&doc, name_at_version))
}

/// berth's dependencies in `found`, as [`syft`] gives Syft's.
fn edges(found: &Catalog) -> Edges {
    common::edges(found, name_at_version)
}

/// What berth finds in one executable: its bytes through `extract`, then `packages`.
fn berth_binary(
    path: &Path,
    extract: fn(&[u8]) -> Option<Vec<u8>>,
    packages: fn(
        &File,
        Option<&berth_catalog::Distro>,
    ) -> berth_catalog::Result<Vec<berth_catalog::Package>>,
) -> BTreeSet<Row> {
    let bytes = fs::read(path).unwrap();
    let extracted =
        extract(&bytes).unwrap_or_else(|| panic!("{}: nothing extracted", path.display()));
    let file = File {
        path: path.file_name().unwrap().to_string_lossy().into_owned(),
        bytes: Arc::from(extracted),
        layer: None,
    };
    rows(packages(&file, None).unwrap())
}

const SPECS: [(&str, &str); 3] = [
    (
        "hello-tiny",
        "Version: 1.2.3\nRelease: 4.fc40\nEpoch: 2\nLicense: MIT AND Apache-2.0\nVendor: berth tests\n",
    ),
    (
        "zero-epoch",
        "Version: 0.9\nRelease: 1.fc40\nEpoch: 0\nLicense: GPL-2.0-or-later\n",
    ),
    (
        "no-epoch",
        "Version: 2024.1~rc2\nRelease: 3\nLicense: BSD-3-Clause\n",
    ),
];

/// Two Fedora-like roots holding the same three noarch packages installed by rpm: one with
/// the database at `var/lib/rpm`, one at `usr/lib/sysimage/rpm` with `var/lib/rpm` a
/// symlink to it (Fedora ≥ 36).
fn rpm_roots(tmp: &Path) -> [PathBuf; 2] {
    let top = tmp.join("rpmbuild");
    fs::create_dir_all(top.join("SPECS")).unwrap();
    for (name, fields) in SPECS {
        let spec = top.join("SPECS").join(format!("{name}.spec"));
        fs::write(
            &spec,
            format!(
                "Name: {name}\n{fields}Summary: a tiny package\nBuildArch: noarch\n\
                 %description\nA tiny package.\n%files\n"
            ),
        )
        .unwrap();
        run_ok(
            Command::new("rpmbuild")
                .arg("--define")
                .arg(format!("_topdir {}", top.display()))
                .args(["--quiet", "-bb"])
                .arg(&spec),
        );
    }
    let rpms: Vec<PathBuf> = fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(rpms.len(), 3, "{rpms:?}");
    [
        ("classic", "/var/lib/rpm"),
        ("sysimage", "/usr/lib/sysimage/rpm"),
    ]
    .map(|(name, dbpath)| {
        let root = tmp.join(name);
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(
            root.join("etc/os-release"),
            "NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=40\nPRETTY_NAME=\"Fedora Linux 40\"\n",
        )
        .unwrap();
        run_ok(
            Command::new("rpm")
                .arg("--root")
                .arg(&root)
                .args(["--dbpath", dbpath, "--define", "_db_backend sqlite"])
                .args(["-i", "--nodeps", "--ignoreos"])
                .args(&rpms),
        );
        if name == "sysimage" {
            fs::create_dir_all(root.join("var/lib")).unwrap();
            symlink("../../usr/lib/sysimage/rpm", root.join("var/lib/rpm")).unwrap();
        }
        root
    })
}

/// A main module with a vendored dependency (a major version suffix, so a purl subpath) and
/// one replaced by a local directory, built offline by Go twice: with a version set by the
/// linker, and with `-trimpath` (no `-ldflags` recorded, so a `(devel)` main module).
fn go_binaries(tmp: &Path) -> [PathBuf; 2] {
    let src = tmp.join("go");
    let files = [
        (
            "go.mod",
            "module example.com/berth/hello\n\ngo 1.22\n\nrequire (\n\texample.com/dep v1.0.0\n\t\
             github.com/acme/lib/v2 v2.3.0\n)\n\nreplace example.com/dep => ./dep\n",
        ),
        (
            "main.go",
            "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/dep\"\n\t\"github.com/acme/lib/v2\"\n)\n\n\
             var version = \"dev\"\n\nfunc main() { fmt.Println(\"hello\", version, dep.Name(), lib.Name()) }\n",
        ),
        ("dep/go.mod", "module example.com/dep\n\ngo 1.22\n"),
        (
            "dep/dep.go",
            "package dep\n\nfunc Name() string { return \"dep\" }\n",
        ),
        (
            "vendor/modules.txt",
            "# example.com/dep v1.0.0 => ./dep\n## explicit\nexample.com/dep\n\
             # github.com/acme/lib/v2 v2.3.0\n## explicit; go 1.22\ngithub.com/acme/lib/v2\n\
             # example.com/dep => ./dep\n",
        ),
        (
            "vendor/example.com/dep/dep.go",
            "package dep\n\nfunc Name() string { return \"dep\" }\n",
        ),
        (
            "vendor/github.com/acme/lib/v2/lib.go",
            "package lib\n\nfunc Name() string { return \"lib\" }\n",
        ),
    ];
    for (path, text) in files {
        let path = src.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    [
        ("ldflags", &["-ldflags", "-X main.version=1.4.0"][..]),
        ("trimpath", &["-trimpath"][..]),
    ]
    .map(|(name, flags)| {
        let out = tmp.join(format!("go-{name}"));
        fs::create_dir_all(&out).unwrap();
        let exe = out.join("hello");
        test_support::languages::go_build(&src, &exe, flags);
        exe
    })
}

/// A crate with a dependency, a dependency without default features and a build
/// dependency, built offline by cargo-auditable with the workspace's lock (so only crates
/// already fetched for berth are used).
fn rust_binary(tmp: &Path) -> PathBuf {
    let src = tmp.join("rust");
    fs::create_dir_all(src.join("src")).unwrap();
    fs::write(
        src.join("Cargo.toml"),
        "[package]\nname = \"tiny-audited\"\nversion = \"0.3.1\"\nedition = \"2021\"\n\n\
         [dependencies]\nitoa = \"1\"\nmemchr = { version = \"2\", default-features = false }\n\n\
         [build-dependencies]\ncfg-if = \"1\"\n\n[workspace]\n",
    )
    .unwrap();
    fs::write(src.join("build.rs"), "fn main() {}\n").unwrap();
    fs::write(
        src.join("src/main.rs"),
        "fn main() {\n    let mut b = itoa::Buffer::new();\n    \
         println!(\"{} {:?}\", b.format(42), memchr::memchr(b'4', b\"42\"));\n}\n",
    )
    .unwrap();
    let workspace_lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    fs::copy(workspace_lock, src.join("Cargo.lock")).unwrap();
    run_ok(
        Command::new(env!("CARGO"))
            .current_dir(&src)
            .args(["auditable", "build", "--offline", "--quiet"])
            .env("CARGO_TARGET_DIR", src.join("target"))
            .env_remove("RUSTC_WRAPPER")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("CARGO_ENCODED_RUSTFLAGS"),
    );
    let out = tmp.join("rust-bin");
    fs::create_dir_all(&out).unwrap();
    fs::copy(
        src.join("target/debug/tiny-audited"),
        out.join("tiny-audited"),
    )
    .unwrap();
    out.join("tiny-audited")
}

/// `go version -m`'s module lines (`path`, `mod`, `dep`, `=>`) and build setting keys.
fn go_version_m(exe: &Path) -> (String, Vec<String>, Vec<String>) {
    let out = run_ok(Command::new("go").arg("version").arg("-m").arg(exe));
    let mut lines = out.lines();
    let go = lines.next().unwrap().rsplit(' ').next().unwrap().to_owned();
    let mut modules = Vec::new();
    let mut settings = Vec::new();
    for line in lines {
        let line = line.trim_start_matches('\t');
        match line.split_once('\t') {
            Some(("build", setting)) => {
                settings.push(setting.split('=').next().unwrap().to_owned())
            }
            Some(_) => modules.push(line.trim_end_matches('\t').to_owned()),
            None => {}
        }
    }
    (go, modules, settings)
}

/// Berth's build info in `go version -m`'s terms.
fn build_info(exe: &Path) -> (String, Vec<String>, Vec<String>) {
    let info = golang::parse(&golang::extract(&fs::read(exe).unwrap()).unwrap()).unwrap();
    let line = |key: &str, m: &golang::Module| {
        format!("{key}\t{}\t{}\t{}", m.path, m.version, m.sum)
            .trim_end_matches('\t')
            .to_owned()
    };
    let mut modules = vec![format!("path\t{}", info.path), line("mod", &info.main)];
    for dep in &info.deps {
        modules.push(line("dep", dep));
        if let Some(replace) = &dep.replace {
            modules.push(line("=>", replace));
        }
    }
    let settings = info.settings.iter().map(|(k, _)| k.clone()).collect();
    (info.go_version, modules, settings)
}

/// One test for every fixture and Syft run (each takes seconds), side by side.
#[test]
fn rpm_go_and_rust_as_syft_finds_them() {
    for tool in ["syft", "rpm", "rpmbuild", "go", "cargo-auditable"] {
        require(tool);
    }
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let (rpm, go, rust) = std::thread::scope(|s| {
        let rpm = s.spawn(|| rpm_roots(tmp));
        let go = s.spawn(|| go_binaries(tmp));
        let rust = s.spawn(|| rust_binary(tmp));
        (
            rpm.join().unwrap(),
            go.join().unwrap(),
            rust.join().unwrap(),
        )
    });
    let dirs: Vec<PathBuf> = rpm
        .iter()
        .cloned()
        .chain(
            go.iter()
                .chain([&rust])
                .map(|exe| exe.parent().unwrap().to_owned()),
        )
        .collect();
    let (oracle, oracle_edges): (Vec<BTreeSet<Row>>, Vec<Edges>) = std::thread::scope(|s| {
        let runs: Vec<_> = dirs.iter().map(|d| s.spawn(|| syft(d))).collect();
        runs.into_iter().map(|r| r.join().unwrap()).unzip()
    });

    // rpm: the epoch in the version (`0:` too) and in the purl's qualifiers, the source
    // rpm as `upstream`; the symlinked database read once.
    for (root, want) in rpm.iter().zip(&oracle) {
        let got = rows(catalog(&DirFs::open(root).unwrap()).unwrap().packages);
        assert_eq!(&got, want, "{}", root.display());
    }
    let got = catalog(&DirFs::open(&rpm[1]).unwrap()).unwrap().packages;
    assert_eq!(got.len(), 3, "{got:?}");
    let hello = got.iter().find(|p| p.name == "hello-tiny").unwrap();
    assert_eq!(hello.version, "2:1.2.3-4.fc40");
    assert_eq!(
        hello.purl.as_deref(),
        Some(
            "pkg:rpm/fedora/hello-tiny@1.2.3-4.fc40?arch=noarch&distro=fedora-40&epoch=2&upstream=hello-tiny-1.2.3-4.fc40.src.rpm"
        )
    );
    assert_eq!(hello.licenses, ["MIT AND Apache-2.0"]);
    assert_eq!(hello.evidence, ["/usr/lib/sysimage/rpm/rpmdb.sqlite"]);
    let source = hello.source.as_ref().unwrap();
    assert_eq!(
        (source.name.as_str(), source.version.as_str()),
        ("hello-tiny", "1.2.3-4.fc40")
    );
    assert!(got.iter().any(|p| p.version == "0:0.9-1.fc40"));

    // Go: the build info as `go version -m` prints it, and the packages as Syft lists them:
    // the vendored module (its `/v2` a purl subpath), the local replacement as Syft names it
    // (`./dep` at `(devel)`), the main module at the linker's version or `(devel)`, stdlib.
    for exe in &go {
        assert_eq!(build_info(exe), go_version_m(exe), "{}", exe.display());
    }
    for (exe, want) in go.iter().zip(&oracle[2..4]) {
        let got = berth_binary(exe, golang::extract, golang::packages);
        assert_eq!(&got, want, "{}", exe.display());
    }
    let got = berth_binary(&go[0], golang::extract, golang::packages);
    assert!(got.contains(&row(
        "go-module",
        "example.com/berth/hello",
        "v1.4.0",
        "pkg:golang/example.com/berth/hello@v1.4.0"
    )));
    assert!(got.contains(&row(
        "go-module",
        "github.com/acme/lib/v2",
        "v2.3.0",
        "pkg:golang/github.com/acme/lib@v2.3.0#v2"
    )));
    assert_eq!(got.len(), 4, "{got:?}");

    // Rust: the crates compiled in, the root one included, the build dependency left out.
    let got = berth_binary(&rust, rust_audit::extract, rust_audit::packages);
    assert_eq!(&got, &oracle[4]);
    let names: Vec<&str> = got.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(names, ["itoa", "memchr", "tiny-audited"]);

    // Found where they lie: the directory walk offers every ELF file to both extractors, and
    // the catalogue of each executable's directory is Syft's, its dependencies too.
    for ((dir, want), want_edges) in dirs[2..].iter().zip(&oracle[2..]).zip(&oracle_edges[2..]) {
        let found = catalog(&DirFs::open(dir).unwrap()).unwrap();
        // And the same dependencies: the main module (the root crate) needs every module
        // compiled in, stdlib included (every runtime crate its indices name).
        let found_edges = edges(&found);
        assert!(found_edges.len() >= 2, "{}: {found_edges:?}", dir.display());
        assert_eq!(&found_edges, want_edges, "{}", dir.display());
        let got = rows(found.packages);
        assert_eq!(&got, want, "{}", dir.display());
    }

    // Neither reads the other's executables, nor anything from an rpm database.
    assert_eq!(rust_audit::extract(&fs::read(&go[0]).unwrap()), None);
    assert_eq!(golang::extract(&fs::read(&rust).unwrap()), None);
}
