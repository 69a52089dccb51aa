//! Talking to registries: one HTTP client, per-registry auth state (the challenge, credentials,
//! tokens per scope set), and requests that retry what is worth retrying.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use crate::body::{MAX_TOKEN_BODY, read_bounded, read_error_body};
use crate::challenge::{self, Challenge};
use crate::credentials::{Credential, DockerConfig};
use crate::error::{Kind, RemoteError, kind_of, registry_message};
use crate::retry::{Failures, RetryPolicy, error_chain};

/// Everything that decides how registries are reached.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Hosts (`host[:port]`) to reach over plain HTTP; `localhost` and `127.0.0.0/8` always are.
    pub insecure_registries: Vec<String>,
    /// Extra CA certificates (PEM) to trust besides the system's.
    pub ca_certs: Vec<PathBuf>,
    /// Docker's config file to read credentials from (default: `$DOCKER_CONFIG` or `~/.docker`).
    pub docker_config: Option<PathBuf>,
    /// Attempts per request for failures worth retrying (default 5).
    pub retries: Option<u32>,
    /// Smallest pause between retries (default 200 ms); it doubles each time.
    pub backoff: Option<Duration>,
    /// Longest wait for the next bytes of an answer (its headers or its body) before the
    /// transfer counts as stalled and is retried (default [`DEFAULT_READ_TIMEOUT`]).
    pub read_timeout: Option<Duration>,
}

/// How long a registry may go silent in the middle of an answer. Long enough for a registry
/// that checks a large upload before answering, short enough that a stalled pull is noticed.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// What a request may do to which repositories: the token flow's scopes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub repository: String,
    pub actions: &'static str,
}

impl Scope {
    pub fn pull(repository: &str) -> Scope {
        Scope {
            repository: repository.to_string(),
            actions: "pull",
        }
    }

    pub fn push(repository: &str) -> Scope {
        Scope {
            repository: repository.to_string(),
            actions: "pull,push",
        }
    }

    pub fn delete(repository: &str) -> Scope {
        Scope {
            repository: repository.to_string(),
            actions: "delete",
        }
    }

    fn token_scope(&self) -> String {
        format!("repository:{}:{}", self.repository, self.actions)
    }
}

pub struct Client {
    http: Http,
    options: Options,
    registries: Mutex<HashMap<String, Arc<Registry>>>,
}

/// The slowest upload that still never times out: a request carrying a body may take the
/// read timeout plus the time to send its body at this rate.
const MIN_SEND_RATE: f64 = 16.0 * 1024.0;

/// berth's HTTP clients. reqwest's read timeout covers a request from its start until the
/// answer's headers, sending its body included, then each read of the answer's body; that
/// is right for requests without a body, but would fail a slow upload that is making
/// progress. Requests that carry a body go through a client without it, under a budget for
/// the whole exchange that grows with the body.
#[derive(Clone)]
struct Http {
    reads: reqwest::Client,
    sends: reqwest::Client,
    read_timeout: Duration,
}

impl Http {
    fn new(options: &Options) -> Result<Http, RemoteError> {
        let mut certs = Vec::new();
        for path in &options.ca_certs {
            let pem = std::fs::read(path).map_err(|e| {
                RemoteError::new(
                    "local",
                    None,
                    Kind::Tls,
                    format!("--ca-cert {}: {e}", path.display()),
                )
            })?;
            certs.extend(reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                RemoteError::new(
                    "local",
                    None,
                    Kind::Tls,
                    format!("--ca-cert {}: not PEM certificates: {e}", path.display()),
                )
            })?);
        }
        let builder = || {
            certs.iter().fold(
                reqwest::Client::builder()
                    .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
                    .connect_timeout(Duration::from_secs(30))
                    .pool_max_idle_per_host(16)
                    .tcp_nodelay(true),
                |b, cert| b.add_root_certificate(cert.clone()),
            )
        };
        let read_timeout = options.read_timeout.unwrap_or(DEFAULT_READ_TIMEOUT);
        let built = |b: reqwest::ClientBuilder| {
            b.build().map_err(|e| {
                RemoteError::new("local", None, Kind::Other, format!("setting up HTTP: {e}"))
            })
        };
        Ok(Http {
            reads: built(builder().read_timeout(read_timeout))?,
            sends: built(builder())?,
            read_timeout,
        })
    }

    /// A request, with its body if it has one.
    fn request(
        &self,
        method: Method,
        url: impl reqwest::IntoUrl,
        body: Option<&Bytes>,
    ) -> RequestBuilder {
        match body {
            None => self.reads.request(method, url),
            Some(body) => {
                let budget =
                    self.read_timeout + Duration::from_secs_f64(body.len() as f64 / MIN_SEND_RATE);
                self.sends
                    .request(method, url)
                    .timeout(budget)
                    .body(body.clone())
            }
        }
    }

    fn get(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.reads.get(url)
    }

    fn post(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.reads.post(url)
    }
}

