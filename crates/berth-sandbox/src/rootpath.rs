//! Paths inside the root file system, resolved as the container will see them: symlinks
//! are followed but clamped to the root, so nothing the image contains can send the
//! sandbox's own file operations out onto the host.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat, futimens};
use nix::sys::time::TimeSpec;
use nix::unistd::{UnlinkatFlags, unlinkat};

/// Symlinks followed before a path is declared a loop, as Linux does.
const MAX_SYMLINKS: usize = 40;

/// Opens `path` (a container path) of `root` for reading, resolving it inside the root;
/// `None` if it does not exist.
pub(crate) fn open_in_root(root: &Path, path: &str) -> io::Result<Option<File>> {
    let rootfd = open_root(root)?;
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    match openat2(rootfd.as_fd(), relative(path), how) {
        Ok(fd) => Ok(Some(File::from(fd))),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn open_root(root: &Path) -> io::Result<OwnedFd> {
    Ok(OwnedFd::from(
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(root)?,
    ))
}

/// `path` without its leading slashes, `.` for the root itself.
fn relative(path: &str) -> &str {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() { "." } else { rel }
}

/// What a mount point must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
}

/// Where a container path lands.
#[derive(Debug)]
pub(crate) enum Resolved {
    /// A host path under the root, with no symlink in it, that exists (or was just created).
    Host(PathBuf),
    /// Under `stops[index]` (an earlier mount), at these lexical components below it.
    Inside { index: usize, rest: Vec<OsString> },
}

/// What the sandbox created in the root only to mount over, to remove after the run.
#[derive(Debug, Default)]
pub(crate) struct Stubs {
    /// Paths relative to the root, in creation order.
    created: Vec<(PathBuf, Kind)>,
    /// Pre-existing directories that got a stub, to put back as they were.
    parents: Vec<Parent>,
}

#[derive(Debug)]
struct Parent {
    rel: PathBuf,
    /// Times before the sandbox created anything in it.
    before: FileTimes,
    /// Its mtime once the sandbox's stubs were in it: if it still has it after the run,
    /// only the sandbox changed it, and the old times can be restored.
    after: Option<TimeSpec>,
}

#[derive(Debug, Clone, Copy)]
struct FileTimes {
    atime: TimeSpec,
    mtime: TimeSpec,
}

/// Resolves the container path `path` in `root` (canonical), creating what is missing as
/// `kind` (parents as directories, mode 0755). Creations are recorded in `stubs` when
/// given. Resolution stops at any of `stops` (host paths of earlier mounts).
pub(crate) fn prepare(
    root: &Path,
    path: &str,
    kind: Kind,
    stops: &[PathBuf],
    stubs: Option<&mut Stubs>,
) -> Result<Resolved, String> {
    let found = match walk(root, path, stops)? {
        Walk::Found(found) => found,
        Walk::Missing { existing, rest } => {
            return create(root, &existing, rest, kind, stubs).map(Resolved::Host);
        }
        Walk::Inside { index, rest } => return Ok(Resolved::Inside { index, rest }),
    };
    match (kind, fs::metadata(&found)) {
        (Kind::Dir, Ok(m)) if !m.is_dir() => Err("it exists and is not a directory".to_string()),
        (Kind::File, Ok(m)) if m.is_dir() => Err("it exists and is a directory".to_string()),
        _ => Ok(Resolved::Host(found)),
    }
}

/// [`prepare`] with no earlier mounts in the way: always a host path.
pub(crate) fn prepare_host(
    root: &Path,
    path: &str,
    kind: Kind,
    stubs: &mut Stubs,
) -> Result<PathBuf, String> {
    match prepare(root, path, kind, &[], Some(stubs))? {
        Resolved::Host(p) => Ok(p),
        Resolved::Inside { .. } => Err("it lies inside another mount".to_string()),
    }
}

/// The host path of the existing container path `path`, if it exists.
pub(crate) fn existing(root: &Path, path: &str) -> Option<PathBuf> {
    match walk(root, path, &[]) {
        Ok(Walk::Found(p)) => Some(p),
        _ => None,
    }
}

enum Walk {
    Found(PathBuf),
    Missing {
        existing: PathBuf,
        rest: VecDeque<OsString>,
    },
    Inside {
        index: usize,
        rest: Vec<OsString>,
    },
}

/// Follows `path` from `root` component by component, as the kernel would inside the
/// container: `..` stops at the root, absolute symlinks restart from it.
fn walk(root: &Path, path: &str, stops: &[PathBuf]) -> Result<Walk, String> {
    let mut current = root.to_path_buf();
    let mut pending: VecDeque<OsString> = lexical(Path::new(path));
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            if current != root {
                current.pop();
            }
            continue;
        }
        let next = current.join(&name);
        if let Some(index) = stops.iter().position(|s| *s == next) {
            let rest: Vec<OsString> = pending.into_iter().collect();
            if rest.iter().any(|c| c == "..") {
                return Err("the path climbs out of an earlier mount with '..'".to_string());
            }
            return Ok(Walk::Inside { index, rest });
        }
        let meta = match fs::symlink_metadata(&next) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                pending.push_front(name);
                return Ok(Walk::Missing {
                    existing: current,
                    rest: pending,
                });
            }
            Err(e) => return Err(format!("cannot inspect {}: {e}", next.display())),
        };
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err("too many levels of symbolic links".to_string());
            }
            let target = fs::read_link(&next)
                .map_err(|e| format!("cannot read symlink {}: {e}", next.display()))?;
            if target.is_absolute() {
                current = root.to_path_buf();
            }
            for c in lexical(&target).into_iter().rev() {
                pending.push_front(c);
            }
            continue;
        }
        if !meta.is_dir() && !pending.is_empty() {
            return Err(format!("{} is not a directory", next.display()));
        }
        current = next;
    }
    Ok(Walk::Found(current))
}

