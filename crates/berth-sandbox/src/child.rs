//! The code that runs after `fork`: only system calls on data prepared in [`Plan`], no
//! allocation, so that it is safe in a multi-threaded builder.
//!
//! Two processes: the first unshares the namespaces and forks again (a new PID namespace
//! applies to children only), then waits and exits with the command's status; the second
//! is PID 1 of the new namespace, sets up the root and becomes the command.

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use caps::CapSet;
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::unshare;
use nix::sys::prctl;
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal, sigprocmask};
use nix::sys::stat::{Mode, SFlag, mknod, stat, umask};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{
    ForkResult, Gid, Pid, Uid, chdir, fork, getppid, mkdir, pivot_root, setgid, setgroups,
    sethostname, setuid, symlinkat,
};

use crate::plan::{MountStep, Plan, StepKind};
use crate::rootpath::Kind;

/// File descriptors the children use; all opened close-on-exec by the parent.
pub(crate) struct ChildFds<'a> {
    pub stdin: BorrowedFd<'a>,
    pub output: BorrowedFd<'a>,
    pub report: BorrowedFd<'a>,
}

/// Where setup failed; sent to the parent with the index of the item and the errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Step {
    ParentGone = 1,
    Unshare,
    Fork,
    Stdio,
    Private,
    BindRoot,
    Proc,
    ProcProtect,
    Sys,
    Dev,
    DevNode,
    DevPts,
    DevShm,
    DevLink,
    EtcBind,
    Mount,
    Loopback,
    Hostname,
    Pivot,
    Cwd,
    Capabilities,
    Groups,
    Gid,
    Uid,
    Signals,
    Exec,
}

impl Step {
    const ALL: [Step; 26] = [
        Step::ParentGone,
        Step::Unshare,
        Step::Fork,
        Step::Stdio,
        Step::Private,
        Step::BindRoot,
        Step::Proc,
        Step::ProcProtect,
        Step::Sys,
        Step::Dev,
        Step::DevNode,
        Step::DevPts,
        Step::DevShm,
        Step::DevLink,
        Step::EtcBind,
        Step::Mount,
        Step::Loopback,
        Step::Hostname,
        Step::Pivot,
        Step::Cwd,
        Step::Capabilities,
        Step::Groups,
        Step::Gid,
        Step::Uid,
        Step::Signals,
        Step::Exec,
    ];

    pub(crate) fn from_u32(n: u32) -> Option<Step> {
        Step::ALL.into_iter().find(|s| *s as u32 == n)
    }
}

/// A setup failure as the parent reads it.
pub(crate) const REPORT_LEN: usize = 12;

/// The first forked process. Never returns.
pub(crate) fn intermediate(plan: &Plan, fds: &ChildFds, parent: Pid) -> ! {
    let fail = |step, item, errno| report(fds.report, step, item, errno);
    if let Err(e) = prctl::set_pdeathsig(Signal::SIGKILL) {
        fail(Step::ParentGone, 0, e);
    }
    if getppid() != parent {
        fail(Step::ParentGone, 0, Errno::ESRCH);
    }
    if let Err(e) = unshare(plan.namespaces) {
        fail(Step::Unshare, 0, e);
    }
    // SAFETY: the child only makes system calls on prepared data (see `container`).
    match unsafe { fork() } {
        Err(e) => fail(Step::Fork, 0, e),
        Ok(ForkResult::Child) => container(plan, fds),
        Ok(ForkResult::Parent { child }) => {
            // Hold nothing open: another run's pipe inherited by this fork would otherwise
            // stay open as long as this command runs.
            close_from(0, 0);
            loop {
                match waitpid(child, None) {
                    Ok(WaitStatus::Exited(_, code)) => exit(code),
                    Ok(WaitStatus::Signaled(_, sig, _)) => exit(128 + sig as i32),
                    Ok(_) | Err(Errno::EINTR) => continue,
                    Err(_) => exit(255),
                }
            }
        }
    }
}