impl Client {
    pub fn new(options: Options) -> Result<Client, RemoteError> {
        Ok(Client {
            http: Http::new(&options)?,
            options,
            registries: Mutex::new(HashMap::new()),
        })
    }

    /// The client for one registry host (as written in references: `localhost:5000`,
    /// `docker.io`), with its credentials from Docker's config.
    pub fn registry(&self, host: &str) -> Result<Arc<Registry>, RemoteError> {
        let mut registries = self.registries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = registries.get(host) {
            return Ok(r.clone());
        }
        let credential = self.credential(host)?;
        let registry = Arc::new(Registry {
            host: host.to_string(),
            endpoint: endpoint(host, &self.options.insecure_registries),
            base: Mutex::new(None),
            http: self.http.clone(),
            credential,
            retry: self.retry_policy(),
            auth: Mutex::new(AuthState::default()),
        });
        registries.insert(host.to_string(), registry.clone());
        Ok(registry)
    }

    /// A registry client with the given credential instead of the stored one (`berth login`).
    pub fn registry_with(&self, host: &str, credential: Credential) -> Arc<Registry> {
        Arc::new(Registry {
            host: host.to_string(),
            endpoint: endpoint(host, &self.options.insecure_registries),
            base: Mutex::new(None),
            http: self.http.clone(),
            credential: Some(credential),
            retry: self.retry_policy(),
            auth: Mutex::new(AuthState::default()),
        })
    }

    fn retry_policy(&self) -> RetryPolicy {
        let default = RetryPolicy::default();
        RetryPolicy {
            retries: self.options.retries.unwrap_or(default.retries),
            backoff: self.options.backoff.unwrap_or(default.backoff),
            failures: default.failures,
        }
    }

    fn credential(&self, host: &str) -> Result<Option<Credential>, RemoteError> {
        let Some(path) = self
            .options
            .docker_config
            .clone()
            .or_else(DockerConfig::default_path)
        else {
            return Ok(None);
        };
        let config = DockerConfig::load(&path)
            .map_err(|e| RemoteError::new(host, None, Kind::Other, e.to_string()))?;
        config
            .get(host)
            .map_err(|e| RemoteError::new(host, None, Kind::Other, e.to_string()))
    }
}

/// Where a registry's API is: `https://HOST`, and whether plain HTTP is allowed there.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    /// `https://registry-1.docker.io` for Docker Hub, `https://HOST` otherwise.
    https: String,
    /// Loopback hosts and those given with --insecure-registry may speak plain HTTP: tried
    /// when TLS fails, as Docker and containers/image do.
    http: Option<String>,
}

fn endpoint(host: &str, insecure: &[String]) -> Endpoint {
    let api = match host {
        "docker.io" | "index.docker.io" => "registry-1.docker.io",
        h => h,
    };
    let name = api.rsplit_once(':').map_or(api, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            api
        }
    });
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let loopback = name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let insecure = loopback || insecure.iter().any(|i| i == host || i == api);
    Endpoint {
        https: format!("https://{api}"),
        http: insecure.then(|| format!("http://{api}")),
    }
}

