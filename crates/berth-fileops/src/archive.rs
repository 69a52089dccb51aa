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
//! What is an archive is decided as BuildKit's `ADD` decides it, by content, never by name:
//! the compression is told from the first bytes (gzip, bzip2, xz, zstd or none; see
//! [`berth_oci::compression`]), and the file is an archive when the decompressed stream
//! starts with a tar entry the tar reader accepts (Go's `tar.Reader.Next()` in BuildKit;
//! the extractor's own reader here, so what is called an archive can be extracted). Anything
//! else, a compressed file that is not a tar or one too damaged to show a first entry
//! included, is copied as it is. A file whose first entry reads but whose stream breaks
//! later (a truncated download) fails the build naming the archive, as in BuildKit. Only
//! local files are unpacked: an `ADD` of a URL never is (BuildKit), and berth refuses URLs.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use berth_oci::compression::{self, ArchiveCompression, Decoder};
use berth_rootfs::extract::{self, BadLink, Devices, ExtractError, Hardlinks, NoHooks, Rules};
use berth_rootfs::{NewDir, Root};

use crate::copy::Owner;
use crate::error::{Error, IoContext, Result};

/// An opened file (at `path`, for messages) as a decompressed stream.
fn decompressed(file: File, path: &Path) -> Result<Decoder<BufReader<File>>> {
    let mut buf = BufReader::with_capacity(64 * 1024, file);
    let head = buf.fill_buf().at(path)?;
    ArchiveCompression::sniff(head).decoder(buf).at(path)
}

/// Whether a local file is a tar archive `ADD` unpacks (maybe compressed): its decompressed
/// stream must start with a tar entry. A `.gz` that is not a tar is copied as a file, as
/// Docker does. `file` is the local file opened for reading, `path` where it is (for
/// messages). A stream refused for the memory it would take fails, naming the file, rather
/// than being copied as though it were not an archive.
pub fn is_archive(file: File, path: &Path) -> Result<bool> {
    let reader = decompressed(file, path)?;
    let mut archive = tar::Archive::new(reader);
    let first = archive.entries().at(path)?.next();
    match first {
        Some(Ok(_)) => Ok(true),
        Some(Err(e)) if compression::over_limit(&e) => Err(Error::Archive {
            archive: path.display().to_string(),
            reason: e.to_string(),
        }),
        // Empty, not a tar, or damaged before its first entry: copied as it is.
        Some(Err(_)) | None => Ok(false),
    }
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
