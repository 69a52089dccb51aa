//! Errors from talking to a registry. Each names the registry, the repository and the HTTP
//! status where there is one, says what the registry said, and what to do about it.

use std::fmt;

use reqwest::StatusCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No or wrong credentials.
    Unauthorized,
    /// Signed in, but not allowed.
    Denied,
    NotFound,
    /// The registry or the network failed, even after retries.
    Unavailable,
    /// The registry refused what was sent.
    Rejected,
    /// Bytes that don't match their digest.
    Corrupt,
    /// A bad TLS certificate, or plain HTTP where TLS was expected.
    Tls,
    Other,
}

#[derive(Debug)]
pub struct RemoteError {
    pub registry: String,
    pub repository: Option<String>,
    pub status: Option<StatusCode>,
    pub kind: Kind,
    pub message: String,
}

impl RemoteError {
    pub fn new(
        registry: &str,
        repository: Option<&str>,
        kind: Kind,
        message: impl Into<String>,
    ) -> RemoteError {
        RemoteError {
            registry: registry.to_string(),
            repository: repository.map(str::to_string),
            status: None,
            kind,
            message: message.into(),
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> RemoteError {
        self.status = Some(status);
        self
    }

    /// What to do about it.
    fn hint(&self) -> Option<String> {
        Some(match self.kind {
            Kind::Unauthorized => format!(
                "run `berth login {}` with an account that may do this",
                self.registry
            ),
            Kind::Denied => {
                "the account may not do this; ask the registry's administrators for access"
                    .to_string()
            }
            Kind::NotFound => "check the name, tag or digest".to_string(),
            Kind::Unavailable => {
                "the registry or the network is failing; try again later".to_string()
            }
            Kind::Tls => format!(
                "give the registry's CA with --ca-cert, or allow plain HTTP with --insecure-registry {}",
                self.registry
            ),
            Kind::Corrupt => "the data changed on the way; nothing was kept".to_string(),
            Kind::Rejected | Kind::Other => return None,
        })
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.registry)?;
        if let Some(repo) = &self.repository {
            write!(f, "/{repo}")?;
        }
        write!(f, ": ")?;
        if let Some(status) = self.status {
            write!(f, "{} ", status.as_u16())?;
            if let Some(reason) = status.canonical_reason() {
                write!(f, "{reason}: ")?;
            }
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = self.hint() {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RemoteError {}

/// The kind of failure an HTTP status means.
pub fn kind_of(status: StatusCode) -> Kind {
    match status.as_u16() {
        401 => Kind::Unauthorized,
        403 => Kind::Denied,
        404 => Kind::NotFound,
        408 | 429 | 500..=599 => Kind::Unavailable,
        400..=499 => Kind::Rejected,
        _ => Kind::Other,
    }
}

/// The message in a registry's error body (`{"errors":[{"code","message"}]}`), or a default.
pub fn registry_message(body: &[u8], status: StatusCode) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(e) = serde_json::from_slice::<Errors>(body) {
        let parts: Vec<String> = e
            .errors
            .iter()
            .map(|i| match (i.code.is_empty(), i.message.is_empty()) {
                (false, false) => format!("{} ({})", i.message, i.code),
                (false, true) => i.code.clone(),
                _ => i.message.clone(),
            })
            .filter(|s| !s.is_empty())
            .collect();
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if !text.is_empty() && text.len() < 300 && !text.starts_with('<') {
        return text.to_string();
    }
    status.canonical_reason().unwrap_or("error").to_lowercase()
}
