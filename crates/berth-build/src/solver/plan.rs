//! From a described step to what the executor runs and the key the cache knows it by.
//!
//! Each step that changes files becomes a [`Planned`]: the [`Op`] (everything resolved:
//! command, environment, where each source's files come from), its cache key (BuildKit's
//! rule, [`keys::step`] over a canonical definition of the op, with sources by content) and
//! its history line. Stages a step reads from are waited for here, so the executor gets
//! their layers.

use berth_dockerfile::describe::{AddStep, CopySource, CopyStep, FileSource, RunStep};
use berth_dockerfile::history;
use berth_dockerfile::ignore::Patterns;
use berth_dockerfile::instructions::{Mount, Network};
use berth_sandbox::NetworkMode;
use serde_json::{Value, json};

use super::{Solver, StageState};
use crate::error::{BuildError, StepError};
use crate::exec::{Command, CopyOp, Op, RunOp, Source, StepAt};
use crate::keys;
use crate::request::NetworkDefault;

/// A step ready to hand to the executor, with the keys the cache knows it by.
pub(crate) struct Planned {
    pub op: Op,
    pub key: String,
    /// For a `COPY` from the context: the key of "this step, whatever its files' contents".
    /// Its last result is what a rerun can build on (see [`crate::exec::StepEnv::previous`]).
    pub slot: Option<String>,
    /// The image history line.
    pub history: String,
}

/// Build args that reach `RUN` but never the image.
const PROXY_ARGS: [&str; 5] = [
    "http_proxy",
    "https_proxy",
    "ftp_proxy",
    "no_proxy",
    "all_proxy",
];

