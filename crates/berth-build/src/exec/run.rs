//! The `RUN` executor: the command in the sandbox, on the stage's files, with its mounts.

use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};

use berth_dockerfile::instructions::{CacheMount, Mount, Sharing, ShellOrExec};
use berth_sandbox::{MountKind, NetworkMode, RunSpec};

use super::{RunOp, Source, StepEnv, Worker};
use crate::error::{BuildError, StepError};
use crate::keys;
use crate::snapshot::{Bind, Mode, Overlay, View};

/// What BuildKit names its build containers; some scripts print it.
const HOSTNAME: &str = "buildkitsandbox";

/// Runs `op` with `rootfs` (the stage's writable snapshot) as its root; `scratch` is the
/// step's private directory outside it.
pub(crate) fn run(
    worker: &Worker<'_>,
    op: &RunOp,
    rootfs: &Path,
    scratch: &Path,
    env: &StepEnv<'_>,
) -> Result<(), BuildError> {
    let mut spec = RunSpec {
        rootfs: rootfs.to_path_buf(),
        argv: op.command.argv.clone(),
        env: op.env.clone(),
        cwd: op.workdir.clone(),
        user: berth_sandbox::resolve_user(rootfs, &op.user).map_err(|source| {
            env.at.error(StepError::User {
                user: op.user.clone(),
                source,
            })
        })?,
        hostname: HOSTNAME.to_string(),
        network: op.network,
        mounts: Vec::new(),
        hosts: None,
        resolv_conf: None,
    };
    // As runc does: a command with no HOME gets its user's home from the image's passwd,
    // or `/`.
    if !spec.env.iter().any(|(k, _)| k == "HOME") {
        let home = home_of(rootfs, spec.user.uid);
        spec.env.push(("HOME".into(), home));
    }
    if op.network == NetworkMode::Host {
        env.warn(
            "RUN used the host's network (--network host): it can reach the host's loopback services and abstract sockets",
        );
    }
    // Mounted sources stay mounted until the command is done.
    let mut held = InUse::default();
    if let Some((name, body)) = &op.command.script {
        let path = scratch.join("script");
        fs::write(&path, body).map_err(|e| BuildError::io(&path, e))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .map_err(|e| BuildError::io(&path, e))?;
        spec.mounts.push(berth_sandbox::Mount {
            target: format!("/dev/pipes/{name}"),
            kind: MountKind::Bind {
                source: path,
                readonly: true,
            },
        });
    }
    for (i, (mount, source)) in op.mounts.iter().enumerate() {
        let dir = scratch.join(format!("mount-{i}"));
        prepare_mount(worker, mount, source, &dir, &mut spec, &mut held, env)?;
    }
    let result = berth_sandbox::run(&spec, &mut |bytes: &[u8]| env.output(bytes))
        .map_err(|e| env.at.error(e))?;
    drop(held);
    if result.exit_code != 0 {
        return Err(BuildError::RunFailed {
            file: env.at.file.clone(),
            line: env.at.line,
            instruction: env.at.instruction.clone(),
            code: result.exit_code,
            tail: result.tail,
        });
    }
    Ok(())
}

