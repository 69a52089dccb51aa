//! A directory reached inside a root, and what can be done to one entry of it by name.
//!
//! Every operation takes one entry name (never a path: `/`, `.` and `..` are refused), acts
//! relative to the directory's descriptor and never follows a symlink at that name, so no
//! name, and no symlink swapped in under it, can take the operation out of the directory.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{
    AtFlags, CWD, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, XattrFlags, chmodat,
    chownat, fstat, lgetxattr, linkat, llistxattr, lsetxattr, makedev, mkdirat, mknodat, openat,
    readlinkat, renameat, statat, symlinkat, unlinkat, utimensat,
};
use rustix::io::Errno;

use crate::error::{DeviceKind, Error, Result};
use crate::meta::Meta;
use crate::path::{is_entry_name, join};
use crate::root::Root;

/// Seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    pub sec: i64,
    pub nsec: i64,
}

impl Time {
    /// Whole seconds.
    pub fn secs(sec: i64) -> Time {
        Time { sec, nsec: 0 }
    }

    /// The access time of `meta`.
    pub fn accessed(meta: &Meta) -> Time {
        Time {
            sec: meta.atime(),
            nsec: meta.atime_nsec(),
        }
    }

    /// The modification time of `meta`.
    pub fn modified(meta: &Meta) -> Time {
        Time {
            sec: meta.mtime(),
            nsec: meta.mtime_nsec(),
        }
    }

    /// As std's time, for setting through an open [`File`] (`File::set_times`).
    pub fn to_system_time(self) -> std::time::SystemTime {
        let d = std::time::Duration::new(self.sec.unsigned_abs(), self.nsec as u32);
        if self.sec >= 0 {
            std::time::UNIX_EPOCH + d
        } else {
            std::time::UNIX_EPOCH - d
        }
    }
}

/// A special file to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Fifo,
    /// Always refused ([`Error::DeviceRefused`]).
    Char {
        major: u32,
        minor: u32,
    },
    /// Always refused ([`Error::DeviceRefused`]).
    Block {
        major: u32,
        minor: u32,
    },
}

/// A directory inside a root: an `O_PATH` descriptor and where it is (relative to the root,
/// `""` for the root itself, symlinks resolved).
#[derive(Debug)]
pub struct Dir<'r> {
    pub(crate) root: &'r Root,
    pub(crate) fd: OwnedFd,
    pub(crate) rel: OsString,
}

impl<'r> Dir<'r> {
    /// Where the directory is inside the root, symlinks resolved; `""` for the root.
    pub fn rel(&self) -> &OsStr {
        &self.rel
    }

