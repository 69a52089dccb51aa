//! Shared fixtures for the registry's conformance suite: a server on a free loopback port with
//! a store of its own, a plain HTTP client, pushes, and random images, indexes and artifacts.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_oci::Digest;
use berth_registry::Config;
use berth_registry::config::Gc;
use berth_store::Store;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// A registry serving a store in a temporary directory; stopped when the last handle goes.
#[derive(Clone)]
pub struct Registry {
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
pub async fn start() -> Registry {
    start_with(|_, _| {}).await
}

/// A registry whose configuration `setup` adjusts; it gets the temporary directory too, for
/// htpasswd files and the like.
pub async fn start_with(setup: impl FnOnce(&mut Config, &Path)) -> Registry {
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
    Registry {
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

impl Registry {
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
    pub fn with_client(&self, http: reqwest::Client) -> Registry {
        Registry {
            http,
            ..self.clone()
        }
    }
}

/// Sends a request and returns the response (panics only if the connection fails).
pub async fn send(request: RequestBuilder) -> Response {
    request
        .send()
        .await
        .expect("the request reaches the registry")
}

/// A response header as text, if present.
pub fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("header is text").to_string())
}

/// Every value of a header (a header may be repeated).
pub fn headers(response: &Response, name: &str) -> Vec<String> {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().expect("header is text").to_string())
        .collect()
}

/// Asserts a status; on mismatch the body says why.
pub async fn expect_status(response: Response, status: u16) -> Response {
    if response.status().as_u16() != status {
        let got = response.status();
        let url = response.url().clone();
        let body = response.text().await.unwrap_or_default();
        panic!("{url}: expected {status}, got {got}: {body}");
    }
    response
}

/// Asserts an error response: its status and that its JSON body is
/// `{"errors":[{"code": code, "message": ...}, ...]}` with `code` among them. Returns the body.
pub async fn expect_error(response: Response, status: u16, code: &str) -> Value {
    let got = response.status().as_u16();
    let url = response.url().clone();
    let text = response.text().await.expect("error body");
    assert_eq!(got, status, "{url}: status; body: {text}");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{url}: error body is not JSON ({e}): {text:?}"));
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{url}: no errors array in {text}"));
    assert!(!errors.is_empty(), "{url}: empty errors array");
    for e in errors {
        assert!(e["code"].is_string(), "{url}: error without a code: {text}");
        assert!(
            e["message"].is_string() || e.get("message").is_none(),
            "{url}: message is not text: {text}"
        );
    }
    assert!(
        errors.iter().any(|e| e["code"] == code),
        "{url}: expected error code {code}, got {text}"
    );
    body
}

/// The body of a successful JSON response.
pub async fn json_body(response: Response) -> Value {
    let response = expect_status(response, 200).await;
    response.json().await.expect("JSON body")
}

/// Random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("random bytes");
    buf
}

/// A random lowercase word, for unique names.
pub fn random_word() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Starts an upload session; returns its absolute location.
pub async fn start_upload(reg: &Registry, repo: &str) -> String {
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
pub async fn push_blob(reg: &Registry, repo: &str, bytes: &[u8]) -> Digest {
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
    reg: &Registry,
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
    reg: &Registry,
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

/// A blob of content with its media type.
#[derive(Clone, Debug)]
pub struct Blob {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub digest: Digest,
}

impl Blob {
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob {
            media_type: media_type.to_string(),
            digest: Digest::sha256(&bytes),
            bytes,
        }
    }

    pub fn descriptor(&self) -> Value {
        descriptor(&self.media_type, &self.digest, self.bytes.len())
    }
}

/// A manifest (image, index or artifact) with everything it references.
#[derive(Clone, Debug)]
pub struct Image {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub digest: Digest,
    /// Blobs to push first.
    pub blobs: Vec<Blob>,
    /// Child manifests to push (by digest) first.
    pub children: Vec<Image>,
}

impl Image {
    fn new(media_type: &str, doc: &Value, blobs: Vec<Blob>, children: Vec<Image>) -> Image {
        // Pretty-printed, so a registry that re-serialises would be caught.
        let bytes = serde_json::to_vec_pretty(doc).expect("JSON");
        Image {
            media_type: media_type.to_string(),
            digest: Digest::sha256(&bytes),
            bytes,
            blobs,
            children,
        }
    }

    pub fn descriptor(&self) -> Value {
        descriptor(&self.media_type, &self.digest, self.bytes.len())
    }

    pub fn size(&self) -> usize {
        self.bytes.len()
    }
}

pub fn descriptor(media_type: &str, digest: &Digest, size: usize) -> Value {
    json!({ "mediaType": media_type, "digest": digest.to_string(), "size": size })
}

fn config_blob(media_type: &str) -> Blob {
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": { "type": "layers", "diff_ids": [] },
        "config": { "Labels": { "nonce": random_word() } },
    });
    Blob::new(media_type, serde_json::to_vec(&config).unwrap())
}

/// An image manifest of the given types with `layers` random layers.
pub fn image_of(media_type: &str, config_type: &str, layer_type: &str, layers: usize) -> Image {
    let config = config_blob(config_type);
    let layers: Vec<Blob> = (0..layers)
        .map(|i| Blob::new(layer_type, random_bytes(100 + i * 37)))
        .collect();
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.descriptor(),
        "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
    });
    let mut blobs = vec![config];
    blobs.extend(layers);
    Image::new(media_type, &doc, blobs, Vec::new())
}

