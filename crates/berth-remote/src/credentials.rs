//! Credentials as Docker keeps them: `$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`)
//! with base64 `auths` entries, a `credsStore` for all registries, and `credHelpers` per
//! registry, both run as `docker-credential-<name>` programs.
//!
//! Secrets never reach a log or a message: [`Credential`]'s `Debug` hides them.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::{Map, Value, json};

/// Where Docker Hub's credentials are filed, whatever host serves it.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A user's sign-in for a registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// User name and password (or personal access token).
    Basic { username: String, password: String },
    /// An OAuth2 refresh token, as `docker login` stores for token registries.
    IdentityToken { username: String, token: String },
}

impl Credential {
    pub fn username(&self) -> &str {
        match self {
            Credential::Basic { username, .. } | Credential::IdentityToken { username, .. } => {
                username
            }
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credential::IdentityToken { username, .. } => {
                write!(f, "IdentityToken({username}, ***)")
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON ({source}); fix or remove it")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("the {what} entry for {registry} in {path} is not valid base64 of USER:PASSWORD")]
    BadEntry {
        path: PathBuf,
        registry: String,
        what: &'static str,
    },
    #[error("credential helper docker-credential-{helper} {action} for {registry}: {why}")]
    Helper {
        helper: String,
        action: &'static str,
        registry: String,
        why: String,
    },
}

/// Docker's client configuration file, kept whole so a rewrite loses nothing it doesn't know.
pub struct DockerConfig {
    path: PathBuf,
    doc: Map<String, Value>,
}

impl DockerConfig {
    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub fn default_path() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(dir).join("config.json"));
        }
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".docker/config.json"))
    }

    /// Reads the file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<DockerConfig, CredentialError> {
        let doc = match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(CredentialError::Json {
                        path: path.to_path_buf(),
                        source: serde::de::Error::custom("expected a JSON object"),
                    });
                }
                Err(source) => {
                    return Err(CredentialError::Json {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(source) => {
                return Err(CredentialError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        Ok(DockerConfig {
            path: path.to_path_buf(),
            doc,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The helper responsible for a registry, if any: `credHelpers`, else `credsStore`.
    fn helper_for(&self, key: &str) -> Option<String> {
        self.doc
            .get("credHelpers")
            .and_then(|h| h.get(key))
            .and_then(Value::as_str)
            .or_else(|| self.doc.get("credsStore").and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    /// The credential stored for `registry` (a host such as `localhost:5000` or `docker.io`).
    pub fn get(&self, registry: &str) -> Result<Option<Credential>, CredentialError> {
        let key = config_key(registry);
        if let Some(helper) = self.helper_for(&key) {
            return helper_get(&helper, &key);
        }
        let Some(entry) = self.auth_entry(&key) else {
            return Ok(None);
        };
        let bad = |what| CredentialError::BadEntry {
            path: self.path.clone(),
            registry: key.clone(),
            what,
        };
        let (username, password) = match entry
            .get("auth")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            Some(auth) => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .map_err(|_| bad("auth"))?;
                let text = String::from_utf8(decoded).map_err(|_| bad("auth"))?;
                let (u, p) = text.split_once(':').ok_or_else(|| bad("auth"))?;
                (u.to_string(), p.to_string())
            }
            None => (
                entry
                    .get("username")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                entry
                    .get("password")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
        };
        if let Some(token) = entry
            .get("identitytoken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            return Ok(Some(Credential::IdentityToken {
                username,
                token: token.to_string(),
            }));
        }
        if username.is_empty() && password.is_empty() {
            return Ok(None);
        }
        Ok(Some(Credential::Basic { username, password }))
    }

    /// The `auths` entry for a key, also under the spellings Docker has used (`https://host`,
    /// `http://host`, `host/v2/`).
    fn auth_entry(&self, key: &str) -> Option<&Map<String, Value>> {
        let auths = self.doc.get("auths")?.as_object()?;
        if let Some(e) = auths.get(key).and_then(Value::as_object) {
            return Some(e);
        }
        auths.iter().find_map(|(k, v)| {
            (strip_scheme(k) == strip_scheme(key))
                .then(|| v.as_object())
                .flatten()
        })
    }

    /// Stores a credential: in the registry's helper if it has one, else in `auths`.
    pub fn store(
        &mut self,
        registry: &str,
        credential: &Credential,
    ) -> Result<(), CredentialError> {
        let key = config_key(registry);
        if let Some(helper) = self.helper_for(&key) {
            return helper_store(&helper, &key, credential);
        }
        let auths = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        let auths = auths.as_object_mut().expect("auths is an object");
        let entry = match credential {
            Credential::Basic { username, password } => json!({
                "auth": base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")),
            }),
            Credential::IdentityToken { username, token } => json!({
                "auth": base64::engine::general_purpose::STANDARD.encode(format!("{username}:")),
                "identitytoken": token,
            }),
        };
        auths.insert(key, entry);
        self.save()
    }

    /// Forgets a registry's credential; returns whether there was one.
    pub fn erase(&mut self, registry: &str) -> Result<bool, CredentialError> {
        let key = config_key(registry);
        if let Some(helper) = self.helper_for(&key) {
            return helper_erase(&helper, &key);
        }
        let removed = self
            .doc
            .get_mut("auths")
            .and_then(Value::as_object_mut)
            .map(|auths| {
                let keys: Vec<String> = auths
                    .keys()
                    .filter(|k| strip_scheme(k) == strip_scheme(&key))
                    .cloned()
                    .collect();
                for k in &keys {
                    auths.remove(k);
                }
                !keys.is_empty()
            })
            .unwrap_or(false);
        if removed {
            self.save()?;
        }
        Ok(removed)
    }

    /// Writes the file atomically, readable by its owner only (it holds secrets).
    fn save(&self) -> Result<(), CredentialError> {
        use std::os::unix::fs::OpenOptionsExt;
        let io = |source| CredentialError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let temp = dir.join(format!(".config.json.{}.tmp", std::process::id()));
        let bytes =
            serde_json::to_vec_pretty(&Value::Object(self.doc.clone())).expect("JSON serialises");
        let result = (|| {
            // A leftover of a crashed save goes first: the file is created here, 0600 from
            // its first byte (an existing one would keep its own mode, or be a symlink).
            match std::fs::remove_file(&temp) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp)?;
            f.write_all(&bytes)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&temp, &self.path)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&temp);
            return Err(io(e));
        }
        Ok(())
    }
}

/// The key a registry's credentials are filed under: Docker Hub has its historical URL.
pub fn config_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY.to_string(),
        other => other.to_string(),
    }
}

