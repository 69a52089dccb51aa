//! Everything the forked processes need, computed beforehand: after `fork` in a
//! multi-threaded builder only async-signal-safe work is allowed, so no allocation, no
//! path building, no look-ups happen there.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::Dev;
use rustix::process::{Gid, Uid};
use rustix::thread::{CapabilitySet, UnshareFlags, capability_is_in_bounding_set};

use crate::error::SandboxError;
use crate::libc_calls::CStrArray;
use crate::network;
use crate::rootpath::{self, Kind, Resolved, Stubs};
use crate::seccomp::Filter;
use crate::spec::{DEFAULT_PATH, MountKind, NetworkMode, RunSpec};

/// Docker's default capabilities for a root process, less `CAP_MKNOD`.
///
/// Docker keeps `CAP_MKNOD` and relies on its device cgroup to make the nodes a container
/// creates unopenable; berth has no device cgroup, and a node a RUN made would end up in
/// the upper directory that becomes `build/layers/…`, live for anyone on the host. So a
/// RUN cannot create character or block devices at all (`mknod` fails with EPERM, as in
/// rootless BuildKit and Podman); FIFOs and sockets need no capability and still work.
const DEFAULT_CAPS: CapabilitySet = CapabilitySet::CHOWN
    .union(CapabilitySet::DAC_OVERRIDE)
    .union(CapabilitySet::FSETID)
    .union(CapabilitySet::FOWNER)
    .union(CapabilitySet::NET_RAW)
    .union(CapabilitySet::SETGID)
    .union(CapabilitySet::SETUID)
    .union(CapabilitySet::SETFCAP)
    .union(CapabilitySet::SETPCAP)
    .union(CapabilitySet::NET_BIND_SERVICE)
    .union(CapabilitySet::SYS_CHROOT)
    .union(CapabilitySet::KILL)
    .union(CapabilitySet::AUDIT_WRITE);

/// Kernel knobs under /proc made read-only, as Docker does.
const PROC_READONLY: [&str; 5] = ["bus", "fs", "irq", "sys", "sysrq-trigger"];
/// Host information under /proc hidden, as Docker does.
const PROC_MASKED: [&str; 10] = [
    "acpi",
    "asound",
    "interrupts",
    "kcore",
    "keys",
    "latency_stats",
    "sched_debug",
    "scsi",
    "timer_list",
    "timer_stats",
];
const SYS_MASKED: [&str; 2] = ["firmware", "devices/virtual/powercap"];

/// Character devices of the minimal /dev: name, major, minor.
pub(crate) const DEV_NODES: [(&str, u32, u32); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];
const DEV_LINKS: [(&str, &str); 5] = [
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
    ("pts/ptmx", "ptmx"),
];
pub(crate) const ETC_FILES: [&str; 2] = ["/etc/hosts", "/etc/resolv.conf"];

/// The prepared run.
pub(crate) struct Plan {
    pub rootfs: CString,
    pub namespaces: UnshareFlags,
    /// Whether the command has a network namespace of its own, whose loopback starts down.
    pub loopback_up: bool,
    pub proc_dir: CString,
    pub proc_readonly: Vec<CString>,
    pub proc_masked: Vec<CString>,
    pub sys_dir: Option<CString>,
    pub sys_masked: Vec<CString>,
    pub dev_dir: CString,
    pub dev_nodes: Vec<(CString, Dev)>,
    pub dev_pts: CString,
    pub dev_shm: CString,
    pub dev_links: Vec<(CString, CString)>,
    pub host_dev_null: CString,
    /// Generated file (outside the root) and its mount point, for each of [`ETC_FILES`].
    pub etc_binds: Vec<(CString, CString)>,
    pub mounts: Vec<MountStep>,
    pub hostname: String,
    pub cwd: CString,
    pub uid: Uid,
    pub gid: Gid,
    pub groups: Vec<Gid>,
    /// Supported capabilities outside Docker's set, dropped from the bounding set.
    pub bounding_drop: CapabilitySet,
    /// What a root command keeps: Docker's set, as far as the builder has it.
    pub caps: CapabilitySet,
    pub seccomp: Filter,
    pub argv: CStrArray,
    pub env: CStrArray,
    /// Paths `execve` tries in turn (the PATH search, done inside the new root).
    pub candidates: Vec<CString>,
    /// The PATH searched, for the error message.
    pub search_path: String,
}

/// One extra mount as the child performs it.
pub(crate) struct MountStep {
    pub target: CString,
    /// Mount points the child creates first (inside an earlier tmpfs), in order.
    pub create: Vec<(CString, Kind)>,
    pub kind: StepKind,
}

pub(crate) enum StepKind {
    Bind { source: CString, readonly: bool },
    Tmpfs { options: CString },
}

