//! What a RUN asks for, and what it gives back.

use std::path::PathBuf;

/// The PATH a command gets when its environment has none, as Docker sets it.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How many of the last output lines a [`RunResult`] keeps.
pub const TAIL_LINES: usize = 10;

/// One `RUN` command and the world it runs in.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// An already-mounted, writable root file system (the build's overlay "merged" directory).
    pub rootfs: PathBuf,
    /// The command. An `argv[0]` without `/` is looked up in the container's `PATH`, inside
    /// the root file system.
    pub argv: Vec<String>,
    /// The whole environment; nothing of the caller's leaks in. `PATH` is added if absent.
    pub env: Vec<(String, String)>,
    /// Absolute container path to run in; created (mode 0755, owned by root) if missing.
    pub cwd: String,
    /// Who runs the command; see [`crate::resolve_user`].
    pub user: User,
    /// The container's host name; empty means `berth`.
    pub hostname: String,
    /// Which network the command sees.
    pub network: NetworkMode,
    /// Extra mounts, applied in order after the sandbox's own.
    pub mounts: Vec<Mount>,
    /// Contents of `/etc/hosts`; `None` gives the localhost lines and the host name.
    pub hosts: Option<String>,
    /// Contents of `/etc/resolv.conf`; `None` copies the host's.
    pub resolv_conf: Option<String>,
}

impl RunSpec {
    /// A spec with Docker's defaults: root, `/` as working directory, a network of its own
    /// with outbound access, no mounts.
    pub fn new(rootfs: impl Into<PathBuf>, argv: Vec<String>) -> RunSpec {
        RunSpec {
            rootfs: rootfs.into(),
            argv,
            env: Vec::new(),
            cwd: "/".to_string(),
            user: User::root(),
            hostname: String::new(),
            network: NetworkMode::default(),
            mounts: Vec::new(),
            hosts: None,
            resolv_conf: None,
        }
    }
}

/// Resolved numeric identity of the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, in `/etc/group` order.
    pub additional_gids: Vec<u32>,
}

impl User {
    /// uid 0, gid 0, no supplementary groups.
    pub fn root() -> User {
        User {
            uid: 0,
            gid: 0,
            additional_gids: Vec::new(),
        }
    }
}

/// The network a command sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// A network namespace of its own with outbound access through pasta, as `docker build`
    /// gives a RUN: the host's loopback services and abstract unix sockets are out of
    /// reach. Needs `pasta` (the `passt` package) installed.
    #[default]
    Outbound,
    /// A fresh network namespace with only the loopback interface, up.
    None,
    /// The host's network namespace: everything the host reaches, its loopback services
    /// and abstract sockets included. Only on request.
    Host,
}

/// An extra mount inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Absolute container path; created (and removed after the run) if missing.
    pub target: String,
    pub kind: MountKind,
}

/// What is mounted at a [`Mount`]'s target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A host file or directory.
    Bind { source: PathBuf, readonly: bool },
    /// A fresh tmpfs (mode 1777), of at most `size` bytes if given.
    Tmpfs { size: Option<u64> },
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    /// The exit status, or 128 + the signal number when a signal killed the command.
    pub exit_code: i32,
    /// The last [`TAIL_LINES`] lines of its output (stdout and stderr together).
    pub tail: Vec<String>,
}

impl RunResult {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// `Ok(self)` on success, otherwise [`crate::SandboxError::Failed`] carrying the exit code
    /// and the output tail, which is what a build reports.
    pub fn check(self, argv: &[String]) -> Result<RunResult, crate::SandboxError> {
        if self.success() {
            Ok(self)
        } else {
            Err(crate::SandboxError::Failed {
                command: argv.join(" "),
                exit_code: self.exit_code,
                tail: self.tail,
            })
        }
    }
}
