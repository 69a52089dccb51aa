//! Attestations made at build time (`berth build --sbom --provenance[=mode=min|max]
//! [--sign-key KEY] --push`): the SBOM of the image just built and its SLSA v1 provenance,
//! each an in-toto statement about the pushed manifest, attached to it as an OCI referrer.
//!
//! Signed (with `--sign-key`), each statement is a DSSE envelope in a sigstore bundle, the
//! referrer `berth attest` and cosign 3 write, so `berth verify-attestation` checks it.
//! Unsigned, a DSSE envelope would have no signature, which DSSE does not allow; the statement
//! is then attached bare, as BuildKit attaches its attestations: a layer
//! `application/vnd.in-toto+json` annotated `in-toto.io/predicate-type`, in an artifact of
//! that type whose subject is the image.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context as _, bail};
use async_trait::async_trait;
use berth_attach::{Artifact, Layer};
use berth_oci::{Descriptor, Digest, Reference};
use berth_sbom::Format;
use berth_sign::PrivateKey;
use berth_sign::image;
use berth_sigstore::{Statement, Subject};
use berth_transport::{BlobStream, ImageSource, Root, TransportError};
use bytes::Bytes;
use serde_json::Value;

use crate::Context;
use crate::provenance::{self, Mode};

/// The predicate type of a CycloneDX SBOM, as cosign names it.
pub const CYCLONEDX_PREDICATE_TYPE: &str = "https://cyclonedx.org/bom";
/// The media type of a bare in-toto statement (and of the artifact holding one).
pub const IN_TOTO_MEDIA_TYPE: &str = "application/vnd.in-toto+json";
/// The layer annotation naming a bare statement's predicate type (BuildKit's).
pub const PREDICATE_TYPE_ANNOTATION: &str = "in-toto.io/predicate-type";

/// What attestations a build makes, from its flags.
pub struct Wanted {
    pub sbom: bool,
    pub provenance: Option<Mode>,
}

impl Wanted {
    /// `--sbom`, `--provenance[=mode=min|max]` and BuildKit's `--attest type=sbom` /
    /// `--attest type=provenance[,mode=max]`.
    pub fn parse(
        sbom: bool,
        provenance: Option<&str>,
        attest: &[String],
    ) -> anyhow::Result<Wanted> {
        let mut wanted = Wanted {
            sbom,
            provenance: provenance.map(parse_mode).transpose()?,
        };
        for spec in attest {
            let mut kind = None;
            let mut mode = None;
            for field in spec.split(',') {
                match field.split_once('=') {
                    Some(("type", v)) => kind = Some(v),
                    Some(("mode", _)) => mode = Some(parse_mode(field)?),
                    _ => bail!(
                        "--attest {spec}: {field:?} is not type=sbom|provenance or mode=min|max"
                    ),
                }
            }
            match kind {
                Some("sbom") if mode.is_none() => wanted.sbom = true,
                Some("provenance") => wanted.provenance = Some(mode.unwrap_or(Mode::Min)),
                _ => bail!("--attest {spec}: give type=sbom, or type=provenance[,mode=min|max]"),
            }
        }
        Ok(wanted)
    }

    pub fn any(&self) -> bool {
        self.sbom || self.provenance.is_some()
    }
}

fn parse_mode(spec: &str) -> anyhow::Result<Mode> {
    match spec {
        "" | "mode=min" | "true" => Ok(Mode::Min),
        "mode=max" => Ok(Mode::Max),
        _ => bail!("provenance {spec:?}: give mode=min or mode=max"),
    }
}

/// One attestation: a predicate and its type.
pub struct Attestation {
    pub predicate_type: &'static str,
    pub predicate: Value,
}

