//! `berth build`: docker-compatible flags in, an image (and any outputs) out.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, bail};
use berth_build::{BaseError, BuildRequest, NetworkDefault, Secret};
use berth_oci::{Platform, Reference};
use berth_store::ResolvedImage;
use berth_transport::Platforms;

use super::build_attest::{self, Wanted};
use crate::Context;
use crate::cli::{BuildArgs, BuildNetwork, OutputArgs, Progress};
use crate::location::Location;
use crate::provenance::{self, Base};
use crate::ui::build_progress::Renderer;

pub fn run(ctx: &Context, args: BuildArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let outputs = args
        .outputs
        .iter()
        .map(|o| Output::parse(o))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tags = args
        .tags
        .iter()
        .map(|t| Reference::parse(t).with_context(|| format!("-t {t}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.push && tags.is_empty() {
        bail!("--push needs a name to push to: add -t REGISTRY/REPOSITORY:TAG");
    }
    let wanted = Wanted::parse(args.sbom, args.provenance.as_deref(), &args.attest)?;
    let to_layout = outputs.iter().any(|o| matches!(o, Output::Oci(_)));
    if wanted.any() && !args.push && !to_layout {
        bail!(
            "--sbom and --provenance attach attestations to the pushed image or an OCI layout: \
             add --push (and -t REGISTRY/REPOSITORY:TAG) or --output type=oci,dest=PATH"
        );
    }
    if args.sign_key.is_some() && !wanted.any() {
        bail!("--sign-key signs the build's attestations: add --sbom or --provenance");
    }
    // Opened before the build, so a wrong password costs no build.
    let sign_key = build_attest::load_key(args.sign_key.as_deref())?;
    let progress = match (args.quiet, args.progress) {
        (true, _) => Progress::Quiet,
        (false, Progress::Auto) if std::io::stderr().is_terminal() => Progress::Tty,
        (false, Progress::Auto) => Progress::Plain,
        (false, p) => p,
    };

    // The context, opened once with the ignore file that applies to the Dockerfile: a
    // directory, or a tar on standard input unpacked into the store's scratch.
    let _unpacked;
    let (context, context_dir) = if args.context == "-" {
        if args.file.as_deref() == Some("-") {
            bail!("the context and the Dockerfile can't both come from standard input");
        }
        let dir = tempfile::Builder::new()
            .prefix("context-")
            .tempdir_in(ctx.temp_dir()?)
            .context("making a directory for the context")?;
        let dockerfile = args.file.as_deref().unwrap_or("Dockerfile");
        let context =
            berth_fileops::Context::from_tar(std::io::stdin().lock(), dir.path(), dockerfile)
                .context("reading the build context (a tar) from standard input")?;
        _unpacked = dir;
        let root = context.root().to_path_buf();
        (context, root)
    } else {
        let dir = PathBuf::from(&args.context);
        if !dir.is_dir() {
            bail!(
                "build context {}: not a directory (give a directory, or - for a tar on standard input)",
                dir.display()
            );
        }
        // The ignore file goes with the Dockerfile's name inside the context.
        let relative = args
            .file
            .as_deref()
            .filter(|f| *f != "-")
            .and_then(|f| Path::new(f).strip_prefix(&dir).ok())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Dockerfile".into());
        let context = berth_fileops::Context::open_for_dockerfile(&dir, &relative)
            .with_context(|| format!("opening the build context {}", dir.display()))?;
        (context, dir)
    };
    // With the context on standard input, -f names a file inside it (as in docker build).
    let file = match args.file.as_deref() {
        Some(f) if args.context == "-" && f != "-" => {
            Some(context_dir.join(f).to_string_lossy().into_owned())
        }
        other => other.map(str::to_string),
    };
    let (dockerfile_name, dockerfile) = read_dockerfile(file.as_deref(), &context_dir)?;
    let git = wanted
        .provenance
        .and_then(|_| provenance::git_source(&context_dir));

    let mut build_args = BTreeMap::new();
    for a in &args.build_args {
        match a.split_once('=') {
            Some((k, v)) => build_args.insert(k.to_string(), v.to_string()),
            // `--build-arg NAME` takes NAME from the environment, or is left unset.
            None => match std::env::var(a) {
                Ok(v) => build_args.insert(a.clone(), v),
                Err(_) => continue,
            },
        };
    }
    let source_date_epoch = match build_args
        .get("SOURCE_DATE_EPOCH")
        .cloned()
        .or_else(|| std::env::var("SOURCE_DATE_EPOCH").ok())
        .filter(|v| !v.is_empty())
    {
        Some(v) => Some(v.parse::<i64>().with_context(|| {
            format!("SOURCE_DATE_EPOCH={v}: expected seconds since 1970-01-01")
        })?),
        None => None,
    };
    let mut labels = BTreeMap::new();
    for l in &args.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }
    let req = BuildRequest {
        dockerfile_name,
        dockerfile,
        context,
        build_args,
        target: args.target.clone(),
        platform: super::platform(args.platform.as_deref())?,
        no_cache: args.no_cache,
        pull: args.pull,
        labels,
        secrets: secrets(&args.secrets)?,
        network: match args.network {
            BuildNetwork::Default => NetworkDefault::Default,
            BuildNetwork::None => NetworkDefault::None,
            BuildNetwork::Host => NetworkDefault::Host,
        },
        source_date_epoch,
        zstd: args.zstd,
    };

    let renderer = Renderer::new(progress);
    let bases = StoreOrPull {
        ctx,
        quiet: progress == Progress::Quiet || progress == Progress::Json,
        resolved: Mutex::new(Vec::new()),
    };
    let started_on = now_rfc3339();
    let built = berth_build::build(&store, &req, &tags, &bases, &renderer);
    renderer.finish();
    let built = built?;
    let finished_on = now_rfc3339();
    if wanted.any() || !args.secret_build_args.is_empty() {
        build_attest::check_secret_args_in_image(
            &built.image,
            &req.build_args,
            &args.secret_build_args,
        )?;
    }

    let attestations = if wanted.any() {
        let bases = bases
            .resolved
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        let build = provenance::Build {
            dockerfile_name: &req.dockerfile_name,
            dockerfile: req.dockerfile.as_bytes(),
            target: req.target.as_deref(),
            platform: built.image.platform().to_string(),
            build_args: &req.build_args,
            secret_build_args: &args.secret_build_args,
            secret_values: req.secrets.values().map(|s| s.0.as_slice()).collect(),
            secret_ids: req.secrets.keys().map(String::as_str).collect(),
            bases: &bases,
            git,
            invocation_id: uuid::Uuid::new_v4().to_string(),
            started_on,
            finished_on,
            record: &built.record,
        };
        build_attest::make(ctx, &built, &wanted, &build)?
    } else {
        Vec::new()
    };
    let attested = Attested {
        attestations: &attestations,
        key: sign_key.as_ref(),
    };
    for output in &outputs {
        output.write(ctx, &store, &built, &tags, &attested)?;
    }
    if args.push {
        for tag in &tags {
            let quiet = OutputArgs {
                quiet: progress == Progress::Quiet,
                json: progress == Progress::Json,
            };
            let dest = Location::Registry(tag.clone());
            let written = super::transfer::run(
                ctx,
                &Location::Store(tag.to_string()),
                &dest,
                Platforms::All,
                &quiet,
            )?;
            super::transfer::report(&quiet, "Pushed", &dest, &written);
        }
        if !attestations.is_empty() {
            // Tags in one repository share the manifest: attested once there.
            let mut done = Vec::new();
            for tag in &tags {
                if done.contains(&tag.repository()) {
                    continue;
                }
                done.push(tag.repository());
                build_attest::attach(ctx, tag, &built.manifest, &attestations, sign_key.as_ref())?;
            }
        }
    }
    let id = built.manifest.digest.to_string();
    if let Some(f) = &args.iidfile {
        std::fs::write(f, &id).with_context(|| format!("writing {}", f.display()))?;
    }
    if let Some(f) = &args.metadata_file {
        let meta = serde_json::json!({
            "containerimage.digest": id,
            "containerimage.config.digest": built.config.digest.to_string(),
            "containerimage.descriptor": built.manifest,
            "image.name": tags.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(","),
        });
        std::fs::write(f, serde_json::to_vec_pretty(&meta)?)
            .with_context(|| format!("writing {}", f.display()))?;
    }
    match progress {
        Progress::Json => println!(
            "{}",
            serde_json::json!({"event": "image", "id": id, "config": built.config.digest.to_string(),
                "names": tags.iter().map(|t| t.to_string()).collect::<Vec<_>>()})
        ),
        _ => println!("{id}"),
    }
    Ok(())
}

/// The Dockerfile's name (for messages) and text.
fn read_dockerfile(file: Option<&str>, context: &Path) -> anyhow::Result<(String, String)> {
    match file {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the Dockerfile from standard input")?;
            Ok(("-".into(), text))
        }
        Some(f) => {
            let text = std::fs::read_to_string(f).with_context(|| format!("reading {f}"))?;
            Ok((f.to_string(), text))
        }
        None => {
            let path = context.join("Dockerfile");
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "reading {} (name another Dockerfile with -f)",
                    path.display()
                )
            })?;
            Ok((path.display().to_string(), text))
        }
    }
}

