//! A plain directory (an extracted root file system, a project checkout) as a
//! [`Filesystem`], through berth-rootfs: every path is resolved inside the root, so a package
//! database behind a symlink to `/var` or `../../etc` is read where the image would see it,
//! never from the host. What catalogers look for anywhere ([`Wanted::Matching`],
//! [`Wanted::Executables`]) is found by one walk of the tree, the first time it is asked
//! for; the walk never follows a symlink and never enters a skipped directory.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use berth_rootfs::{Dir, Last, OFlags, Root};
use rustix::io::Errno;

use crate::error::{CatalogError, Result};
use crate::fs::{ELF_MAGIC, File, Filesystem, MAX_EXECUTABLE, MAX_FILE, Wanted, extractors};
use crate::paths::{clean, join};

/// A directory read as a root file system.
#[derive(Debug)]
pub struct DirFs {
    root: Root,
    limit: u64,
    wanted: Vec<Wanted>,
    /// Directories the walk does not enter, cleaned, relative to the root.
    skip: Vec<String>,
    walked: OnceLock<Walked>,
}

/// What the walk found: each file with the index of the [`Wanted`] that found it.
#[derive(Debug, Default)]
struct Walked {
    found: Vec<(usize, File)>,
    skipped: Vec<String>,
}

impl DirFs {
    /// Opens `path` as the root of the view, looking anywhere for what [`crate::WANTED`]
    /// looks for anywhere.
    /// The host's own root (`dir:/`) is walked without the kernel's file systems (`/proc`,
    /// `/sys`, `/dev`): they hold no package, and `/proc` is as large as the process table.
    pub fn open(path: &Path) -> Result<DirFs> {
        let root = Root::open(path)?;
        let is_host_root = std::fs::canonicalize(path).is_ok_and(|p| p == Path::new("/"));
        let skip = match is_host_root {
            true => ["proc", "sys", "dev"].map(String::from).to_vec(),
            false => Vec::new(),
        };
        Ok(DirFs {
            root,
            limit: MAX_FILE,
            wanted: crate::WANTED.to_vec(),
            skip,
            walked: OnceLock::new(),
        })
    }

    /// The same view, reading at most `limit` bytes of one file.
    pub fn with_limit(self, limit: u64) -> DirFs {
        DirFs { limit, ..self }
    }

    /// The same view, looking anywhere for what `wanted` looks for anywhere (instead of
    /// [`crate::WANTED`]).
    pub fn wanting(self, wanted: &[Wanted]) -> DirFs {
        DirFs {
            wanted: wanted.to_vec(),
            ..self
        }
    }

    /// The same view, its walk never entering the directories `dirs` either (paths inside
    /// the root, `/usr/share/doc` or `usr/share/doc`), as `--skip-dirs` asks.
    pub fn skipping<S: AsRef<str>>(mut self, dirs: &[S]) -> DirFs {
        self.skip.extend(dirs.iter().map(|d| clean(d.as_ref())));
        self
    }

    fn walked(&self) -> Result<&Walked> {
        if let Some(walked) = self.walked.get() {
            return Ok(walked);
        }
        let walked = self.walk()?;
        Ok(self.walked.get_or_init(|| walked))
    }