/// The attestations of the image just built: its SBOM (catalogued from the store) and its
/// provenance, as wanted.
pub fn make(
    ctx: &Context,
    built: &berth_build::Built,
    wanted: &Wanted,
    build: &provenance::Build<'_>,
) -> anyhow::Result<Vec<Attestation>> {
    let mut out = Vec::new();
    if wanted.sbom {
        let created = berth_sbom::creation_time()?;
        let contents = crate::contents::read(
            ctx,
            &built.manifest.digest.to_string(),
            None,
            crate::contents::Caching::Use,
        )
        .context("cataloguing the image just built for its SBOM")?;
        let doc = berth_sbom::write_attributed(
            Format::CycloneDx,
            &contents.subject,
            &contents.catalog,
            &contents.attributions,
            created,
        );
        out.push(Attestation {
            predicate_type: CYCLONEDX_PREDICATE_TYPE,
            predicate: serde_json::from_slice(&doc).context("the SBOM berth wrote")?,
        });
    }
    if let Some(mode) = wanted.provenance {
        out.push(Attestation {
            predicate_type: provenance::PREDICATE_TYPE,
            predicate: provenance::predicate(build, mode),
        });
    }
    Ok(out)
}

/// The statement of `attestation` about the manifest `subject` of the image `name`.
pub fn statement(name: &str, subject: &Descriptor, attestation: &Attestation) -> Statement {
    Statement::new(
        Subject::sha256(name, subject.digest.hex()),
        attestation.predicate_type,
        attestation.predicate.clone(),
    )
}

/// An unsigned statement as BuildKit attaches one: the artifact of a bare statement layer.
pub fn unsigned_artifact(statement: &Statement) -> Artifact {
    let annotations = BTreeMap::from([(
        PREDICATE_TYPE_ANNOTATION.to_string(),
        statement.predicate_type.clone(),
    )]);
    Artifact {
        artifact_type: IN_TOTO_MEDIA_TYPE.to_string(),
        layers: vec![Layer {
            media_type: IN_TOTO_MEDIA_TYPE.to_string(),
            bytes: Bytes::from(serde_json::to_vec(statement).expect("a statement serialises")),
            annotations: annotations.clone(),
        }],
        annotations,
    }
}

/// The artifacts that carry `attestations` about the manifest `subject` of the image `name`:
/// signed bundles with `key`, else bare statements.
pub fn artifacts(
    name: &str,
    subject: &Descriptor,
    attestations: &[Attestation],
    key: Option<&PrivateKey>,
) -> Vec<Artifact> {
    attestations
        .iter()
        .map(|attestation| {
            let statement = statement(name, subject, attestation);
            match key {
                Some(key) => {
                    let envelope = image::sign_statement_envelope(key, &statement);
                    let bundle = image::key_bundle(&key.public_key(), envelope).to_json();
                    super::sign::bundle_artifact(bundle, attestation.predicate_type)
                }
                None => unsigned_artifact(&statement),
            }
        })
        .collect()
}

/// Attaches `attestations` to the image `reference` names (just pushed, `subject` its
/// manifest), signed with `key` when there is one.
pub fn attach(
    ctx: &Context,
    reference: &Reference,
    subject: &Descriptor,
    attestations: &[Attestation],
    key: Option<&PrivateKey>,
) -> anyhow::Result<()> {
    ctx.runtime()?.block_on(async {
        let place = super::sign::place(ctx, reference)?;
        // What the registry serves under the digest is what the attestations are about.
        let pushed = place.manifest(&subject.digest.to_string()).await?;
        let Some(pushed) = pushed else {
            bail!(
                "{}@{} is not in the registry after the push; nothing was attested",
                reference.repository().familiar(),
                subject.digest
            );
        };
        let subject = &pushed.descriptor;
        let name = super::sign::docker_reference(&place);
        for artifact in artifacts(&name, subject, attestations, key) {
            place.attach(subject, artifact).await?;
        }
        eprintln!(
            "Attached {} attestation{} ({}) to {}@{}",
            attestations.len(),
            if attestations.len() == 1 { "" } else { "s" },
            if key.is_some() { "signed" } else { "unsigned" },
            place.repository().familiar(),
            subject.digest
        );
        anyhow::Ok(())
    })
}

/// An image source with artifacts beside its images: each artifact's manifest an extra root
/// (no name: an OCI layout lists it in `index.json` untagged, its `subject` naming the image,
/// which is how the image layout holds referrers), its blobs served from memory.
pub struct WithReferrers {
    inner: Box<dyn ImageSource>,
    manifests: Vec<Descriptor>,
    blobs: HashMap<Digest, Bytes>,
}

