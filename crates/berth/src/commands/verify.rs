//! `berth verify`, `berth verify-attestation` and `berth tree`: find what hangs off an image
//! (referrers through the API or the tag schema, cosign's legacy tags), check signatures, and
//! show it all (see docs/sign.md).
//!
//! Finding and checking are apart: everything found is a [`Found`] claim until a verifier has
//! checked its signature and the payload names the digest resolved here. The image passes when
//! at least one claim holds, as with cosign; when none does, every claim's reason is given.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use berth_attach::{AttachError, LegacyKind, Place, referrers::Listing};
use berth_oci::manifest::{ImageManifest, Manifest};
use berth_oci::{Descriptor, Digest};
use berth_sign::PublicKey;
use berth_sign::image::{
    self, DSSE_MEDIA_TYPE, KeylessMaterial, SIGN_PREDICATE_TYPE, SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE, Verifier,
};
use berth_sigstore::Envelope;
use berth_trust::Match;
use bytes::Bytes;
use clap::{Args, ValueEnum};
use futures::{StreamExt as _, stream};
use serde_json::Value;

use super::sign::{PREDICATE_TYPE_ANNOTATION, parse_annotations, place, predicate_uri, resolve};
use crate::Context;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyOutput {
    /// The verified payloads as JSON
    Json,
    /// One line per verified signature: where it was found
    Text,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The image in a registry (REPO:TAG or REPO@DIGEST)
    pub image: String,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// An annotation the signed payload must carry (repeatable)
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    #[arg(short, long, value_enum, default_value = "json")]
    pub output: VerifyOutput,
}

#[derive(Args, Debug)]
pub struct VerifyAttestationArgs {
    /// The image in a registry (REPO:TAG or REPO@DIGEST)
    pub image: String,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// The predicate type to look for, as `berth attest --type` takes it
    #[arg(long = "type", default_value = "custom")]
    pub predicate_type: String,
    #[arg(short, long, value_enum, default_value = "json")]
    pub output: VerifyOutput,
}

/// Who must have signed: a public key, or keyless, a certificate chaining to a trusted root and
/// naming an identity and OIDC issuer (both required, as cosign requires them).
#[derive(Args, Debug)]
#[group(required = true, multiple = true)]
pub struct SignerArgs {
    /// The public key (PEM) the signatures must verify with
    #[arg(long, value_name = "FILE", conflicts_with_all = ["trusted_root", "identity", "identity_regexp", "issuer", "issuer_regexp"])]
    pub key: Option<PathBuf>,
    /// Keyless: the trusted root (sigstore's trusted_root.json) certificates must chain to
    #[arg(
        long,
        value_name = "FILE",
        requires = "keyless_identity",
        requires = "keyless_issuer"
    )]
    pub trusted_root: Option<PathBuf>,
    /// Keyless: the signer's identity (the certificate's email or URI), exactly
    #[arg(
        long = "certificate-identity",
        value_name = "IDENTITY",
        group = "keyless_identity",
        requires = "trusted_root"
    )]
    pub identity: Option<String>,
    /// Keyless: a regular expression the signer's identity must match (unanchored)
    #[arg(
        long = "certificate-identity-regexp",
        value_name = "REGEX",
        group = "keyless_identity",
        requires = "trusted_root"
    )]
    pub identity_regexp: Option<String>,
    /// Keyless: the OIDC issuer the certificate must name, exactly
    #[arg(
        long = "certificate-oidc-issuer",
        value_name = "URL",
        group = "keyless_issuer",
        requires = "trusted_root"
    )]
    pub issuer: Option<String>,
    /// Keyless: a regular expression the OIDC issuer must match (unanchored)
    #[arg(
        long = "certificate-oidc-issuer-regexp",
        value_name = "REGEX",
        group = "keyless_issuer",
        requires = "trusted_root"
    )]
    pub issuer_regexp: Option<String>,
}

