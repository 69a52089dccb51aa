//! berth's registry in this process: a server on a free loopback port with a store of its
//! own, a plain HTTP client to it, and pushes and queries through that client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_oci::Digest;
use berth_registry::Config;
use berth_registry::config::Gc;
use berth_store::Store;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use super::http::{expect_status, header, json_body, send};
use super::images::Image;

/// A registry serving a store in a temporary directory; stopped when the last handle goes.
#[derive(Clone)]
pub struct InProcessRegistry {
    pub url: String,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub store: Arc<Store>,
    pub config: Config,
    guard: Arc<Guard>,
}

/// Stops the server and removes its directory when dropped.
struct Guard {
    stop: Option<oneshot::Sender<()>>,
    dir: TempDir,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A registry with the default configuration (no auth, no policies).
pub async fn start() -> InProcessRegistry {
    start_with(|_, _| {}).await
}

/// A registry whose configuration `setup` adjusts; it gets the temporary directory too, for
/// htpasswd files and the like.
pub async fn start_with(setup: impl FnOnce(&mut Config, &Path)) -> InProcessRegistry {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        // No background collector: the tests that collect do it themselves.
        gc: Gc {
            interval: Duration::ZERO,
            ..Gc::default()
        },
        ..Config::default()
    };
    setup(&mut config, dir.path());
    let store = Arc::new(Store::open(&dir.path().join("root")).expect("store opens"));
    let server = berth_registry::Server::bind(config.clone(), store.clone())
        .await
        .expect("server binds");
    let url = server.url();
    let addr = server.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    InProcessRegistry {
        url,
        addr,
        http,
        store,
        config,
        guard: Arc::new(Guard {
            stop: Some(tx),
            dir,
        }),
    }
}

impl InProcessRegistry {
    /// An absolute URL for a path, or a `Location` the registry gave (relative or not).
    pub fn url(&self, path_or_location: &str) -> String {
        if path_or_location.starts_with("http://") || path_or_location.starts_with("https://") {
            path_or_location.to_string()
        } else {
            format!("{}{path_or_location}", self.url)
        }
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn head(&self, path: &str) -> RequestBuilder {
        self.request(Method::HEAD, path)
    }

    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.request(Method::PATCH, path)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    /// A path in the registry's temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.guard.dir.path().join(name)
    }

    /// The same registry seen through another client.
    pub fn with_client(&self, http: reqwest::Client) -> InProcessRegistry {
        InProcessRegistry {
            http,
            ..self.clone()
        }
    }
}

/// Starts an upload session; returns its absolute location.
pub async fn start_upload(reg: &InProcessRegistry, repo: &str) -> String {
    let r = send(reg.post(&format!("/v2/{repo}/blobs/uploads/"))).await;
    let r = expect_status(r, 202).await;
    reg.url(&header(&r, "location").expect("upload Location"))
}

/// Adds `?digest=` (or `&digest=`) to an upload location.
pub fn with_digest(location: &str, digest: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

/// Pushes a blob by POST then PUT; returns its digest.
pub async fn push_blob(reg: &InProcessRegistry, repo: &str, bytes: &[u8]) -> Digest {
    let digest = Digest::sha256(bytes);
    let location = start_upload(reg, repo).await;
    let r = send(
        reg.http
            .put(with_digest(&location, &digest))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec()),
    )
    .await;
    let r = expect_status(r, 201).await;
    assert_eq!(
        header(&r, "docker-content-digest").as_deref(),
        Some(digest.to_string().as_str())
    );
    digest
}

/// PUTs a manifest; returns the response, whatever it is.
pub async fn put_manifest(
    reg: &InProcessRegistry,
    repo: &str,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> Response {
    send(
        reg.put(&format!("/v2/{repo}/manifests/{reference}"))
            .header("content-type", media_type)
            .body(bytes.to_vec()),
    )
    .await
}

/// PUTs a manifest and insists it is created with the right digest.
pub async fn push_manifest(
    reg: &InProcessRegistry,
    repo: &str,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> Digest {
    let digest = Digest::sha256(bytes);
    let r = put_manifest(reg, repo, reference, media_type, bytes).await;
    let r = expect_status(r, 201).await;
    assert_eq!(
        header(&r, "docker-content-digest").as_deref(),
        Some(digest.to_string().as_str())
    );
    assert!(
        header(&r, "location").is_some(),
        "a manifest PUT gives a Location"
    );
    digest
}

/// Pushes an image's blobs, its children (by digest) and then the image itself under
/// `reference` (a tag, or its digest when `None`). Returns its digest.
pub async fn push_image(
    reg: &InProcessRegistry,
    repo: &str,
    image: &Image,
    reference: Option<&str>,
) -> Digest {
    for blob in &image.blobs {
        push_blob(reg, repo, &blob.bytes).await;
    }
    for child in &image.children {
        Box::pin(push_image(reg, repo, child, None)).await;
    }
    let reference = reference.map_or_else(|| image.digest.to_string(), str::to_string);
    push_manifest(reg, repo, &reference, &image.media_type, &image.bytes).await
}

/// A request over a bare connection, for paths an HTTP client library would tidy up
/// (`..`, `%2e%2e`). Returns the status and the body.
pub async fn raw_request(reg: &InProcessRegistry, method: &str, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(reg.addr)
        .await
        .expect("connects");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        reg.addr
    );
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("reads");
    let text = String::from_utf8_lossy(&buf).to_string();
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Writes an htpasswd file of bcrypt entries (cost 4, so tests stay fast).
pub fn write_htpasswd(path: &Path, users: &[(&str, &str)]) {
    let mut text = String::new();
    for (user, password) in users {
        let hash = bcrypt::hash(password, 4).expect("bcrypt");
        text.push_str(&format!("{user}:{hash}\n"));
    }
    std::fs::write(path, text).expect("htpasswd written");
}

/// Whether a blob can be pulled from a repository (HEAD says 200).
pub async fn blob_exists(reg: &InProcessRegistry, repo: &str, digest: &Digest) -> bool {
    let r = send(reg.head(&format!("/v2/{repo}/blobs/{digest}"))).await;
    match r.status() {
        StatusCode::OK => true,
        StatusCode::NOT_FOUND => false,
        other => panic!("HEAD blob {digest}: unexpected {other}"),
    }
}

/// Whether a manifest can be pulled from a repository by a tag or digest (HEAD says 200).
pub async fn manifest_exists(reg: &InProcessRegistry, repo: &str, reference: &str) -> bool {
    let r = send(reg.head(&format!("/v2/{repo}/manifests/{reference}"))).await;
    match r.status() {
        StatusCode::OK => true,
        StatusCode::NOT_FOUND => false,
        other => panic!("HEAD manifest {reference}: unexpected {other}"),
    }
}

/// A repository's tags (empty if the repository is unknown).
pub async fn tags(reg: &InProcessRegistry, repo: &str) -> Vec<String> {
    let r = send(reg.get(&format!("/v2/{repo}/tags/list"))).await;
    if r.status() == StatusCode::NOT_FOUND {
        return Vec::new();
    }
    let body = json_body(r).await;
    body["tags"]
        .as_array()
        .map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Every repository the catalog lists.
pub async fn catalog(reg: &InProcessRegistry) -> Vec<String> {
    let body = json_body(send(reg.get("/v2/_catalog")).await).await;
    body["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}
