//! The few metadata system calls std does not offer: owner and times without following a
//! symlink, device nodes.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
}

/// `lchown`.
pub fn lchown(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let p = c_path(path)?;
    // SAFETY: `p` is a valid NUL-terminated string for the duration of the call.
    let rc = unsafe { libc::lchown(p.as_ptr(), uid, gid) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `chmod` with the full 12 bits (setuid, setgid, sticky). Never call it on a symlink.
pub fn chmod(path: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
}

/// Sets access and modification times (seconds, nanoseconds) of an open file.
pub fn set_file_times(
    file: &std::fs::File,
    atime: (i64, i64),
    mtime: (i64, i64),
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let ts = |(sec, nsec): (i64, i64)| libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec as _,
    };
    let times = [ts(atime), ts(mtime)];
    // SAFETY: the descriptor is open for the call and `times` holds the two timespecs
    // futimens reads.
    let rc = unsafe { libc::futimens(file.as_raw_fd(), times.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets access and modification times (seconds, nanoseconds) without following a symlink.
pub fn set_times(path: &Path, atime: (i64, i64), mtime: (i64, i64)) -> io::Result<()> {
    let p = c_path(path)?;
    let ts = |(sec, nsec): (i64, i64)| libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec as _,
    };
    let times = [ts(atime), ts(mtime)];
    // SAFETY: `p` is NUL-terminated and `times` holds the two timespecs utimensat reads.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            p.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `mknod` for fifos and device nodes; `mode` carries the file type bits.
pub fn mknod(path: &Path, mode: u32, rdev: u64) -> io::Result<()> {
    let p = c_path(path)?;
    // SAFETY: `p` is a valid NUL-terminated string for the duration of the call.
    let rc = unsafe { libc::mknod(p.as_ptr(), mode as libc::mode_t, rdev as libc::dev_t) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets one extended attribute without following a symlink. Attributes the filesystem does
/// not support are skipped: a copy must not fail because the target lacks xattrs.
pub fn set_xattr(path: &Path, name: &[u8], value: &[u8]) -> io::Result<()> {
    let name = std::ffi::OsStr::from_bytes(name);
    match xattr::set(path, name, value) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => Ok(()),
        other => other,
    }
}