/// The scheme tried last: `http://` for loopback and listed hosts, `https://` otherwise.
#[cfg(test)]
fn base_url(host: &str, insecure: &[String]) -> String {
    let e = endpoint(host, insecure);
    e.http.unwrap_or(e.https)
}

#[derive(Default)]
struct AuthState {
    /// What `/v2/` answered: `None` until asked, `Some(None)` when no auth is needed.
    challenge: Option<Option<Challenge>>,
    tokens: HashMap<String, (String, Instant)>,
}

/// One registry: where it is, who we are there, and the tokens we hold.
pub struct Registry {
    host: String,
    endpoint: Endpoint,
    /// The base URL that answered: https, or http where allowed and TLS failed.
    base: Mutex<Option<String>>,
    http: Http,
    credential: Option<Credential>,
    retry: RetryPolicy,
    auth: Mutex<AuthState>,
}

/// A request to make: built afresh for every attempt, so its body must be replayable.
pub struct Request<'a> {
    pub method: Method,
    /// Path and query under the registry's base URL, or an absolute URL (upload locations).
    pub target: String,
    pub scopes: &'a [Scope],
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
}

impl<'a> Request<'a> {
    pub fn new(method: Method, target: impl Into<String>, scopes: &'a [Scope]) -> Request<'a> {
        Request {
            method,
            target: target.into(),
            scopes,
            headers: HeaderMap::new(),
            body: None,
        }
    }

    pub fn header(mut self, name: header::HeaderName, value: &str) -> Request<'a> {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }

    pub fn body(mut self, body: Bytes) -> Request<'a> {
        self.body = Some(body);
        self
    }
}