impl SignerArgs {
    fn verifier(&self) -> anyhow::Result<Verifier> {
        if let Some(key) = &self.key {
            return key_verifier(key);
        }
        let (Some(root), Some(identity), Some(issuer)) = (
            &self.trusted_root,
            matcher(
                "--certificate-identity",
                &self.identity,
                &self.identity_regexp,
            )?,
            matcher(
                "--certificate-oidc-issuer",
                &self.issuer,
                &self.issuer_regexp,
            )?,
        ) else {
            bail!(
                "name the signer: --key FILE, or keyless --trusted-root FILE with \
                 --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]"
            );
        };
        keyless_verifier(root, berth_trust::Policy { identity, issuer })
    }
}

/// The exact value or the regular expression of one keyless pair (`--certificate-identity`
/// and `--certificate-identity-regexp`; the command line keeps them exclusive).
pub(super) fn matcher(
    flag: &str,
    exact: &Option<String>,
    regexp: &Option<String>,
) -> anyhow::Result<Option<Match>> {
    Ok(match (exact, regexp) {
        (Some(value), _) => Some(Match::exact(value)),
        (None, Some(pattern)) => {
            Some(Match::regex(pattern).with_context(|| {
                format!("{flag}-regexp {pattern:?} is not a regular expression")
            })?)
        }
        (None, None) => None,
    })
}

/// A keyless verifier: the trusted root read from `path`, the signer it must name.
pub(super) fn keyless_verifier(
    path: &std::path::Path,
    signer: berth_trust::Policy,
) -> anyhow::Result<Verifier> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading the trusted root {}", path.display()))?;
    let root = berth_trust::TrustedRoot::from_json(&bytes)
        .with_context(|| format!("the trusted root {}", path.display()))?;
    Ok(Verifier::Keyless {
        root: Box::new(root),
        signer,
    })
}

#[derive(Args, Debug)]
pub struct TreeArgs {
    /// The image in a registry (REPO:TAG or REPO@DIGEST)
    pub image: String,
}

/// What is looked for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    Signatures,
    Attestations,
}

/// Something found that claims to sign the image, before it is checked.
pub(super) enum Claim {
    Bundle(Bytes),
    LegacySignature {
        payload: Bytes,
        signature: String,
        keyless: LegacyKeyless,
    },
    LegacyAttestation(Bytes),
}

/// What a legacy signature layer's annotations carry for keyless verification: its
/// certificate and Rekor bundle, as cosign writes them.
#[derive(Default)]
pub(super) struct LegacyKeyless {
    certificate: Option<String>,
    rekor_bundle: Option<String>,
}

impl LegacyKeyless {
    pub(super) fn of(layer: &Descriptor) -> LegacyKeyless {
        let annotation = |key| layer.annotation(key).map(str::to_owned);
        LegacyKeyless {
            certificate: annotation(berth_sigstore::rekor::CERTIFICATE_ANNOTATION),
            rekor_bundle: annotation(berth_sigstore::rekor::BUNDLE_ANNOTATION),
        }
    }

    fn material(&self) -> KeylessMaterial<'_> {
        KeylessMaterial {
            certificate: self.certificate.as_deref(),
            rekor_bundle: self.rekor_bundle.as_deref(),
        }
    }
}

pub(super) struct Found {
    /// Where it was found, for messages.
    pub(super) origin: String,
    claim: Claim,
}

impl Found {
    pub(super) fn bundle(origin: String, bytes: Bytes) -> Found {
        let claim = Claim::Bundle(bytes);
        Found { origin, claim }
    }

    pub(super) fn legacy_signature(
        origin: String,
        payload: Bytes,
        signature: String,
        keyless: LegacyKeyless,
    ) -> Found {
        let claim = Claim::LegacySignature {
            payload,
            signature,
            keyless,
        };
        Found { origin, claim }
    }

