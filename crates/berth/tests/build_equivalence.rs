//! `berth build` held to BuildKit, case by case.
//!
//! Each directory of `tests/build_cases/` is a Dockerfile, its context and a `case.txt`
//! (format below). One dockerd (BuildKit 0.8 inside Debian's docker.io 20.10) and one
//! distribution registry serve every case; the base is busybox (or, for `base: debian`
//! cases, a Debian bookworm minbase made once by debootstrap), imported into berth, pushed
//! to the registry and pulled by dockerd, so both builders start from the same image.
//!
//! For every case, both builders build it twice, once to a directory tree and once to a
//! tagged image, and the test compares: the two trees (paths, types, modes, owners, bytes,
//! symlink targets, hard-link groups), the two configs (Env, Cmd, Entrypoint, ... OnBuild,
//! ArgsEscaped), the two histories (each entry's `created_by`, `comment` and whether it is an
//! empty layer; where BuildKit 0.8 words a line otherwise than current BuildKit, which berth
//! follows, only as [`BUILDKIT_08_WORDING`] allows), the case's own expectations, and
//! what the image prints when run: BuildKit's image under `docker run`, berth's (pushed to
//! the registry) under `docker run` and under podman. Cases BuildKit 20.10's built-in
//! Dockerfile frontend cannot build (no `# syntax=` image can be pulled here) are marked
//! `berth-only` and hold berth to their expectations alone. Every failure of every case is
//! collected and reported at the end.
//!
//! `case.txt`, one directive a line (`#` starts a comment):
//!   arg: K=V                     --build-arg K=V for both builders
//!   target: STAGE                --target STAGE
//!   secret: id=ID,src=FILE       --secret, FILE relative to the case directory
//!   secret-text: TEXT            bytes that must be in no layer, config or history
//!   parent: DIR                  build DIR first (FROM the base); this case is built FROM it
//!   base: debian                 the base is Debian bookworm (debootstrap minbase, made once
//!                                and cached under the target dir), not busybox
//!   prepare: SHELL               run in the context copy first (modes, links, names git can't keep)
//!   berth-only: REASON           BuildKit can't build this case
//!   buildkit-bug: /P REASON      BuildKit 0.8 gets /P wrong: only berth is held to /P
//!   expect-file: /P MODE U:G = CONTENT    (CONTENT with \n escapes)
//!   expect-dir: /P MODE U:G
//!   expect-link: /P -> TARGET
//!   expect-hardlink: /P /Q ...
//!   expect-absent: /P
//!   again-arg: K=V               an extra --build-arg for a second build (to make a RUN run again)
//!   again-file: /P = CONTENT     the second build's tree holds this (cache mounts persist)
//!   run: LINE                    the image's default command prints these lines
//! In `expect-*` paths and link targets, `\xNN` is the byte NN (names that are not UTF-8).
//! A Dockerfile's `{{BASE}}` becomes the base's reference (BuildKit 20.10 expands no ARG in
//! `COPY --from`).
//!
//! BERTH_EQUIV_CASES=SUBSTRING runs only the cases whose name contains it.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;
use test_support::tree::{self, Kind, Tree};
use test_support::{
    Berth, Dockerd, Podman, Registry, busybox, busybox_rootfs, push_debian_base, run_ok,
};

#[derive(Default, Debug)]
struct Case {
    name: String,
    dir: PathBuf,
    args: Vec<String>,
    target: Option<String>,
    secrets: Vec<String>,
    secret_texts: Vec<String>,
    parent: Option<String>,
    debian: bool,
    prepare: Vec<String>,
    berth_only: Option<String>,
    buildkit_bugs: Vec<String>,
    expects: Vec<Expect>,
    again: Vec<(String, String)>,
    again_args: Vec<String>,
    run: Vec<String>,
}

#[derive(Debug)]
enum Expect {
    File {
        path: String,
        mode: u32,
        owner: (u32, u32),
        content: String,
    },
    Dir {
        path: String,
        mode: u32,
        owner: (u32, u32),
    },
    Link {
        path: String,
        target: String,
    },
    Hardlink(Vec<String>),
    Absent(String),
}

/// What a builder made, from its tree, its `inspect` output and its saved image: fails if a
/// case's secret shows up in any layer, the config, the history or the inspect output.
fn built(
    case: &Case,
    tree: Tree,
    inspector: &str,
    inspect_text: &str,
    saved: &Path,
) -> Result<Built, String> {
    let inspect: Value =
        serde_json::from_str(inspect_text).map_err(|e| format!("{inspector}: {e}"))?;
    let (history, mut leaks) = saved_image(saved, &case.secret_texts)?;
    for t in &case.secret_texts {
        if inspect_text.contains(t.as_str()) {
            leaks.push(format!("secret {t:?} found in {inspector}"));
        }
    }
    if !leaks.is_empty() {
        return Err(leaks.join("\n"));
    }
    Ok(Built {
        tree,
        config: inspect[0]["Config"].clone(),
        history,
    })
}

fn unescape(s: &str) -> String {
    s.replace("\\n", "\n").replace("\\t", "\t")
}

/// A path or link target of an expectation as bytes: each `\xNN` is the byte NN.
fn name_bytes(text: &str) -> OsString {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        let byte = tail
            .strip_prefix(b"x")
            .and_then(|hex| hex.get(..2))
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match byte {
            Some(byte) if first == b'\\' => {
                out.push(byte);
                rest = &tail[3..];
            }
            _ => {
                out.push(first);
                rest = tail;
            }
        }
    }
    OsString::from_vec(out)
}

