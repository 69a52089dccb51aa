//! The package database readers (dpkg's status, apk's installed, os-release) never panic, and
//! whatever they accept is a usable entry: a package with a name, and for installed dpkg
//! entries and apk entries, a version. The first byte picks the reader.

#![no_main]

use std::sync::Arc;

use berth_catalog::{Distro, File, apk, dpkg, os_release};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    let file = File {
        path: "db".into(),
        bytes: Arc::from(bytes),
        layer: None,
    };
    let distro = Distro {
        id: "debian".into(),
        version_id: Some("12".into()),
        ..Distro::default()
    };
    match kind % 3 {
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
        _ => {
            if let Some(d) = os_release::parse(&String::from_utf8_lossy(bytes)) {
                assert!(!d.id.is_empty());
            }
        }
    }
});
