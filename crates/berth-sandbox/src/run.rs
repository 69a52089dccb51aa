//! The caller's side of a run: prepare, fork, stream the output, wait, explain, clean up.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::pipe::{PipeFlags, pipe_with};
use rustix::process::{Pid, Signal, getpid, kill_process};

use crate::child::{self, ChildFds};
use crate::error::SandboxError;
use crate::libc_calls::{self, Forked};
use crate::network::Outbound;
use crate::output::Tail;
use crate::plan::{DEV_NODES, ETC_FILES, Plan};
use crate::report::{self, EVERY_CANDIDATE, Failure, Step};
use crate::rootpath::Stubs;
use crate::spec::{NetworkMode, RunResult, RunSpec};

/// Runs `spec`'s command in its sandbox and waits for it, passing its output (stdout and
/// stderr, interleaved as written) to `output` as it comes.
///
/// A command that runs and fails is not an error: see [`RunResult::exit_code`] and
/// [`RunResult::check`]. Errors are for commands that could not be started (bad spec,
/// missing executable, setup failure). Mount points the sandbox created in the root file
/// system are removed before returning, whatever happened.
pub fn run(spec: &RunSpec, output: &mut dyn FnMut(&[u8])) -> Result<RunResult, SandboxError> {
    if spec.argv.is_empty() {
        return Err(SandboxError::EmptyCommand);
    }
    if !spec.cwd.starts_with('/') {
        return Err(SandboxError::InvalidSpec {
            what: "working directory",
            value: spec.cwd.clone(),
            reason: "it must be an absolute path",
        });
    }
    let root = fs::canonicalize(&spec.rootfs)
        .and_then(|root| match fs::metadata(&root)?.is_dir() {
            true => Ok(root),
            false => Err(io::Error::from(io::ErrorKind::NotADirectory)),
        })
        .map_err(|source| SandboxError::Rootfs {
            path: spec.rootfs.clone(),
            source,
        })?;
    let scratch = tempfile::Builder::new()
        .prefix("berth-sandbox-")
        .tempdir()
        .map_err(|source| SandboxError::Scratch {
            what: "scratch directory",
            source,
        })?;
    let mut stubs = Stubs::default();
    let result = Plan::new(spec, &root, scratch.path(), &mut stubs).and_then(|plan| {
        let network = match spec.network {
            NetworkMode::Outbound => Some(Outbound::start(scratch.path())?),
            NetworkMode::None | NetworkMode::Host => None,
        };
        execute(spec, &plan, network.as_ref().map(Outbound::netns), output)
    });
    stubs.remove(&root);
    result
}

fn execute(
    spec: &RunSpec,
    plan: &Plan,
    netns: Option<BorrowedFd<'_>>,
    output: &mut dyn FnMut(&[u8]),
) -> Result<RunResult, SandboxError> {
    let spawn = |step| {
        move |e: Errno| SandboxError::Spawn {
            step,
            source: e.into(),
        }
    };
    let pipe = || pipe_with(PipeFlags::CLOEXEC);
    let (out_r, out_w) = pipe().map_err(spawn("create the output pipe"))?;
    let (report_r, report_w) = pipe().map_err(spawn("create the report pipe"))?;
    let stdin = File::open("/dev/null").map_err(|e| SandboxError::Spawn {
        step: "open /dev/null",
        source: e,
    })?;
    let parent = getpid();
    // SAFETY: the child runs only `child::intermediate`, which makes system calls on the
    // prepared plan and never returns.
    let pid = match unsafe { libc_calls::fork() }.map_err(spawn("fork"))? {
        Forked::Child => {
            let fds = ChildFds {
                stdin: stdin.as_fd(),
                output: out_w.as_fd(),
                report: report_w.as_fd(),
                netns,
            };
            child::intermediate(plan, &fds, parent)
        }
        Forked::Parent(child) => child,
    };
    let mut reaper = Reaper(Some(pid));
    drop((out_w, report_w, stdin));

    let mut tail = Tail::default();
    let streamed = stream(out_r, |bytes| {
        tail.push(bytes);
        output(bytes)
    });
    let status = reaper.wait();
    if let Some(failure) = report::receive(report_r) {
        return Err(explain(spec, plan, failure));
    }
    streamed.map_err(|source| SandboxError::Output { source })?;
    let exit_code = status.map_err(spawn("wait for the command"))?;
    Ok(RunResult {
        exit_code,
        tail: tail.finish(),
    })
}