fn parse_mode_owner(mode: &str, owner: &str) -> Result<(u32, (u32, u32)), String> {
    let mode = u32::from_str_radix(mode, 8).map_err(|e| format!("mode {mode}: {e}"))?;
    let (u, g) = owner
        .split_once(':')
        .ok_or_else(|| format!("owner {owner}: want UID:GID"))?;
    let id = |s: &str| s.parse::<u32>().map_err(|e| format!("owner {owner}: {e}"));
    Ok((mode, (id(u)?, id(g)?)))
}

impl Case {
    fn load(dir: &Path) -> Result<Case, String> {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let text = fs::read_to_string(dir.join("case.txt"))
            .map_err(|e| format!("{}/case.txt: {e}", dir.display()))?;
        let mut case = Case {
            name,
            dir: dir.to_path_buf(),
            ..Case::default()
        };
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| format!("{}/case.txt:{}: {why}: {line}", dir.display(), n + 1);
            let (key, value) = line
                .split_once(": ")
                .unwrap_or((line.trim_end_matches(':'), ""));
            match key {
                "arg" => case.args.push(value.to_string()),
                "target" => case.target = Some(value.to_string()),
                "secret" => case.secrets.push(value.to_string()),
                "secret-text" => case.secret_texts.push(value.to_string()),
                "parent" => case.parent = Some(value.to_string()),
                "base" if value == "debian" => case.debian = true,
                "base" => return Err(bad("the one other base is `debian`")),
                "prepare" => case.prepare.push(value.to_string()),
                "berth-only" => case.berth_only = Some(value.to_string()),
                "buildkit-bug" => case
                    .buildkit_bugs
                    .push(value.split(' ').next().unwrap_or_default().to_string()),
                "run" => case.run.push(value.to_string()),
                "again-arg" => case.again_args.push(value.to_string()),
                "again-file" => {
                    let (p, c) = value.split_once(" = ").ok_or_else(|| bad("want /P = C"))?;
                    case.again.push((p.to_string(), unescape(c)));
                }
                "expect-file" => {
                    let (head, content) = value
                        .split_once(" = ")
                        .ok_or_else(|| bad("want = CONTENT"))?;
                    let parts: Vec<&str> = head.rsplitn(3, ' ').collect();
                    let [owner, mode, path] = parts[..] else {
                        return Err(bad("want /P MODE U:G = CONTENT"));
                    };
                    let (mode, owner) = parse_mode_owner(mode, owner).map_err(|e| bad(&e))?;
                    case.expects.push(Expect::File {
                        path: path.to_string(),
                        mode,
                        owner,
                        content: unescape(content),
                    });
                }
                "expect-dir" => {
                    let parts: Vec<&str> = value.rsplitn(3, ' ').collect();
                    let [owner, mode, path] = parts[..] else {
                        return Err(bad("want /P MODE U:G"));
                    };
                    let (mode, owner) = parse_mode_owner(mode, owner).map_err(|e| bad(&e))?;
                    case.expects.push(Expect::Dir {
                        path: path.to_string(),
                        mode,
                        owner,
                    });
                }
                "expect-link" => {
                    let (p, t) = value
                        .split_once(" -> ")
                        .ok_or_else(|| bad("want /P -> T"))?;
                    case.expects.push(Expect::Link {
                        path: p.to_string(),
                        target: t.to_string(),
                    });
                }
                "expect-hardlink" => case.expects.push(Expect::Hardlink(
                    value.split(' ').map(str::to_string).collect(),
                )),
                "expect-absent" => case.expects.push(Expect::Absent(value.to_string())),
                _ => return Err(bad("unknown directive")),
            }
        }
        Ok(case)
    }

    /// The RUN mount targets of the Dockerfile: BuildKit 0.8 leaves an empty directory (or
    /// file) where each was, as it does for /dev, /proc and /sys; newer BuildKit removes them.
    fn mount_points(dockerfile: &str) -> BTreeSet<String> {
        let mut points: BTreeSet<String> = ["dev", "proc", "sys"].map(String::from).into();
        for token in dockerfile.split_whitespace() {
            let Some(spec) = token.strip_prefix("--mount=") else {
                continue;
            };
            let fields: Vec<(&str, &str)> =
                spec.split(',').filter_map(|f| f.split_once('=')).collect();
            let get = |k: &str| fields.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
            let target = get("target").or(get("dst")).or(get("destination"));
            let target = match (target, get("type"), get("id")) {
                (Some(t), _, _) => t.to_string(),
                (None, Some("secret"), Some(id)) => format!("/run/secrets/{id}"),
                _ => continue,
            };
            let mut path = target.trim_matches('/').to_string();
            // Its parents, made for it, are stubs too when nothing else is in them.
            loop {
                points.insert(path.clone());
                match path.rsplit_once('/') {
                    Some((parent, _)) => path = parent.to_string(),
                    None => break,
                }
            }
        }
        points
    }
}

