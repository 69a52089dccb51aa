//! Who is asking, and may they: htpasswd (bcrypt) users, basic auth or bearer tokens from the
//! registry's own token endpoint (Docker's token spec), and per-repository rules.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::config::{Action, Auth, AuthMode, glob};
use crate::error::{ApiError, Code};

const ISSUER: &str = "berth";
/// How long `docker login`'s refresh token lasts.
const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a checked password is trusted before bcrypt runs again.
const PASSWORD_CACHE: Duration = Duration::from_secs(300);

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Anonymous,
    User(String),
}

impl Identity {
    pub fn name(&self) -> &str {
        match self {
            Identity::Anonymous => "",
            Identity::User(u) => u,
        }
    }
}

/// What a request needs.
#[derive(Debug, Clone)]
pub enum Need<'a> {
    /// Valid credentials (`/v2/`; what `docker login` checks): anonymous callers are always
    /// challenged here, whatever the rules let them pull.
    Login,
    /// The repository list.
    Catalog,
    Repo(&'a str, Action),
}

/// The claims in a token berth issues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
    pub jti: String,
    #[serde(default)]
    pub access: Vec<Grant>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Grant {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} line {line}: {why}")]
    Htpasswd {
        path: String,
        line: usize,
        why: String,
    },
}

pub struct Authenticator {
    config: Auth,
    /// `http` or `https`, for the token realm built from a request's Host.
    scheme: &'static str,
    users: HashMap<String, String>,
    /// Passwords bcrypt has accepted lately, by hash of user and password.
    verified: Mutex<HashMap<[u8; 32], Instant>>,
    secret: Vec<u8>,
}

impl Authenticator {
    /// `secret` signs tokens; keep it across restarts so tokens stay valid. `tls` says whether
    /// clients reach the registry over https.
    pub fn new(config: &Auth, secret: Vec<u8>, tls: bool) -> Result<Authenticator, AuthSetupError> {
        let users = match &config.htpasswd {
            Some(path) if config.mode != AuthMode::None => read_htpasswd(path)?,
            _ => HashMap::new(),
        };
        Ok(Authenticator {
            config: config.clone(),
            scheme: if tls { "https" } else { "http" },
            users,
            verified: Mutex::new(HashMap::new()),
            secret,
        })
    }

    pub fn mode(&self) -> AuthMode {
        self.config.mode
    }

    /// Whether `who` may do `action` to `repo`, by the rules (all signed-in users may do
    /// anything when there are none). What anonymous users may do, signed-in users may too:
    /// clients send their credentials to every repository of a registry.
    pub fn allows(&self, who: &Identity, repo: &str, action: Action) -> bool {
        if self.config.mode == AuthMode::None {
            return true;
        }
        if self.config.rules.is_empty() {
            return matches!(who, Identity::User(_));
        }
        self.config.rules.iter().any(|rule| {
            rule.actions.contains(&action)
                && rule.repositories.iter().any(|p| glob(p, repo))
                && rule.users.iter().any(|u| match who {
                    Identity::Anonymous => u == "anonymous",
                    Identity::User(name) => u == "*" || u == "anonymous" || u == name,
                })
        })
    }

    /// Checks a user's password (bcrypt, remembered for a few minutes).
    pub fn check_password(&self, user: &str, password: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        let key: [u8; 32] = sha2::Sha256::digest(format!("{user}\0{password}")).into();
        let now = Instant::now();
        {
            let cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if cache
                .get(&key)
                .is_some_and(|t| now.duration_since(*t) < PASSWORD_CACHE)
            {
                return true;
            }
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false);
        if ok {
            let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            cache.retain(|_, t| now.duration_since(*t) < PASSWORD_CACHE);
            cache.insert(key, now);
        }
        ok
    }

    /// Decides a request: who it comes from, or the error to answer with.
    pub fn authorize(&self, headers: &HeaderMap, need: &Need<'_>) -> Result<Identity, ApiError> {
        match self.config.mode {
            AuthMode::None => Ok(Identity::Anonymous),
            AuthMode::Basic => self.authorize_basic(headers, need),
            AuthMode::Token => self.authorize_token(headers, need),
        }
    }