/// What an earlier mount lets later mounts create mount points in.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    /// A fresh tmpfs: the child may create in it.
    Fresh,
    /// Host content or a kernel file system: no.
    Closed,
}

impl Plan {
    /// Prepares `spec` against the canonical root `root`; `scratch` is a directory outside
    /// the root for the generated files; created mount points are recorded in `stubs`.
    pub(crate) fn new(
        spec: &RunSpec,
        root: &Path,
        scratch: &Path,
        stubs: &mut Stubs,
    ) -> Result<Plan, SandboxError> {
        let target_error = |target: &str, reason: String| SandboxError::Target {
            target: target.to_string(),
            rootfs: spec.rootfs.clone(),
            reason,
        };
        let host_dir = |path: &str, stubs: &mut Stubs| -> Result<PathBuf, SandboxError> {
            rootpath::prepare_host(root, path, Kind::Dir, stubs)
                .map_err(|reason| target_error(path, reason))
        };

        let env = environment(&spec.env)?;
        let search_path = env
            .iter()
            .rev()
            .find_map(|(k, v)| (k == "PATH").then(|| v.clone()))
            .unwrap_or_else(|| DEFAULT_PATH.to_string());
        let argv = spec
            .argv
            .iter()
            .map(|a| cstring("command argument", a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let program = spec.argv.first().ok_or(SandboxError::EmptyCommand)?;
        let candidates = exec_candidates(program, &search_path)?;

        // The working directory persists, as Docker's WORKDIR does.
        match rootpath::prepare(root, &spec.cwd, Kind::Dir, &[], None) {
            Ok(_) => {}
            Err(reason) => return Err(target_error(&spec.cwd, reason)),
        }

        let proc_host = host_dir("/proc", stubs)?;
        let dev_host = host_dir("/dev", stubs)?;
        let sys_host = rootpath::existing(root, "/sys").filter(|p| p.is_dir());

        let etc_binds = etc_files(spec, root, scratch, stubs)?;

        let mut stops: Vec<(PathBuf, Stop)> = vec![
            (proc_host.clone(), Stop::Closed),
            (dev_host.clone(), Stop::Fresh),
        ];
        if let Some(sys) = &sys_host {
            stops.push((sys.clone(), Stop::Closed));
        }
        let mut mounts = Vec::new();
        for m in &spec.mounts {
            if !m.target.starts_with('/') {
                return Err(target_error(
                    &m.target,
                    "mount targets must be absolute".into(),
                ));
            }
            let (kind, step_kind, stop) = match &m.kind {
                MountKind::Bind { source, readonly } => {
                    let meta = fs::metadata(source).map_err(|e| SandboxError::BindSource {
                        path: source.clone(),
                        source: e,
                    })?;
                    let kind = if meta.is_dir() { Kind::Dir } else { Kind::File };
                    let source = path_cstring("bind mount source", source)?;
                    let readonly = *readonly;
                    (kind, StepKind::Bind { source, readonly }, Stop::Closed)
                }
                MountKind::Tmpfs { size } => {
                    let options = match size {
                        Some(bytes) => format!("mode=1777,size={bytes}"),
                        None => "mode=1777".to_string(),
                    };
                    let options = cstring("tmpfs options", options.as_bytes())?;
                    (Kind::Dir, StepKind::Tmpfs { options }, Stop::Fresh)
                }
            };
            let stop_paths: Vec<PathBuf> = stops.iter().map(|(p, _)| p.clone()).collect();
            let resolved = rootpath::prepare(root, &m.target, kind, &stop_paths, Some(stubs))
                .map_err(|reason| target_error(&m.target, reason))?;
            let (host, create) = match resolved {
                Resolved::Host(host) if host == root => {
                    return Err(target_error(&m.target, "cannot mount over /".into()));
                }
                Resolved::Host(host) => (host, Vec::new()),
                Resolved::Inside { index, rest } => {
                    let (base, stop) = &stops[index];
                    if *stop == Stop::Closed && !rest.is_empty() {
                        return Err(target_error(
                            &m.target,
                            format!(
                                "it lies inside {}, which is a bind mount or a kernel file system",
                                base.display()
                            ),
                        ));
                    }
                    let mut create = Vec::new();
                    let mut path = base.clone();
                    for (i, name) in rest.iter().enumerate() {
                        path.push(name);
                        let k = if i + 1 == rest.len() { kind } else { Kind::Dir };
                        create.push((path_cstring("mount target", &path)?, k));
                    }
                    (path, create)
                }
            };
            stops.push((host.clone(), stop));
            mounts.push(MountStep {
                target: path_cstring("mount target", &host)?,
                create,
                kind: step_kind,
            });
        }

        let (bounding_drop, caps) = capabilities()?;
        let hostname = hostname(spec);
        if hostname.len() > 64 || hostname.contains('\0') {
            return Err(SandboxError::InvalidSpec {
                what: "hostname",
                value: hostname.to_string(),
                reason: "a host name is at most 64 bytes without NUL",
            });
        }
        let mut namespaces = UnshareFlags::NEWNS
            | UnshareFlags::NEWPID
            | UnshareFlags::NEWIPC
            | UnshareFlags::NEWUTS;
        // An outbound run's namespace is made beforehand, for pasta to attach to; the child
        // joins it instead.
        if spec.network == NetworkMode::None {
            namespaces |= UnshareFlags::NEWNET;
        }
        let under = |base: &Path, names: &[&str]| -> Result<Vec<CString>, SandboxError> {
            names
                .iter()
                .map(|n| path_cstring("path", &base.join(n)))
                .collect()
        };

        let env: Vec<CString> = env
            .iter()
            .map(|(k, v)| cstring("environment variable", format!("{k}={v}").as_bytes()))
            .collect::<Result<_, _>>()?;
        Ok(Plan {
            rootfs: path_cstring("root file system", root)?,
            namespaces,
            loopback_up: spec.network != NetworkMode::Host,
            proc_readonly: under(&proc_host, &PROC_READONLY)?,
            proc_masked: under(&proc_host, &PROC_MASKED)?,
            proc_dir: path_cstring("/proc", &proc_host)?,
            sys_masked: match &sys_host {
                Some(sys) => under(sys, &SYS_MASKED)?,
                None => Vec::new(),
            },
            sys_dir: sys_host
                .as_deref()
                .map(|p| path_cstring("/sys", p))
                .transpose()?,
            dev_nodes: DEV_NODES
                .iter()
                .map(|(name, major, minor)| {
                    Ok((
                        path_cstring("/dev", &dev_host.join(name))?,
                        rustix::fs::makedev(*major, *minor),
                    ))
                })
                .collect::<Result<_, SandboxError>>()?,
            dev_pts: path_cstring("/dev/pts", &dev_host.join("pts"))?,
            dev_shm: path_cstring("/dev/shm", &dev_host.join("shm"))?,
            dev_links: DEV_LINKS
                .iter()
                .map(|(target, name)| {
                    Ok((
                        cstring("link", target.as_bytes())?,
                        path_cstring("/dev", &dev_host.join(name))?,
                    ))
                })
                .collect::<Result<_, SandboxError>>()?,
            dev_dir: path_cstring("/dev", &dev_host)?,
            host_dev_null: cstring("path", b"/dev/null")?,
            etc_binds,
            mounts,
            hostname: hostname.to_string(),
            cwd: cstring("working directory", spec.cwd.as_bytes())?,
            uid: Uid::from_raw(id("user id", spec.user.uid)?),
            gid: Gid::from_raw(id("group id", spec.user.gid)?),
            groups: spec
                .user
                .additional_gids
                .iter()
                .map(|g| Ok(Gid::from_raw(id("supplementary group id", *g)?)))
                .collect::<Result<_, SandboxError>>()?,
            bounding_drop,
            caps,
            seccomp: Filter::build()?,
            argv: CStrArray::new(argv),
            env: CStrArray::new(env),
            candidates,
            search_path,
        })
    }
}

/// The container's host name: the spec's, or `berth`.
fn hostname(spec: &RunSpec) -> &str {
    if spec.hostname.is_empty() {
        "berth"
    } else {
        &spec.hostname
    }
}

/// `env` with later duplicates replacing earlier ones, and PATH added if missing.
fn environment(env: &[(String, String)]) -> Result<Vec<(String, String)>, SandboxError> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(env.len() + 1);
    for (k, v) in env {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            return Err(SandboxError::InvalidSpec {
                what: "environment variable name",
                value: k.clone(),
                reason: "names must be non-empty, without '=' or NUL",
            });
        }
        match out.iter_mut().find(|(name, _)| name == k) {
            Some(slot) => slot.1 = v.clone(),
            None => out.push((k.clone(), v.clone())),
        }
    }
    if !out.iter().any(|(k, _)| k == "PATH") {
        out.push(("PATH".to_string(), DEFAULT_PATH.to_string()));
    }
    Ok(out)
}