/// An OCI image manifest with random layers.
pub fn oci_image(layers: usize) -> Image {
    image_of(OCI_MANIFEST, OCI_CONFIG, OCI_LAYER, layers)
}

/// A Docker schema 2 manifest with random layers.
pub fn docker_image(layers: usize) -> Image {
    image_of(DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER, layers)
}

/// An index (OCI or Docker manifest list) of `children`.
pub fn index_of(media_type: &str, children: Vec<Image>) -> Image {
    let platforms = ["amd64", "arm64", "riscv64", "s390x", "ppc64le"];
    let manifests: Vec<Value> = children
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut d = c.descriptor();
            d["platform"] =
                json!({ "os": "linux", "architecture": platforms[i % platforms.len()] });
            d
        })
        .collect();
    let doc = json!({ "schemaVersion": 2, "mediaType": media_type, "manifests": manifests });
    Image::new(media_type, &doc, Vec::new(), children)
}

/// What an artifact refers to: a manifest's media type, digest and size.
#[derive(Clone, Debug)]
pub struct Subject {
    pub media_type: String,
    pub digest: Digest,
    pub size: usize,
}

impl Subject {
    pub fn of(image: &Image) -> Subject {
        Subject {
            media_type: image.media_type.clone(),
            digest: image.digest.clone(),
            size: image.size(),
        }
    }

    /// A manifest nobody pushed.
    pub fn missing() -> Subject {
        let bytes = random_bytes(64);
        Subject {
            media_type: OCI_MANIFEST.to_string(),
            digest: Digest::sha256(&bytes),
            size: 64,
        }
    }

    fn descriptor(&self) -> Value {
        descriptor(&self.media_type, &self.digest, self.size)
    }
}

/// An OCI artifact manifest: `artifact_type` (or none, so the config's media type stands in),
/// a config of `config_type`, one random layer, a subject and annotations.
pub fn artifact(
    artifact_type: Option<&str>,
    config_type: &str,
    subject: Option<&Subject>,
    annotations: &[(&str, &str)],
) -> Image {
    let config = if config_type == OCI_EMPTY {
        Blob::new(OCI_EMPTY, b"{}".to_vec())
    } else {
        Blob::new(config_type, random_bytes(32))
    };
    let layer = Blob::new("application/octet-stream", random_bytes(64));
    let mut doc = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    });
    if let Some(t) = artifact_type {
        doc["artifactType"] = json!(t);
    }
    if let Some(s) = subject {
        doc["subject"] = s.descriptor();
    }
    if !annotations.is_empty() {
        let map: serde_json::Map<String, Value> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        doc["annotations"] = Value::Object(map);
    }
    Image::new(OCI_MANIFEST, &doc, vec![config, layer], Vec::new())
}

/// An OCI index with a subject and annotations (no artifactType), listing `children`.
pub fn index_referrer(
    subject: &Subject,
    children: Vec<Image>,
    annotations: &[(&str, &str)],
) -> Image {
    let map: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": children.iter().map(Image::descriptor).collect::<Vec<_>>(),
        "subject": subject.descriptor(),
        "annotations": map,
    });
    Image::new(OCI_INDEX, &doc, Vec::new(), children)
}

/// Pushes an image's blobs, its children (by digest) and then the image itself under
/// `reference` (a tag, or its digest when `None`). Returns its digest.
pub async fn push_image(
    reg: &Registry,
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
pub async fn raw_request(reg: &Registry, method: &str, path: &str) -> (u16, String) {
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

/// The error code of a JSON error body, as text.
pub fn error_code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body:?}"));
    v["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
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

/// `Basic` credentials for a header.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// Whether a blob can be pulled from a repository (HEAD says 200).
pub async fn blob_exists(reg: &Registry, repo: &str, digest: &Digest) -> bool {
    let r = send(reg.head(&format!("/v2/{repo}/blobs/{digest}"))).await;
    match r.status() {
        StatusCode::OK => true,
        StatusCode::NOT_FOUND => false,
        other => panic!("HEAD blob {digest}: unexpected {other}"),
    }
}

/// Whether a manifest can be pulled from a repository by a tag or digest (HEAD says 200).
pub async fn manifest_exists(reg: &Registry, repo: &str, reference: &str) -> bool {
    let r = send(reg.head(&format!("/v2/{repo}/manifests/{reference}"))).await;
    match r.status() {
        StatusCode::OK => true,
        StatusCode::NOT_FOUND => false,
        other => panic!("HEAD manifest {reference}: unexpected {other}"),
    }
}

/// A repository's tags (empty if the repository is unknown).
pub async fn tags(reg: &Registry, repo: &str) -> Vec<String> {
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
pub async fn catalog(reg: &Registry) -> Vec<String> {
    let body = json_body(send(reg.get("/v2/_catalog")).await).await;
    body["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

/// A client that sends `authorization` with every request.
pub fn client_with_auth(authorization: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        authorization.parse().expect("a header value"),
    );
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("client")
}
