//! The system calls rustix has no wrapper for, kept here so the rest of the sandbox speaks
//! rustix only.
//!
//! rustix offers `fork`, `execve`, `exit_group`, `sigaction` and `sigprocmask` solely in its
//! experimental `runtime` module, which is meant for libc replacements and documented as
//! behaving differently from libc; `close_range` it has not at all. The C library's versions
//! are the ones a process that keeps using the C library must call (its `fork` runs the
//! library's own atfork bookkeeping, so the child's C library stays consistent). Nothing
//! here allocates or takes a lock: all of it runs after `fork`.

use std::ffi::{CStr, CString, c_char};
use std::io;

use rustix::io::Errno;
use rustix::process::Pid;

/// Which side of a `fork` this process is on.
pub(crate) enum Forked {
    Child,
    Parent(Pid),
}

/// `fork()`.
///
/// # Safety
///
/// The caller may be multi-threaded: in the child, only async-signal-safe work is allowed
/// until `execve` or [`exit`] (no allocation, no locks another thread may have held).
pub(crate) unsafe fn fork() -> Result<Forked, Errno> {
    // SAFETY: forwarded to the caller, see above.
    match unsafe { libc::fork() } {
        -1 => Err(last_errno()),
        0 => Ok(Forked::Child),
        pid => Pid::from_raw(pid).map(Forked::Parent).ok_or(Errno::INVAL),
    }
}

/// A NUL-terminated array of pointers into strings it owns, as `execve` takes for the
/// arguments and the environment. The strings' bytes live on the heap, so moving the
/// array moves no byte a pointer points to.
pub(crate) struct CStrArray {
    /// Owns the bytes `pointers` points to; never read.
    _strings: Vec<CString>,
    pointers: Vec<*const c_char>,
}

impl CStrArray {
    pub(crate) fn new(strings: Vec<CString>) -> CStrArray {
        let pointers = strings
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        CStrArray {
            _strings: strings,
            pointers,
        }
    }
}

/// `execve(program, argv, env)`: returns only when the program could not be started.
pub(crate) fn execve(program: &CStr, argv: &CStrArray, env: &CStrArray) -> Errno {
    // SAFETY: both arrays are NUL-terminated and point into strings they keep alive.
    unsafe {
        libc::execve(
            program.as_ptr(),
            argv.pointers.as_ptr(),
            env.pointers.as_ptr(),
        )
    };
    last_errno()
}

/// `_exit(code)`: ends the process without the exit handlers and destructors that belong
/// to the process it was forked from.
pub(crate) fn exit(code: i32) -> ! {
    // SAFETY: `_exit` has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Closes every descriptor: a forked process that only waits holds nothing open, so a pipe
/// of another run it inherited closes when that run's own processes are done.
pub(crate) fn close_all_descriptors() {
    close_range(0, 0);
}

/// Marks every descriptor above standard error close-on-exec: the command inherits only
/// its standard input, output and error.
pub(crate) fn close_on_exec_above_stdio() {
    close_range(3, libc::CLOSE_RANGE_CLOEXEC);
}

fn close_range(first: libc::c_uint, flags: libc::c_uint) {
    // SAFETY: acts on this process's own descriptor table; no descriptor is used after.
    // A kernel without it (before 5.9, or 5.11 for the close-on-exec flag) leaves the
    // descriptors as they are: the builder opens its own close-on-exec, this is the second
    // line of defence against a descriptor some library left inheritable.
    unsafe { libc::syscall(libc::SYS_close_range, first, libc::c_uint::MAX, flags) };
}

/// Default dispositions for the signals the builder ignores (SIGPIPE), and an empty signal
/// mask, as a freshly started process has them: `execve` keeps both.
pub(crate) fn default_signals() -> Result<(), Errno> {
    // SAFETY: restoring the default disposition installs no handler; the set is initialised
    // by `sigemptyset` before it is read.
    unsafe {
        if libc::signal(libc::SIGPIPE, libc::SIG_DFL) == libc::SIG_ERR {
            return Err(last_errno());
        }
        let mut empty = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(empty.as_mut_ptr());
        if libc::sigprocmask(libc::SIG_SETMASK, empty.as_ptr(), std::ptr::null_mut()) != 0 {
            return Err(last_errno());
        }
    }
    Ok(())
}

/// Loads a seccomp filter into the calling thread (`seccomp(SECCOMP_SET_MODE_FILTER)`);
/// rustix has no wrapper. The caller holds CAP_SYS_ADMIN (or has set no_new_privs).
pub(crate) fn load_seccomp_filter(program: &[libc::sock_filter]) -> Result<(), Errno> {
    let len = u16::try_from(program.len()).map_err(|_| Errno::INVAL)?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points to `len` instructions that outlive the call; the kernel copies
    // the program and never writes through the pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if ret == 0 { Ok(()) } else { Err(last_errno()) }
}

fn last_errno() -> Errno {
    Errno::from_io_error(&io::Error::last_os_error()).unwrap_or(Errno::IO)
}
