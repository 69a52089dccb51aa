//! Writing entries as a deterministic tar stream, and compressing it.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;

use berth_oci::{Algorithm, Digest, HashingWriter};
use tar::{EntryType, Header};

use crate::entry::{Data, Entry, Kind};
use crate::error::LayerError;
use crate::source::Entries;

/// Bytes a tar header holds of a link target; longer ones go in a PAX `linkpath` record.
const LINK_FIELD: usize = 100;

/// How a name that is not ASCII is written, as Go's archive/tar writes it in the PAX format
/// that BuildKit and Docker write layers in: the whole name, byte for byte (UTF-8 or not:
/// names are bytes on Linux), in a PAX `path` or `linkpath` record, and the header field
/// holding only its ASCII bytes, for readers that ignore PAX records.
fn ascii_only(name: &[u8], field: usize) -> Vec<u8> {
    name.iter()
        .copied()
        .filter(|&b| b.is_ascii() && b != 0)
        .take(field)
        .collect()
}

/// How entries are written.
#[derive(Debug, Clone, Default)]
pub struct TarOptions {
    /// Clamp every mtime to at most this (SOURCE_DATE_EPOCH), for reproducible layers.
    pub source_date_epoch: Option<i64>,
}

/// What a written layer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarStats {
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    /// Length of the uncompressed tar stream.
    pub size: u64,
    /// Newest mtime written (after clamping); `None` for an empty layer.
    pub newest_mtime: Option<i64>,
}

/// Writes `entries` as a tar stream into `out`.
///
/// Headers carry only what the file system says: numeric owners (no user names, which depend
/// on the host's passwd), permission bits, whole-second mtimes, xattrs as PAX records.
pub fn write_tar<W: Write>(
    entries: &Entries,
    opts: &TarOptions,
    out: W,
) -> Result<(W, TarStats), LayerError> {
    write_tar_reporting(entries, opts, out, &|_| {})
}

/// [`write_tar`], calling `report` with the bytes of file content written so far after each
/// file ([`Entries::content_size`] is the total).
pub fn write_tar_reporting<W: Write>(
    entries: &Entries,
    opts: &TarOptions,
    out: W,
    report: &dyn Fn(u64),
) -> Result<(W, TarStats), LayerError> {
    write_tar_marking(entries, opts, out, report, &mut |_, _| Ok(()))
}

/// [`write_tar_reporting`], calling `mark` with `out` and the entry's path before each entry
/// (and its PAX records) is written.
pub(crate) fn write_tar_marking<W: Write>(
    entries: &Entries,
    opts: &TarOptions,
    out: W,
    report: &dyn Fn(u64),
    mark: &mut dyn FnMut(&mut W, &std::ffi::OsStr) -> io::Result<()>,
) -> Result<(W, TarStats), LayerError> {
    let mut done = 0;
    let hashed = HashingWriter::new(out, Algorithm::Sha256);
    let mut builder = tar::Builder::new(hashed);
    let mut newest = None;
    for entry in &entries.entries {
        let mtime = match opts.source_date_epoch {
            Some(epoch) => entry.mtime.min(epoch),
            None => entry.mtime,
        }
        .max(0);
        newest = newest.max(Some(mtime));
        mark(builder.get_mut().get_mut(), &entry.path).map_err(LayerError::Write)?;
        append(&mut builder, entry, mtime, entries.spool.as_ref())?;
        if let Kind::File { size, .. } = entry.kind {
            done += size;
            report(done);
        }
    }
    let hashed = builder.into_inner().map_err(LayerError::Write)?;
    let (out, diff_id, size) = hashed.finish();
    Ok((
        out,
        TarStats {
            diff_id,
            size,
            newest_mtime: newest,
        },
    ))
}

