//! What a RUN must not reach, tried from inside as an attacker would: host devices, new
//! namespaces with their capabilities, mounts, the kernel's key store. Each is refused
//! with the error a user would see from the command.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, symlink};
use std::path::{Path, PathBuf};

use berth_sandbox::{Mount, MountKind, NetworkMode, RunResult, RunSpec, run};

/// A busybox root with the applets these tests use.
fn rootfs() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    test_support::busybox_rootfs(&root);
    for applet in ["mknod", "unshare", "mount", "grep", "cp", "true"] {
        symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    (dir, root)
}

fn go(root: &Path, script: &str, mounts: Vec<Mount>) -> (RunResult, String) {
    let mut spec = RunSpec::new(root, vec!["/bin/sh".into(), "-c".into(), script.into()]);
    spec.mounts = mounts;
    let mut out = Vec::new();
    let result = run(&spec, &mut |b| out.extend_from_slice(b)).unwrap();
    (result, String::from_utf8_lossy(&out).into_owned())
}

/// Every character or block device under `dir` that is not an overlay whiteout (0/0).
fn live_devices(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let ft = meta.file_type();
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_block_device() || (ft.is_char_device() && meta.rdev() != 0) {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn run_cannot_create_devices_and_image_devices_open_nothing() {
    let (d, root) = rootfs();
    // A node the image itself brought (a layer may record one): /dev/null's numbers.
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("hostnull"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();
    let cache = d.path().join("cache");
    fs::create_dir(&cache).unwrap();
    let mounts = vec![Mount {
        target: "/cache".into(),
        kind: MountKind::Bind {
            source: cache.clone(),
            readonly: false,
        },
    }];
    let (result, out) = go(
        &root,
        "mknod /kvm c 10 232 && echo made-kvm; \
         mknod /loop0 b 7 0 && echo made-loop; \
         mknod /cache/kvm c 10 232 && echo made-in-cache; \
         mknod /dev/hwrng c 10 183 && echo made-in-dev; \
         echo x > /hostnull && echo opened-image-node; \
         mknod /fifo p && echo fifo-ok; \
         grep -E '^CapEff' /proc/self/status",
        mounts,
    );
    assert_eq!(result.exit_code, 0, "{out}");
    for refused in ["/kvm", "/loop0", "/cache/kvm", "/dev/hwrng"] {
        assert!(
            out.contains(&format!("mknod: {refused}: Operation not permitted")),
            "{refused}:\n{out}"
        );
    }
    assert!(
        out.contains("can't create /hostnull: Permission denied"),
        "{out}"
    );
    assert!(!out.contains("made-") && !out.contains("opened-"), "{out}");
    assert!(out.contains("fifo-ok"), "{out}");
    // Docker's default set less CAP_MKNOD (bit 27).
    assert!(out.contains("CapEff:\t00000000a00425fb"), "{out}");
    fs::remove_file(root.join("hostnull")).unwrap();
    assert_eq!(live_devices(d.path()), Vec::<PathBuf>::new());
}

#[test]
fn run_cannot_make_namespaces_or_mount() {
    let (_d, root) = rootfs();
    let (result, out) = go(
        &root,
        "unshare -Urm mount -t tmpfs none /tmp && echo mounted-in-userns; \
         mount -t tmpfs none /tmp && echo mounted; \
         mount --bind / /tmp && echo bound; \
         unshare -n true && echo unshared-net; \
         grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status",
        Vec::new(),
    );
    assert_eq!(result.exit_code, 0, "{out}");
    assert!(
        out.contains("unshare: unshare(0x10020000): Operation not permitted"),
        "{out}"
    );
    // busybox's words for EPERM from mount(2).
    assert_eq!(
        out.matches("mount: permission denied (are you root?)")
            .count(),
        2,
        "{out}"
    );
    assert!(
        out.contains("unshare: unshare(0x40000000): Operation not permitted"),
        "{out}"
    );
    assert!(!out.contains("mounted") && !out.contains("bound"), "{out}");
    assert!(!out.contains("unshared-net"), "{out}");
    assert!(out.contains("NoNewPrivs:\t0\nSeccomp:\t2\n"), "{out}");
}

/// A root whose `/usr` is the host's (read-only), for a Python to probe from inside.
fn python_rootfs() -> (tempfile::TempDir, PathBuf, Vec<Mount>) {
    let (d, root) = rootfs();
    for lib in ["lib", "lib64"] {
        if fs::symlink_metadata(Path::new("/").join(lib)).is_ok() {
            symlink(format!("usr/{lib}"), root.join(lib)).unwrap();
        }
    }
    let usr = Mount {
        target: "/usr".into(),
        kind: MountKind::Bind {
            source: "/usr".into(),
            readonly: true,
        },
    };
    (d, root, vec![usr])
}

/// Runs a Python program in the sandbox with `network`; its output.
fn python(root: &Path, mounts: &[Mount], network: NetworkMode, program: &str) -> String {
    let mut spec = RunSpec::new(
        root,
        vec!["/usr/bin/python3".into(), "-c".into(), program.into()],
    );
    spec.mounts = mounts.to_vec();
    spec.network = network;
    let mut out = Vec::new();
    let result = run(&spec, &mut |b| out.extend_from_slice(b)).unwrap();
    let out = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(result.exit_code, 0, "{out}");
    out
}

#[test]
fn run_cannot_use_the_key_store() {
    let (_d, root, mounts) = python_rootfs();
    let out = python(
        &root,
        &mounts,
        NetworkMode::None,
        "import ctypes, os\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, SYS_keyctl, SYS_add_key = 0, -3, 250, 248\n\
         r = libc.syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1)\n\
         print('keyctl', r, os.strerror(ctypes.get_errno()))\n\
         r = libc.syscall(SYS_add_key, b'user', b'berth', b'secret', 6, KEY_SPEC_SESSION_KEYRING)\n\
         print('add_key', r, os.strerror(ctypes.get_errno()))\n",
    );
    assert_eq!(
        out,
        "keyctl -1 Operation not permitted\nadd_key -1 Operation not permitted\n"
    );
}

/// A TCP server on `addr` that greets each connection with `greeting`.
fn greeter(addr: &str, greeting: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind((addr, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = std::io::Write::write_all(&mut conn, greeting.as_bytes());
        }
    });
    port
}

/// An abstract unix socket server (a host service such as a D-Bus or containerd socket).
fn abstract_greeter(name: &str) {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
    let listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = std::io::Write::write_all(&mut conn, b"host-abstract");
        }
    });
}

