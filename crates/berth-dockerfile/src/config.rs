//! How each instruction changes the image config, as BuildKit's Dockerfile frontend does it.
//!
//! The one place an instruction meets an image config: the builder applies a stage's steps
//! here, and `berth import --change` applies its changes ([`crate::change`]) the same way.

use crate::describe::Step;
use crate::history;
use crate::instructions::{CommandLine, HealthTest, Healthcheck, ShellOrExec};
use berth_oci::config::Healthcheck as ConfigHealthcheck;
use berth_oci::{ContainerConfig, History, ImageConfig};
use serde_json::{Map, Value};

/// The shell shell-form commands run with when the stage sets no `SHELL`.
pub const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// The `PATH` BuildKit gives a Linux stage whose base sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A stage's image config as it is built, plus what BuildKit tracks beside it.
#[derive(Debug, Clone)]
pub struct StageConfig {
    pub image: ImageConfig,
    /// Whether this stage set `CMD` (an `ENTRYPOINT` only clears an inherited one).
    cmd_set: bool,
}

impl StageConfig {
    /// A stage starting from `base`: its config, history and layers carry over; the `ONBUILD`
    /// triggers are consumed by this build and cleared, as Docker does.
    pub fn from_base(mut base: ImageConfig) -> StageConfig {
        if let Some(c) = base.config.as_mut() {
            c.on_build = None;
        }
        StageConfig {
            image: base,
            cmd_set: false,
        }
    }