    /// Walks the tree once, depth first, keeping the files the wanted kinds find.
    fn walk(&self) -> Result<Walked> {
        let mut walked = Walked::default();
        if !self.wanted.iter().any(Wanted::is_found_anywhere) {
            return Ok(walked);
        }
        let mut pending = vec![String::new()];
        while let Some(rel) = pending.pop() {
            let opened = self
                .root
                .dir(&rel)
                .and_then(|dir| Ok((dir.read_dir()?, dir)));
            let (names, dir) = match opened {
                Ok(opened) => opened,
                // A directory berth may not read is no reason to give up the rest.
                Err(e) if e.errno() == Some(Errno::ACCESS) => {
                    walked
                        .skipped
                        .push(format!("/{rel}: not readable; left out"));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            // A name that is not UTF-8 is no path a cataloger asks for.
            let mut names: Vec<String> = names
                .into_iter()
                .filter_map(|n| n.into_string().ok())
                .collect();
            // Reversed, so that popping visits them in order.
            names.sort_unstable_by(|a, b| b.cmp(a));
            for name in names {
                let path = join(&rel, &name);
                let Some(meta) = dir.lstat(&name)? else {
                    continue;
                };
                if meta.is_dir() {
                    if !self.skip.contains(&path) {
                        pending.push(path);
                    }
                } else if meta.is_file() {
                    self.visit(&dir, &name, path, meta.len(), &mut walked)?;
                }
            }
        }
        walked.found.sort_by(|a, b| a.1.path.cmp(&b.1.path));
        Ok(walked)
    }

    /// Keeps the regular file `name` of `dir` if a wanted kind finds it.
    fn visit(
        &self,
        dir: &Dir,
        name: &str,
        path: String,
        size: u64,
        walked: &mut Walked,
    ) -> Result<()> {
        let by_name: Vec<usize> = (0..self.wanted.len())
            .filter(|&i| {
                matches!(self.wanted[i], Wanted::Matching(_) | Wanted::Reduced(..))
                    && self.wanted[i].matches(&path)
            })
            .collect();
        let extractors = extractors(&self.wanted);
        if !by_name.is_empty() {
            if size > self.limit {
                walked.skipped.push(format!(
                    "/{path}: {size} bytes, more than the {} bytes berth reads of one file; left out",
                    self.limit
                ));
                return Ok(());
            }
            let bytes: Arc<[u8]> = Arc::from(self.read_at(dir, name, &path, self.limit)?);
            for i in by_name {
                let kept = match self.wanted[i] {
                    Wanted::Reduced(_, reduce) => match reduce(&bytes) {
                        Some(kept) => Arc::from(kept),
                        None => continue,
                    },
                    _ => bytes.clone(),
                };
                walked.found.push((
                    i,
                    File {
                        path: path.clone(),
                        bytes: kept,
                        layer: None,
                    },
                ));
            }
            return Ok(());
        }
        if extractors.is_empty() || size < ELF_MAGIC.len() as u64 || size > MAX_EXECUTABLE {
            return Ok(());
        }
        let mut file = dir.open(name, OFlags::RDONLY, 0)?;
        let mut head = [0; 4];
        if file.read_exact(&mut head).is_err() || &head != ELF_MAGIC {
            return Ok(()); // shrank since the lstat, or no ELF file
        }
        let bytes = self.read_at(dir, name, &path, MAX_EXECUTABLE)?;
        for (i, extract) in extractors {
            if let Some(kept) = extract(&bytes) {
                walked.found.push((
                    i,
                    File {
                        path: path.clone(),
                        bytes: Arc::from(kept),
                        layer: None,
                    },
                ));
            }
        }
        Ok(())
    }

    /// The bytes of the regular file `name` of `dir` (never through a symlink), at most
    /// `limit` of them.
    fn read_at(&self, dir: &Dir, name: &str, path: &str, limit: u64) -> Result<Vec<u8>> {
        let file = dir.open(name, OFlags::RDONLY, 0)?;
        let mut bytes = Vec::new();
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| berth_rootfs::Error::Io {
                op: "read",
                root: self.root.host().to_path_buf(),
                path: path.into(),
                source,
            })?;
        // The file may have grown since its size was read.
        if bytes.len() as u64 > limit {
            return Err(CatalogError::TooLarge {
                path: path.to_owned(),
                layer: None,
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(bytes)
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

    fn found(&self, wanted: &Wanted) -> Result<Vec<File>> {
        let Some(index) = self.wanted.iter().position(|w| w.same(wanted)) else {
            return Ok(Vec::new());
        };
        let walked = self.walked()?;
        Ok(walked
            .found
            .iter()
            .filter(|(i, _)| *i == index)
            .map(|(_, file)| file.clone())
            .collect())
    }

    fn skipped(&self) -> Vec<String> {
        self.walked
            .get()
            .map(|w| w.skipped.clone())
            .unwrap_or_default()
    }

    fn is_directory(&self) -> bool {
        true
    }
}