    /// The root it lies in.
    pub fn root(&self) -> &'r Root {
        self.root
    }

    /// A second handle on the same directory.
    pub fn try_clone(&self) -> Result<Dir<'r>> {
        let fd = self.fd.try_clone().map_err(|e| self.err("open", "", e))?;
        Ok(Dir {
            root: self.root,
            fd,
            rel: self.rel.clone(),
        })
    }

    /// The path inside the root of `name` in this directory.
    pub fn path_of(&self, name: impl AsRef<OsStr>) -> OsString {
        let name = name.as_ref();
        join(&self.rel, name)
    }

    pub(crate) fn err(
        &self,
        op: &'static str,
        name: impl AsRef<OsStr>,
        e: impl Into<io::Error>,
    ) -> Error {
        let name = name.as_ref();
        self.root.io(op, &self.path_of(name), e.into())
    }

    fn check(&self, op: &'static str, name: &OsStr) -> Result<()> {
        if is_entry_name(name) {
            Ok(())
        } else {
            Err(Error::NoEntry {
                op,
                root: self.root.host().to_path_buf(),
                path: self.path_of(name),
            })
        }
    }

    /// Opens `name` itself (`O_PATH`, never following it).
    pub(crate) fn open_path(&self, op: &'static str, name: impl AsRef<OsStr>) -> Result<OwnedFd> {
        let name = name.as_ref();
        self.check(op, name)?;
        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        openat(&self.fd, name, flags, Mode::empty()).map_err(|e| self.err(op, name, e))
    }

    /// Metadata of `name`, not following it; `None` if there is nothing of that name.
    pub fn lstat(&self, name: impl AsRef<OsStr>) -> Result<Option<Meta>> {
        let name = name.as_ref();
        self.check("stat", name)?;
        // One `fstatat` on the directory's descriptor: a walk's hottest call.
        match statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Meta::of(&st))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(self.err("stat", name, e)),
        }
    }

    /// Metadata of the directory itself.
    pub fn metadata(&self) -> Result<Meta> {
        fstat(&self.fd)
            .map(|st| Meta::of(&st))
            .map_err(|e| self.err("stat", "", e))
    }

    /// Opens `name` with `flags` (`O_NOFOLLOW` and `O_CLOEXEC` always added).
    pub fn open(&self, name: impl AsRef<OsStr>, flags: OFlags, mode: u32) -> Result<File> {
        let name = name.as_ref();
        self.check("open", name)?;
        let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        openat(&self.fd, name, flags, Mode::from_raw_mode(mode))
            .map(File::from)
            .map_err(|e| self.err("open", name, e))
    }

    /// Creates the regular file `name` for writing; fails if anything is there already.
    pub fn create_file(&self, name: impl AsRef<OsStr>, mode: u32) -> Result<File> {
        let name = name.as_ref();
        self.open(name, OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL, mode)
    }

    /// The subdirectory `name`, which must be a directory (not a symlink to one).
    pub fn open_dir(&self, name: impl AsRef<OsStr>) -> Result<Dir<'r>> {
        let name = name.as_ref();
        self.check("open", name)?;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd =
            openat(&self.fd, name, flags, Mode::empty()).map_err(|e| self.err("open", name, e))?;
        Ok(Dir {
            root: self.root,
            fd,
            rel: self.path_of(name),
        })
    }

    /// Creates the directory `name` with exactly `mode` (whatever the umask).
    pub fn mkdir(&self, name: impl AsRef<OsStr>, mode: u32) -> Result<Dir<'r>> {
        let name = name.as_ref();
        self.check("mkdir", name)?;
        mkdirat(&self.fd, name, Mode::from_raw_mode(0o700))
            .map_err(|e| self.err("mkdir", name, e))?;
        let dir = self.open_dir(name)?;
        dir.chmod_self(mode)?;
        Ok(dir)
    }

    /// `ln -s target name`; the target is data, stored as written.
    pub fn symlink(&self, target: impl AsRef<OsStr>, name: impl AsRef<OsStr>) -> Result<()> {
        let name = name.as_ref();
        self.check("symlink", name)?;
        symlinkat(target.as_ref(), &self.fd, name).map_err(|e| self.err("symlink", name, e))
    }

    /// Hard-links `from_name` of `from` (not followed) as `name` here.
    pub fn hardlink(
        &self,
        from: &Dir<'_>,
        from_name: impl AsRef<OsStr>,
        name: impl AsRef<OsStr>,
    ) -> Result<()> {
        let from_name = from_name.as_ref();
        let name = name.as_ref();
        from.check("link", from_name)?;
        self.check("link", name)?;
        linkat(&from.fd, from_name, &self.fd, name, AtFlags::empty())
            .map_err(|e| self.err("link", name, e))
    }

    /// Renames `name` to `to_name` in `to`.
    pub fn rename(
        &self,
        name: impl AsRef<OsStr>,
        to: &Dir<'_>,
        to_name: impl AsRef<OsStr>,
    ) -> Result<()> {
        let name = name.as_ref();
        let to_name = to_name.as_ref();
        self.check("rename", name)?;
        to.check("rename", to_name)?;
        renameat(&self.fd, name, &to.fd, to_name).map_err(|e| self.err("rename", name, e))
    }

    /// Removes the non-directory `name`.
    pub fn unlink(&self, name: impl AsRef<OsStr>) -> Result<()> {
        let name = name.as_ref();
        self.check("unlink", name)?;
        unlinkat(&self.fd, name, AtFlags::empty()).map_err(|e| self.err("unlink", name, e))
    }

    /// Removes the empty directory `name`.
    pub fn rmdir(&self, name: impl AsRef<OsStr>) -> Result<()> {
        let name = name.as_ref();
        self.check("rmdir", name)?;
        unlinkat(&self.fd, name, AtFlags::REMOVEDIR).map_err(|e| self.err("rmdir", name, e))
    }

    /// Removes `name` whatever it is, a directory with everything in it; nothing there is
    /// fine. Symlinks inside are removed, never followed.
    pub fn remove_all(&self, name: impl AsRef<OsStr>) -> Result<()> {
        let name = name.as_ref();
        self.check("remove", name)?;
        remove_tree(self.fd.as_fd(), name.as_bytes()).map_err(|e| self.err("remove", name, e))
    }

    /// The names in the directory (not `.` and `..`), in the order the file system gives.
    pub fn read_dir(&self) -> Result<Vec<OsString>> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd =
            openat(&self.fd, ".", flags, Mode::empty()).map_err(|e| self.err("list", "", e))?;
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::new(fd).map_err(|e| self.err("list", "", e))? {
            let entry = entry.map_err(|e| self.err("list", "", e))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(OsString::from_vec(name.to_vec()));
            }
        }
        Ok(names)
    }

    /// The target of the symlink `name`.
    pub fn readlink(&self, name: impl AsRef<OsStr>) -> Result<OsString> {
        let name = name.as_ref();
        self.check("readlink", name)?;
        readlinkat(&self.fd, name, Vec::new())
            .map(|t| OsString::from_vec(t.into_bytes()))
            .map_err(|e| self.err("readlink", name, e))
    }

    /// `lchown`: owner of `name` itself, a symlink too.
    pub fn chown(&self, name: impl AsRef<OsStr>, uid: u32, gid: u32) -> Result<()> {
        let name = name.as_ref();
        self.check("chown", name)?;
        chownat(
            &self.fd,
            name,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.err("chown", name, e))
    }

    /// The full 12 mode bits of `name`; a symlink (which has no mode of its own) is refused
    /// with `EOPNOTSUPP`, never followed.
    pub fn chmod(&self, name: impl AsRef<OsStr>, mode: u32) -> Result<()> {
        let name = name.as_ref();
        let fd = self.open_path("chmod", name)?;
        let stat = fstat(&fd).map_err(|e| self.err("chmod", name, e))?;
        if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink {
            return Err(self.err("chmod", name, Errno::OPNOTSUPP));
        }
        chmod_fd(&fd, mode).map_err(|e| self.err("chmod", name, e))
    }

    /// Access and modification times of `name` itself, a symlink too.
    pub fn utimens(&self, name: impl AsRef<OsStr>, atime: Time, mtime: Time) -> Result<()> {
        let name = name.as_ref();
        self.check("utimens", name)?;
        utimensat(
            &self.fd,
            name,
            &stamps(atime, mtime),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.err("utimens", name, e))
    }

    /// Sets the extended attribute `key` of `name` itself (`lsetxattr`).
    pub fn set_xattr(&self, name: impl AsRef<OsStr>, key: &str, value: &[u8]) -> Result<()> {
        let name = name.as_ref();
        self.check("setxattr", name)?;
        lsetxattr(self.proc_path(name), key, value, XattrFlags::empty())
            .map_err(|e| self.err("setxattr", name, e))
    }

    /// The extended attribute `key` of `name` itself; `None` if it has none of that name.
    pub fn get_xattr(&self, name: impl AsRef<OsStr>, key: &str) -> Result<Option<Vec<u8>>> {
        let name = name.as_ref();
        self.check("getxattr", name)?;
        get_xattr(&self.proc_path(name), key, true).map_err(|e| self.err("getxattr", name, e))
    }

    /// The names of `name`'s extended attributes (`llistxattr`), as the kernel lists them.
    pub fn list_xattrs(&self, name: impl AsRef<OsStr>) -> Result<Vec<String>> {
        let name = name.as_ref();
        self.check("listxattr", name)?;
        list_xattrs(&self.proc_path(name), true).map_err(|e| self.err("listxattr", name, e))
    }

    /// Creates a fifo; a character or block device is refused with
    /// [`Error::DeviceRefused`], which callers turn into "skipped".
    pub fn mknod(&self, name: impl AsRef<OsStr>, node: Node, mode: u32) -> Result<()> {
        let name = name.as_ref();
        self.check("mknod", name)?;
        let (kind, major, minor) = match node {
            Node::Fifo => {
                mknodat(&self.fd, name, FileType::Fifo, Mode::from_raw_mode(mode), 0)
                    .map_err(|e| self.err("mknod", name, e))?;
                return Ok(());
            }
            Node::Char { major, minor } => (DeviceKind::Char, major, minor),
            Node::Block { major, minor } => (DeviceKind::Block, major, minor),
        };
        Err(Error::DeviceRefused {
            root: self.root.host().to_path_buf(),
            path: self.path_of(name),
            kind,
            major,
            minor,
        })
    }

    /// An overlayfs whiteout at `name`: a character device 0:0, the one device node that is
    /// created (it is inert: opening it fails, and it reaches no hardware).
    pub fn whiteout(&self, name: impl AsRef<OsStr>) -> Result<()> {
        let name = name.as_ref();
        self.check("whiteout", name)?;
        mknodat(
            &self.fd,
            name,
            FileType::CharacterDevice,
            Mode::empty(),
            makedev(0, 0),
        )
        .map_err(|e| self.err("whiteout", name, e))
    }

    /// Owner of the directory itself.
    pub fn chown_self(&self, uid: u32, gid: u32) -> Result<()> {
        chownat(
            &self.fd,
            "",
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            AtFlags::EMPTY_PATH,
        )
        .map_err(|e| self.err("chown", "", e))
    }

    /// Mode of the directory itself.
    pub fn chmod_self(&self, mode: u32) -> Result<()> {
        chmod_fd(&self.fd, mode).map_err(|e| self.err("chmod", "", e))
    }

    /// Times of the directory itself.
    pub fn utimens_self(&self, atime: Time, mtime: Time) -> Result<()> {
        utimensat(
            CWD,
            fd_path(&self.fd),
            &stamps(atime, mtime),
            AtFlags::empty(),
        )
        .map_err(|e| self.err("utimens", "", e))
    }

    /// Sets an extended attribute of the directory itself.
    pub fn set_xattr_self(&self, key: &str, value: &[u8]) -> Result<()> {
        rustix::fs::setxattr(fd_path(&self.fd), key, value, XattrFlags::empty())
            .map_err(|e| self.err("setxattr", "", e))
    }

    /// An extended attribute of the directory itself.
    pub fn get_xattr_self(&self, key: &str) -> Result<Option<Vec<u8>>> {
        get_xattr(Path::new(&fd_path(&self.fd)), key, false)
            .map_err(|e| self.err("getxattr", "", e))
    }

    /// The extended attribute names of the directory itself.
    pub fn list_xattrs_self(&self) -> Result<Vec<String>> {
        list_xattrs(Path::new(&fd_path(&self.fd)), false).map_err(|e| self.err("listxattr", "", e))
    }

    /// The descriptor (`O_PATH`), for `*at` calls of the caller's own.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// `name` through this process's descriptor table: the kernel finds the directory by its
    /// descriptor (never by a path that could have changed) and the `l*` calls leave `name`
    /// itself unfollowed.
    fn proc_path(&self, name: &OsStr) -> PathBuf {
        Path::new(&fd_path(&self.fd)).join(name)
    }
}

