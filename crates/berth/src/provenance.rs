//! The SLSA v1 provenance of a build (`https://slsa.dev/provenance/v1`): what was built from
//! what, by which builder, when. The field names are SLSA's; where BuildKit fills a field, the
//! same kind of value goes there (`externalParameters.configSource`, `.request.args`,
//! `resolvedDependencies` as `pkg:docker/…` purls with their digests).
//!
//! Secrets stay out: the values given with `--secret` never enter the build's parameters, and
//! build args a user marks secret (by `--secret-build-arg NAME`, or by a name holding SECRET,
//! TOKEN, PASSWORD or KEY) are left out with their values; only their names are listed, so a
//! reader knows something was withheld.

use std::collections::BTreeMap;
use std::path::Path;

use berth_dockerfile::origin::BuildRecord;
use berth_oci::Digest;
use serde_json::{Value, json};

/// The predicate type of SLSA provenance v1.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// What kind of build this is: a Dockerfile built by berth. A URN, as no web page is its home.
pub const BUILD_TYPE: &str = "urn:berth:build-type:dockerfile:v1";
/// The builder's identity (its version goes beside it).
pub const BUILDER_ID: &str = "urn:berth:builder";

/// How much the provenance says: `min` the parameters and dependencies, `max` also where each
/// layer came from in the Dockerfile (BuildKit's two modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Min,
    Max,
}

/// Name parts that make a build arg secret without being marked.
const SECRET_NAME_PARTS: [&str; 4] = ["SECRET", "TOKEN", "PASSWORD", "KEY"];

/// Whether the build arg `name` is withheld from the provenance.
pub fn is_secret_arg(name: &str, marked: &[String]) -> bool {
    let upper = name.to_ascii_uppercase();
    marked.iter().any(|m| m.eq_ignore_ascii_case(name))
        || SECRET_NAME_PARTS.iter().any(|part| upper.contains(part))
}

/// A base image the build resolved: the name the Dockerfile gave and the digest it resolved to.
#[derive(Debug, Clone)]
pub struct Base {
    pub reference: String,
    pub digest: Digest,
}

/// A build context that is a git checkout: where it came from and at which commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// The `origin` remote's URL (the first remote when there is no `origin`); `None` for a
    /// repository with no remote.
    pub url: Option<String>,
    pub commit: String,
}

/// What went into one build.
pub struct Build<'a> {
    pub dockerfile_name: &'a str,
    pub dockerfile: &'a [u8],
    pub target: Option<&'a str>,
    pub platform: String,
    pub build_args: &'a BTreeMap<String, String>,
    pub secret_build_args: &'a [String],
    /// The values given with `--secret`: a build arg holding one is withheld too.
    pub secret_values: Vec<&'a [u8]>,
    pub secret_ids: Vec<&'a str>,
    pub bases: &'a [Base],
    pub git: Option<GitSource>,
    pub invocation_id: String,
    pub started_on: String,
    pub finished_on: String,
    pub record: &'a BuildRecord,
}

/// The provenance predicate of `build`.
pub fn predicate(build: &Build<'_>, mode: Mode) -> Value {
    let mut args = BTreeMap::new();
    let mut withheld = Vec::new();
    for (name, value) in build.build_args {
        let holds_secret = build
            .secret_values
            .iter()
            .any(|s| !s.is_empty() && contains(value.as_bytes(), s));
        if holds_secret || is_secret_arg(name, build.secret_build_args) {
            withheld.push(name.clone());
        } else {
            args.insert(format!("build-arg:{name}"), value.clone());
        }
    }
    if let Some(target) = build.target {
        args.insert("target".into(), target.to_string());
    }
    let mut dependencies: Vec<Value> = build
        .bases
        .iter()
        .map(|base| {
            json!({
                "uri": base_purl(&base.reference, &build.platform),
                "digest": {base.digest.algorithm().name(): base.digest.hex()},
            })
        })
        .collect();
    if let Some(git) = &build.git {
        let mut dep = json!({"digest": {"gitCommit": git.commit}});
        if let Some(url) = &git.url {
            dep["uri"] = json!(format!("git+{url}@{}", git.commit));
        }
        dependencies.push(dep);
    }
    let mut internal = json!({"builderPlatform": build.platform});
    if mode == Mode::Max {
        internal["buildRecord"] = serde_json::to_value(build.record).expect("a record serialises");
    }
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "configSource": {
                    "path": build.dockerfile_name,
                    "digest": {"sha256": Digest::sha256(build.dockerfile).hex()},
                },
                "request": {
                    "frontend": "dockerfile",
                    "args": args,
                    "platforms": [build.platform],
                    "secrets": build.secret_ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
                    "withheldBuildArgs": withheld,
                },
            },
            "internalParameters": internal,
            "resolvedDependencies": dependencies,
        },
        "runDetails": {
            "builder": {
                "id": BUILDER_ID,
                "version": {"berth": env!("CARGO_PKG_VERSION")},
            },
            "metadata": {
                "invocationID": build.invocation_id,
                "startedOn": build.started_on,
                "finishedOn": build.finished_on,
            },
        },
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `pkg:docker/NAME@VERSION?platform=…` for a base image reference (the digest goes beside
/// it), as BuildKit writes them: the tag as version, `latest` when none is given.
fn base_purl(reference: &str, platform: &str) -> String {
    let (name, pinned) = match reference.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (reference, None),
    };
    // A colon after the last slash separates the tag (one before it is a registry's port);
    // a name pinned by digest alone has the digest as its version.
    let (name, version) = match (name.rsplit_once(':'), pinned) {
        (Some((n, t)), _) if !t.contains('/') => (n, t),
        (_, Some(digest)) => (name, digest),
        _ => (name, "latest"),
    };
    format!(
        "pkg:docker/{name}@{version}?platform={}",
        platform.replace('/', "%2F")
    )
}

