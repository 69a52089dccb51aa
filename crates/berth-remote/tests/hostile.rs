//! berth's client against a registry that lies: bodies that never end or stall, and URLs
//! (pagination links, upload locations, token realms, redirects) on another host. Every
//! answer is bounded, every stall ends, and credentials reach only the registry's own host
//! and port, which the tests check on what the second host (127.0.0.2) received.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use berth_oci::{Descriptor, Digest, Reference, Repository, media_type};
use berth_remote::{
    Client, Credential, Kind, Options, Registry, RemoteDestination, RemoteError, RemoteSource,
};
use berth_transport::{ImageDestination, ImageSource};
use bytes::Bytes;
use test_support::registry::{Answer, HostileRegistry, Received};
use tokio::io::AsyncReadExt;

const USER: &str = "alice";
const PASSWORD: &str = "alice-pw";

/// A client with short pauses between retries and a short read timeout, so a stall costs a
/// test well under a second per try.
fn client(dir: &Path, retries: u32) -> Client {
    Client::new(Options {
        docker_config: Some(dir.join("no-credentials.json")),
        retries: Some(retries),
        backoff: Some(Duration::from_millis(10)),
        read_timeout: Some(Duration::from_millis(300)),
        ..Options::default()
    })
    .expect("the client is set up")
}

fn signed_in(dir: &Path, host: &str) -> Arc<Registry> {
    client(dir, 2).registry_with(
        host,
        Credential::Basic {
            username: USER.into(),
            password: PASSWORD.into(),
        },
    )
}

/// Answers `/v2/` as a registry with basic auth does: 401 with the challenge until the
/// request carries credentials.
fn basic_ping(req: &Received) -> Option<Answer> {
    (req.path == "/v2/").then(|| match req.header("authorization") {
        Some(_) => Answer::status(200),
        None => Answer::status(401).header("WWW-Authenticate", r#"Basic realm="hostile""#),
    })
}

/// Requests that carried credentials of any kind.
fn with_credentials(received: &[Received]) -> Vec<&Received> {
    received
        .iter()
        .filter(|r| r.header("authorization").is_some())
        .collect()
}

fn reference(registry: &HostileRegistry, rest: &str) -> Reference {
    Reference::parse(&format!("{}/{rest}", registry.addr)).expect("a reference")
}

/// Runs `f`, failing the test if it takes longer than `limit`: a hang is the bug.
async fn within<T>(limit: Duration, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| panic!("still running after {limit:?}"))
}

#[tokio::test]
async fn an_endless_manifest_is_refused_at_four_mib_naming_what_was_asked() {
    let dir = tempfile::tempdir().unwrap();
    let registry = HostileRegistry::start("127.0.0.1", |req| match req.path.as_str() {
        "/v2/" => Answer::status(200),
        _ => Answer::endless(vec![b' '; 64 << 10]).header("Content-Type", media_type::OCI_MANIFEST),
    });
    let remote = client(dir.path(), 2).registry(&registry.addr).unwrap();
    let err = within(
        Duration::from_secs(20),
        RemoteSource::open(remote, &reference(&registry, "hostile/app:v1")),
    )
    .await
    .err()
    .expect("an endless manifest is refused");
    assert_eq!(err.kind, Kind::Rejected, "{err}");
    let text = err.to_string();
    for part in [registry.addr.as_str(), "hostile/app", "v1", "4194304"] {
        assert!(text.contains(part), "{part} missing from: {text}");
    }
    // Refused, not retried: another try would only bring another endless body.
    assert_eq!(registry.received_at("/manifests/").len(), 1);
}

/// A one-layer image whose layer is `layer_size` bytes by its descriptor.
struct Scripted {
    manifest: Bytes,
    layer: Descriptor,
}

fn scripted(layer_bytes: &[u8]) -> Scripted {
    let layer = Descriptor::new(
        media_type::OCI_LAYER,
        Digest::sha256(layer_bytes),
        layer_bytes.len() as u64,
    );
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": { "mediaType": media_type::OCI_CONFIG, "digest": Digest::sha256(b"{}").to_string(), "size": 2 },
        "layers": [ { "mediaType": media_type::OCI_LAYER, "digest": layer.digest.to_string(), "size": layer.size } ],
    });
    Scripted {
        manifest: Bytes::from(serde_json::to_vec(&manifest).unwrap()),
        layer,
    }
}

