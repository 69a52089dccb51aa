//! `berth policy check IMAGE --policy FILE`: the gate a deployment runs. Each rule of the
//! policy that covers the image's repository gives a verdict with its reason (which signer,
//! which digest, which finding); the image passes only when every one does, and only when some
//! rule covers it. Anything that cannot be checked (a registry that does not answer, an
//! unreadable key, a malformed policy) is an error: the gate fails closed. See docs/sign.md,
//! "Policy".

mod file;
mod pull;

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use berth_attach::Place;
use berth_oci::Digest;
use berth_oci::config::ImageConfig;
use berth_oci::manifest::Manifest;
use berth_remote::source::Fetched;
use berth_sign::image::Verifier;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::sign::{docker_reference, fetch, place, predicate_uri};
use super::verify::{Findings, Found, Want, check_attestation, check_signature, find};
use crate::Context;
pub use file::Policy;
use file::{BaseRule, Glob, Require, ScanRule, Signers};
pub use pull::SignaturePolicy;

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Check an image in a registry against a policy: signatures, attestations, scan, base image
    Check(CheckArgs),
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The image in a registry (REPO:TAG or REPO@DIGEST)
    pub image: String,
    /// The policy (TOML or JSON)
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: CheckOutput,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckOutput {
    /// One line per rule: PASS or FAIL, the rule and the reason
    Text,
    /// The verdicts as one JSON document
    Json,
}

/// One rule's verdict about the image.
#[derive(Serialize)]
struct Verdict {
    /// Which rule: its section and position in the policy (`signatures[0]`).
    rule: String,
    /// The repository patterns it covers the image by.
    repositories: Vec<String>,
    pass: bool,
    reason: String,
}

#[derive(Serialize)]
struct Report {
    image: String,
    digest: Digest,
    policy: PathBuf,
    pass: bool,
    rules: Vec<Verdict>,
}

pub fn run(ctx: &Context, command: PolicyCommand) -> anyhow::Result<()> {
    match command {
        PolicyCommand::Check(args) => check(ctx, args),
    }
}

fn check(ctx: &Context, args: CheckArgs) -> anyhow::Result<()> {
    let policy = Policy::read(&args.policy)?;
    let reference = super::remote::reference(&args.image)?;
    let (repository, digest, mut verdicts) = ctx.runtime()?.block_on(async {
        let place = place(ctx, &reference)?;
        let root = fetch(&place, &reference).await?;
        let repository = docker_reference(&place);
        let verdicts = judge_registry_rules(ctx, &policy, &place, &root, &repository).await?;
        anyhow::Ok((repository, root.descriptor.digest, verdicts))
    })?;
    // The scan reads the image itself (its own runtime), after the registry's rules.
    for (i, rule) in policy.file.scan.iter().enumerate() {
        if let Some(globs) = covering(&rule.repositories, &repository) {
            let image = format!("docker://{repository}@{digest}");
            let (pass, reason) = judge_scan(ctx, rule, &image)?;
            verdicts.push(verdict(format!("scan[{i}]"), globs, pass, reason));
        }
    }
    if verdicts.is_empty() {
        bail!(
            "no rule of the policy {} covers {repository}: an image no rule covers is refused (add a rule whose repositories match it)",
            args.policy.display()
        );
    }
    let pass = verdicts.iter().all(|v| v.pass);
    let report = Report {
        image: args.image.clone(),
        digest,
        policy: args.policy.clone(),
        pass,
        rules: verdicts,
    };
    let mut out = std::io::stdout().lock();
    match args.output {
        CheckOutput::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        CheckOutput::Text => {
            for v in &report.rules {
                let word = if v.pass { "PASS" } else { "FAIL" };
                writeln!(out, "{word} {}: {}", v.rule, v.reason)?;
            }
        }
    }
    out.flush()?;
    if !pass {
        let failed = report.rules.iter().filter(|v| !v.pass).count();
        bail!(
            "{}@{} fails {failed} of {} rules of the policy {}",
            repository,
            report.digest,
            report.rules.len(),
            args.policy.display()
        );
    }
    Ok(())
}

/// The patterns of `globs` that match `repository`, or none when no pattern does.
fn covering(globs: &[Glob], repository: &str) -> Option<Vec<String>> {
    let matched: Vec<String> = globs
        .iter()
        .filter(|g| g.matches(repository))
        .map(|g| g.text.clone())
        .collect();
    (!matched.is_empty()).then_some(matched)
}

