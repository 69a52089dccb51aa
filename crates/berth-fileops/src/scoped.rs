//! Path resolution scoped to a root directory, as if the root were `/` (a chroot without the
//! syscall): `..` never climbs above the root and a symlink's absolute target starts again at
//! the root. Both sides of a copy use it: the build context (so a symlink in the context can
//! never read the host) and the stage's root filesystem (so a symlink in the image can never
//! make berth write outside it).

use std::io;
use std::path::{Path, PathBuf};

/// Linux gives up after 40 links in one lookup; so does berth.
const MAX_LINKS: usize = 40;

/// Where a path ends up inside a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The clean path relative to the root, `/`-separated, `""` for the root itself.
    pub rel: String,
    /// `root` joined with `rel`.
    pub host: PathBuf,
}

/// Resolves `path` (absolute or relative, `/`-separated) inside `root`. Every symlink met on the
/// way is followed inside the root; the last component too when `follow_last`. Components that
/// do not exist are kept as written (after `.`/`..` cleaning), so the result may name a path
/// still to be created.
pub fn resolve(root: &Path, path: &str, follow_last: bool) -> io::Result<Resolved> {
    // Components still to walk, last first so `pop` yields the next one.
    let mut todo: Vec<String> = components_rev(path);
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let mut host = join(root, &done);
        host.push(&part);
        let is_last = todo.iter().all(|p| p.is_empty() || p == ".");
        let meta = match std::fs::symlink_metadata(&host) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                done.push(part);
                continue;
            }
            // A file in the middle of a path: the caller's open will report it.
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                done.push(part);
                continue;
            }
            Err(e) => return Err(e),
        };
        if !meta.file_type().is_symlink() || (is_last && !follow_last) {
            done.push(part);
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        let target = std::fs::read_link(&host)?;
        let target = target.to_string_lossy();
        if target.starts_with('/') {
            done.clear();
        }
        todo.extend(components_rev(&target));
    }
    Ok(Resolved {
        rel: done.join("/"),
        host: join(root, &done),
    })
}

/// Cleans a path lexically as if it were absolute and returns it relative: `../x` and `/x` both
/// become `x`. This is how BuildKit keeps `COPY ../x` inside the context.
pub fn clean_rel(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.join("/")
}

fn components_rev(path: &str) -> Vec<String> {
    path.split('/').rev().map(str::to_owned).collect()
}

fn join(root: &Path, parts: &[String]) -> PathBuf {
    let mut p = root.to_path_buf();
    for part in parts {
        p.push(part);
    }
    p
}

/// Joins a relative `/`-separated path to a parent relative path.
pub(crate) fn join_rel(parent: &str, name: &str) -> String {
    match (parent.is_empty(), name.is_empty()) {
        (true, _) => name.to_owned(),
        (_, true) => parent.to_owned(),
        _ => format!("{parent}/{name}"),
    }
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