/// The git checkout `dir` is the top of (or lies in), read from `.git`'s plain files: HEAD,
/// the ref it names (loose or packed), and the remotes in `config`. `None` when `dir` is not
/// in a git checkout or HEAD names no commit yet.
pub fn git_source(dir: &Path) -> Option<GitSource> {
    let dir = dir.canonicalize().ok()?;
    let git = dir
        .ancestors()
        .map(|d| d.join(".git"))
        .find(|g| g.exists())?;
    let git = if git.is_file() {
        // A worktree or submodule: `.git` is a file saying `gitdir: PATH`.
        let text = std::fs::read_to_string(&git).ok()?;
        let path = text.trim().strip_prefix("gitdir:")?.trim();
        git.parent()?.join(path)
    } else {
        git
    };
    // A linked worktree keeps its HEAD and shares refs and config with the main repository.
    let common = std::fs::read_to_string(git.join("commondir"))
        .map(|c| git.join(c.trim()))
        .unwrap_or_else(|_| git.clone());
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    let commit = match head.strip_prefix("ref:") {
        Some(name) => resolve_ref(&git, &common, name.trim())?,
        None => head.to_string(),
    };
    let is_hex = |s: &str| s.len() >= 40 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_hex(&commit) {
        return None;
    }
    let config = std::fs::read_to_string(common.join("config")).unwrap_or_default();
    Some(GitSource {
        url: remote_url(&config),
        commit,
    })
}

fn resolve_ref(git: &Path, common: &Path, name: &str) -> Option<String> {
    for dir in [git, common] {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            return Some(text.trim().to_string());
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (hash, refname) = line.split_once(' ')?;
        (refname.trim() == name).then(|| hash.to_string())
    })
}

/// The URL of the `origin` remote, else of the first remote, in a git config file.
fn remote_url(config: &str) -> Option<String> {
    let mut section = String::new();
    let mut urls = Vec::new();
    for line in config.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "url" {
            if let Some(name) = section.strip_prefix("remote ") {
                urls.push((name.trim_matches('"').to_string(), value.trim().to_string()));
            }
        }
    }
    urls.iter()
        .find(|(name, _)| name == "origin")
        .or(urls.first())
        .map(|(_, url)| url.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_build_args_are_marked_or_named_so() {
        let marked = vec!["deploy_note".to_string()];
        assert!(is_secret_arg("DEPLOY_NOTE", &marked));
        assert!(is_secret_arg("npm_token", &[]));
        assert!(is_secret_arg("SSH_KEY", &[]));
        assert!(!is_secret_arg("VERSION", &marked));
    }

    #[test]
    fn base_purls_carry_the_tag_and_platform() {
        assert_eq!(
            base_purl("localhost:5000/busybox:1.36", "linux/amd64"),
            "pkg:docker/localhost:5000/busybox@1.36?platform=linux%2Famd64"
        );
        assert_eq!(
            base_purl("localhost:5000/busybox", "linux/amd64"),
            "pkg:docker/localhost:5000/busybox@latest?platform=linux%2Famd64"
        );
        assert_eq!(
            base_purl("localhost:5000/busybox@sha256:ab", "linux/arm64"),
            "pkg:docker/localhost:5000/busybox@sha256:ab?platform=linux%2Farm64"
        );
    }

    #[test]
    fn the_origin_remote_is_preferred() {
        let config = "[core]\n\tbare = false\n[remote \"upstream\"]\n\turl = https://a/u.git\n\
                      [remote \"origin\"]\n\turl = https://a/o.git\n";
        assert_eq!(remote_url(config).as_deref(), Some("https://a/o.git"));
        assert_eq!(remote_url("[core]\n"), None);
    }
}
