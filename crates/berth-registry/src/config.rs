//! The registry's configuration: a TOML file, with the command line's flags on top.
//!
//! ```toml
//! addr = "127.0.0.1:5000"
//!
//! [tls]
//! cert = "/etc/berth/cert.pem"
//! key = "/etc/berth/key.pem"
//!
//! [auth]
//! mode = "token"                  # none (default), basic or token
//! htpasswd = "/etc/berth/htpasswd"  # bcrypt entries, as `htpasswd -B` writes them
//! service = "berth"
//! token_ttl = "5m"
//!
//! [[auth.rules]]                  # without rules, any signed-in user may do anything
//! users = ["alice"]               # names; "*" is any signed-in user, "anonymous" anyone at all
//! repositories = ["alice/**"]     # * matches within a path component, ** across them
//! actions = ["pull", "push", "delete"]
//!
//! [[policies]]
//! repositories = ["releases/**"]
//! immutable_tags = true
//! allow_delete = false
//! retention = { keep_tags = 10, tag_pattern = "v*", untagged_older_than = "7d" }
//!
//! [gc]
//! interval = "1h"                 # "0" turns the in-process collector off
//! grace = "1h"                    # how long unreferenced uploads are kept
//!
//! [uploads]
//! expire = "24h"                  # sessions untouched this long are dropped
//!
//! [limits]
//! header_timeout = "30s"          # a request's headers (and idle keep-alive) within this
//! idle_timeout = "60s"            # a request body silent this long fails
//! connections_per_peer = 128      # concurrent connections per client IP address
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_addr")]
    pub addr: SocketAddr,
    /// The berth store to serve; the CLI's root by default.
    #[serde(default)]
    pub root: Option<PathBuf>,
    #[serde(default)]
    pub tls: Option<Tls>,
    #[serde(default)]
    pub auth: Auth,
    #[serde(default)]
    pub policies: Vec<Policy>,
    /// A signature policy (berth policy's file) enforced on pulls; see docs/sign.md.
    #[serde(default)]
    pub pull_policy: Option<PathBuf>,
    #[serde(default)]
    pub gc: Gc,
    #[serde(default)]
    pub uploads: Uploads,
    #[serde(default)]
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: default_addr(),
            root: None,
            tls: None,
            auth: Auth::default(),
            policies: Vec::new(),
            pull_policy: None,
            gc: Gc::default(),
            uploads: Uploads::default(),
            limits: Limits::default(),
        }
    }
}

fn default_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5000))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    #[default]
    None,
    Basic,
    Token,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    #[serde(default)]
    pub mode: AuthMode,
    #[serde(default)]
    pub htpasswd: Option<PathBuf>,
    /// The token endpoint clients are sent to; by default `<scheme>://<Host>/token`.
    #[serde(default)]
    pub realm: Option<String>,
    #[serde(default = "default_service")]
    pub service: String,
    #[serde(default = "default_token_ttl", with = "duration")]
    pub token_ttl: Duration,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

impl Default for Auth {
    fn default() -> Auth {
        Auth {
            mode: AuthMode::None,
            htpasswd: None,
            realm: None,
            service: default_service(),
            token_ttl: default_token_ttl(),
            rules: Vec::new(),
        }
    }
}

fn default_service() -> String {
    "berth".to_string()
}

fn default_token_ttl() -> Duration {
    Duration::from_secs(300)
}

/// What a request wants to do to a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "pull" => Some(Action::Pull),
            "push" => Some(Action::Push),
            "delete" => Some(Action::Delete),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub users: Vec<String>,
    pub repositories: Vec<String>,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub repositories: Vec<String>,
    #[serde(default)]
    pub immutable_tags: bool,
    #[serde(default = "yes")]
    pub allow_delete: bool,
    #[serde(default)]
    pub retention: Option<Retention>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Keep only the newest N tags matching `tag_pattern` (by when they were last pushed).
    #[serde(default)]
    pub keep_tags: Option<usize>,
    #[serde(default = "star")]
    pub tag_pattern: String,
    /// Drop manifests no tag or index reaches once they are this old.
    #[serde(default, with = "opt_duration")]
    pub untagged_older_than: Option<Duration>,
}

fn star() -> String {
    "*".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gc {
    #[serde(default = "hour", with = "duration")]
    pub interval: Duration,
    #[serde(default = "hour", with = "duration")]
    pub grace: Duration,
}

impl Default for Gc {
    fn default() -> Gc {
        Gc {
            interval: hour(),
            grace: hour(),
        }
    }
}

fn hour() -> Duration {
    Duration::from_secs(3600)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uploads {
    #[serde(default = "day", with = "duration")]
    pub expire: Duration,
}

impl Default for Uploads {
    fn default() -> Uploads {
        Uploads { expire: day() }
    }
}

fn day() -> Duration {
    Duration::from_secs(24 * 3600)
}

/// What one client may hold of the server: slow or idle clients must not starve the others
/// of connections and file descriptors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// A request's headers must arrive within this; it also closes keep-alive connections
    /// idle this long between requests.
    #[serde(default = "header_timeout", with = "duration")]
    pub header_timeout: Duration,
    /// A request body that sends nothing for this long fails.
    #[serde(default = "idle_timeout", with = "duration")]
    pub idle_timeout: Duration,
    /// Connections one IP address may hold at once; more are closed as soon as accepted.
    #[serde(default = "connections_per_peer")]
    pub connections_per_peer: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: header_timeout(),
            idle_timeout: idle_timeout(),
            connections_per_peer: connections_per_peer(),
        }
    }
}