/// `--secret id=ID,src=PATH` / `id=ID,env=VAR` (and Docker's `source=`, `type=file|env`).
fn secrets(specs: &[String]) -> anyhow::Result<BTreeMap<String, Secret>> {
    let mut out = BTreeMap::new();
    for spec in specs {
        let mut id = None;
        let mut src = None;
        let mut env = None;
        let mut kind = None;
        for field in spec.split(',') {
            let (k, v) = field.split_once('=').unwrap_or((field, ""));
            match k {
                "id" => id = Some(v.to_string()),
                "src" | "source" => src = Some(v.to_string()),
                "env" => env = Some(v.to_string()),
                "type" => kind = Some(v.to_string()),
                _ => bail!("--secret {spec}: unknown key {k:?} (use id=, src= or env=)"),
            }
        }
        // `type=env,src=VAR` is Docker's other spelling of `env=VAR`.
        if kind.as_deref() == Some("env") && env.is_none() {
            env = src.take();
        }
        let id = id
            .or_else(|| src.clone())
            .or_else(|| env.clone())
            .with_context(|| format!("--secret {spec}: give it an id=ID"))?;
        let value = match (src, env) {
            (Some(path), _) => {
                std::fs::read(&path).with_context(|| format!("--secret id={id}: reading {path}"))?
            }
            (None, Some(var)) => std::env::var(&var)
                .with_context(|| format!("--secret id={id}: ${var} is not set"))?
                .into_bytes(),
            (None, None) => std::env::var(&id)
                .with_context(|| {
                    format!("--secret id={id}: give src=FILE or env=VAR (${id} is not set either)")
                })?
                .into_bytes(),
        };
        out.insert(id, Secret(value));
    }
    Ok(out)
}

