//! The sandbox end to end, as root, in busybox root file systems.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_sandbox::{
    Mount, MountKind, NetworkMode, RunResult, RunSpec, SandboxError, User, resolve_user, run,
};

/// A busybox root with the applets these tests use and an /etc/group.
fn rootfs() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    test_support::busybox_rootfs(&root);
    for applet in [
        "hostname", "readlink", "pwd", "tr", "mount", "ip", "grep", "sleep", "touch", "mkdir",
        "kill", "sort",
    ] {
        symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    fs::write(
        root.join("etc/group"),
        "root:x:0:\nwheel:x:10:root,app\napp:x:1000:\naudio:x:29:app\n",
    )
    .unwrap();
    (dir, root)
}

fn sh(root: &Path, script: &str) -> RunSpec {
    RunSpec::new(root, vec!["/bin/sh".into(), "-c".into(), script.into()])
}

/// Runs `spec`, returning the result and all output.
fn go(spec: &RunSpec) -> (RunResult, String) {
    let mut out = Vec::new();
    let result = run(spec, &mut |b| out.extend_from_slice(b)).unwrap();
    (result, String::from_utf8(out).unwrap())
}

fn ok(spec: &RunSpec) -> String {
    let (result, out) = go(spec);
    assert_eq!(result.exit_code, 0, "output:\n{out}");
    out
}

/// Everything under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            out.push(path.strip_prefix(base).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                walk(base, &path, out);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn command_is_pid_1_with_its_hostname_proc_dev_and_exact_env() {
    let (_d, root) = rootfs();
    let mut spec = sh(
        &root,
        "echo pid=$$; echo host=$(hostname); echo x > /dev/null && echo null=ok; \
         echo exe=$(readlink /proc/1/exe); n=$(ls /proc | grep -c '^[0-9]'); \
         [ $n -le 4 ] && echo few-pids; echo dev: $(ls /dev); echo cwd=$(pwd); \
         tr '\\0' '\\n' < /proc/1/environ | sort; echo err >&2; cat; echo stdin=$?",
    );
    spec.hostname = "builder7".into();
    spec.env = vec![("FOO".into(), "bar baz".into()), ("A".into(), "1".into())];
    let out = ok(&spec);
    let expected = "pid=1\nhost=builder7\nnull=ok\nexe=/bin/busybox\nfew-pids\n\
        dev: fd full null ptmx pts random shm stderr stdin stdout tty urandom zero\ncwd=/\n\
        A=1\nFOO=bar baz\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
        err\nstdin=0\n";
    assert_eq!(out, expected);
}

#[test]
fn working_directory_is_created_and_kept() {
    let (_d, root) = rootfs();
    let mut spec = sh(&root, "pwd; echo hi > here");
    spec.cwd = "/work/app".into();
    assert_eq!(ok(&spec), "/work/app\n");
    let meta = fs::metadata(root.join("work/app")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o755);
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
    assert_eq!(fs::read(root.join("work/app/here")).unwrap(), b"hi\n");
}

#[test]
fn user_is_resolved_from_the_rootfs_and_applied() {
    let (_d, root) = rootfs();
    let user = resolve_user(&root, "app").unwrap();
    assert_eq!(
        user,
        User {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![10, 29]
        }
    );
    let mut spec = sh(
        &root,
        "id -u; id -g; id -G; id -un; touch /tmp/mine; grep -E '^Cap(Eff|Bnd)' /proc/self/status",
    );
    spec.user = user;
    assert_eq!(
        ok(&spec),
        "1000\n1000\n1000 10 29\napp\nCapEff:\t0000000000000000\nCapBnd:\t00000000a00425fb\n"
    );
    let meta = fs::metadata(root.join("tmp/mine")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1000, 1000));
}

#[test]
fn root_keeps_only_dockers_default_capabilities_less_mknod() {
    let (_d, root) = rootfs();
    let mut spec = sh(
        &root,
        "id -G; grep -E '^Cap(Eff|Prm|Inh|Bnd)' /proc/self/status",
    );
    spec.user = resolve_user(&root, "").unwrap();
    assert_eq!(
        ok(&spec),
        "0 10\nCapInh:\t0000000000000000\nCapPrm:\t00000000a00425fb\n\
         CapEff:\t00000000a00425fb\nCapBnd:\t00000000a00425fb\n"
    );
}

