//! How the forked processes tell the caller that setup failed: one fixed-size record on a
//! close-on-exec pipe, naming the step, the item it was working on and the errno. A pipe
//! that closes empty means the command was started.

use std::fs::File;
use std::io::Read;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::io::Errno;

use crate::libc_calls;

/// Where setup failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Step {
    ParentGone = 1,
    Network,
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
    Seccomp,
    Exec,
}

impl Step {
    const ALL: [Step; 28] = [
        Step::ParentGone,
        Step::Network,
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
        Step::Seccomp,
        Step::Exec,
    ];

    fn from_u32(n: u32) -> Option<Step> {
        Step::ALL.into_iter().find(|s| *s as u32 == n)
    }
}

/// The item of [`Step::Exec`] when every candidate of the PATH search failed.
pub(crate) const EVERY_CANDIDATE: u32 = u32::MAX;

/// A setup failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    pub step: Step,
    /// Which of the step's items (mount, device node, exec candidate...) failed.
    pub item: u32,
    pub errno: Errno,
}

const LEN: usize = 12;

impl Failure {
    fn encode(self) -> [u8; LEN] {
        let mut record = [0u8; LEN];
        record[..4].copy_from_slice(&(self.step as u32).to_ne_bytes());
        record[4..8].copy_from_slice(&self.item.to_ne_bytes());
        record[8..].copy_from_slice(&self.errno.raw_os_error().to_ne_bytes());
        record
    }

    fn decode(record: [u8; LEN]) -> Option<Failure> {
        let word = |i: usize| [record[i], record[i + 1], record[i + 2], record[i + 3]];
        Some(Failure {
            step: Step::from_u32(u32::from_ne_bytes(word(0)))?,
            item: u32::from_ne_bytes(word(4)),
            errno: Errno::from_raw_os_error(i32::from_ne_bytes(word(8))),
        })
    }
}

/// Sends `failure` to the caller and exits; for the forked processes.
pub(crate) fn send(fd: BorrowedFd, failure: Failure) -> ! {
    // Nothing to do if the caller is gone: it would have nobody to tell.
    let _ = rustix::io::write(fd, &failure.encode());
    libc_calls::exit(127)
}

/// The failure the children reported, if any: waits for a record or for every writer to
/// be gone.
pub(crate) fn receive(pipe: OwnedFd) -> Option<Failure> {
    let mut record = [0u8; LEN];
    File::from(pipe).read_exact(&mut record).ok()?;
    Failure::decode(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_survives_the_pipe() {
        for step in Step::ALL {
            let failure = Failure {
                step,
                item: EVERY_CANDIDATE,
                errno: Errno::NOENT,
            };
            assert_eq!(Failure::decode(failure.encode()), Some(failure));
        }
        let unknown = [0u8; LEN];
        assert_eq!(Failure::decode(unknown), None);
    }

    #[test]
    fn a_pipe_closed_empty_reports_nothing() {
        let (read, write) = rustix::pipe::pipe().unwrap();
        drop(write);
        assert_eq!(receive(read), None);
    }
}