    fn authorize_basic(&self, headers: &HeaderMap, need: &Need<'_>) -> Result<Identity, ApiError> {
        // Without credentials, skopeo and podman answer a Basic challenge with an empty user
        // name and password: that is anonymous, not a failed sign-in.
        let credentials = basic_credentials(headers).filter(|(user, _)| !user.is_empty());
        let who = match credentials {
            None => Identity::Anonymous,
            Some((user, password)) if self.check_password(&user, &password) => Identity::User(user),
            Some(_) => {
                return Err(self.challenge(headers, need, "invalid username or password", None));
            }
        };
        if self.permits(&who, need) {
            return Ok(who);
        }
        match who {
            Identity::Anonymous => {
                Err(self.challenge(headers, need, "authentication required", None))
            }
            Identity::User(user) => Err(denied(&user, need)),
        }
    }

    fn authorize_token(&self, headers: &HeaderMap, need: &Need<'_>) -> Result<Identity, ApiError> {
        let Some(token) = bearer(headers) else {
            return Err(self.challenge(headers, need, "authentication required", None));
        };
        let claims = self
            .verify_token(&token)
            .map_err(|why| self.challenge(headers, need, &why, Some("invalid_token")))?;
        let who = if claims.sub.is_empty() {
            Identity::Anonymous
        } else {
            Identity::User(claims.sub.clone())
        };
        let granted = match need {
            Need::Login => true,
            Need::Catalog => claims
                .access
                .iter()
                .any(|g| g.kind == "registry" && g.name == "catalog"),
            Need::Repo(repo, action) => claims.access.iter().any(|g| {
                g.kind == "repository"
                    && g.name == *repo
                    && g.actions.iter().any(|a| a == action.as_str() || a == "*")
            }),
        };
        if granted {
            return Ok(who);
        }
        // A token that lacks what the rules would give: ask for a better one. One that lacks
        // what the rules refuse: a signed-in user is denied.
        match (&who, self.permits(&who, need)) {
            (Identity::User(user), false) => Err(denied(user, need)),
            _ => Err(self.challenge(
                headers,
                need,
                "the token doesn't grant this",
                Some("insufficient_scope"),
            )),
        }
    }

    fn permits(&self, who: &Identity, need: &Need<'_>) -> bool {
        match need {
            // `/v2/` is how clients learn a registry wants credentials: answering it 200 to
            // anonymous callers, because some repository allows anonymous pulls, makes skopeo,
            // podman and `docker login` never send theirs (and "log in" with any password).
            // What anonymous callers may do is decided per repository instead.
            Need::Login => matches!(who, Identity::User(_)),
            Need::Catalog => matches!(who, Identity::User(_)),
            Need::Repo(repo, action) => self.allows(who, repo, *action),
        }
    }