/// Removes `name` in `parent` and everything below it, by descriptors, never following a
/// symlink.
///
/// Iterative, with an explicit stack of the directories being emptied (one descriptor per
/// level, only ever one name given to the kernel): a tree thousands of levels deep, as a
/// `RUN mkdir -p` can make, never overflows the thread's stack.
fn remove_tree(parent: BorrowedFd<'_>, name: &[u8]) -> std::result::Result<(), Errno> {
    if unlink_non_dir(parent, name)? {
        return Ok(());
    }
    let mut stack = vec![Emptying::open(parent, name.to_vec())?];
    while let Some(level) = stack.last_mut() {
        if let Some(child) = level.names.next() {
            if !unlink_non_dir(level.fd.as_fd(), &child)? {
                let below = Emptying::open(level.fd.as_fd(), child)?;
                stack.push(below);
            }
            continue;
        }
        let Some(done) = stack.pop() else { break };
        let at = stack.last().map_or(parent, |l| l.fd.as_fd());
        match unlinkat(at, done.name.as_slice(), AtFlags::REMOVEDIR) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Unlinks `name` in `parent` unless it is a directory: whether it is gone now.
fn unlink_non_dir(parent: BorrowedFd<'_>, name: &[u8]) -> std::result::Result<bool, Errno> {
    match unlinkat(parent, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(true),
        Err(Errno::ISDIR) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A directory [`remove_tree`] is emptying: its descriptor, its name in its parent and the
/// names still in it.
struct Emptying {
    fd: OwnedFd,
    name: Vec<u8>,
    names: std::vec::IntoIter<Vec<u8>>,
}

impl Emptying {
    fn open(parent: BorrowedFd<'_>, name: Vec<u8>) -> std::result::Result<Emptying, Errno> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = openat(parent, name.as_slice(), flags, Mode::empty())?;
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&fd)? {
            let entry = entry?;
            let child = entry.file_name().to_bytes();
            if child != b"." && child != b".." {
                names.push(child.to_vec());
            }
        }
        Ok(Emptying {
            fd,
            name,
            names: names.into_iter(),
        })
    }
}

/// The `/proc` name of an open descriptor, which the kernel resolves to that very object.
pub(crate) fn fd_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// `chmod` of what `fd` (maybe `O_PATH`) holds, through its `/proc` name (`fchmod` refuses
/// `O_PATH` descriptors).
pub(crate) fn chmod_fd(fd: &OwnedFd, mode: u32) -> io::Result<()> {
    chmodat(
        CWD,
        fd_path(fd),
        Mode::from_raw_mode(mode & 0o7777),
        AtFlags::empty(),
    )
    .map_err(io::Error::from)
}

pub(crate) fn stamps(atime: Time, mtime: Time) -> Timestamps {
    let ts = |t: Time| Timespec {
        tv_sec: t.sec,
        tv_nsec: t.nsec as _,
    };
    Timestamps {
        last_access: ts(atime),
        last_modification: ts(mtime),
    }
}

/// The xattr `key` of `path` (`l*` when `nofollow`), `None` when it has none.
pub(crate) fn get_xattr(path: &Path, key: &str, nofollow: bool) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 256];
    loop {
        let got = if nofollow {
            lgetxattr(path, key, &mut buf[..])
        } else {
            rustix::fs::getxattr(path, key, &mut buf[..])
        };
        match got {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(Errno::NODATA) => return Ok(None),
            Err(Errno::RANGE) => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The xattr names of `path` (`l*` when `nofollow`).
pub(crate) fn list_xattrs(path: &Path, nofollow: bool) -> io::Result<Vec<String>> {
    let mut buf = vec![0u8; 1024];
    let n = loop {
        let got = if nofollow {
            llistxattr(path, &mut buf[..])
        } else {
            rustix::fs::listxattr(path, &mut buf[..])
        };
        match got {
            Ok(n) => break n,
            Err(Errno::RANGE) => buf.resize(buf.len() * 4, 0),
            Err(Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    };
    Ok(buf[..n]
        .split(|&b| b == 0)
        .filter(|k| !k.is_empty())
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect())
}

/// The extended attributes of the host path `path` itself (not followed), sorted by name;
/// none on a file system without them. For reading trees berth made or was given to read
/// (a build context, an unpacked layer): nothing here writes.
pub fn xattrs_of(path: &std::path::Path) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut names = vec![0u8; 1024];
    let n = loop {
        match llistxattr(path, &mut names[..]) {
            Ok(n) => break n,
            Err(Errno::RANGE) => names.resize(names.len() * 4, 0),
            Err(Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    };
    let mut out = Vec::new();
    for name in names[..n].split(|&b| b == 0).filter(|k| !k.is_empty()) {
        let mut value = vec![0u8; 256];
        loop {
            match lgetxattr(path, name, &mut value[..]) {
                Ok(len) => {
                    value.truncate(len);
                    out.push((name.to_vec(), value));
                    break;
                }
                // Removed meanwhile: it is not there.
                Err(Errno::NODATA) => break,
                Err(Errno::RANGE) => value.resize(value.len() * 4, 0),
                Err(e) => return Err(e.into()),
            }
        }
    }
    out.sort();
    Ok(out)
}
