use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: file name is not UTF-8; berth layers hold UTF-8 names only", .0.display())]
    NotUtf8(PathBuf),
    #[error("reading tarball {archive}: {source}")]
    Tar { archive: String, source: io::Error },
    #[error("tarball {archive}: {why}")]
    Entry { archive: String, why: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("{} changed while it was being read ({expected} bytes became {actual}); import again once it is still", path.display())]
    Changed {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("writing layer: {0}")]
    Write(io::Error),
}

impl LayerError {
    pub(crate) fn io(path: &Path, source: io::Error) -> LayerError {
        LayerError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn tar(archive: &str, source: io::Error) -> LayerError {
        LayerError::Tar {
            archive: archive.to_string(),
            source,
        }
    }
}
