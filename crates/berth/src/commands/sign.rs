//! `berth sign` and `berth attest`: sign an image in a registry, or attest something about it,
//! with a key, in cosign's formats (see docs/sign.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use berth_attach::{Artifact, Layer, LegacyKind, Place};
use berth_oci::{Descriptor, Digest, Reference};
use berth_remote::source::Fetched;
use berth_sign::PrivateKey;
use berth_sign::image::{
    self, DSSE_MEDIA_TYPE, SIGN_PREDICATE_TYPE, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE,
    SimpleSigning,
};
use berth_sigstore::{MediaType, Statement, Subject};
use bytes::Bytes;
use clap::{Args, ValueEnum};

use crate::Context;

/// Where signatures go.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleFormat {
    /// A sigstore bundle v0.3 attached as an OCI 1.1 referrer (cosign 3's default)
    Sigstore,
    /// cosign's tags beside the image: sha256-<hex>.sig and .att
    Legacy,
}

#[derive(Args, Debug)]
pub struct SignArgs {
    /// The image in a registry (REPO:TAG or REPO@DIGEST)
    pub image: String,
    /// The private key (cosign's encrypted PEM, or PKCS#8/SEC1); its password comes from
    /// COSIGN_PASSWORD or BERTH_PASSWORD, or is asked for on the terminal
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "sigstore")]
    pub bundle_format: BundleFormat,
    /// Annotation to sign with the image (repeatable)
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// For an index, sign each of its manifests too
    #[arg(long)]
    pub recursive: bool,
}

#[derive(Args, Debug)]
pub struct AttestArgs {
    /// The image in a registry (REPO:TAG or REPO@DIGEST)
    pub image: String,
    /// The private key, as for `berth sign`
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The predicate's type: custom, slsaprovenance, slsaprovenance1, spdxjson, cyclonedx,
    /// vuln, openvex, link, or a URI
    #[arg(long = "type", default_value = "custom")]
    pub predicate_type: String,
    /// The predicate: JSON (for custom, any text)
    #[arg(long, value_name = "FILE")]
    pub predicate: PathBuf,
    #[arg(long, value_enum, default_value = "sigstore")]
    pub bundle_format: BundleFormat,
}

/// The annotations cosign 3 puts on a bundle referrer.
const CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
pub const PREDICATE_TYPE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";
/// The annotation naming a legacy attestation layer's predicate type.
const LEGACY_PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

pub fn sign(ctx: &Context, args: SignArgs) -> anyhow::Result<()> {
    let key_path = require_key(args.key.as_deref())?;
    let reference = super::remote::reference(&args.image)?;
    let annotations = parse_annotations(&args.annotations)?;
    let key = load_key(key_path)?;
    ctx.runtime()?.block_on(async {
        let place = place(ctx, &reference)?;
        let targets = if args.recursive {
            // An index's manifests are in its body.
            let root = fetch(&place, &reference).await?;
            let mut targets = vec![root.descriptor.clone()];
            targets.extend(children(&root)?);
            targets
        } else {
            vec![resolve(&place, &reference).await?]
        };
        warn_if_tagged(&reference, &targets[0].digest);
        for target in &targets {
            sign_one(&place, &key, target, args.bundle_format, &annotations).await?;
            eprintln!(
                "Pushing signature to: {}@{}",
                place.repository().familiar(),
                target.digest
            );
        }
        anyhow::Ok(())
    })
}

pub fn attest(ctx: &Context, args: AttestArgs) -> anyhow::Result<()> {
    let key_path = require_key(args.key.as_deref())?;
    let reference = super::remote::reference(&args.image)?;
    let uri = predicate_uri(&args.predicate_type)?;
    let file = std::fs::read(&args.predicate)
        .with_context(|| format!("reading the predicate {}", args.predicate.display()))?;
    let now = now_rfc3339();
    let predicate = image::predicate(uri, &file, &now)
        .with_context(|| format!("the predicate {}", args.predicate.display()))?;
    let key = load_key(key_path)?;
    ctx.runtime()?.block_on(async {
        let place = place(ctx, &reference)?;
        let root = resolve(&place, &reference).await?;
        warn_if_tagged(&reference, &root.digest);
        let digest = &root.digest;
        let subject = Subject::sha256(&docker_reference(&place), digest.hex());
        let statement = Statement::new(subject, uri, predicate);
        let envelope = image::sign_statement_envelope(&key, &statement);
        match args.bundle_format {
            BundleFormat::Sigstore => {
                let bundle = image::key_bundle(&key.public_key(), envelope).to_json();
                attach_bundle(&place, &root, bundle, uri).await?;
            }
            BundleFormat::Legacy => {
                let layer = Layer {
                    media_type: DSSE_MEDIA_TYPE.to_string(),
                    bytes: Bytes::from(serde_json::to_vec(&envelope)?),
                    annotations: BTreeMap::from([
                        (SIGNATURE_ANNOTATION.to_string(), String::new()),
                        (
                            LEGACY_PREDICATE_TYPE_ANNOTATION.to_string(),
                            uri.to_string(),
                        ),
                    ]),
                };
                place
                    .append_legacy(digest, LegacyKind::Attestations, layer)
                    .await?;
            }
        }
        eprintln!(
            "Pushing attestation to: {}@{digest}",
            place.repository().familiar()
        );
        anyhow::Ok(())
    })
}

