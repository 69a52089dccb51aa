//! The frontend as a builder calls it: Dockerfile text in, resolved description out.
//!
//! Base images shape the description (their `ENV` is visible to words after `FROM`, their
//! `ONBUILD` triggers become steps of the stages built on them), but the frontend does no
//! I/O: it asks the builder for each image's config through a callback and resolves again
//! until no new image is named (a trigger can name one, e.g. `ONBUILD COPY --from=img`).

use std::collections::BTreeMap;

use berth_oci::{ImageConfig, Platform};

use crate::describe::{Base, BuildDescription, BuildOptions, FileSource, Step, resolve};
use crate::syntax::{self, SyntaxError};

/// How many times images can lead to more images before the frontend stops asking: a base's
/// trigger naming an image whose trigger names another is already rare.
const MAX_ROUNDS: usize = 4;

/// A Dockerfile, resolved for one build.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub description: BuildDescription,
    /// The text of each instruction as written, by its first line (for step names and
    /// errors).
    pub texts: BTreeMap<usize, String>,
}

impl Described {
    /// The first line of the instruction that starts at `line`, as written.
    pub fn text(&self, line: usize) -> &str {
        self.texts
            .get(&line)
            .and_then(|t| t.lines().next())
            .unwrap_or_default()
    }
}

/// Why a Dockerfile could not be described; `E` is the builder's error for an image.
#[derive(Debug, thiserror::Error)]
pub enum FrontendError<E> {
    #[error(transparent)]
    Syntax(SyntaxError),
    #[error(transparent)]
    Resolve(crate::describe::DescribeError),
    /// The builder could not give the config of an image the Dockerfile names.
    #[error("base image {reference}: {source}")]
    Image { reference: String, source: E },
}

/// Parses and resolves `text` with `opts`, asking `config_of(reference, platform)` for the
/// config of every image the build reads (bases and `--from` images), once each.
pub fn describe<E>(
    text: &str,
    mut opts: BuildOptions,
    mut config_of: impl FnMut(&str, &Platform) -> Result<ImageConfig, E>,
) -> Result<Described, FrontendError<E>> {
    let df = syntax::parse(text).map_err(FrontendError::Syntax)?;
    let describe = |opts: &BuildOptions| resolve(&df, opts).map_err(FrontendError::Resolve);
    let mut asked: Vec<String> = Vec::new();
    let mut description = describe(&opts)?;
    for _ in 0..MAX_ROUNDS {
        let wanted: Vec<(String, Platform)> = images(&description)
            .into_iter()
            .filter(|(r, _)| !asked.contains(r))
            .collect();
        if wanted.is_empty() {
            break;
        }
        for (reference, platform) in wanted {
            let config =
                config_of(&reference, &platform).map_err(|source| FrontendError::Image {
                    reference: reference.clone(),
                    source,
                })?;
            let container = config.config.unwrap_or_default();
            let env = container
                .env
                .unwrap_or_default()
                .iter()
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (kv.clone(), String::new()),
                })
                .collect();
            opts.base_env.insert(reference.clone(), env);
            opts.base_onbuild
                .insert(reference.clone(), container.on_build.unwrap_or_default());
            asked.push(reference);
        }
        description = describe(&opts)?;
    }
    let texts = df
        .instructions
        .iter()
        .map(|i| (i.lines.start, i.original.trim().to_string()))
        .collect();
    Ok(Described { description, texts })
}

/// Every image reference the build reads (bases and `--from` images), with its platform.
fn images(d: &BuildDescription) -> Vec<(String, Platform)> {
    let mut out: Vec<(String, Platform)> = Vec::new();
    let mut add = |r: &str, p: &Platform| {
        if !out.iter().any(|(x, _)| x == r) {
            out.push((r.to_string(), p.clone()));
        }
    };
    for stage in &d.stages {
        if let Base::Image {
            reference,
            platform,
        } = &stage.base
        {
            add(reference, platform.as_ref().unwrap_or(&stage.platform));
        }
        for step in &stage.steps {
            let sources: Vec<&FileSource> = match &step.value {
                Step::Copy(c) => vec![&c.from],
                Step::Run(r) => r.mount_sources.iter().collect(),
                _ => vec![],
            };
            for s in sources {
                if let FileSource::Image(r) = s {
                    add(r, &stage.platform);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_oci::ContainerConfig;

    fn image(env: &[&str], onbuild: &[&str]) -> ImageConfig {
        ImageConfig {
            config: Some(ContainerConfig {
                env: Some(env.iter().map(|s| s.to_string()).collect()),
                on_build: Some(onbuild.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn images_named_by_onbuild_triggers_are_asked_for_too() {
        let mut asked = Vec::new();
        let d = describe(
            "FROM base\nLABEL v=$V\n",
            BuildOptions::default(),
            |r, _| -> Result<ImageConfig, std::convert::Infallible> {
                asked.push(r.to_string());
                Ok(match r {
                    "base" => image(&["V=1"], &["COPY --from=other /x /x"]),
                    _ => image(&[], &[]),
                })
            },
        )
        .unwrap();
        assert_eq!(asked, ["base", "other"]);
        let steps = &d.description.stages[0].steps;
        assert!(
            matches!(&steps[0].value, Step::Copy(c) if c.from == FileSource::Image("other".into()))
        );
        assert_eq!(steps[1].value, Step::Label(vec![("v".into(), "1".into())]));
        assert_eq!(d.text(2), "LABEL v=$V");
    }

    #[test]
    fn an_image_the_builder_cannot_give_is_named() {
        let e = describe("FROM nowhere\n", BuildOptions::default(), |_, _| {
            Err("no such image")
        })
        .unwrap_err();
        assert!(matches!(&e, FrontendError::Image { reference, .. } if reference == "nowhere"));
    }
}
