//! Content-addressed blobs on disk: `blobs/<algorithm>/<hex>`.
//!
//! A blob is written into a temporary file under `ingest/`, hashed as it is written, fsynced,
//! and renamed to its final name only when its digest is known to be right; the rename is
//! atomic, so a crash leaves either no blob or a whole one. Two writers of the same blob race
//! harmlessly: both renames put identical bytes in place. Reads hash what they return and fail
//! if the file no longer matches its name.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use berth_oci::{Algorithm, Digest, HashingWriter, Mismatch, VerifyingReader};

use crate::error::{StoreError, io_err};

/// The blob directory of a store (or of an OCI image layout: the same shape).
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
    ingest: PathBuf,
}

impl Blobs {
    /// Blobs under `dir` (`<dir>/sha256/…`), with temporary files in `ingest`, which must be
    /// on the same filesystem so renames are atomic.
    pub fn new(dir: PathBuf, ingest: PathBuf) -> Blobs {
        Blobs { dir, ingest }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.algorithm().name()).join(digest.hex())
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Size on disk, or `None` if absent.
    pub fn size(&self, digest: &Digest) -> Option<u64> {
        fs::metadata(self.path(digest)).ok().map(|m| m.len())
    }

    /// Opens a blob for reading; the reader fails at the end if the bytes don't match `digest`
    /// (or `size`, when given).
    pub fn open(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<VerifyingReader<BufReader<File>>, StoreError> {
        let path = self.path(digest);
        let file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::BlobNotFound(digest.clone()),
            _ => io_err(&path, e),
        })?;
        let size = match size {
            Some(s) => s,
            None => file.metadata().map_err(|e| io_err(&path, e))?.len(),
        };
        Ok(VerifyingReader::new(
            BufReader::with_capacity(256 * 1024, file),
            digest,
            Some(size),
        ))
    }

    /// Reads a whole blob (a manifest or config), checked against its digest, refusing blobs
    /// larger than `limit`.
    pub fn read(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>, StoreError> {
        let path = self.path(digest);
        let size = self
            .size(digest)
            .ok_or_else(|| StoreError::BlobNotFound(digest.clone()))?;
        if size > limit {
            return Err(StoreError::TooLarge {
                digest: digest.clone(),
                size,
                limit,
            });
        }
        let bytes = fs::read(&path).map_err(|e| io_err(&path, e))?;
        let actual = Digest::of(digest.algorithm(), &bytes);
        if actual != *digest {
            return Err(StoreError::Corrupt {
                path,
                mismatch: Mismatch::Digest {
                    expected: digest.clone(),
                    actual,
                },
            });
        }
        Ok(bytes)
    }

    /// Starts writing a new blob.
    pub fn writer(&self, algorithm: Algorithm) -> Result<BlobWriter, StoreError> {
        fs::create_dir_all(&self.ingest).map_err(|e| io_err(&self.ingest, e))?;
        let temp = self.ingest.join(temp_name());
        let file = File::create(&temp).map_err(|e| io_err(&temp, e))?;
        Ok(BlobWriter {
            blobs: self.clone(),
            temp,
            out: Some(HashingWriter::new(
                io::BufWriter::with_capacity(256 * 1024, EarlyWriteback::new(file)),
                algorithm,
            )),
        })
    }

    /// Writes a blob from a reader, keeping it only if it matches `digest` (and `size`, if given).
    /// Input longer than `size` is refused as soon as it passes it, before the excess reaches
    /// the disk: whatever the reader is fed by can't fill the ingest directory.
    pub fn write_from(
        &self,
        digest: &Digest,
        size: Option<u64>,
        mut reader: impl Read,
    ) -> Result<u64, StoreError> {
        let mut w = self.writer(digest.algorithm())?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StoreError::from_read(digest, e)),
            };
            if let Some(size) = size.filter(|&size| w.written() + n as u64 > size) {
                return Err(StoreError::Rejected(Mismatch::TooLong {
                    digest: digest.clone(),
                    expected: size,
                }));
            }
            w.write_all(&buf[..n]).map_err(|e| io_err(&w.temp, e))?;
        }
        let written = w.written();
        w.commit(Some(digest), size)?;
        Ok(written)
    }

    /// Writes a blob held in memory (a manifest or config) and returns its digest.
    pub fn write_bytes(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let digest = Digest::sha256(bytes);
        if !self.contains(&digest) {
            self.write_from(&digest, Some(bytes.len() as u64), bytes)?;
        }
        Ok(digest)
    }

    /// Moves a finished file, already hashed to `digest` by whoever wrote it, into place. The
    /// file must be on the store's file system. If the blob is there already the file is
    /// dropped instead.
    pub fn adopt(&self, file: &Path, digest: &Digest) -> Result<(), StoreError> {
        let dest = self.path(digest);
        if dest.is_file() {
            let _ = fs::remove_file(file);
            return Ok(());
        }
        File::open(file)
            .and_then(|f| f.sync_all())
            .map_err(|e| io_err(file, e))?;
        let parent = dest.parent().expect("blob path has a parent");
        fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
        fs::rename(file, &dest).map_err(|e| io_err(&dest, e))?;
        sync_dir(parent)
    }

    pub fn remove(&self, digest: &Digest) -> Result<(), StoreError> {
        let path = self.path(digest);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    /// Every blob on disk, with its size. Files whose names aren't digests are skipped.
    pub fn list(&self) -> Result<Vec<(Digest, u64)>, StoreError> {
        let mut out = Vec::new();
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let dir = self.dir.join(alg.name());
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| io_err(&dir, e))?;
                let name = entry.file_name();
                let Some(d) = name.to_str().and_then(|n| Digest::from_hex(alg, n).ok()) else {
                    continue;
                };
                let len = entry
                    .metadata()
                    .map_err(|e| io_err(&entry.path(), e))?
                    .len();
                out.push((d, len));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes the partial blobs of writers that died (killed in the middle of a pull, say):
    /// the files [`Blobs::writer`] names, and nothing else in the ingest directory (archives
    /// being unpacked there are not blobs). Call only while no writer runs.
    pub fn clear_partial_blobs(&self) -> Result<u64, StoreError> {
        let mut removed = 0;
        let entries = match fs::read_dir(&self.ingest) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io_err(&self.ingest, e)),
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let is_partial = name.to_str().is_some_and(is_temp_name);
            if is_partial && entry.file_type().is_ok_and(|t| t.is_file()) {
                match fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&entry.path(), e)),
                }
            }
        }
        Ok(removed)
    }

    /// Removes temporary files left behind by writers that died. Call only while no writer runs.
    pub fn clear_ingest(&self) -> Result<u64, StoreError> {
        let mut removed = 0;
        let entries = match fs::read_dir(&self.ingest) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io_err(&self.ingest, e)),
        };
        for entry in entries.flatten() {
            if fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A blob being written. Dropped without [`BlobWriter::commit`], it leaves nothing behind.
pub struct BlobWriter {
    blobs: Blobs,
    temp: PathBuf,
    /// `None` once committed.
    out: Option<HashingWriter<io::BufWriter<EarlyWriteback>>>,
}

impl BlobWriter {
    pub fn written(&self) -> u64 {
        self.out.as_ref().map_or(0, HashingWriter::written)
    }

    /// Makes the blob visible under its digest. With `expected`, the blob is kept only if its
    /// digest (and `size`, if given) match; otherwise nothing is kept and the mismatch returned.
    pub fn commit(
        mut self,
        expected: Option<&Digest>,
        size: Option<u64>,
    ) -> Result<Digest, StoreError> {
        let out = self.out.take().expect("a writer is committed once");
        let result = self.finish_into_place(out, expected, size);
        if result.is_err() {
            let _ = fs::remove_file(&self.temp);
        }
        result
    }

    fn finish_into_place(
        &self,
        out: HashingWriter<io::BufWriter<EarlyWriteback>>,
        expected: Option<&Digest>,
        size: Option<u64>,
    ) -> Result<Digest, StoreError> {
        let temp = &self.temp;
        let (buf, digest, written) = out.finish();
        let file = buf
            .into_inner()
            .map_err(|e| io_err(temp, e.into_error()))?
            .file;
        if let Some(expected) = expected {
            Mismatch::check(expected, size, digest.clone(), written)
                .map_err(StoreError::Rejected)?;
        }
        file.sync_all().map_err(|e| io_err(temp, e))?;
        drop(file);
        let dest = self.blobs.path(&digest);
        let parent = dest.parent().expect("blob path has a parent");
        fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
        fs::rename(temp, &dest).map_err(|e| io_err(&dest, e))?;
        sync_dir(parent)?;
        Ok(digest)
    }
}

/// A file that asks the kernel to start writing its data to disk every few MiB, so the fsync
/// before a blob is renamed into place finds little left to do: a 64 MiB layer pulled over a
/// fast link spent a third of its time in that one fsync otherwise.
struct EarlyWriteback {
    file: File,
    written: u64,
    flushed: u64,
}

impl EarlyWriteback {
    const EVERY: u64 = 8 << 20;

    fn new(file: File) -> EarlyWriteback {
        EarlyWriteback {
            file,
            written: 0,
            flushed: 0,
        }
    }
}

impl Write for EarlyWriteback {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.flushed >= Self::EVERY {
            start_writeback(&self.file, self.flushed, self.written - self.flushed);
            self.flushed = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Starts (without waiting for) writeback of a range; only a hint, so failure is ignored.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid descriptor and plain integers; the call only schedules I/O.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File, _: u64, _: u64) {}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.out.as_mut() {
            Some(out) => out.write(buf),
            None => Err(io::Error::other("blob writer already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Makes a rename or a new file in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// A name no other writer, in this process or another, will pick.
pub fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{TEMP_PREFIX}{}-{n}-{nanos}{TEMP_SUFFIX}",
        std::process::id()
    )
}

const TEMP_PREFIX: &str = ".berth-";
const TEMP_SUFFIX: &str = ".partial";

/// Whether a file name is one [`temp_name`] makes.
fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)
}

/// Replaces the file at `path` with `bytes` atomically: readers see the old file or the new
/// one, never part of either, even if the process dies halfway.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_atomic_mode(path, bytes, 0o666)
}

/// [`write_atomic`] with the file created with `mode` (less the umask): for secrets, which
/// must never be readable by others, not even between creation and a chmod.
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = parent_dir(path);
    let temp = dir.join(temp_name());
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&temp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(io_err(path, e));
    }
    sync_dir(dir)
}

/// The directory a path is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}