#[test]
fn resolve_user_follows_dockers_rules() {
    let (_d, root) = rootfs();
    let r = |u: &str| resolve_user(&root, u);
    assert_eq!(
        r("").unwrap(),
        User {
            uid: 0,
            gid: 0,
            additional_gids: vec![10]
        }
    );
    assert_eq!(r("1000").unwrap().additional_gids, vec![10, 29]);
    assert_eq!(
        r("4321").unwrap(),
        User {
            uid: 4321,
            gid: 0,
            additional_gids: vec![]
        }
    );
    assert_eq!(
        r("app:wheel").unwrap(),
        User {
            uid: 1000,
            gid: 10,
            additional_gids: vec![]
        }
    );
    assert_eq!(
        r("app:77").unwrap(),
        User {
            uid: 1000,
            gid: 77,
            additional_gids: vec![]
        }
    );
    assert_eq!(
        r("5:6").unwrap(),
        User {
            uid: 5,
            gid: 6,
            additional_gids: vec![]
        }
    );
    let e = r("nobody").unwrap_err().to_string();
    assert!(e.contains("\"nobody\"") && e.contains("/etc/passwd"), "{e}");
    let e = r("app:nogroup").unwrap_err().to_string();
    assert!(e.contains("\"nogroup\"") && e.contains("/etc/group"), "{e}");
}

#[test]
fn resolve_user_never_reads_the_hosts_files() {
    let (_d, root) = rootfs();
    let host = tempfile::tempdir().unwrap();
    fs::write(host.path().join("passwd"), "hostonly:x:7:7::/:/bin/sh\n").unwrap();
    fs::remove_file(root.join("etc/passwd")).unwrap();
    // An absolute symlink means the rootfs's own path, which does not exist.
    symlink(host.path().join("passwd"), root.join("etc/passwd")).unwrap();
    let e = resolve_user(&root, "hostonly").unwrap_err();
    assert!(matches!(e, SandboxError::UnknownUser { .. }), "{e}");
    // Without a passwd file, numeric users still work.
    assert_eq!(resolve_user(&root, "12").unwrap().uid, 12);
}

#[test]
fn failure_reports_exit_code_and_last_lines() {
    let (_d, root) = rootfs();
    let spec = sh(
        &root,
        "i=0; while [ $i -lt 12 ]; do i=$((i+1)); echo line$i; done; exit 3",
    );
    let (result, _) = go(&spec);
    assert_eq!(result.exit_code, 3);
    let expected: Vec<String> = (3..=12).map(|i| format!("line{i}")).collect();
    assert_eq!(result.tail, expected);
    let e = result.check(&spec.argv).unwrap_err().to_string();
    assert!(
        e.contains("exit code 3") && e.ends_with("line11\nline12"),
        "{e}"
    );
}

#[test]
fn missing_executable_is_a_clear_error() {
    let (_d, root) = rootfs();
    let mut spec = RunSpec::new(&root, vec!["nosuch".into()]);
    spec.env = vec![("PATH".into(), "/opt/bin:/bin".into())];
    let e = run(&spec, &mut |_| {}).unwrap_err();
    assert!(
        matches!(&e, SandboxError::CommandNotFound { program, path }
            if program == "nosuch" && path == "/opt/bin:/bin"),
        "{e}"
    );
    let spec = RunSpec::new(&root, vec!["/bin/nosuch".into()]);
    let e = run(&spec, &mut |_| {}).unwrap_err().to_string();
    assert!(
        e.contains("/bin/nosuch") && e.contains("No such file"),
        "{e}"
    );
    // Lookup happens inside the root: `sh` is found in the rootfs's /bin.
    let spec = RunSpec::new(&root, vec!["sh".into(), "-c".into(), "echo found".into()]);
    assert_eq!(ok(&spec), "found\n");
}

#[test]
fn network_none_has_only_loopback_up() {
    let (_d, root) = rootfs();
    let mut spec = sh(
        &root,
        "ip -o link | cut -d: -f2; ip -o link show lo | grep -c UP",
    );
    symlink("busybox", root.join("bin/cut")).unwrap();
    spec.network = NetworkMode::None;
    assert_eq!(ok(&spec), " lo\n1\n");
}