/// Base images: the store's if it has them (unless `--pull`), else pulled into it.
struct StoreOrPull<'a> {
    ctx: &'a Context,
    quiet: bool,
    /// Each base image resolved, by digest, for the provenance.
    resolved: Mutex<Vec<Base>>,
}

impl StoreOrPull<'_> {
    fn note(&self, reference: &str, image: ResolvedImage) -> ResolvedImage {
        let mut resolved = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        if !resolved.iter().any(|b| b.reference == reference) {
            resolved.push(Base {
                reference: reference.to_string(),
                digest: image.record.clone(),
            });
        }
        image
    }
}

impl berth_build::Bases for StoreOrPull<'_> {
    fn resolve(
        &self,
        reference: &str,
        platform: &Platform,
        pull: bool,
    ) -> Result<ResolvedImage, BaseError> {
        let store = self
            .ctx
            .store()
            .map_err(|e| BaseError::Pull { source: e.into() })?;
        let local = || -> Result<ResolvedImage, BaseError> {
            let (record, _) = store.lookup(reference)?;
            Ok(store.image(&record, Some(platform))?)
        };
        if !pull {
            if let Ok(image) = local() {
                return Ok(self.note(reference, image));
            }
        }
        let parsed = Reference::parse(reference)?;
        let source = Location::Registry(parsed.clone());
        let dest = Location::Store(parsed.tagged().unwrap_or(parsed).to_string());
        let output = OutputArgs {
            quiet: true,
            json: false,
        };
        let _ = self.quiet;
        super::transfer::run(
            self.ctx,
            &source,
            &dest,
            Platforms::One(platform.clone()),
            &output,
        )
        .map_err(|e| BaseError::Pull { source: e.into() })?;
        Ok(self.note(reference, local()?))
    }
}

