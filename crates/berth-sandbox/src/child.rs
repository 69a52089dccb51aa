//! The code that runs after `fork`: only system calls on data prepared in [`Plan`], no
//! allocation, so that it is safe in a multi-threaded builder. Every path reaches the
//! kernel as a prepared `&CStr`, which rustix passes on without copying.
//!
//! Two processes: the first unshares the namespaces and forks again (a new PID namespace
//! applies to children only), then waits and exits with the command's status; the second
//! is PID 1 of the new namespace, sets up the root and becomes the command.

use std::ffi::CStr;
use std::os::fd::BorrowedFd;

use rustix::fs::{CWD, FileType, Mode, StatVfsMountFlags, mkdir, mknodat, stat, statvfs, symlink};
use rustix::io::Errno;
use rustix::mount::{
    MountFlags, MountPropagationFlags, UnmountFlags, mount, mount_bind_recursive, mount_change,
    mount_remount, unmount,
};
use rustix::process::{
    Pid, Signal, WaitOptions, chdir, getppid, pivot_root, set_parent_process_death_signal, umask,
    waitpid,
};
use rustix::system::sethostname;
use rustix::thread::{
    CapabilitySet, CapabilitySets, LinkNameSpaceType, clear_ambient_capability_set,
    move_into_link_name_space, remove_capability_from_bounding_set, set_capabilities,
    set_thread_gid, set_thread_groups, set_thread_uid, unshare_unsafe,
};

use crate::libc_calls::{self, Forked};
use crate::loopback;
use crate::plan::{MountStep, Plan, StepKind};
use crate::report::{self, EVERY_CANDIDATE, Failure, Step};
use crate::rootpath::Kind;

/// File descriptors the children use; all opened close-on-exec by the parent.
pub(crate) struct ChildFds<'a> {
    pub stdin: BorrowedFd<'a>,
    pub output: BorrowedFd<'a>,
    pub report: BorrowedFd<'a>,
    /// The network namespace to join (an outbound run's, made and connected beforehand).
    pub netns: Option<BorrowedFd<'a>>,
}

/// The first forked process. Never returns.
pub(crate) fn intermediate(plan: &Plan, fds: &ChildFds, parent: Pid) -> ! {
    let fail = |step, errno| {
        report::send(
            fds.report,
            Failure {
                step,
                item: 0,
                errno,
            },
        )
    };
    if let Err(e) = set_parent_process_death_signal(Some(Signal::KILL)) {
        fail(Step::ParentGone, e);
    }
    // The builder may have died before the death signal was armed; this process then
    // already belongs to another parent and nobody would kill it.
    if getppid() != Some(parent) {
        fail(Step::ParentGone, Errno::SRCH);
    }
    if let Some(netns) = fds.netns {
        if let Err(e) = move_into_link_name_space(netns, Some(LinkNameSpaceType::Network)) {
            fail(Step::Network, e);
        }
    }
    // SAFETY: `unshare` of namespaces is unsafe for what it does to other threads' view of
    // shared state; this process has a single thread, fresh from `fork`.
    if let Err(e) = unsafe { unshare_unsafe(plan.namespaces) } {
        fail(Step::Unshare, e);
    }
    // SAFETY: the child only makes system calls on prepared data (see `container`).
    match unsafe { libc_calls::fork() } {
        Err(e) => fail(Step::Fork, e),
        Ok(Forked::Child) => container(plan, fds),
        Ok(Forked::Parent(child)) => {
            // Hold nothing open: another run's pipe inherited by this fork would otherwise
            // stay open as long as this command runs.
            libc_calls::close_all_descriptors();
            libc_calls::exit(wait(child).unwrap_or(255))
        }
    }
}