    pub(super) fn legacy_attestation(origin: String, bytes: Bytes) -> Found {
        let claim = Claim::LegacyAttestation(bytes);
        Found { origin, claim }
    }
}

/// What was found, and why what could not even be read was refused.
#[derive(Default)]
pub(super) struct Findings {
    pub(super) found: Vec<Found>,
    pub(super) refused: Vec<String>,
}

pub fn verify(ctx: &Context, args: VerifyArgs) -> anyhow::Result<()> {
    let annotations = parse_annotations(&args.annotations)?;
    let verifier = args.signer.verifier()?;
    let check =
        |found: &Found, digest: &Digest| check_signature(&verifier, &annotations, found, digest);
    run_verification(
        ctx,
        &args.image,
        Want::Signatures,
        args.output,
        &verifier,
        check,
    )
}

pub fn verify_attestation(ctx: &Context, args: VerifyAttestationArgs) -> anyhow::Result<()> {
    let uri = predicate_uri(&args.predicate_type)?.to_string();
    let verifier = args.signer.verifier()?;
    let check = |found: &Found, digest: &Digest| check_attestation(&verifier, &uri, found, digest);
    run_verification(
        ctx,
        &args.image,
        Want::Attestations,
        args.output,
        &verifier,
        check,
    )
}

/// A signature claim that verifies with `verifier` and signs `digest` with `annotations`:
/// its signed payload.
pub(super) fn check_signature(
    verifier: &Verifier,
    annotations: &BTreeMap<String, String>,
    found: &Found,
    digest: &Digest,
) -> anyhow::Result<Value> {
    match &found.claim {
        Claim::Bundle(bytes) => {
            let envelope = verifier.verify_bundle(bytes)?;
            let statement =
                image::check_statement(&envelope, digest.hex(), SIGN_PREDICATE_TYPE, annotations)?;
            Ok(serde_json::to_value(statement)?)
        }
        Claim::LegacySignature {
            payload,
            signature,
            keyless,
        } => {
            let signature = image::signature_from_annotation(signature)?;
            verifier.verify_legacy_signature(payload, &signature, keyless.material())?;
            let signing = image::check_simple_signing(payload, &digest.to_string(), annotations)?;
            Ok(serde_json::to_value(signing)?)
        }
        Claim::LegacyAttestation(_) => bail!("an attestation, not a signature"),
    }
}

/// An attestation claim that verifies with `verifier` and states a predicate of type
/// `predicate_uri` about `digest`: its envelope.
pub(super) fn check_attestation(
    verifier: &Verifier,
    predicate_uri: &str,
    found: &Found,
    digest: &Digest,
) -> anyhow::Result<Value> {
    let envelope = match &found.claim {
        Claim::Bundle(bytes) => verifier.verify_bundle(bytes)?,
        Claim::LegacyAttestation(bytes) => {
            let envelope: Envelope =
                serde_json::from_slice(bytes).context("the layer is not a DSSE envelope")?;
            verifier.verify_envelope(&envelope)?;
            envelope
        }
        Claim::LegacySignature { .. } => bail!("a signature, not an attestation"),
    };
    image::check_statement(&envelope, digest.hex(), predicate_uri, &BTreeMap::new())?;
    Ok(serde_json::to_value(envelope)?)
}

pub(super) fn key_verifier(path: &std::path::Path) -> anyhow::Result<Verifier> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the public key {}", path.display()))?;
    let key = PublicKey::from_pem(&text).with_context(|| path.display().to_string())?;
    Ok(Verifier::Key(key))
}

