//! The root: an opened directory, and paths resolved inside it by one of two strategies.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{CWD, FileType, Mode, OFlags, ResolveFlags, fstat, openat, openat2, readlinkat};
use rustix::io::Errno;

use crate::dir::{Dir, Node, Time, fd_path};
use crate::error::{Error, Result};
use crate::meta::Meta;
use crate::path::{clean, components, join};
use crate::resolver::Resolver;

/// Linux gives up after 40 symlinks in one lookup; so does berth.
pub const MAX_LINKS: usize = 40;

/// What a symlink met on the way through a path does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Followed inside the root: an absolute target starts again at the root, `..` stops at
    /// it (how the container will see the path).
    InRoot,
    /// Refused ([`Error::UnderSymlink`]): for writers that must never go through a symlink
    /// at all (layer application).
    Refuse,
}

/// Whether the last component of a path is followed when it is a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Last {
    Follow,
    NoFollow,
}

/// How missing directories are made by [`Root::mkdir_all`] and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewDir {
    /// Exact mode bits, whatever the umask.
    pub mode: u32,
    /// Owner; `None` leaves the creating process's.
    pub owner: Option<(u32, u32)>,
}

impl Default for NewDir {
    fn default() -> NewDir {
        NewDir {
            mode: 0o755,
            owner: None,
        }
    }
}

/// Where a path lands inside a root ([`Root::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The clean path relative to the root, `/`-separated, `""` for the root itself.
    pub rel: OsString,
    /// The root's host path joined with `rel` (for messages, and callers that still hand
    /// paths to other programs; nothing in this crate opens it).
    pub host: PathBuf,
}

/// An entry located for an operation: its directory, reached inside the root, and its name
/// there (`None` when the path names a directory through `.`, `..` or the root itself).
#[derive(Debug)]
pub struct Located<'r> {
    pub dir: Dir<'r>,
    pub name: Option<OsString>,
}

impl Located<'_> {
    /// The path inside the root.
    pub fn rel(&self) -> OsString {
        match &self.name {
            Some(name) => self.dir.path_of(name),
            None => self.dir.rel.clone(),
        }
    }

    fn name(&self, op: &'static str) -> Result<&OsStr> {
        self.name.as_deref().ok_or_else(|| Error::NoEntry {
            op,
            root: self.dir.root.host().to_path_buf(),
            path: self.dir.rel.clone(),
        })
    }
}

/// A directory every operation is confined to. Paths given to it are `/`-separated,
/// absolute or relative (both start at the root).
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    host: PathBuf,
    /// The root as the kernel names it in `/proc/self/fd`, to turn what `openat2` opened
    /// back into a path inside the root.
    proc_name: Option<Vec<u8>>,
    resolver: Resolver,
    links: Links,
}

/// What [`Root::walk`] is for.
#[derive(Clone, Copy)]
enum Walk<'a> {
    /// Where the path would be: missing components kept as written.
    Resolve { last: Last },
    /// An existing directory, or one made with `NewDir`.
    Dir { create: Option<&'a NewDir> },
}

/// A boundary test for [`Root::resolve_until`]: is this path (inside the root) one?
type Stop<'a> = &'a dyn Fn(&OsStr) -> bool;

/// What the walk reached.
struct Walked<'r> {
    /// The last directory reached.
    dir: Dir<'r>,
    /// Where the path lands (or the boundary it stopped at).
    rel: OsString,
    /// At a boundary: the components still to go.
    stopped: Option<Vec<OsString>>,
}

/// Where [`Root::resolve_until`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Until {
    /// The whole path, resolved (missing components kept as written).
    Resolved(OsString),
    /// A boundary at `at`, with `rest` (as written, `..` included) still to go below it.
    Stopped { at: OsString, rest: Vec<OsString> },
}

impl Root {
    /// Opens `host` as a root, with this process's strategy ([`Resolver::detect`]) and
    /// symlinks followed inside it.
    pub fn open(host: &Path) -> Result<Root> {
        Root::open_with(host, Resolver::detect(), Links::InRoot)
    }