/// The build's attestations and the key that signs them, for the outputs that carry them.
struct Attested<'a> {
    attestations: &'a [build_attest::Attestation],
    key: Option<&'a berth_sign::PrivateKey>,
}

/// One `--output`.
enum Output {
    Image,
    Local(PathBuf),
    Oci(PathBuf),
    Docker(PathBuf),
}

impl Output {
    fn parse(spec: &str) -> anyhow::Result<Output> {
        // `-o DIR` is short for type=local,dest=DIR, as in docker build.
        if !spec.contains('=') {
            return Ok(Output::Local(PathBuf::from(spec)));
        }
        let mut kind = None;
        let mut dest = None;
        for field in spec.split(',') {
            let (k, v) = field.split_once('=').unwrap_or((field, ""));
            match k {
                "type" => kind = Some(v.to_string()),
                "dest" => dest = Some(PathBuf::from(v)),
                // Names and push come from -t and --push.
                "name" | "push" => {}
                _ => bail!("--output {spec}: unknown key {k:?} (use type= and dest=)"),
            }
        }
        let need = |d: Option<PathBuf>, t: &str| {
            d.with_context(|| format!("--output type={t} needs dest=PATH"))
        };
        Ok(match kind.as_deref() {
            Some("image") | Some("registry") | None => Output::Image,
            Some("local") => Output::Local(need(dest, "local")?),
            Some("oci") => Output::Oci(need(dest, "oci")?),
            Some("docker") | Some("tar") => Output::Docker(need(dest, "docker")?),
            Some(t) => bail!("--output type={t}: unknown (use image, local, oci or docker)"),
        })
    }

    fn write(
        &self,
        ctx: &Context,
        store: &berth_store::Store,
        built: &berth_build::Built,
        tags: &[Reference],
        attested: &Attested<'_>,
    ) -> anyhow::Result<()> {
        let name = tags.first().map(|t| t.to_string());
        let archive = |location: Location| -> anyhow::Result<()> {
            let quiet = OutputArgs {
                quiet: true,
                json: false,
            };
            // An OCI layout keeps the attestations as referrers of the image.
            let referrers = match &location {
                Location::OciArchive { .. } if !attested.attestations.is_empty() => {
                    let subject_name = tags
                        .first()
                        .map(|t| format!("{}/{}", t.registry(), t.repository().path()))
                        .unwrap_or_default();
                    build_attest::artifacts(
                        &subject_name,
                        &built.manifest,
                        attested.attestations,
                        attested.key,
                    )
                }
                _ => Vec::new(),
            };
            super::transfer::run_wrapped(
                ctx,
                &Location::Store(built.manifest.digest.to_string()),
                &location,
                Platforms::All,
                &quiet,
                |src, roots| {
                    let src = build_attest::WithReferrers::new(src, &built.manifest, referrers);
                    let roots = src.roots_with(roots);
                    (Box::new(src), roots)
                },
            )?;
            Ok(())
        };
        match self {
            Output::Image => Ok(()),
            Output::Local(dir) => berth_build::export::to_directory(store, &built.layers, dir)
                .with_context(|| format!("writing the image's files to {}", dir.display())),
            Output::Oci(path) => archive(Location::OciArchive {
                path: path.clone(),
                name: name.clone(),
            }),
            Output::Docker(path) => archive(Location::DockerArchive {
                path: path.clone(),
                name: name.clone(),
            }),
        }
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
