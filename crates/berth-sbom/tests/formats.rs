//! Every document berth writes is valid by the formats' own validators (cyclonedx-python-lib's
//! strict JSON-schema validator for CycloneDX 1.6, spdx-tools' `pyspdxtools` for SPDX 2.3),
//! the same input gives the same bytes, and the purls are the ones Syft 1.18.1 writes for the
//! same Debian tree.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};

use berth_catalog::{Catalog, DirFs, catalog};
use berth_oci::Digest;
use berth_sbom::{Format, Subject, write};
use chrono::DateTime;
use serde_json::Value;
use test_support::{require, run_ok};

const FORMATS: [Format; 3] = [Format::CycloneDx, Format::SpdxJson, Format::BerthJson];

/// 2024-01-01T00:00:00Z: a fixed creation time.
fn created() -> chrono::DateTime<chrono::Utc> {
    DateTime::from_timestamp(1_704_067_200, 0).unwrap()
}

/// A tiny Alpine tree: declared licences that are SPDX expressions (`MPL-2.0 AND MIT`), and
/// one that is not (`custom:busybox`), which SPDX must carry as a `LicenseRef-`.
fn alpine(dir: &Path) -> Catalog {
    fs::create_dir_all(dir.join("lib/apk/db")).unwrap();
    fs::create_dir_all(dir.join("etc")).unwrap();
    fs::create_dir_all(dir.join("usr/lib")).unwrap();
    fs::write(
        dir.join("usr/lib/os-release"),
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n",
    )
    .unwrap();
    symlink("../usr/lib/os-release", dir.join("etc/os-release")).unwrap();
    fs::write(
        dir.join("lib/apk/db/installed"),
        "P:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\no:musl\n\n\
         P:ca-certificates-bundle\nV:20240705-r0\nA:x86_64\nL:MPL-2.0 AND MIT\no:ca-certificates\n\n\
         P:busybox\nV:1.36.1-r29\nA:x86_64\nL:GPL-2.0-only\no:busybox\n\n\
         P:odd\nV:1-r0\nA:x86_64\nL:custom:busybox\n\n",
    )
    .unwrap();
    catalog(&DirFs::open(dir).unwrap()).unwrap()
}

/// Language packages with the licences their metadata declares: an SPDX expression
/// (`Apache-2.0 OR MIT`), free text on two lines, npm's old `{"type": …}` form, a scoped
/// name (`@scope/pkg`, `%40` in its purl).
fn languages(dir: &Path) -> Catalog {
    let site = dir.join("usr/lib/python3/site-packages");
    for (name, fields) in [
        (
            "expr-2.0.dist-info",
            "Name: expr.pkg\nVersion: 2.0\nLicense-Expression: Apache-2.0 OR MIT\n",
        ),
        (
            "text-1.dist-info",
            "Name: text\nVersion: 1\nLicense: Free for any use\n with attribution\n",
        ),
    ] {
        fs::create_dir_all(site.join(name)).unwrap();
        fs::write(site.join(name).join("METADATA"), fields).unwrap();
    }
    let modules = dir.join("app/node_modules");
    for (name, manifest) in [
        (
            "@scope/pkg",
            r#"{"name":"@scope/pkg","version":"2.0.0-beta.1","license":{"type":"ISC"}}"#,
        ),
        (
            "lodash",
            r#"{"name":"lodash","version":"4.17.21","license":"MIT"}"#,
        ),
    ] {
        fs::create_dir_all(modules.join(name)).unwrap();
        fs::write(modules.join(name).join("package.json"), manifest).unwrap();
    }
    let found = catalog(&DirFs::open(dir).unwrap()).unwrap();
    assert_eq!(found.packages.len(), 4);
    found
}

fn debian() -> (String, Catalog) {
    let dir = test_support::debian_rootfs();
    let found = catalog(&DirFs::open(&dir).unwrap()).unwrap();
    (dir.display().to_string(), found)
}