/// Sets up one `--mount` for the sandbox.
fn prepare_mount(
    worker: &Worker<'_>,
    mount: &Mount,
    source: &Source,
    dir: &Path,
    spec: &mut RunSpec,
    held: &mut InUse,
    env: &StepEnv<'_>,
) -> Result<(), BuildError> {
    let push = |spec: &mut RunSpec, target: &str, kind: MountKind| {
        spec.mounts.push(berth_sandbox::Mount {
            target: absolute(target, &spec.cwd),
            kind,
        })
    };
    match mount {
        Mount::Bind(b) => {
            let root = worker.source_root(source, env, &dir.join("src"), &mut held.views)?;
            // Resolved inside the source's root and bound by its descriptor: nothing changed
            // in the source tree after this check can change what the command sees.
            let object = berth_rootfs::Root::open(&root)
                .and_then(|r| r.open_path(&b.source, berth_rootfs::Last::Follow))
                .map_err(|e| {
                    env.at.error(StepError::BindSource {
                        path: b.source.clone(),
                        source: e.into(),
                    })
                })?;
            let bound = Bind::of(&object, &dir.join("source"))?;
            let path = bound.path().to_path_buf();
            held.binds.push(bound);
            if b.readonly {
                push(
                    spec,
                    &b.target,
                    MountKind::Bind {
                        source: path,
                        readonly: true,
                    },
                );
            } else {
                // Writes to a read-write bind mount are thrown away, as in BuildKit.
                let (upper, work) = (dir.join("upper"), dir.join("work"));
                for d in [&upper, &work] {
                    fs::create_dir_all(d).map_err(|e| BuildError::io(d, e))?;
                }
                let view = dir.join("rw");
                held.views.push(match worker.snapshots().mode() {
                    Mode::Overlay => {
                        View::Overlay(Overlay::mount(&[path], Some((&upper, &work)), &view)?)
                    }
                    Mode::Copy => worker.snapshots().view(&[path], &view)?,
                });
                push(
                    spec,
                    &b.target,
                    MountKind::Bind {
                        source: view,
                        readonly: false,
                    },
                );
            }
        }
        Mount::Cache(c) => {
            let (path, lock) = cache_mount(worker, c, env)?;
            held.locks.push(lock);
            push(
                spec,
                &c.target,
                MountKind::Bind {
                    source: path,
                    readonly: c.readonly,
                },
            );
        }
        Mount::Tmpfs(t) => push(spec, &t.target, MountKind::Tmpfs { size: t.size }),
        Mount::Secret(s) => {
            let Some(value) = env.secrets.get(&s.id) else {
                if s.required {
                    return Err(env.at.error(StepError::MissingSecret { id: s.id.clone() }));
                }
                // As in BuildKit, an optional secret that is missing is simply not mounted;
                // say so, since the command will likely fail for it.
                env.warn(&format!(
                    "secret {:?} was not given, so it is not mounted; pass --secret id={},src=FILE (or add required=true to fail early)",
                    s.id, s.id
                ));
                return Ok(());
            };
            if let Some(var) = &s.env {
                let text = String::from_utf8_lossy(&value.0).into_owned();
                spec.env.retain(|(k, _)| k != var);
                spec.env.push((var.clone(), text));
            }
            let target = match (&s.target, &s.env) {
                (Some(t), _) => Some(t.clone()),
                (None, None) => Some(format!("/run/secrets/{}", s.id)),
                (None, Some(_)) => None,
            };
            if let Some(target) = target {
                // The value lives outside the root file system, so it can't be committed.
                fs::create_dir_all(dir).map_err(|e| BuildError::io(dir, e))?;
                let file = dir.join("secret");
                fs::write(&file, &value.0).map_err(|e| BuildError::io(&file, e))?;
                fs::set_permissions(&file, fs::Permissions::from_mode(s.mode.unwrap_or(0o400)))
                    .map_err(|e| BuildError::io(&file, e))?;
                chown(&file, Some(s.uid.unwrap_or(0)), Some(s.gid.unwrap_or(0)))
                    .map_err(|e| BuildError::io(&file, e))?;
                push(
                    spec,
                    &target,
                    MountKind::Bind {
                        source: file,
                        readonly: true,
                    },
                );
            }
        }
        // The solver refuses it when it computes the step's key; an executor asked anyway
        // refuses it the same way.
        Mount::Ssh(_) => return Err(env.at.error(StepError::SshMount)),
    }
    Ok(())
}