    /// Gives the config BuildKit's default `PATH` when the base sets none.
    pub fn ensure_default_path(&mut self) {
        let env = self.container().env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(0, format!("PATH={DEFAULT_PATH}"));
        }
    }

    fn container(&mut self) -> &mut ContainerConfig {
        self.image
            .config
            .get_or_insert_with(ContainerConfig::default)
    }

    /// The shell for shell-form commands.
    pub fn shell(&self) -> Vec<String> {
        self.image
            .config
            .as_ref()
            .and_then(|c| c.shell.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SHELL.iter().map(|s| s.to_string()).collect())
    }

    pub fn user(&self) -> String {
        self.image
            .config
            .as_ref()
            .and_then(|c| c.user.clone())
            .unwrap_or_default()
    }

    pub fn workdir(&self) -> String {
        self.image
            .config
            .as_ref()
            .and_then(|c| c.working_dir.clone())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".to_string())
    }

    pub fn env(&self) -> Vec<(String, String)> {
        self.image
            .config
            .as_ref()
            .and_then(|c| c.env.as_ref())
            .map(|env| {
                env.iter()
                    .map(|kv| match kv.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (kv.clone(), String::new()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Applies a step that only changes the config. Returns the history text, or `None` for
    /// steps that change files (the solver records those).
    pub fn apply(&mut self, step: &Step) -> Option<String> {
        let text = match step {
            Step::Env(vars) => {
                let env = self.container().env.get_or_insert_with(Vec::new);
                for (k, v) in vars {
                    let item = format!("{k}={v}");
                    match env.iter_mut().find(|e| e.split('=').next() == Some(k)) {
                        Some(slot) => *slot = item,
                        None => env.push(item),
                    }
                }
                format!("ENV {}", pairs(vars))
            }
            Step::Arg(args) => {
                let words: Vec<String> = args
                    .iter()
                    .map(|(k, v)| match v {
                        Some(v) => format!("{k}={v}"),
                        None => k.clone(),
                    })
                    .collect();
                format!("ARG {}", words.join(" "))
            }
            Step::Label(labels) => {
                let map = self.container().labels.get_or_insert_with(Default::default);
                for (k, v) in labels {
                    map.insert(k.clone(), v.clone());
                }
                format!("LABEL {}", pairs(labels))
            }
            Step::Expose(ports) => {
                let map = self
                    .container()
                    .exposed_ports
                    .get_or_insert_with(Default::default);
                for p in ports {
                    map.insert(p.clone(), Value::Object(Map::new()));
                }
                history::list("EXPOSE", ports)
            }
            Step::User(user) => {
                self.container().user = Some(user.clone());
                format!("USER {user}")
            }
            Step::Workdir(dir) => {
                let joined = join_workdir(&self.workdir(), dir);
                self.container().working_dir = Some(joined.clone());
                format!("WORKDIR {joined}")
            }
            Step::Volume(vols) => {
                let map = self
                    .container()
                    .volumes
                    .get_or_insert_with(Default::default);
                for v in vols {
                    map.insert(v.clone(), Value::Object(Map::new()));
                }
                history::list("VOLUME", vols)
            }
            Step::Stopsignal(sig) => {
                self.container().stop_signal = Some(sig.clone());
                format!("STOPSIGNAL {sig}")
            }
            Step::Healthcheck(h) => {
                let hc = healthcheck(h);
                let text = history::healthcheck(&hc);
                self.container().healthcheck = Some(hc);
                text
            }
            Step::Cmd(cmd) => {
                let argv = self.command(cmd);
                let text = history::command("CMD", &argv);
                let c = self.container();
                c.cmd = Some(argv);
                // BuildKit marks every CMD so, in either form and on every OS (Windows
                // runtimes read it; others ignore it). ENTRYPOINT leaves it as it was.
                c.args_escaped = Some(true);
                self.cmd_set = true;
                text
            }
            Step::Entrypoint(ep) => {
                let argv = self.command(ep);
                let text = history::command("ENTRYPOINT", &argv);
                let cmd_set = self.cmd_set;
                let c = self.container();
                c.entrypoint = Some(argv);
                if !cmd_set {
                    c.cmd = None;
                }
                text
            }
            Step::Shell(shell) => {
                self.container().shell = Some(shell.clone());
                history::list("SHELL", shell)
            }
            Step::Onbuild(trigger) => {
                self.container()
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(trigger.clone());
                // BuildKit records no history for ONBUILD.
                return Some(String::new());
            }
            Step::Maintainer(m) => {
                self.image.author = Some(m.clone());
                format!("MAINTAINER {m}")
            }
            Step::Run(_) | Step::Copy(_) | Step::Add(_) => return None,
        };
        Some(text)
    }

    /// A command line as the config stores it: shell form wrapped in the stage's shell.
    fn command(&self, cmd: &CommandLine) -> Vec<String> {
        match &cmd.command {
            ShellOrExec::Exec(argv) => argv.clone(),
            ShellOrExec::Shell(text) => {
                let mut argv = self.shell();
                argv.push(text.clone());
                argv
            }
        }
    }

    /// Adds a history entry for a step.
    pub fn record(&mut self, created: &str, created_by: String, empty_layer: bool) {
        self.image.history.push(History {
            created: Some(created.to_string()),
            created_by: Some(created_by),
            comment: Some(history::COMMENT.to_string()),
            empty_layer,
            ..History::default()
        });
    }
}

/// WORKDIR: absolute paths replace, relative ones join onto the current directory.
pub fn join_workdir(current: &str, dir: &str) -> String {
    let joined = if dir.starts_with('/') {
        dir.to_string()
    } else {
        format!("{}/{dir}", current.trim_end_matches('/'))
    };
    clean_abs(&joined)
}

/// Cleans an absolute path lexically (`/a/./b/../c` -> `/a/c`), as Go's `path.Clean`.
pub fn clean_abs(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn pairs(kv: &[(String, String)]) -> String {
    kv.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn healthcheck(h: &Healthcheck) -> ConfigHealthcheck {
    let nanos = |d: std::time::Duration| (!d.is_zero()).then_some(d.as_nanos() as i64);
    match h {
        Healthcheck::None => ConfigHealthcheck {
            test: Some(vec!["NONE".to_string()]),
            ..ConfigHealthcheck::default()
        },
        Healthcheck::Check(c) => ConfigHealthcheck {
            test: Some(match &c.test {
                HealthTest::Cmd(argv) => std::iter::once("CMD".to_string())
                    .chain(argv.iter().cloned())
                    .collect(),
                HealthTest::CmdShell(text) => vec!["CMD-SHELL".to_string(), text.clone()],
            }),
            interval: nanos(c.interval),
            timeout: nanos(c.timeout),
            start_period: nanos(c.start_period),
            start_interval: nanos(c.start_interval),
            retries: (c.retries != 0).then_some(c.retries as i64),
            ..ConfigHealthcheck::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdir_joins_like_buildkit() {
        assert_eq!(join_workdir("/", "app"), "/app");
        assert_eq!(join_workdir("/app", "src/../lib"), "/app/lib");
        assert_eq!(join_workdir("/app", "/srv/"), "/srv");
        assert_eq!(join_workdir("/", ".."), "/");
    }

    #[test]
    fn entrypoint_clears_only_an_inherited_cmd() {
        let base = ImageConfig {
            config: Some(ContainerConfig {
                cmd: Some(vec!["sh".into()]),
                ..ContainerConfig::default()
            }),
            ..ImageConfig::default()
        };
        let ep = |s: &str| {
            Step::Entrypoint(CommandLine {
                command: ShellOrExec::Exec(vec![s.to_string()]),
                heredocs: vec![],
            })
        };
        let mut st = StageConfig::from_base(base.clone());
        st.apply(&ep("/app"));
        assert_eq!(st.image.config.as_ref().unwrap().cmd, None);

        let mut st = StageConfig::from_base(base);
        st.apply(&Step::Cmd(CommandLine {
            command: ShellOrExec::Shell("run --fast".into()),
            heredocs: vec![],
        }));
        st.apply(&ep("/app"));
        let c = st.image.config.unwrap();
        assert_eq!(
            c.cmd,
            Some(vec!["/bin/sh".into(), "-c".into(), "run --fast".into()])
        );
        assert_eq!(c.entrypoint, Some(vec!["/app".into()]));
    }

    #[test]
    fn cmd_sets_args_escaped_in_both_forms_and_entrypoint_does_not() {
        let line = |command| CommandLine {
            command,
            heredocs: vec![],
        };
        let escaped = |steps: &[Step]| {
            let mut st = StageConfig::from_base(ImageConfig::default());
            let lines: Vec<String> = steps.iter().filter_map(|s| st.apply(s)).collect();
            (st.image.config.unwrap().args_escaped, lines)
        };
        let exec = ShellOrExec::Exec(vec!["serve".into(), "--port=80".into()]);
        let shell = ShellOrExec::Shell("serve --port 80".into());
        assert_eq!(
            escaped(&[Step::Entrypoint(line(exec.clone()))]),
            (
                None,
                vec![r#"ENTRYPOINT ["serve" "--port=80"]"#.to_string()]
            )
        );
        assert_eq!(
            escaped(&[Step::Cmd(line(exec))]),
            (Some(true), vec![r#"CMD ["serve" "--port=80"]"#.to_string()])
        );
        let bash = ["/bin/bash", "-o", "pipefail", "-c"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            escaped(&[Step::Shell(bash), Step::Cmd(line(shell))]),
            (
                Some(true),
                vec![
                    "SHELL [/bin/bash -o pipefail -c]".to_string(),
                    r#"CMD ["/bin/bash" "-o" "pipefail" "-c" "serve --port 80"]"#.to_string()
                ]
            )
        );
    }
}
