//! Python distributions installed in site-packages: each one's core metadata, an RFC 822
//! header block, in `NAME-VERSION.dist-info/METADATA` (wheels, pip) or `NAME.egg-info/PKG-INFO`
//! (setuptools; also an `.egg-info` file holding the block itself). The metadata's `Name` and
//! `Version` name the package; `License-Expression` (PEP 639), else `License`, is its licence,
//! as Syft reads them (classifiers are not read as licences). `RECORD` and `top_level.txt`
//! are not needed for the package's identity.

use crate::error::{CatalogError, Result, clip};
use crate::fs::{File, Wanted};
use crate::model::{Distro, Package, PackageType};
use crate::paths::split;
use crate::purl::purl;

pub const WANTED: [Wanted; 1] = [Wanted::Matching(is_metadata)];

/// Whether `path` is a distribution's metadata: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`
/// (either in upper case too, as some tools write them), or an `*.egg-info` file.
pub fn is_metadata(path: &str) -> bool {
    let (dir, name) = split(path);
    let dir_name = split(dir).1;
    match name {
        "METADATA" => dir_name.ends_with("dist-info") || dir_name.ends_with("DIST-INFO"),
        "PKG-INFO" => dir_name.ends_with("egg-info") || dir_name.ends_with("EGG-INFO"),
        _ => name.ends_with(".egg-info"),
    }
}

/// The fields of a metadata header that name and license a distribution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub name: String,
    pub version: String,
    pub license: Option<String>,
    pub license_expression: Option<String>,
}

/// Reads the header block of a core metadata file: `Key: value` lines, continued on lines
/// that start with a space, up to the first blank line (the description follows it). A later
/// field of the same name wins. Lines that are neither are passed over, as Python's own
/// `email` parser does.
pub fn parse(bytes: &[u8]) -> Metadata {
    let text = String::from_utf8_lossy(bytes);
    let mut metadata = Metadata::default();
    let mut last: Option<&mut String> = None;
    let mut license = String::new();
    let mut expression = String::new();
    let mut seen_any = false;
    for line in text.lines() {
        if line.is_empty() {
            if seen_any {
                break;
            }
            continue;
        }
        if let Some(more) = line.strip_prefix(' ') {
            if let Some(value) = last.as_deref_mut() {
                value.push_str("\n ");
                value.push_str(more.trim());
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            last = None;
            continue;
        };
        seen_any = true;
        let value = value.trim().to_owned();
        last = match key.trim() {
            "Name" => Some(&mut metadata.name),
            "Version" => Some(&mut metadata.version),
            "License" => Some(&mut license),
            "License-Expression" => Some(&mut expression),
            _ => None,
        };
        if let Some(field) = last.as_deref_mut() {
            *field = value;
        }
    }
    metadata.license = Some(license).filter(|l| !l.is_empty());
    metadata.license_expression = Some(expression).filter(|l| !l.is_empty());
    metadata
}

/// A distribution's name as the purl specification and PyPI compare it (PEP 503): runs of
/// `-`, `_` and `.` become one `-`, in lower case.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// The distribution `file` describes; none for metadata without a name or version (which
/// the core metadata specification requires: no installer writes it so), nor for the Python
/// interpreter's own `Python.egg-info`.
pub fn packages(file: &File, _: Option<&Distro>) -> Result<Vec<Package>> {
    let metadata = parse(&file.bytes);
    if metadata.name.is_empty() || metadata.name == "Python" {
        return Ok(Vec::new());
    }
    if metadata.version.is_empty() {
        return Err(file.parse_error(
            0,
            format!("distribution {} has no Version field", clip(&metadata.name)),
        ));
    }
    let name = normalize(&metadata.name);
    let purl = purl(PackageType::Python, "", &name, &metadata.version, &[]).map_err(|why| {
        CatalogError::Parse {
            path: file.path.clone(),
            line: 0,
            layer: file.layer.clone(),
            why,
        }
    })?;
    Ok(vec![Package {
        name,
        version: metadata.version,
        package_type: PackageType::Python,
        arch: String::new(),
        purl: Some(purl),
        source: None,
        licenses: metadata
            .license_expression
            .or(metadata.license)
            .into_iter()
            .collect(),
        evidence: vec![file.path.clone()],
        layer: file.layer.clone(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_metadata_where_installers_write_it() {
        for path in [
            "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA",
            "app/venv/lib/python3.12/site-packages/six-1.16.0.egg-info/PKG-INFO",
            "usr/lib/python3/dist-packages/python_apt-2.6.0.egg-info",
        ] {
            assert!(is_metadata(path), "{path}");
        }
        for path in [
            "usr/lib/python3/dist-packages/requests/METADATA",
            "srv/PKG-INFO",
            "a.dist-info/RECORD",
        ] {
            assert!(!is_metadata(path), "{path}");
        }
    }

    #[test]
    fn names_are_normalized_as_pep_503_says() {
        assert_eq!(normalize("Foo__Bar.baz-Qux"), "foo-bar-baz-qux");
        assert_eq!(normalize("zope.interface"), "zope-interface");
    }

    #[test]
    fn the_header_ends_at_the_first_blank_line() {
        let m = parse(
            b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nLicense: BSD\n  with more\n\nName: not-a-header\n",
        );
        assert_eq!(m.name, "demo");
        assert_eq!(m.license.as_deref(), Some("BSD\n with more"));
    }
}
