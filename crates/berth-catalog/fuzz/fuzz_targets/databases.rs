//! The package database readers (dpkg's status, apk's installed, os-release, rpm's
//! rpmdb.sqlite and header blobs), the language readers (Python metadata, package.json and
//! lockfiles, Java archives, manifests and pom.properties) and the executable readers (Go build
//! info, cargo-auditable's `.dep-v0`) never panic, and whatever they accept is a usable entry:
//! a package with a name, and for installed dpkg entries, apk entries, rpm headers, crates and
//! language packages, a version (and a purl where the format has one). The first byte picks
//! the reader.

#![no_main]

use std::sync::Arc;

use berth_catalog::{
    Distro, File, Package, apk, dpkg, golang, java, npm, os_release, python, rpm, rust_audit,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    let named = |path: &str| File {
        path: path.into(),
        bytes: Arc::from(bytes),
        layer: None,
    };
    let file = named("db");
    let usable = |found: Vec<Package>| {
        assert!(found
            .iter()
            .all(|p| !p.name.is_empty() && !p.version.is_empty() && p.purl.is_some()));
    };
    let distro = Distro {
        id: "debian".into(),
        version_id: Some("12".into()),
        ..Distro::default()
    };
    match kind % 12 {
        0 => {
            if let Ok(entries) = dpkg::parse(bytes) {
                assert!(entries.iter().all(|e| !e.package.is_empty()));
            }
            if let Ok(packages) = dpkg::packages(&file, Some(&distro)) {
                assert!(packages.iter().all(|p| !p.version.is_empty() && p.purl.is_some()));
            }
        }
        1 => {
            if let Ok(entries) = apk::parse(bytes) {
                assert!(entries.iter().all(|e| !e.package.is_empty() && !e.version.is_empty()));
            }
            let _ = apk::packages(&file, Some(&distro));
        }
        2 => {
            if let Some(d) = os_release::parse(&String::from_utf8_lossy(bytes)) {
                assert!(!d.id.is_empty());
            }
        }
        3 => {
            let _ = python::parse(bytes);
            if let Ok(found) = python::packages(&named("a-1.dist-info/METADATA"), None) {
                usable(found);
            }
        }
        4 => {
            if let Ok(found) = npm::installed(&named("node_modules/a/package.json"), None) {
                usable(found);
            }
            if let Ok(found) = npm::locked(&named("package-lock.json"), None) {
                usable(found);
            }
        }
        5 => {
            if let Ok(found) = npm::locked(&named("yarn.lock"), None) {
                usable(found);
            }
            if let Ok(found) = npm::locked(&named("pnpm-lock.yaml"), None) {
                usable(found);
            }
        }
        6 => {
            if let Ok(found) = java::packages(&named("lib/a-1.0.jar"), None) {
                usable(found);
            }
        }
        7 => {
            let _ = java::parse_manifest(bytes);
            if let Some(p) = java::parse_pom_properties(bytes) {
                assert!(!p.artifact_id.is_empty() && !p.version.is_empty());
            }
            let _ = java::FileName::parse(&String::from_utf8_lossy(bytes));
            let licenses = java::pom_licenses(bytes);
            assert!(licenses.iter().all(|l| !l.is_empty() && l.trim() == l));
        }
        8 => {
            if let Ok(packages) = rpm::packages(&file, Some(&distro)) {
                assert!(packages.iter().all(|p| !p.name.is_empty() && p.purl.is_some()));
            }
        }
        9 => {
            if let Ok(h) = rpm::header::parse(bytes) {
                assert!(!h.name.is_empty() && !h.version.is_empty() && !h.release.is_empty());
            }
        }
        10 => {
            // Whole executables and extracted blobs alike.
            if let Some(blob) = golang::extract(bytes) {
                assert!(blob.starts_with(b"\xff Go buildinf:"));
                let _ = golang::parse(&blob);
            }
            if let Ok(packages) = golang::packages(&file, None) {
                assert!(packages.iter().all(|p| !p.name.is_empty()));
            }
        }
        _ => {
            let _ = rust_audit::extract(bytes);
            if let Ok(packages) = rust_audit::packages(&file, None) {
                assert!(packages.iter().all(|p| !p.name.is_empty() && !p.version.is_empty()));
            }
        }
    }
});