/// Resolves the image once, finds what claims to sign it, checks each claim, prints the
/// verified payloads; fails naming each claim's reason (on one line) when none holds.
fn run_verification(
    ctx: &Context,
    image: &str,
    want: Want,
    output: VerifyOutput,
    verifier: &Verifier,
    check: impl Fn(&Found, &Digest) -> anyhow::Result<Value>,
) -> anyhow::Result<()> {
    let verifier_said = match verifier {
        Verifier::Key(_) => "The signatures were verified against the specified public key",
        Verifier::Keyless { .. } => {
            "The code-signing certificate was verified using trusted certificate authority certificates"
        }
    };
    let reference = super::remote::reference(image)?;
    let (name, digest, findings) = ctx.runtime()?.block_on(async {
        let place = place(ctx, &reference)?;
        let digest = resolve(&place, &reference).await?.digest;
        let findings = find(&place, &digest, want).await?;
        anyhow::Ok((place.repository().familiar(), digest, findings))
    })?;
    let what = match want {
        Want::Signatures => "signatures",
        Want::Attestations => "attestations",
    };
    let mut reasons = findings.refused;
    let mut verified = Vec::new();
    for found in &findings.found {
        match check(found, &digest) {
            Ok(value) => verified.push((found.origin.clone(), value)),
            Err(e) => reasons.push(format!("{}: {e:#}", found.origin)),
        }
    }
    if verified.is_empty() {
        if reasons.is_empty() {
            bail!("no {what} found for {name}@{digest}");
        }
        bail!(
            "no {what} of {name}@{digest} verify: {}",
            reasons.join("; ")
        );
    }
    eprintln!("\nVerification for {name}@{digest} --");
    eprintln!("The following checks were performed on each of these {what}:");
    eprintln!("  - The cosign claims were validated");
    eprintln!("  - {}", verifier_said);
    let mut out = std::io::stdout().lock();
    match (output, want) {
        (VerifyOutput::Json, Want::Signatures) => {
            let values: Vec<&Value> = verified.iter().map(|(_, v)| v).collect();
            serde_json::to_writer(&mut out, &values)?;
            writeln!(out)?;
        }
        (VerifyOutput::Json, Want::Attestations) => {
            for (_, value) in &verified {
                serde_json::to_writer(&mut out, value)?;
                writeln!(out)?;
            }
        }
        (VerifyOutput::Text, _) => {
            for (origin, _) in &verified {
                writeln!(out, "verified: {origin}")?;
            }
        }
    }
    Ok(())
}

/// How many artifacts are fetched at once: an image with a thousand signatures is read in
/// about the time of a few dozen round trips, without opening a thousand connections.
const FETCHES_AT_ONCE: usize = 16;

/// Everything that claims to sign `digest`: bundles among its referrers, and the layers of
/// cosign's legacy tag.
pub(super) async fn find(place: &Place, digest: &Digest, want: Want) -> anyhow::Result<Findings> {
    let mut findings = Findings::default();
    let (referrers, listing) = place.referrers(digest).await?;
    let from_referrers: Vec<_> = stream::iter(referrers.iter().filter(|d| is_bundle(d)))
        .map(|descriptor| referrer_claims(place, descriptor, digest, want, listing))
        .buffered(FETCHES_AT_ONCE)
        .collect()
        .await;
    for (origin, claim) in from_referrers.into_iter().flatten() {
        record(&mut findings, origin, claim)?;
    }
    let kind = match want {
        Want::Signatures => LegacyKind::Signatures,
        Want::Attestations => LegacyKind::Attestations,
    };
    let tag = kind.tag(digest);
    if let Some(legacy) = place.legacy(digest, kind).await? {
        let from_tag: Vec<_> = stream::iter(legacy.layers.iter().enumerate())
            .map(|(i, layer)| {
                let origin = format!("layer {i} of the tag {tag}");
                async move { (origin, legacy_claim(place, layer, kind).await) }
            })
            .buffered(FETCHES_AT_ONCE)
            .collect()
            .await;
        for (origin, claim) in from_tag {
            record(&mut findings, origin, claim)?;
        }
    }
    Ok(findings)
}

