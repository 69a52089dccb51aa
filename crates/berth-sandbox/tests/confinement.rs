//! What a RUN must not reach, tried from inside as an attacker would: host devices, new
//! namespaces with their capabilities, mounts, the kernel's key store. Each is refused
//! with the error a user would see from the command.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, symlink};
use std::path::{Path, PathBuf};

use berth_sandbox::{Mount, MountKind, RunResult, RunSpec, run};

/// A busybox root with the applets these tests use.
fn rootfs() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    test_support::busybox_rootfs(&root);
    for applet in ["mknod", "unshare", "mount", "grep", "head", "mkdir", "od"] {
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
fn run_cannot_make_namespaces_mount_or_use_the_key_store() {
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
    assert!(out.contains("NoNewPrivs:\t1\nSeccomp:\t2\n"), "{out}");
}
