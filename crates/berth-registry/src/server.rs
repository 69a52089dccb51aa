//! Serving: the listener (plain or TLS), the router, the access log, graceful shutdown and the
//! in-process collector.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use berth_store::Store;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::app::App;
use crate::auth::{Authenticator, Identity};
use crate::config::Config;
use crate::handlers::{self, RouteLabel};
use crate::peers::Peers;
use crate::{maintenance, token, unread};

/// How long shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("listening on {addr}: {source}; is another server using it?")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthSetupError),
    #[error("token signing key {path}: {source}")]
    Secret {
        path: String,
        source: std::io::Error,
    },
}

/// A registry ready to serve: bound, configured, with its address known.
pub struct Server {
    app: Arc<App>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
}

impl Server {
    pub async fn bind(config: Config, store: Arc<Store>) -> Result<Server, ServeError> {
        let tls = config.tls.as_ref().map(load_tls).transpose()?;
        let secret = token_secret(&store.root().join("registry/token.secret"))?;
        let auth = Authenticator::new(&config.auth, secret, tls.is_some())?;
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: config.addr,
                source,
            })?;
        Ok(Server {
            app: Arc::new(App::new(store, config, auth)),
            listener,
            tls,
        })
    }

    /// Enforces `gate` on pulls (the policy the configuration's `pull-policy` names, which the
    /// embedding program reads). A configuration naming a policy without a gate refuses every
    /// gated pull rather than serve unchecked.
    pub fn with_pull_gate(mut self, gate: Arc<dyn crate::gate::PullGate>) -> Server {
        Arc::get_mut(&mut self.app)
            .expect("the app is not shared before the server runs")
            .gate = Some(crate::gate::Gate::new(gate));
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr())
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let app = self.app.clone();
        let router = router(app.clone());
        let collector = tokio::spawn(collect_periodically(app.clone()));
        let graceful = GracefulShutdown::new();
        let limits = &app.config.limits;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // The header timeout also closes keep-alive connections idle between requests.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        // HTTP/2 has no header timeout to set: an idle connection is pinged, and closed when
        // the ping isn't answered in time.
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(limits.idle_timeout)
            .keep_alive_timeout(limits.header_timeout);
        let peers = Peers::new(limits.connections_per_peer);
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // Over its cap, a peer's connection is closed at once: its descriptor goes back
            // before it can be held.
            let Some(slot) = peers.admit(peer.ip()) else {
                tracing::debug!(%peer, "too many connections from this address; closing");
                continue;
            };
            let _ = stream.set_nodelay(true);
            let service = TowerToHyperService::new(router.clone());
            match &self.tls {
                None => {
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    let watched = graceful.watch(conn);
                    tokio::spawn(async move {
                        let _slot = slot;
                        let _ = watched.await;
                    });
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let builder = builder.clone();
                    let watcher = graceful.watcher();
                    let handshake = limits.header_timeout;
                    tokio::spawn(async move {
                        let _slot = slot;
                        let Ok(Ok(tls)) =
                            tokio::time::timeout(handshake, acceptor.accept(stream)).await
                        else {
                            return;
                        };
                        let conn = builder
                            .serve_connection_with_upgrades(TokioIo::new(tls), service)
                            .into_owned();
                        let _ = watcher.watch(conn).await;
                    });
                }
            }
        }
        collector.abort();
        tracing::info!("shutting down: finishing requests in flight");
        if tokio::time::timeout(DRAIN, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("requests still running after {DRAIN:?}; stopping anyway");
        }
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/token", get(token::token).post(token::token))
        .route("/metrics", get(metrics))
        .fallback(handlers::dispatch)
        .layer(middleware::from_fn(unread::settle))
        .layer(middleware::from_fn_with_state(app.clone(), access_log))
        .with_state(app)
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

/// One log line per request, and its metrics.
async fn access_log(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(request.method());
    let path = request.uri().path().to_string();
    let bytes_in = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0u64);
    let response = next.run(request).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map_or(if path == "/token" { "token" } else { "other" }, |r| r.0);
    let bytes_out = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .or_else(|| http_body::Body::size_hint(response.body()).exact())
        .unwrap_or(0u64);
    let user = response
        .extensions()
        .get::<Identity>()
        .map_or("", |i| i.name())
        .to_string();
    app.metrics
        .record(route, method, status, bytes_in, bytes_out, elapsed);
    tracing::info!(
        target: "berth::registry::access",
        method,
        path,
        status,
        route,
        user,
        bytes_in,
        bytes_out,
        ms = elapsed.as_secs_f64() * 1000.0,
    );
    response
}

fn method_label(m: &axum::http::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "POST" => "POST",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        _ => "OTHER",
    }
}

async fn collect_periodically(app: Arc<App>) {
    let interval = app.config.gc.interval;
    if interval.is_zero() {
        return;
    }
    loop {
        tokio::time::sleep(interval).await;
        let pass = app.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let report = maintenance::run(&pass.store, &pass.config)?;
            // Sessions the pass expired go from memory too.
            pass.sessions
                .retain(|id| !matches!(pass.store.meta().upload(id), Ok(None)));
            Ok::<_, berth_store::StoreError>(report)
        })
        .await;
        match outcome {
            Ok(Ok(report)) => {
                app.metrics
                    .set_storage(report.storage_bytes, report.storage_blobs);
                tracing::info!(
                    blobs_removed = report.gc.blobs_removed,
                    bytes_freed = report.gc.bytes_freed,
                    uploads_expired = report.uploads_expired,
                    tags_retired = report.tags_retired,
                    manifests_retired = report.manifests_retired,
                    "garbage collection done"
                );
            }
            Ok(Err(e)) => tracing::error!(error = %e, "garbage collection failed"),
            Err(e) => tracing::error!(error = %e, "garbage collection panicked"),
        }
    }
}

fn load_tls(tls: &crate::config::Tls) -> Result<TlsAcceptor, ServeError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .and_then(|i| i.collect())
        .map_err(|e| ServeError::Tls(format!("{}: {e}", tls.cert.display())))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!(
            "{}: no certificates in it",
            tls.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| ServeError::Tls(format!("{}: {e}", tls.key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            ServeError::Tls(format!(
                "{} and {}: {e}",
                tls.cert.display(),
                tls.key.display()
            ))
        })?;
    let mut config = config;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The key tokens are signed with: made once, kept (mode 0600) so tokens survive restarts.
fn token_secret(path: &Path) -> Result<Vec<u8>, ServeError> {
    let err = |source| ServeError::Secret {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read(path) {
        Ok(secret) if secret.len() >= 32 => return Ok(secret),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let mut secret = vec![0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| err(std::io::Error::other(e.to_string())))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    // Created 0600: a chmod after the write would leave the key readable in between.
    berth_store::blobs::write_atomic_mode(path, &secret, 0o600)
        .map_err(|e| err(std::io::Error::other(e.to_string())))?;
    Ok(secret)
}