/// The bundles one referrer holds, each with where it was found; none when its (unsigned)
/// annotation says it is not what is wanted.
async fn referrer_claims(
    place: &Place,
    descriptor: &Descriptor,
    subject: &Digest,
    want: Want,
    listing: Listing,
) -> Vec<(String, Result<Claim, AttachError>)> {
    let origin = match listing {
        Listing::Api => format!("referrer {}", descriptor.digest),
        Listing::TagSchema => format!(
            "referrer {} (listed under the tag {})",
            descriptor.digest,
            berth_attach::referrers::fallback_tag(subject)
        ),
    };
    let manifest = match referrer_manifest(place, descriptor, subject).await {
        Ok(m) => m,
        Err(e) => return vec![(origin, Err(e))],
    };
    // Unauthenticated, so only used to choose: the statement is checked once verified.
    let is_signature = manifest
        .annotations
        .as_ref()
        .and_then(|a| a.get(PREDICATE_TYPE_ANNOTATION))
        .map(|t| t == SIGN_PREDICATE_TYPE);
    if is_signature.is_some_and(|s| s != (want == Want::Signatures)) {
        return Vec::new();
    }
    let mut claims = Vec::with_capacity(manifest.layers.len());
    for layer in &manifest.layers {
        let claim = if layer.media_type.starts_with(BUNDLE_PREFIX) {
            place
                .small_blob(layer, berth_attach::MAX_ARTIFACT_LAYER)
                .await
                .map(Claim::Bundle)
        } else {
            Err(AttachError::Malformed(format!(
                "its layer {} has media type {:?}, not a sigstore bundle's",
                layer.digest, layer.media_type
            )))
        };
        claims.push((origin.clone(), claim));
    }
    claims
}

/// Media types of sigstore bundles start so; which versions are read is the bundle's parser's
/// call, so an unknown one is refused by name rather than passed over.
pub(super) const BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

fn is_bundle(descriptor: &Descriptor) -> bool {
    descriptor
        .artifact_type
        .as_deref()
        .is_some_and(|t| t.starts_with(BUNDLE_PREFIX))
}

/// A referrer's manifest, which must be an image manifest naming `subject`.
async fn referrer_manifest(
    place: &Place,
    descriptor: &Descriptor,
    subject: &Digest,
) -> Result<ImageManifest, AttachError> {
    let Some(fetched) = place.manifest(&descriptor.digest.to_string()).await? else {
        return Err(AttachError::Malformed(
            "listed, but its manifest is not in the registry".into(),
        ));
    };
    let manifest = match Manifest::parse(&fetched.bytes, Some(&fetched.descriptor.media_type)) {
        Ok(Manifest::Image(m)) => m,
        _ => {
            return Err(AttachError::Malformed(
                "its manifest is not an image manifest".into(),
            ));
        }
    };
    match &manifest.subject {
        Some(s) if s.digest == *subject => Ok(manifest),
        Some(s) => Err(AttachError::Malformed(format!(
            "its subject is {}, not this image",
            s.digest
        ))),
        None => Err(AttachError::Malformed("it has no subject".into())),
    }
}

async fn legacy_claim(
    place: &Place,
    layer: &Descriptor,
    kind: LegacyKind,
) -> Result<Claim, AttachError> {
    let expected = match kind {
        LegacyKind::Attestations => DSSE_MEDIA_TYPE,
        _ => SIMPLE_SIGNING_MEDIA_TYPE,
    };
    if layer.media_type != expected {
        return Err(AttachError::Malformed(format!(
            "media type {:?}, not {expected:?}",
            layer.media_type
        )));
    }
    let signature = match kind {
        LegacyKind::Attestations => None,
        _ => Some(
            layer
                .annotation(SIGNATURE_ANNOTATION)
                .ok_or_else(|| {
                    AttachError::Malformed(format!("no {SIGNATURE_ANNOTATION} annotation"))
                })?
                .to_string(),
        ),
    };
    let keyless = LegacyKeyless::of(layer);
    let bytes = place
        .small_blob(layer, berth_attach::MAX_ARTIFACT_LAYER)
        .await?;
    Ok(match signature {
        Some(signature) => Claim::LegacySignature {
            payload: bytes,
            signature,
            keyless,
        },
        None => Claim::LegacyAttestation(bytes),
    })
}