impl Solver<'_> {
    pub(crate) fn plan_run(
        &self,
        state: &StageState,
        run: &RunStep,
        at: &StepAt,
    ) -> Result<Planned, BuildError> {
        let shell = state.config.shell();
        let command = Command::of(&run.command, &run.heredocs, &shell);
        let network = run_network(run.network, self.req.network).map_err(|e| at.error(e))?;
        let user = state.config.user();
        let workdir = state.config.workdir();
        let mut env = run.env.clone();
        env.extend(self.req.build_args.iter().filter_map(|(k, v)| {
            let proxy = PROXY_ARGS.iter().any(|p| p.eq_ignore_ascii_case(k));
            (proxy && !run.env.iter().any(|(e, _)| e == k)).then(|| (k.clone(), v.clone()))
        }));

        let mut mounts = Vec::new();
        let mut mounts_key = Vec::new();
        for (mount, from) in run.mounts.iter().zip(&run.mount_sources) {
            let (key, source) = self.mount_key(mount, from, at)?;
            mounts_key.push(key);
            mounts.push((mount.clone(), source));
        }
        let definition = json!({
            "run": command.argv,
            "script": command.script.as_ref().map(|(name, body)| json!([name, body])),
            "env": env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            "user": user,
            "workdir": workdir,
            "mounts": mounts_key,
            "network": format!("{network:?}"),
        });
        let history = command.history(&run.build_args);
        Ok(Planned {
            key: keys::step(&state.key, &definition, &state.platform),
            slot: None,
            history,
            op: Op::Run(RunOp {
                command,
                env,
                user,
                workdir,
                network,
                mounts,
            }),
        })
    }

    /// What of a mount enters the cache key: its kind and options, and for a bind mount the
    /// content it shows (with where that comes from). A secret's value never does
    /// (BuildKit's rule), nor a cache's content.
    fn mount_key(
        &self,
        mount: &Mount,
        from: &FileSource,
        at: &StepAt,
    ) -> Result<(Value, Source), BuildError> {
        Ok(match mount {
            Mount::Bind(b) => {
                let source = self.source(from)?;
                let paths = std::slice::from_ref(&b.source);
                let content = self.identity(from, &source, paths, &Patterns::default(), at)?;
                let key = json!({
                    "type": "bind",
                    "target": b.target,
                    "source": b.source,
                    "rw": !b.readonly,
                    "content": content,
                });
                (key, source)
            }
            Mount::Cache(c) => (
                json!({
                    "type": "cache", "target": c.target, "id": c.id, "ro": c.readonly,
                    "sharing": format!("{:?}", c.sharing), "mode": c.mode, "uid": c.uid, "gid": c.gid,
                }),
                Source::Context,
            ),
            Mount::Tmpfs(t) => (
                json!({ "type": "tmpfs", "target": t.target, "size": t.size }),
                Source::Context,
            ),
            Mount::Secret(s) => (
                json!({
                    "type": "secret", "id": s.id, "target": s.target, "env": s.env,
                    "mode": s.mode, "uid": s.uid, "gid": s.gid,
                }),
                Source::Context,
            ),
            Mount::Ssh(_) => return Err(at.error(StepError::SshMount)),
        })
    }

    pub(crate) fn plan_copy(
        &self,
        state: &StageState,
        copy: &CopyStep,
        at: &StepAt,
    ) -> Result<Planned, BuildError> {
        self.transfer(
            state,
            &Transfer {
                keyword: "COPY",
                from: &copy.from,
                sources: &copy.sources,
                dest: &copy.dest,
                chown: copy.chown.as_deref(),
                chmod: copy.chmod.as_deref(),
                parents: copy.parents,
                exclude: &copy.exclude,
                unpack: false,
            },
            at,
        )
    }

    pub(crate) fn plan_add(
        &self,
        state: &StageState,
        add: &AddStep,
        at: &StepAt,
    ) -> Result<Planned, BuildError> {
        for s in &add.sources {
            if let CopySource::Path(p) = s {
                if is_remote(p) {
                    return Err(at.error(StepError::Remote { url: p.clone() }));
                }
            }
        }
        self.transfer(
            state,
            &Transfer {
                keyword: "ADD",
                from: &FileSource::Context,
                sources: &add.sources,
                dest: &add.dest,
                chown: add.chown.as_deref(),
                chmod: add.chmod.as_deref(),
                parents: false,
                exclude: &add.exclude,
                unpack: add.unpack.unwrap_or(true),
            },
            at,
        )
    }

    fn transfer(
        &self,
        state: &StageState,
        t: &Transfer<'_>,
        at: &StepAt,
    ) -> Result<Planned, BuildError> {
        let mut paths = Vec::new();
        let mut inline = Vec::new();
        for s in t.sources {
            match s {
                CopySource::Path(p) => paths.push(p.clone()),
                CopySource::Inline { name, content } => {
                    inline.push((name.clone(), content.clone()))
                }
            }
        }
        let exclude =
            Patterns::from_list(t.exclude).map_err(|e| at.error(StepError::Exclude(e)))?;
        let source = self.source(t.from)?;
        // From the context, the selection's shape (which paths, which types) comes with its
        // checksum: a rerun with the same shape can build on the previous result.
        let mut shape = None;
        let content = if paths.is_empty() {
            json!(inline)
        } else if matches!(t.from, FileSource::Context) {
            let sums = self
                .context
                .checksums(&paths, &exclude)
                .map_err(|e| at.error(e))?;
            shape = Some(sums.shape);
            json!({ "paths": { "context": sums.content }, "inline": inline })
        } else {
            json!({
                "paths": self.identity(t.from, &source, &paths, &exclude, at)?,
                "inline": inline,
            })
        };
        let workdir = state.config.workdir();
        let definition = json!({
            "op": t.keyword,
            "content": content,
            "dest": t.dest,
            // A relative destination depends on the working directory.
            "workdir": (!t.dest.starts_with('/')).then_some(&workdir),
            "chown": t.chown,
            "chmod": t.chmod,
            "parents": t.parents,
            "exclude": t.exclude,
            "unpack": t.unpack,
        });
        let key = keys::step(&state.key, &definition, &state.platform);
        // The same step with other file contents.
        let slot = shape
            .filter(|_| inline.is_empty() && !t.unpack)
            .map(|shape| {
                let mut same_step = definition.clone();
                same_step["content"] = json!({ "shape": shape });
                format!(
                    "slot:{}",
                    keys::step(&state.key, &same_step, &state.platform)
                )
            });
        let heredocs: Vec<String> = inline.iter().map(|(n, _)| n.clone()).collect();
        let history = history::Transfer {
            keyword: t.keyword,
            parents: t.parents,
            chown: t.chown,
            chmod: t.chmod,
            paths: &paths,
            heredocs: &heredocs,
            dest: t.dest,
        }
        .line();
        Ok(Planned {
            key,
            slot,
            history,
            op: Op::Copy(CopyOp {
                keyword: t.keyword,
                from: source,
                paths,
                inline,
                dest: t.dest.to_string(),
                workdir,
                chown: t.chown.map(str::to_string),
                chmod: t.chmod.map(str::to_string),
                parents: t.parents,
                exclude,
                unpack: t.unpack,
            }),
        })
    }

    /// `WORKDIR`: the directory is made (as BuildKit does) when missing.
    pub(crate) fn plan_workdir(&self, state: &StageState) -> Planned {
        let dir = state.config.workdir();
        let user = state.config.user();
        // The user only when there is one: root's WORKDIR keeps the key it always had.
        let definition = if user.is_empty() {
            json!({ "mkdir": dir })
        } else {
            json!({ "mkdir": dir, "user": user })
        };
        Planned {
            key: keys::step(&state.key, &definition, &state.platform),
            slot: None,
            history: String::new(),
            op: Op::Mkdir { path: dir, user },
        }
    }

    /// Where a source's files come from; a stage once it is built.
    fn source(&self, from: &FileSource) -> Result<Source, BuildError> {
        Ok(match from {
            FileSource::Context => Source::Context,
            FileSource::Stage(i) => Source::Layers(self.wait_for(*i)?.layers),
            FileSource::Image(reference) => Source::Layers(self.image(reference)?.layers.clone()),
        })
    }

    /// The content identity of `paths` in a source, for cache keys.
    fn identity(
        &self,
        from: &FileSource,
        source: &Source,
        paths: &[String],
        exclude: &Patterns,
        at: &StepAt,
    ) -> Result<Value, BuildError> {
        let chain = |layers: &[crate::snapshot::LayerRef]| {
            keys::chain(layers.iter().map(|l| l.diff_id.to_string()))
        };
        Ok(match (from, source) {
            // Context files by content, through the stat index.
            (_, Source::Context) => {
                let sums = self
                    .context
                    .checksums(paths, exclude)
                    .map_err(|e| at.error(e))?;
                json!({ "context": sums.content })
            }
            // A stage or image by the layers it is made of: content-addressed, and free.
            (FileSource::Image(_), Source::Layers(layers)) => {
                json!({ "image": chain(layers), "paths": paths })
            }
            (_, Source::Layers(layers)) => json!({ "layers": chain(layers), "paths": paths }),
        })
    }
}