fn verdict(rule: String, repositories: Vec<String>, pass: bool, reason: String) -> Verdict {
    Verdict {
        rule,
        repositories,
        pass,
        reason,
    }
}

/// The rules answered from the registry: signatures, attestations and base images.
async fn judge_registry_rules(
    ctx: &Context,
    policy: &Policy,
    place: &Place,
    root: &Fetched,
    repository: &str,
) -> anyhow::Result<Vec<Verdict>> {
    let digest = &root.descriptor.digest;
    let mut verdicts = Vec::new();
    let mut signatures: Option<Findings> = None;
    for (i, rule) in policy.file.signatures.iter().enumerate() {
        let Some(globs) = covering(&rule.repositories, repository) else {
            continue;
        };
        if signatures.is_none() {
            signatures = Some(find(place, digest, Want::Signatures).await?);
        }
        let findings = signatures.as_ref().expect("found just above");
        let (pass, reason) = judge_signers(&rule.signers, findings, digest, "signature", |v, f| {
            check_signature(v, &Default::default(), f, digest).map(drop)
        });
        verdicts.push(verdict(format!("signatures[{i}]"), globs, pass, reason));
    }
    let mut attestations: Option<Findings> = None;
    for (i, rule) in policy.file.attestations.iter().enumerate() {
        let Some(globs) = covering(&rule.repositories, repository) else {
            continue;
        };
        if attestations.is_none() {
            attestations = Some(find(place, digest, Want::Attestations).await?);
        }
        let findings = attestations.as_ref().expect("found just above");
        let uri = predicate_uri(&rule.predicate_type)
            .with_context(|| format!("the policy {}", policy.path.display()))?;
        let what = format!("attestation of type {uri}");
        let (pass, reason) = judge_signers(&rule.signers, findings, digest, &what, |v, f| {
            check_attestation(v, uri, f, digest).map(drop)
        });
        verdicts.push(verdict(format!("attestations[{i}]"), globs, pass, reason));
    }
    for (i, rule) in policy.file.base_images.iter().enumerate() {
        let Some(globs) = covering(&rule.repositories, repository) else {
            continue;
        };
        let (pass, reason) = judge_base(ctx, rule, place, root).await?;
        verdicts.push(verdict(format!("base-images[{i}]"), globs, pass, reason));
    }
    Ok(verdicts)
}

/// Whether the signers the rule names signed: each signer holds when some claim found
/// verifies with it; the rule, when one (`any`) or every (`all`) signer holds.
fn judge_signers(
    signers: &Signers,
    findings: &Findings,
    digest: &Digest,
    what: &str,
    check: impl Fn(&Verifier, &Found) -> anyhow::Result<()>,
) -> (bool, String) {
    let mut held = Vec::new();
    let mut missing = Vec::new();
    for (name, verifier) in &signers.loaded {
        let mut reasons = findings.refused.clone();
        let verified = findings
            .found
            .iter()
            .find(|found| match check(verifier, found) {
                Ok(()) => true,
                Err(e) => {
                    reasons.push(format!("{}: {e:#}", found.origin));
                    false
                }
            });
        match verified {
            Some(found) => held.push(format!("{what} by {name} ({})", found.origin)),
            None if reasons.is_empty() => {
                missing.push(format!("no {what} by {name}: none found for {digest}"))
            }
            None => missing.push(format!(
                "no {what} by {name} covers {digest}: {}",
                reasons.join("; ")
            )),
        }
    }
    let pass = match signers.require {
        Require::Any => !held.is_empty(),
        Require::All => missing.is_empty(),
    };
    let reason = if pass { held } else { missing };
    (pass, reason.join("; "))
}

/// How big a configuration berth reads to learn an image's layers.
const MAX_CONFIG: u64 = 4 << 20;

