//! Config changes given as Dockerfile instructions, as `docker import --change` and
//! `docker commit --change` take them: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, SHELL,
//! STOPSIGNAL, USER, VOLUME and WORKDIR.
//!
//! A change is one Dockerfile line and goes the way a Dockerfile's does: [`crate::syntax`]
//! parses it, [`crate::instructions`] types it, [`crate::describe::metadata_step`] expands its
//! words against the image's environment, and [`StageConfig::apply`] applies it — the same
//! code that applies a stage's instructions when berth builds.

use berth_oci::ContainerConfig;

use crate::ast::{Args, Keyword};
use crate::config::StageConfig;
use crate::describe::{Step, metadata_step};
use crate::instructions::parse_instruction;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid change {change:?}: {why}")]
pub struct ChangeError {
    pub change: String,
    pub why: String,
}

/// What a change may be: the instructions that only change the config.
const APPLICABLE: [Keyword; 11] = [
    Keyword::Cmd,
    Keyword::Entrypoint,
    Keyword::Env,
    Keyword::Expose,
    Keyword::Label,
    Keyword::Onbuild,
    Keyword::Shell,
    Keyword::Stopsignal,
    Keyword::User,
    Keyword::Volume,
    Keyword::Workdir,
];

/// The container config `changes` make, applied in order to an empty one.
pub fn container_config(changes: &[String]) -> Result<ContainerConfig, ChangeError> {
    let mut config = StageConfig::from_base(Default::default());
    for change in changes {
        apply(&mut config, change)?;
    }
    Ok(config.image.config.unwrap_or_default())
}

/// Applies one change to `config`, its variables expanded against the config's `ENV`.
pub fn apply(config: &mut StageConfig, change: &str) -> Result<(), ChangeError> {
    let step = read(change, config).map_err(|why| ChangeError {
        change: change.to_string(),
        why,
    })?;
    config.apply(&step);
    Ok(())
}

/// The step one change makes against `config` as it is now.
fn read(change: &str, config: &StageConfig) -> Result<Step, String> {
    let df = crate::syntax::parse(change).map_err(|e| e.message)?;
    let mut instructions = df.instructions.iter();
    let ins = match (instructions.next(), instructions.next()) {
        (Some(ins), None) => ins,
        _ => return Err("a change is exactly one instruction, such as CMD [\"sh\"]".into()),
    };
    let keyword = ins.keyword.as_str().to_ascii_uppercase();
    if !APPLICABLE.contains(&ins.keyword) {
        let names: Vec<String> = APPLICABLE
            .iter()
            .map(|k| k.as_str().to_ascii_uppercase())
            .collect();
        return Err(format!(
            "{keyword} can't be applied to an image config; use one of {}",
            names.join(", ")
        ));
    }
    // In a Dockerfile a bare `CMD` clears the command; as a change it is more likely a
    // mistake, and `docker import` refuses it too.
    if ins.args == Args::Empty && ins.heredocs.is_empty() {
        return Err(format!("{keyword} needs an argument"));
    }
    let typed = parse_instruction(ins).map_err(|e| e.message)?;
    let env = config.env();
    metadata_step(&typed, &env, df.directives.escape)?
        .ok_or_else(|| format!("{keyword} can't be applied to an image config"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> ContainerConfig {
        let changes: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
        container_config(&changes).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn applies_docker_import_changes() {
        let c = applied(&[
            r#"CMD ["echo", "hi"]"#,
            "ENTRYPOINT /bin/run --fast",
            "ENV PATH=/usr/bin:/bin HOME=/root",
            r#"ENV PATH="/opt/bin:$PATH""#,
            "env LEGACY some value",
            r#"LABEL org.example.name="my app" b=2"#,
            "EXPOSE 80 53/udp 8000-8002",
            r#"VOLUME ["/data", "/logs"]"#,
            "VOLUME /cache",
            "USER app:app",
            "WORKDIR /srv",
            "WORKDIR app",
            "STOPSIGNAL SIGTERM",
            "ONBUILD run make",
            r#"SHELL ["/bin/bash", "-c"]"#,
        ]);
        assert_eq!(c.cmd.unwrap(), ["echo", "hi"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "/bin/run --fast"]);
        assert_eq!(
            c.env.unwrap(),
            [
                "PATH=/opt/bin:/usr/bin:/bin",
                "HOME=/root",
                "LEGACY=some value"
            ]
        );
        assert_eq!(c.labels.unwrap()["org.example.name"], "my app");
        // Ranges spelled out, as `docker import` and the builder key them.
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(
            ports,
            ["53/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert_eq!(c.volumes.unwrap().len(), 3);
        assert_eq!(c.user.as_deref(), Some("app:app"));
        assert_eq!(c.working_dir.as_deref(), Some("/srv/app"));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGTERM"));
        // The trigger as written, as BuildKit and `docker import` store it.
        assert_eq!(c.on_build.unwrap(), ["run make"]);
        assert_eq!(c.shell.unwrap(), ["/bin/bash", "-c"]);
    }

    #[test]
    fn expands_variables() {
        let c = applied(&["ENV A=1 B=", "ENV C=${A:-x}${B:-y}${Z-z}${A:+set}${Z+no}"]);
        assert_eq!(c.env.unwrap()[2], "C=1yzset");
    }

    #[test]
    fn rejects_bad_changes() {
        for (bad, why) in [
            ("RUN echo hi", "RUN can't be applied"),
            ("CMD", "needs an argument"),
            ("EXPOSE 99999", "expected a port number 0-65535"),
            ("EXPOSE 80/icmp", "tcp, udp or sctp"),
            ("ENV =x", "ENV names can not be blank"),
            ("ENV A=\"open", "looking for matching double-quote"),
            ("SHELL /bin/bash", "JSON form"),
            ("USER a b", "exactly one argument"),
            ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ] {
            let err = apply(&mut StageConfig::from_base(Default::default()), bad)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("invalid change"), "{bad}: {err}");
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