impl Registry {
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The base URL requests go to (decided by the first request).
    pub fn base(&self) -> String {
        self.base
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| {
                self.endpoint
                    .http
                    .clone()
                    .unwrap_or_else(|| self.endpoint.https.clone())
            })
    }

    pub fn error(&self, repo: Option<&str>, kind: Kind, message: impl Into<String>) -> RemoteError {
        RemoteError::new(&self.host, repo, kind, message)
    }

    /// An error for an unexpected response, with what the registry said.
    pub async fn unexpected(
        &self,
        repo: Option<&str>,
        what: &str,
        response: Response,
    ) -> RemoteError {
        let status = response.status();
        let body = read_error_body(response).await;
        RemoteError::new(
            &self.host,
            repo,
            kind_of(status),
            format!("{what}: {}", registry_message(&body, status)),
        )
        .with_status(status)
    }

    /// The retry policy every request to this registry follows.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Where `target` (a path under the registry, or a URL the registry sent) points.
    fn url(&self, target: &str, repo: Option<&str>) -> Result<Url, RemoteError> {
        let base = self.base();
        Url::parse(&base).and_then(|b| b.join(target)).map_err(|e| {
            self.error(
                repo,
                Kind::Other,
                format!("{target:?} is not a URL under {base}: {e}"),
            )
        })
    }

    /// Whether `url` is this registry: the same host and port as its API. Credentials and
    /// tokens go only there; a URL the registry names elsewhere (an upload location, a
    /// storage host) is reached without them, as HTTP redirects across hosts are.
    pub fn is_own(&self, url: &Url) -> bool {
        Url::parse(&self.base()).is_ok_and(|base| same_host_and_port(&base, url))
    }

    /// Sends a request with the right credentials, retrying as the registry's policy says
    /// (connection failures, 408, 429 and 5xx, honouring `Retry-After`), and a 401 once with
    /// fresh credentials.
    pub async fn send(&self, req: &Request<'_>) -> Result<Response, RemoteError> {
        let repo = req.scopes.first().map(|s| s.repository.as_str());
        let mut reauthorized = false;
        // Which base answers (TLS, or plain HTTP where allowed) is learnt by the `/v2/` ping
        // that learns the challenge: before it, paths have nowhere to go.
        self.challenge().await?;
        loop {
            let url = self.url(&req.target, repo)?;
            let own = self.is_own(&url);
            if !own {
                tracing::debug!(registry = %self.host, %url, "another host: no credentials go there");
            }
            let response = self
                .retrying(&self.retry, || async {
                    let rb = self
                        .http
                        .request(req.method.clone(), url.clone(), req.body.as_ref())
                        .headers(req.headers.clone());
                    if own {
                        self.authorize(rb, req.scopes).await
                    } else {
                        Ok(rb)
                    }
                })
                .await
                .map_err(|f| f.into_error(|e| self.network_error(repo, &self.base(), e)))?;
            if response.status() == StatusCode::UNAUTHORIZED && own && !reauthorized {
                reauthorized = true;
                self.learn(response.headers(), req.scopes);
                continue;
            }
            return Ok(response);
        }
    }

    /// The one retry loop: sends what `build` makes (afresh for every attempt) until the
    /// answer is final by `policy`, pausing between attempts as it says.
    async fn retrying<F, Fut>(
        &self,
        policy: &RetryPolicy,
        mut build: F,
    ) -> Result<Response, Failure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<RequestBuilder, RemoteError>>,
    {
        let mut attempt = 0;
        loop {
            let outcome = build().await.map_err(Failure::Unsent)?.send().await;
            let Some(pause) = policy.pause(attempt, &outcome) else {
                return outcome.map_err(Failure::Network);
            };
            tracing::debug!(registry = %self.host, attempt, ?pause, "retrying");
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    fn network_error(&self, repo: Option<&str>, base: &str, e: &reqwest::Error) -> RemoteError {
        let text = error_chain(e);
        let kind = if text.contains("certificate")
            || text.contains("tls")
            || text.contains("TLS")
            || text.contains("InvalidContentType")
        {
            Kind::Tls
        } else {
            Kind::Unavailable
        };
        RemoteError::new(
            &self.host,
            repo,
            kind,
            format!("can't reach {base}: {text}"),
        )
    }

    /// Adds what this registry wants to a request: nothing, basic credentials, or a token.
    async fn authorize(
        &self,
        rb: RequestBuilder,
        scopes: &[Scope],
    ) -> Result<RequestBuilder, RemoteError> {
        let challenge = self.challenge().await?;
        match challenge {
            None => Ok(rb),
            Some(Challenge::Basic) => Ok(match &self.credential {
                Some(Credential::Basic { username, password }) => {
                    rb.basic_auth(username, Some(password))
                }
                _ => rb,
            }),
            Some(Challenge::Bearer { realm, service, .. }) => {
                match self.token(&realm, service.as_deref(), scopes).await? {
                    Some(token) => Ok(rb.bearer_auth(token)),
                    None => Ok(rb),
                }
            }
        }
    }

    /// The challenge `/v2/` answers with, asked once.
    async fn challenge(&self) -> Result<Option<Challenge>, RemoteError> {
        if let Some(c) = self
            .auth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .challenge
            .clone()
        {
            return Ok(c);
        }
        let response = self.ping().await?;
        let url = format!("{}/v2/", self.base());
        let challenge = match response.status() {
            StatusCode::UNAUTHORIZED => response
                .headers()
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .filter_map(challenge::parse)
                .next(),
            s if s.is_success() => None,
            StatusCode::NOT_FOUND => {
                return Err(self.error(
                    None,
                    Kind::NotFound,
                    format!("{url} is not a registry (the /v2/ API is missing)"),
                ));
            }
            _ => return Err(self.unexpected(None, "checking the API", response).await),
        };
        self.auth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .challenge = Some(challenge.clone());
        Ok(challenge)
    }

    /// `GET /v2/`, over TLS, or over plain HTTP where allowed and TLS failed; remembers which.
    async fn ping(&self) -> Result<Response, RemoteError> {
        let mut bases = vec![self.endpoint.https.clone()];
        bases.extend(self.endpoint.http.clone());
        let mut failures: Vec<RemoteError> = Vec::new();
        for base in bases {
            let failures_retried = if self.endpoint.http.is_some() && base == self.endpoint.https {
                // With plain HTTP to fall back on, TLS gets one try.
                Failures::None
            } else {
                // A server that answers, but not in HTTP (it speaks TLS), won't change its mind.
                Failures::Unreached
            };
            let policy = RetryPolicy {
                failures: failures_retried,
                ..self.retry
            };
            let url = format!("{base}/v2/");
            match self
                .retrying(&policy, || async { Ok(self.http.get(&url)) })
                .await
            {
                Ok(r) => {
                    *self.base.lock().unwrap_or_else(|p| p.into_inner()) = Some(base);
                    return Ok(r);
                }
                Err(f) => failures.push(f.into_error(|e| self.network_error(None, &base, e))),
            }
        }
        // The TLS failure is the telling one (the plain HTTP attempt then fails too, against
        // a server that speaks TLS).
        *self.base.lock().unwrap_or_else(|p| p.into_inner()) = Some(self.endpoint.https.clone());
        Err(failures
            .into_iter()
            .next()
            .expect("at least one base was tried"))
    }

    /// Takes in a 401's challenge: forget tokens for these scopes and note the challenge.
    fn learn(&self, headers: &HeaderMap, scopes: &[Scope]) {
        let mut auth = self.auth.lock().unwrap_or_else(|p| p.into_inner());
        let parsed = headers
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(challenge::parse)
            .next();
        if parsed.is_some() {
            auth.challenge = Some(parsed);
        }
        auth.tokens.remove(&scope_key(scopes));
    }

    /// A token for these scopes: cached until shortly before it expires.
    async fn token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[Scope],
    ) -> Result<Option<String>, RemoteError> {
        let key = scope_key(scopes);
        {
            let auth = self.auth.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((token, until)) = auth.tokens.get(&key) {
                if Instant::now() < *until {
                    return Ok(Some(token.clone()));
                }
            }
        }
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(s) = service {
            params.push(("service", s.to_string()));
        }
        for s in scopes {
            params.push(("scope", s.token_scope()));
        }
        let repo = scopes.first().map(|s| s.repository.as_str());
        let credential = self.credential_for_realm(realm, repo)?;
        let response = self
            .retrying(&self.retry, || async {
                Ok(match credential {
                    Some(Credential::IdentityToken { token, .. }) => {
                        let mut form = params.clone();
                        form.push(("grant_type", "refresh_token".into()));
                        form.push(("refresh_token", token.clone()));
                        form.push(("client_id", "berth".into()));
                        self.http.post(realm).form(&form)
                    }
                    Some(Credential::Basic { username, password }) => self
                        .http
                        .get(realm)
                        .query(&params)
                        .basic_auth(username, Some(password)),
                    None => self.http.get(realm).query(&params),
                })
            })
            .await
            .map_err(|f| f.into_error(|e| self.network_error(repo, &self.base(), e)))?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let status = response.status();
            let body = read_error_body(response).await;
            let who = match credential {
                Some(c) => format!("as {}", c.username()),
                None => "anonymously".to_string(),
            };
            return Err(self
                .error(
                    repo,
                    Kind::Unauthorized,
                    format!(
                        "the token service refused to sign in {who}: {}",
                        registry_message(&body, status)
                    ),
                )
                .with_status(status));
        }
        if !response.status().is_success() {
            return Err(self.unexpected(repo, "getting a token", response).await);
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let body = read_bounded(response, MAX_TOKEN_BODY).await.map_err(|e| {
            self.error(
                repo,
                Kind::Unavailable,
                format!("the token service at {realm}: {e}"),
            )
        })?;
        let body: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            self.error(
                repo,
                Kind::Other,
                format!("the token service answered something else than a token: {e}"),
            )
        })?;
        let token = if body.token.is_empty() {
            body.access_token
        } else {
            body.token
        };
        if token.is_empty() {
            return Ok(None);
        }
        let lifetime = Duration::from_secs(body.expires_in.unwrap_or(60).max(1));
        let until = Instant::now()
            + lifetime
                .saturating_sub(Duration::from_secs(10))
                .max(lifetime / 2);
        self.auth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tokens
            .insert(key, (token.clone(), until));
        Ok(Some(token))
    }

    /// The credential to show the token service at `realm`: ours, if the realm is on this
    /// registry's host (on any port) or reached over TLS. The registry names its token
    /// service, which may live elsewhere (Docker Hub's is auth.docker.io), but a realm on
    /// another host over plain HTTP would put the password on the wire in the clear, to a
    /// host the user never named: it is asked anonymously instead.
    fn credential_for_realm(
        &self,
        realm: &str,
        repo: Option<&str>,
    ) -> Result<Option<&Credential>, RemoteError> {
        let url = Url::parse(realm).map_err(|e| {
            self.error(
                repo,
                Kind::Other,
                format!("the registry's token service {realm:?} is not a URL: {e}"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(self.error(
                repo,
                Kind::Other,
                format!("the registry's token service {realm:?} is not an HTTP URL"),
            ));
        }
        let base = Url::parse(&self.base()).ok();
        let same_host = base.is_some_and(|b| b.host_str() == url.host_str());
        if url.scheme() == "https" || same_host {
            return Ok(self.credential.as_ref());
        }
        if self.credential.is_some() {
            tracing::warn!(registry = %self.host, %realm, "not sending credentials to a token service on another host over plain HTTP");
        }
        Ok(None)
    }

    /// Checks that the credentials work (`berth login`): `/v2/` with them, through the token
    /// flow when the registry has one (the token service checks the password then).
    pub async fn check_login(&self) -> Result<(), RemoteError> {
        let response = self.send(&Request::new(Method::GET, "/v2/", &[])).await?;
        match response.status() {
            s if s.is_success() => {}
            StatusCode::UNAUTHORIZED => {
                return Err(self
                    .error(
                        None,
                        Kind::Unauthorized,
                        "the username or password is wrong",
                    )
                    .with_status(StatusCode::UNAUTHORIZED));
            }
            _ => return Err(self.unexpected(None, "signing in", response).await),
        }
        Ok(())
    }
}

/// Same host and port (the scheme's default port when none is written).
fn same_host_and_port(a: &Url, b: &Url) -> bool {
    a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

fn scope_key(scopes: &[Scope]) -> String {
    let mut keys: Vec<String> = scopes.iter().map(Scope::token_scope).collect();
    keys.sort();
    keys.join(" ")
}

/// Why the retry loop gave up without a response.
enum Failure {
    /// The request could not be made (its credentials, say).
    Unsent(RemoteError),
    /// The last attempt did not reach the registry.
    Network(reqwest::Error),
}

impl Failure {
    fn into_error(self, network: impl FnOnce(&reqwest::Error) -> RemoteError) -> RemoteError {
        match self {
            Failure::Unsent(e) => e,
            Failure::Network(e) => network(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_first_and_plain_http_only_for_loopback_and_listed_hosts() {
        let e = endpoint("localhost:5000", &[]);
        assert_eq!(
            (e.https.as_str(), e.http.as_deref()),
            ("https://localhost:5000", Some("http://localhost:5000"))
        );
        assert_eq!(endpoint("registry.example", &[]).http, None);
        assert_eq!(base_url("localhost:5000", &[]), "http://localhost:5000");
        assert_eq!(base_url("127.0.0.1:5000", &[]), "http://127.0.0.1:5000");
        assert_eq!(base_url("[::1]:5000", &[]), "http://[::1]:5000");
        assert_eq!(
            base_url("registry.example", &[]),
            "https://registry.example"
        );
        assert_eq!(
            base_url("registry.example:443", &["registry.example:443".into()]),
            "http://registry.example:443"
        );
        assert_eq!(base_url("docker.io", &[]), "https://registry-1.docker.io");
    }
}
