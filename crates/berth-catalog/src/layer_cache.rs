//! What one layer's scan found, kept on disk by the layer's digests, so that an image read
//! again (or another image sharing the layer) is catalogued without reading the layer.
//!
//! An entry is named by a SHA-256 over everything its contents depend on: this file's
//! [`FORMAT`], the caller's build identity (the catalogers' wanted set and extractors are
//! functions, which only the build pins), the wanted set's names, the per-file limit, and the
//! layer's diff ID and blob digest. Anything else (a different build, another wanted set) is
//! another name, so a stale entry is never read, only pruned.
//!
//! An entry is *staged* as a layer is scanned and written only by [`LayerCache::commit`],
//! which the caller calls once every blob has passed its digest check: nothing read from
//! unchecked bytes is kept. Entries are written to a temporary file and renamed into place,
//! end with a SHA-256 of their bytes, and are read back only when it matches; a damaged or
//! truncated entry is a miss (and removed), never a wrong catalogue. The directory is held to
//! a size cap by removing the least recently used entries.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use berth_oci::Digest;

use crate::fs::Wanted;
use crate::image::{Change, Kind};

/// The entries' layout; bump it whenever [`encode`]'s output changes.
const FORMAT: u32 = 1;
/// What every entry starts with.
const MAGIC: &[u8] = b"berth layer scan\n";
/// A directory of per-layer scans.
pub struct LayerCache {
    dir: PathBuf,
    identity: String,
    cap: u64,
    staged: Mutex<Vec<(String, Vec<u8>)>>,
}

impl LayerCache {
    /// A size cap that holds the scans of a few hundred layers.
    pub const DEFAULT_CAP: u64 = 512 << 20;

    /// The cache in `dir` (made when an entry is first written), for the build `identity`
    /// names (anything that changes whenever the catalogers may: a version and the
    /// executable's build), held to `cap` bytes.
    pub fn new(dir: impl Into<PathBuf>, identity: &str, cap: u64) -> LayerCache {
        LayerCache {
            dir: dir.into(),
            identity: identity.to_owned(),
            cap,
            staged: Mutex::new(Vec::new()),
        }
    }

