//! Reading advisory files: a directory's files or one file, each file's format told from its
//! content.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::Advisory;
use crate::{alpine, debian, osv};

/// The largest advisory file berth reads. The tracker's whole feed is one file of some tens
/// of MiB; anything past this is not an advisory file.
pub const MAX_FILE: u64 = 512 << 20;

/// What the files under one path gave.
#[derive(Debug, Default)]
pub(crate) struct Read {
    pub advisories: Vec<Advisory>,
    /// OSV records marked `withdrawn`: skipped.
    pub withdrawn: usize,
    /// Distribution verdicts with nothing to report (not affected, undetermined).
    pub not_reported: usize,
}

/// Reads `path`: a file, or every `.json`, `.yaml` and `.yml` file under a directory (in
/// name order, hidden entries skipped, symlinked directories not followed).
pub(crate) fn read(path: &Path) -> Result<Read> {
    let mut out = Read::default();
    let meta = fs::metadata(path).map_err(Error::io(path))?;
    if meta.is_dir() {
        for file in files(path)? {
            read_file(&file, &mut out)?;
        }
    } else {
        read_file(path, &mut out)?;
    }
    Ok(out)
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
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
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
                debian::parse(path, value)?
            } else if alpine::looks_like(&value) {
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
    match parsed {
        osv::Parsed::Advisory(advisory) => out.advisories.push(advisory),
        osv::Parsed::Withdrawn => out.withdrawn += 1,
    }
    Ok(())
}