/// What `COPY` and `ADD` share, once the differences are settled.
struct Transfer<'a> {
    keyword: &'static str,
    from: &'a FileSource,
    sources: &'a [CopySource],
    dest: &'a str,
    chown: Option<&'a str>,
    chmod: Option<&'a str>,
    parents: bool,
    exclude: &'a [String],
    unpack: bool,
}

/// `ADD` sources fetched from elsewhere.
fn is_remote(source: &str) -> bool {
    source.starts_with("http://")
        || source.starts_with("https://")
        || source.starts_with("git@")
        || source.ends_with(".git")
}

/// The network a `RUN` gets: its `--network`, else the build's. The host's network is the
/// build's to grant (BuildKit's `network.host` entitlement): `RUN --network=host` needs
/// `berth build --network host`.
fn run_network(asked: Option<Network>, build: NetworkDefault) -> Result<NetworkMode, StepError> {
    Ok(match (asked, build) {
        (Some(Network::None), _) => NetworkMode::None,
        (Some(Network::Host), NetworkDefault::Host) => NetworkMode::Host,
        (Some(Network::Host), _) => return Err(StepError::HostNetwork),
        (Some(Network::Default) | None, NetworkDefault::Default) => NetworkMode::Outbound,
        (Some(Network::Default) | None, NetworkDefault::None) => NetworkMode::None,
        (Some(Network::Default) | None, NetworkDefault::Host) => NetworkMode::Host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_network_is_the_builds_to_grant() {
        use NetworkDefault as Build;
        let net = run_network;
        assert_eq!(net(None, Build::Default).unwrap(), NetworkMode::Outbound);
        assert_eq!(
            net(Some(Network::Default), Build::None).unwrap(),
            NetworkMode::None
        );
        assert_eq!(
            net(Some(Network::None), Build::Host).unwrap(),
            NetworkMode::None
        );
        assert_eq!(net(None, Build::Host).unwrap(), NetworkMode::Host);
        assert_eq!(
            net(Some(Network::Host), Build::Host).unwrap(),
            NetworkMode::Host
        );
        assert!(matches!(
            net(Some(Network::Host), Build::Default),
            Err(StepError::HostNetwork)
        ));
        assert!(matches!(
            net(Some(Network::Host), Build::None),
            Err(StepError::HostNetwork)
        ));
    }
}
