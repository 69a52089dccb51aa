//! The system call filter a RUN command runs under: what Docker's default seccomp profile
//! refuses a container with Docker's default capabilities, refused the same way (EPERM,
//! the call fails and the command goes on; `clone3` ENOSYS, so the C library falls back to
//! `clone`, whose flags the filter can see).
//!
//! Docker's profile is an allow list of some 370 calls; this is the matching deny list,
//! written from what that profile leaves out for a container without `CAP_SYS_ADMIN`,
//! `CAP_SYS_MODULE`, `CAP_SYS_BOOT`, `CAP_SYS_TIME`, `CAP_SYS_PTRACE`,
//! `CAP_DAC_READ_SEARCH` or `CAP_SYS_NICE`. A deny list keeps every ordinary call working on
//! kernels newer than the list (a call added to Linux later is allowed, not refused) and
//! under qemu-user, which runs a foreign image's programs as host calls.
//!
//! libseccomp builds the program (the library runc builds Docker's filter with): it
//! resolves every name per architecture and covers the x86_64 kernel's other ABIs, i386 and
//! x32, whose numbers differ, so a 32-bit binary in an image cannot reach a refused call
//! through them. The program is built before `fork` and only loaded after it.

use std::io::{Read, Seek};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use rustix::fs::{MemfdFlags, memfd_create};
use rustix::io::Errno;

use crate::error::SandboxError;
use crate::libc_calls;

/// Refused with EPERM, as Docker's default profile refuses them.
const DENIED: &[&str] = &[
    // Mounts and namespaces (CAP_SYS_ADMIN in Docker's profile): a RUN sees the mounts the
    // sandbox made and no others, and makes no namespace where it would hold every
    // capability again (`unshare -Urm` then `mount`).
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "unshare",
    "setns",
    "sethostname",
    "setdomainname",
    "quotactl",
    "quotactl_fd",
    "lookup_dcookie",
    "fanotify_init",
    "syslog",
    "lsm_set_self_attr",
    // The kernel's key store is not namespaced: keys are shared with the host.
    "keyctl",
    "add_key",
    "request_key",
    // Kernel programs, tracing and code.
    "bpf",
    "perf_event_open",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "query_module",
    "get_kernel_syms",
    "uselib",
    // File handles open any file of a file system, ignoring the mount (the "shocker"
    // escape); CAP_DAC_READ_SEARCH in Docker's profile.
    "open_by_handle_at",
    // Host-wide state: time, swap, accounting, reboot, I/O ports.
    "settimeofday",
    "clock_settime",
    "stime",
    "swapon",
    "swapoff",
    "acct",
    "reboot",
    "iopl",
    "ioperm",
    "vm86",
    "vm86old",
    "nfsservctl",
    "ustat",
    "sysfs",
    "_sysctl",
    // Other processes' memory and descriptors (CAP_SYS_PTRACE in Docker's profile).
    "kcmp",
    "pidfd_getfd",
    "process_madvise",
    // NUMA policy (CAP_SYS_NICE in Docker's profile).
    "get_mempolicy",
    "set_mempolicy",
    "mbind",
    "move_pages",
    // Page-fault handling from user space widens kernel races; io_uring bypasses the
    // filter for the calls it performs. Neither is in Docker's profile.
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
];

/// `clone` flags that make a namespace; a `clone` with any of them is refused.
const NAMESPACE_FLAGS: [libc::c_int; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
];

/// A compiled filter, ready to load after `fork`.
pub(crate) struct Filter {
    program: Vec<libc::sock_filter>,
}

