//! The catalogers against Syft 1.18.1 (offline), the oracle: on the same trees, berth finds
//! the same packages (type, name, version, purl), and Syft's findings berth does not share are
//! listed here with the reason.
//!
//! The language catalogers are checked on trees made here: a Python site-packages
//! (dist-info and egg-info, licence variants), a `node_modules` tree (scoped and nested
//! packages), Java archives (a plain jar with `pom.properties`, a Spring-Boot-style fat jar
//! with jars nested two deep, a shaded jar bundling two Maven artifacts, a war, a jar with
//! only a manifest), and a project with npm and Yarn lockfiles; each as a directory (`syft
//! dir:`, berth's [`DirFs`]) and as a one-layer image (`syft oci-dir:` on an OCI layout
//! written here, berth's [`ImageFs`] on the same layer).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::Path;

use berth_catalog::{Catalog, DirFs, ImageFs, Layer, WANTED, catalog, cpe};
use berth_oci::Digest;
use test_support::require;

mod common;

use common::{Row, edges, row, rows, syft_edges, syft_json, syft_rows};

const OS_TYPES: [&str; 2] = ["deb", "apk"];
const LANGUAGE_TYPES: [&str; 3] = ["python", "npm", "java-archive"];

/// What Syft finds in `source` (`dir:…`, `oci-dir:…`), as rows, for `types`; the other
/// types it found; and its whole JSON document.
fn syft(source: &str, types: &[&str]) -> (BTreeSet<Row>, BTreeSet<String>, serde_json::Value) {
    let doc = syft_json(source);
    let (rows, others): (Vec<Row>, Vec<Row>) = syft_rows(&doc)
        .into_iter()
        .partition(|r| types.contains(&r.0.as_str()));
    let others = others
        .into_iter()
        .map(|(ty, name, version, _)| format!("{ty} {name} {version}"))
        .collect();
    (rows.into_iter().collect(), others, doc)
}