/// PID 1 of the new namespaces: builds the container's view, then becomes the command.
fn container(plan: &Plan, fds: &ChildFds) -> ! {
    let fail = |step, item, errno| report(fds.report, step, item, errno);
    let check = |r: nix::Result<()>, step, item| {
        if let Err(e) = r {
            fail(step, item, e);
        }
    };
    check(prctl::set_pdeathsig(Signal::SIGKILL), Step::ParentGone, 0);
    umask(Mode::empty());
    check(stdio(fds), Step::Stdio, 0);

    check(
        mount(
            None::<&CStr>,
            c"/",
            None::<&CStr>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&CStr>,
        ),
        Step::Private,
        0,
    );
    check(bind(&plan.rootfs, &plan.rootfs), Step::BindRoot, 0);
    check(
        mount(
            Some(c"proc"),
            plan.proc_dir.as_c_str(),
            Some(c"proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&CStr>,
        ),
        Step::Proc,
        0,
    );
    for (i, path) in plan.proc_readonly.iter().enumerate() {
        if stat(path.as_c_str()).is_ok() {
            check(readonly_bind(path, path), Step::ProcProtect, i as u32);
        }
    }
    let masked = plan.proc_masked.iter().chain(plan.sys_masked.iter());
    for (i, path) in masked.enumerate() {
        check(mask(plan, path), Step::ProcProtect, (100 + i) as u32);
    }
    if let Some(sys) = &plan.sys_dir {
        let flags =
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        check(
            mount(
                Some(c"sysfs"),
                sys.as_c_str(),
                Some(c"sysfs"),
                flags,
                None::<&CStr>,
            ),
            Step::Sys,
            0,
        );
        for (i, path) in plan.sys_masked.iter().enumerate() {
            check(mask(plan, path), Step::ProcProtect, (200 + i) as u32);
        }
    }
    dev(plan, &check);
    for (i, (generated, target)) in plan.etc_binds.iter().enumerate() {
        check(bind(generated, target), Step::EtcBind, i as u32);
    }
    for (i, step) in plan.mounts.iter().enumerate() {
        check(extra_mount(step), Step::Mount, i as u32);
    }
    if plan.net_none {
        check(loopback_up(), Step::Loopback, 0);
    }
    check(sethostname(&plan.hostname), Step::Hostname, 0);

    // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only
    // the new root, with no directory needed inside it.
    check(chdir(plan.rootfs.as_c_str()), Step::Pivot, 0);
    check(pivot_root(c".", c"."), Step::Pivot, 1);
    check(umount2(c".", MntFlags::MNT_DETACH), Step::Pivot, 2);
    check(chdir(c"/"), Step::Pivot, 3);
    check(chdir(plan.cwd.as_c_str()), Step::Cwd, 0);

    for cap in &plan.bounding_drop {
        if caps::drop(None, CapSet::Bounding, *cap).is_err() {
            fail(Step::Capabilities, 0, Errno::last());
        }
    }
    check(setgroups(&plan.groups), Step::Groups, 0);
    check(setgid(Gid::from_raw(plan.gid)), Step::Gid, 0);
    check(setuid(Uid::from_raw(plan.uid)), Step::Uid, 0);
    let keep = if plan.uid == 0 {
        &plan.caps
    } else {
        &plan.no_caps
    };
    // Effective before permitted: effective must stay a subset of permitted.
    let sets = [
        (CapSet::Inheritable, &plan.no_caps),
        (CapSet::Effective, keep),
        (CapSet::Permitted, keep),
    ];
    for (set, value) in sets {
        if caps::set(None, set, value).is_err() {
            fail(Step::Capabilities, 1, Errno::last());
        }
    }
    if caps::clear(None, CapSet::Ambient).is_err() {
        fail(Step::Capabilities, 2, Errno::last());
    }

    umask(Mode::from_bits_truncate(0o022));
    check(default_signals(), Step::Signals, 0);
    close_from(3, libc::CLOSE_RANGE_CLOEXEC);
    exec(plan, fds)
}

fn stdio(fds: &ChildFds) -> nix::Result<()> {
    nix::unistd::dup2_stdin(fds.stdin)?;
    nix::unistd::dup2_stdout(fds.output)?;
    nix::unistd::dup2_stderr(fds.output)
}

fn bind(source: &CStr, target: &CStr) -> nix::Result<()> {
    mount(
        Some(source),
        target,
        None::<&CStr>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&CStr>,
    )
}

fn readonly_bind(source: &CStr, target: &CStr) -> nix::Result<()> {
    bind(source, target)?;
    mount(
        None::<&CStr>,
        target,
        None::<&CStr>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        None::<&CStr>,
    )
}

/// Hides a host information file or directory, if the kernel has it.
fn mask(plan: &Plan, path: &CStr) -> nix::Result<()> {
    match stat(path) {
        Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e),
        Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR => mount(
            Some(c"tmpfs"),
            path,
            Some(c"tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&CStr>,
        ),
        Ok(_) => bind(plan.host_dev_null.as_c_str(), path),
    }
}

/// A tmpfs /dev with the usual character devices, a private devpts and a /dev/shm.
fn dev(plan: &Plan, check: &dyn Fn(nix::Result<()>, Step, u32)) {
    check(
        mount(
            Some(c"tmpfs"),
            plan.dev_dir.as_c_str(),
            Some(c"tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            Some(c"mode=755,size=65536k"),
        ),
        Step::Dev,
        0,
    );
    let rw = Mode::from_bits_truncate(0o666);
    for (i, (path, dev)) in plan.dev_nodes.iter().enumerate() {
        check(
            mknod(path.as_c_str(), SFlag::S_IFCHR, rw, *dev),
            Step::DevNode,
            i as u32,
        );
    }
    let dir = Mode::from_bits_truncate(0o755);
    check(mkdir(plan.dev_pts.as_c_str(), dir), Step::DevPts, 0);
    check(
        mount(
            Some(c"devpts"),
            plan.dev_pts.as_c_str(),
            Some(c"devpts"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some(c"newinstance,ptmxmode=0666,mode=0620,gid=5"),
        ),
        Step::DevPts,
        1,
    );
    check(mkdir(plan.dev_shm.as_c_str(), dir), Step::DevShm, 0);
    check(
        mount(
            Some(c"shm"),
            plan.dev_shm.as_c_str(),
            Some(c"tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some(c"mode=1777,size=65536k"),
        ),
        Step::DevShm,
        1,
    );
    for (i, (target, link)) in plan.dev_links.iter().enumerate() {
        check(
            symlinkat(target.as_c_str(), nix::fcntl::AT_FDCWD, link.as_c_str()),
            Step::DevLink,
            i as u32,
        );
    }
}

fn extra_mount(step: &MountStep) -> nix::Result<()> {
    for (path, kind) in &step.create {
        let made = match kind {
            Kind::Dir => mkdir(path.as_c_str(), Mode::from_bits_truncate(0o755)),
            Kind::File => mknod(
                path.as_c_str(),
                SFlag::S_IFREG,
                Mode::from_bits_truncate(0o644),
                0,
            ),
        };
        match made {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
    }
    match &step.kind {
        StepKind::Bind { source, readonly } => {
            if *readonly {
                readonly_bind(source, &step.target)
            } else {
                bind(source, &step.target)
            }
        }
        StepKind::Tmpfs { options } => mount(
            Some(c"tmpfs"),
            step.target.as_c_str(),
            Some(c"tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(options.as_c_str()),
        ),
    }
}

/// Sets IFF_UP on `lo` of the fresh network namespace.
fn loopback_up() -> nix::Result<()> {
    // SAFETY: plain system calls on a local socket and a zeroed, NUL-terminated ifreq.
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            return Err(Errno::last());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let mut result = Errno::result(libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req));
        if result.is_ok() {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            result = Errno::result(libc::ioctl(sock, libc::SIOCSIFFLAGS, &req));
        }
        libc::close(sock);
        result.map(drop)
    }
}

/// Signal dispositions and mask as a fresh process has them (the builder ignores SIGPIPE).
fn default_signals() -> nix::Result<()> {
    // SAFETY: restoring the default disposition installs no handler.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }?;
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
}

/// Tries each candidate as `execvp` does; reports the most telling failure.
fn exec(plan: &Plan, fds: &ChildFds) -> ! {
    let mut denied = false;
    for (i, candidate) in plan.candidates.iter().enumerate() {
        // SAFETY: NUL-terminated arrays of pointers into the plan's live C strings.
        unsafe {
            libc::execve(
                candidate.as_ptr(),
                plan.argv_ptrs.as_ptr(),
                plan.env_ptrs.as_ptr(),
            )
        };
        match Errno::last() {
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES => denied = true,
            e => report(fds.report, Step::Exec, i as u32, e),
        }
    }
    let errno = if denied { Errno::EACCES } else { Errno::ENOENT };
    report(fds.report, Step::Exec, u32::MAX, errno)
}

/// Sends the failure to the parent and exits.
fn report(fd: BorrowedFd, step: Step, item: u32, errno: Errno) -> ! {
    let mut record = [0u8; REPORT_LEN];
    record[..4].copy_from_slice(&(step as u32).to_ne_bytes());
    record[4..8].copy_from_slice(&item.to_ne_bytes());
    record[8..].copy_from_slice(&(errno as i32).to_ne_bytes());
    // SAFETY: writes a stack buffer to a descriptor we own.
    unsafe { libc::write(fd.as_fd().as_raw_fd(), record.as_ptr().cast(), record.len()) };
    exit(127)
}

fn close_from(first: RawFd, flags: libc::c_uint) {
    // SAFETY: close_range on our own descriptor table.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            flags,
        )
    };
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit skips atexit handlers and destructors that belong to the parent.
    unsafe { libc::_exit(code) }
}