/// Reads a blob from `source` to its end: the bytes, or the error it ended with.
async fn read_blob(source: &RemoteSource, desc: &Descriptor) -> (Vec<u8>, std::io::Result<()>) {
    let mut stream = match source.blob(desc).await {
        Ok(s) => s,
        Err(e) => return (Vec::new(), Err(std::io::Error::other(e))),
    };
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => return (out, Ok(())),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Err(e)),
        }
    }
}

#[tokio::test]
async fn an_endless_blob_is_cut_off_the_moment_it_passes_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let image = scripted(&[7u8; 10_000]);
    let manifest = image.manifest.clone();
    let registry = HostileRegistry::start("127.0.0.1", move |req| {
        if req.path == "/v2/" {
            Answer::status(200)
        } else if req.path.contains("/manifests/") {
            Answer::ok(manifest.clone()).header("Content-Type", media_type::OCI_MANIFEST)
        } else {
            Answer::endless(vec![7u8; 4096])
        }
    });
    let remote = client(dir.path(), 2).registry(&registry.addr).unwrap();
    let source = RemoteSource::open(remote, &reference(&registry, "hostile/app:v1"))
        .await
        .unwrap();
    let (bytes, end) = within(Duration::from_secs(20), read_blob(&source, &image.layer)).await;
    let err = end.expect_err("an endless blob is refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("longer than"), "{err}");
    assert!(
        bytes.len() as u64 <= image.layer.size,
        "{} bytes of a {}-byte blob were passed on",
        bytes.len(),
        image.layer.size
    );
    assert_eq!(registry.received_at("/blobs/").len(), 1, "not retried");
}