/// Per package name, a field of Syft's JSON: licences' values (sorted), or the first CPE.
fn syft_by_name(
    doc: &serde_json::Value,
    field: fn(&serde_json::Value) -> Vec<String>,
) -> BTreeMap<String, Vec<String>> {
    doc["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap().to_string(), field(a)))
        .collect()
}

/// Packages named by name alone, as this test compares dependencies.
fn name_only(name: &str, _version: &str) -> String {
    name.to_string()
}

/// berth's dependencies as (dependency, dependent) names.
fn dependencies(found: &Catalog) -> BTreeSet<(String, String)> {
    edges(found, name_only)
}

/// Syft's `dependency-of` relationships as (dependency, dependent) names.
fn syft_dependencies(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
    syft_edges(doc, name_only)
}

fn berth(dir: &Path) -> BTreeSet<Row> {
    rows(catalog(&DirFs::open(dir).unwrap()).unwrap().packages)
}

/// An Alpine tree written from the apk database format (apk-tools' `installed`, the Alpine
/// wiki's "Apk spec"): no Alpine image is reachable here. os-release is a relative symlink,
/// as on Alpine.
fn alpine_tree(dir: &Path) {
    fs::create_dir_all(dir.join("lib/apk/db")).unwrap();
    fs::create_dir_all(dir.join("etc")).unwrap();
    fs::create_dir_all(dir.join("usr/lib")).unwrap();
    fs::write(
        dir.join("usr/lib/os-release"),
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
    )
    .unwrap();
    symlink("../usr/lib/os-release", dir.join("etc/os-release")).unwrap();
    fs::write(dir.join("lib/apk/db/installed"), ALPINE_INSTALLED).unwrap();
}

const ALPINE_INSTALLED: &str = "\
C:Q1mhsOL/NxR+3ryoSW4UEbVTtjX3gQ=
P:musl
V:1.2.5-r0
A:x86_64
S:411323
I:651264
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1715691016
c:5e8d4ed5ba4bc30bc9d36ad74a0e8e6e6db1d9a3
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1ogJe6NHcVMcfTffO3YP1hDYOUdA=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

C:Q1Ef8Kj4hKaz4dRNV2/MtcU6oSk/s=
P:libcrypto3
V:3.3.2-r0
A:x86_64
L:Apache-2.0
o:openssl
D:so:libc.musl-x86_64.so.1
F:usr/lib
R:libcrypto.so.3

P:busybox-binsh
V:1.36.1-r29
A:x86_64
L:GPL-2.0-only
o:busybox

P:ca-certificates-bundle
V:20240705-r0
A:x86_64
L:MPL-2.0 AND MIT
o:ca-certificates
";

/// A Debian tree with the entries a status file can hold besides installed packages, and a
/// distroless `status.d` (one file a package, beside its `.md5sums`).
fn dpkg_states_tree(dir: &Path) {
    fs::create_dir_all(dir.join("var/lib/dpkg/status.d")).unwrap();
    fs::create_dir_all(dir.join("etc")).unwrap();
    fs::write(
        dir.join("etc/os-release"),
        "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
    )
    .unwrap();
    fs::write(
        dir.join("var/lib/dpkg/status"),
        "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\n\
         Version: 3.0.11-1~deb12u1\nDescription: Secure Sockets Layer toolkit\n more\n .\n end\n\n\
         Package: removed-keeps-config\nStatus: deinstall ok config-files\nArchitecture: amd64\n\
         Version: 1.0-1\nConffiles:\n /etc/removed.conf 0123456789abcdef0123456789abcdef\n\n\
         Package: never-installed\nStatus: purge ok not-installed\nArchitecture: amd64\n\n\
         Package: unpacked-only\nStatus: install ok unpacked\nArchitecture: all\n\
         Source: unpacked-src (2.0-1)\nVersion: 2.0-1+b1\n",
    )
    .unwrap();
    fs::write(
        dir.join("var/lib/dpkg/status.d/tzdata"),
        "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\nInstalled-Size: 2184\n",
    )
    .unwrap();
    fs::write(
        dir.join("var/lib/dpkg/status.d/tzdata.md5sums"),
        "d41d8cd98f00b204e9800998ecf8427e  usr/share/zoneinfo/UTC\n",
    )
    .unwrap();
}

/// One test for every Syft run (each takes seconds), run side by side.
#[test]
fn finds_what_syft_finds() {
    require("syft");
    let debian = test_support::debian_rootfs();
    let tmp = tempfile::tempdir().unwrap();
    let busybox = tmp.path().join("busybox");
    test_support::busybox_rootfs(&busybox);
    let alpine = tmp.path().join("alpine");
    alpine_tree(&alpine);
    let states = tmp.path().join("dpkg-states");
    dpkg_states_tree(&states);

    let trees = [&debian, &busybox, &alpine, &states];
    let oracle: Vec<_> = std::thread::scope(|s| {
        let runs: Vec<_> = trees
            .iter()
            .map(|t| s.spawn(|| syft(&format!("dir:{}", t.display()), &OS_TYPES)))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });

    // Debian bookworm minbase: every package, to the byte of its purl.
    let (want, others, doc) = &oracle[0];
    let found = catalog(&DirFs::open(&debian).unwrap()).unwrap();
    let got = rows(found.packages.clone());
    assert!(want.len() > 80, "syft found {} packages", want.len());
    assert_eq!(&got, want, "Debian minbase");
    assert!(others.is_empty(), "{others:?}");
    assert!(found.warnings.is_empty(), "{:?}", found.warnings);

    // Its licences, from each package's copyright file (through the doc directories that are
    // symlinks, as `libgcc-s1 -> gcc-12-base`): the same names for every package.
    let licences = |a: &serde_json::Value| -> Vec<String> {
        let mut v: Vec<String> = a["licenses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["value"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let by_name = |f: fn(&berth_catalog::Package) -> Vec<String>| -> BTreeMap<String, Vec<String>> {
        found
            .packages
            .iter()
            .map(|p| (p.name.clone(), f(p)))
            .collect()
    };
    assert_eq!(
        by_name(|p| p.licenses.clone()),
        syft_by_name(doc, licences),
        "licences"
    );
    let gcc = found
        .packages
        .iter()
        .find(|p| p.name == "libgcc-s1")
        .unwrap();
    assert!(gcc.licenses.contains(&"GPL-3".to_string()), "{gcc:?}");

    // Its dependencies (Depends and Pre-Depends, every alternative, virtual packages through
    // Provides): the same edges as Syft's.
    let want_edges = syft_dependencies(doc);
    assert!(want_edges.len() > 200, "{}", want_edges.len());
    assert_eq!(dependencies(&found), want_edges, "dependencies");

    // Its CPEs: the one Syft lists first, to the byte of its quoting (`1\:2.38.1-5\+deb12u3`).
    let first_cpe = |a: &serde_json::Value| vec![a["cpes"][0]["cpe"].as_str().unwrap().to_string()];
    let cpes = by_name(|p| cpe::of_package(p).into_iter().collect());
    assert_eq!(cpes, syft_by_name(doc, first_cpe), "CPEs");

    // busybox: no package database, so no package. Syft's binary classifier recognises the
    // busybox executable by its version string; berth has no binary cataloguer yet.
    let (want, others, _) = &oracle[1];
    assert!(berth(&busybox).is_empty());
    assert!(want.is_empty(), "{want:?}");
    assert!(
        others.iter().all(|o| o.starts_with("binary busybox ")),
        "{others:?}"
    );

    // Alpine: the apk database as Syft parses it (os-release through its symlink).
    let (want, others, doc) = &oracle[2];
    let found = catalog(&DirFs::open(&alpine).unwrap()).unwrap();
    // Dependencies through what a package provides (`D:so:libc.musl-x86_64.so.1`).
    let musl = ("musl".to_string(), "libcrypto3".to_string());
    assert_eq!(dependencies(&found), [musl].into(), "Alpine dependencies");
    assert_eq!(
        dependencies(&found),
        syft_dependencies(doc),
        "Alpine dependencies"
    );
    let got = rows(found.packages);
    assert_eq!(got.len(), 4);
    assert_eq!(&got, want, "Alpine");
    assert!(others.is_empty(), "{others:?}");
    assert!(got.contains(&row(
        "apk",
        "libcrypto3",
        "3.3.2-r0",
        "pkg:apk/alpine/libcrypto3@3.3.2-r0?arch=x86_64&distro=alpine-3.20.3&upstream=openssl"
    )));

    // dpkg states: Syft 1.18.1 also reports a package that was removed (`deinstall ok
    // config-files`: only its configuration is left) and one that was never installed
    // (`purge ok not-installed`, reported at version "UNKNOWN"). Neither has files on disk,
    // so neither is installed: both are Syft's bugs, and the only difference.
    let (want, others, _) = &oracle[3];
    let got = berth(&states);
    let syft_bugs: BTreeSet<Row> = [
        row(
            "deb",
            "never-installed",
            "UNKNOWN",
            "pkg:deb/debian/never-installed?arch=amd64&distro=debian-12",
        ),
        row(
            "deb",
            "removed-keeps-config",
            "1.0-1",
            "pkg:deb/debian/removed-keeps-config@1.0-1?arch=amd64&distro=debian-12",
        ),
    ]
    .into();
    let want: BTreeSet<Row> = want.difference(&syft_bugs).cloned().collect();
    assert_eq!(
        oracle[3].0.len(),
        want.len() + syft_bugs.len(),
        "{:?}",
        oracle[3].0
    );
    assert_eq!(got, want, "dpkg states");
    assert!(others.is_empty(), "{others:?}");
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn jar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn manifest(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut m = String::from("Manifest-Version: 1.0\r\n");
    for (k, v) in fields {
        m.push_str(&format!("{k}: {v}\r\n"));
    }
    m.push_str("\r\n");
    m.into_bytes()
}

fn pom_properties(group: &str, artifact: &str, version: &str) -> Vec<u8> {
    format!("#Generated by Maven\ngroupId={group}\nartifactId={artifact}\nversion={version}\n")
        .into_bytes()
}

/// Installed packages: what an image holds.
fn installed_tree(root: &Path) {
    let site = root.join("usr/lib/python3.11/site-packages");
    let metadata = [
        (
            "Foo_Bar-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.0\nLicense: MIT\n\nLong description\nName: not-this\n",
        ),
        (
            "expr-2.0.dist-info/METADATA",
            "Metadata-Version: 2.4\nName: expr.pkg\nVersion: 2.0\nLicense-Expression: Apache-2.0 OR MIT\nLicense: ignored\n",
        ),
        (
            "cls-3.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: cls\nVersion: 3\nClassifier: License :: OSI Approved :: BSD License\n",
        ),
        (
            "old-0.1.egg-info/PKG-INFO",
            "Metadata-Version: 1.0\nName: old\nVersion: 0.1\nLicense: UNKNOWN\n",
        ),
        (
            "flat-0.2.egg-info",
            "Metadata-Version: 1.0\nName: flat\nVersion: 0.2\nLicense: GPL\n",
        ),
        (
            "multi-1.dist-info/METADATA",
            "Name: multi\nVersion: 1.0.post1\nLicense: BSD\n  continued\n",
        ),
        ("noversion.dist-info/METADATA", "Name: nov\n"),
    ];
    for (path, text) in metadata {
        write(&site.join(path), text);
    }

    let app = root.join("srv/app");
    write(
        &app.join("package.json"),
        r#"{"name":"myapp","version":"1.0.0","license":"MIT"}"#,
    );
    let modules = app.join("node_modules");
    write(
        &modules.join("lodash/package.json"),
        r#"{"name":"lodash","version":"4.17.21","license":"MIT"}"#,
    );
    write(
        &modules.join("@scope/pkg/package.json"),
        r#"{"name":"@scope/pkg","version":"2.0.0-beta.1","license":{"type":"ISC"}}"#,
    );
    write(
        &modules.join("debug/package.json"),
        r#"{"name":"debug","version":"4.3.4","licenses":[{"type":"MIT"}]}"#,
    );
    write(
        &modules.join("debug/node_modules/ms/package.json"),
        r#"{"name":"ms","version":"2.1.2"}"#,
    );
    write(&modules.join("nover/package.json"), r#"{"name":"nover"}"#);

    let lang3 = jar(&[
        (
            "META-INF/MANIFEST.MF",
            &manifest(&[
                ("Implementation-Title", "commons-lang3"),
                ("Implementation-Version", "3.12.0"),
            ]),
        ),
        (
            "META-INF/maven/org.apache.commons/commons-lang3/pom.properties",
            &pom_properties("org.apache.commons", "commons-lang3", "3.12.0"),
        ),
        (
            "org/apache/commons/lang3/StringUtils.class",
            b"\xca\xfe\xba\xbe",
        ),
    ]);
    let guava = jar(&[
        (
            "META-INF/MANIFEST.MF",
            &manifest(&[("Bundle-SymbolicName", "com.google.guava")]),
        ),
        (
            "META-INF/maven/com.google.guava/guava/pom.properties",
            &pom_properties("com.google.guava", "guava", "32.1.2-jre"),
        ),
    ]);
    let deep = jar(&[(
        "META-INF/MANIFEST.MF",
        &manifest(&[("Implementation-Version", "0.0.1")]),
    )]);
    let wrapper = jar(&[
        (
            "META-INF/MANIFEST.MF",
            &manifest(&[("Implementation-Version", "1.0")]),
        ),
        ("lib/deep-0.0.1.jar", &deep),
    ]);
    let fat = jar(&[
        (
            "META-INF/MANIFEST.MF",
            &manifest(&[("Main-Class", "org.springframework.boot.loader.JarLauncher")]),
        ),
        (
            "META-INF/maven/com.example/fat-app/pom.properties",
            &pom_properties("com.example", "fat-app", "5.0.0"),
        ),
        ("BOOT-INF/lib/guava-32.1.2-jre.jar", &guava),
        ("BOOT-INF/lib/wrapper-1.0.jar", &wrapper),
    ]);
    let shaded = jar(&[
        ("META-INF/MANIFEST.MF", &manifest(&[("Main-Class", "x.Y")])),
        (
            "META-INF/maven/com.example/shaded-dep/pom.properties",
            &pom_properties("com.example", "shaded-dep", "1.2.3"),
        ),
        (
            "META-INF/maven/com.example/bundled/pom.properties",
            &pom_properties("com.example", "bundled", "0.9"),
        ),
        (
            "META-INF/maven/com.example/bundled/pom.xml",
            &pom_xml("<license><name>BSD-2-Clause</name></license>"),
        ),
    ]);
    let war = jar(&[
        (
            "META-INF/MANIFEST.MF",
            &manifest(&[("Implementation-Version", "7")]),
        ),
        ("WEB-INF/lib/commons-lang3-3.12.0.jar", &lang3),
    ]);
    let lib = root.join("opt/app/lib");
    write(&lib.join("commons-lang3-3.12.0.jar"), &lang3);
    write(&lib.join("fat-app-5.0.0.jar"), &fat);
    write(&lib.join("shaded-5.0.0.jar"), &shaded);
    write(&lib.join("manifest-only-2.3.jar"), manifest_only());
    // Groups from the manifest: an OSGi symbolic name (its directives dropped) over a main
    // class; a main class alone.
    write(
        &lib.join("tool-3.1.jar"),
        jar(&[(
            "META-INF/MANIFEST.MF",
            &manifest(&[
                ("Main-Class", "com.zeta.Main"),
                ("Bundle-SymbolicName", "org.example.tool;singleton:=true"),
            ]),
        )]),
    );
    write(
        &lib.join("cli-1.2.jar"),
        jar(&[(
            "META-INF/MANIFEST.MF",
            &manifest(&[("Main-Class", "io.acme.cli.Main")]),
        )]),
    );
    write(
        &lib.join("no-manifest.jar"),
        jar(&[("a/A.class", b"\xca\xfe\xba\xbe")]),
    );
    // A manifest, but a version neither there nor in the file name.
    write(
        &lib.join("launcher.jar"),
        jar(&[("META-INF/MANIFEST.MF", &manifest(&[("Created-By", "17")]))]),
    );
    write(&root.join("opt/app/webapp.war"), &war);
    // Licences: the manifest's Bundle-License wins over the pom.xml's; a pom.xml's names.
    write(
        &lib.join("licensed-1.0.jar"),
        jar(&[
            (
                "META-INF/MANIFEST.MF",
                &manifest(&[("Bundle-License", "Apache-2.0")]),
            ),
            (
                "META-INF/maven/org.example/licensed/pom.properties",
                &pom_properties("org.example", "licensed", "1.0"),
            ),
            (
                "META-INF/maven/org.example/licensed/pom.xml",
                &pom_xml("<license><name>GPL-3.0</name></license>"),
            ),
        ]),
    );
    write(
        &lib.join("pom-licensed-2.0.jar"),
        jar(&[
            ("META-INF/MANIFEST.MF", &manifest(&[])),
            (
                "META-INF/maven/org.example/pom-licensed/pom.properties",
                &pom_properties("org.example", "pom-licensed", "2.0"),
            ),
            (
                "META-INF/maven/org.example/pom-licensed/pom.xml",
                &pom_xml(
                    "<license><name>MIT</name></license>\
                     <license><name>\n    Eclipse Public License 2.0\n  </name></license>\
                     <license><name>A &amp; B</name></license>\
                     <license><name></name></license>\
                     <license><url>https://opensource.org/licenses/MIT</url></license>\
                     <license><name>MIT</name></license>",
                ),
            ),
        ]),
    );
}

/// A pom.xml declaring `licenses` (the `<license>` elements).
fn pom_xml(licenses: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <project xmlns=\"http://maven.apache.org/POM/4.0.0\">\
         <modelVersion>4.0.0</modelVersion><licenses>{licenses}</licenses></project>\n"
    )
    .into_bytes()
}

fn manifest_only() -> Vec<u8> {
    jar(&[(
        "META-INF/MANIFEST.MF",
        &manifest(&[
            ("Implementation-Title", "mfonly"),
            ("Implementation-Version", "2.3"),
        ]),
    )])
}

/// A project with lockfiles and nothing installed: what a directory scan reads.
fn project_tree(root: &Path) {
    write(
        &root.join("web/package-lock.json"),
        r#"{
  "name": "web", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
  "packages": {
    "": {"name": "web", "version": "1.0.0", "license": "MIT", "dependencies": {"debug": "^4", "linked": "*"}},
    "node_modules/lodash": {"version": "4.17.21", "license": "MIT"},
    "node_modules/@scope/pkg": {"version": "2.0.0", "license": "ISC"},
    "node_modules/debug": {"version": "4.3.4", "dependencies": {"ms": "2.1.2"}},
    "node_modules/debug/node_modules/ms": {"version": "2.1.2"},
    "node_modules/devonly": {"version": "1.1.1", "dev": true},
    "node_modules/aliased": {"name": "real-name", "version": "3.0.0"},
    "node_modules/linked": {"resolved": "packages/linked", "link": true},
    "packages/linked": {"name": "linked", "version": "0.0.1"}
  }
}"#,
    );
    write(
        &root.join("npm6/package-lock.json"),
        r#"{
  "name": "npm6", "version": "0.1.0", "lockfileVersion": 1, "requires": true,
  "dependencies": {
    "left-pad": {"version": "1.3.0", "resolved": "https://example.invalid/left-pad-1.3.0.tgz"},
    "mocha-like": {"version": "9.0.0", "dev": true},
    "outer": {"version": "2.0.0", "dependencies": {"inner": {"version": "0.1.0"}}}
  }
}"#,
    );
    write(
        &root.join("legacy/yarn.lock"),
        r#"# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
  version "7.12.13"
  resolved "https://example.invalid/code-frame-7.12.13.tgz#abc"
  dependencies:
    "@babel/highlight" "^7.12.13"

lodash@^4.17.20:
  version "4.17.21"

lodash@^3.0.0:
  version "3.10.1"

ms@2.1.2, ms@^2.1.1:
  version "2.1.2"

"string-width-cjs@npm:string-width@^4.2.0":
  version "4.2.3"
"#,
    );
    // Yarn 4's lockfile (as `yarn install` wrote it here, checksums shortened): a workspace
    // root and member, several specs, an alias, a scope.
    write(
        &root.join("berry/yarn.lock"),
        r#"# This file is generated by running "yarn install" inside your project.
# Manual changes might be lost - proceed with caution!

__metadata:
  version: 10
  cacheKey: 10c0

"@babel/code-frame@npm:7.12.13":
  version: 7.12.13
  resolution: "@babel/code-frame@npm:7.12.13"
  dependencies:
    "@babel/highlight": "npm:^7.12.13"
  checksum: 10c0/bc966d2d
  languageName: node
  linkType: hard

"inner@workspace:packages/inner":
  version: 0.0.0-use.local
  resolution: "inner@workspace:packages/inner"
  dependencies:
    ms: "npm:2.1.3"
  languageName: unknown
  linkType: soft

"lodash-alias@npm:lodash@4.17.21":
  version: 4.17.21
  resolution: "lodash@npm:4.17.21"
  checksum: 10c0/d8cbea07
  languageName: node
  linkType: hard

"ms@npm:2.1.3, ms@npm:^2.1.2":
  version: 2.1.3
  resolution: "ms@npm:2.1.3"
  checksum: 10c0/d924b57e
  languageName: node
  linkType: hard

"web@workspace:.":
  version: 0.0.0-use.local
  resolution: "web@workspace:."
  dependencies:
    "@babel/code-frame": "npm:7.12.13"
    lodash-alias: "npm:lodash@4.17.21"
    ms: "npm:^2.1.2"
  languageName: unknown
  linkType: soft
"#,
    );
    // pnpm 9's lockfile (as `pnpm install --lockfile-only` wrote it here, trimmed), then
    // lockfiles 6 and 5 with a peer suffix and a development dependency.
    write(
        &root.join("pnpm9/pnpm-lock.yaml"),
        r#"lockfileVersion: '9.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

importers:

  .:
    dependencies:
      lodash-alias:
        specifier: npm:lodash@4.17.21
        version: lodash@4.17.21
      ms:
        specifier: ^2.1.2
        version: 2.1.3
    devDependencies:
      left-pad:
        specifier: 1.3.0
        version: 1.3.0

packages:

  '@babel/highlight@7.25.9':
    resolution: {integrity: sha512-llL88JShoCsth8fF8R4SJnIn}
    engines: {node: '>=6.9.0'}

  left-pad@1.3.0:
    resolution: {integrity: sha512-XI5MPzVNApjAyhQzphX8BkmK}

  lodash@4.17.21:
    resolution: {integrity: sha512-v2kDEe57lecTulaDIuNTPy3R}

  ms@2.1.3:
    resolution: {integrity: sha512-6FlzubTLZG3J2a/NVCAleEhj}

snapshots:

  '@babel/highlight@7.25.9': {}

  left-pad@1.3.0: {}

  lodash@4.17.21: {}

  ms@2.1.3: {}
"#,
    );
    write(
        &root.join("pnpm6/pnpm-lock.yaml"),
        r#"lockfileVersion: '6.0'

dependencies:
  react-dom:
    specifier: 18.2.0
    version: 18.2.0(react@18.2.0)

packages:

  /loose-envify@1.4.0:
    resolution: {integrity: sha512-x}
    dev: false

  /react-dom@18.2.0(react@18.2.0):
    resolution: {integrity: sha512-y}
    peerDependencies:
      react: ^18.2.0
    dev: false

  /@types/node@20.1.0:
    resolution: {integrity: sha512-z}
    dev: true

  /react@18.2.0:
    resolution: {integrity: sha512-w}
    dev: false
"#,
    );
    write(
        &root.join("pnpm5/pnpm-lock.yaml"),
        r#"lockfileVersion: 5.4

specifiers:
  scheduler: 0.23.0

dependencies:
  scheduler: 0.23.0_loose-envify@1.4.0

packages:

  /js-tokens/4.0.0:
    resolution: {integrity: sha512-x}
    dev: false

  /scheduler/0.23.0_loose-envify@1.4.0:
    resolution: {integrity: sha512-y}
    dev: false

  /@types/react/18.2.0:
    resolution: {integrity: sha512-z}
    dev: true
"#,
    );
}

/// `dir` as one uncompressed layer.
fn layer_tar(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap()
}

/// An OCI layout holding one image of the single layer `tar`.
fn oci_layout(out: &Path, tar: &[u8]) {
    let blobs = out.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let digest = Digest::sha256(bytes);
        fs::write(blobs.join(digest.hex()), bytes).unwrap();
        (digest.to_string(), bytes.len())
    };
    let (layer, layer_size) = put(tar);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer]},
    });
    let (config, config_size) = put(config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": layer_size}],
    });
    let (manifest, manifest_size) = put(manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest, "size": manifest_size}],
    });
    fs::write(out.join("index.json"), index.to_string()).unwrap();
    fs::write(out.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

fn in_image(tar: Vec<u8>) -> Catalog {
    let layer = Layer::new(Digest::sha256(&tar), move || {
        Ok(std::io::Cursor::new(tar.clone()))
    });
    catalog(&ImageFs::read(vec![layer], &WANTED).unwrap()).unwrap()
}

/// A package and its licences, sorted: (type, name, version, licences).
type Licensed = (String, String, String, Vec<String>);

/// berth's language packages with their licences.
fn licensed(found: &Catalog) -> BTreeSet<Licensed> {
    found
        .packages
        .iter()
        .filter(|p| LANGUAGE_TYPES.contains(&p.package_type.to_string().as_str()))
        .map(|p| {
            let mut licenses = p.licenses.clone();
            licenses.sort();
            (
                p.package_type.to_string(),
                p.name.clone(),
                p.version.clone(),
                licenses,
            )
        })
        .collect()
}

/// Syft's language packages with their licences' values, less the packages of `left_out`.
/// Syft keeps the white space around a `pom.xml` licence name (`<name>\n  EPL 2.0\n</name>`)
/// where berth trims it: the values are compared trimmed.
fn syft_licensed(doc: &serde_json::Value, left_out: &BTreeSet<Row>) -> BTreeSet<Licensed> {
    doc["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| LANGUAGE_TYPES.contains(&a["type"].as_str().unwrap()))
        .filter(|a| {
            !left_out
                .iter()
                .any(|r| a["name"] == r.1 && a["version"] == r.2)
        })
        .map(|a| {
            let text = |k: &str| a[k].as_str().unwrap().to_string();
            let mut licenses: Vec<String> = a["licenses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["value"].as_str().unwrap().trim().to_string())
                .collect();
            licenses.sort();
            (text("type"), text("name"), text("version"), licenses)
        })
        .collect()
}

fn of_type(rows: &BTreeSet<Row>, ty: &str) -> BTreeSet<Row> {
    rows.iter().filter(|r| r.0 == ty).cloned().collect()
}

#[test]
fn language_packages_are_the_ones_syft_finds() {
    require("syft");
    let tmp = tempfile::tempdir().unwrap();
    let installed = tmp.path().join("installed");
    installed_tree(&installed);
    let project = tmp.path().join("project");
    project_tree(&project);
    let layout = tmp.path().join("layout");
    let tar = layer_tar(&installed);
    oci_layout(&layout, &tar);

    let sources = [
        format!("dir:{}", installed.display()),
        format!("oci-dir:{}", layout.display()),
        format!("dir:{}", project.display()),
    ];
    let (oracle, docs): (Vec<BTreeSet<Row>>, Vec<serde_json::Value>) = std::thread::scope(|s| {
        let runs: Vec<_> = sources
            .iter()
            .map(|src| s.spawn(|| syft(src, &LANGUAGE_TYPES)))
            .collect();
        runs.into_iter()
            .map(|r| {
                let (rows, _, doc) = r.join().unwrap();
                (rows, doc)
            })
            .unzip()
    });
    let (syft_dir, syft_image, syft_project) = (&oracle[0], &oracle[1], &oracle[2]);

    // The image: Syft also reports every package.json that names something, the project's
    // own manifest included (not an installed package: berth reads those under
    // node_modules only), and packages whose metadata has no version, at version "UNKNOWN"
    // (the Python core metadata specification and npm both require one: berth leaves such
    // a file out with a warning; a Java archive that names no version is no Maven artifact
    // berth can name, and is left out).
    let unknown: BTreeSet<Row> = [
        row("python", "nov", "UNKNOWN", "pkg:pypi/nov"),
        row(
            "java-archive",
            "launcher",
            "UNKNOWN",
            "pkg:maven/launcher/launcher",
        ),
    ]
    .into();
    let mut syft_only: BTreeSet<Row> = [
        row("npm", "myapp", "1.0.0", "pkg:npm/myapp@1.0.0"),
        row("npm", "nover", "UNKNOWN", "pkg:npm/nover"),
    ]
    .into();
    syft_only.extend(unknown.iter().cloned());
    let found_image = in_image(tar);
    let image = rows(found_image.packages.clone());
    assert!(syft_only.is_subset(syft_image), "{syft_image:#?}");
    let want: BTreeSet<Row> = syft_image.difference(&syft_only).cloned().collect();
    assert_eq!(image, want, "image");
    assert_eq!(of_type(&image, "python").len(), 6);
    assert_eq!(of_type(&image, "npm").len(), 4);
    assert!(image.contains(&row(
        "npm",
        "@scope/pkg",
        "2.0.0-beta.1",
        "pkg:npm/%40scope/pkg@2.0.0-beta.1"
    )));
    assert!(image.contains(&row("python", "foo-bar", "1.0", "pkg:pypi/foo-bar@1.0")));
    assert!(image.contains(&row(
        "java-archive",
        "guava",
        "32.1.2-jre",
        "pkg:maven/com.google.guava/guava@32.1.2-jre"
    )));
    assert!(image.contains(&row(
        "java-archive",
        "tool",
        "3.1",
        "pkg:maven/org.example.tool/tool@3.1"
    )));
    assert!(image.contains(&row(
        "java-archive",
        "deep",
        "0.0.1",
        "pkg:maven/deep/deep@0.0.1"
    )));

    // The same tree as a directory: Syft's directory scan runs no package.json cataloger
    // (it reads lockfiles there instead), so berth's installed npm packages are its only
    // addition; the rest is Syft's, less its "UNKNOWN" packages.
    let found_dir = catalog(&DirFs::open(&installed).unwrap()).unwrap();
    let dir = rows(found_dir.packages.clone());
    let npm = of_type(&dir, "npm");
    assert_eq!(npm, of_type(&image, "npm"));
    assert!(of_type(syft_dir, "npm").is_empty(), "{syft_dir:#?}");
    assert!(unknown.is_subset(syft_dir), "{syft_dir:#?}");
    let want: BTreeSet<Row> = syft_dir.difference(&unknown).cloned().collect();
    assert_eq!(
        dir.difference(&npm).cloned().collect::<BTreeSet<_>>(),
        want,
        "directory"
    );

    // Licences: the same, package by package, in the image and the directory (less the
    // directory's npm packages, which Syft does not read there).
    let image_licences = licensed(&found_image);
    assert_eq!(
        image_licences,
        syft_licensed(&docs[1], &syft_only),
        "image licences"
    );
    let dir_licences: BTreeSet<Licensed> = licensed(&found_dir)
        .into_iter()
        .filter(|l| l.0 != "npm")
        .collect();
    assert_eq!(
        dir_licences,
        syft_licensed(&docs[0], &unknown),
        "directory licences"
    );
    for (name, licences) in [
        // The manifest's Bundle-License over the pom.xml's.
        ("licensed", vec!["Apache-2.0"]),
        // The pom.xml's names: trimmed, decoded, the empty and URL-only ones left out.
        (
            "pom-licensed",
            vec!["A & B", "Eclipse Public License 2.0", "MIT"],
        ),
        // A bundled artifact's own pom.xml.
        ("bundled", vec!["BSD-2-Clause"]),
        ("foo-bar", vec!["MIT"]),
    ] {
        assert!(
            image_licences
                .iter()
                .any(|l| l.1 == name && l.3 == licences),
            "{name}: {image_licences:#?}"
        );
    }

    // Lockfiles: Syft also reports the link entry of a workspace package (no version: at
    // "UNKNOWN") beside the package it links to; berth reports the package once.
    // Lockfile dependencies, resolved as Node loads them (`ms` from the copy nested under
    // `debug`, `linked` through its link): Syft 1.18.1 writes none for lockfiles.
    let found = catalog(&DirFs::open(&project).unwrap()).unwrap();
    let edge = |a: &str, b: &str| (a.to_string(), b.to_string());
    let want_edges = [
        edge("debug", "web"),
        edge("linked", "web"),
        edge("ms", "debug"),
    ];
    assert_eq!(dependencies(&found), want_edges.into());
    assert!(
        syft_dependencies(&docs[2]).is_empty(),
        "{}",
        docs[2]["artifactRelationships"]
    );
    let project_licences = licensed(&found);
    let project = rows(found.packages);
    let link = row("npm", "linked", "UNKNOWN", "pkg:npm/linked");
    let mut want = syft_project.clone();
    assert!(want.remove(&link), "{syft_project:#?}");
    // Syft keeps pnpm 5's peer suffix in the version, which is then no npm version (and
    // matches no advisory); berth drops it, as lockfiles 6 and 9 leave it out of the version.
    let peer_suffixed = row(
        "npm",
        "scheduler",
        "0.23.0_loose-envify@1.4.0",
        "pkg:npm/scheduler@0.23.0_loose-envify%401.4.0",
    );
    assert!(want.remove(&peer_suffixed), "{syft_project:#?}");
    want.insert(row(
        "npm",
        "scheduler",
        "0.23.0",
        "pkg:npm/scheduler@0.23.0",
    ));
    let syft_licences: BTreeSet<Licensed> = syft_licensed(&docs[2], &[link.clone()].into())
        .into_iter()
        .map(
            |(ty, name, version, licences)| match version == peer_suffixed.2 {
                true => (ty, name, "0.23.0".to_string(), licences),
                false => (ty, name, version, licences),
            },
        )
        .collect();
    assert_eq!(project_licences, syft_licences, "lockfile licences");
    assert_eq!(project, want, "lockfiles");
    assert!(project.contains(&row(
        "npm",
        "string-width-cjs",
        "4.2.3",
        "pkg:npm/string-width-cjs@4.2.3"
    )));
    assert!(
        !project
            .iter()
            .any(|r| r.1 == "devonly" || r.1 == "mocha-like")
    );
    assert!(project.contains(&row("npm", "left-pad", "1.3.0", "pkg:npm/left-pad@1.3.0")));
    // pnpm's, development dependencies and all, peers dropped.
    for (name, version, purl) in [
        (
            "@babel/highlight",
            "7.25.9",
            "pkg:npm/%40babel/highlight@7.25.9",
        ),
        ("react-dom", "18.2.0", "pkg:npm/react-dom@18.2.0"),
        ("@types/node", "20.1.0", "pkg:npm/%40types/node@20.1.0"),
        ("@types/react", "18.2.0", "pkg:npm/%40types/react@18.2.0"),
        ("js-tokens", "4.0.0", "pkg:npm/js-tokens@4.0.0"),
    ] {
        assert!(project.contains(&row("npm", name, version, purl)), "{name}");
    }
    // Yarn 4's, every block but the metadata, workspaces at Yarn's local version.
    for (name, version, purl) in [
        ("ms", "2.1.3", "pkg:npm/ms@2.1.3"),
        ("lodash-alias", "4.17.21", "pkg:npm/lodash-alias@4.17.21"),
        (
            "@babel/code-frame",
            "7.12.13",
            "pkg:npm/%40babel/code-frame@7.12.13",
        ),
        ("web", "0.0.0-use.local", "pkg:npm/web@0.0.0-use.local"),
        ("inner", "0.0.0-use.local", "pkg:npm/inner@0.0.0-use.local"),
    ] {
        assert!(project.contains(&row("npm", name, version, purl)), "{name}");
    }
}