#[test]
fn extra_mounts_bind_readonly_tmpfs_and_files() {
    let (_d, root) = rootfs();
    let host = tempfile::tempdir().unwrap();
    fs::write(host.path().join("data.txt"), "from host\n").unwrap();
    let secret = host.path().join("secret");
    fs::write(&secret, "s3cr3t").unwrap();
    let mut spec = sh(
        &root,
        "cat /data/data.txt; echo x 2>/dev/null > /data/new; echo write=$?; \
         echo t > /scratch/file && cat /scratch/file; grep ' /scratch ' /proc/mounts | cut -d' ' -f3; \
         cat /run/secrets/token; echo; echo deep > /scratch/a/b/c && cat /scratch/a/b/c",
    );
    symlink("busybox", root.join("bin/cut")).unwrap();
    spec.mounts = vec![
        Mount {
            target: "/data".into(),
            kind: MountKind::Bind {
                source: host.path().into(),
                readonly: true,
            },
        },
        Mount {
            target: "/scratch".into(),
            kind: MountKind::Tmpfs {
                size: Some(1 << 20),
            },
        },
        Mount {
            target: "/run/secrets/token".into(),
            kind: MountKind::Bind {
                source: secret.clone(),
                readonly: true,
            },
        },
        Mount {
            target: "/scratch/a/b".into(),
            kind: MountKind::Tmpfs { size: None },
        },
    ];
    assert_eq!(ok(&spec), "from host\nwrite=1\nt\ntmpfs\ns3cr3t\ndeep\n");
    assert!(!host.path().join("new").exists());
    // Mount points the sandbox made are gone; nothing was written through to the root.
    for gone in [
        "data",
        "scratch",
        "run",
        "proc",
        "dev",
        "etc/hosts",
        "etc/resolv.conf",
    ] {
        assert!(!root.join(gone).exists(), "{gone} left in the rootfs");
    }
}

#[test]
fn generated_etc_files_are_seen_but_not_left_behind() {
    let (_d, root) = rootfs();
    let etc_mtime = fs::metadata(root.join("etc")).unwrap().mtime_nsec();
    let mut spec = sh(
        &root,
        "cat /etc/hosts /etc/resolv.conf; echo extra >> /etc/hosts",
    );
    spec.hosts = Some("127.0.0.1 localhost\n10.0.0.5 registry.local\n".into());
    spec.resolv_conf = Some("nameserver 10.0.0.53\n".into());
    assert_eq!(
        ok(&spec),
        "127.0.0.1 localhost\n10.0.0.5 registry.local\nnameserver 10.0.0.53\n"
    );
    assert!(!root.join("etc/hosts").exists());
    assert!(!root.join("etc/resolv.conf").exists());
    assert!(!root.join("proc").exists() && !root.join("dev").exists());
    assert_eq!(
        fs::metadata(root.join("etc")).unwrap().mtime_nsec(),
        etc_mtime
    );

    // Defaults: localhost lines with the host name.
    let mut spec = sh(&root, "cat /etc/hosts");
    spec.hostname = "box".into();
    assert_eq!(
        ok(&spec),
        "127.0.0.1\tlocalhost box\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    );

    // Existing files are covered during the run, untouched after.
    fs::write(root.join("etc/hosts"), "image's own\n").unwrap();
    assert_eq!(ok(&spec).lines().next(), Some("127.0.0.1\tlocalhost box"));
    assert_eq!(fs::read(root.join("etc/hosts")).unwrap(), b"image's own\n");
}

#[test]
fn escapes_are_contained_and_the_host_untouched() {
    let (_d, root) = rootfs();
    let marker = format!("berth-sandbox-escape-{}", std::process::id());
    let script = format!(
        "cd /; cd ..; cd ../..; echo x > /{marker}; echo root=$(ls / | grep -c {marker}); \
         mount -t tmpfs none /tmp 2>/dev/null; echo mount=$?; \
         v=$(cat /proc/sys/vm/swappiness); echo $v 2>/dev/null > /proc/sys/vm/swappiness; echo sysctl=$?; \
         echo keys=$(cat /proc/keys | wc -c) timers=$(cat /proc/timer_list | wc -c); \
         mkdir /proc/x 2>/dev/null; echo procdir=$?"
    );
    symlink("busybox", root.join("bin/wc")).unwrap();
    let out = ok(&sh(&root, &script));
    assert_eq!(
        out,
        "root=1\nmount=1\nsysctl=1\nkeys=0 timers=0\nprocdir=1\n"
    );
    assert!(
        !Path::new("/").join(&marker).exists(),
        "wrote to the host's /"
    );
    assert!(
        root.join(&marker).exists(),
        "the write landed in the rootfs"
    );
    // The tmpfs mount was refused, so /tmp is still the rootfs's.
    assert!(root.join("tmp").is_dir());
}

/// An overlay mount, unmounted on drop.
struct Overlay {
    _dir: tempfile::TempDir,
    lower: PathBuf,
    upper: PathBuf,
    merged: PathBuf,
}

impl Overlay {
    fn new(fill: impl FnOnce(&Path)) -> Overlay {
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("lower");
        fill(&lower);
        let [upper, work, merged] = ["upper", "work", "merged"].map(|n| dir.path().join(n));
        for d in [&upper, &work, &merged] {
            fs::create_dir(d).unwrap();
        }
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            upper.display(),
            work.display()
        );
        let status = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &options])
            .arg(&merged)
            .status()
            .unwrap();
        assert!(status.success());
        Overlay {
            _dir: dir,
            lower,
            upper,
            merged,
        }
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.merged).status();
    }
}

