//! Why a build failed: the step (Dockerfile line) when there is one, and what to do.

use std::path::{Path, PathBuf};

use berth_oci::Digest;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile can't be described (syntax, unknown stage, bad flag…).
    #[error("{file}: {source}")]
    Describe {
        file: String,
        source: berth_dockerfile::describe::DescribeError,
    },
    #[error("{file}: {message}")]
    Dockerfile { file: String, message: String },
    /// A step failed; `line` is its first line in the Dockerfile.
    #[error("{file}:{line}: {instruction}: {message}")]
    Step {
        file: String,
        line: usize,
        instruction: String,
        message: String,
    },
    /// A `RUN` exited non-zero.
    #[error(
        "{file}:{line}: {instruction}: the command exited with code {code}{}",
        tail_text(.tail)
    )]
    RunFailed {
        file: String,
        line: usize,
        instruction: String,
        code: i32,
        tail: Vec<String>,
    },
    #[error("base image {reference}: {message}")]
    BaseImage { reference: String, message: String },
    #[error("layer {digest}: {source}")]
    Layer {
        digest: Digest,
        source: berth_layer::LayerError,
    },
    #[error(
        "layer {digest} holds {actual} but the image config says {expected}: the image is damaged; pull it again"
    )]
    DiffIdMismatch {
        digest: Digest,
        expected: Digest,
        actual: Digest,
    },
    #[error("mounting {}: {message}", target.display())]
    Mount { target: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] berth_store::StoreError),
    #[error("{0}")]
    Options(String),
    /// Another stage failed first; this one stopped.
    #[error("stopped because another stage failed")]
    Cancelled,
}

impl BuildError {
    pub fn io(path: &Path, source: std::io::Error) -> BuildError {
        BuildError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        return String::new();
    }
    let mut s = String::from("; its last output:");
    for line in tail {
        s.push_str("\n    ");
        s.push_str(line);
    }
    s
}
