//! What can go wrong, with what a user needs to fix it.

use std::io;
use std::path::PathBuf;

/// Errors of the RUN sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("RUN has an empty command")]
    EmptyCommand,

    #[error("{what} {value:?} is invalid: {reason}")]
    InvalidSpec {
        what: &'static str,
        value: String,
        reason: &'static str,
    },

    #[error("root file system {path} is not usable: {source}")]
    Rootfs { path: PathBuf, source: io::Error },

    #[error("bind mount source {path} is not usable: {source}")]
    BindSource { path: PathBuf, source: io::Error },

    #[error("cannot prepare {target:?} in the root file system {rootfs}: {reason}")]
    Target {
        target: String,
        rootfs: PathBuf,
        reason: String,
    },

    #[error("cannot write the sandbox's {what}: {source}")]
    Scratch {
        what: &'static str,
        source: io::Error,
    },

    #[error("cannot build the RUN system call filter (libseccomp): {reason}")]
    Seccomp { reason: String },

    #[error(
        "RUN's network needs `pasta`, which is not installed: install the `passt` package \
         (apt-get install passt, dnf install passt), which gives each RUN a network \
         namespace of its own with outbound access, as docker build does; or build with \
         --network none (no network) or --network host (the host's network, its loopback \
         services included)"
    )]
    NoNetworkHelper,

    #[error("cannot set up RUN's network: cannot {what}: {source}")]
    Network { what: String, source: io::Error },

    #[error("cannot set up RUN's network: pasta failed: {reason}{}", log_text(.log))]
    NetworkHelper { reason: String, log: String },

    #[error("cannot start the sandbox ({step}): {source}")]
    Spawn {
        step: &'static str,
        source: io::Error,
    },

    #[error("sandbox setup failed: cannot {step}: {source}")]
    Setup { step: String, source: io::Error },

    #[error(
        "executable {program:?} not found in the root file system (PATH searched: {path:?}); \
         install it in the image or use an absolute path"
    )]
    CommandNotFound { program: String, path: String },

    #[error("cannot execute {program:?} in the root file system: {source}")]
    Exec { program: String, source: io::Error },

    #[error("cannot read the command's output: {source}")]
    Output { source: io::Error },

    #[error("cannot read {file} of the root file system {rootfs}: {source}")]
    UserDb {
        file: &'static str,
        rootfs: PathBuf,
        source: io::Error,
    },

    #[error("unable to find user {user:?}: no matching entry in {file} of the root file system")]
    UnknownUser { user: String, file: &'static str },

    #[error("unable to find group {group:?}: no matching entry in {file} of the root file system")]
    UnknownGroup { group: String, file: &'static str },

    #[error("{command:?} did not complete successfully: exit code {exit_code}{}", tail_text(.tail))]
    Failed {
        command: String,
        exit_code: i32,
        tail: Vec<String>,
    },
}

fn log_text(log: &str) -> String {
    if log.is_empty() {
        String::new()
    } else {
        format!("; it said:\n{log}")
    }
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; last output:\n{}", tail.join("\n"))
    }
}
