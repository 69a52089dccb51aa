//! The RUN sandbox: runs one `RUN` command of a build in its stage's root file system,
//! in-process and daemonless, the way BuildKit's runc executor does.
//!
//! The command gets fresh mount, PID, IPC and UTS namespaces, a network namespace of its own
//! (connected by pasta for [`NetworkMode::Outbound`], loopback only for [`NetworkMode::None`],
//! the host's only for [`NetworkMode::Host`]), `/proc`, a minimal `/dev`, generated `/etc/hosts` and
//! `/etc/resolv.conf`, the stage's user, working directory and environment, and Docker's
//! default capabilities less `CAP_MKNOD`, under a seccomp filter like Docker's default
//! profile (no_new_privs left unset, as Docker leaves it); the root file system and every writable mount are
//! `nodev`. Whatever the sandbox creates in the root file system only to mount
//! over is removed afterwards, so it never ends up in the layer.
//!
//! Requires real root on Linux.

mod child;
mod error;
mod libc_calls;
mod loopback;
mod network;
mod output;
mod plan;
mod report;
mod rootpath;
mod run;
mod seccomp;
mod spec;
mod user;

pub use error::SandboxError;
pub use run::run;
pub use spec::{DEFAULT_PATH, Mount, MountKind, NetworkMode, RunResult, RunSpec, TAIL_LINES, User};
pub use user::resolve_user;