    /// A 401 with the challenge that tells the client how to authenticate.
    fn challenge(
        &self,
        headers: &HeaderMap,
        need: &Need<'_>,
        why: &str,
        error: Option<&str>,
    ) -> ApiError {
        let value = match self.config.mode {
            AuthMode::Token => {
                let realm = self.config.realm.clone().unwrap_or_else(|| {
                    let host = headers
                        .get(header::HOST)
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("localhost");
                    format!("{}://{host}/token", self.scheme)
                });
                let mut v = format!(
                    "Bearer realm=\"{realm}\",service=\"{}\"",
                    self.config.service
                );
                if let Some(scope) = scope_for(need) {
                    v.push_str(&format!(",scope=\"{scope}\""));
                }
                if let Some(e) = error {
                    v.push_str(&format!(",error=\"{e}\""));
                }
                v
            }
            _ => "Basic realm=\"berth\"".to_string(),
        };
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            Code::Unauthorized,
            why.to_string(),
        )
        .header(header::WWW_AUTHENTICATE, &value)
    }

    /// Issues a token granting what `who` may do of the requested scopes.
    pub fn issue_token(&self, who: &Identity, scopes: &[String]) -> (String, u64) {
        let mut access: Vec<Grant> = Vec::new();
        for scope in scopes {
            let Some((kind, rest)) = scope.split_once(':') else {
                continue;
            };
            let Some((name, actions)) = rest.rsplit_once(':') else {
                continue;
            };
            let kind = kind.split('(').next().unwrap_or(kind);
            let granted: Vec<String> = match kind {
                "repository" => {
                    let wanted: Vec<Action> = actions
                        .split(',')
                        .flat_map(|a| match a {
                            "*" => vec![Action::Pull, Action::Push, Action::Delete],
                            a => Action::parse(a).into_iter().collect(),
                        })
                        .collect();
                    wanted
                        .into_iter()
                        .filter(|a| self.allows(who, name, *a))
                        .map(|a| a.as_str().to_string())
                        .collect()
                }
                "registry" if name == "catalog" && matches!(who, Identity::User(_)) => {
                    vec!["*".to_string()]
                }
                _ => Vec::new(),
            };
            if granted.is_empty() {
                continue;
            }
            match access.iter_mut().find(|g| g.kind == kind && g.name == name) {
                Some(g) => {
                    for a in granted {
                        if !g.actions.contains(&a) {
                            g.actions.push(a);
                        }
                    }
                }
                None => access.push(Grant {
                    kind: kind.to_string(),
                    name: name.to_string(),
                    actions: granted,
                }),
            }
        }
        let now = unix_now();
        let ttl = self.config.token_ttl.as_secs().max(1);
        let claims = Claims {
            iss: ISSUER.to_string(),
            sub: who.name().to_string(),
            aud: self.config.service.clone(),
            exp: now + ttl,
            nbf: now.saturating_sub(5),
            iat: now,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            access,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .expect("HS256 signing can't fail");
        (token, ttl)
    }

    /// A refresh token for `docker login`: it names the user and grants nothing itself; its
    /// own audience keeps it from passing for an access token.
    pub fn issue_refresh_token(&self, who: &Identity) -> String {
        let now = unix_now();
        let claims = Claims {
            iss: ISSUER.to_string(),
            sub: who.name().to_string(),
            aud: self.refresh_audience(),
            exp: now + REFRESH_TTL.as_secs(),
            nbf: now.saturating_sub(5),
            iat: now,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            access: Vec::new(),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .expect("HS256 signing can't fail")
    }

    fn refresh_audience(&self) -> String {
        format!("{}/refresh", self.config.service)
    }

    /// Checks a refresh token (and only a refresh token).
    pub fn verify_refresh_token(&self, token: &str) -> Result<Claims, String> {
        self.verify(token, &self.refresh_audience())
    }

    /// Checks an access token's signature, issuer, audience and times.
    pub fn verify_token(&self, token: &str) -> Result<Claims, String> {
        self.verify(token, &self.config.service)
    }

    fn verify(&self, token: &str, audience: &str) -> Result<Claims, String> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[audience]);
        v.leeway = 5;
        // jsonwebtoken checks `exp` by default but not `nbf`.
        v.validate_nbf = true;
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&self.secret), &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    "the token has expired; get a new one".to_string()
                }
                _ => format!("the token is not valid here: {e}"),
            })
    }

    pub fn service(&self) -> &str {
        &self.config.service
    }
}

fn denied(user: &str, need: &Need<'_>) -> ApiError {
    let what = match need {
        Need::Login => "sign in".to_string(),
        Need::Catalog => "list repositories".to_string(),
        Need::Repo(repo, action) => format!("{} {repo}", action.as_str()),
    };
    ApiError::new(
        StatusCode::FORBIDDEN,
        Code::Denied,
        format!("user {user} may not {what}; ask an administrator for access"),
    )
}

/// The scope a challenge asks for: push needs pull too, as Docker clients expect.
fn scope_for(need: &Need<'_>) -> Option<String> {
    match need {
        Need::Login => None,
        Need::Catalog => Some("registry:catalog:*".to_string()),
        Need::Repo(repo, Action::Pull) => Some(format!("repository:{repo}:pull")),
        Need::Repo(repo, Action::Push) => Some(format!("repository:{repo}:pull,push")),
        Need::Repo(repo, Action::Delete) => Some(format!("repository:{repo}:delete")),
    }
}

/// The user and password of a `Basic` Authorization header.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(|t| t.trim().to_string())
}

