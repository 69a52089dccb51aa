//! Image references, parsed and normalised exactly as Docker does.
//!
//! `nginx` means `docker.io/library/nginx:latest`. The first path component names a registry host
//! when it holds a `.` or a `:`, is `localhost`, or has an uppercase letter (Docker's rule: an
//! uppercase first component can't be a namespace, so it must be a host). Names follow the
//! distribution-spec grammar and may be at most 255 characters long, host included.

use std::fmt;
use std::str::FromStr;

use crate::digest::{Digest, DigestError};

/// Docker Hub's canonical host name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub was once known by; normalised to [`DOCKER_HUB`].
const LEGACY_DOCKER_HUB: &str = "index.docker.io";
/// Namespace of Docker Hub's official images.
const OFFICIAL_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";
/// Longest allowed repository name, host included.
pub const NAME_MAX: usize = 255;
/// Longest allowed tag.
pub const TAG_MAX: usize = 128;

/// Why a string is not an image reference. Each names the part that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference: the name is empty")]
    Empty,
    #[error(
        "invalid reference {0:?}: a 64-digit hex string is an image ID, not a name; use sha256:{0} or a name"
    )]
    ImageId(String),
    #[error("invalid reference {input:?}: repository name {path:?} must be lowercase")]
    Uppercase { input: String, path: String },
    #[error("invalid reference {input:?}: registry host {host:?} {why}")]
    Host {
        input: String,
        host: String,
        why: &'static str,
    },
    #[error("invalid reference {input:?}: path component {component:?} {why}")]
    Path {
        input: String,
        component: String,
        why: &'static str,
    },
    #[error(
        "invalid reference {input:?}: repository name is {len} characters long; at most {NAME_MAX} are allowed (host included)"
    )]
    NameTooLong { input: String, len: usize },
    #[error("invalid reference {input:?}: tag {tag:?} {why}")]
    Tag {
        input: String,
        tag: String,
        why: String,
    },
    #[error("invalid reference {input:?}: {source}")]
    Digest { input: String, source: DigestError },
    #[error(
        "invalid repository {input:?}: {what} is not allowed here; give a repository name only"
    )]
    NotRepository { input: String, what: &'static str },
}

/// A repository: a registry host and a path within it, e.g. `docker.io` + `library/nginx`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository {
    registry: String,
    path: String,
}

impl Repository {
    /// Parses a repository name (no tag, no digest), normalised as Docker does.
    pub fn parse(input: &str) -> Result<Repository, ReferenceError> {
        let (repository, tag, digest) = parse_parts(input)?;
        let what = match (tag, digest) {
            (None, None) => return Ok(repository),
            (Some(_), _) => "a tag",
            (None, Some(_)) => "a digest",
        };
        Err(ReferenceError::NotRepository {
            input: input.to_string(),
            what,
        })
    }

    /// The registry host, possibly with a port (`localhost:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The path within the registry (`library/nginx`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The shortest form Docker shows for this repository: `nginx`, `user/app`, `ghcr.io/x/y`.
    ///
    /// Unlike Docker, berth keeps `docker.io/` where dropping it would make the name read as
    /// another registry's (`docker.io/a.b/c` is not `a.b/c`), so a familiar name always parses
    /// back to the same repository.
    pub fn familiar(&self) -> String {
        if self.registry == DOCKER_HUB {
            if let Some(rest) = self.path.strip_prefix(OFFICIAL_PREFIX) {
                if !rest.contains('/') {
                    return rest.to_string();
                }
            }
            let (first, _) = split_registry(&self.path);
            if first == DOCKER_HUB {
                return self.path.clone();
            }
        }
        format!("{}/{}", self.registry, self.path)
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

/// A normalised image reference: repository, and a tag, a digest or both.
///
/// A reference parsed without tag or digest gets the tag `latest`, so at least one is always set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    repository: Repository,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalises a reference as `docker pull` would read it.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let (repository, tag, digest) = parse_parts(input)?;
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (tag, _) => tag,
        };
        Ok(Reference {
            repository,
            tag,
            digest,
        })
    }

    /// A reference to `repository` by tag.
    pub fn with_tag(repository: Repository, tag: &str) -> Result<Reference, ReferenceError> {
        check_tag(&format!("{repository}:{tag}"), tag)?;
        Ok(Reference {
            repository,
            tag: Some(tag.to_string()),
            digest: None,
        })
    }

    /// A reference to `repository` by digest.
    pub fn with_digest(repository: Repository, digest: Digest) -> Reference {
        Reference {
            repository,
            tag: None,
            digest: Some(digest),
        }
    }

    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    pub fn registry(&self) -> &str {
        self.repository.registry()
    }

    pub fn path(&self) -> &str {
        self.repository.path()
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The same reference with only its tag (drops a digest); `None` when it has no tag.
    pub fn tagged(&self) -> Option<Reference> {
        self.tag.as_ref().map(|t| Reference {
            repository: self.repository.clone(),
            tag: Some(t.clone()),
            digest: None,
        })
    }

    /// The shortest form Docker shows: `nginx:latest`, `localhost:5000/x@sha256:…`.
    pub fn familiar(&self) -> String {
        let mut s = self.repository.familiar();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, ReferenceError> {
        Reference::parse(s)
    }
}

/// Splits and checks `[host/]path[:tag][@digest]`.
fn parse_parts(
    input: &str,
) -> Result<(Repository, Option<String>, Option<Digest>), ReferenceError> {
    if input.is_empty() {
        return Err(ReferenceError::Empty);
    }
    if input.len() == 64
        && input
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(ReferenceError::ImageId(input.to_string()));
    }
    let (rest, digest) = match input.split_once('@') {
        Some((rest, d)) => {
            let digest = Digest::parse(d).map_err(|source| ReferenceError::Digest {
                input: input.to_string(),
                source,
            })?;
            (rest, Some(digest))
        }
        None => (input, None),
    };

    // The tag separator is a ':' after the last '/'; a ':' before it belongs to a host:port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].find(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if name.is_empty() {
        return Err(ReferenceError::Empty);
    }

    let (registry, path) = split_registry(name);
    if path.to_lowercase() != path {
        return Err(ReferenceError::Uppercase {
            input: input.to_string(),
            path,
        });
    }
    check_host(input, &registry)?;
    check_path(&path).map_err(|PathError { component, why }| ReferenceError::Path {
        input: input.to_string(),
        component,
        why,
    })?;
    let len = registry.len() + 1 + path.len();
    if len > NAME_MAX {
        return Err(ReferenceError::NameTooLong {
            input: input.to_string(),
            len,
        });
    }
    if let Some(tag) = tag {
        check_tag(input, tag)?;
    }
    Ok((
        Repository { registry, path },
        tag.map(str::to_string),
        digest,
    ))
}