fn header_timeout() -> Duration {
    Duration::from_secs(30)
}

fn idle_timeout() -> Duration {
    Duration::from_secs(60)
}

/// Enough for the parallel transfers of several clients behind one address (skopeo and
/// docker use 3 to 6 each), far below a process's usual 1024 descriptors.
fn connections_per_peer() -> usize {
    128
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{path}: {why}")]
    Invalid { path: PathBuf, why: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        config.check().map_err(|why| ConfigError::Invalid {
            path: path.to_path_buf(),
            why,
        })?;
        Ok(config)
    }

    /// What a file can't say wrong in TOML's terms but can still get wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.auth.mode != AuthMode::None && self.auth.htpasswd.is_none() {
            return Err("auth.mode needs auth.htpasswd: the users and their bcrypt hashes".into());
        }
        for rule in &self.auth.rules {
            if rule.users.is_empty() || rule.repositories.is_empty() {
                return Err("every auth rule needs users and repositories".into());
            }
        }
        for policy in &self.policies {
            if policy.repositories.is_empty() {
                return Err("every policy needs repositories".into());
            }
        }
        let limits = &self.limits;
        if limits.header_timeout.is_zero() || limits.idle_timeout.is_zero() {
            return Err("limits.header_timeout and limits.idle_timeout must be above 0".into());
        }
        if limits.connections_per_peer == 0 {
            return Err("limits.connections_per_peer must be at least 1".into());
        }
        Ok(())
    }

    /// The policy for a repository: the first whose patterns match.
    pub fn policy(&self, repo: &str) -> Option<&Policy> {
        self.policies
            .iter()
            .find(|p| p.repositories.iter().any(|pat| glob(pat, repo)))
    }
}

/// Matches a repository (or tag) against a pattern: `*` matches within a path component,
/// `**` across components, `?` one character.
pub fn glob(pattern: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') if p.get(1) == Some(&b'*') => {
                let rest = &p[2..];
                (0..=s.len()).any(|i| go(rest, &s[i..]))
            }
            Some(b'*') => {
                let rest = &p[1..];
                for i in 0..=s.len() {
                    if go(rest, &s[i..]) {
                        return true;
                    }
                    if i < s.len() && s[i] == b'/' {
                        break;
                    }
                }
                false
            }
            Some(b'?') => !s.is_empty() && s[0] != b'/' && go(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(pattern.as_bytes(), s.as_bytes())
}

/// Durations written as `90s`, `5m`, `2h`, `7d` or `0`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = number.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("{s:?} is not a duration such as 90s, 5m, 2h or 7d"))
        })
    }
}

mod opt_duration {
    use std::time::Duration;

    use serde::Deserializer;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("team/*", "team/app"));
        assert!(!glob("team/*", "team/app/sub"));
        assert!(glob("team/**", "team/app/sub"));
        assert!(glob("**", "anything/at/all"));
        assert!(glob("v*", "v1.2"));
        assert!(!glob("v*", "latest"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "a/c"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("m"), None);
    }

    #[test]
    fn reads_a_full_config_and_refuses_mistakes() {
        let text = r#"
addr = "127.0.0.1:5001"
[auth]
mode = "token"
htpasswd = "/etc/htpasswd"
token_ttl = "10m"
[[auth.rules]]
users = ["alice"]
repositories = ["alice/**"]
actions = ["pull", "push"]
[[policies]]
repositories = ["releases/**"]
immutable_tags = true
allow_delete = false
retention = { keep_tags = 3, untagged_older_than = "7d" }
[gc]
interval = "0"
"#;
        let c: Config = toml::from_str(text).unwrap();
        c.check().unwrap();
        assert_eq!(c.auth.token_ttl, Duration::from_secs(600));
        assert!(c.policy("releases/app").unwrap().immutable_tags);
        assert!(c.policy("other").is_none());
        assert_eq!(c.gc.interval, Duration::ZERO);
        assert!(toml::from_str::<Config>("bogus = 1").is_err());
        assert!(toml::from_str::<Config>("[gc]\ninterval = \"soon\"").is_err());
        let c: Config = toml::from_str("[auth]\nmode = \"basic\"").unwrap();
        assert!(c.check().is_err());
    }
}