impl WithReferrers {
    pub fn new(
        inner: Box<dyn ImageSource>,
        subject: &Descriptor,
        artifacts: Vec<Artifact>,
    ) -> Self {
        let mut source = WithReferrers {
            inner,
            manifests: Vec::new(),
            blobs: HashMap::new(),
        };
        for artifact in artifacts {
            let packed = artifact.pack(subject);
            for (desc, bytes) in packed.blobs {
                source.blobs.insert(desc.digest, bytes);
            }
            source
                .blobs
                .insert(packed.manifest.digest.clone(), packed.bytes);
            source.manifests.push(packed.manifest);
        }
        source
    }

    /// `roots` (the image's, as the destination names them) and the artifacts'.
    pub fn roots_with(&self, mut roots: Vec<Root>) -> Vec<Root> {
        roots.extend(self.manifests.iter().map(|m| Root {
            descriptor: m.clone(),
            names: Vec::new(),
        }));
        roots
    }

    fn held(&self, desc: &Descriptor) -> Option<Bytes> {
        self.blobs.get(&desc.digest).cloned()
    }
}

#[async_trait]
impl ImageSource for WithReferrers {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    async fn roots(&self) -> Result<Vec<Root>, TransportError> {
        Ok(self.roots_with(self.inner.roots().await?))
    }

    fn origin(&self) -> Option<berth_transport::Origin> {
        self.inner.origin()
    }

    async fn manifest(&self, desc: &Descriptor) -> Result<Bytes, TransportError> {
        match self.held(desc) {
            Some(bytes) => Ok(bytes),
            None => self.inner.manifest(desc).await,
        }
    }

    async fn blob(&self, desc: &Descriptor) -> Result<BlobStream, TransportError> {
        match self.held(desc) {
            Some(bytes) => Ok(Box::pin(std::io::Cursor::new(bytes))),
            None => self.inner.blob(desc).await,
        }
    }
}

/// Build args the user marked secret must not leave in the image itself: an `ARG` the
/// Dockerfile declares is written, value and all, into the image's history (as BuildKit
/// does), so a marked one there refuses the build before anything is pushed or written out.
/// Args secret only by their name are warned about.
pub fn check_secret_args_in_image(
    image: &berth_oci::ImageConfig,
    build_args: &BTreeMap<String, String>,
    marked: &[String],
) -> anyhow::Result<()> {
    let config = serde_json::to_string(image).expect("an image config serialises");
    for (name, value) in build_args {
        // A short value is found anywhere by chance; there, only `NAME=value` (how history
        // and the environment write it) counts.
        let found = match value.len() {
            0 => false,
            1..6 => config.contains(&format!("{name}={value}")),
            _ => config.contains(value.as_str()),
        };
        if !found {
            continue;
        }
        if marked.iter().any(|m| m.eq_ignore_ascii_case(name)) {
            bail!(
                "the build arg {name} is marked secret (--secret-build-arg) but the Dockerfile \
                 declares it (ARG {name}), so its value is in the image's history; nothing was \
                 pushed or written. Pass the value with --secret id={name} and read it from \
                 /run/secrets/{name} in RUN --mount=type=secret,id={name}"
            );
        }
        if provenance::is_secret_arg(name, &[]) {
            eprintln!(
                "WARNING: the build arg {name} looks secret but the Dockerfile declares it, so \
                 its value is in the image's history; pass it with --secret instead"
            );
        }
    }
    Ok(())
}

/// The key `--sign-key` names, read before the build so a wrong password costs no build.
pub fn load_key(path: Option<&std::path::Path>) -> anyhow::Result<Option<PrivateKey>> {
    path.map(super::sign::load_key).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildkit_spellings_parse() {
        let w = Wanted::parse(false, None, &["type=sbom".into()]).unwrap();
        assert!(w.sbom && w.provenance.is_none());
        let w = Wanted::parse(false, None, &["type=provenance,mode=max".into()]).unwrap();
        assert_eq!(w.provenance, Some(Mode::Max));
        let w = Wanted::parse(true, Some("mode=min"), &[]).unwrap();
        assert_eq!(w.provenance, Some(Mode::Min));
        assert!(Wanted::parse(false, Some("mode=huge"), &[]).is_err());
        assert!(Wanted::parse(false, None, &["type=vex".into()]).is_err());
    }
}
