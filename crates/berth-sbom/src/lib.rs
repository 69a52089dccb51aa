//! A catalogue as an SBOM document: CycloneDX 1.6 JSON ([`Format::CycloneDx`]), SPDX 2.3
//! JSON ([`Format::SpdxJson`]) or berth's own JSON ([`Format::BerthJson`]).
//!
//! The document describes one subject (an image by name and manifest digest, or a
//! directory) as its root, which depends on (CycloneDX `dependsOn`) or contains (SPDX
//! `CONTAINS`) every package of the catalogue; the dependencies between packages the
//! catalogue knows are written as Syft writes them (CycloneDX `dependsOn`, SPDX
//! `DEPENDENCY_OF`), and so is each package's CPE where berth makes one. Output is a pure function of its input: the
//! serial number and document namespace come from a digest of the content, and the creation
//! time is given by the caller ([`creation_time`] reads `SOURCE_DATE_EPOCH`), so the same
//! catalogue gives the same bytes.

mod berth_json;
mod cyclonedx;
mod licence;
mod spdx_json;

use std::collections::HashMap;
use std::fmt;

use berth_catalog::{Catalog, Dependency, Package};
use berth_explain::Attribution;
use berth_oci::Digest;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// What an SBOM describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An image: the name it was asked for by, and its manifest's digest.
    Image { name: String, digest: Digest },
    /// A directory holding a root file system, as the user named it.
    Directory { path: String },
}

impl Subject {
    /// The subject's name, as a person reads it.
    fn name(&self) -> &str {
        match self {
            Subject::Image { name, .. } => name,
            Subject::Directory { path } => path,
        }
    }
}

/// The document formats berth writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CycloneDX 1.6, JSON.
    CycloneDx,
    /// SPDX 2.3, JSON.
    SpdxJson,
    /// berth's own JSON: the catalogue field for field (`schema: berth-sbom/1`).
    BerthJson,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::CycloneDx => "cyclonedx",
            Format::SpdxJson => "spdx-json",
            Format::BerthJson => "berth-json",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "SOURCE_DATE_EPOCH={0:?} is not a time: set it to seconds since 1970-01-01 UTC (e.g. `git log -1 --format=%ct`) or unset it"
    )]
    SourceDateEpoch(String),
}

/// When the document was made: `SOURCE_DATE_EPOCH` when set (reproducible builds'
/// convention), else now.
pub fn creation_time() -> Result<DateTime<Utc>, Error> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => value
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .ok_or(Error::SourceDateEpoch(value)),
        Err(_) => Ok(Utc::now()),
    }
}

/// The document for `catalog` as `subject`, in `format`, created at `created`: pretty JSON
/// ending in a newline.
pub fn write(
    format: Format,
    subject: &Subject,
    catalog: &Catalog,
    created: DateTime<Utc>,
) -> Vec<u8> {
    write_attributed(format, subject, catalog, &[], created)
}

/// [`write`], with where each package came from (berth-explain's attributions, in the
/// catalogue's order): berth-json carries it as each package's `origin`.
pub fn write_attributed(
    format: Format,
    subject: &Subject,
    catalog: &Catalog,
    attributions: &[Option<Attribution>],
    created: DateTime<Utc>,
) -> Vec<u8> {
    let packages = identify(&catalog.packages, attributions);
    let created = created.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let doc = match format {
        Format::CycloneDx => {
            cyclonedx::document(subject, &packages, &catalog.dependencies, &created)
        }
        Format::SpdxJson => {
            spdx_json::document(subject, &packages, &catalog.dependencies, &created)
        }
        Format::BerthJson => berth_json::document(
            subject,
            catalog.distro.as_ref(),
            &packages,
            &catalog.dependencies,
            &created,
        ),
    };
    let mut out = serde_json::to_vec_pretty(&doc).expect("a JSON value serialises");
    out.push(b'\n');
    out
}

/// A package with the identifier it has in the document.
struct Entry<'a> {
    package: &'a Package,
    attribution: Option<&'a Attribution>,
    /// Unique in the document: the purl when it has one, else one made from type, name,
    /// version and architecture; a repeat (the same package listed by two databases) gets a
    /// `#N` suffix.
    key: String,
}

fn identify<'a>(
    packages: &'a [Package],
    attributions: &'a [Option<Attribution>],
) -> Vec<Entry<'a>> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    packages
        .iter()
        .enumerate()
        .map(|(i, package)| {
            let base = package.purl.clone().unwrap_or_else(|| {
                format!(
                    "berth:{}/{}@{}?arch={}",
                    package.package_type, package.name, package.version, package.arch
                )
            });
            let count = seen.entry(base.clone()).or_default();
            *count += 1;
            let key = match *count {
                1 => base,
                n => format!("{base}#{n}"),
            };
            let attribution = attributions.get(i).and_then(Option::as_ref);
            Entry {
                package,
                attribution,
                key,
            }
        })
        .collect()
}

/// What package `i` depends on: its run of `needs`, which the catalogue sorts by dependent.
fn needed_by(needs: &[Dependency], i: usize) -> &[Dependency] {
    let from = needs.partition_point(|d| d.dependent < i);
    let to = needs.partition_point(|d| d.dependent <= i);
    &needs[from..to]
}

/// SHA-256 of `content`'s JSON: what the serial number and namespace are made from, so that
/// different content gets a different one and the same content the same.
fn content_digest(content: &Value) -> [u8; 32] {
    Sha256::digest(serde_json::to_vec(content).expect("a JSON value serialises")).into()
}

/// `digest` shaped as a name-based UUID (version 5, RFC 9562 variant): the form CycloneDX's
/// `serialNumber` requires. Its bits come from SHA-256 rather than SHA-1.
fn uuid_from(digest: &[u8; 32]) -> String {
    let mut b: [u8; 16] = digest[..16].try_into().expect("16 of 32 bytes");
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
