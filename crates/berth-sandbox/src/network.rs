//! The network of a [`NetworkMode::Outbound`] run: a network namespace of its own, connected
//! to the outside by pasta (from the passt project), a user-mode network stack that opens
//! ordinary sockets on the host for the connections the command makes. This is what
//! `docker build` gives a RUN by default (a namespace with outbound access): the host's
//! loopback services and its abstract unix sockets (which belong to a network namespace)
//! are out of reach, the internet is not.
//!
//! pasta is told to forward no port in either direction (`-t/-u/-T/-U none`: by default it
//! would make every port bound on the host's loopback reachable on the namespace's) and not
//! to map the gateway address to the host's loopback (`--no-map-gw`). The namespace gets
//! slirp4netns' addresses (10.0.2.100/24, gateway 10.0.2.2), not the host's, so the host's
//! own address is a destination like any other; IPv4 only, as Docker's default bridge.
//!
//! [`NetworkMode::Outbound`]: crate::NetworkMode::Outbound

use std::ffi::OsString;
use std::fs::{self, File};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags, open};
use rustix::io::{FdFlags, fcntl_setfd};
use rustix::process::{Signal, set_parent_process_death_signal};
use rustix::thread::{UnshareFlags, unshare_unsafe};

use crate::error::SandboxError;

/// The program, looked up in the builder's `PATH` (the `passt` package installs it).
const HELPER: &str = "pasta";
/// The namespace's side: its address, prefix length and gateway.
const ADDRESS: &str = "10.0.2.100";
const PREFIX: &str = "24";
const GATEWAY: &str = "10.0.2.2";
/// Where pasta answers DNS, forwarding to the host's first resolver (slirp4netns' address).
const DNS_FORWARDER: &str = "10.0.2.3";
/// How long pasta may take to configure the namespace.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A configured network namespace, with the pasta process serving it; pasta is stopped
/// when this is dropped (and dies with the builder's thread if that goes first).
pub(crate) struct Outbound {
    netns: OwnedFd,
    pasta: Child,
}