/// Keeps a claim, or its reason when it could not be read; the registry failing is no reason
/// about one claim and ends the search.
fn record(
    findings: &mut Findings,
    origin: String,
    claim: Result<Claim, AttachError>,
) -> anyhow::Result<()> {
    match claim {
        Ok(claim) => findings.found.push(Found { origin, claim }),
        Err(e) => findings.refused.push(format!("{origin}: {}", refusal(e)?)),
    }
    Ok(())
}

/// The reason an unreadable claim is refused, or the error when the registry itself failed.
fn refusal(e: AttachError) -> anyhow::Result<String> {
    match e {
        AttachError::TooLarge { .. } | AttachError::Malformed(_) => Ok(e.to_string()),
        AttachError::Remote(ref r) if r.kind == berth_remote::Kind::Corrupt => Ok(e.to_string()),
        other => Err(other.into()),
    }
}

pub fn tree(ctx: &Context, args: TreeArgs) -> anyhow::Result<()> {
    let reference = super::remote::reference(&args.image)?;
    let lines = ctx.runtime()?.block_on(async {
        let place = place(ctx, &reference)?;
        let root = resolve(&place, &reference).await?;
        tree_lines(&place, &root.digest).await
    })?;
    let mut out = std::io::stdout().lock();
    if lines.is_empty() {
        writeln!(
            out,
            "No Supply Chain Security Related Artifacts found for image {},\n start creating one with simply running $ berth sign --key KEY {}",
            args.image, args.image
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "📦 Supply Chain Security Related artifacts for an image: {}",
        args.image
    )?;
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `cosign tree`'s lines: each legacy tag, then each referrer, with the digests of its layers.
async fn tree_lines(place: &Place, digest: &Digest) -> anyhow::Result<Vec<String>> {
    let repository = place.repository().familiar();
    let mut lines = Vec::new();
    for kind in LegacyKind::ALL {
        let Some(image) = place.legacy(digest, kind).await? else {
            continue;
        };
        let heading = match kind {
            LegacyKind::Signatures => "🔐 Signatures",
            LegacyKind::Attestations => "💾 Attestations",
            LegacyKind::Sboms => "📦 SBOMs",
        };
        lines.push(format!(
            "└── {heading} for an image tag: {repository}:{}",
            kind.tag(digest)
        ));
        push_layers(&mut lines, &image.layers);
    }
    let (referrers, _) = place.referrers(digest).await?;
    for descriptor in &referrers {
        let Some(artifact_type) = descriptor.artifact_type.as_deref() else {
            continue;
        };
        let manifest = match referrer_manifest(place, descriptor, digest).await {
            Ok(m) => m,
            Err(e) => {
                eprintln!(
                    "Error fetching artifact {repository}@{}: {}",
                    descriptor.digest,
                    refusal(e)?
                );
                continue;
            }
        };
        // As cosign: a bundle is shown by the predicate type its referrer names.
        let shown = manifest
            .annotations
            .as_ref()
            .and_then(|a| a.get(PREDICATE_TYPE_ANNOTATION))
            .map_or(artifact_type, String::as_str);
        lines.push(format!(
            "└── 🔗 {shown} artifacts via OCI referrer: {repository}@{}",
            descriptor.digest
        ));
        push_layers(&mut lines, &manifest.layers);
    }
    Ok(lines)
}

fn push_layers(lines: &mut Vec<String>, layers: &[Descriptor]) {
    for (i, layer) in layers.iter().enumerate() {
        let branch = if i + 1 == layers.len() {
            "└──"
        } else {
            "├──"
        };
        lines.push(format!("   {branch} 🍒 {}", layer.digest));
    }
}
