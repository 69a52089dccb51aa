//! Writing an archive: members stream into a temporary file beside the destination, which is
//! renamed into place only when the archive is complete. Headers are fixed (mode 0644, owner
//! 0, mtime 0), so the same images always give the same archive bytes.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_store::blobs::{parent_dir, sync_dir, temp_name};

pub struct TarOut {
    builder: Option<tar::Builder<BufWriter<File>>>,
    temp: PathBuf,
    dest: PathBuf,
    names: HashSet<String>,
}

impl TarOut {
    pub fn create(dest: &Path) -> io::Result<TarOut> {
        let dir = parent_dir(dest);
        if dest.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory; give a file name for the archive",
            ));
        }
        let temp = dir.join(temp_name());
        let file = File::create(&temp)?;
        Ok(TarOut {
            builder: Some(tar::Builder::new(BufWriter::with_capacity(1 << 20, file))),
            temp,
            dest: dest.to_path_buf(),
            names: HashSet::new(),
        })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    fn builder(&mut self) -> io::Result<&mut tar::Builder<BufWriter<File>>> {
        self.builder
            .as_mut()
            .ok_or_else(|| io::Error::other("archive already finished"))
    }

    /// Adds a directory entry once.
    pub fn dir(&mut self, name: &str) -> io::Result<()> {
        let name = format!("{}/", name.trim_end_matches('/'));
        if !self.names.insert(name.clone()) {
            return Ok(());
        }
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        self.builder()?.append_data(&mut h, &name, io::empty())
    }

    /// Adds a file of `size` bytes read from `data`, which must yield exactly that many.
    ///
    /// `data` is read to its end, so a verifying reader gets to check what it passed on.
    pub fn file(&mut self, name: &str, size: u64, data: impl Read) -> io::Result<()> {
        let mut h = header(tar::EntryType::Regular, 0o644, size);
        let mut limited = data.take(size);
        self.builder()?.append_data(&mut h, name, &mut limited)?;
        if limited.limit() != 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{name}: source ended {} bytes early", limited.limit()),
            ));
        }
        let mut rest = limited.into_inner();
        if rest.read(&mut [0u8; 1])? != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{name}: source is longer than the {size} bytes declared"),
            ));
        }
        self.names.insert(name.to_string());
        Ok(())
    }

    pub fn bytes(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.file(name, bytes.len() as u64, bytes)
    }

    /// Completes the archive and moves it into place.
    pub fn finish(mut self) -> io::Result<()> {
        let builder = self
            .builder
            .take()
            .ok_or_else(|| io::Error::other("archive already finished"))?;
        let file = builder
            .into_inner()?
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&self.temp, &self.dest)?;
        sync_dir(parent_dir(&self.dest)).map_err(|e| io::Error::other(e.to_string()))
    }
}

impl Drop for TarOut {
    fn drop(&mut self) {
        if self.builder.is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// An archive being written, shared by a copy's tasks until it is taken out to be finished;
/// after that every use finds nothing.
pub struct Pending<T>(Arc<Mutex<Option<T>>>);

impl<T> Clone for Pending<T> {
    fn clone(&self) -> Self {
        Pending(self.0.clone())
    }
}

impl<T> Pending<T> {
    pub fn new(value: T) -> Pending<T> {
        Pending(Arc::new(Mutex::new(Some(value))))
    }

    /// Runs `f` on the value, or returns `None` if it was taken.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_mut().map(f)
    }

    /// Takes the value out, once.
    pub fn take(&self) -> Option<T> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}