/// BuildKit 0.8's mount stubs, removed from its tree when `other` (berth's tree, if any)
/// lacks them: empty directories or empty files at mount points, deepest first.
fn strip_mount_stubs(tree: &mut Tree, points: &BTreeSet<String>, other: Option<&Tree>) {
    let mut deepest_first: Vec<&String> = points.iter().collect();
    deepest_first.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    for p in deepest_first {
        if other.is_some_and(|o| o.get(p).is_some()) {
            continue;
        }
        let empty_file = tree
            .get(p)
            .is_some_and(|n| matches!(&n.kind, Kind::File { size: 0, .. }));
        if tree.is_empty_dir(p) || empty_file {
            tree.remove(p);
        }
    }
}

/// `skip`: paths the builder is known to get wrong, not held to the expectations.
fn check_expectations(who: &str, case: &Case, t: &Tree, skip: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let node = |p: &str| t.get(name_bytes(p));
    for e in &case.expects {
        let path = match e {
            Expect::File { path, .. }
            | Expect::Dir { path, .. }
            | Expect::Link { path, .. }
            | Expect::Absent(path) => path,
            Expect::Hardlink(paths) => &paths[0],
        };
        if skip.contains(path) {
            continue;
        }
        match e {
            Expect::File {
                path,
                mode,
                owner,
                content,
            } => {
                let want = Kind::File {
                    size: content.len() as u64,
                    sha256: sha256_hex(content.as_bytes()),
                };
                match node(path) {
                    Some(n) if n.kind == want && n.mode == *mode && (n.uid, n.gid) == *owner => {}
                    Some(n) => out.push(format!(
                        "{who}: {path} is {n}, expected file {} B {mode:04o} {}:{} {content:?}",
                        content.len(),
                        owner.0,
                        owner.1
                    )),
                    None => out.push(format!("{who}: {path} is missing (expected a file)")),
                }
            }
            Expect::Dir { path, mode, owner } => match node(path) {
                Some(n) if n.kind == Kind::Dir && n.mode == *mode && (n.uid, n.gid) == *owner => {}
                Some(n) => out.push(format!(
                    "{who}: {path} is {n}, expected dir {mode:04o} {}:{}",
                    owner.0, owner.1
                )),
                None => out.push(format!("{who}: {path} is missing (expected a dir)")),
            },
            Expect::Link { path, target } => match node(path).map(|n| &n.kind) {
                Some(Kind::Symlink { target: t }) if *t == name_bytes(target) => {}
                other => out.push(format!("{who}: {path} is {other:?}, expected -> {target}")),
            },
            Expect::Hardlink(paths) => {
                let want: Vec<OsString> = paths
                    .iter()
                    .map(|p| name_bytes(p.trim_start_matches('/')))
                    .collect();
                let held = t
                    .hardlinks
                    .iter()
                    .any(|g| want.iter().all(|p| g.contains(p)));
                if !held {
                    out.push(format!(
                        "{who}: {} are not hard links of one file (groups: {:?})",
                        paths.join(" "),
                        t.hardlinks
                    ));
                }
            }
            Expect::Absent(path) => {
                if let Some(n) = node(path) {
                    out.push(format!("{who}: {path} should be absent, is {n}"));
                }
            }
        }
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    berth_oci::Digest::sha256(bytes)
        .to_string()
        .trim_start_matches("sha256:")
        .to_string()
}

/// Runs `cmd`; standard output on success, else a message with its standard error.
fn try_run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Build logs are long: the end says what failed.
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(format!(
            "{} failed ({}):\n      {}",
            describe(cmd),
            out.status,
            tail.join("\n      ")
        ))
    }
}

fn describe(cmd: &Command) -> String {
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    format!("{} {}", cmd.get_program().to_string_lossy(), args.join(" "))
}

/// Unpacks a tar as root would (owners, modes, links kept) into a fresh `dest`.
fn untar(archive: &Path, dest: &Path) -> Result<(), String> {
    let _ = fs::remove_dir_all(dest);
    fs::create_dir_all(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    try_run(
        Command::new("tar")
            .arg("--numeric-owner")
            .arg("--same-owner")
            .arg("-xpf")
            .arg(archive)
            .arg("-C")
            .arg(dest),
    )
    .map(drop)
}

/// An image saved in `docker save` format: its config's history, and whether any file of
/// it (layers uncompressed, config, manifest) holds one of `texts`.
fn saved_image(archive: &Path, texts: &[String]) -> Result<(Vec<Value>, Vec<String>), String> {
    let dir = archive.with_extension("d");
    untar(archive, &dir)?;
    let manifest: Value = serde_json::from_slice(
        &fs::read(dir.join("manifest.json")).map_err(|e| format!("manifest.json: {e}"))?,
    )
    .map_err(|e| format!("manifest.json: {e}"))?;
    let config_path = manifest[0]["Config"]
        .as_str()
        .ok_or("manifest.json names no Config")?;
    let config: Value = serde_json::from_slice(
        &fs::read(dir.join(config_path)).map_err(|e| format!("{config_path}: {e}"))?,
    )
    .map_err(|e| format!("{config_path}: {e}"))?;
    let history = config["history"].as_array().cloned().unwrap_or_default();
    let mut leaks = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = fs::read(&path) {
                for t in texts {
                    if contains(&bytes, t.as_bytes()) {
                        leaks.push(format!("secret {t:?} found in {}", path.display()));
                    }
                }
            }
        }
    }
    Ok((history, leaks))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// What one builder made of one case.
struct Built {
    tree: Tree,
    config: Value,
    history: Vec<Value>,
}

