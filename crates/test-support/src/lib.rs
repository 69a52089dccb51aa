//! Fixtures for berth's tests: a `berth` runner with its own store, root file systems, free
//! loopback ports, and the real peer tools (distribution registry, skopeo, umoci, podman).
//!
//! A missing peer is a failed test, not a skipped one: `scripts/test` installs them all.

mod background;
mod debian;
mod fault_proxy;
pub mod languages;
#[cfg(feature = "registry")]
pub mod registry;
pub mod reports;
pub mod tree;
pub mod trivy;

pub use debian::{debian_rootfs, push_debian_base};
pub use fault_proxy::{Exchange, Fault, FaultProxy};

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `berth` binary under test, with a store of its own.
pub struct Berth {
    bin: PathBuf,
    pub root: PathBuf,
    /// Docker's config directory (`$DOCKER_CONFIG`): where credentials go.
    pub docker_config: Option<PathBuf>,
    /// A directory put first on `$PATH` (credential helpers).
    pub path_prefix: Option<PathBuf>,
}

impl Berth {
    /// `bin` is `env!("CARGO_BIN_EXE_berth")` of the calling test.
    pub fn new(bin: &str, root: &Path) -> Berth {
        Berth {
            bin: PathBuf::from(bin),
            root: root.to_path_buf(),
            docker_config: None,
            path_prefix: None,
        }
    }

    /// A registry client: berth with a store and a Docker config directory of its own in
    /// `dir`, named for the part it plays (`pusher`, `puller`).
    pub fn client(bin: &str, dir: &Path, name: &str) -> Berth {
        Berth {
            docker_config: Some(dir.join(format!("{name}-docker"))),
            ..Berth::new(bin, &dir.join(format!("{name}-store")))
        }
    }

    /// `berth scan TARGET --db DB`, run in `cwd` (no `.trivyignore` there unless a test writes
    /// one), its report dated by `SOURCE_DATE_EPOCH`; the flags follow.
    pub fn scan(&self, target: &str, db: &Path, cwd: &Path) -> Command {
        let mut c = self.command();
        c.current_dir(cwd)
            .args(["scan", target, "--db"])
            .arg(db)
            .env("SOURCE_DATE_EPOCH", "1704067200");
        c
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root);
        c.env_remove("SOURCE_DATE_EPOCH");
        if let Some(config) = &self.docker_config {
            c.env("DOCKER_CONFIG", config);
        }
        if let Some(prefix) = &self.path_prefix {
            let path = format!(
                "{}:{}",
                prefix.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            c.env("PATH", path);
        }
        c
    }

    /// Runs berth with `args` and `stdin` as its standard input; returns the output whatever
    /// the status.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("berth runs");
        child
            .stdin
            .take()
            .expect("standard input is piped")
            .write_all(stdin.as_bytes())
            .expect("berth reads its standard input");
        child.wait_with_output().expect("berth runs")
    }

    /// `berth login` with the password on standard input.
    pub fn login(&self, registry: &str, user: &str, password: &str) -> Output {
        self.run_with_stdin(
            &["login", "-u", user, "--password-stdin", registry],
            &format!("{password}\n"),
        )
    }

    /// Docker's config directory of a [`Berth::client`].
    pub fn docker_config_dir(&self) -> &Path {
        self.docker_config
            .as_deref()
            .expect("a client made by Berth::client has a Docker config directory")
    }

    /// The store holds no image, every blob in it is whole, and no partial file is left.
    pub fn assert_nothing_kept(&self) {
        assert_eq!(self.ok(&["images", "-q"]).trim(), "", "nothing is tagged");
        assert!(self.ok(&["fsck"]).contains("all good"));
        let ingest = self.root.join("ingest");
        let partial: Vec<_> = fs::read_dir(&ingest)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(partial.is_empty(), "partial files left: {partial:?}");
    }

    /// Runs berth with `args`; returns the output whatever the status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("berth runs")
    }

    /// Runs berth and insists it succeeds; returns standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "berth {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Runs berth and insists it fails with status 1 and a one-line error; returns the error.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "berth {args:?} should fail with 1; stdout: {} stderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8(out.stderr).expect("utf-8 errors");
        assert!(!stderr.contains("panicked"), "{stderr}");
        // Progress lines may come first; the error is one line, the last.
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("berth: "))
            .collect();
        assert_eq!(errors.len(), 1, "one error line expected: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().last(),
            Some(errors[0]),
            "{stderr}"
        );
        format!("{}\n", errors[0])
    }
}