fn read_htpasswd(path: &Path) -> Result<HashMap<String, String>, AuthSetupError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AuthSetupError::Read {
        path: p.clone(),
        source,
    })?;
    let mut users = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |why: String| AuthSetupError::Htpasswd {
            path: p.clone(),
            line: i + 1,
            why,
        };
        let (user, hash) = line
            .split_once(':')
            .ok_or_else(|| fail("expected USER:HASH".to_string()))?;
        if !(hash.starts_with("$2y$") || hash.starts_with("$2a$") || hash.starts_with("$2b$")) {
            return Err(fail(format!(
                "user {user}'s password is not a bcrypt hash; make it with `htpasswd -B`"
            )));
        }
        users.insert(user.to_string(), hash.to_string());
    }
    Ok(users)
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Rule;

    fn auth(mode: AuthMode, rules: Vec<Rule>) -> (tempfile::NamedTempFile, Authenticator) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let hash = bcrypt::hash("secret", 4).unwrap();
        std::io::Write::write_all(&mut f, format!("alice:{hash}\nbob:{hash}\n").as_bytes())
            .unwrap();
        let config = Auth {
            mode,
            htpasswd: Some(f.path().to_path_buf()),
            rules,
            ..Auth::default()
        };
        let a = Authenticator::new(&config, b"0123456789abcdef0123456789abcdef".to_vec(), false)
            .unwrap();
        (f, a)
    }

    fn basic(user: &str, pw: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
        h.insert(header::AUTHORIZATION, format!("Basic {v}").parse().unwrap());
        h
    }

    #[test]
    fn basic_auth_and_rules() {
        let rules = vec![
            Rule {
                users: vec!["alice".into()],
                repositories: vec!["alice/**".into()],
                actions: vec![Action::Pull, Action::Push],
            },
            Rule {
                users: vec!["anonymous".into()],
                repositories: vec!["public/*".into()],
                actions: vec![Action::Pull],
            },
        ];
        let (_f, a) = auth(AuthMode::Basic, rules);
        let push = Need::Repo("alice/app", Action::Push);
        assert_eq!(
            a.authorize(&basic("alice", "secret"), &push).unwrap(),
            Identity::User("alice".into())
        );
        let e = a.authorize(&basic("alice", "wrong"), &push).unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert!(e.headers.get(header::WWW_AUTHENTICATE).is_some());
        let e = a.authorize(&basic("bob", "secret"), &push).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::FORBIDDEN, Code::Denied));
        assert!(
            a.authorize(&HeaderMap::new(), &Need::Repo("public/x", Action::Pull))
                .is_ok()
        );
        let e = a
            .authorize(&HeaderMap::new(), &Need::Repo("public/x", Action::Push))
            .unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        // `/v2/` challenges anonymous callers though the rules let them pull something.
        let e = a.authorize(&HeaderMap::new(), &Need::Login).unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert!(e.headers.get(header::WWW_AUTHENTICATE).is_some());
        // Empty credentials, as containers/image sends without any, are anonymous.
        assert_eq!(
            a.authorize(&basic("", ""), &Need::Repo("public/x", Action::Pull))
                .unwrap(),
            Identity::Anonymous
        );
        let e = a.authorize(&basic("", ""), &Need::Login).unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn tokens_grant_what_rules_allow_and_nothing_forged() {
        let (_f, a) = auth(AuthMode::Token, vec![]);
        let alice = Identity::User("alice".into());
        let (token, ttl) = a.issue_token(
            &alice,
            &[
                "repository:app:pull,push".into(),
                "repository:x:delete".into(),
            ],
        );
        assert_eq!(ttl, 300);
        let claims = a.verify_token(&token).unwrap();
        assert_eq!(claims.access.len(), 2);
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        assert!(a.authorize(&h, &Need::Repo("app", Action::Push)).is_ok());
        // Not in the token, though the rules allow it: ask for a better token.
        let e = a
            .authorize(&h, &Need::Repo("other", Action::Pull))
            .unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        let challenge = e
            .headers
            .get(header::WWW_AUTHENTICATE)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            challenge.contains("scope=\"repository:other:pull\"")
                && challenge.contains("insufficient_scope"),
            "{challenge}"
        );

        // Anonymous gets nothing without rules; a forged token is refused.
        let (anon, _) = a.issue_token(&Identity::Anonymous, &["repository:app:pull".into()]);
        assert!(a.verify_token(&anon).unwrap().access.is_empty());
        let other = Authenticator::new(
            &Auth {
                mode: AuthMode::Token,
                ..Auth::default()
            },
            b"another secret entirely, 32 bytes".to_vec(),
            false,
        )
        .unwrap();
        let (forged, _) = other.issue_token(&alice, &["repository:app:pull".into()]);
        assert!(a.verify_token(&forged).is_err());
        let mut tampered = token.clone();
        tampered.push('x');
        assert!(a.verify_token(&tampered).is_err());
    }

    #[test]
    fn refuses_non_bcrypt_htpasswd() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, b"alice:{SHA}abc\n").unwrap();
        let config = Auth {
            mode: AuthMode::Basic,
            htpasswd: Some(f.path().to_path_buf()),
            ..Auth::default()
        };
        let err = Authenticator::new(&config, vec![0; 32], false)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("line 1") && err.contains("htpasswd -B"),
            "{err}"
        );
    }
}