#[test]
fn overlay_upper_holds_only_what_the_command_wrote() {
    // An image with the usual mount points: nothing but the command's file changes.
    let overlay = Overlay::new(|lower| {
        test_support::busybox_rootfs(lower);
        for d in ["proc", "dev", "sys"] {
            fs::create_dir(lower.join(d)).unwrap();
        }
        fs::write(lower.join("etc/hosts"), "").unwrap();
        fs::write(lower.join("etc/resolv.conf"), "").unwrap();
    });
    let mut spec = sh(&overlay.merged, "echo built > /out.txt; cat /etc/motd");
    spec.network = NetworkMode::None;
    assert_eq!(ok(&spec), "hello from berth\n");
    assert_eq!(tree(&overlay.upper), vec!["out.txt"]);
    assert_eq!(fs::read(overlay.upper.join("out.txt")).unwrap(), b"built\n");

    // A bare image: the stubs are removed; /etc is at most copied up unchanged.
    let overlay = Overlay::new(test_support::busybox_rootfs);
    ok(&sh(&overlay.merged, "echo built > /out.txt"));
    let upper = tree(&overlay.upper);
    assert!(
        upper == vec!["out.txt"] || upper == vec!["etc", "out.txt"],
        "upper: {upper:?}"
    );
    let (lower_etc, merged_etc) = (
        fs::metadata(overlay.lower.join("etc")).unwrap(),
        fs::metadata(overlay.merged.join("etc")).unwrap(),
    );
    assert_eq!(
        (
            merged_etc.mtime(),
            merged_etc.mtime_nsec(),
            merged_etc.mode()
        ),
        (lower_etc.mtime(), lower_etc.mtime_nsec(), lower_etc.mode())
    );
}

/// Not a test of its own: run by `killing_the_builder_kills_the_command` in a child
/// process, it starts a long command and blocks.
#[test]
fn kill_helper() {
    let Ok(root) = std::env::var("BERTH_SANDBOX_KILL_ROOT") else {
        return;
    };
    let marker = std::env::var("BERTH_SANDBOX_KILL_MARKER").unwrap();
    let spec = sh(Path::new(&root), &format!("sleep 1000; : {marker}"));
    let _ = run(&spec, &mut |_| {});
}

/// Host processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn killing_the_builder_kills_the_command() {
    let (_d, root) = rootfs();
    let marker = format!("berth-kill-marker-{}", std::process::id());
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill_helper", "--test-threads=1"])
        .env("BERTH_SANDBOX_KILL_ROOT", &root)
        .env("BERTH_SANDBOX_KILL_MARKER", &marker)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |running: bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while processes_with(&marker).is_empty() == running {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out (running: {running})"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    wait_for(true);
    helper.kill().unwrap();
    helper.wait().unwrap();
    wait_for(false);
}

