//! Reading the files of a layout or archive, wherever they are kept: a directory, or a tar
//! archive indexed for random access.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::tar_index::TarIndex;

pub(crate) trait Files: Send + Sync + 'static {
    /// Reads a whole (small) file; `None` if absent.
    fn read(&self, path: &str, limit: u64) -> io::Result<Option<Vec<u8>>>;
    /// Opens a file for streaming; `None` if absent.
    fn open(&self, path: &str) -> io::Result<Option<Box<dyn Read + Send>>>;
    /// A file's size; `None` if absent.
    fn size(&self, path: &str) -> io::Result<Option<u64>>;
}

pub(crate) struct DirFiles {
    root: PathBuf,
}

impl DirFiles {
    pub fn new(root: &Path) -> DirFiles {
        DirFiles {
            root: root.to_path_buf(),
        }
    }

    /// Joins an archive-relative path, refusing any that would leave the directory.
    fn join(&self, path: &str) -> io::Result<PathBuf> {
        if path.split('/').any(|p| p == "..") || path.starts_with('/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{path:?} points outside the directory"),
            ));
        }
        Ok(self.root.join(path))
    }
}

fn absent_is_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn too_large(path: &str, size: u64, limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{path} is {size} bytes, more than the {limit} allowed"),
    )
}

impl Files for DirFiles {
    fn read(&self, path: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        match self.size(path)? {
            None => Ok(None),
            Some(size) if size > limit => Err(too_large(path, size, limit)),
            Some(_) => absent_is_none(fs::read(self.join(path)?)),
        }
    }

    fn open(&self, path: &str) -> io::Result<Option<Box<dyn Read + Send>>> {
        let file = absent_is_none(fs::File::open(self.join(path)?))?;
        Ok(file
            .map(|f| Box::new(io::BufReader::with_capacity(256 * 1024, f)) as Box<dyn Read + Send>))
    }

    fn size(&self, path: &str) -> io::Result<Option<u64>> {
        Ok(absent_is_none(fs::metadata(self.join(path)?))?
            .filter(|m| m.is_file())
            .map(|m| m.len()))
    }
}

impl Files for TarIndex {
    fn read(&self, path: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let (Some(size), Some(mut reader)) = (self.member_size(path), self.open_member(path))
        else {
            return Ok(None);
        };
        if size > limit {
            return Err(too_large(path, size, limit));
        }
        let mut buf = Vec::with_capacity(size as usize);
        reader.read_to_end(&mut buf)?;
        Ok(Some(buf))
    }

    fn open(&self, path: &str) -> io::Result<Option<Box<dyn Read + Send>>> {
        Ok(self
            .open_member(path)
            .map(|r| Box::new(io::BufReader::with_capacity(256 * 1024, r)) as Box<dyn Read + Send>))
    }

    fn size(&self, path: &str) -> io::Result<Option<u64>> {
        Ok(self.member_size(path))
    }
}