/// Fails the test with the validator's words when `doc` is not a valid `format` document.
fn validate(format: Format, doc: &[u8], what: &str) {
    let scratch = tempfile::tempdir().unwrap();
    match format {
        Format::CycloneDx => {
            let mut child = Command::new("python3")
                .args([
                    "-c",
                    "import sys\n\
                     from cyclonedx.validation.json import JsonStrictValidator\n\
                     from cyclonedx.schema import SchemaVersion\n\
                     e = JsonStrictValidator(SchemaVersion.V1_6).validate_str(sys.stdin.read())\n\
                     sys.exit(0 if e is None else str(e))",
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("python3 runs");
            child.stdin.take().unwrap().write_all(doc).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{what}: CycloneDX 1.6 invalid: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Format::SpdxJson => {
            let path = scratch.path().join("doc.spdx.json");
            fs::write(&path, doc).unwrap();
            run_ok(Command::new("pyspdxtools").arg("-i").arg(&path));
        }
        // berth's own format has no validator but itself: it must be JSON with its schema.
        Format::BerthJson => {
            let v: Value = serde_json::from_slice(doc).expect("berth-json is JSON");
            assert_eq!(v["schema"], "berth-sbom/1", "{what}");
        }
    }
}

#[test]
fn documents_are_valid() {
    require("pyspdxtools");
    let scratch = tempfile::tempdir().unwrap();
    let (dir, debian) = debian();
    let alpine = alpine(&scratch.path().join("alpine"));
    let languages = languages(&scratch.path().join("languages"));
    let image = Subject::Image {
        name: "alpine:3.20".into(),
        digest: Digest::sha256(b"a manifest"),
    };
    let cases = [
        ("debian dir", Subject::Directory { path: dir }, &debian),
        ("alpine image", image, &alpine),
        (
            "language packages",
            Subject::Directory {
                path: "/srv".into(),
            },
            &languages,
        ),
        (
            "empty dir",
            Subject::Directory {
                path: "/empty".into(),
            },
            &Catalog::default(),
        ),
    ];
    for (what, subject, found) in cases {
        for format in FORMATS {
            validate(
                format,
                &write(format, &subject, found, created()),
                &format!("{what} {format}"),
            );
        }
    }
}

#[test]
fn same_input_same_bytes() {
    let scratch = tempfile::tempdir().unwrap();
    let found = alpine(scratch.path());
    let found_again = alpine(&scratch.path().join("again"));
    let subject = Subject::Directory {
        path: "rootfs".into(),
    };
    // Licences, CPEs and dependencies too: the Debian tree catalogued twice.
    let ((_, debian), (_, debian_again)) = (debian(), debian());
    for format in FORMATS {
        assert_eq!(
            write(format, &subject, &debian, created()),
            write(format, &subject, &debian_again, created()),
            "{format}: two runs on the Debian tree differ"
        );
        let once = write(format, &subject, &found, created());
        let again = write(format, &subject, &found_again, created());
        assert_eq!(once, again, "{format}: two runs differ");
        if format == Format::BerthJson {
            continue; // no document id to check
        }
        // The serial number / namespace follows the content, not the clock.
        let later = write(
            format,
            &subject,
            &found,
            DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        );
        let id = |doc: &[u8]| {
            let v: Value = serde_json::from_slice(doc).unwrap();
            v.get("serialNumber")
                .or(v.get("documentNamespace"))
                .unwrap()
                .clone()
        };
        assert_eq!(
            id(&once),
            id(&later),
            "{format}: the id changed with the time"
        );
        let other = Subject::Directory {
            path: "elsewhere".into(),
        };
        assert_ne!(
            id(&once),
            id(&write(format, &other, &found, created())),
            "{format}: two subjects, one id"
        );
    }
}

/// What `doc` (CycloneDX or SPDX) says of its packages, by purl: each package's purl with the
/// first CPE it lists, and the dependencies between packages as (dependency, dependent).
#[derive(Debug, Default, PartialEq, Eq)]
struct Said {
    cpes: BTreeSet<(String, Option<String>)>,
    dependencies: BTreeSet<(String, String)>,
}

fn said(doc: &Value) -> Said {
    let list = |v: &Value, key: &str| v[key].as_array().cloned().unwrap_or_default();
    let text = |v: &Value| v.as_str().map(String::from);
    let mut said = Said::default();
    // Each package's id in the document (`bom-ref`, `SPDXID`) → its purl.
    let mut purl_of = BTreeMap::new();
    // Syft also lists the operating system as a component, without a purl.
    for component in list(doc, "components") {
        let Some(purl) = text(&component["purl"]) else {
            continue;
        };
        purl_of.insert(text(&component["bom-ref"]).unwrap(), purl.clone());
        said.cpes.insert((purl, text(&component["cpe"])));
    }
    for package in list(doc, "packages") {
        let refs = list(&package, "externalRefs");
        let of_type = |ty: &str| {
            refs.iter()
                .find(|r| r["referenceType"] == ty)
                .and_then(|r| text(&r["referenceLocator"]))
        };
        if let Some(purl) = of_type("purl") {
            purl_of.insert(text(&package["SPDXID"]).unwrap(), purl.clone());
            said.cpes.insert((purl, of_type("cpe23Type")));
        }
    }
    let purl = |id: &Value| purl_of.get(id.as_str().unwrap()).cloned();
    for entry in list(doc, "dependencies") {
        for below in list(&entry, "dependsOn") {
            // The subject's entry (not a package) is left out.
            if let (Some(dependent), Some(dependency)) = (purl(&entry["ref"]), purl(&below)) {
                said.dependencies.insert((dependency, dependent));
            }
        }
    }
    for r in list(doc, "relationships") {
        let (from, to) = (purl(&r["spdxElementId"]), purl(&r["relatedSpdxElement"]));
        if let (Some(from), Some(to)) = (from, to) {
            match r["relationshipType"].as_str().unwrap() {
                "DEPENDENCY_OF" => said.dependencies.insert((from, to)),
                "DEPENDS_ON" => said.dependencies.insert((to, from)),
                _ => false,
            };
        }
    }
    said
}

/// On the Debian minbase, each format names the packages (purls), their CPEs and the
/// dependencies between them as Syft's document in that format does.
#[test]
fn purls_cpes_and_dependencies_are_syfts() {
    require("syft");
    let (dir, found) = debian();
    let subject = Subject::Directory { path: dir.clone() };
    for (format, syft_format) in [
        (Format::CycloneDx, "cyclonedx-json"),
        (Format::SpdxJson, "spdx-json"),
    ] {
        let syft: Value = serde_json::from_str(&run_ok(
            Command::new("syft")
                .arg(format!("dir:{dir}"))
                .args(["-o", syft_format, "-q"])
                .env("SYFT_CHECK_FOR_APP_UPDATE", "false"),
        ))
        .unwrap();
        let ours: Value =
            serde_json::from_slice(&write(format, &subject, &found, created())).unwrap();
        let (ours, syft) = (said(&ours), said(&syft));
        assert_eq!(
            ours.cpes.len(),
            found.packages.len(),
            "{format}: a purl per package"
        );
        assert!(ours.dependencies.len() > 200, "{format}: {ours:?}");
        assert_eq!(ours, syft, "{format}: differs from Syft's");
    }
}
