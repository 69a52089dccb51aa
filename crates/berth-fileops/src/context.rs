//! The build context: a directory seen through its `.dockerignore`.
//!
//! As in BuildKit, the builder itself may always read the Dockerfile and the ignore file
//! ([`Context::read_file`]), but `COPY`/`ADD` only see what the patterns leave in (so a
//! `.dockerignore` that lists `Dockerfile` hides it from `COPY . /app/`). A context sent as a
//! tar (`berth build - < ctx.tar`) is extracted first, refusing entries that would escape.

use std::io::Read;
use std::path::{Path, PathBuf};

use berth_dockerfile::ignore::{Patterns, ignore_file_for};

use crate::archive;
use crate::checksum::checksum_tree;
use crate::copy::{CopyOptions, CopyStats, copy_tree};
use crate::error::{Error, IoContext, Result};
use crate::index::Index;
use crate::source::Tree;

/// A build context directory and the patterns that filter it.
#[derive(Debug, Clone)]
pub struct Context {
    root: PathBuf,
    ignore: Patterns,
}

impl Context {
    /// A context rooted at `dir` (which must be a directory), filtered by `ignore`.
    pub fn open(dir: &Path, ignore: Patterns) -> Result<Context> {
        let root = std::fs::canonicalize(dir).at(dir)?;
        if !root.is_dir() {
            return Err(Error::Io {
                path: dir.to_owned(),
                source: std::io::Error::from_raw_os_error(rustix::io::Errno::NOTDIR.raw_os_error()),
            });
        }
        Ok(Context { root, ignore })
    }

    /// A context rooted at `dir` with the ignore file BuildKit would pick for the Dockerfile
    /// named `dockerfile` (relative to the context): `<Dockerfile>.dockerignore`, else
    /// `.dockerignore`, else none.
    pub fn open_for_dockerfile(dir: &Path, dockerfile: &str) -> Result<Context> {
        let base = Context::open(dir, Patterns::default())?;
        let exists = |rel: &str| base.read_file(rel).is_ok();
        let Some(file) = ignore_file_for(dockerfile, exists) else {
            return Ok(base);
        };
        let bytes = base.read_file(&file)?;
        let patterns =
            Patterns::parse(&String::from_utf8_lossy(&bytes)).map_err(|source| Error::Ignore {
                path: base.root.join(&file),
                source,
            })?;
        Ok(Context {
            ignore: patterns,
            ..base
        })
    }

    /// Extracts a context tar (plain; the caller decompresses) into `tmp_dir` (created if
    /// missing, should be empty) and opens it. Entries with `..` or link escapes are refused.
    /// The ignore file is applied afterwards, as for a directory.
    pub fn from_tar(reader: impl Read, tmp_dir: &Path, dockerfile: &str) -> Result<Context> {
        std::fs::create_dir_all(tmp_dir).at(tmp_dir)?;
        let owner = (current_uid(), current_gid());
        let root = berth_rootfs::Root::open(tmp_dir)?;
        archive::unpack(reader, &root, "", owner, "build context tar")?;
        Context::open_for_dockerfile(tmp_dir, dockerfile)
    }

    /// The context directory (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The `.dockerignore` patterns.
    pub fn ignore(&self) -> &Patterns {
        &self.ignore
    }

    /// Whether `rel` is left out of what `COPY` sees.
    pub fn is_excluded(&self, rel: &str) -> bool {
        self.ignore.excludes(rel)
    }

    /// Reads a file for the builder itself (the Dockerfile, the ignore file), ignore patterns
    /// notwithstanding; symlinks resolve inside the context.
    pub fn read_file(&self, rel: &str) -> Result<Vec<u8>> {
        use std::io::Read;
        let root = berth_rootfs::Root::open(&self.root)?;
        let mut file = root.open_read(rel, berth_rootfs::Last::Follow)?;
        let mut bytes = Vec::new();
        let host = self.root.join(rel);
        file.read_to_end(&mut bytes).at(host)?;
        Ok(bytes)
    }

    /// The context as `COPY` sees it.
    pub fn tree(&self) -> Tree<'_> {
        Tree::new(&self.root, Some(&self.ignore))
    }

    /// Checksum of `COPY` sources from this context; see [`crate::checksum::checksum`].
    pub fn checksum(
        &self,
        sources: &[String],
        exclude: &Patterns,
        allow_empty_wildcard: bool,
        index: Option<&mut Index>,
    ) -> Result<String> {
        checksum_tree(self.tree(), sources, exclude, allow_empty_wildcard, index)
    }

    /// `COPY`/`ADD` from this context into `rootfs`; owners become 0:0 unless `--chown`.
    pub fn copy(
        &self,
        sources: &[String],
        dest: &str,
        rootfs: &Path,
        opts: &CopyOptions,
    ) -> Result<CopyStats> {
        let opts = CopyOptions {
            source_is_context: true,
            ..opts.clone()
        };
        copy_tree(self.tree(), sources, dest, rootfs, &opts)
    }
}

fn current_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

fn current_gid() -> u32 {
    rustix::process::getgid().as_raw()
}