/// What `execve` tries: the program itself when it has a `/`, else each PATH entry.
fn exec_candidates(program: &str, search_path: &str) -> Result<Vec<CString>, SandboxError> {
    if program.is_empty() {
        return Err(SandboxError::EmptyCommand);
    }
    if program.contains('/') {
        return Ok(vec![cstring("command", program.as_bytes())?]);
    }
    search_path
        .split(':')
        .map(|dir| {
            let dir = if dir.is_empty() { "." } else { dir };
            cstring(
                "command",
                format!("{}/{program}", dir.trim_end_matches('/')).as_bytes(),
            )
        })
        .collect()
}

/// The generated /etc/hosts and /etc/resolv.conf, written to `scratch`, and their mount
/// points in the root.
fn etc_files(
    spec: &RunSpec,
    root: &Path,
    scratch: &Path,
    stubs: &mut Stubs,
) -> Result<Vec<(CString, CString)>, SandboxError> {
    let hostname = hostname(spec);
    let hosts = spec.hosts.clone().unwrap_or_else(|| {
        format!("127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    });
    let resolv = spec.resolv_conf.clone().unwrap_or_else(|| {
        let host = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        match spec.network {
            NetworkMode::Outbound => network::resolv_conf(&host),
            NetworkMode::None | NetworkMode::Host => host,
        }
    });
    let mut binds = Vec::new();
    for (path, content) in ETC_FILES.iter().zip([hosts, resolv]) {
        let name = path.trim_start_matches("/etc/");
        let generated = scratch.join(name);
        fs::write(&generated, content)
            .and_then(|()| fs::set_permissions(&generated, fs::Permissions::from_mode(0o644)))
            .map_err(|source| SandboxError::Scratch { what: path, source })?;
        let target = rootpath::prepare_host(root, path, Kind::File, stubs).map_err(|reason| {
            SandboxError::Target {
                target: path.to_string(),
                rootfs: spec.rootfs.clone(),
                reason,
            }
        })?;
        binds.push((
            path_cstring("generated file", &generated)?,
            path_cstring(path, &target)?,
        ));
    }
    Ok(binds)
}

/// The bounding-set capabilities to drop, and the set a root command keeps.
fn capabilities() -> Result<(CapabilitySet, CapabilitySet), SandboxError> {
    let permitted = rustix::thread::capabilities(None)
        .map_err(|e| SandboxError::Spawn {
            step: "read capabilities",
            source: e.into(),
        })?
        .permitted;
    Ok((
        supported_capabilities() - DEFAULT_CAPS,
        DEFAULT_CAPS & permitted,
    ))
}

/// Every capability the running kernel knows, including any newer than this build: the
/// kernel answers EINVAL when asked about the bounding set for a number past its last.
fn supported_capabilities() -> CapabilitySet {
    (0..u64::BITS)
        .map(|bit| CapabilitySet::from_bits_retain(1 << bit))
        .filter(|cap| capability_is_in_bounding_set(*cap).is_ok())
        .collect()
}

/// `id` if the kernel can take it: (uid_t)-1 means "leave unchanged" to the set*id calls.
fn id(what: &'static str, id: u32) -> Result<u32, SandboxError> {
    match id {
        u32::MAX => Err(SandboxError::InvalidSpec {
            what,
            value: id.to_string(),
            reason: "4294967295 is no id: it means \"unchanged\" to the kernel",
        }),
        id => Ok(id),
    }
}

fn cstring(what: &'static str, bytes: &[u8]) -> Result<CString, SandboxError> {
    CString::new(bytes).map_err(|_| SandboxError::InvalidSpec {
        what,
        value: String::from_utf8_lossy(bytes).replace('\0', "\\0"),
        reason: "it contains a NUL byte",
    })
}

fn path_cstring(what: &'static str, path: &Path) -> Result<CString, SandboxError> {
    cstring(what, path.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_later_wins_and_path_is_added() {
        let env = environment(&[
            ("A".into(), "1".into()),
            ("B".into(), "2".into()),
            ("A".into(), "3".into()),
        ])
        .unwrap();
        assert_eq!(
            env,
            vec![
                ("A".to_string(), "3".to_string()),
                ("B".to_string(), "2".to_string()),
                ("PATH".to_string(), DEFAULT_PATH.to_string())
            ]
        );
        assert!(environment(&[("A=B".into(), "x".into())]).is_err());
    }

    #[test]
    fn supported_capabilities_are_the_kernels() {
        let last: u32 = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let supported = supported_capabilities();
        assert_eq!(supported.bits(), u64::MAX >> (63 - last));
        let (drop, keep) = capabilities().unwrap();
        assert!(drop.intersection(DEFAULT_CAPS).is_empty());
        assert_eq!(drop | DEFAULT_CAPS, supported);
        assert!(DEFAULT_CAPS.contains(keep));
    }

    #[test]
    fn candidates_follow_path() {
        let c = exec_candidates("sh", "/usr/bin/::/bin").unwrap();
        let c: Vec<_> = c.iter().map(|c| c.to_str().unwrap()).collect();
        assert_eq!(c, ["/usr/bin/sh", "./sh", "/bin/sh"]);
        let c = exec_candidates("./run.sh", "/bin").unwrap();
        assert_eq!(c[0].to_str().unwrap(), "./run.sh");
    }
}