/// The normal and `..` components of `path`.
fn lexical(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// Creates `rest` under the existing, symlink-free directory `existing`.
fn create(
    root: &Path,
    existing: &Path,
    rest: VecDeque<OsString>,
    kind: Kind,
    mut stubs: Option<&mut Stubs>,
) -> Result<PathBuf, String> {
    if rest.iter().any(|c| c == "..") {
        return Err("a missing directory is followed by '..'".to_string());
    }
    if let Some(stubs) = stubs.as_deref_mut() {
        stubs.remember_parent(root, existing);
    }
    let mut path = existing.to_path_buf();
    let last = rest.len() - 1;
    for (i, name) in rest.iter().enumerate() {
        path.push(name);
        let this = if i == last { kind } else { Kind::Dir };
        let made = match this {
            Kind::Dir => fs::create_dir(&path)
                .and_then(|()| fs::set_permissions(&path, fs::Permissions::from_mode(0o755))),
            Kind::File => OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&path)
                .map(drop),
        };
        made.map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        if let (Some(stubs), Ok(rel)) = (stubs.as_deref_mut(), path.strip_prefix(root)) {
            stubs.created.push((rel.to_path_buf(), this));
            if i == 0 {
                stubs.note_parent_changed(root, existing);
            }
        }
    }
    Ok(path)
}

impl Stubs {
    fn remember_parent(&mut self, root: &Path, dir: &Path) {
        let Ok(rel) = dir.strip_prefix(root) else {
            return;
        };
        if self.parents.iter().any(|p| p.rel == rel) {
            return;
        }
        if let Ok(m) = fs::symlink_metadata(dir) {
            let before = FileTimes {
                atime: TimeSpec::new(m.atime(), m.atime_nsec()),
                mtime: TimeSpec::new(m.mtime(), m.mtime_nsec()),
            };
            self.parents.push(Parent {
                rel: rel.to_path_buf(),
                before,
                after: None,
            });
        }
    }

    fn note_parent_changed(&mut self, root: &Path, dir: &Path) {
        let Ok(rel) = dir.strip_prefix(root) else {
            return;
        };
        if let Some(parent) = self.parents.iter_mut().find(|p| p.rel == rel) {
            parent.after = fs::symlink_metadata(dir)
                .ok()
                .map(|m| TimeSpec::new(m.mtime(), m.mtime_nsec()));
        }
    }

