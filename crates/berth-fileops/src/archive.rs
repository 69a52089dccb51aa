//! Safe tar extraction, for `ADD` of a local archive and for a build context sent as a tar.
//!
//! Rules (moby's `Unpack`, which BuildKit's `ADD` uses): a leading `/` is dropped, an entry
//! whose cleaned path leaves the destination (`../x`) makes the whole archive refused, so does
//! a hard link to outside it or a relative symlink that climbs out of it; an absolute symlink
//! is kept as written (it means the image's `/`). Every parent directory is resolved inside
//! the root filesystem, so a symlink planted by an earlier entry (or already in the image)
//! can never make berth write outside that root. Entries keep the archive's owner, mode,
//! times and `SCHILY.xattr` attributes: verified against BuildKit, even `ADD --chown` leaves
//! the owners of extracted files alone. Missing parents are created 0755 root-owned.
//!
//! Formats: plain tar, gzip and zstd. (BuildKit also unpacks bzip2 and xz; berth reports
//! those as not supported rather than silently copying them as files.)

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use berth_oci::Compression;
use berth_oci::compression::Decoder;

use crate::copy::{Creator, Owner};
use crate::error::{Error, IoContext, Result};
use crate::fsmeta;
use crate::scoped::{self, join_rel};

/// Opens a file as a decompressed stream. Compressions berth does not read are refused by
/// name, so `ADD` never copies such an archive as a plain file by mistake.
fn open(path: &Path) -> Result<Decoder<BufReader<File>>> {
    let file = File::open(path).at(path)?;
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
/// copied as a file, as Docker does.
pub fn is_archive(path: &Path) -> Result<bool> {
    let mut reader = open(path)?;
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

/// Extracts the archive at `path` into `dest_rel` (a directory, relative to `rootfs`, created
/// if missing with `parents` ownership).
pub(crate) fn unpack_file(
    path: &Path,
    rootfs: &Path,
    dest_rel: &str,
    parents: Owner,
) -> Result<Extracted> {
    let reader = open(path)?;
    unpack(
        reader,
        rootfs,
        dest_rel,
        parents,
        &path.display().to_string(),
    )
}

/// Extracts a tar stream into `dest_rel` inside `rootfs`.
pub(crate) fn unpack(
    reader: impl Read,
    rootfs: &Path,
    dest_rel: &str,
    parents: Owner,
    name: &str,
) -> Result<Extracted> {
    let bad = |reason: io::Error| Error::Archive {
        archive: name.to_owned(),
        reason: reason.to_string(),
    };
    let creator = Creator::new(rootfs, parents);
    let dest = creator.ensure_dir(dest_rel)?;
    let mut archive = tar::Archive::new(reader);
    let mut stats = Extracted::default();
    // Directory times are set last: writing into a directory changes its mtime.
    let mut dir_times = Vec::new();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let rel = inside(&raw).ok_or_else(|| escape(name, &raw))?;
        if rel.is_empty() {
            continue;
        }
        let header = entry.header().clone();
        let kind = header.entry_type();
        let (parent, file) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        let parent = creator.ensure_dir(&join_rel(&dest.rel, parent))?;
        let target = parent.host.join(file);
        let existing = std::fs::symlink_metadata(&target).ok();
        if let Some(meta) = &existing {
            // A directory stays when a directory comes again; anything else is replaced.
            if !(meta.is_dir() && kind.is_dir()) {
                if meta.is_dir() {
                    std::fs::remove_dir_all(&target).at(&target)?;
                } else {
                    std::fs::remove_file(&target).at(&target)?;
                }
            }
        }
        let mode = header.mode().map_err(bad)?;
        match kind {
            k if k.is_dir() => {
                if !target.is_dir() {
                    std::fs::create_dir(&target).at(&target)?;
                }
            }
            k if k.is_file() || k == tar::EntryType::Continuous => {
                let mut out = std::fs::File::options()
                    .write(true)
                    .create_new(true)
                    .open(&target)
                    .at(&target)?;
                stats.bytes += io::copy(&mut entry, &mut out).map_err(bad)?;
            }
            k if k.is_symlink() => {
                let link = entry.link_name_bytes().unwrap_or_default();
                let link = String::from_utf8_lossy(&link).into_owned();
                if !link.starts_with('/') && inside(&join_rel(parent_of(&rel), &link)).is_none() {
                    return Err(escape(name, &raw));
                }
                std::os::unix::fs::symlink(&link, &target).at(&target)?;
            }
            k if k.is_hard_link() => {
                let link = entry.link_name_bytes().unwrap_or_default();
                let link = String::from_utf8_lossy(&link).into_owned();
                let link_rel = inside(&link).ok_or_else(|| escape(name, &raw))?;
                let source = scoped::resolve(rootfs, &join_rel(&dest.rel, &link_rel), false)
                    .at(rootfs.join(&link_rel))?;
                std::fs::hard_link(&source.host, &target).at(&target)?;
                stats.files += 1;
                continue;
            }
            k if k.is_fifo() || k.is_character_special() || k.is_block_special() => {
                let type_bits = if k.is_fifo() {
                    libc::S_IFIFO
                } else if k.is_character_special() {
                    libc::S_IFCHR
                } else {
                    libc::S_IFBLK
                };
                let major = header.device_major().map_err(bad)?.unwrap_or(0);
                let minor = header.device_minor().map_err(bad)?.unwrap_or(0);
                let dev = libc::makedev(major, minor);
                fsmeta::mknod(&target, type_bits | (mode & 0o7777), dev).at(&target)?;
            }
            // PAX and GNU long-name headers are folded in by the tar reader; others skipped.
            _ => continue,
        }
        // Like Go's tar reader, an empty numeric field reads as 0.
        let uid = header.uid().unwrap_or(0) as u32;
        let gid = header.gid().unwrap_or(0) as u32;
        match fsmeta::lchown(&target, uid, gid) {
            // Unprivileged extraction (a context tar) keeps the caller's owner.
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            other => other.at(&target)?,
        }
        if !kind.is_symlink() {
            fsmeta::chmod(&target, mode).at(&target)?;
        }
        if let Some(pax) = entry.pax_extensions().map_err(bad)? {
            for ext in pax.flatten() {
                if let Some(attr) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") {
                    fsmeta::set_xattr(&target, attr, ext.value_bytes()).at(&target)?;
                }
            }
        }
        let mtime = header.mtime().unwrap_or(0) as i64;
        if kind.is_dir() {
            dir_times.push((target, mtime));
        } else {
            fsmeta::set_times(&target, (mtime, 0), (mtime, 0)).at(&target)?;
            stats.files += 1;
        }
    }
    for (dir, mtime) in dir_times.iter().rev() {
        // A directory replaced by a later entry is gone: nothing to stamp.
        if std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && m.nlink() > 0) {
            fsmeta::set_times(dir, (*mtime, 0), (*mtime, 0)).at(dir)?;
        }
    }
    Ok(stats)
}

fn parent_of(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(p, _)| p)
}

/// An archive path cleaned and made relative; `None` when it climbs out (`..`).
fn inside(path: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            other => out.push(other),
        }
    }
    Some(out.join("/"))
}

fn escape(archive: &str, entry: &str) -> Error {
    Error::ArchiveEscape {
        archive: archive.to_owned(),
        entry: entry.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::inside;

    #[test]
    fn archive_paths_stay_inside() {
        assert_eq!(inside("/etc/passwd").as_deref(), Some("etc/passwd"));
        assert_eq!(inside("./a/../b").as_deref(), Some("b"));
        assert_eq!(inside("../x"), None);
        assert_eq!(inside("a/../../x"), None);
    }
}