impl Outbound {
    /// Makes the namespace and starts pasta on it; `scratch` holds pasta's pid and log.
    pub(crate) fn start(scratch: &Path) -> Result<Outbound, SandboxError> {
        let program = find_helper().ok_or(SandboxError::NoNetworkHelper)?;
        let netns = new_namespace().map_err(|source| SandboxError::Network {
            what: "create a network namespace".into(),
            source,
        })?;
        let pid_file = scratch.join("pasta.pid");
        let log_path = scratch.join("pasta.log");
        let log = File::create(&log_path).map_err(|source| SandboxError::Network {
            what: format!("create {}", log_path.display()),
            source,
        })?;
        let raw = netns.as_raw_fd();
        let mut command = Command::new(&program);
        command
            // Configure the namespace's interface and routes; stay our child. `--runas 0`:
            // dropping to nobody, as pasta otherwise does for root, leaves it unable to join
            // the namespace.
            .args([
                "--config-net",
                "--foreground",
                "--quiet",
                "--runas",
                "0",
                "-4",
            ])
            .args([
                "--address",
                ADDRESS,
                "--netmask",
                PREFIX,
                "--gateway",
                GATEWAY,
            ])
            // DNS queries to the forwarder go to the host's first resolver (see resolv_conf).
            .args(["--dns-forward", DNS_FORWARDER])
            // Nothing of the host's loopback through the gateway address or a forwarded port.
            .args([
                "--no-map-gw",
                "-t",
                "none",
                "-u",
                "none",
                "-T",
                "none",
                "-U",
                "none",
            ])
            .arg("--pid")
            .arg(&pid_file)
            .arg("--netns")
            .arg(format!("/proc/self/fd/{raw}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // SAFETY: between fork and exec the closure makes two system calls and allocates
        // nothing: it hands pasta the namespace descriptor (open close-on-exec in the
        // builder) and ties pasta's life to the thread that started it.
        unsafe {
            command.pre_exec(move || {
                let fd = BorrowedFd::borrow_raw(raw);
                fcntl_setfd(fd, FdFlags::empty())?;
                set_parent_process_death_signal(Some(Signal::KILL))?;
                Ok(())
            });
        }
        let pasta = command.spawn().map_err(|source| SandboxError::Network {
            what: format!("start {}", program.display()),
            source,
        })?;
        let mut outbound = Outbound { netns, pasta };
        outbound.wait_ready(&pid_file, &log_path)?;
        Ok(outbound)
    }

    pub(crate) fn netns(&self) -> BorrowedFd<'_> {
        self.netns.as_fd()
    }

    /// pasta writes its pid file once the namespace's interface, address and routes are
    /// configured; it exits if it cannot.
    fn wait_ready(&mut self, pid_file: &Path, log: &Path) -> Result<(), SandboxError> {
        let started = Instant::now();
        loop {
            if fs::metadata(pid_file).is_ok_and(|m| m.len() > 0) {
                return Ok(());
            }
            let failed = |reason: String| SandboxError::NetworkHelper {
                reason,
                log: fs::read_to_string(log)
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| !l.starts_with("Failed to send") && !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n"),
            };
            match self.pasta.try_wait() {
                Ok(Some(status)) => return Err(failed(format!("it exited ({status})"))),
                Ok(None) if started.elapsed() > READY_TIMEOUT => {
                    return Err(failed(format!(
                        "it did not configure the namespace within {} s",
                        READY_TIMEOUT.as_secs()
                    )));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => return Err(failed(format!("cannot wait for it: {e}"))),
            }
        }
    }
}

impl Drop for Outbound {
    fn drop(&mut self) {
        let _ = self.pasta.kill();
        let _ = self.pasta.wait();
    }
}

/// The `/etc/resolv.conf` an outbound run gets: the host's, with its loopback resolvers
/// (a local cache such as systemd-resolved's 127.0.0.53, which the namespace's own loopback
/// does not have) replaced by pasta's forwarder, which passes queries on to the host's first
/// resolver. Docker replaces them too (with public resolvers).
pub(crate) fn resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut forwarder_written = false;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        let loopback = words.next() == Some("nameserver")
            && words
                .next()
                .and_then(|addr| addr.parse::<std::net::IpAddr>().ok())
                .is_some_and(|addr| addr.is_loopback());
        if !loopback {
            out.push_str(line);
            out.push('\n');
        } else if !forwarder_written {
            out.push_str(&format!("nameserver {DNS_FORWARDER}\n"));
            forwarder_written = true;
        }
    }
    out
}

/// The helper's path, if it is installed.
fn find_helper() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
    std::env::split_paths(&path)
        .map(|dir| dir.join(HELPER))
        .find(|candidate| {
            fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// A new, empty network namespace (only a loopback interface, down), held by a descriptor.
///
/// A thread of its own moves into it and opens it: `unshare` changes only the calling
/// thread's namespace, and that thread ends right after, so no other thread of the
/// builder ever runs in it.
fn new_namespace() -> std::io::Result<OwnedFd> {
    std::thread::spawn(|| {
        // SAFETY: the thread is our own and ends right after; nothing else runs on it.
        unsafe { unshare_unsafe(UnshareFlags::NEWNET) }?;
        let fd = open(
            "/proc/thread-self/ns/net",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(fd)
    })
    .join()
    .map_err(|_| std::io::Error::other("the namespace thread panicked"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolvers_become_the_forwarder_once() {
        let host =
            "# generated\nnameserver 127.0.0.53\nnameserver ::1\noptions edns0\nsearch lan\n";
        assert_eq!(
            resolv_conf(host),
            "# generated\nnameserver 10.0.2.3\noptions edns0\nsearch lan\n"
        );
        let host = "nameserver 192.0.2.53\nnameserver 2001:db8::53\n";
        assert_eq!(resolv_conf(host), host);
    }
}