struct Harness {
    work: PathBuf,
    berth: Berth,
    dockerd: Dockerd,
    podman: Podman,
    registry: String,
    base: String,
    /// The Debian base, once a case has needed it.
    debian: Option<String>,
    /// Set once `berth build` turns out not to exist: the berth side of later cases is skipped.
    berth_missing: Option<String>,
}

impl Harness {
    fn docker(&self) -> Command {
        let mut c = self.dockerd.command();
        c.env("DOCKER_BUILDKIT", "1");
        c
    }

    /// A copy of the case's context with `prepare` lines run and `{{BASE}}` filled in.
    fn context(
        &self,
        case: &Case,
        base: &str,
        source: &Path,
        dest: &Path,
    ) -> Result<PathBuf, String> {
        let _ = fs::remove_dir_all(dest);
        try_run(Command::new("cp").arg("-a").arg(source).arg(dest))?;
        let _ = fs::remove_file(dest.join("case.txt"));
        if let Some(parent) = &case.parent {
            let _ = fs::remove_dir_all(dest.join(parent));
        }
        let dockerfile = dest.join("Dockerfile");
        let text = fs::read_to_string(&dockerfile).map_err(|e| format!("Dockerfile: {e}"))?;
        fs::write(&dockerfile, text.replace("{{BASE}}", base))
            .map_err(|e| format!("Dockerfile: {e}"))?;
        if source == case.dir {
            for line in &case.prepare {
                try_run(Command::new("sh").arg("-ec").arg(line).current_dir(dest))?;
            }
        }
        Ok(dest.to_path_buf())
    }

    /// Flags both builders take alike.
    fn flags(&self, case: &Case, base: &str) -> Vec<String> {
        let mut f = vec!["--build-arg".to_string(), format!("BASE={base}")];
        for a in &case.args {
            f.extend(["--build-arg".to_string(), a.clone()]);
        }
        if let Some(t) = &case.target {
            f.extend(["--target".to_string(), t.clone()]);
        }
        for s in &case.secrets {
            let abs = s.replace("src=", &format!("src={}/", case.dir.display()));
            f.extend(["--secret".to_string(), abs]);
        }
        f
    }

    fn buildkit(&self, case: &Case, ctx: &Path, base: &str, tag: &str) -> Result<Built, String> {
        let work = ctx.with_extension("buildkit");
        fs::create_dir_all(&work).map_err(|e| e.to_string())?;
        let flags = self.flags(case, base);
        let tar = work.join("tree.tar");
        try_run(
            self.docker()
                .args(["build", "-q", "--network=none"])
                .args(&flags)
                .arg("-o")
                .arg(format!("type=tar,dest={}", tar.display()))
                .arg(ctx),
        )?;
        untar(&tar, &work.join("tree"))?;
        let tree = Tree::snapshot(&work.join("tree")).map_err(|e| e.to_string())?;
        try_run(
            self.docker()
                .args(["build", "-q", "--network=none", "-t", tag])
                .args(&flags)
                .arg(ctx),
        )?;
        let inspect = try_run(self.docker().args(["inspect", tag]))?;
        let saved = work.join("image.tar");
        try_run(self.docker().arg("save").arg("-o").arg(&saved).arg(tag))?;
        built(case, tree, "docker inspect", &inspect, &saved)
    }

    fn berth_build(&self, case: &Case, ctx: &Path, base: &str, tag: &str) -> Result<Built, String> {
        let work = ctx.with_extension("berth");
        fs::create_dir_all(&work).map_err(|e| e.to_string())?;
        let flags = self.flags(case, base);
        let dest = work.join("tree");
        let _ = fs::remove_dir_all(&dest);
        try_run(
            self.berth
                .command()
                .args(["build", "--progress", "plain"])
                .args(&flags)
                .arg("--output")
                .arg(format!("type=local,dest={}", dest.display()))
                .arg(ctx),
        )?;
        let tree = Tree::snapshot(&dest).map_err(|e| e.to_string())?;
        try_run(
            self.berth
                .command()
                .args(["build", "--progress", "plain", "-t", tag])
                .args(&flags)
                .arg(ctx),
        )?;
        let inspect = try_run(self.berth.command().args(["inspect", tag]))?;
        let saved = work.join("image.tar");
        try_run(
            self.berth
                .command()
                .args(["save", "-q", tag, "-o"])
                .arg(&saved),
        )?;
        built(case, tree, "berth inspect", &inspect, &saved)
    }

    /// A second build, with the `again-arg` build arguments, straight to a tree.
    fn again(&self, who: &str, case: &Case, ctx: &Path, base: &str) -> Result<Tree, String> {
        let mut flags = self.flags(case, base);
        for a in &case.again_args {
            flags.extend(["--build-arg".to_string(), a.clone()]);
        }
        let dest = ctx.with_extension(format!("{who}-again"));
        let _ = fs::remove_dir_all(&dest);
        if who == "buildkit" {
            let tar = dest.with_extension("tar");
            try_run(
                self.docker()
                    .args(["build", "-q", "--network=none"])
                    .args(&flags)
                    .arg("-o")
                    .arg(format!("type=tar,dest={}", tar.display()))
                    .arg(ctx),
            )?;
            untar(&tar, &dest)?;
        } else {
            try_run(
                self.berth
                    .command()
                    .args(["build", "--progress", "plain"])
                    .args(&flags)
                    .arg("--output")
                    .arg(format!("type=local,dest={}", dest.display()))
                    .arg(ctx),
            )?;
        }
        Tree::snapshot(&dest).map_err(|e| e.to_string())
    }

