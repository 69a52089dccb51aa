//! Blob uploads to berth's registry in process: small blobs in one request, large ones in
//! chunks that follow each other, and a chunk whose acknowledgement was lost.

mod common;

use berth_oci::{Descriptor, Digest, Reference};
use berth_registry::config::AuthMode;
use berth_remote::RemoteDestination;
use berth_transport::ImageDestination;
use common::*;
use test_support::Fault;
use test_support::registry::{InProcessRegistry, random_bytes, send};

const MIB: usize = 1 << 20;

/// Uploads `bytes` to `repo` through the client at `host`; returns the descriptor.
async fn upload(dir: &std::path::Path, host: &str, repo: &str, bytes: &[u8]) -> Descriptor {
    let registry = anonymous(dir, host);
    let reference = Reference::parse(&format!("{host}/{repo}:1")).unwrap();
    let destination = RemoteDestination::new(registry, &reference);
    let desc = Descriptor::new(
        "application/octet-stream",
        Digest::sha256(bytes),
        bytes.len() as u64,
    );
    destination
        .put_blob(&desc, Box::pin(std::io::Cursor::new(bytes.to_vec())))
        .await
        .expect("the blob goes up");
    desc
}

/// The blob's bytes as the registry serves them.
async fn pulled(reg: &InProcessRegistry, repo: &str, digest: &Digest) -> Vec<u8> {
    let r = send(reg.get(&format!("/v2/{repo}/blobs/{digest}"))).await;
    assert_eq!(r.status(), 200, "the registry has the blob");
    r.bytes().await.unwrap().to_vec()
}

/// Method and `Content-Range` of each request for an upload.
fn upload_requests(proxy: &test_support::FaultProxy) -> Vec<(String, Option<String>)> {
    proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.path.contains("/blobs/uploads/"))
        .map(|e| {
            (
                e.method.clone(),
                e.header("content-range").map(str::to_string),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_blob_goes_up_in_one_request() {
    let reg = registry(AuthMode::None, false).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = proxy(&reg, vec![]);
    let bytes = random_bytes(MIB);
    let desc = upload(dir.path(), &proxy.addr, "small", &bytes).await;
    assert_eq!(
        upload_requests(&proxy),
        [("POST".to_string(), None)],
        "one POST with ?digest="
    );
    assert_eq!(pulled(&reg, "small", &desc.digest).await, bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_blob_goes_up_in_chunks_that_follow_each_other() {
    let reg = registry(AuthMode::None, false).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = proxy(&reg, vec![]);
    let bytes = random_bytes(10 * MIB);
    let desc = upload(dir.path(), &proxy.addr, "large", &bytes).await;
    let first_end = 8 * MIB - 1;
    let last_end = 10 * MIB - 1;
    assert_eq!(
        upload_requests(&proxy),
        [
            ("POST".to_string(), None),
            ("PATCH".to_string(), Some(format!("0-{first_end}"))),
            (
                "PATCH".to_string(),
                Some(format!("{}-{last_end}", first_end + 1))
            ),
            ("PUT".to_string(), None),
        ],
        "a session, two chunks in order, and the close"
    );
    assert_eq!(pulled(&reg, "large", &desc.digest).await, bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_whose_acknowledgement_was_lost_is_not_sent_twice() {
    let reg = registry(AuthMode::None, false).await;
    let dir = tempfile::tempdir().unwrap();
    // The registry takes the first chunk, but its answer never comes back.
    let proxy = proxy(
        &reg,
        vec![Fault::DropResponse {
            path_contains: "/blobs/uploads/",
            methods: &["PATCH"],
            times: 1,
        }],
    );
    let bytes = random_bytes(10 * MIB);
    let desc = upload(dir.path(), &proxy.addr, "lost", &bytes).await;
    assert_eq!(proxy.fired(0), 1);
    // How the chunk sent again is refused depends on timing (416 read off the answer, or a
    // connection the registry closed while the chunk was still on its way); what it comes to
    // does not: the registry took each chunk once, the client asked where the upload was and
    // went on from there.
    let exchanges: Vec<_> = proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.path.contains("/blobs/uploads/"))
        .collect();
    let first = format!("0-{}", 8 * MIB - 1);
    let rest = format!("{}-{}", 8 * MIB, 10 * MIB - 1);
    let taken: Vec<(&str, Option<&str>)> = exchanges
        .iter()
        .filter(|e| e.status == Some(202) || e.fault.is_some())
        .map(|e| (e.method.as_str(), e.header("content-range")))
        .collect();
    assert_eq!(
        taken,
        [
            ("POST", None),
            ("PATCH", Some(first.as_str())),
            ("PATCH", Some(rest.as_str()))
        ],
        "each chunk taken once: {exchanges:#?}"
    );
    let asked = exchanges.iter().position(|e| e.method == "GET");
    let rest_sent = exchanges
        .iter()
        .position(|e| e.header("content-range") == Some(rest.as_str()));
    assert!(
        asked.is_some() && asked < rest_sent,
        "where the upload is, asked before going on: {exchanges:#?}"
    );
    assert_eq!(pulled(&reg, "lost", &desc.digest).await, bytes);
}