fn append<W: Write>(
    builder: &mut tar::Builder<W>,
    entry: &Entry,
    mtime: i64,
    spool: Option<&File>,
) -> Result<(), LayerError> {
    // Extended attributes, link targets too long for the header, and names or targets that
    // are not ASCII go in one PAX record set before the entry.
    let link_target = match &entry.kind {
        Kind::Symlink { target } | Kind::Hardlink { target } => Some(target.as_bytes()),
        _ => None,
    };
    let pax_link = link_target.filter(|t| t.len() > LINK_FIELD || !t.is_ascii());
    let mut name = entry.path.as_bytes().to_vec();
    if matches!(entry.kind, Kind::Dir) {
        name.push(b'/');
    }
    let mut records: Vec<(String, &[u8])> = entry
        .xattrs
        .iter()
        .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.as_slice()))
        .collect();
    if let Some(target) = pax_link {
        records.push(("linkpath".to_string(), target));
    }
    if !name.is_ascii() {
        records.push(("path".to_string(), &name));
    }
    if !records.is_empty() {
        builder
            .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v)))
            .map_err(LayerError::Write)?;
    }
    let mut h = Header::new_gnu();
    h.set_mode(entry.mode);
    h.set_uid(entry.uid);
    h.set_gid(entry.gid);
    h.set_mtime(mtime as u64);
    h.set_size(0);
    let w = LayerError::Write;
    match &entry.kind {
        Kind::Dir => {
            h.set_entry_type(EntryType::Directory);
            append_named(builder, &mut h, &name, io::empty()).map_err(w)
        }
        Kind::File { size, data } => {
            h.set_entry_type(EntryType::Regular);
            h.set_size(*size);
            let reader: Box<dyn Read> = match data {
                Data::InRoot(file) => Box::new(
                    file.open()
                        .map_err(|e| LayerError::io(&file.host(), e))?
                        .take(*size),
                ),
                Data::Spool { offset } => Box::new(SpoolReader {
                    file: spool.expect("spooled entries come with their spool"),
                    offset: *offset,
                    remaining: *size,
                }),
                Data::Empty => Box::new(io::empty()),
            };
            let mut counted = Counted {
                inner: reader,
                n: 0,
            };
            let result = append_named(builder, &mut h, &name, &mut counted);
            if counted.n != *size {
                let path = match data {
                    Data::InRoot(file) => file.host(),
                    Data::Spool { .. } | Data::Empty => entry.path.clone().into(),
                };
                return Err(LayerError::Changed {
                    path,
                    expected: *size,
                    actual: counted.n,
                });
            }
            result.map_err(w)
        }
        Kind::Symlink { target } | Kind::Hardlink { target } => {
            h.set_entry_type(if matches!(entry.kind, Kind::Symlink { .. }) {
                EntryType::Symlink
            } else {
                EntryType::Link
            });
            // Literally: a symlink's target is data, not a path to tidy (`a//b` stays).
            let target = target.as_bytes();
            let field = match target.is_ascii() {
                true => target[..target.len().min(LINK_FIELD)].to_vec(),
                false => ascii_only(target, LINK_FIELD),
            };
            h.set_link_name_literal(field).map_err(w)?;
            append_named(builder, &mut h, &name, io::empty()).map_err(w)
        }
        Kind::CharDevice { major, minor } | Kind::BlockDevice { major, minor } => {
            let t = if matches!(entry.kind, Kind::CharDevice { .. }) {
                EntryType::Char
            } else {
                EntryType::Block
            };
            h.set_entry_type(t);
            h.set_device_major(*major).map_err(w)?;
            h.set_device_minor(*minor).map_err(w)?;
            append_named(builder, &mut h, &name, io::empty()).map_err(w)
        }
        Kind::Fifo => {
            h.set_entry_type(EntryType::Fifo);
            append_named(builder, &mut h, &name, io::empty()).map_err(w)
        }
    }
}

/// Appends the entry `h` named `name`: an ASCII name as the header (or a GNU long-name entry)
/// holds it; any other was written whole in the entry's PAX `path` record, and the header
/// keeps its ASCII bytes ([`ascii_only`]).
fn append_named<W: Write>(
    builder: &mut tar::Builder<W>,
    h: &mut Header,
    name: &[u8],
    data: impl Read,
) -> io::Result<()> {
    if name.is_ascii() {
        return builder.append_data(h, Path::new(OsStr::from_bytes(name)), data);
    }
    let field = &mut h.as_old_mut().name;
    let ascii = ascii_only(name, field.len());
    field.fill(0);
    field[..ascii.len()].copy_from_slice(&ascii);
    h.set_cksum();
    builder.append(h, data)
}

/// Reads a range of the spool file without moving a shared cursor.
struct SpoolReader<'a> {
    file: &'a File,
    offset: u64,
    remaining: u64,
}

impl Read for SpoolReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(self.remaining as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.offset)?;
        self.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Counts what passes, so a file that shrank while being read is caught.
struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// A deterministic gzip stream: no file name, zero mtime, fixed level.
pub fn gzip<W: Write>(out: W) -> flate2::write::GzEncoder<W> {
    flate2::GzBuilder::new()
        .mtime(0)
        .write(out, flate2::Compression::new(6))
}

/// Writes `entries` as a gzip-compressed layer into `out`, reporting as
/// [`write_tar_reporting`] does.
pub fn write_gzip_layer<W: Write>(
    entries: &Entries,
    opts: &TarOptions,
    out: W,
    report: &dyn Fn(u64),
) -> Result<(W, TarStats), LayerError> {
    let (gz, stats) = write_tar_reporting(entries, opts, gzip(out), report)?;
    let out = gz.finish().map_err(LayerError::Write)?;
    Ok((out, stats))
}