/// The persistent directory behind `--mount=type=cache,id=…`, and the lock that says it
/// is in use (held until the command ends). `sharing=shared` steps use it together,
/// `locked` ones one at a time (waiting), and a `private` one takes the first instance no
/// other step is using, making a new one if all are: across parallel stages and across
/// concurrent builds alike (the locks are `flock`s beside the directories).
fn cache_mount(
    worker: &Worker<'_>,
    c: &CacheMount,
    env: &StepEnv<'_>,
) -> Result<(PathBuf, fs::File), BuildError> {
    use rustix::fs::FlockOperation as Op;
    let name = keys::chain([c.id.clone()]);
    let name = name.trim_start_matches("sha256:");
    let base = worker.snapshots().dir().join("cache-mounts");
    let instance = |n: usize| {
        let dir = match n {
            0 => name.to_string(),
            n => format!("{name}-{n}"),
        };
        cache_dir(&base, &dir, c, env)
    };
    match c.sharing {
        Sharing::Shared | Sharing::Locked => {
            let (dir, lock) = instance(0)?;
            let op = if c.sharing == Sharing::Shared {
                Op::LockShared
            } else {
                Op::LockExclusive
            };
            rustix::fs::flock(&lock, op).map_err(|e| BuildError::io(&dir, e.into()))?;
            Ok((dir, lock))
        }
        Sharing::Private => {
            for n in 0..64 {
                let (dir, lock) = instance(n)?;
                if rustix::fs::flock(&lock, Op::NonBlockingLockExclusive).is_ok() {
                    return Ok((dir, lock));
                }
            }
            Err(env.at.error(StepError::CacheBusy { id: c.id.clone() }))
        }
    }
}

/// One cache mount directory under `base` (made with the mount's mode and owner on first
/// use) and its lock file.
fn cache_dir(
    base: &Path,
    name: &str,
    c: &CacheMount,
    env: &StepEnv<'_>,
) -> Result<(PathBuf, fs::File), BuildError> {
    let path = base.join(name);
    if !path.is_dir() {
        let tmp = tempfile::Builder::new()
            .prefix(".new-")
            .tempdir_in(base)
            .map_err(|e| BuildError::io(base, e))?
            .keep();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(c.mode.unwrap_or(0o755)))
            .map_err(|e| BuildError::io(&tmp, e))?;
        chown(&tmp, Some(c.uid.unwrap_or(0)), Some(c.gid.unwrap_or(0)))
            .map_err(|e| BuildError::io(&tmp, e))?;
        if fs::rename(&tmp, &path).is_err() {
            let _ = fs::remove_dir(&tmp);
            if !path.is_dir() {
                return Err(env.at.error(StepError::CacheMount { path }));
            }
        }
    }
    let lock_path = base.join(format!("{name}.lock"));
    let lock = fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| BuildError::io(&lock_path, e))?;
    Ok((path, lock))
}

/// The home directory of `uid` in the root file system's `/etc/passwd` (read inside the
/// root), or `/`.
fn home_of(rootfs: &Path, uid: u32) -> String {
    let home = berth_rootfs::Root::open(rootfs)
        .and_then(|root| root.open_read("/etc/passwd", berth_rootfs::Last::Follow))
        .ok()
        .and_then(|file| io::read_to_string(file).ok())
        .and_then(|text| {
            text.lines().find_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                (fields.len() >= 6 && fields[2].parse() == Ok(uid)).then(|| fields[5].to_string())
            })
        });
    home.filter(|h| !h.is_empty()).unwrap_or_else(|| "/".into())
}

/// What a `RUN` holds while its command runs: mounted sources and cache mount locks.
#[derive(Default)]
struct InUse {
    views: Vec<View>,
    locks: Vec<fs::File>,
    /// Bind mount sources; after `views`, which may stack on them (fields drop in order).
    binds: Vec<Bind>,
}

/// A target path in the container: relative ones are relative to the working directory.
fn absolute(target: &str, cwd: &str) -> String {
    if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{}/{target}", cwd.trim_end_matches('/'))
    }
}