/// Whether the image is built on an allowed base: its layers (the diff IDs its configuration
/// lists, which its manifest's digest pins) begin with all of the base's, read the same way
/// from the base named by digest. Nothing the image says about itself (labels, history) is
/// taken on trust.
async fn judge_base(
    ctx: &Context,
    rule: &BaseRule,
    place: &Place,
    root: &Fetched,
) -> anyhow::Result<(bool, String)> {
    let what = format!(
        "{}@{}",
        place.repository().familiar(),
        root.descriptor.digest
    );
    let layers = diff_ids(place, root, &what).await?;
    let mut tried = Vec::new();
    for allowed in &rule.allowed {
        let base_place = super::sign::place(ctx, &allowed.reference)?;
        let name = format!(
            "{}@{}",
            allowed.reference.repository().familiar(),
            allowed.digest
        );
        let base = base_place
            .manifest(&allowed.digest.to_string())
            .await?
            .with_context(|| format!("the allowed base image {name} is not in its registry"))?;
        let base_layers = diff_ids(&base_place, &base, &name).await?;
        if layers.starts_with(&base_layers) {
            return Ok((
                true,
                format!(
                    "built on {name}: its {} layers are the image's first {}",
                    base_layers.len(),
                    base_layers.len()
                ),
            ));
        }
        let first_difference = base_layers
            .iter()
            .zip(&layers)
            .position(|(a, b)| a != b)
            .unwrap_or(layers.len().min(base_layers.len()));
        tried.push(match base_layers.get(first_difference) {
            Some(layer) => {
                format!("not {name} (its layer {first_difference}, {layer}, is not the image's)")
            }
            None => format!("not {name}"),
        });
    }
    Ok((
        false,
        format!(
            "built on none of the allowed base images: {}",
            tried.join("; ")
        ),
    ))
}

/// The diff IDs of an image manifest's configuration.
async fn diff_ids(place: &Place, fetched: &Fetched, what: &str) -> anyhow::Result<Vec<Digest>> {
    let manifest = match Manifest::parse(&fetched.bytes, Some(&fetched.descriptor.media_type)) {
        Ok(Manifest::Image(m)) => m,
        Ok(_) => bail!(
            "{what} is an index, not an image: a base-images rule compares one platform's image, so name it by its manifest's digest"
        ),
        Err(e) => bail!("{what}: the manifest does not parse: {e}"),
    };
    let bytes = place
        .small_blob(&manifest.config, MAX_CONFIG)
        .await
        .with_context(|| format!("the configuration of {what}"))?;
    let config = ImageConfig::parse(&bytes)
        .with_context(|| format!("the configuration of {what} does not parse"))?;
    Ok(config.rootfs.diff_ids)
}

/// berth scan's gate over the image: no finding above the rule's maximum severity may remain
/// after its filters.
fn judge_scan(ctx: &Context, rule: &ScanRule, image: &str) -> anyhow::Result<(bool, String)> {
    let above: Vec<&str> = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
        .into_iter()
        .filter(|l| super::scan::parse_level(l).is_ok_and(|level| level > rule.max_severity))
        .collect();
    if above.is_empty() {
        return Ok((true, "every severity is allowed".into()));
    }
    let mut argv = vec![
        "scan".to_string(),
        image.to_string(),
        format!("--severity={}", above.join(",")),
    ];
    if rule.ignore_unfixed {
        argv.push("--ignore-unfixed".into());
    }
    if let Some(file) = &rule.ignorefile {
        argv.push(format!("--ignorefile={}", file.display()));
    }
    if let Some(db) = &rule.db {
        argv.push(format!("--db={}", db.display()));
    }
    let args = <ScanCommand as clap::Parser>::try_parse_from(&argv)
        .context("the scan rule's settings")?
        .args;
    let findings = super::scan::remaining_findings(ctx, &args)?;
    let max = rule.max_severity.as_str();
    if findings.is_empty() {
        return Ok((true, format!("no finding above {max}")));
    }
    let shown: Vec<String> = findings
        .iter()
        .take(5)
        .map(|f| {
            format!(
                "{} in {} {} ({})",
                f.id,
                f.package,
                f.installed,
                f.severity.as_str()
            )
        })
        .collect();
    let more = findings.len().saturating_sub(shown.len());
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Ok((
        false,
        format!(
            "{} findings above {max}: {}{more}",
            findings.len(),
            shown.join(", ")
        ),
    ))
}

/// `berth scan`'s own arguments, so the scan rule has its defaults and meaning.
#[derive(clap::Parser)]
struct ScanCommand {
    #[command(flatten)]
    args: super::scan::ScanArgs,
}