async fn sign_one(
    place: &Place,
    key: &PrivateKey,
    target: &Descriptor,
    format: BundleFormat,
    annotations: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let repository = docker_reference(place);
    match format {
        BundleFormat::Sigstore => {
            let statement = image::sign_statement(&repository, target.digest.hex(), annotations);
            let envelope = image::sign_statement_envelope(key, &statement);
            let bundle = image::key_bundle(&key.public_key(), envelope).to_json();
            attach_bundle(place, target, bundle, SIGN_PREDICATE_TYPE).await?;
        }
        BundleFormat::Legacy => {
            let payload =
                SimpleSigning::new(&repository, &target.digest.to_string(), annotations).to_bytes();
            let signature = key.sign(&payload);
            let layer = Layer {
                media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
                bytes: Bytes::from(payload),
                annotations: BTreeMap::from([(
                    SIGNATURE_ANNOTATION.to_string(),
                    image::signature_annotation(&signature),
                )]),
            };
            place
                .append_legacy(&target.digest, LegacyKind::Signatures, layer)
                .await?;
        }
    }
    Ok(())
}

/// Attaches a bundle as cosign 3 does: a referrer of artifact type the bundle's media type.
async fn attach_bundle(
    place: &Place,
    subject: &Descriptor,
    bundle: Vec<u8>,
    predicate_type: &str,
) -> anyhow::Result<()> {
    place
        .attach(subject, bundle_artifact(bundle, predicate_type))
        .await?;
    Ok(())
}

/// A bundle as the artifact cosign 3 makes of it: artifact type the bundle's media type, the
/// bundle its one layer, annotated with its predicate type.
pub fn bundle_artifact(bundle: Vec<u8>, predicate_type: &str) -> Artifact {
    Artifact {
        artifact_type: MediaType::V03_STR.to_string(),
        layers: vec![Layer {
            media_type: MediaType::V03_STR.to_string(),
            bytes: Bytes::from(bundle),
            annotations: BTreeMap::new(),
        }],
        annotations: BTreeMap::from([
            (CREATED_ANNOTATION.to_string(), now_rfc3339()),
            (CONTENT_ANNOTATION.to_string(), "dsse-envelope".to_string()),
            (
                PREDICATE_TYPE_ANNOTATION.to_string(),
                predicate_type.to_string(),
            ),
        ]),
    }
}

fn require_key(key: Option<&Path>) -> anyhow::Result<&Path> {
    key.context(
        "keyless signing (a Fulcio certificate logged in Rekor) is not available in berth: \
         sign with a key, --key FILE (`berth key generate` makes one)",
    )
}

/// The private key, opened with the password when it is sealed.
pub fn load_key(path: &Path) -> anyhow::Result<PrivateKey> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let sealed = text.starts_with(b"-----BEGIN ENCRYPTED");
    let password = if sealed {
        super::key::password()?
    } else {
        zeroize::Zeroizing::new(Vec::new())
    };
    Ok(berth_sign::read_private_key(path, &password)?)
}

/// `KEY=VALUE` annotations.
pub fn parse_annotations(args: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    args.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("annotation {a:?} is not KEY=VALUE"),
        })
        .collect()
}

/// The predicate type URI `--type` names.
pub fn predicate_uri(name: &str) -> anyhow::Result<&str> {
    image::predicate_type_uri(name).with_context(|| {
        format!(
            "--type {name:?} is neither a predicate type berth knows (custom, slsaprovenance, \
             slsaprovenance1, spdxjson, cyclonedx, vuln, openvex, link) nor a URI"
        )
    })
}

pub fn place(ctx: &Context, reference: &Reference) -> anyhow::Result<Place> {
    let registry = ctx.client()?.registry(reference.registry())?;
    Ok(Place::new(registry, reference.repository().clone()))
}

/// What the reference names now (digest, media type, size): resolved once, so everything
/// after is about it. Asked with a HEAD, which a registry that refuses the pull of an
/// unsigned image still answers: signing it there is how it becomes pullable.
pub async fn resolve(place: &Place, reference: &Reference) -> anyhow::Result<Descriptor> {
    place
        .describe(&at(reference))
        .await?
        .with_context(|| not_there(reference))
}

/// The manifest the reference names now, bytes and all, for what needs its contents.
pub async fn fetch(place: &Place, reference: &Reference) -> anyhow::Result<Fetched> {
    place
        .manifest(&at(reference))
        .await?
        .with_context(|| not_there(reference))
}

fn at(reference: &Reference) -> String {
    match reference.digest() {
        Some(d) => d.to_string(),
        None => reference.tag().unwrap_or("latest").to_string(),
    }
}

fn not_there(reference: &Reference) -> String {
    format!("{} is not in the registry", reference.familiar())
}

/// The repository as cosign names it in what it signs: `registry/path`.
pub fn docker_reference(place: &Place) -> String {
    let repository = place.repository();
    format!("{}/{}", repository.registry(), repository.path())
}

fn warn_if_tagged(reference: &Reference, digest: &Digest) {
    if reference.digest().is_none() {
        eprintln!(
            "WARNING: Image reference {} uses a tag, not a digest, to identify the image. It \
             was resolved once, to {digest}, and that digest is used; name the image by digest \
             ({}@{digest}) to be sure which image it is.",
            reference.familiar(),
            reference.repository().familiar()
        );
    }
}

/// The manifests an index lists.
fn children(root: &Fetched) -> anyhow::Result<Vec<Descriptor>> {
    let manifest = berth_oci::Manifest::parse(&root.bytes, Some(&root.descriptor.media_type))?;
    Ok(match manifest {
        berth_oci::Manifest::Index(index) => index.manifests,
        berth_oci::Manifest::Image(_) => Vec::new(),
    })
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