    fn check_again(&self, who: &str, case: &Case, ctx: &Path, base: &str) -> Vec<String> {
        if case.again.is_empty() {
            return Vec::new();
        }
        let dest = ctx.with_extension(format!("{who}-again"));
        match self.again(who, case, ctx, base) {
            Err(e) => vec![format!("{who}: second build: {e}")],
            Ok(_) => case
                .again
                .iter()
                .filter_map(|(path, want)| {
                    let got = fs::read_to_string(dest.join(path.trim_start_matches('/')));
                    match got {
                        Ok(got) if &got == want => None,
                        got => Some(format!(
                            "{who}: after a second build {path} is {got:?}, expected {want:?}"
                        )),
                    }
                })
                .collect(),
        }
    }

    fn run_output(&self, who: &str, case: &Case, out: Result<String, String>) -> Vec<String> {
        let want: String = case.run.iter().map(|l| format!("{l}\n")).collect();
        match out {
            Ok(got) if got == want => Vec::new(),
            Ok(got) => vec![format!(
                "{who}: the image printed {got:?}\n      expected      {want:?}"
            )],
            Err(e) => vec![format!("{who}: {e}")],
        }
    }

    /// The image a case starts from: busybox, or Debian for `base: debian` (imported,
    /// pushed and pulled by dockerd at the first case that needs it).
    fn base(&mut self, case: &Case) -> String {
        if !case.debian {
            return self.base.clone();
        }
        if let Some(debian) = &self.debian {
            return debian.clone();
        }
        let debian = format!("{}/debian:bookworm", self.registry);
        push_debian_base(&self.berth, &debian);
        run_ok(self.dockerd.command().args(["pull", "-q", &debian]));
        self.debian = Some(debian.clone());
        debian
    }

    /// Builds the parent (if any) with both builders; returns the base for each.
    fn bases(
        &mut self,
        case: &Case,
        base: &str,
        failures: &mut Vec<String>,
    ) -> (Option<String>, Option<String>) {
        let Some(parent) = &case.parent else {
            return (Some(base.to_string()), Some(base.to_string()));
        };
        let ctx = match self.context(
            case,
            base,
            &case.dir.join(parent),
            &self.work.join(format!("{}-parent", case.name)),
        ) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("parent context: {e}"));
                return (None, None);
            }
        };
        let parent_case = Case {
            name: format!("{}-parent", case.name),
            dir: case.dir.join(parent),
            ..Case::default()
        };
        let bk_tag = format!("{}/eq/{}-parent:buildkit", self.registry, case.name);
        let bk = match self.buildkit(&parent_case, &ctx, base, &bk_tag) {
            Ok(built) => {
                if built.config["OnBuild"].as_array().is_none_or(Vec::is_empty) {
                    failures.push("buildkit: the parent image has no OnBuild triggers".into());
                }
                Some(bk_tag)
            }
            Err(e) => {
                failures.push(format!("buildkit, parent: {e}"));
                None
            }
        };
        if self.berth_missing.is_some() {
            return (bk, None);
        }
        let berth_tag = format!("{}/eq/{}-parent:berth", self.registry, case.name);
        let berth = match self.berth_build(&parent_case, &ctx, base, &berth_tag) {
            Ok(_) => Some(berth_tag),
            Err(e) => {
                self.note_berth_failure(&e);
                failures.push(format!("berth, parent: {e}"));
                None
            }
        };
        (bk, berth)
    }

    fn note_berth_failure(&mut self, error: &str) {
        if error.contains("unrecognized subcommand") {
            self.berth_missing = Some(error.to_string());
        }
    }

    fn run_case(&mut self, case: &Case) -> Vec<String> {
        let mut failures = Vec::new();
        let base = self.base(case);
        let ctx = match self.context(case, &base, &case.dir, &self.work.join(&case.name)) {
            Ok(c) => c,
            Err(e) => return vec![format!("context: {e}")],
        };
        let dockerfile = fs::read_to_string(ctx.join("Dockerfile")).unwrap_or_default();
        let points = Case::mount_points(&dockerfile);
        let (bk_base, berth_base) = self.bases(case, &base, &mut failures);

        let mut bk = None;
        if case.berth_only.is_none() {
            if let Some(base) = &bk_base {
                let tag = format!("eq/{}:buildkit", case.name);
                match self.buildkit(case, &ctx, base, &tag) {
                    Ok(built) => {
                        failures.extend(self.run_output(
                            "docker run (BuildKit's image)",
                            case,
                            try_run(self.dockerd.command().args([
                                "run",
                                "--rm",
                                "--network=none",
                                &tag,
                            ])),
                        ));
                        failures.extend(self.check_again("buildkit", case, &ctx, base));
                        bk = Some(built);
                    }
                    Err(e) => failures.push(format!("buildkit: {e}")),
                }
            }
        }

        let mut berth = None;
        if let (None, Some(base)) = (&self.berth_missing, &berth_base) {
            let tag = format!("{}/eq/{}:berth", self.registry, case.name);
            match self.berth_build(case, &ctx, base, &tag) {
                Ok(built) => {
                    failures.extend(self.run_berth_image(case, &tag));
                    failures.extend(self.check_again("berth", case, &ctx, base));
                    berth = Some(built);
                }
                Err(e) => {
                    self.note_berth_failure(&e);
                    if self.berth_missing.is_none() {
                        failures.push(format!("berth: {e}"));
                    }
                }
            }
        }

        if let Some(bk) = &mut bk {
            strip_mount_stubs(&mut bk.tree, &points, berth.as_ref().map(|b| &b.tree));
            failures.extend(check_expectations(
                "buildkit",
                case,
                &bk.tree,
                &case.buildkit_bugs,
            ));
        }
        if let Some(b) = &berth {
            failures.extend(check_expectations("berth", case, &b.tree, &[]));
        }
        if let (Some(bk), Some(b)) = (&bk, &berth) {
            let (mut bk_tree, mut berth_tree) = (bk.tree.clone(), b.tree.clone());
            for p in &case.buildkit_bugs {
                bk_tree.remove(p);
                berth_tree.remove(p);
            }
            failures.extend(tree::diff("buildkit", &bk_tree, "berth", &berth_tree));
            failures.extend(tree::config_diff(
                "buildkit", &bk.config, "berth", &b.config,
            ));
            failures.extend(tree::history_diff(
                "buildkit",
                &in_current_wording(&bk.history, &b.history, case),
                "berth",
                &b.history,
            ));
        }
        failures
    }

    /// berth's image, pushed by berth, run by dockerd and by podman.
    fn run_berth_image(&self, case: &Case, tag: &str) -> Vec<String> {
        if let Err(e) = try_run(self.berth.command().args(["push", "-q", tag])) {
            return vec![format!("berth push: {e}")];
        }
        let mut failures = self.run_output(
            "docker run (berth's image)",
            case,
            try_run(
                self.dockerd
                    .command()
                    .args(["run", "--rm", "--network=none", tag]),
            ),
        );
        let podman = try_run(
            self.podman
                .command()
                .args(["pull", "-q", "--tls-verify=false", tag]),
        )
        .and_then(|_| try_run(&mut self.podman.run_command(tag)));
        failures.extend(self.run_output("podman run (berth's image)", case, podman));
        failures
    }
}