/// Waits for `pid` to end: its exit status, or 128 + the number of the signal that killed
/// it, as a shell reports it. Allocates nothing, for use on both sides of `fork`.
pub(crate) fn wait(pid: Pid) -> Result<i32, Errno> {
    loop {
        match waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => {
                if let Some(code) = status.exit_status() {
                    return Ok(code);
                }
                if let Some(signal) = status.terminating_signal() {
                    return Ok(128 + signal);
                }
                // Stopped under a tracer: not over yet.
            }
            Ok(None) | Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// PID 1 of the new namespaces: builds the container's view, then becomes the command.
fn container(plan: &Plan, fds: &ChildFds) -> ! {
    let fail = |step, item, errno| report::send(fds.report, Failure { step, item, errno });
    let check = |r: Result<(), Errno>, step, item| {
        if let Err(e) = r {
            fail(step, item, e);
        }
    };
    check(
        set_parent_process_death_signal(Some(Signal::KILL)),
        Step::ParentGone,
        0,
    );
    umask(Mode::empty());
    check(stdio(fds), Step::Stdio, 0);

    let private = MountPropagationFlags::PRIVATE | MountPropagationFlags::REC;
    check(mount_change(c"/", private), Step::Private, 0);
    check(bind(&plan.rootfs, &plan.rootfs), Step::BindRoot, 0);
    // Device nodes in the image (recorded by a layer) open nothing from inside either.
    check(nodev(&plan.rootfs, false), Step::BindRoot, 1);
    check(
        mount(
            c"proc",
            plan.proc_dir.as_c_str(),
            c"proc",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
            None,
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
            MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
        check(
            mount(c"sysfs", sys.as_c_str(), c"sysfs", flags, None),
            Step::Sys,
            0,
        );
        for (i, path) in plan.sys_masked.iter().enumerate() {
            check(mask(plan, path), Step::ProcProtect, (200 + i) as u32);
        }
    }
    dev(plan, &check);
    for (i, (generated, target)) in plan.etc_binds.iter().enumerate() {
        let bound = bind(generated, target).and_then(|()| nodev(target, false));
        check(bound, Step::EtcBind, i as u32);
    }
    for (i, step) in plan.mounts.iter().enumerate() {
        check(extra_mount(step), Step::Mount, i as u32);
    }
    if plan.loopback_up {
        check(loopback::up(), Step::Loopback, 0);
    }
    check(sethostname(plan.hostname.as_bytes()), Step::Hostname, 0);

    // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only
    // the new root, with no directory needed inside it.
    check(chdir(plan.rootfs.as_c_str()), Step::Pivot, 0);
    check(pivot_root(c".", c"."), Step::Pivot, 1);
    check(unmount(c".", UnmountFlags::DETACH), Step::Pivot, 2);
    check(chdir(c"/"), Step::Pivot, 3);
    check(chdir(plan.cwd.as_c_str()), Step::Cwd, 0);

    // Before the capabilities go: loading a filter without no_new_privs takes
    // CAP_SYS_ADMIN. Nothing below is a call the filter refuses.
    check(plan.seccomp.load(), Step::Seccomp, 0);
    check(drop_bounding(plan.bounding_drop), Step::Capabilities, 0);
    // rustix sets the calling thread's ids, which are the process's here: a process fresh
    // from `fork` has a single thread.
    check(set_thread_groups(&plan.groups), Step::Groups, 0);
    check(set_thread_gid(plan.gid), Step::Gid, 0);
    check(set_thread_uid(plan.uid), Step::Uid, 0);
    // Root keeps Docker's set; anyone else has none (changing the uid away from 0 has
    // already emptied permitted and effective). One `capset` sets all three at once.
    let keep = if plan.uid.is_root() {
        plan.caps
    } else {
        CapabilitySet::empty()
    };
    let sets = CapabilitySets {
        effective: keep,
        permitted: keep,
        inheritable: CapabilitySet::empty(),
    };
    check(set_capabilities(None, sets), Step::Capabilities, 1);
    check(clear_ambient_capability_set(), Step::Capabilities, 2);

    umask(Mode::from_raw_mode(0o022));
    check(libc_calls::default_signals(), Step::Signals, 0);
    libc_calls::close_on_exec_above_stdio();
    exec(plan, fds)
}

fn stdio(fds: &ChildFds) -> Result<(), Errno> {
    rustix::stdio::dup2_stdin(fds.stdin)?;
    rustix::stdio::dup2_stdout(fds.output)?;
    rustix::stdio::dup2_stderr(fds.output)
}

fn bind(source: &CStr, target: &CStr) -> Result<(), Errno> {
    mount_bind_recursive(source, target)
}

fn readonly_bind(source: &CStr, target: &CStr) -> Result<(), Errno> {
    bind(source, target)?;
    mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, c"")
}

/// Makes the bind mount at `target` `nodev` (and read-only if asked): a device node in a
/// host directory shown to the command is never a way to the device. A remount replaces
/// all of a mount's flags, so the restrictions it has (from the file system it shows: a
/// `noexec`, `nosuid` or read-only host mount) are passed on again.
fn nodev(target: &CStr, readonly: bool) -> Result<(), Errno> {
    let has = statvfs(target)?.f_flag;
    let mut flags = MountFlags::BIND | MountFlags::NODEV;
    for (kept, flag) in [
        (StatVfsMountFlags::RDONLY, MountFlags::RDONLY),
        (StatVfsMountFlags::NOSUID, MountFlags::NOSUID),
        (StatVfsMountFlags::NOEXEC, MountFlags::NOEXEC),
        (StatVfsMountFlags::NOATIME, MountFlags::NOATIME),
        (StatVfsMountFlags::NODIRATIME, MountFlags::NODIRATIME),
    ] {
        if has.contains(kept) {
            flags |= flag;
        }
    }
    if readonly {
        flags |= MountFlags::RDONLY;
    }
    mount_remount(target, flags, c"")
}

/// Hides a host information file or directory, if the kernel has it.
fn mask(plan: &Plan, path: &CStr) -> Result<(), Errno> {
    match stat(path) {
        Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e),
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
            mount(c"tmpfs", path, c"tmpfs", MountFlags::RDONLY, None)
        }
        Ok(_) => bind(plan.host_dev_null.as_c_str(), path),
    }
}

