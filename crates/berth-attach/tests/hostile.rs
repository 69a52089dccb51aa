//! berth-attach against a registry that lies about referrers: pages that lead back to
//! themselves, a listing without end, a layer bigger than it may be. Each ends, bounded and
//! named, without hanging.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use berth_attach::{AttachError, MAX_ARTIFACT_LAYER, MAX_REFERRERS, Place};
use berth_oci::{Descriptor, Digest, Repository};
use berth_remote::{Client, Options};
use test_support::registry::{Answer, HostileRegistry};

fn place(dir: &std::path::Path, addr: &str) -> Place {
    let client = Client::new(Options {
        docker_config: Some(dir.join("no-credentials.json")),
        retries: Some(1),
        backoff: Some(Duration::from_millis(10)),
        read_timeout: Some(Duration::from_millis(500)),
        ..Options::default()
    })
    .unwrap();
    let registry = client.registry(addr).unwrap();
    Place::new(
        registry,
        Repository::parse(&format!("{addr}/hostile/app")).unwrap(),
    )
}

fn descriptor(n: usize) -> serde_json::Value {
    serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": Digest::sha256(n.to_string().as_bytes()).to_string(),
        "size": 10,
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
    })
}

fn subject() -> Digest {
    Digest::sha256(b"the image")
}

#[tokio::test]
async fn referrer_pages_that_lead_back_end_the_listing() {
    let dir = tempfile::tempdir().unwrap();
    let registry = HostileRegistry::start("127.0.0.1", |req| {
        if req.path == "/v2/" {
            return Answer::status(200);
        }
        // Every page says the next is the one after the first referrer, over and over.
        let page =
            serde_json::json!({"schemaVersion": 2, "manifests": [descriptor(1), descriptor(2)]});
        Answer::ok(page.to_string()).header(
            "Link",
            &format!(
                r#"</v2/hostile/app/referrers/{}?last=x>; rel="next""#,
                subject()
            ),
        )
    });
    let place = place(dir.path(), &registry.addr);
    let (listed, _) = tokio::time::timeout(Duration::from_secs(20), place.referrers(&subject()))
        .await
        .expect("the listing ends")
        .unwrap();
    assert_eq!(listed.len(), 2, "repeats are listed once");
    assert_eq!(registry.received_at("/referrers/").len(), 2);
}

#[tokio::test]
async fn a_referrer_listing_without_end_stops_at_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let registry = HostileRegistry::start("127.0.0.1", move |req| {
        if req.path == "/v2/" {
            return Answer::status(200);
        }
        let page = counter.fetch_add(1, Ordering::SeqCst);
        let manifests: Vec<_> = (0..1000).map(|i| descriptor(page * 1000 + i)).collect();
        let body = serde_json::json!({"schemaVersion": 2, "manifests": manifests});
        Answer::ok(body.to_string()).header(
            "Link",
            &format!(
                r#"</v2/hostile/app/referrers/{}?last={page}>; rel="next""#,
                subject()
            ),
        )
    });
    let place = place(dir.path(), &registry.addr);
    let err = tokio::time::timeout(Duration::from_secs(30), place.referrers(&subject()))
        .await
        .expect("the listing ends")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("more than {MAX_REFERRERS} referrers")),
        "{err}"
    );
    assert!(served.load(Ordering::SeqCst) <= MAX_REFERRERS / 1000 + 1);
}

#[tokio::test]
async fn a_layer_past_the_limit_is_refused_by_name_before_it_is_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let registry = HostileRegistry::start("127.0.0.1", |req| {
        if req.path == "/v2/" {
            return Answer::status(200);
        }
        // Announces a small blob and never stops sending.
        Answer::endless(vec![b' '; 64 << 10])
    });
    let place = place(dir.path(), &registry.addr);
    let digest = Digest::sha256(b"signature");
    let big = Descriptor::new(
        "application/vnd.dev.cosign.simplesigning.v1+json",
        digest.clone(),
        MAX_ARTIFACT_LAYER + 1,
    );
    let err = place
        .small_blob(&big, MAX_ARTIFACT_LAYER)
        .await
        .unwrap_err();
    assert!(matches!(err, AttachError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains(&digest.to_string()), "{err}");
    assert!(registry.received_at("/blobs/").is_empty(), "not fetched");

    // One that says it is small but sends more is cut off at its size.
    let small = Descriptor::new(
        "application/vnd.dev.cosign.simplesigning.v1+json",
        digest,
        100,
    );
    let err = tokio::time::timeout(
        Duration::from_secs(20),
        place.small_blob(&small, MAX_ARTIFACT_LAYER),
    )
    .await
    .expect("the read ends")
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("is larger than the 100 bytes its descriptor gives"),
        "{err}"
    );
}
