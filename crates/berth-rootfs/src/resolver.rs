//! Which mechanism keeps lookups inside the root: the kernel's (`openat2` with
//! `RESOLVE_IN_ROOT`, Linux 5.6) or berth's own descriptor walk. Chosen once per process.

use std::sync::OnceLock;

use rustix::fs::{CWD, Mode, OFlags, ResolveFlags, openat2};
use rustix::io::Errno;

/// The environment variable that forces a strategy: `walk` or `openat2`.
pub const RESOLVE_ENV: &str = "BERTH_ROOTFS_RESOLVE";

/// How paths are resolved inside a root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolver {
    /// The kernel resolves the whole path in one call, `..` and symlinks clamped to the root.
    Openat2,
    /// Component by component from the root's descriptor, each opened `O_PATH|O_NOFOLLOW`,
    /// symlinks read and followed by hand (at most 40), `..` stopping at the root.
    Walk,
}

impl Resolver {
    /// Both strategies, for tests that run everything on each.
    pub const ALL: [Resolver; 2] = [Resolver::Openat2, Resolver::Walk];

    /// The strategy of this process: [`RESOLVE_ENV`] if set, else `openat2` when the kernel
    /// has it. Probed once and kept.
    pub fn detect() -> Resolver {
        static CHOSEN: OnceLock<Resolver> = OnceLock::new();
        *CHOSEN.get_or_init(|| match std::env::var(RESOLVE_ENV).as_deref() {
            Ok("walk") => Resolver::Walk,
            Ok("openat2") => Resolver::Openat2,
            _ if openat2_works() => Resolver::Openat2,
            _ => Resolver::Walk,
        })
    }

    /// The name [`RESOLVE_ENV`] takes.
    pub fn name(self) -> &'static str {
        match self {
            Resolver::Openat2 => "openat2",
            Resolver::Walk => "walk",
        }
    }
}

/// Whether `openat2` with `RESOLVE_IN_ROOT` exists here (kernels before 5.6, and seccomp
/// filters that don't know it, say `ENOSYS`).
fn openat2_works() -> bool {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    !matches!(
        openat2(CWD, "/", flags, Mode::empty(), resolve),
        Err(Errno::NOSYS | Errno::PERM | Errno::INVAL)
    )
}
