//! Path resolution scoped to a root directory, as if the root were `/` (a chroot without the
//! syscall): `..` never climbs above the root and a symlink's absolute target starts again at
//! the root. Both sides of a copy use it: the build context (so a symlink in the context can
//! never read the host) and the stage's root filesystem (so a symlink in the image can never
//! make berth write outside it).

use std::io;
use std::path::Path;

use berth_rootfs::{Last, Root};

pub use berth_rootfs::Resolved;

/// Resolves `path` (absolute or relative, `/`-separated) inside `root`. Every symlink met on the
/// way is followed inside the root; the last component too when `follow_last`. Components that
/// do not exist are kept as written (after `.`/`..` cleaning), so the result may name a path
/// still to be created. (berth-rootfs resolves it; this is its spelling for callers that go
/// on with host paths.)
pub fn resolve(root: &Path, path: &str, follow_last: bool) -> io::Result<Resolved> {
    let last = if follow_last {
        Last::Follow
    } else {
        Last::NoFollow
    };
    Ok(Root::open(root)?.resolve(path, last)?)
}

/// Cleans a path lexically as if it were absolute and returns it relative: `../x` and `/x` both
/// become `x`. This is how BuildKit keeps `COPY ../x` inside the context.
pub fn clean_rel(path: &str) -> String {
    berth_rootfs::path::clean(path)
}

/// Joins a relative `/`-separated path to a parent relative path.
pub(crate) fn join_rel(parent: &str, name: &str) -> String {
    berth_rootfs::path::join(parent, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn clean_rel_stays_inside() {
        assert_eq!(clean_rel("../x"), "x");
        assert_eq!(clean_rel("/a/../../b/./c/"), "b/c");
        assert_eq!(clean_rel("."), "");
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/etc", root.join("app")).unwrap();
        symlink("../../../../tmp", root.join("up")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        let r = resolve(root, "/app/passwd", true).unwrap();
        assert_eq!(r.rel, "etc/passwd");
        assert_eq!(r.host, root.join("etc/passwd"));
        assert_eq!(resolve(root, "up/x", true).unwrap().rel, "tmp/x");
        assert_eq!(resolve(root, "app", false).unwrap().rel, "app");
        assert_eq!(resolve(root, "../../app", true).unwrap().rel, "etc");
        let err = resolve(root, "loop", true).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
    }
}