    /// Removes, deepest first, every stub the command left as the sandbox made it (empty
    /// file, empty directory), then restores the times of the directories that held them
    /// unless the command changed those too. Never follows a symlink: the command may have
    /// replaced any of these paths.
    pub(crate) fn remove(&self, root: &Path) {
        let Ok(rootfd) = open_root(root) else {
            return;
        };
        let untouched: Vec<Option<OwnedFd>> = self
            .parents
            .iter()
            .map(|p| {
                let dir = open_beneath(&rootfd, &p.rel, OFlag::O_RDONLY).ok()?;
                let st = fstat(dir.as_fd()).ok()?;
                let now = TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
                (Some(now) == p.after).then_some(dir)
            })
            .collect();
        for (rel, kind) in self.created.iter().rev() {
            let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
                continue;
            };
            let Ok(dir) = open_beneath(&rootfd, parent, OFlag::O_PATH) else {
                continue;
            };
            let Ok(stat) = fstatat(dir.as_fd(), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
            else {
                continue;
            };
            match kind {
                Kind::Dir if is(&stat, SFlag::S_IFDIR) => {
                    // Fails, and so keeps it, if the command put something in it.
                    let _ = unlinkat(dir.as_fd(), name, UnlinkatFlags::RemoveDir);
                }
                Kind::File if is(&stat, SFlag::S_IFREG) && stat.st_size == 0 => {
                    let _ = unlinkat(dir.as_fd(), name, UnlinkatFlags::NoRemoveDir);
                }
                _ => {}
            }
        }
        for (parent, dir) in self.parents.iter().zip(untouched) {
            if let Some(dir) = dir {
                let _ = futimens(dir.as_fd(), &parent.before.atime, &parent.before.mtime);
            }
        }
    }
}

fn is(stat: &FileStat, kind: SFlag) -> bool {
    SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()) == kind
}

/// Opens the directory `rel` below `rootfd` refusing any symlink on the way.
fn open_beneath(rootfd: &OwnedFd, rel: &Path, mode: OFlag) -> nix::Result<OwnedFd> {
    let rel: &OsStr = if rel.as_os_str().is_empty() {
        OsStr::new(".")
    } else {
        rel.as_os_str()
    };
    let how = OpenHow::new()
        .flags(mode | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .mode(Mode::empty())
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
    openat2(rootfd.as_fd(), rel, how)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        (dir, root)
    }

    #[test]
    fn absolute_symlinks_stay_in_the_root() {
        let (_d, root) = root();
        fs::create_dir(root.join("real")).unwrap();
        symlink("/real", root.join("link")).unwrap();
        symlink("../../../..", root.join("up")).unwrap();
        let r = prepare(&root, "/link/x", Kind::File, &[], None).unwrap();
        assert!(matches!(r, Resolved::Host(p) if p == root.join("real/x")));
        let r = prepare(&root, "/up/etc", Kind::Dir, &[], None).unwrap();
        assert!(matches!(r, Resolved::Host(p) if p == root.join("etc")));
        assert!(root.join("etc").is_dir());
    }

    #[test]
    fn stubs_are_removed_only_when_untouched() {
        let (_d, root) = root();
        fs::create_dir(root.join("etc")).unwrap();
        let mut stubs = Stubs::default();
        prepare(&root, "/etc/hosts", Kind::File, &[], Some(&mut stubs)).unwrap();
        prepare(&root, "/run/secrets/a", Kind::File, &[], Some(&mut stubs)).unwrap();
        prepare(&root, "/proc", Kind::Dir, &[], Some(&mut stubs)).unwrap();
        fs::write(root.join("run/secrets/a"), "kept").unwrap();
        stubs.remove(&root);
        assert!(!root.join("etc/hosts").exists());
        assert!(!root.join("proc").exists());
        assert_eq!(fs::read(root.join("run/secrets/a")).unwrap(), b"kept");
    }

    #[test]
    fn removal_never_follows_a_swapped_in_symlink() {
        let (_d, root) = root();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("x"), "").unwrap();
        let mut stubs = Stubs::default();
        prepare(&root, "/d/x", Kind::File, &[], Some(&mut stubs)).unwrap();
        fs::remove_dir_all(root.join("d")).unwrap();
        symlink(outside.path(), root.join("d")).unwrap();
        stubs.remove(&root);
        assert!(outside.path().join("x").exists());
    }

    #[test]
    fn stops_at_earlier_mounts() {
        let (_d, root) = root();
        fs::create_dir(root.join("tmp")).unwrap();
        let stops = [root.join("tmp")];
        let r = prepare(&root, "/tmp/a/b", Kind::Dir, &stops, None).unwrap();
        assert!(matches!(r, Resolved::Inside { index: 0, ref rest } if rest.len() == 2));
        assert!(!root.join("tmp/a").exists());
    }
}