/// Reads the pipe to its end (every process of the namespace gone or done writing).
fn stream(pipe: OwnedFd, mut sink: impl FnMut(&[u8])) -> io::Result<()> {
    let mut pipe = File::from(pipe);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => sink(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Kills and reaps the sandbox if the run is abandoned (a panic in the output callback);
/// its first process dying takes the whole PID namespace with it.
struct Reaper(Option<Pid>);

impl Reaper {
    /// The command's exit code (see [`child::wait`]).
    fn wait(&mut self) -> Result<i32, Errno> {
        let pid = self.0.take().ok_or(Errno::CHILD)?;
        child::wait(pid)
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = kill_process(pid, Signal::KILL);
            let _ = child::wait(pid);
        }
    }
}

/// Turns a reported failure into an error naming what was being set up.
fn explain(spec: &RunSpec, plan: &Plan, failure: Failure) -> SandboxError {
    let Failure { step, item, errno } = failure;
    let program = spec.argv.first().cloned().unwrap_or_default();
    let text = match step {
        Step::Exec if item == EVERY_CANDIDATE && errno == Errno::NOENT => {
            return if program.contains('/') {
                SandboxError::Exec {
                    program,
                    source: errno.into(),
                }
            } else {
                SandboxError::CommandNotFound {
                    program,
                    path: plan.search_path.clone(),
                }
            };
        }
        Step::Exec => {
            let program = plan
                .candidates
                .get(item as usize)
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or(program);
            return SandboxError::Exec {
                program,
                source: errno.into(),
            };
        }
        Step::ParentGone => "stay attached to the builder process".to_string(),
        Step::Network => "join the run's network namespace".to_string(),
        Step::Unshare => {
            "create the mount, PID, IPC, UTS (and network) namespaces (RUN needs root)".to_string()
        }
        Step::Fork => "start the namespace's first process".to_string(),
        Step::Stdio => "connect standard input and output".to_string(),
        Step::Private => "make the mount namespace private".to_string(),
        Step::BindRoot if item == 0 => format!("bind {} onto itself", spec.rootfs.display()),
        Step::BindRoot => format!("make {} nodev", spec.rootfs.display()),
        Step::Proc => "mount /proc".to_string(),
        Step::ProcProtect => "protect /proc and /sys from writes".to_string(),
        Step::Sys => "mount /sys read-only".to_string(),
        Step::Dev => "mount a tmpfs on /dev".to_string(),
        Step::DevNode => format!(
            "create /dev/{}",
            DEV_NODES.get(item as usize).map_or("?", |d| d.0)
        ),
        Step::DevPts => "mount /dev/pts".to_string(),
        Step::DevShm => "mount /dev/shm".to_string(),
        Step::DevLink => "create the /dev symlinks".to_string(),
        Step::EtcBind => format!(
            "bind the generated {}",
            ETC_FILES.get(item as usize).unwrap_or(&"file")
        ),
        Step::Mount => match spec.mounts.get(item as usize) {
            Some(m) => format!("mount {:?} at {:?}", m.kind, m.target),
            None => "mount an extra mount".to_string(),
        },
        Step::Loopback => "bring up the loopback interface".to_string(),
        Step::Hostname => format!("set the host name {:?}", plan.hostname),
        Step::Pivot => format!("make {} the root (pivot_root)", spec.rootfs.display()),
        Step::Cwd => format!("change to the working directory {:?}", spec.cwd),
        Step::Capabilities => "drop capabilities to Docker's default set".to_string(),
        Step::Groups => format!("set supplementary groups {:?}", spec.user.additional_gids),
        Step::Gid => format!("set gid {}", spec.user.gid),
        Step::Uid => format!("set uid {}", spec.user.uid),
        Step::Signals => "reset signal handling".to_string(),
        Step::Seccomp => "load the system call filter".to_string(),
    };
    SandboxError::Setup {
        step: text,
        source: errno.into(),
    }
}
