//! Why a build failed: the step (Dockerfile line) when there is one, the image or layer
//! (by digest) when it is one of theirs, and what to do.

use std::path::{Path, PathBuf};

use berth_oci::Digest;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile can't be parsed.
    #[error("{file}: {source}")]
    Syntax {
        file: String,
        source: berth_dockerfile::syntax::SyntaxError,
    },
    /// The Dockerfile can't be described (unknown stage, bad flag, undefined ARG…).
    #[error("{file}: {source}")]
    Describe {
        file: String,
        source: berth_dockerfile::describe::DescribeError,
    },
    /// A step failed; `line` is its first line in the Dockerfile.
    #[error("{file}:{line}: {instruction}: {source}")]
    Step {
        file: String,
        line: usize,
        instruction: String,
        // Boxed: the step's cause is as large as the sandbox's and fileops' errors together.
        source: Box<StepError>,
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
    #[error("base image {reference}: {source}")]
    BaseImage {
        reference: String,
        source: BaseError,
    },
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
    /// Reading a step's changes or writing them as a layer failed.
    #[error("{}: {source}", path.display())]
    LayerWrite {
        path: PathBuf,
        source: berth_layer::LayerError,
    },
    /// Copying a built image's files out (`--output type=local`) failed.
    #[error("{}: {source}", path.display())]
    Export {
        path: PathBuf,
        source: berth_fileops::Error,
    },
    /// A mount call failed: `step` names the call (and option) that did.
    #[error("mounting {}: {step}: {source}", target.display())]
    Mount {
        target: PathBuf,
        step: String,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] berth_store::StoreError),
    /// The image's config would be larger than any tool reads.
    #[error(transparent)]
    ConfigTooLarge(#[from] berth_oci::ConfigTooLarge),
    /// A stage's thread panicked.
    #[error("a build thread panicked (this is a bug in berth)")]
    Panicked,
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

/// Why one step could not run (the [`BuildError::Step`] around it names the line).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A file operation of `COPY`/`ADD` (or the checksum of its sources) failed.
    #[error(transparent)]
    Files(#[from] berth_fileops::Error),
    /// The sandbox could not run the command.
    #[error(transparent)]
    Sandbox(#[from] berth_sandbox::SandboxError),
    #[error("USER {user}: {source}")]
    User {
        user: String,
        source: berth_sandbox::SandboxError,
    },
    #[error("--chown={spec}: {source}")]
    Chown {
        spec: String,
        source: berth_sandbox::SandboxError,
    },
    #[error("--chmod={mode}: expected an octal mode such as 755")]
    Chmod { mode: String },
    #[error("--exclude: {0}")]
    Exclude(berth_dockerfile::ignore::IgnoreError),
    #[error(
        "ADD {url}: berth build does not download URLs or clone git repositories yet; fetch it in a RUN step (with --checksum verified) or COPY a local file"
    )]
    Remote { url: String },
    #[error("bind mount source {path}: {source}")]
    BindSource {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "RUN --mount=type=ssh needs an SSH agent, which berth build does not forward yet; use a secret mount"
    )]
    SshMount,
    #[error(
        "secret {id:?} is required but was not given; pass --secret id={id},src=FILE (or env=VAR)"
    )]
    MissingSecret { id: String },
    #[error(
        "RUN --network=host needs the build's consent: run berth build --network host (as BuildKit needs --allow network.host)"
    )]
    HostNetwork,
    #[error("cache mount {id:?}: 64 private instances are all in use")]
    CacheBusy { id: String },
    #[error("could not create the cache mount {}", path.display())]
    CacheMount { path: PathBuf },
}

/// Why a base image (or a `--from` image) could not be had.
#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error(transparent)]
    Store(#[from] berth_store::StoreError),
    #[error(transparent)]
    Reference(#[from] berth_oci::ReferenceError),
    /// Not in the store, and the pull (the caller's, with its own error type) failed.
    #[error("not in the store (berth images lists it), and pulling it failed: {source:#}")]
    Pull {
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Asked for by the solver but never resolved by the frontend (a bug).
    #[error("not resolved")]
    NotResolved,
    #[error(
        "the manifest lists {layers} layers but the config {diff_ids} diff IDs: the image is damaged"
    )]
    Damaged { layers: usize, diff_ids: usize },
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