/// Splits a name into registry host and path, as Docker's `splitDockerDomain` does.
fn split_registry(name: &str) -> (String, String) {
    let (registry, path) = match name.split_once('/') {
        None => (DOCKER_HUB, name),
        Some((first, rest)) => {
            let is_host = first == "localhost"
                || first == LEGACY_DOCKER_HUB
                || first.contains(['.', ':'])
                || first.to_lowercase() != first;
            if is_host {
                (first, rest)
            } else {
                (DOCKER_HUB, name)
            }
        }
    };
    let registry = if registry == LEGACY_DOCKER_HUB {
        DOCKER_HUB
    } else {
        registry
    };
    let path = if registry == DOCKER_HUB && !path.contains('/') {
        format!("{OFFICIAL_PREFIX}{path}")
    } else {
        path.to_string()
    };
    (registry.to_string(), path)
}

/// host = domain-name | "[" ipv6 "]", optionally followed by ":" port.
fn check_host(input: &str, registry: &str) -> Result<(), ReferenceError> {
    let fail = |why| ReferenceError::Host {
        input: input.to_string(),
        host: registry.to_string(),
        why,
    };
    let (host, port) = if let Some(v6) = registry.strip_prefix('[') {
        let end = v6
            .find(']')
            .ok_or_else(|| fail("has an unclosed '[' in its IPv6 address"))?;
        let addr = &v6[..end];
        if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(fail("has an invalid IPv6 address"));
        }
        let after = &v6[end + 1..];
        match after.strip_prefix(':') {
            Some(p) => (None, Some(p)),
            None if after.is_empty() => (None, None),
            None => return Err(fail("has characters after its IPv6 address")),
        }
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(registry), None),
        }
    };
    if let Some(host) = host {
        if host.is_empty() {
            return Err(fail("is empty"));
        }
        for label in host.split('.') {
            let b = label.as_bytes();
            let ok = !b.is_empty()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-';
            if !ok {
                return Err(fail(
                    "is not a valid host name (letters, digits and inner '-' between dots)",
                ));
            }
        }
    }
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail("has a port that is not a number"));
        }
    }
    Ok(())
}

/// Why a repository path breaks the grammar: the component at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path component {component:?} {why}")]
pub struct PathError {
    pub component: String,
    pub why: &'static str,
}

/// Checks a repository path (the name within a registry, `library/nginx`) against the
/// distribution spec's grammar, the one place berth knows it (references and the registry's
/// routes both ask here): path = component ("/" component)*; component = [a-z0-9]+
/// (separator [a-z0-9]+)*; separator = "." | "_" | "__" | "-"+. Length is the caller's to
/// check: a reference counts its host too.
pub fn check_path(path: &str) -> Result<(), PathError> {
    for component in path.split('/') {
        let fail = |why| PathError {
            component: component.to_string(),
            why,
        };
        if component.is_empty() {
            return Err(fail(
                "is empty (a name can't start or end with '/' or hold '//')",
            ));
        }
        let b = component.as_bytes();
        let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
            return Err(fail("must start and end with a lowercase letter or digit"));
        }
        let mut i = 0;
        while i < b.len() {
            if alnum(b[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && !alnum(b[i]) {
                i += 1;
            }
            let sep = &component[start..i];
            let valid = matches!(sep, "." | "_" | "__") || sep.bytes().all(|c| c == b'-');
            if !valid {
                return Err(fail(
                    "may only hold lowercase letters, digits and single '.', '_', '__' or runs of '-' between them",
                ));
            }
        }
    }
    Ok(())
}

/// tag = [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
fn check_tag(input: &str, tag: &str) -> Result<(), ReferenceError> {
    let fail = |why: String| ReferenceError::Tag {
        input: input.to_string(),
        tag: tag.to_string(),
        why,
    };
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    match tag.as_bytes().first() {
        None => return Err(fail("is empty".into())),
        Some(&c) if !word(c) => {
            return Err(fail("must start with a letter, digit or '_'".into()));
        }
        _ => {}
    }
    if tag.len() > TAG_MAX {
        return Err(fail(format!(
            "is {} characters long; at most {TAG_MAX} are allowed",
            tag.len()
        )));
    }
    if let Some(c) = tag
        .chars()
        .find(|&c| !(c.is_ascii() && (word(c as u8) || c == '.' || c == '-')))
    {
        return Err(fail(format!(
            "holds {c:?}; only letters, digits, '_', '.' and '-' are allowed"
        )));
    }
    Ok(())
}