#[tokio::test]
async fn pagination_links_to_another_host_are_followed_on_the_registry_itself() {
    let dir = tempfile::tempdir().unwrap();
    let other = HostileRegistry::start("127.0.0.2", |_| Answer::ok(r#"{"tags":["stolen"]}"#));
    let elsewhere = format!("http://{}/v2/hostile/app/tags/list?n=1&last=a", other.addr);
    let registry = HostileRegistry::start("127.0.0.1", move |req| {
        if let Some(ping) = basic_ping(req) {
            return ping;
        }
        if req.path.contains("last=a") {
            Answer::ok(r#"{"name":"hostile/app","tags":["b"]}"#)
        } else {
            Answer::ok(r#"{"name":"hostile/app","tags":["a"]}"#)
                .header("Link", &format!(r#"<{elsewhere}>; rel="next""#))
        }
    });
    let remote = signed_in(dir.path(), &registry.addr);
    let repo = Repository::parse(&format!("{}/hostile/app", registry.addr)).unwrap();
    let tags = within(
        Duration::from_secs(20),
        berth_remote::ops::tags(&remote, &repo, 1),
    )
    .await
    .unwrap();
    assert_eq!(tags, ["a", "b"], "the next page came from the registry");
    assert!(
        other.received().is_empty(),
        "the other host was asked: {:?}",
        other.received()
    );
    let own = registry.received_at("last=a");
    assert_eq!(own.len(), 1);
    assert!(
        own[0].header("authorization").is_some(),
        "the registry itself gets them"
    );
}

#[tokio::test]
async fn pages_that_loop_end_the_listing() {
    let dir = tempfile::tempdir().unwrap();
    let registry = HostileRegistry::start("127.0.0.1", |req| {
        if req.path == "/v2/" {
            return Answer::status(200);
        }
        // Every page says the next is the one after `a`, over and over.
        Answer::ok(r#"{"tags":["a","b"]}"#).header(
            "Link",
            r#"</v2/hostile/app/tags/list?n=2&last=a>; rel="next""#,
        )
    });
    let remote = client(dir.path(), 2).registry(&registry.addr).unwrap();
    let repo = Repository::parse(&format!("{}/hostile/app", registry.addr)).unwrap();
    let tags = within(
        Duration::from_secs(20),
        berth_remote::ops::tags(&remote, &repo, 2),
    )
    .await
    .unwrap();
    assert_eq!(tags, ["a", "b"]);
    assert_eq!(
        registry.received_at("/tags/list").len(),
        2,
        "the page seen twice is not asked a third time"
    );
}

#[tokio::test]
async fn pages_that_start_after_the_same_tag_again_or_bring_no_tags_end_the_listing() {
    let dir = tempfile::tempdir().unwrap();
    let pages = Arc::new(AtomicUsize::new(0));
    let counted = pages.clone();
    let registry = HostileRegistry::start("127.0.0.1", move |req| {
        if req.path == "/v2/" {
            return Answer::status(200);
        }
        // Each link new by its page size, every one after the same tag.
        let page = counted.fetch_add(1, Ordering::Relaxed);
        Answer::ok(r#"{"tags":["a"]}"#).header(
            "Link",
            &format!(r#"</v2/hostile/app/tags/list?n={page}&last=a>; rel="next""#),
        )
    });
    let remote = client(dir.path(), 2).registry(&registry.addr).unwrap();
    let repo = Repository::parse(&format!("{}/hostile/app", registry.addr)).unwrap();
    let tags = within(
        Duration::from_secs(20),
        berth_remote::ops::tags(&remote, &repo, 1),
    )
    .await
    .unwrap();
    assert_eq!(tags, ["a"]);
    assert_eq!(pages.load(Ordering::Relaxed), 2, "`last=a` is asked once");

    // Empty pages, each pointing at a new one.
    let pages = Arc::new(AtomicUsize::new(0));
    let counted = pages.clone();
    let registry = HostileRegistry::start("127.0.0.1", move |req| {
        if req.path == "/v2/" {
            return Answer::status(200);
        }
        let page = counted.fetch_add(1, Ordering::Relaxed);
        Answer::ok(r#"{"tags":[]}"#).header(
            "Link",
            &format!(r#"</v2/hostile/app/tags/list?last=p{page}>; rel="next""#),
        )
    });
    let remote = client(dir.path(), 2).registry(&registry.addr).unwrap();
    let repo = Repository::parse(&format!("{}/hostile/app", registry.addr)).unwrap();
    let tags = within(
        Duration::from_secs(20),
        berth_remote::ops::tags(&remote, &repo, 1),
    )
    .await
    .unwrap();
    assert!(tags.is_empty());
    assert_eq!(pages.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn endless_error_and_token_answers_are_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let endless = |status: u16| Answer::endless(vec![b'x'; 64 << 10]).with_status(status);
    let registry = HostileRegistry::start("127.0.0.1", move |req| match req.path.as_str() {
        "/v2/" => Answer::status(200),
        _ => endless(404),
    });
    let remote = client(dir.path(), 2).registry(&registry.addr).unwrap();
    let err = within(
        Duration::from_secs(20),
        RemoteSource::open(remote, &reference(&registry, "hostile/app:v1")),
    )
    .await
    .err()
    .expect("a 404 is an error");
    assert_eq!(err.kind, Kind::NotFound, "{err}");

    let token_service = HostileRegistry::start("127.0.0.1", move |_| endless(200));
    let realm = format!("http://{}/token", token_service.addr);
    let registry = HostileRegistry::start("127.0.0.1", move |_| {
        Answer::status(401).header(
            "WWW-Authenticate",
            &format!(r#"Bearer realm="{realm}",service="hostile""#),
        )
    });
    let remote = client(dir.path(), 2).registry(&registry.addr).unwrap();
    let err = within(
        Duration::from_secs(20),
        RemoteSource::open(remote, &reference(&registry, "hostile/app:v1")),
    )
    .await
    .err()
    .expect("an endless token is refused");
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[tokio::test]
async fn a_tag_list_without_end_stops_at_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    const PER_PAGE: usize = 20_000;
    let pages = Arc::new(AtomicUsize::new(0));
    let counted = pages.clone();
    let registry = HostileRegistry::start("127.0.0.1", move |req| {
        if req.path == "/v2/" {
            return Answer::status(200);
        }
        // Every page new, and always another after it.
        let page = counted.fetch_add(1, Ordering::Relaxed);
        let tags: Vec<String> = (0..PER_PAGE).map(|i| format!("p{page}-{i}")).collect();
        Answer::ok(serde_json::to_vec(&serde_json::json!({ "tags": tags })).unwrap()).header(
            "Link",
            &format!(r#"</v2/hostile/app/tags/list?last=p{page}>; rel="next""#),
        )
    });
    let remote = client(dir.path(), 2).registry(&registry.addr).unwrap();
    let repo = Repository::parse(&format!("{}/hostile/app", registry.addr)).unwrap();
    let err = within(
        Duration::from_secs(60),
        berth_remote::ops::tags(&remote, &repo, PER_PAGE),
    )
    .await
    .expect_err("an endless tag list is refused");
    assert!(
        err.to_string()
            .contains(&berth_remote::ops::MAX_TAGS.to_string()),
        "{err}"
    );
    assert_eq!(
        pages.load(Ordering::Relaxed),
        berth_remote::ops::MAX_TAGS / PER_PAGE + 1
    );
}

#[tokio::test]
async fn an_upload_location_on_another_host_gets_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let other = HostileRegistry::start("127.0.0.2", |req| match req.method.as_str() {
        "PUT" => Answer::status(201),
        _ => Answer::status(404),
    });
    let location = format!("http://{}/uploads/1?state=x", other.addr);
    let registry = HostileRegistry::start("127.0.0.1", move |req| {
        if let Some(ping) = basic_ping(req) {
            return ping;
        }
        match req.method.as_str() {
            "POST" => Answer::status(202).header("Location", &location),
            _ => Answer::status(404),
        }
    });
    let remote = signed_in(dir.path(), &registry.addr);
    let destination = RemoteDestination::new(remote, &reference(&registry, "hostile/app:v1"));
    let bytes = b"a small blob".to_vec();
    let desc = Descriptor::new(
        media_type::OCI_LAYER,
        Digest::sha256(&bytes),
        bytes.len() as u64,
    );
    let data: berth_transport::BlobStream = Box::pin(std::io::Cursor::new(bytes));
    within(Duration::from_secs(20), destination.put_blob(&desc, data))
        .await
        .expect("the upload finishes at the location the registry named");
    let put = other.received_at("/uploads/1");
    assert_eq!(
        put.len(),
        1,
        "the location was used: {:?}",
        other.received()
    );
    assert_eq!(put[0].method, "PUT");
    assert!(
        with_credentials(&other.received()).is_empty(),
        "credentials went to {}: {:?}",
        other.addr,
        other.received()
    );
    let post = registry.received_at("/blobs/uploads/");
    assert!(
        post[0].header("authorization").is_some(),
        "the registry itself gets them"
    );
}

#[tokio::test]
async fn a_token_realm_on_another_host_over_plain_http_gets_no_password() {
    let dir = tempfile::tempdir().unwrap();
    let token_service = |_: &Received| Answer::ok(r#"{"token":"t0ken"}"#);
    let elsewhere = HostileRegistry::start("127.0.0.2", token_service);
    // The same host on another port is the registry's own token service: it gets them.
    let beside = HostileRegistry::start("127.0.0.1", token_service);
    for (realm_host, credentials_expected) in [(&elsewhere, false), (&beside, true)] {
        let realm = format!("http://{}/token", realm_host.addr);
        let registry =
            HostileRegistry::start("127.0.0.1", move |req| match req.header("authorization") {
                Some("Bearer t0ken") => Answer::ok(r#"{"tags":["a"]}"#),
                _ => Answer::status(401).header(
                    "WWW-Authenticate",
                    &format!(r#"Bearer realm="{realm}",service="hostile""#),
                ),
            });
        let remote = signed_in(dir.path(), &registry.addr);
        let repo = Repository::parse(&format!("{}/hostile/app", registry.addr)).unwrap();
        let tags = within(
            Duration::from_secs(20),
            berth_remote::ops::tags(&remote, &repo, 10),
        )
        .await
        .unwrap();
        assert_eq!(tags, ["a"]);
        let asked = realm_host.received_at("/token");
        assert!(!asked.is_empty(), "the token service was asked");
        assert_eq!(
            !with_credentials(&asked).is_empty(),
            credentials_expected,
            "realm {}: {asked:?}",
            realm_host.addr
        );
    }
}

#[tokio::test]
async fn a_blob_redirected_to_a_storage_host_is_fetched_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let layer = b"layer bytes from storage".to_vec();
    let image = scripted(&layer);
    let storage = HostileRegistry::start("127.0.0.2", move |_| Answer::ok(layer.clone()));
    let manifest = image.manifest.clone();
    let blob_url = format!("http://{}/storage/blob?sig=1", storage.addr);
    let registry = HostileRegistry::start("127.0.0.1", move |req| {
        if let Some(ping) = basic_ping(req) {
            return ping;
        }
        if req.path.contains("/manifests/") {
            Answer::ok(manifest.clone()).header("Content-Type", media_type::OCI_MANIFEST)
        } else {
            Answer::status(307).header("Location", &blob_url)
        }
    });
    let remote = signed_in(dir.path(), &registry.addr);
    let source = RemoteSource::open(remote, &reference(&registry, "hostile/app:v1"))
        .await
        .unwrap();
    let (bytes, end) = within(Duration::from_secs(20), read_blob(&source, &image.layer)).await;
    end.expect("the redirected blob is read");
    assert_eq!(bytes, b"layer bytes from storage");
    assert_eq!(storage.received().len(), 1);
    assert!(
        with_credentials(&storage.received()).is_empty(),
        "credentials went to the storage host: {:?}",
        storage.received()
    );
}

#[tokio::test]
async fn a_stalled_blob_times_out_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let layer: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    let image = scripted(&layer);
    let manifest = image.manifest.clone();
    let gets = Arc::new(AtomicUsize::new(0));
    let counted = gets.clone();
    let registry = HostileRegistry::start("127.0.0.1", move |req| {
        if req.path == "/v2/" {
            Answer::status(200)
        } else if req.path.contains("/manifests/") {
            Answer::ok(manifest.clone()).header("Content-Type", media_type::OCI_MANIFEST)
        } else if counted.fetch_add(1, Ordering::Relaxed) == 0 {
            // The first answer stops after 1,000 bytes and never says another word.
            Answer::stall(layer[..1000].to_vec(), layer.len() as u64)
        } else {
            // This registry ignores ranges: the client skips what it has.
            Answer::ok(layer.clone())
        }
    });
    let remote = client(dir.path(), 2).registry(&registry.addr).unwrap();
    let source = RemoteSource::open(remote, &reference(&registry, "hostile/app:v1"))
        .await
        .unwrap();
    let started = Instant::now();
    let (bytes, end) = within(Duration::from_secs(20), read_blob(&source, &image.layer)).await;
    end.expect("the blob is read after the stall");
    assert_eq!(Digest::sha256(&bytes), image.layer.digest);
    assert_eq!(gets.load(Ordering::Relaxed), 2, "one stall, one resume");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let resume = &registry.received_at("/blobs/")[1];
    assert_eq!(resume.header("range"), Some("bytes=1000-"));
}

#[tokio::test]
async fn a_manifest_that_always_stalls_fails_after_the_retries_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let registry = HostileRegistry::start("127.0.0.1", |req| match req.path.as_str() {
        "/v2/" => Answer::status(200),
        _ => Answer::stall(&b"{\"schemaVersion\":"[..], 1000)
            .header("Content-Type", media_type::OCI_MANIFEST),
    });
    let remote = client(dir.path(), 2).registry(&registry.addr).unwrap();
    let err: RemoteError = within(
        Duration::from_secs(20),
        RemoteSource::open(remote, &reference(&registry, "hostile/app:v1")),
    )
    .await
    .err()
    .expect("a stalled manifest fails");
    assert_eq!(err.kind, Kind::Unavailable, "{err}");
    let text = err.to_string();
    assert!(text.contains("manifest v1"), "{text}");
    assert!(text.contains("timed out"), "{text}");
    assert_eq!(
        registry.received_at("/manifests/").len(),
        3,
        "the first try and two retries"
    );
}