/// A history line BuildKit 0.8 (Docker 20.10's, the one here) words otherwise than current
/// BuildKit, whose wording berth follows (docs/build.md, "Image config and history").
struct WordingChange {
    /// What changed, in which BuildKit, and why berth's line is the same step.
    change: &'static str,
    /// Whether `old` (BuildKit 0.8's line) and `new` (berth's) are one step, each worded by
    /// its BuildKit. True only for the exact shapes the change describes.
    same_step: fn(old: &str, new: &str, case: &Case) -> bool,
}

/// Every known wording change since BuildKit 0.8. The comparison accepts berth's line in place
/// of BuildKit's, entry by entry, only where one of these says they are the same step.
const BUILDKIT_08_WORDING: &[WordingChange] = &[
    WordingChange {
        change: "HEALTHCHECK: %+v of the config since BuildKit 0.30 (d67dafeb8); 0.8 printed %q \
                 of a pointer, `&{[\"CMD-SHELL\" \"x\"] \"30s\" \"3s\" \"0s\" '\\x03'}`, and had no \
                 start interval",
        same_step: healthcheck_pointer,
    },
    WordingChange {
        change: "EXPOSE: the port list in Dockerfile order since Dockerfile 1.19 (98eab3257); 0.8 \
                 printed Go's map, `map[80/tcp:{}]`, sorted and without repeats",
        same_step: expose_map,
    },
    WordingChange {
        change: "COPY/ADD: --parents, --chown and --chmod shown since BuildKit 0.13 (c7ce41a2f); \
                 0.8 showed no flags",
        same_step: transfer_without_flags,
    },
    WordingChange {
        change: "RUN: each build arg once since Dockerfile 1.12 (e2be8f768); 0.8 listed an ARG \
                 declared twice twice",
        same_step: run_args_once,
    },
    WordingChange {
        change: "RUN: a stage built FROM another has that stage's build args in scope too since \
                 Dockerfile 1.9 (c7c2f0e97), listed first; 0.8 listed the stage's own",
        same_step: run_args_inherited,
    },
    WordingChange {
        change: "ARG: the value in force since Dockerfile 1.8 (47a52a17b), a --build-arg's or the \
                 global one; 0.8 printed the Dockerfile's words",
        same_step: arg_values,
    },
];

/// BuildKit 0.8's history with each line a [`WordingChange`] recognises replaced by berth's.
fn in_current_wording(bk: &[Value], berth: &[Value], case: &Case) -> Vec<Value> {
    bk.iter()
        .enumerate()
        .map(|(i, entry)| {
            let mut entry = entry.clone();
            let old = entry["created_by"].as_str().unwrap_or_default();
            let new = berth
                .get(i)
                .and_then(|e| e["created_by"].as_str())
                .unwrap_or_default();
            let known = BUILDKIT_08_WORDING
                .iter()
                .find(|w| old != new && (w.same_step)(old, new, case));
            if let Some(w) = known {
                eprintln!(
                    "{}: BuildKit 0.8's {old:?} taken as berth's {new:?}: {}",
                    case.name, w.change
                );
                entry["created_by"] = new.into();
            }
            entry
        })
        .collect()
}

