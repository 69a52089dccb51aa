//! The policy file: which signers, attestations, scan results and base images the images of
//! which repositories must have. TOML or JSON, told by the extension (`.json`, `.toml`) or,
//! failing that, by the first character; see docs/sign.md, "Policy".
//!
//! Everything is checked when the file is read: an unknown field, a glob or a regular
//! expression that does not parse, both or neither of a pair of exclusive fields are errors
//! naming the file and line (the parser's span), and an unreadable key or trusted root names
//! its path, so a mistyped policy never passes an image by checking less than was meant.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use berth_oci::{Digest, Reference};
use berth_sign::image::Verifier;
use berth_trust::Match;
use berth_vulndb::Level;
use serde::Deserialize;

/// A policy as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    #[serde(default)]
    pub signatures: Vec<SignatureRule>,
    #[serde(default)]
    pub attestations: Vec<AttestationRule>,
    #[serde(default)]
    pub scan: Vec<ScanRule>,
    #[serde(default, rename = "base-images")]
    pub base_images: Vec<BaseRule>,
}

/// Images of `repositories` must be signed by the signers (any one, or all).
#[derive(Deserialize)]
#[serde(from = "SignatureFields")]
pub struct SignatureRule {
    pub repositories: Vec<Glob>,
    pub signers: Signers,
}

/// Images of `repositories` must carry a signed attestation of `predicate-type`.
#[derive(Deserialize)]
#[serde(from = "AttestationFields")]
pub struct AttestationRule {
    pub repositories: Vec<Glob>,
    /// A name `berth attest --type` takes (`slsaprovenance1`, `cyclonedx`…) or a URI.
    pub predicate_type: String,
    pub signers: Signers,
}

// The rules as written, field by field: no `flatten`, which would cost the parser its spans
// (errors inside a rule would name the rule's first line, not their own).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureFields {
    repositories: Vec<Glob>,
    #[serde(default)]
    keys: Vec<PathBuf>,
    #[serde(default)]
    keyless: Vec<Keyless>,
    #[serde(default)]
    require: Require,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AttestationFields {
    repositories: Vec<Glob>,
    predicate_type: String,
    #[serde(default)]
    keys: Vec<PathBuf>,
    #[serde(default)]
    keyless: Vec<Keyless>,
    #[serde(default)]
    require: Require,
}

impl From<SignatureFields> for SignatureRule {
    fn from(f: SignatureFields) -> Self {
        SignatureRule {
            repositories: f.repositories,
            signers: Signers::new(f.keys, f.keyless, f.require),
        }
    }
}

impl From<AttestationFields> for AttestationRule {
    fn from(f: AttestationFields) -> Self {
        AttestationRule {
            repositories: f.repositories,
            predicate_type: f.predicate_type,
            signers: Signers::new(f.keys, f.keyless, f.require),
        }
    }
}

/// Who may sign: public keys and keyless identities, any one of them or all.
pub struct Signers {
    /// PEM public keys, relative to the policy file.
    pub keys: Vec<PathBuf>,
    pub keyless: Vec<Keyless>,
    pub require: Require,
    /// The signers loaded, each with how verdicts name it (filled in by [`Policy::read`]).
    pub loaded: Vec<(String, Verifier)>,
}

impl Signers {
    fn new(keys: Vec<PathBuf>, keyless: Vec<Keyless>, require: Require) -> Signers {
        Signers {
            keys,
            keyless,
            require,
            loaded: Vec::new(),
        }
    }
}

#[derive(Deserialize, Debug, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Require {
    /// One of the signers suffices.
    #[default]
    Any,
    /// Every signer must have signed.
    All,
}

/// A keyless signer: a certificate chaining to the trusted root, naming the identity and the
/// OIDC issuer (each exactly or by an unanchored regular expression, as cosign's flags).
#[derive(Deserialize)]
#[serde(try_from = "KeylessFields")]
pub struct Keyless {
    pub trusted_root: PathBuf,
    pub identity: Match,
    pub issuer: Match,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct KeylessFields {
    trusted_root: PathBuf,
    identity: Option<String>,
    identity_regexp: Option<String>,
    issuer: Option<String>,
    issuer_regexp: Option<String>,
}

impl TryFrom<KeylessFields> for Keyless {
    type Error = String;

