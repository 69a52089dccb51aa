//! Safe tar extraction, for `ADD` of a local archive and for a build context sent as a tar.
//!
//! Rules (moby's `Unpack`, which BuildKit's `ADD` uses): a leading `/` is dropped, an entry
//! whose cleaned path leaves the destination (`../x`) makes the whole archive refused, so does
//! a hard link to outside it or a relative symlink that climbs out of it; an absolute symlink
//! is kept as written (it means the image's `/`). The extraction is berth-rootfs' one
//! extractor: every parent directory is resolved inside the root filesystem, so a symlink
//! planted by an earlier entry (or already in the image) can never make berth write outside
//! that root, and device entries are skipped (never created). Entries keep the archive's owner, mode,
//! times and `SCHILY.xattr` attributes: verified against BuildKit, even `ADD --chown` leaves
//! the owners of extracted files alone. Missing parents are created 0755 root-owned.
//!
//! Formats: plain tar, gzip and zstd. (BuildKit also unpacks bzip2 and xz; berth reports
//! those as not supported rather than silently copying them as files.)

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use berth_oci::Compression;
use berth_oci::compression::Decoder;
use berth_rootfs::extract::{self, BadLink, Devices, ExtractError, Hardlinks, NoHooks, Rules};
use berth_rootfs::{NewDir, Root};

use crate::copy::Owner;
use crate::error::{Error, IoContext, Result};

/// An opened file (at `path`, for messages) as a decompressed stream. Compressions berth
/// does not read are refused by name, so `ADD` never copies such an archive as a plain file
/// by mistake.
fn decompressed(file: File, path: &Path) -> Result<Decoder<BufReader<File>>> {
    let mut buf = BufReader::with_capacity(64 * 1024, file);
    let head = buf.fill_buf().at(path)?;
    let compression = Compression::sniff(head).map_err(|unsupported| Error::Archive {
        archive: path.display().to_string(),
        reason: format!(
            "{unsupported} archives are not supported by berth's ADD; recompress it with gzip or zstd, or decompress it in a RUN step"
        ),
    })?;
    compression.decoder(buf).at(path)
}

/// Whether a local file is a tar archive `ADD` unpacks (maybe compressed): the decompressed
/// stream must start with a tar header whose checksum is right. A `.gz` that is not a tar is
/// copied as a file, as Docker does. `file` is the local file opened for reading, `path`
/// where it is (for messages).
pub fn is_archive(file: File, path: &Path) -> Result<bool> {
    let mut reader = decompressed(file, path)?;
    let mut header = [0u8; 512];
    let mut filled = 0;
    while filled < header.len() {
        match reader.read(&mut header[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            // A corrupt compressed stream is just not an archive; it is copied as it is.
            Err(_) => return Ok(false),
        }
    }
    Ok(filled == 512 && tar_checksum_ok(&header))
}

fn tar_checksum_ok(header: &[u8; 512]) -> bool {
    let field = &header[148..156];
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0 && b != b' ')
        .skip_while(|&&b| b == b' ')
        .map(|&b| b as char)
        .collect();
    let Ok(stored) = u32::from_str_radix(text.trim(), 8) else {
        return false;
    };
    let sum: u32 = header
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u32
            }
        })
        .sum();
    header[0] != 0 && stored == sum
}

/// Counts of what an extraction wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Extracted {
    pub files: u64,
    pub bytes: u64,
}

/// Extracts the archive `file` (at `path`, for messages) into `dest_rel` (a directory,
/// relative to `rootfs`, created if missing with `parents` ownership).
pub(crate) fn unpack_file(
    file: File,
    path: &Path,
    rootfs: &Root,
    dest_rel: &OsStr,
    parents: Owner,
) -> Result<Extracted> {
    let reader = decompressed(file, path)?;
    unpack(
        reader,
        rootfs,
        dest_rel,
        parents,
        &path.display().to_string(),
    )
}

/// Extracts a tar stream into `dest_rel` inside `rootfs`, by moby's rules: links out of the
/// destination refused, devices skipped (never created), the archive's owners kept when the
/// process may set them.
pub(crate) fn unpack(
    reader: impl Read,
    rootfs: &Root,
    dest_rel: impl AsRef<OsStr>,
    parents: Owner,
    name: &str,
) -> Result<Extracted> {
    let rules = Rules {
        refuse_escaping_symlinks: true,
        hardlinks: Hardlinks::Inside,
        devices: Devices::Skip,
        refuse_unknown_types: false,
        // Unprivileged extraction (a context tar) keeps the caller's owner.
        tolerate_chown_eperm: true,
        parents: NewDir {
            mode: 0o755,
            owner: Some(parents),
        },
    };
    let done = extract::extract(rootfs, dest_rel, reader, &rules, &mut NoHooks)
        .map_err(|e| extract_error(name, e))?;
    Ok(Extracted {
        files: done.files,
        bytes: done.bytes,
    })
}

fn extract_error(archive: &str, e: ExtractError) -> Error {
    let escape = |entry: OsString| Error::ArchiveEscape {
        archive: archive.to_owned(),
        entry,
    };
    match e {
        ExtractError::Escapes { entry } | ExtractError::SymlinkEscapes { entry, .. } => {
            escape(entry)
        }
        ExtractError::BadHardlink {
            entry,
            why: BadLink::ClimbsOut,
            ..
        } => escape(entry),
        ExtractError::ParentNotDir { parent, .. } => Error::NotADirectory { path: parent },
        ExtractError::Root(e) => Error::from(e),
        other => Error::Archive {
            archive: archive.to_owned(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use berth_rootfs::path::clean_inside as inside;

    #[test]
    fn archive_paths_stay_inside() {
        assert_eq!(inside("/etc/passwd").unwrap(), "etc/passwd");
        assert_eq!(inside("./a/../b").unwrap(), "b");
        assert_eq!(inside("../x"), None);
        assert_eq!(inside("a/../../x"), None);
    }
}