/// A global IPv4 address of this machine (not loopback), if it has one.
fn own_address() -> Option<String> {
    let out = std::process::Command::new("ip")
        .args(["-o", "-4", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let addr = text
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)?;
    Some(addr.split('/').next()?.to_string())
}

const PROBE: &str = r#"import socket
def tcp(host, port):
    s = socket.socket(); s.settimeout(5)
    try:
        s.connect((host, port)); return 'reached ' + s.recv(64).decode()
    except OSError as e:
        return 'refused: ' + (e.strerror or str(e))
def unix(name):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect('\0' + name); return 'reached ' + s.recv(64).decode()
    except OSError as e:
        return 'refused: ' + e.strerror
"#;

fn probe(loopback: u16, name: &str, outbound: Option<(&str, u16)>) -> String {
    let mut p = format!(
        "{PROBE}print('loopback', tcp('127.0.0.1', {loopback}))\nprint('abstract', unix('{name}'))\n"
    );
    if let Some((addr, port)) = outbound {
        p.push_str(&format!("print('outbound', tcp('{addr}', {port}))\n"));
    }
    p
}

#[test]
fn run_network_reaches_out_but_not_the_hosts_loopback_or_abstract_sockets() {
    let (_d, root, mounts) = python_rootfs();
    let loopback = greeter("127.0.0.1", "host-loopback");
    let name = format!("berth-test-{}", std::process::id());
    abstract_greeter(&name);
    let own = own_address();
    let outbound = own
        .as_deref()
        .map(|addr| (addr, greeter(addr, "host-service")));
    if outbound.is_none() {
        eprintln!("no global IPv4 address here: outbound access is not checked");
    }
    let program = probe(loopback, &name, outbound);

    // The default: a namespace of its own, outbound through pasta.
    let out = python(&root, &mounts, NetworkMode::default(), &program);
    let mut expected = "loopback refused: Connection refused\n\
                        abstract refused: Connection refused\n"
        .to_string();
    if outbound.is_some() {
        expected.push_str("outbound reached host-service\n");
    }
    assert_eq!(out, expected);

    // None: loopback only, nothing outside.
    let out = python(&root, &mounts, NetworkMode::None, &program);
    let mut expected = "loopback refused: Connection refused\n\
                        abstract refused: Connection refused\n"
        .to_string();
    if outbound.is_some() {
        expected.push_str("outbound refused: Network is unreachable\n");
    }
    assert_eq!(out, expected);

    // Host, on request only: the host's own services are there (the control for the above).
    let out = python(&root, &mounts, NetworkMode::Host, &program);
    assert!(
        out.starts_with("loopback reached host-loopback\nabstract reached host-abstract\n"),
        "{out}"
    );
}

#[test]
fn making_mounts_nodev_keeps_their_other_restrictions() {
    let (d, root) = rootfs();
    // A host directory on a noexec, nosuid file system, bound writable into the command.
    let host = d.path().join("noexec");
    fs::create_dir(&host).unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "noexec,nosuid,size=8m", "berth-test"])
        .arg(&host)
        .status()
        .unwrap();
    assert!(status.success());
    let mounts = vec![Mount {
        target: "/data".into(),
        kind: MountKind::Bind {
            source: host.clone(),
            readonly: false,
        },
    }];
    let (result, out) = go(
        &root,
        "cp /bin/busybox /data/tool && /data/tool true && echo executed; \
         grep ' /data ' /proc/self/mounts",
        mounts,
    );
    let _ = std::process::Command::new("umount").arg(&host).status();
    assert_eq!(result.exit_code, 0, "{out}");
    assert!(out.contains("/data/tool: Permission denied"), "{out}");
    assert!(!out.contains("executed"), "{out}");
    let options = out.lines().last().unwrap_or_default();
    for option in ["rw", "nosuid", "nodev", "noexec"] {
        assert!(
            options.split([' ', ',']).any(|o| o == option),
            "{option}: {out}"
        );
    }
}