impl Filter {
    /// Builds the filter for the architectures of the running kernel.
    pub(crate) fn build() -> Result<Filter, SandboxError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| SandboxError::Seccomp {
            reason: format!("{what}: {e}"),
        };
        let mut ctx =
            ScmpFilterContext::new(ScmpAction::Allow).map_err(|e| fail("create the filter", &e))?;
        // Loaded with CAP_SYS_ADMIN held, so no_new_privs is not needed (and not wanted).
        ctx.set_ctl_nnp(false)
            .map_err(|e| fail("configure the filter", &e))?;
        for arch in companion_arches() {
            ctx.add_arch(arch)
                .map_err(|e| fail(&format!("add architecture {arch:?}"), &e))?;
        }
        let eperm = ScmpAction::Errno(libc::EPERM);
        for name in DENIED {
            // A name this libseccomp does not know is a call this kernel may not have
            // either; one it knows but an architecture lacks is skipped by libseccomp.
            let Ok(call) = ScmpSyscall::from_name(name) else {
                continue;
            };
            ctx.add_rule(eperm, call)
                .map_err(|e| fail(&format!("refuse {name}"), &e))?;
        }
        let clone = ScmpSyscall::from_name("clone").map_err(|e| fail("resolve clone", &e))?;
        for flag in NAMESPACE_FLAGS {
            let flag = flag as u64;
            let has = ScmpArgCompare::new(0, ScmpCompareOp::MaskedEqual(flag), flag);
            ctx.add_rule_conditional(eperm, clone, &[has])
                .map_err(|e| fail("refuse clone with namespace flags", &e))?;
        }
        // clone3 passes its flags in memory the filter cannot read: ENOSYS makes the C
        // library use clone, whose flags it can.
        if let Ok(clone3) = ScmpSyscall::from_name("clone3") {
            ctx.add_rule(ScmpAction::Errno(libc::ENOSYS), clone3)
                .map_err(|e| fail("refuse clone3", &e))?;
        }
        Ok(Filter {
            program: export(&ctx).map_err(|e| fail("export the program", &e))?,
        })
    }

    /// Loads the filter into the calling thread, which must hold `CAP_SYS_ADMIN` (the
    /// kernel's condition for a filter without no_new_privs). As in Docker, no_new_privs is
    /// left unset: a setuid program (`sudo`, `su`) still works for a non-root `USER`, and the
    /// filter stays on every process after it whatever privileges they gain. Allocates
    /// nothing: it runs after `fork`.
    pub(crate) fn load(&self) -> Result<(), Errno> {
        libc_calls::load_seccomp_filter(&self.program)
    }
}

/// The other system call ABIs of the native architecture, which a binary can use too.
fn companion_arches() -> Vec<ScmpArch> {
    match ScmpArch::native() {
        ScmpArch::X8664 => vec![ScmpArch::X86, ScmpArch::X32],
        ScmpArch::Aarch64 => vec![ScmpArch::Arm],
        _ => Vec::new(),
    }
}

/// The BPF program libseccomp generated, as the kernel takes it.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>, std::io::Error> {
    let fd = memfd_create("berth-seccomp", MemfdFlags::CLOEXEC)?;
    ctx.export_bpf(&fd).map_err(std::io::Error::other)?;
    let mut file = std::fs::File::from(fd);
    file.rewind()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    const SIZE: usize = std::mem::size_of::<libc::sock_filter>();
    if bytes.is_empty() || bytes.len() % SIZE != 0 {
        return Err(std::io::Error::other(format!(
            "libseccomp exported {} bytes, not whole instructions",
            bytes.len()
        )));
    }
    // Native byte order: the program was generated for this machine's kernel.
    Ok(bytes
        .chunks_exact(SIZE)
        .map(|i| libc::sock_filter {
            code: u16::from_ne_bytes([i[0], i[1]]),
            jt: i[2],
            jf: i[3],
            k: u32::from_ne_bytes([i[4], i[5], i[6], i[7]]),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads the filter into a thread of its own (a filter is per thread)
    /// and makes the calls there; the test process's other threads stay unfiltered.
    fn in_filtered_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let filter = Filter::build().unwrap();
        std::thread::spawn(move || {
            filter.load().unwrap();
            f()
        })
        .join()
        .unwrap()
    }

    fn errno_of(ret: libc::c_long) -> i32 {
        if ret == -1 {
            std::io::Error::last_os_error().raw_os_error().unwrap()
        } else {
            0
        }
    }

    #[test]
    fn refused_calls_fail_with_eperm_and_others_work() {
        let (keyctl, add_key, mount, unshare_user, clone_user, clone3, bpf, getpid, nnp) =
            in_filtered_thread(|| unsafe {
                (
                    errno_of(libc::syscall(libc::SYS_keyctl, 0, 0, 0, 0, 0)),
                    errno_of(libc::syscall(libc::SYS_add_key, 0, 0, 0, 0, 0)),
                    errno_of(libc::syscall(libc::SYS_mount, 0, 0, 0, 0, 0)),
                    errno_of(libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER)),
                    errno_of(libc::syscall(
                        libc::SYS_clone,
                        libc::CLONE_NEWUSER | libc::SIGCHLD,
                        0,
                        0,
                        0,
                        0,
                    )),
                    errno_of(libc::syscall(libc::SYS_clone3, 0, 0)),
                    errno_of(libc::syscall(libc::SYS_bpf, 0, 0, 0)),
                    libc::syscall(libc::SYS_getpid),
                    libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
                )
            });
        assert_eq!(keyctl, libc::EPERM);
        assert_eq!(add_key, libc::EPERM);
        assert_eq!(mount, libc::EPERM);
        assert_eq!(unshare_user, libc::EPERM);
        assert_eq!(clone_user, libc::EPERM);
        assert_eq!(clone3, libc::ENOSYS);
        assert_eq!(bpf, libc::EPERM);
        assert_eq!(getpid, std::process::id() as libc::c_long);
        assert_eq!(nnp, 0, "no_new_privs is left as Docker leaves it");
    }
}
