//! A plain directory (an extracted root file system) as a [`Filesystem`], through berth-rootfs:
//! every path is resolved inside the root, so a package database behind a symlink to `/var`
//! or `../../etc` is read where the image would see it, never from the host.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use berth_rootfs::{Last, Root};
use rustix::io::Errno;

use crate::error::{CatalogError, Result};
use crate::fs::{File, Filesystem, MAX_FILE};

/// A directory read as a root file system.
#[derive(Debug)]
pub struct DirFs {
    root: Root,
    limit: u64,
}

impl DirFs {
    /// Opens `path` as the root of the view.
    pub fn open(path: &Path) -> Result<DirFs> {
        Ok(DirFs {
            root: Root::open(path)?,
            limit: MAX_FILE,
        })
    }

    /// The same view, reading at most `limit` bytes of one file.
    pub fn with_limit(self, limit: u64) -> DirFs {
        DirFs { limit, ..self }
    }
}

/// Whether a lookup failed because nothing (or no directory) is on the way: an absent file,
/// not a broken tree.
fn absent(e: &berth_rootfs::Error) -> bool {
    matches!(e.errno(), Some(Errno::NOENT | Errno::NOTDIR))
}

impl Filesystem for DirFs {
    fn read(&self, path: &str) -> Result<Option<File>> {
        let file = match self.root.open_read(path, Last::Follow) {
            Ok(file) => file,
            Err(e) if absent(&e) || e.errno() == Some(Errno::ISDIR) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let real_bytes = self.root.resolve(path, Last::Follow)?.rel;
        let io_err = |source| berth_rootfs::Error::Io {
            op: "read",
            root: self.root.host().to_path_buf(),
            path: real_bytes.clone(),
            source,
        };
        // Where a symlink led: shown with escapes if that name is not UTF-8.
        let real = berth_rootfs::path::shown(&real_bytes).to_string();
        let meta = file.metadata().map_err(io_err)?;
        if !meta.is_file() {
            return Ok(None);
        }
        let too_large = |size| CatalogError::TooLarge {
            path: real.clone(),
            layer: None,
            size,
            limit: self.limit,
        };
        if meta.len() > self.limit {
            return Err(too_large(meta.len()));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(self.limit + 1)
            .read_to_end(&mut bytes)
            .map_err(io_err)?;
        // The file may have grown since its size was read.
        if bytes.len() as u64 > self.limit {
            return Err(too_large(bytes.len() as u64));
        }
        Ok(Some(File {
            path: real,
            bytes: Arc::from(bytes),
            layer: None,
        }))
    }

    fn list(&self, dir: &str) -> Result<Vec<String>> {
        let names = match self.root.read_dir(dir) {
            Ok(names) => names,
            Err(e) if absent(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        // A name that is not UTF-8 names no package database.
        let mut names: Vec<String> = names
            .into_iter()
            .filter_map(|n| n.into_string().ok())
            .collect();
        names.sort();
        Ok(names)
    }
}