/// Path of the static busybox the `busybox-static` package installs.
pub fn busybox() -> PathBuf {
    let p = PathBuf::from("/bin/busybox");
    assert!(
        p.is_file(),
        "/bin/busybox is missing: install the busybox-static package (scripts/test does)"
    );
    p
}

/// A small root file system: busybox with a few applet links, a config file, a hard link,
/// a setuid file, odd owners and a fifo.
pub fn busybox_rootfs(dir: &Path) {
    fs::create_dir_all(dir.join("bin")).unwrap();
    fs::copy(busybox(), dir.join("bin/busybox")).unwrap();
    for applet in ["sh", "echo", "cat", "ls", "id", "stat"] {
        symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
    fs::create_dir_all(dir.join("etc")).unwrap();
    fs::write(dir.join("etc/motd"), "hello from berth\n").unwrap();
    fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
    )
    .unwrap();
    fs::create_dir_all(dir.join("home/app")).unwrap();
    fs::write(dir.join("home/app/data"), "owned by app\n").unwrap();
    std::os::unix::fs::chown(dir.join("home/app"), Some(1000), Some(1000)).unwrap();
    std::os::unix::fs::chown(dir.join("home/app/data"), Some(1000), Some(1000)).unwrap();
    fs::set_permissions(dir.join("home/app/data"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::write(dir.join("bin/suid"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(dir.join("bin/suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::hard_link(dir.join("etc/motd"), dir.join("etc/motd.hard")).unwrap();
    fs::create_dir_all(dir.join("tmp")).unwrap();
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Fails the test with a clear message if a peer tool is missing.
pub fn require(tool: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed: run scripts/test, which installs the peer tools"
    );
}

/// An ECDSA P-256 key pair made by openssl (a key maker apart from berth), as PKCS#8 PEM
/// `DIR/NAME.key` and SPKI PEM `DIR/NAME.pub`; returns their paths.
pub fn openssl_key_pair(dir: &Path, name: &str) -> (String, String) {
    let key = dir.join(format!("{name}.key")).display().to_string();
    let public = dir.join(format!("{name}.pub")).display().to_string();
    run_ok(Command::new("openssl").args([
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &key,
    ]));
    run_ok(Command::new("openssl").args(["pkey", "-pubout", "-in", &key, "-out", &public]));
    (key, public)
}

/// Runs a command and insists it succeeds; returns standard output.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A distribution registry (`docker-registry` 2.8) on a free loopback port, stopped on drop.
pub struct Registry {
    child: Child,
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// With basic auth from an htpasswd file (bcrypt entries).
    pub fn start_with(htpasswd: Option<&Path>) -> Registry {
        require("docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let auth = htpasswd
            .map(|p| {
                format!(
                    "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                    p.display()
                )
            })
            .unwrap_or_default();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n{auth}http:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        fs::write(&config_path, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        let registry = Registry {
            child,
            addr,
            _dir: dir,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(&self.addr) {
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                // 200, or 401 when it wants credentials: either way it serves.
                if buf.starts_with("HTTP/1.0 200")
                    || buf.starts_with("HTTP/1.1 200")
                    || buf.contains(" 401 ")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the distribution registry did not start on {}", self.addr);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `berth registry serve` on a free loopback port, stopped (SIGTERM) on drop.
pub struct BerthRegistry {
    child: Option<Child>,
    bin: PathBuf,
    pub root: PathBuf,
    config: Option<PathBuf>,
    pub addr: String,
}

impl BerthRegistry {
    /// `bin` is `env!("CARGO_BIN_EXE_berth")`; `config` is TOML for `--config`, if any.
    pub fn start(bin: &str, root: &Path, config: Option<&str>) -> BerthRegistry {
        let config = config.map(|text| {
            let path = root.with_extension("registry.toml");
            fs::create_dir_all(root).unwrap();
            fs::write(&path, text).unwrap();
            path
        });
        let mut registry = BerthRegistry {
            child: None,
            bin: PathBuf::from(bin),
            root: root.to_path_buf(),
            config,
            addr: format!("127.0.0.1:{}", free_port()),
        };
        registry.restart();
        registry
    }

    /// Starts the server (again), on the same port and store.
    pub fn restart(&mut self) {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).args([
            "--log-level",
            "warn",
            "registry",
            "serve",
            "--addr",
            &self.addr,
        ]);
        if let Some(config) = &self.config {
            c.arg("--config").arg(config);
        }
        let child = c
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("berth registry starts");
        self.child = Some(child);
        wait_for_http(&self.addr);
    }

    /// kill -9: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGTERM, and wait for a clean exit; returns whether it exited successfully.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for BerthRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until the server listens on `addr` (it binds before it serves, so a connection
/// that is accepted will be answered, over HTTP or TLS).
fn wait_for_http(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on {addr}");
}

/// podman with its own storage under `dir`, set up to run here: runc (crun fails on this
/// kernel's hybrid cgroups), cgroupfs, no network, and limits the sandbox allows.
pub struct Podman {
    dir: PathBuf,
}

impl Podman {
    pub fn new(dir: &Path) -> Podman {
        require("podman");
        require("runc");
        Podman {
            dir: dir.to_path_buf(),
        }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(self.dir.join("storage"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
                "--runtime",
                "runc",
            ]);
        c
    }

    /// `podman run --rm IMAGE` with the flags this sandbox needs (add the command's args).
    pub fn run_command(&self, image: &str) -> Command {
        let mut c = self.command();
        c.args([
            "run",
            "--rm",
            "--network=none",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            image,
        ]);
        c
    }

    /// `podman run --rm` with the flags this sandbox needs.
    pub fn run_image(&self, image: &str, args: &[&str]) -> String {
        run_ok(self.run_command(image).args(args))
    }
}

/// A Docker daemon (Debian's `docker.io`, 20.10) with its own data, run and socket
/// directories, stopped on drop. Drive it with [`Dockerd::command`], Debian's 20.10 client.
pub struct Dockerd {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Dockerd {
    pub fn start() -> Dockerd {
        require("dockerd");
        assert!(
            Path::new("/usr/bin/docker").is_file(),
            "/usr/bin/docker is missing: install the docker.io package (scripts/test does)"
        );
        // Socket paths must stay short: keep everything in a short temporary directory.
        let dir = tempfile::Builder::new()
            .prefix("dk")
            .tempdir_in("/tmp")
            .unwrap();
        let socket = dir.path().join("d.sock");
        let log = fs::File::create(dir.path().join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("x"))
            .arg("--pidfile")
            .arg(dir.path().join("pid"))
            .arg("--host")
            .arg(format!("unix://{}", socket.display()))
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dockerd starts");
        let dockerd = Dockerd {
            child,
            socket,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = dockerd
                .command()
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return dockerd;
            }
            assert!(Instant::now() < deadline, "dockerd did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new("/usr/bin/docker");
        c.arg("-H").arg(format!("unix://{}", self.socket.display()));
        c
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SIGTERM lets dockerd unmount its layers and stop its containerd.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA and a server certificate it signed for `localhost` and 127.0.0.1, made with openssl:
/// returns (CA certificate, server certificate chain, server key). TLS clients built on webpki
/// refuse a self-signed CA used as the server's own certificate, so the two are separate.
pub fn tls_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    require("openssl");
    let p = |n: &str| dir.join(n).display().to_string();
    let openssl = |args: &[&str]| {
        run_ok(Command::new("openssl").args(args));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=berth test CA",
        "-keyout",
        &p("ca.key"),
        "-out",
        &p("ca.crt"),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        &p("server.key"),
        "-out",
        &p("server.csr"),
    ]);
    fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p("server.csr"),
        "-CA",
        &p("ca.crt"),
        "-CAkey",
        &p("ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &p("ext.cnf"),
        "-out",
        &p("server.crt"),
    ]);
    (
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
    )
}

/// The shared test corpus `name`: in ../shared/corpus beside the checkout, as CI lays it out,
/// or in $BERTH_CORPUS when that is set (a checkout elsewhere, such as a git worktree).
///
/// Absent, it is a failure naming the place, so that CI never passes without it; with
/// BERTH_ALLOW_MISSING_CORPUS=1 it is `None` instead, said on stderr, and the caller skips.
pub fn corpus(name: &str) -> Option<PathBuf> {
    let root = match std::env::var_os("BERTH_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    let dir = root.join(name);
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("BERTH_ALLOW_MISSING_CORPUS").as_deref() == Ok("1") {
        eprintln!(
            "corpus {} is absent; skipped (BERTH_ALLOW_MISSING_CORPUS=1)",
            dir.display()
        );
        return None;
    }
    panic!(
        "corpus {} is absent: this test needs ../shared/corpus beside the checkout, or \
         BERTH_CORPUS=DIR naming it (set BERTH_ALLOW_MISSING_CORPUS=1 to skip without it)",
        dir.display()
    );
}

/// The body of a JSON document as a value, for assertions.
pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}