    /// Opens `host` as a root with a chosen strategy and symlink rule.
    pub fn open_with(host: &Path, resolver: Resolver, links: Links) -> Result<Root> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = openat(CWD, host, flags, Mode::empty()).map_err(|e| Error::OpenRoot {
            root: host.to_path_buf(),
            source: e.into(),
        })?;
        let proc_name = readlinkat(CWD, fd_path(&fd), Vec::new())
            .ok()
            .map(|p| p.into_bytes());
        Ok(Root {
            fd,
            host: host.to_path_buf(),
            proc_name,
            resolver,
            links,
        })
    }

    /// The same directory with another symlink rule.
    pub fn with_links(&self, links: Links) -> Result<Root> {
        let fd = self.fd.try_clone().map_err(|e| Error::OpenRoot {
            root: self.host.clone(),
            source: e,
        })?;
        Ok(Root {
            fd,
            host: self.host.clone(),
            proc_name: self.proc_name.clone(),
            resolver: self.resolver,
            links,
        })
    }

    /// The host path the root was opened at.
    pub fn host(&self) -> &Path {
        &self.host
    }

    /// The strategy in use.
    pub fn resolver(&self) -> Resolver {
        self.resolver
    }

    pub(crate) fn io(&self, op: &'static str, path: &OsStr, source: io::Error) -> Error {
        Error::Io {
            op,
            root: self.host.clone(),
            path: path.to_owned(),
            source,
        }
    }

    /// The root directory itself.
    pub fn top(&self) -> Result<Dir<'_>> {
        let fd = self
            .fd
            .try_clone()
            .map_err(|e| self.io("open", OsStr::new(""), e))?;
        Ok(Dir {
            root: self,
            fd,
            rel: OsString::new(),
        })
    }

    /// Where `path` lands inside the root: every symlink on the way followed inside it (the
    /// last one too with [`Last::Follow`]); components that do not exist are kept as written
    /// (after `.`/`..` cleaning), so the result may name a path still to be created.
    pub fn resolve(&self, path: impl AsRef<OsStr>, last: Last) -> Result<Resolved> {
        let path = path.as_ref();
        let rel = match self.locate(path, last) {
            Ok(found) => found.rel(),
            Err(e) if e.is_not_found() || e.errno() == Some(Errno::NOTDIR) => {
                self.walk(path, Walk::Resolve { last }, None)?.rel
            }
            Err(e) => return Err(e),
        };
        Ok(Resolved {
            host: self.host_of(&rel),
            rel,
        })
    }

    /// `root` joined with a path relative to it.
    pub fn host_of(&self, rel: impl AsRef<OsStr>) -> PathBuf {
        let mut host = self.host.clone();
        for part in components(rel.as_ref()) {
            host.push(part);
        }
        host
    }

    /// The existing directory at `path` (all symlinks followed by the root's rule).
    pub fn dir(&self, path: impl AsRef<OsStr>) -> Result<Dir<'_>> {
        self.dir_at(path.as_ref(), None)
    }

    /// `mkdir -p`: the directory at `path`, every missing component made as `new` says.
    /// Existing directories (and symlinks on the way, by the root's rule) are left as they
    /// are; a dangling symlink gets its target made inside the root.
    pub fn mkdir_all(&self, path: impl AsRef<OsStr>, new: &NewDir) -> Result<Dir<'_>> {
        self.dir_at(path.as_ref(), Some(new))
    }

    fn dir_at(&self, path: &OsStr, create: Option<&NewDir>) -> Result<Dir<'_>> {
        if self.resolver == Resolver::Openat2 {
            if let Some(dir) = self.dir_openat2(path) {
                return Ok(dir);
            }
        }
        Ok(self.walk(path, Walk::Dir { create }, None)?.dir)
    }

    /// One `openat2` call; `None` sends the caller to the walk (which creates what is
    /// missing and names exactly what is wrong).
    fn dir_openat2(&self, path: &OsStr) -> Option<Dir<'_>> {
        let mut resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        if self.links == Links::Refuse {
            resolve |= ResolveFlags::NO_SYMLINKS;
        }
        let rel_path = path.as_bytes();
        let rel_path = &rel_path[rel_path.iter().take_while(|&&b| b == b'/').count()..];
        let rel_path = OsStr::from_bytes(if rel_path.is_empty() { b"." } else { rel_path });
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        // EAGAIN: a rename raced the lookup; the kernel asks for a retry.
        let fd = (0..3).find_map(|_| {
            match openat2(&self.fd, rel_path, flags, Mode::empty(), resolve) {
                Ok(fd) => Some(Some(fd)),
                Err(Errno::AGAIN) => None,
                Err(_) => Some(None),
            }
        })??;
        let rel = match self.links {
            // No symlink was followed: `..` meant what it says.
            Links::Refuse => clean(path),
            Links::InRoot => self.rel_of(&fd)?,
        };
        Some(Dir {
            root: self,
            fd,
            rel,
        })
    }

    /// Where an opened directory is inside the root, from the kernel's name for it.
    fn rel_of(&self, fd: &OwnedFd) -> Option<OsString> {
        let prefix = self.proc_name.as_ref()?;
        let name = readlinkat(CWD, fd_path(fd), Vec::new()).ok()?.into_bytes();
        let rest = name.strip_prefix(prefix.as_slice())?;
        let rest = match rest {
            [] => &[][..],
            [b'/', rest @ ..] => rest,
            // The root is `/` itself, or a sibling that shares its prefix.
            _ if prefix.as_slice() == b"/" => rest,
            _ => return None,
        };
        Some(OsString::from_vec(rest.to_vec()))
    }

    /// Locates `path` for an operation on it: its directory reached inside the root, and its
    /// last name, followed if a symlink and `last` says so. The directory must exist.
    pub fn locate(&self, path: impl AsRef<OsStr>, last: Last) -> Result<Located<'_>> {
        self.locate_in(path.as_ref(), last, None)
    }

    /// [`Root::locate`], making missing directories on the way as `new` says.
    pub fn locate_creating(
        &self,
        path: impl AsRef<OsStr>,
        last: Last,
        new: &NewDir,
    ) -> Result<Located<'_>> {
        self.locate_in(path.as_ref(), last, Some(new))
    }

    fn locate_in(&self, path: &OsStr, last: Last, create: Option<&NewDir>) -> Result<Located<'_>> {
        let mut path = path.to_owned();
        let mut links = 0;
        loop {
            let (parent, name) = match split_last(&path) {
                Some(split) => split,
                None => {
                    return Ok(Located {
                        dir: self.dir_at(&path, create)?,
                        name: None,
                    });
                }
            };
            let dir = self.dir_at(parent, create)?;
            if last == Last::Follow {
                if let Some(target) = self.symlink_target(&dir, name)? {
                    let here = dir.path_of(name);
                    if self.links == Links::Refuse {
                        return Err(Error::UnderSymlink {
                            root: self.host.clone(),
                            path: here.clone(),
                            link: here,
                        });
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(Error::TooManyLinks {
                            root: self.host.clone(),
                            path: here,
                        });
                    }
                    path = if target.as_bytes().starts_with(b"/") {
                        target
                    } else {
                        join(&dir.rel, &target)
                    };
                    continue;
                }
            }
            return Ok(Located {
                name: Some(name.to_owned()),
                dir,
            });
        }
    }

    /// The target of `name` in `dir` if it is a symlink (read through the very object
    /// looked at, so nothing can be swapped in between).
    fn symlink_target(&self, dir: &Dir<'_>, name: &OsStr) -> Result<Option<OsString>> {
        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match openat(&dir.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(dir.err("open", name, e)),
        };
        link_target(&fd).map_err(|e| dir.err("readlink", name, e))
    }

    /// The walk: from the root's descriptor one component at a time, each opened
    /// `O_PATH|O_NOFOLLOW` relative to the one before, symlinks read from the opened link
    /// and followed by hand, `..` going back to the directory before (never above the root).
    fn walk(&self, path: &OsStr, what: Walk<'_>, stop: Option<Stop<'_>>) -> Result<Walked<'_>> {
        let mut stack: Vec<Dir<'_>> = vec![self.top()?];
        let mut todo: Vec<OsString> = components(path).rev().map(OsStr::to_owned).collect();
        // With `Walk::Resolve`, what is past the first missing (or non-directory) component,
        // kept lexically.
        let mut tail: Vec<OsString> = Vec::new();
        let mut links = 0;
        let mut retries = 0;
        while let Some(part) = todo.pop() {
            if !tail.is_empty() {
                if part == ".." {
                    tail.pop();
                } else {
                    tail.push(part);
                }
                continue;
            }
            if part == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let is_last = todo.is_empty();
            let cur = stack
                .last()
                .expect("the root stays at the bottom of the stack");
            let here = cur.path_of(&part);
            if stop.is_some_and(|stop| stop(&here)) {
                todo.reverse();
                return Ok(Walked {
                    dir: stack
                        .pop()
                        .expect("the root stays at the bottom of the stack"),
                    rel: here,
                    stopped: Some(todo),
                });
            }
            let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = match openat(&cur.fd, part.as_os_str(), flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => match what {
                    Walk::Resolve { .. } => {
                        tail.push(part);
                        continue;
                    }
                    Walk::Dir { create: Some(new) } => {
                        retries += 1;
                        if retries > MAX_LINKS {
                            return Err(cur.err("mkdir", &part, Errno::AGAIN));
                        }
                        make_dir(cur, &part, new)?;
                        todo.push(part); // opened (and checked) on the next turn
                        continue;
                    }
                    Walk::Dir { create: None } => return Err(cur.err("open", &part, Errno::NOENT)),
                },
                Err(e) => return Err(cur.err("open", &part, e)),
            };
            let kind =
                FileType::from_raw_mode(fstat(&fd).map_err(|e| cur.err("stat", &part, e))?.st_mode);
            match kind {
                FileType::Directory => {
                    stack.push(Dir {
                        root: self,
                        fd,
                        rel: here,
                    });
                }
                FileType::Symlink
                    if !(is_last
                        && matches!(
                            what,
                            Walk::Resolve {
                                last: Last::NoFollow
                            }
                        )) =>
                {
                    if self.links == Links::Refuse {
                        return Err(Error::UnderSymlink {
                            root: self.host.clone(),
                            path: clean(path),
                            link: here,
                        });
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(Error::TooManyLinks {
                            root: self.host.clone(),
                            path: clean(path),
                        });
                    }
                    let target = link_target(&fd)
                        .map_err(|e| cur.err("readlink", &part, e))?
                        .unwrap_or_default();
                    if target.as_bytes().starts_with(b"/") {
                        stack.truncate(1);
                    }
                    todo.extend(components(&target).rev().map(OsStr::to_owned));
                }
                _ => match what {
                    // A file in the middle of a path: whoever opens it will be told.
                    Walk::Resolve { .. } => tail.push(part),
                    Walk::Dir { .. } => {
                        return Err(Error::NotADirectory {
                            root: self.host.clone(),
                            path: clean(path),
                            parent: here,
                        });
                    }
                },
            }
        }
        let dir = stack
            .pop()
            .expect("the root stays at the bottom of the stack");
        let rel = tail.iter().fold(dir.rel.clone(), join);
        Ok(Walked {
            dir,
            rel,
            stopped: None,
        })
    }

    /// [`Root::resolve`] (symlinks followed, the last too) that stops at the first path
    /// `stop` says is a boundary (a mount point whose contents are not the root's): returns
    /// where it stopped and the components still to go, as written. Always walks (the kernel
    /// can't be asked to stop).
    pub fn resolve_until(
        &self,
        path: impl AsRef<OsStr>,
        stop: &dyn Fn(&OsStr) -> bool,
    ) -> Result<Until> {
        let walked = self.walk(
            path.as_ref(),
            Walk::Resolve { last: Last::Follow },
            Some(stop),
        )?;
        Ok(match walked.stopped {
            Some(rest) => Until::Stopped {
                at: walked.rel,
                rest,
            },
            None => Until::Resolved(walked.rel),
        })
    }

    // ---- operations by path -------------------------------------------------------------

    /// Metadata of `path` (its last component followed or not).
    pub fn stat(&self, path: impl AsRef<OsStr>, last: Last) -> Result<Meta> {
        let found = self.locate(path, last)?;
        match &found.name {
            None => found.dir.metadata(),
            Some(name) => found
                .dir
                .lstat(name)?
                .ok_or_else(|| found.dir.err("stat", name, Errno::NOENT)),
        }
    }

    /// Metadata of `path` itself, `None` if nothing is there.
    pub fn lstat(&self, path: impl AsRef<OsStr>) -> Result<Option<Meta>> {
        match self.stat(path, Last::NoFollow) {
            Ok(meta) => Ok(Some(meta)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens `path` for reading.
    pub fn open_read(&self, path: impl AsRef<OsStr>, last: Last) -> Result<File> {
        let found = self.locate(path, last)?;
        match &found.name {
            Some(name) => found.dir.open(name, OFlags::RDONLY, 0),
            None => {
                let fd = openat(
                    &found.dir.fd,
                    ".",
                    OFlags::RDONLY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| found.dir.err("open", "", e))?;
                Ok(File::from(fd))
            }
        }
    }

    /// An `O_PATH` descriptor of what `path` names, for handing the object itself to the
    /// kernel (a bind mount's source): nothing looks the path up again after the check.
    pub fn open_path(&self, path: impl AsRef<OsStr>, last: Last) -> Result<OwnedFd> {
        let found = self.locate(path, last)?;
        match &found.name {
            Some(name) => found.dir.open_path("open", name),
            None => found
                .dir
                .fd
                .try_clone()
                .map_err(|e| found.dir.err("open", "", e)),
        }
    }

    /// Opens `path` with `flags` (`O_NOFOLLOW` added: with [`Last::Follow`] the symlinks are
    /// already followed inside the root).
    pub fn open_file(
        &self,
        path: impl AsRef<OsStr>,
        last: Last,
        flags: OFlags,
        mode: u32,
    ) -> Result<File> {
        let found = self.locate(path, last)?;
        found.dir.open(found.name("open")?, flags, mode)
    }

    /// Creates the regular file `path` (nothing may be there), parents made as `new` says.
    pub fn create_file(&self, path: impl AsRef<OsStr>, mode: u32, new: &NewDir) -> Result<File> {
        let found = self.locate_creating(path, Last::NoFollow, new)?;
        found.dir.create_file(found.name("create")?, mode)
    }

    /// Creates the directory `path` (its parent must exist) with exactly `mode`.
    pub fn mkdir(&self, path: impl AsRef<OsStr>, mode: u32) -> Result<Dir<'_>> {
        let found = self.locate(path, Last::NoFollow)?;
        let name = found.name("mkdir")?;
        found.dir.mkdir(name, mode)
    }

    /// `ln -s target path`.
    pub fn symlink(&self, target: impl AsRef<OsStr>, path: impl AsRef<OsStr>) -> Result<()> {
        let found = self.locate(path, Last::NoFollow)?;
        found.dir.symlink(target, found.name("symlink")?)
    }

    /// Hard-links `existing` (not followed) as `path`.
    pub fn hardlink(&self, existing: impl AsRef<OsStr>, path: impl AsRef<OsStr>) -> Result<()> {
        let from = self.locate(existing, Last::NoFollow)?;
        let to = self.locate(path, Last::NoFollow)?;
        to.dir
            .hardlink(&from.dir, from.name("link")?, to.name("link")?)
    }

    /// Renames `from` to `to` (neither followed).
    pub fn rename(&self, from: impl AsRef<OsStr>, to: impl AsRef<OsStr>) -> Result<()> {
        let a = self.locate(from, Last::NoFollow)?;
        let b = self.locate(to, Last::NoFollow)?;
        a.dir.rename(a.name("rename")?, &b.dir, b.name("rename")?)
    }

    /// Removes the non-directory `path`.
    pub fn unlink(&self, path: impl AsRef<OsStr>) -> Result<()> {
        let found = self.locate(path, Last::NoFollow)?;
        found.dir.unlink(found.name("unlink")?)
    }

    /// Removes `path` and everything below it; nothing there is fine.
    pub fn remove_all(&self, path: impl AsRef<OsStr>) -> Result<()> {
        match self.locate(path, Last::NoFollow) {
            Ok(found) => found.dir.remove_all(found.name("remove")?),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `lchown`.
    pub fn chown(&self, path: impl AsRef<OsStr>, uid: u32, gid: u32) -> Result<()> {
        let found = self.locate(path, Last::NoFollow)?;
        match &found.name {
            Some(name) => found.dir.chown(name, uid, gid),
            None => found.dir.chown_self(uid, gid),
        }
    }

    /// The full 12 mode bits of `path`, followed to what it names.
    pub fn chmod(&self, path: impl AsRef<OsStr>, mode: u32) -> Result<()> {
        let found = self.locate(path, Last::Follow)?;
        match &found.name {
            Some(name) => found.dir.chmod(name, mode),
            None => found.dir.chmod_self(mode),
        }
    }

    /// Times of `path` itself (a symlink too).
    pub fn utimens(&self, path: impl AsRef<OsStr>, atime: Time, mtime: Time) -> Result<()> {
        let found = self.locate(path, Last::NoFollow)?;
        match &found.name {
            Some(name) => found.dir.utimens(name, atime, mtime),
            None => found.dir.utimens_self(atime, mtime),
        }
    }

    /// Sets an extended attribute of what `path` resolves to (with [`Last::NoFollow`], of a
    /// symlink itself).
    pub fn set_xattr(
        &self,
        path: impl AsRef<OsStr>,
        last: Last,
        key: &str,
        value: &[u8],
    ) -> Result<()> {
        let found = self.locate(path, last)?;
        match &found.name {
            Some(name) => found.dir.set_xattr(name, key, value),
            None => found.dir.set_xattr_self(key, value),
        }
    }

    /// An extended attribute of what `path` resolves to.
    pub fn get_xattr(
        &self,
        path: impl AsRef<OsStr>,
        last: Last,
        key: &str,
    ) -> Result<Option<Vec<u8>>> {
        let found = self.locate(path, last)?;
        match &found.name {
            Some(name) => found.dir.get_xattr(name, key),
            None => found.dir.get_xattr_self(key),
        }
    }

    /// The extended attribute names of what `path` resolves to.
    pub fn list_xattrs(&self, path: impl AsRef<OsStr>, last: Last) -> Result<Vec<String>> {
        let found = self.locate(path, last)?;
        match &found.name {
            Some(name) => found.dir.list_xattrs(name),
            None => found.dir.list_xattrs_self(),
        }
    }

    /// The target of the symlink `path`.
    pub fn readlink(&self, path: impl AsRef<OsStr>) -> Result<OsString> {
        let found = self.locate(path, Last::NoFollow)?;
        found.dir.readlink(found.name("readlink")?)
    }

    /// The names in the directory `path`.
    pub fn read_dir(&self, path: impl AsRef<OsStr>) -> Result<Vec<OsString>> {
        self.dir(path)?.read_dir()
    }

    /// A fifo, or [`Error::DeviceRefused`] for a device.
    pub fn mknod(&self, path: impl AsRef<OsStr>, node: Node, mode: u32) -> Result<()> {
        let found = self.locate(path, Last::NoFollow)?;
        found.dir.mknod(found.name("mknod")?, node, mode)
    }

    /// An overlayfs whiteout (character device 0:0) at `path`.
    pub fn whiteout(&self, path: impl AsRef<OsStr>) -> Result<()> {
        let found = self.locate(path, Last::NoFollow)?;
        found.dir.whiteout(found.name("whiteout")?)
    }
}

impl AsFd for Root {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Splits a path into (what comes before the last component, the last component); `None`
/// when the path ends in `.`, `..` or names the root (then the whole path is a directory).
fn split_last(path: &OsStr) -> Option<(&OsStr, &OsStr)> {
    let bytes = path.as_bytes();
    let trimmed = &bytes[..bytes.len() - bytes.iter().rev().take_while(|&&b| b == b'/').count()];
    let (parent, name) = match trimmed.iter().rposition(|&b| b == b'/') {
        Some(0) => (&b"/"[..], &trimmed[1..]),
        Some(at) => (&trimmed[..at], &trimmed[at + 1..]),
        None => (&b""[..], trimmed),
    };
    match name {
        b"" | b"." | b".." => None,
        name => Some((OsStr::from_bytes(parent), OsStr::from_bytes(name))),
    }
}

/// Makes the directory `name` in `dir` as `new` says; one that appeared meanwhile is fine.
fn make_dir(dir: &Dir<'_>, name: &OsStr, new: &NewDir) -> Result<()> {
    let made = match dir.mkdir(name, new.mode) {
        Ok(made) => made,
        Err(e) if e.errno() == Some(Errno::EXIST) => return Ok(()),
        Err(e) => return Err(e),
    };
    if let Some((uid, gid)) = new.owner {
        made.chown_self(uid, gid)?;
        // chown clears setuid/setgid bits: the mode once more.
        made.chmod_self(new.mode)?;
    }
    Ok(())
}

/// The target of the symlink `fd` was opened on (`O_PATH|O_NOFOLLOW`); `None` if it is not
/// one.
fn link_target(fd: &OwnedFd) -> std::result::Result<Option<OsString>, Errno> {
    let stat = fstat(fd)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::Symlink {
        return Ok(None);
    }
    let target = readlinkat(fd, "", Vec::new())?;
    Ok(Some(OsString::from_vec(target.into_bytes())))
}