/// A tmpfs /dev with the usual character devices, a private devpts and a /dev/shm.
fn dev(plan: &Plan, check: &dyn Fn(Result<(), Errno>, Step, u32)) {
    check(
        mount(
            c"tmpfs",
            plan.dev_dir.as_c_str(),
            c"tmpfs",
            MountFlags::NOSUID | MountFlags::STRICTATIME,
            c"mode=755,size=65536k",
        ),
        Step::Dev,
        0,
    );
    let rw = Mode::from_raw_mode(0o666);
    for (i, (path, dev)) in plan.dev_nodes.iter().enumerate() {
        check(
            mknodat(CWD, path.as_c_str(), FileType::CharacterDevice, rw, *dev),
            Step::DevNode,
            i as u32,
        );
    }
    let dir = Mode::from_raw_mode(0o755);
    check(mkdir(plan.dev_pts.as_c_str(), dir), Step::DevPts, 0);
    check(
        mount(
            c"devpts",
            plan.dev_pts.as_c_str(),
            c"devpts",
            MountFlags::NOSUID | MountFlags::NOEXEC,
            c"newinstance,ptmxmode=0666,mode=0620,gid=5",
        ),
        Step::DevPts,
        1,
    );
    check(mkdir(plan.dev_shm.as_c_str(), dir), Step::DevShm, 0);
    check(
        mount(
            c"shm",
            plan.dev_shm.as_c_str(),
            c"tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
            c"mode=1777,size=65536k",
        ),
        Step::DevShm,
        1,
    );
    for (i, (target, link)) in plan.dev_links.iter().enumerate() {
        check(
            symlink(target.as_c_str(), link.as_c_str()),
            Step::DevLink,
            i as u32,
        );
    }
}

fn extra_mount(step: &MountStep) -> Result<(), Errno> {
    for (path, kind) in &step.create {
        let made = match kind {
            Kind::Dir => mkdir(path.as_c_str(), Mode::from_raw_mode(0o755)),
            Kind::File => mknodat(
                CWD,
                path.as_c_str(),
                FileType::RegularFile,
                Mode::from_raw_mode(0o644),
                0,
            ),
        };
        match made {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e),
        }
    }
    match &step.kind {
        StepKind::Bind { source, readonly } => {
            bind(source, &step.target)?;
            nodev(&step.target, *readonly)
        }
        StepKind::Tmpfs { options } => mount(
            c"tmpfs",
            step.target.as_c_str(),
            c"tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
            options.as_c_str(),
        ),
    }
}

/// Removes each capability of `drop` from the bounding set, one `prctl` per capability.
fn drop_bounding(drop: CapabilitySet) -> Result<(), Errno> {
    let singles = (0..u64::BITS).map(|bit| CapabilitySet::from_bits_retain(1 << bit));
    for cap in singles.filter(|cap| drop.contains(*cap)) {
        remove_capability_from_bounding_set(cap)?;
    }
    Ok(())
}

/// Tries each candidate as `execvp` does; reports the most telling failure.
fn exec(plan: &Plan, fds: &ChildFds) -> ! {
    let mut denied = false;
    for (i, candidate) in plan.candidates.iter().enumerate() {
        match libc_calls::execve(candidate, &plan.argv, &plan.env) {
            Errno::NOENT | Errno::NOTDIR => {}
            Errno::ACCESS => denied = true,
            errno => report::send(
                fds.report,
                Failure {
                    step: Step::Exec,
                    item: i as u32,
                    errno,
                },
            ),
        }
    }
    let errno = if denied { Errno::ACCESS } else { Errno::NOENT };
    report::send(
        fds.report,
        Failure {
            step: Step::Exec,
            item: EVERY_CANDIDATE,
            errno,
        },
    )
}