    /// Where the entries are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The name of the entry for one layer read with `wanted` and `limit`.
    pub(crate) fn key(
        &self,
        diff_id: &Digest,
        blob: &Digest,
        wanted: &[Wanted],
        limit: u64,
    ) -> String {
        let mut h = berth_oci::Algorithm::Sha256.hasher();
        let mut field = |bytes: &[u8]| {
            h.update(&(bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(&FORMAT.to_le_bytes());
        field(self.identity.as_bytes());
        for w in wanted {
            field(describe(w).as_bytes());
        }
        field(&limit.to_le_bytes());
        field(diff_id.to_string().as_bytes());
        field(blob.to_string().as_bytes());
        h.finish().hex().to_owned()
    }

    /// The scan kept under `key`, when there is one and it is whole. A damaged entry is removed.
    pub(crate) fn get(&self, key: &str) -> Option<Vec<Change>> {
        let path = self.dir.join(key);
        let bytes = fs::read(&path).ok()?;
        match decode(&bytes) {
            Some(changes) => {
                // Its time of use, for the least recently used to go first.
                if let Ok(file) = fs::File::options().append(true).open(&path) {
                    let _ = file.set_modified(SystemTime::now());
                }
                Some(changes)
            }
            None => {
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Notes a layer's scan, to be written by [`LayerCache::commit`].
    pub(crate) fn stage(&self, key: String, changes: &[Change]) {
        let entry = encode(changes);
        // An entry larger than the whole cache would only push everything else out.
        if entry.len() as u64 <= self.cap {
            lock(&self.staged).push((key, entry));
        }
    }

    /// Writes the staged scans, then prunes the directory to its cap. Call it only once the
    /// layers' blobs have passed their digest checks.
    pub fn commit(&self) -> io::Result<()> {
        let staged = std::mem::take(&mut *lock(&self.staged));
        if staged.is_empty() {
            return Ok(());
        }
        fs::create_dir_all(&self.dir)?;
        for (key, entry) in staged {
            write_atomically(&self.dir, &key, &entry)?;
        }
        self.prune()
    }

    /// Removes the least recently used entries (and temporary files a crash left) until the
    /// directory holds at most the cap.
    fn prune(&self) -> io::Result<()> {
        let mut entries = Vec::new();
        let mut total = 0;
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if !meta.is_file() {
                continue;
            }
            total += meta.len();
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            entries.push((used, meta.len(), entry.path()));
        }
        entries.sort();
        for (_, len, path) in entries {
            if total <= self.cap {
                break;
            }
            match fs::remove_file(&path) {
                Ok(()) => total -= len,
                // Another berth pruned it first.
                Err(e) if e.kind() == io::ErrorKind::NotFound => total -= len,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a wanted entry asks for, as far as it has a name: its functions are the build's.
fn describe(w: &Wanted) -> String {
    match w {
        Wanted::File(file) => format!("file {file}"),
        Wanted::Children(dir) => format!("children {dir}"),
        Wanted::Matching(_) => "matching".to_owned(),
        Wanted::Reduced(..) => "reduced".to_owned(),
        Wanted::Executables(_) => "executables".to_owned(),
    }
}

/// Writes `bytes` as `dir/name` all at once: to a temporary file first, renamed into place,
/// so a reader sees the whole entry or none.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".tmp-{}-{}-{name}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        fs::rename(&tmp, dir.join(name))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

// Change tags.
const PUT: u8 = 0;
const WHITEOUT: u8 = 1;
const OPAQUE: u8 = 2;
const SKIPPED: u8 = 3;
// Kind tags.
const DIR: u8 = 0;
const FILE: u8 = 1;
const FILE_KEPT: u8 = 2;
const REDUCED: u8 = 3;
const EXECUTABLE: u8 = 4;
const SYMLINK: u8 = 5;
const HARDLINK: u8 = 6;
const OTHER: u8 = 7;

/// A length of bytes or items in an entry.
fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// An entry: [`MAGIC`], [`FORMAT`], the changes, and the SHA-256 of all before it.
pub(crate) fn encode(changes: &[Change]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    put_len(&mut out, changes.len());
    for change in changes {
        match change {
            Change::Put(path, kind) => {
                out.push(PUT);
                put_bytes(&mut out, path.as_bytes());
                match kind {
                    Kind::Dir => out.push(DIR),
                    Kind::File(None) => out.push(FILE),
                    Kind::File(Some(bytes)) => {
                        out.push(FILE_KEPT);
                        put_bytes(&mut out, bytes);
                    }
                    Kind::Reduced(bytes) => {
                        out.push(REDUCED);
                        put_bytes(&mut out, bytes);
                    }
                    Kind::Executable(kept) => {
                        out.push(EXECUTABLE);
                        put_len(&mut out, kept.len());
                        for (index, bytes) in kept {
                            put_len(&mut out, *index);
                            put_bytes(&mut out, bytes);
                        }
                    }
                    Kind::Symlink(target) => {
                        out.push(SYMLINK);
                        put_bytes(&mut out, target.as_bytes());
                    }
                    Kind::Hardlink(target) => {
                        out.push(HARDLINK);
                        put_bytes(&mut out, target.as_bytes());
                    }
                    Kind::Other => out.push(OTHER),
                }
            }
            Change::Whiteout(path) => {
                out.push(WHITEOUT);
                put_bytes(&mut out, path.as_bytes());
            }
            Change::Opaque(dir) => {
                out.push(OPAQUE);
                put_bytes(&mut out, dir.as_bytes());
            }
            Change::Skipped(why) => {
                out.push(SKIPPED);
                put_bytes(&mut out, why.as_bytes());
            }
        }
    }
    let sum = Digest::sha256(&out);
    out.extend_from_slice(sum.hex().as_bytes());
    out
}

/// The changes an entry holds; `None` for anything but a whole entry of this [`FORMAT`].
pub(crate) fn decode(entry: &[u8]) -> Option<Vec<Change>> {
    let hex_len = berth_oci::Algorithm::Sha256.hex_len();
    let body = entry.get(..entry.len().checked_sub(hex_len)?)?;
    if Digest::sha256(body).hex().as_bytes() != &entry[body.len()..] {
        return None;
    }
    let mut r = Reader(body.strip_prefix(MAGIC)?);
    if r.take(4)? != FORMAT.to_le_bytes() {
        return None;
    }
    let count = r.len()?;
    // Every change takes at least two bytes: a count past that is damage, not a reason to
    // reserve memory.
    let mut changes = Vec::with_capacity(count.min(r.0.len() / 2));
    for _ in 0..count {
        let change = match r.byte()? {
            PUT => {
                let path = r.string()?;
                let kind = match r.byte()? {
                    DIR => Kind::Dir,
                    FILE => Kind::File(None),
                    FILE_KEPT => Kind::File(Some(r.bytes()?.into())),
                    REDUCED => Kind::Reduced(r.bytes()?.into()),
                    EXECUTABLE => {
                        let n = r.len()?;
                        let mut kept = Vec::with_capacity(n.min(r.0.len() / 16));
                        for _ in 0..n {
                            kept.push((r.len()?, r.bytes()?.into()));
                        }
                        Kind::Executable(kept)
                    }
                    SYMLINK => Kind::Symlink(r.string()?),
                    HARDLINK => Kind::Hardlink(r.string()?),
                    OTHER => Kind::Other,
                    _ => return None,
                };
                Change::Put(path, kind)
            }
            WHITEOUT => Change::Whiteout(r.string()?),
            OPAQUE => Change::Opaque(r.string()?),
            SKIPPED => Change::Skipped(r.string()?),
            _ => return None,
        };
        changes.push(change);
    }
    r.0.is_empty().then_some(changes)
}

/// The unread rest of an entry.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(u64::from_le_bytes(self.take(8)?.try_into().ok()?)).ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
}
