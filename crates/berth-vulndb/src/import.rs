//! Reading advisory files: a directory's files, a zip's entries or one file, each one's format
//! told from its content.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::Advisory;
use crate::source::Format;
use crate::{alpine, debian, osv};

/// The largest advisory file berth reads. The tracker's whole feed is one file of some tens
/// of MiB; anything past this is not an advisory file.
pub const MAX_FILE: u64 = 512 << 20;

/// The most entries berth reads of one zip. OSV's largest ecosystems publish some hundreds of
/// thousands of records; a zip claiming more is not one of theirs.
pub const MAX_ZIP_ENTRIES: usize = 1 << 21;

/// A zip starts with a local file header, or (empty) with the end of its central directory.
const ZIP_MAGIC: [&[u8; 4]; 2] = [b"PK\x03\x04", b"PK\x05\x06"];

/// What the files under one path gave.
#[derive(Debug, Default)]
pub(crate) struct Read {
    pub advisories: Vec<Advisory>,
    /// OSV records marked `withdrawn`: skipped.
    pub withdrawn: usize,
    /// Distribution verdicts with nothing to report (not affected, undetermined).
    pub not_reported: usize,
    /// The formats met.
    pub formats: BTreeSet<Format>,
    /// The newest `modified` of the OSV records, in seconds since the Unix epoch.
    pub modified: Option<u64>,
}

/// Reads `path`: a file, or every `.json`, `.yaml` and `.yml` file under a directory (in
/// name order, hidden entries skipped, symlinked directories not followed) or in a zip (in
/// the zip's order).
pub(crate) fn read(path: &Path) -> Result<Read> {
    let mut out = Read::default();
    let meta = fs::metadata(path).map_err(Error::io(path))?;
    if meta.is_dir() {
        for file in files(path)? {
            read_file(&file, &mut out)?;
        }
    } else if is_zip(path)? {
        read_zip(path, &mut out)?;
    } else {
        read_file(path, &mut out)?;
    }
    Ok(out)
}

fn is_zip(path: &Path) -> Result<bool> {
    let mut magic = Vec::with_capacity(4);
    let file = fs::File::open(path).map_err(Error::io(path))?;
    file.take(4)
        .read_to_end(&mut magic)
        .map_err(Error::io(path))?;
    Ok(ZIP_MAGIC.iter().any(|m| magic == m[..]))
}

/// Reads a zip's advisory entries in memory. Entry names only choose which entries are read
/// and name them in errors (`all.zip!GHSA-….json`): nothing is written where they point.
fn read_zip(path: &Path, out: &mut Read) -> Result<()> {
    let malformed = |e: zip::result::ZipError| Error::Malformed {
        path: path.to_owned(),
        format: "zip",
        why: e.to_string(),
    };
    let file = fs::File::open(path).map_err(Error::io(path))?;
    let mut zip = zip::ZipArchive::new(file).map_err(malformed)?;
    if zip.len() > MAX_ZIP_ENTRIES {
        return Err(Error::TooManyEntries {
            path: path.to_owned(),
            limit: MAX_ZIP_ENTRIES,
        });
    }
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(malformed)?;
        let name = entry.name().to_owned();
        let leaf = name.rsplit('/').next().unwrap_or_default();
        let wanted = !entry.is_dir()
            && !leaf.starts_with('.')
            && matches!(extension(Path::new(leaf)), Some("json" | "yaml" | "yml"));
        if !wanted {
            continue;
        }
        let label = PathBuf::from(format!("{}!{name}", path.display()));
        let too_large = |size| Error::TooLarge {
            path: label.clone(),
            size,
            limit: MAX_FILE,
        };
        if entry.size() > MAX_FILE {
            return Err(too_large(entry.size()));
        }
        // The declared size may lie: read one byte past the limit to tell, and reserve no
        // more than a usual record's room up front on its word.
        let mut bytes = Vec::with_capacity(entry.size().min(1 << 20) as usize);
        entry
            .take(MAX_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(Error::io(&label))?;
        if bytes.len() as u64 > MAX_FILE {
            return Err(too_large(bytes.len() as u64));
        }
        read_bytes(&label, &bytes, out)?;
    }
    Ok(())
}

fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(Error::io(&dir))? {
            let entry = entry.map_err(Error::io(&dir))?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type().map_err(Error::io(&path))?;
            if kind.is_dir() {
                pending.push(path);
            } else if matches!(extension(&path), Some("json" | "yaml" | "yml")) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn extension(path: &Path) -> Option<&str> {
    path.extension().and_then(|e| e.to_str())
}

fn read_file(path: &Path, out: &mut Read) -> Result<()> {
    let size = fs::metadata(path).map_err(Error::io(path))?.len();
    if size > MAX_FILE {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            size,
            limit: MAX_FILE,
        });
    }
    let bytes = fs::read(path).map_err(Error::io(path))?;
    read_bytes(path, &bytes, out)
}

/// One file's bytes (`path` names it in errors and, for YAML, says what was meant).
fn read_bytes(path: &Path, bytes: &[u8], out: &mut Read) -> Result<()> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let parsed = if first == Some(&b'{') {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| Error::Malformed {
                path: path.to_owned(),
                format: "JSON",
                why: e.to_string(),
            })?;
        if osv::looks_like(&value) {
            osv::from_json(path, value)?
        } else {
            let (advisories, not_reported) = if debian::looks_like(&value) {
                out.formats.insert(Format::DebianTracker);
                debian::parse(path, value)?
            } else if alpine::looks_like(&value) {
                out.formats.insert(Format::AlpineSecdb);
                alpine::parse(path, value)?
            } else {
                return Err(Error::UnknownFormat {
                    path: path.to_owned(),
                });
            };
            out.advisories.extend(advisories);
            out.not_reported += not_reported;
            return Ok(());
        }
    } else {
        // Not JSON: an OSV record in YAML, or nothing berth reads. A file named `.yaml`
        // gets the YAML parser's error, which says where it went wrong.
        match osv::from_yaml(path, body) {
            Err(Error::Malformed { .. }) if !matches!(extension(path), Some("yaml" | "yml")) => {
                return Err(Error::UnknownFormat {
                    path: path.to_owned(),
                });
            }
            parsed => parsed?,
        }
    };
    out.formats.insert(Format::Osv);
    match parsed {
        osv::Parsed::Advisory(advisory, modified) => {
            out.advisories.push(advisory);
            out.modified = out.modified.max(modified);
        }
        osv::Parsed::Withdrawn => out.withdrawn += 1,
    }
    Ok(())
}