fn strip_scheme(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.trim_end_matches('/')
        .trim_end_matches("/v1")
        .trim_end_matches("/v2")
}

fn run_helper(
    helper: &str,
    action: &'static str,
    registry: &str,
    input: &[u8],
) -> Result<String, CredentialError> {
    let program = format!("docker-credential-{helper}");
    let fail = |why: String| CredentialError::Helper {
        helper: helper.to_string(),
        action,
        registry: registry.to_string(),
        why,
    };
    let mut child = Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            fail(format!(
                "can't run {program}: {e}; install it or remove it from the Docker config"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).map_err(|e| fail(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        // Helpers print their error on stdout; neither carries the secret.
        let said = if stdout.is_empty() {
            String::from_utf8_lossy(&out.stderr).trim().to_string()
        } else {
            stdout
        };
        return Err(fail(format!("{} ({said})", out.status)));
    }
    Ok(stdout)
}

fn helper_get(helper: &str, key: &str) -> Result<Option<Credential>, CredentialError> {
    let out = match run_helper(helper, "get", key, key.as_bytes()) {
        Ok(out) => out,
        // Helpers answer "credentials not found in native keychain" with a failure.
        Err(CredentialError::Helper { why, .. }) if why.contains("not found") => return Ok(None),
        Err(e) => return Err(e),
    };
    let v: Value = serde_json::from_str(&out).map_err(|e| CredentialError::Helper {
        helper: helper.to_string(),
        action: "get",
        registry: key.to_string(),
        why: format!("its answer is not JSON: {e}"),
    })?;
    let username = v
        .get("Username")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let secret = v
        .get("Secret")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if secret.is_empty() {
        return Ok(None);
    }
    if username == "<token>" {
        return Ok(Some(Credential::IdentityToken {
            username,
            token: secret,
        }));
    }
    Ok(Some(Credential::Basic {
        username,
        password: secret,
    }))
}

fn helper_store(helper: &str, key: &str, credential: &Credential) -> Result<(), CredentialError> {
    let (username, secret) = match credential {
        Credential::Basic { username, password } => (username.as_str(), password.as_str()),
        Credential::IdentityToken { token, .. } => ("<token>", token.as_str()),
    };
    let input = json!({ "ServerURL": key, "Username": username, "Secret": secret }).to_string();
    run_helper(helper, "store", key, input.as_bytes()).map(|_| ())
}

fn helper_erase(helper: &str, key: &str) -> Result<bool, CredentialError> {
    match run_helper(helper, "erase", key, key.as_bytes()) {
        Ok(_) => Ok(true),
        Err(CredentialError::Helper { why, .. }) if why.contains("not found") => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_writes_and_erases_auths_keeping_other_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"https://old.example:5000":{"auth":"dTpw"}},"psFormat":"table"}"#,
        )
        .unwrap();
        let mut c = DockerConfig::load(&path).unwrap();
        assert_eq!(
            c.get("old.example:5000").unwrap(),
            Some(Credential::Basic {
                username: "u".into(),
                password: "p".into()
            })
        );
        // A crashed save's leftover, readable by all: the new file must not inherit that.
        let leftover = dir
            .path()
            .join(format!(".config.json.{}.tmp", std::process::id()));
        std::fs::write(&leftover, "old").unwrap();
        c.store(
            "localhost:5000",
            &Credential::Basic {
                username: "alice".into(),
                password: "s3:cret".into(),
            },
        )
        .unwrap();
        let c = DockerConfig::load(&path).unwrap();
        assert_eq!(
            c.get("localhost:5000").unwrap(),
            Some(Credential::Basic {
                username: "alice".into(),
                password: "s3:cret".into()
            })
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("psFormat"), "{text}");
        assert!(!text.contains("s3:cret"), "stored base64, not in the clear");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let mut c = c;
        assert!(c.erase("localhost:5000").unwrap());
        assert!(!c.erase("localhost:5000").unwrap());
        assert_eq!(c.get("localhost:5000").unwrap(), None);
        assert_eq!(config_key("docker.io"), DOCKER_HUB_KEY);
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Credential::Basic {
            username: "alice".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn bad_files_name_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = DockerConfig::load(&path).err().unwrap().to_string();
        assert!(err.contains("config.json"), "{err}");
        std::fs::write(&path, r#"{"auths":{"r":{"auth":"%%%"}}}"#).unwrap();
        let err = DockerConfig::load(&path)
            .unwrap()
            .get("r")
            .unwrap_err()
            .to_string();
        assert!(err.contains("base64"), "{err}");
    }
}