    fn try_from(f: KeylessFields) -> Result<Self, String> {
        Ok(Keyless {
            trusted_root: f.trusted_root,
            identity: one_match("identity", f.identity, f.identity_regexp)?,
            issuer: one_match("issuer", f.issuer, f.issuer_regexp)?,
        })
    }
}

/// One of `NAME` and `NAME-regexp`, as the command line's keyless flags take them.
fn one_match(name: &str, exact: Option<String>, regexp: Option<String>) -> Result<Match, String> {
    let neither_or_both =
        || format!("a keyless signer needs exactly one of {name} and {name}-regexp");
    if exact.is_some() && regexp.is_some() {
        return Err(neither_or_both());
    }
    super::super::verify::matcher(name, &exact, &regexp)
        .map_err(|e| format!("{e:#}"))?
        .ok_or_else(neither_or_both)
}

/// Images of `repositories` must have no finding above `max-severity` left after berth scan's
/// filters (`ignore-unfixed`, `ignorefile`), matched against the database `db` (else berth's).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScanRule {
    pub repositories: Vec<Glob>,
    #[serde(deserialize_with = "level")]
    pub max_severity: Level,
    #[serde(default)]
    pub ignore_unfixed: bool,
    pub ignorefile: Option<PathBuf>,
    pub db: Option<PathBuf>,
}

fn level<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
    let text = String::deserialize(d)?;
    super::super::scan::parse_level(&text).map_err(serde::de::Error::custom)
}

/// Images of `repositories` must be built on one of `allowed`: their layers begin with all
/// the layers of the allowed image, named by digest.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct BaseRule {
    pub repositories: Vec<Glob>,
    pub allowed: Vec<PinnedImage>,
}

/// An image reference with a digest (`REGISTRY/REPO@sha256:…`): a tag could be moved.
#[derive(Deserialize, Debug, Clone)]
#[serde(try_from = "String")]
pub struct PinnedImage {
    pub reference: Reference,
    pub digest: Digest,
}

impl TryFrom<String> for PinnedImage {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let reference: Reference = text
            .parse()
            .map_err(|e| format!("base image {text:?}: {e}"))?;
        let digest = reference
            .digest()
            .cloned()
            .ok_or_else(|| format!("base image {text:?} has no digest: name it REPO@sha256:…"))?;
        Ok(PinnedImage { reference, digest })
    }
}

/// A repository pattern, as the registry's configuration writes them: `*` matches within one
/// path segment, `**` across segments, matched against the whole `registry/path` (e.g.
/// `127.0.0.1:5000/team/*`).
#[derive(Deserialize, Debug, Clone)]
#[serde(transparent)]
pub struct Glob {
    pub text: String,
}

impl Glob {
    pub fn matches(&self, repository: &str) -> bool {
        berth_registry::config::glob(&self.text, repository)
    }
}

/// A policy read, its relative paths resolved against its directory, its signers loaded.
pub struct Policy {
    pub path: PathBuf,
    pub file: PolicyFile,
}

impl Policy {
    pub fn read(path: &Path) -> anyhow::Result<Policy> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the policy {}", path.display()))?;
        let mut file = parse(path, &text)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let named = file
            .signatures
            .iter_mut()
            .map(|r| ("signatures", &mut r.signers))
            .chain(
                file.attestations
                    .iter_mut()
                    .map(|r| ("attestations", &mut r.signers)),
            );
        for (section, signers) in named {
            if signers.keys.is_empty() && signers.keyless.is_empty() {
                bail!(
                    "{}: a [[{section}]] rule names no signer: give it keys = [\"FILE.pub\"] or a [[{section}.keyless]] signer",
                    path.display()
                );
            }
            signers.loaded =
                load(dir, signers).with_context(|| format!("the policy {}", path.display()))?;
        }
        for rule in &mut file.scan {
            rule.ignorefile = rule.ignorefile.as_ref().map(|f| dir.join(f));
            rule.db = rule.db.as_ref().map(|d| dir.join(d));
        }
        Ok(Policy {
            path: path.to_path_buf(),
            file,
        })
    }
}

/// The verifiers of a rule's signers, keys and trusted roots read relative to `dir`.
fn load(dir: &Path, signers: &Signers) -> anyhow::Result<Vec<(String, Verifier)>> {
    let mut loaded = Vec::new();
    for key in &signers.keys {
        let verifier = super::super::verify::key_verifier(&dir.join(key))?;
        loaded.push((format!("key {}", key.display()), verifier));
    }
    for keyless in &signers.keyless {
        let signer = berth_trust::Policy {
            identity: keyless.identity.clone(),
            issuer: keyless.issuer.clone(),
        };
        let verifier =
            super::super::verify::keyless_verifier(&dir.join(&keyless.trusted_root), signer)?;
        let name = format!("identity {} of issuer {}", keyless.identity, keyless.issuer);
        loaded.push((name, verifier));
    }
    Ok(loaded)
}

/// TOML or JSON, by extension, else by content.
fn parse(path: &Path, text: &str) -> anyhow::Result<PolicyFile> {
    let json = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => true,
        Some("toml") => false,
        _ => text.trim_start().starts_with('{'),
    };
    if json {
        serde_json::from_str(text)
            .with_context(|| format!("{}: not a valid policy (JSON)", path.display()))
    } else {
        toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start].matches('\n').count() + 1)
                .map_or(String::new(), |l| format!(":{l}"));
            anyhow::anyhow!(
                "{}{line}: not a valid policy (TOML): {}",
                path.display(),
                e.message()
            )
        })
    }
}