/// The process a `RUN` starts, heredocs worked in as BuildKit does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub argv: Vec<String>,
    /// A heredoc run as a script file: (name, body), mounted at `/dev/pipes/<name>`.
    pub script: Option<(String, String)>,
    /// The command as BuildKit records it in the history: what runs, except that a `#!`
    /// heredoc is recorded as BuildKit runs it, through the shell (`/bin/sh -c /dev/pipes/EOF`).
    recorded: Vec<String>,
}

impl Command {
    pub fn of(
        command: &ShellOrExec,
        heredocs: &[berth_dockerfile::ast::Heredoc],
        shell: &[String],
    ) -> Command {
        match command {
            ShellOrExec::Exec(argv) => Command {
                argv: argv.clone(),
                script: None,
                recorded: argv.clone(),
            },
            ShellOrExec::Shell(text) => {
                let with_shell = |body: String| {
                    let mut argv = shell.to_vec();
                    argv.push(body);
                    argv
                };
                let only_heredoc = heredocs.len() == 1 && is_heredoc_marker(text.trim());
                match heredocs.first() {
                    // `RUN <<EOF` with a #! line: the body is the program.
                    Some(h) if only_heredoc && h.content.starts_with("#!") => {
                        let path = format!("/dev/pipes/{}", h.name);
                        Command {
                            argv: vec![path.clone()],
                            script: Some((h.name.clone(), h.content.clone())),
                            recorded: with_shell(path),
                        }
                    }
                    // `RUN <<EOF`: the body is the shell script.
                    Some(h) if only_heredoc => {
                        let argv = with_shell(h.content.clone());
                        Command {
                            recorded: argv.clone(),
                            argv,
                            script: None,
                        }
                    }
                    // Heredocs inside a command: the shell reads them itself.
                    _ => {
                        let mut body = text.clone();
                        for h in heredocs {
                            body.push('\n');
                            body.push_str(&h.content);
                            body.push_str(&h.name);
                        }
                        let argv = with_shell(body);
                        Command {
                            recorded: argv.clone(),
                            argv,
                            script: None,
                        }
                    }
                }
            }
        }
    }

    /// The image history line of the `RUN`, with the build args in scope.
    pub fn history(&self, build_args: &[(String, String)]) -> String {
        berth_dockerfile::history::run(build_args, &self.recorded)
    }
}

/// `<<EOF`, `<<-EOF`, `<<"EOF"`: a heredoc marker and nothing else.
fn is_heredoc_marker(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let rest = rest.trim_matches(|c| c == '"' || c == '\'');
    !rest.is_empty() && rest.chars().all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_dockerfile::ast::{Heredoc, Lines};

    fn heredoc(name: &str, content: &str) -> Heredoc {
        Heredoc {
            name: name.into(),
            content: content.into(),
            expand: true,
            chomp: false,
            lines: Lines { start: 1, end: 3 },
        }
    }

    fn sh() -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into()]
    }

    #[test]
    fn heredoc_scripts_run_as_buildkit_runs_them() {
        let c = Command::of(
            &ShellOrExec::Shell("<<EOF".into()),
            &[heredoc("EOF", "echo a\necho b\n")],
            &sh(),
        );
        assert_eq!(c.argv, vec!["/bin/sh", "-c", "echo a\necho b\n"]);

        let c = Command::of(
            &ShellOrExec::Shell("<<EOF".into()),
            &[heredoc("EOF", "#!/bin/busybox sh\necho a\n")],
            &sh(),
        );
        assert_eq!(c.argv, vec!["/dev/pipes/EOF"]);
        assert_eq!(c.history(&[]), "RUN /bin/sh -c /dev/pipes/EOF # buildkit");
        assert_eq!(c.script.unwrap().1, "#!/bin/busybox sh\necho a\n");

        let c = Command::of(
            &ShellOrExec::Shell("cat <<EOF > /f".into()),
            &[heredoc("EOF", "x\n")],
            &sh(),
        );
        assert_eq!(c.argv, vec!["/bin/sh", "-c", "cat <<EOF > /f\nx\nEOF"]);
    }
}