fn healthcheck_pointer(old: &str, new: &str, _: &Case) -> bool {
    let Some((test, rest)) = old
        .strip_prefix("HEALTHCHECK &{[")
        .and_then(|r| r.strip_suffix('}'))
        .and_then(|r| r.split_once("] "))
    else {
        return false;
    };
    let (Some(test), Some(rest)) = (go_literals(test), go_literals(rest)) else {
        return false;
    };
    let [interval, timeout, start, retries] = &rest[..] else {
        return false;
    };
    new == format!(
        "HEALTHCHECK {{Test:[{}] Interval:{interval} Timeout:{timeout} StartPeriod:{start} \
         StartInterval:0s Retries:{retries}}}",
        test.join(" ")
    )
}

fn expose_map(old: &str, new: &str, _: &Case) -> bool {
    let map = old
        .strip_prefix("EXPOSE map[")
        .and_then(|r| r.strip_suffix(']'));
    let list = new
        .strip_prefix("EXPOSE [")
        .and_then(|r| r.strip_suffix(']'));
    let (Some(map), Some(list)) = (map, list) else {
        return false;
    };
    let keys: Option<Vec<&str>> = map.split(' ').map(|p| p.strip_suffix(":{}")).collect();
    let mut ports: Vec<&str> = list.split(' ').collect();
    ports.sort();
    ports.dedup();
    keys == Some(ports)
}

fn transfer_without_flags(old: &str, new: &str, _: &Case) -> bool {
    let mut words = new.split(' ');
    let keyword = words.next().unwrap_or_default();
    let is_flag =
        |w: &&str| *w == "--parents" || w.starts_with("--chown=") || w.starts_with("--chmod=");
    let rest: Vec<&str> = words.skip_while(is_flag).collect();
    matches!(keyword, "COPY" | "ADD") && old == format!("{keyword} {}", rest.join(" "))
}

/// A `RUN` line's build args (`|2 A=1 B=2`) and the command after them.
fn run_args(line: &str) -> Option<(Vec<&str>, &str)> {
    let rest = line.strip_prefix("RUN ")?;
    let Some((n, rest)) = rest.strip_prefix('|').and_then(|r| r.split_once(' ')) else {
        return Some((Vec::new(), rest));
    };
    let n: usize = n.parse().ok()?;
    let mut words: Vec<&str> = rest.splitn(n + 1, ' ').collect();
    let command = words.pop().filter(|_| words.len() == n)?;
    Some((words, command))
}

fn run_args_once(old: &str, new: &str, _: &Case) -> bool {
    let (Some((old, command)), Some((new, new_command))) = (run_args(old), run_args(new)) else {
        return false;
    };
    let key = |a: &str| a.split('=').next().unwrap_or_default().to_string();
    let mut once: Vec<&str> = Vec::new();
    for arg in &old {
        if !once.iter().any(|o| key(o) == key(arg)) {
            once.push(arg);
        }
    }
    command == new_command && once.len() < old.len() && once == new
}

fn run_args_inherited(old: &str, new: &str, _: &Case) -> bool {
    let (Some((old, command)), Some((new, new_command))) = (run_args(old), run_args(new)) else {
        return false;
    };
    command == new_command && new.len() > old.len() && new.ends_with(&old)
}

fn arg_values(old: &str, new: &str, case: &Case) -> bool {
    let (Some(old), Some(new)) = (old.strip_prefix("ARG "), new.strip_prefix("ARG ")) else {
        return false;
    };
    let (old, new): (Vec<&str>, Vec<&str>) = (old.split(' ').collect(), new.split(' ').collect());
    old.len() == new.len()
        && old.iter().zip(&new).all(|(o, n)| {
            let key = n.split('=').next().unwrap_or_default();
            let given = case.args.iter().any(|a| a == n);
            *o == *n
                || (*o == key && n.len() > key.len())
                || (o.starts_with(&format!("{key}=")) && given)
        })
}

/// Go literals as `%q` writes them, separated by spaces (`"a b" "30s" '\x03'`), read back:
/// a string as its text, a rune as its number. `None` for anything else.
fn go_literals(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        let quote = match c {
            ' ' => continue,
            '"' | '\'' => c,
            _ => return None,
        };
        let mut text = String::new();
        loop {
            match chars.next()? {
                c if c == quote => break,
                '\\' => text.push(match chars.next()? {
                    'a' => '\u{7}',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'v' => '\u{b}',
                    'x' => {
                        let hex: String = chars.by_ref().take(2).collect();
                        char::from(u8::from_str_radix(&hex, 16).ok()?)
                    }
                    c @ ('\\' | '"' | '\'') => c,
                    _ => return None,
                }),
                c => text.push(c),
            }
        }
        out.push(if quote == '\'' {
            (text.chars().next()? as u32).to_string()
        } else {
            text
        });
    }
    Some(out)
}