#[test]
fn bad_specs_fail_before_running_and_leave_no_stubs() {
    let (_d, root) = rootfs();
    let mut spec = sh(&root, "echo never");
    spec.mounts = vec![Mount {
        target: "/cache".into(),
        kind: MountKind::Bind {
            source: "/nonexistent/berth-cache".into(),
            readonly: false,
        },
    }];
    let e = run(&spec, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/berth-cache"), "{e}");

    let mut spec = sh(&root, "echo never");
    spec.cwd = "/etc/motd".into();
    let e = run(&spec, &mut |_| {}).unwrap_err().to_string();
    assert!(
        e.contains("/etc/motd") && e.contains("not a directory"),
        "{e}"
    );

    let host = tempfile::tempdir().unwrap();
    let mut spec = sh(&root, "echo never");
    spec.mounts = vec![
        Mount {
            target: "/src".into(),
            kind: MountKind::Bind {
                source: host.path().into(),
                readonly: true,
            },
        },
        Mount {
            target: "/src/sub".into(),
            kind: MountKind::Tmpfs { size: None },
        },
    ];
    let e = run(&spec, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("/src/sub") && e.contains("bind mount"), "{e}");
    assert!(!host.path().join("sub").exists());

    for gone in [
        "proc",
        "dev",
        "src",
        "cache",
        "etc/hosts",
        "etc/resolv.conf",
    ] {
        assert!(!root.join(gone).exists(), "{gone} left in the rootfs");
    }
}

#[test]
fn command_starts_with_default_signals_and_only_stdio_open() {
    let (_d, root) = rootfs();
    // Bit n-1 of a /proc status mask is signal n.
    let sigpipe = 1u64 << (rustix::process::Signal::PIPE.as_raw() - 1);
    let mask = |status: &str, name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        u64::from_str_radix(line[name.len()..].trim(), 16).unwrap()
    };
    let own = fs::read_to_string("/proc/self/status").unwrap();
    assert_ne!(
        mask(&own, "SigIgn:") & sigpipe,
        0,
        "the harness ignores SIGPIPE"
    );
    let spec = RunSpec::new(
        &root,
        ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]
            .map(String::from)
            .to_vec(),
    );
    let status = ok(&spec);
    assert_eq!(mask(&status, "SigIgn:") & sigpipe, 0, "{status}");
    assert_eq!(mask(&status, "SigBlk:"), 0, "{status}");

    // A descriptor the builder leaked without close-on-exec must not reach the command.
    let leaked = fs::File::open(root.join("etc/motd")).unwrap();
    rustix::io::fcntl_setfd(&leaked, rustix::io::FdFlags::empty()).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&leaked);
    let spec = sh(
        &root,
        &format!("for fd in 0 1 2 {fd}; do if [ -e /proc/$$/fd/$fd ]; then echo $fd; fi; done"),
    );
    assert_eq!(ok(&spec), "0\n1\n2\n");
}

#[test]
fn a_file_without_execute_permission_is_reported_as_denied() {
    let (_d, root) = rootfs();
    fs::write(root.join("bin/script"), "#!/bin/sh\necho never\n").unwrap();
    fs::set_permissions(root.join("bin/script"), fs::Permissions::from_mode(0o644)).unwrap();
    let spec = RunSpec::new(&root, vec!["/bin/script".into()]);
    let e = run(&spec, &mut |_| {}).unwrap_err();
    assert!(
        matches!(&e, SandboxError::Exec { program, source }
            if program == "/bin/script" && source.kind() == std::io::ErrorKind::PermissionDenied),
        "{e}"
    );
    // In a PATH search, a denied candidate is the better error than a later missing one.
    let mut spec = RunSpec::new(&root, vec!["script".into()]);
    spec.env = vec![("PATH".into(), "/bin:/opt/bin".into())];
    let e = run(&spec, &mut |_| {}).unwrap_err().to_string();
    assert!(
        e.contains("\"script\"") && e.contains("ermission denied"),
        "{e}"
    );
}

#[test]
fn an_id_the_kernel_reads_as_unchanged_is_refused() {
    let (_d, root) = rootfs();
    for user in [
        User {
            uid: u32::MAX,
            gid: 0,
            additional_gids: vec![],
        },
        User {
            uid: 1000,
            gid: u32::MAX,
            additional_gids: vec![],
        },
        User {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![10, u32::MAX],
        },
    ] {
        let mut spec = sh(&root, "echo never");
        spec.user = user;
        let e = run(&spec, &mut |_| {}).unwrap_err();
        assert!(
            matches!(&e, SandboxError::InvalidSpec { value, .. } if value == "4294967295"),
            "{e}"
        );
    }
    assert!(!root.join("proc").exists(), "stubs left in the rootfs");
}