#[test]
fn wording_changes_accept_only_their_own_shapes() {
    let case = Case {
        args: vec!["MODE=prod".into()],
        ..Case::default()
    };
    let same = |old: &str, new: &str| {
        BUILDKIT_08_WORDING
            .iter()
            .any(|w| (w.same_step)(old, new, &case))
    };
    // What BuildKit 0.8's dockerfile2llb prints, beside current BuildKit's line.
    assert!(same(
        r#"HEALTHCHECK &{["CMD-SHELL" "cat /a || exit 1"] "30s" "3s" "0s" '\x03'}"#,
        "HEALTHCHECK {Test:[CMD-SHELL cat /a || exit 1] Interval:30s Timeout:3s StartPeriod:0s \
         StartInterval:0s Retries:3}"
    ));
    assert!(!same(
        r#"HEALTHCHECK &{["CMD-SHELL" "cat /a"] "30s" "3s" "0s" '\x03'}"#,
        "HEALTHCHECK {Test:[CMD-SHELL cat /a] Interval:30s Timeout:3s StartPeriod:0s \
         StartInterval:0s Retries:4}"
    ));
    assert!(same(
        "EXPOSE map[53/udp:{} 8080/tcp:{}]",
        "EXPOSE [8080/tcp 53/udp]"
    ));
    assert!(!same("EXPOSE map[53/udp:{}]", "EXPOSE [53/tcp]"));
    assert!(same(
        "COPY a.txt /b/ # buildkit",
        "COPY --chown=1:2 --chmod=0640 a.txt /b/ # buildkit"
    ));
    assert!(!same(
        "COPY a.txt /b/ # buildkit",
        "COPY a.txt /c/ # buildkit"
    ));
    assert!(!same(
        "COPY a.txt /b/ # buildkit",
        "RUN a.txt /b/ # buildkit"
    ));
    assert!(same(
        "RUN |3 A=2 B=1 A=2 /bin/sh -c x # buildkit",
        "RUN |2 A=2 B=1 /bin/sh -c x # buildkit"
    ));
    assert!(!same(
        "RUN |2 A=2 B=1 /bin/sh -c x # buildkit",
        "RUN |1 A=2 /bin/sh -c x # buildkit"
    ));
    assert!(same(
        "RUN |1 EXTRA=x sh -c x # buildkit",
        "RUN |2 A=1 EXTRA=x sh -c x # buildkit"
    ));
    assert!(same(
        "RUN sh -c x # buildkit",
        "RUN |1 A=1 sh -c x # buildkit"
    ));
    assert!(!same(
        "RUN |1 EXTRA=x sh -c x # buildkit",
        "RUN |2 EXTRA=x A=1 sh -c x # buildkit"
    ));
    assert!(!same(
        "RUN sh -c x # buildkit",
        "RUN |1 A=1 sh -c y # buildkit"
    ));
    assert!(same(
        "ARG GLOBAL MODE=dev V=1",
        "ARG GLOBAL=from-global MODE=prod V=1"
    ));
    assert!(!same("ARG V=1", "ARG V=2"));
    assert!(!same("ARG MODE=dev", "ARG MODE=test"));
}

/// busybox_rootfs with every applet linked, so RUN lines can use mkdir, ln, find, tar...
fn base_rootfs(dir: &Path) {
    busybox_rootfs(dir);
    let list = run_ok(Command::new(busybox()).arg("--list"));
    for applet in list.lines() {
        let link = dir.join("bin").join(applet);
        if applet != "busybox" && fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink("busybox", &link).unwrap();
        }
    }
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/build_cases");
    let only = std::env::var("BERTH_EQUIV_CASES").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Dockerfile").is_file())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(&only))
        .collect();
    dirs.sort();
    dirs.iter()
        .map(|d| Case::load(d).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn berth_build_matches_buildkit_on_every_case() {
    let started = Instant::now();
    let cases = cases();
    assert!(!cases.is_empty(), "no case matches BERTH_EQUIV_CASES");
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::new(env!("CARGO_BIN_EXE_berth"), &dir.path().join("root"));
    let registry = Registry::start();
    let port = registry.addr.rsplit(':').next().unwrap().to_string();
    let registry_host = format!("localhost:{port}");
    let base = format!("{registry_host}/busybox:latest");

    let rootfs = dir.path().join("rootfs");
    base_rootfs(&rootfs);
    berth.ok(&["import", "-q", &rootfs.display().to_string(), &base]);
    berth.ok(&["push", "-q", &base]);
    let dockerd = Dockerd::start();
    run_ok(dockerd.command().args(["pull", "-q", &base]));

    let work = dir.path().join("cases");
    fs::create_dir_all(&work).unwrap();
    let mut h = Harness {
        work,
        berth,
        dockerd,
        podman: Podman::new(&dir.path().join("podman")),
        registry: registry_host,
        base,
        debian: None,
        berth_missing: None,
    };

    let mut report = Vec::new();
    for case in &cases {
        let t = Instant::now();
        let failures = h.run_case(case);
        eprintln!(
            "{}: {} ({:.1} s){}",
            case.name,
            if failures.is_empty() { "ok" } else { "FAILED" },
            t.elapsed().as_secs_f64(),
            case.berth_only
                .as_ref()
                .map(|r| format!(" [berth-only: {r}]"))
                .unwrap_or_default()
        );
        if !failures.is_empty() {
            report.push(format!(
                "--- {}\n    {}",
                case.name,
                failures.join("\n    ")
            ));
        }
    }
    let mut summary = String::new();
    if let Some(e) = &h.berth_missing {
        summary.push_str(&format!(
            "\n*** berth build does not exist yet, so only BuildKit's side ran (its trees, configs \
             and run output against each case's expectations); berth said:\n    {e}\n"
        ));
    }
    eprintln!(
        "{} cases in {:.1} s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        report.is_empty() && h.berth_missing.is_none(),
        "{} of {} build cases differ:\n{}\n{summary}",
        report.len(),
        cases.len(),
        report.join("\n")
    );
}
