//! Push: monolithic, single-POST and chunked blob uploads, upload status and cancelling,
//! mounts, sha512, and manifests by tag, by digest, with `?tag=` and with a subject.

use berth_oci::{Algorithm, Digest};
use test_support::registry::*;

/// Checks a blob pulls back from `repo` byte for byte.
async fn assert_pulls(reg: &InProcessRegistry, repo: &str, digest: &Digest, bytes: &[u8]) {
    let r = send(reg.get(&format!("/v2/{repo}/blobs/{digest}"))).await;
    let r = expect_status(r, 200).await;
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(digest.to_string())
    );
    let body = r.bytes().await.unwrap();
    assert!(body[..] == bytes[..], "blob {digest} pulls back as pushed");
}

/// The upload's current `Range` by a status GET.
async fn upload_range(reg: &InProcessRegistry, location: &str) -> String {
    let r = expect_status(send(reg.http.get(location)).await, 204).await;
    assert!(header(&r, "location").is_some(), "status has a Location");
    header(&r, "range").expect("status has a Range")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_then_put_uploads_a_blob() {
    let reg = start().await;
    let bytes = random_bytes(5000);
    let digest = Digest::sha256(&bytes);
    let r = send(reg.post("/v2/mono/blobs/uploads/")).await;
    let r = expect_status(r, 202).await;
    let location = reg.url(&header(&r, "location").expect("Location"));
    let r = send(
        reg.http
            .put(with_digest(&location, &digest))
            .header("content-type", "application/octet-stream")
            .body(bytes.clone()),
    )
    .await;
    let r = expect_status(r, 201).await;
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(digest.to_string())
    );
    let blob_location = header(&r, "location").expect("Location of the blob");
    // The Location is a pullable blob URL.
    let r = expect_status(send(reg.get(&blob_location)).await, 200).await;
    assert!(r.bytes().await.unwrap()[..] == bytes[..]);
    assert_pulls(&reg, "mono", &digest, &bytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_post_with_digest_uploads_a_blob() {
    let reg = start().await;
    let bytes = random_bytes(4096);
    let digest = Digest::sha256(&bytes);
    let r = send(
        reg.post(&format!("/v2/single/blobs/uploads/?digest={digest}"))
            .header("content-type", "application/octet-stream")
            .body(bytes.clone()),
    )
    .await;
    let r = expect_status(r, 201).await;
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(digest.to_string())
    );
    let location = header(&r, "location").expect("Location");
    let r = expect_status(send(reg.get(&location)).await, 200).await;
    assert!(r.bytes().await.unwrap()[..] == bytes[..]);
}

/// Starts a chunked upload and checks the POST's answer; returns the location.
async fn start_chunked(reg: &InProcessRegistry, repo: &str) -> String {
    let r = send(
        reg.post(&format!("/v2/{repo}/blobs/uploads/"))
            .header("content-length", "0"),
    )
    .await;
    let r = expect_status(r, 202).await;
    assert_eq!(header(&r, "range").as_deref(), Some("0-0"));
    let min: u64 = header(&r, "oci-chunk-min-length")
        .expect("OCI-Chunk-Min-Length")
        .parse()
        .expect("a number");
    assert!(min > 0);
    reg.url(&header(&r, "location").expect("Location"))
}

/// PATCHes one chunk at `start` and checks the 202; returns the next location.
async fn patch_chunk(
    reg: &InProcessRegistry,
    location: &str,
    chunk: &[u8],
    start: usize,
) -> String {
    let end = start + chunk.len() - 1;
    let r = send(
        reg.http
            .patch(location)
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{start}-{end}"))
            .body(chunk.to_vec()),
    )
    .await;
    let r = expect_status(r, 202).await;
    assert_eq!(header(&r, "range"), Some(format!("0-{end}")));
    reg.url(&header(&r, "location").expect("Location"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_upload_closed_by_an_empty_put() {
    let reg = start().await;
    let bytes = random_bytes(10_000);
    let digest = Digest::sha256(&bytes);
    let mut location = start_chunked(&reg, "chunked").await;
    for (i, chunk) in bytes.chunks(3000).enumerate() {
        location = patch_chunk(&reg, &location, chunk, i * 3000).await;
    }
    assert_eq!(upload_range(&reg, &location).await, "0-9999");
    let r = send(
        reg.http
            .put(with_digest(&location, &digest))
            .header("content-length", "0"),
    )
    .await;
    let r = expect_status(r, 201).await;
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(digest.to_string())
    );
    assert!(header(&r, "location").is_some());
    assert_pulls(&reg, "chunked", &digest, &bytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_upload_closed_by_a_put_with_the_last_chunk() {
    let reg = start().await;
    let bytes = random_bytes(7000);
    let digest = Digest::sha256(&bytes);
    let mut location = start_chunked(&reg, "chunked").await;
    location = patch_chunk(&reg, &location, &bytes[..2500], 0).await;
    location = patch_chunk(&reg, &location, &bytes[2500..5000], 2500).await;
    let r = send(
        reg.http
            .put(with_digest(&location, &digest))
            .header("content-type", "application/octet-stream")
            .header("content-range", "5000-6999")
            .body(bytes[5000..].to_vec()),
    )
    .await;
    let r = expect_status(r, 201).await;
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(digest.to_string())
    );
    assert_pulls(&reg, "chunked", &digest, &bytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_chunks_are_416_and_the_upload_resumes() {
    let reg = start().await;
    let bytes = random_bytes(3000);
    let digest = Digest::sha256(&bytes);
    let mut location = start_chunked(&reg, "resume").await;
    location = patch_chunk(&reg, &location, &bytes[..1000], 0).await;

    // A chunk that skips ahead, and one that goes back.
    for (start, end) in [(2000, 2999), (500, 1499)] {
        let r = send(
            reg.http
                .patch(&location)
                .header("content-range", format!("{start}-{end}"))
                .body(bytes[start..=end].to_vec()),
        )
        .await;
        assert_eq!(r.status(), 416, "chunk {start}-{end}");
        assert_eq!(header(&r, "range").as_deref(), Some("0-999"));
        assert!(header(&r, "location").is_some());
    }
    // A closing PUT with a misplaced last chunk is refused the same way.
    let r = send(
        reg.http
            .put(with_digest(&location, &digest))
            .header("content-range", "2000-2999")
            .body(bytes[2000..].to_vec()),
    )
    .await;
    assert_eq!(r.status(), 416);
    assert_eq!(header(&r, "range").as_deref(), Some("0-999"));

    // The status says where to go on, and the upload completes from there.
    assert_eq!(upload_range(&reg, &location).await, "0-999");
    location = patch_chunk(&reg, &location, &bytes[1000..2000], 1000).await;
    let r = send(
        reg.http
            .put(with_digest(&location, &digest))
            .header("content-range", "2000-2999")
            .body(bytes[2000..].to_vec()),
    )
    .await;
    expect_status(r, 201).await;
    assert_pulls(&reg, "resume", &digest, &bytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_patch_without_content_range() {
    let reg = start().await;
    let bytes = random_bytes(2_500_000);
    let digest = Digest::sha256(&bytes);
    let location = start_upload(&reg, "stream").await;
    // A body of unknown length, streamed in pieces.
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(100_000).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(pieces));
    let r = send(
        reg.http
            .patch(&location)
            .header("content-type", "application/octet-stream")
            .body(body),
    )
    .await;
    let r = expect_status(r, 202).await;
    assert_eq!(header(&r, "range"), Some(format!("0-{}", bytes.len() - 1)));
    let location = reg.url(&header(&r, "location").unwrap());
    let r = send(reg.http.put(with_digest(&location, &digest))).await;
    expect_status(r, 201).await;
    assert_pulls(&reg, "stream", &digest, &bytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_status_reports_range_and_location() {
    let reg = start().await;
    let location = start_upload(&reg, "status").await;
    let r = expect_status(send(reg.http.get(&location)).await, 204).await;
    assert_eq!(header(&r, "range").as_deref(), Some("0-0"));
    assert!(header(&r, "location").is_some());
    assert!(r.bytes().await.unwrap().is_empty());
    let location = patch_chunk(&reg, &location, &random_bytes(123), 0).await;
    let r = expect_status(send(reg.http.get(&location)).await, 204).await;
    assert_eq!(header(&r, "range").as_deref(), Some("0-122"));
    let next = reg.url(&header(&r, "location").unwrap());
    // The location it gives leads on.
    patch_chunk(&reg, &next, &random_bytes(7), 123).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_uploads_are_gone() {
    let reg = start().await;
    let bytes = random_bytes(1000);
    let digest = Digest::sha256(&bytes);
    let location = start_upload(&reg, "cancel").await;
    let location = patch_chunk(&reg, &location, &bytes, 0).await;
    let r = send(reg.http.delete(&location).header("content-length", "0")).await;
    expect_status(r, 204).await;
    expect_error(
        send(reg.http.get(&location)).await,
        404,
        "BLOB_UPLOAD_UNKNOWN",
    )
    .await;
    let r = send(reg.http.patch(&location).body(bytes.clone())).await;
    expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
    let r = send(reg.http.put(with_digest(&location, &digest))).await;
    expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
    let r = send(reg.http.delete(&location)).await;
    expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
    assert!(!blob_exists(&reg, "cancel", &digest).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_mount_from_another_repository() {
    let reg = start().await;
    let bytes = random_bytes(2000);
    let digest = push_blob(&reg, "source/repo", &bytes).await;
    assert!(!blob_exists(&reg, "target/repo", &digest).await);
    let r = send(reg.post(&format!(
        "/v2/target/repo/blobs/uploads/?mount={digest}&from=source/repo"
    )))
    .await;
    let r = expect_status(r, 201).await;
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(digest.to_string())
    );
    let location = header(&r, "location").expect("Location");
    let r = expect_status(send(reg.get(&location)).await, 200).await;
    assert!(r.bytes().await.unwrap()[..] == bytes[..]);
    assert_pulls(&reg, "target/repo", &digest, &bytes).await;
    // A manifest in the target can now use it.
    let config = Blob::new(OCI_CONFIG, bytes.clone());
    let doc = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": config.descriptor(), "layers": [],
    });
    let manifest = serde_json::to_vec(&doc).unwrap();
    push_manifest(&reg, "target/repo", "mounted", OCI_MANIFEST, &manifest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mounting_a_blob_the_source_lacks_starts_an_upload() {
    let reg = start().await;
    push_blob(&reg, "source", b"something else").await;
    let bytes = random_bytes(500);
    let digest = Digest::sha256(&bytes);
    for from in ["source", "nowhere"] {
        let r = send(reg.post(&format!(
            "/v2/target/blobs/uploads/?mount={digest}&from={from}"
        )))
        .await;
        let r = expect_status(r, 202).await;
        let location = reg.url(&header(&r, "location").expect("an upload Location"));
        assert!(!blob_exists(&reg, "target", &digest).await);
        if from == "nowhere" {
            // The session is a real one: the blob can be uploaded to it.
            let r = send(
                reg.http
                    .put(with_digest(&location, &digest))
                    .body(bytes.clone()),
            )
            .await;
            expect_status(r, 201).await;
        }
    }
    assert_pulls(&reg, "target", &digest, &bytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sha512_uploads() {
    let reg = start().await;
    let bytes = random_bytes(3000);
    let digest = Digest::of(Algorithm::Sha512, &bytes);
    let r = send(reg.post("/v2/sha512/blobs/uploads/?digest-algorithm=sha512")).await;
    let r = expect_status(r, 202).await;
    let location = reg.url(&header(&r, "location").unwrap());
    let location = patch_chunk(&reg, &location, &bytes[..1000], 0).await;
    let r = send(
        reg.http
            .put(with_digest(&location, &digest))
            .header("content-range", "1000-2999")
            .body(bytes[1000..].to_vec()),
    )
    .await;
    let r = expect_status(r, 201).await;
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(digest.to_string())
    );
    assert!(digest.to_string().starts_with("sha512:"));
    assert_pulls(&reg, "sha512", &digest, &bytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sha512_uploads_without_saying_so_first() {
    let reg = start().await;
    // POST then PUT, as clients that never heard of ?digest-algorithm= do.
    let bytes = random_bytes(2000);
    let digest = Digest::of(Algorithm::Sha512, &bytes);
    let location = start_upload(&reg, "sha512").await;
    let r = send(
        reg.http
            .put(with_digest(&location, &digest))
            .body(bytes.clone()),
    )
    .await;
    let r = expect_status(r, 201).await;
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(digest.to_string())
    );
    assert_pulls(&reg, "sha512", &digest, &bytes).await;
    // A single POST.
    let bytes = random_bytes(1500);
    let digest = Digest::of(Algorithm::Sha512, &bytes);
    let r = send(
        reg.post(&format!("/v2/sha512/blobs/uploads/?digest={digest}"))
            .body(bytes.clone()),
    )
    .await;
    expect_status(r, 201).await;
    assert_pulls(&reg, "sha512", &digest, &bytes).await;
    // Chunks.
    let bytes = random_bytes(3000);
    let digest = Digest::of(Algorithm::Sha512, &bytes);
    let location = start_upload(&reg, "sha512").await;
    let location = patch_chunk(&reg, &location, &bytes[..1000], 0).await;
    let r = send(
        reg.http
            .put(with_digest(&location, &digest))
            .header("content-range", "1000-2999")
            .body(bytes[1000..].to_vec()),
    )
    .await;
    expect_status(r, 201).await;
    assert_pulls(&reg, "sha512", &digest, &bytes).await;
    // The wrong sha512 is still refused.
    let location = start_upload(&reg, "sha512").await;
    let wrong = Digest::of(Algorithm::Sha512, b"other bytes");
    let r = send(
        reg.http
            .put(with_digest(&location, &wrong))
            .body(bytes.clone()),
    )
    .await;
    expect_error(r, 400, "DIGEST_INVALID").await;
    assert!(!blob_exists(&reg, "sha512", &wrong).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_push_by_sha512_digest() {
    let reg = start().await;
    let image = oci_image(1);
    for blob in &image.blobs {
        push_blob(&reg, "sha512m", &blob.bytes).await;
    }
    let digest = Digest::of(Algorithm::Sha512, &image.bytes);
    let r = put_manifest(
        &reg,
        "sha512m",
        &digest.to_string(),
        OCI_MANIFEST,
        &image.bytes,
    )
    .await;
    let r = expect_status(r, 201).await;
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(digest.to_string())
    );
    let r = send(reg.get(&format!("/v2/sha512m/manifests/{digest}"))).await;
    let r = expect_status(r, 200).await;
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(digest.to_string())
    );
    assert!(r.bytes().await.unwrap()[..] == image.bytes[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_type_parameters_are_ignored() {
    let reg = start().await;
    let image = oci_image(1);
    for blob in &image.blobs {
        push_blob(&reg, "params", &blob.bytes).await;
    }
    let ct = format!("{OCI_MANIFEST}; charset=utf-8");
    push_manifest(&reg, "params", "v1", &ct, &image.bytes).await;
    let r = expect_status(send(reg.get("/v2/params/manifests/v1")).await, 200).await;
    assert_eq!(header(&r, "content-type").as_deref(), Some(OCI_MANIFEST));
    // A manifest without a mediaType field is served as the type it was pushed as.
    let config = &image.blobs[0];
    let doc =
        serde_json::json!({ "schemaVersion": 2, "config": config.descriptor(), "layers": [] });
    let bytes = serde_json::to_vec(&doc).unwrap();
    push_manifest(&reg, "params", "bare", OCI_MANIFEST, &bytes).await;
    let r = expect_status(send(reg.get("/v2/params/manifests/bare")).await, 200).await;
    assert_eq!(header(&r, "content-type").as_deref(), Some(OCI_MANIFEST));
    assert!(r.bytes().await.unwrap()[..] == bytes[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_push_by_tag_and_by_digest() {
    let reg = start().await;
    let tagged = oci_image(1);
    for blob in &tagged.blobs {
        push_blob(&reg, "manifests", &blob.bytes).await;
    }
    let r = put_manifest(&reg, "manifests", "v1", OCI_MANIFEST, &tagged.bytes).await;
    let r = expect_status(r, 201).await;
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(tagged.digest.to_string())
    );
    let location = header(&r, "location").expect("Location");
    let r = expect_status(send(reg.get(&location)).await, 200).await;
    assert!(r.bytes().await.unwrap()[..] == tagged.bytes[..]);
    assert_eq!(tags(&reg, "manifests").await, ["v1"]);

    let by_digest = oci_image(1);
    for blob in &by_digest.blobs {
        push_blob(&reg, "manifests", &blob.bytes).await;
    }
    let d = by_digest.digest.to_string();
    let r = put_manifest(&reg, "manifests", &d, OCI_MANIFEST, &by_digest.bytes).await;
    let r = expect_status(r, 201).await;
    assert_eq!(header(&r, "docker-content-digest"), Some(d.clone()));
    assert!(manifest_exists(&reg, "manifests", &d).await);
    // Pushing by digest tags nothing.
    assert_eq!(tags(&reg, "manifests").await, ["v1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_push_by_digest_with_tag_parameters() {
    let reg = start().await;
    let image = oci_image(1);
    for blob in &image.blobs {
        push_blob(&reg, "tagparams", &blob.bytes).await;
    }
    let r = send(
        reg.put(&format!(
            "/v2/tagparams/manifests/{}?tag=a&tag=b",
            image.digest
        ))
        .header("content-type", OCI_MANIFEST)
        .body(image.bytes.clone()),
    )
    .await;
    let r = expect_status(r, 201).await;
    let mut listed: Vec<String> = headers(&r, "oci-tag")
        .iter()
        .flat_map(|v| {
            v.split(',')
                .map(|t| t.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    listed.sort();
    assert_eq!(listed, ["a", "b"], "OCI-Tag lists the tags");
    for tag in ["a", "b"] {
        let r = send(reg.get(&format!("/v2/tagparams/manifests/{tag}"))).await;
        let r = expect_status(r, 200).await;
        assert_eq!(
            header(&r, "docker-content-digest"),
            Some(image.digest.to_string())
        );
    }
    assert_eq!(tags(&reg, "tagparams").await, ["a", "b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_referencing_missing_blobs_are_refused() {
    let reg = start().await;
    let image = oci_image(2);
    // The config and the first layer, not the second.
    push_blob(&reg, "incomplete", &image.blobs[0].bytes).await;
    push_blob(&reg, "incomplete", &image.blobs[1].bytes).await;
    let r = put_manifest(&reg, "incomplete", "v1", OCI_MANIFEST, &image.bytes).await;
    let body = expect_error(r, 400, "MANIFEST_BLOB_UNKNOWN").await;
    assert!(
        body.to_string()
            .contains(&image.blobs[2].digest.to_string())
    );
    assert!(!manifest_exists(&reg, "incomplete", "v1").await);
    assert!(!manifest_exists(&reg, "incomplete", &image.digest.to_string()).await);

    // A blob pushed to another repository doesn't count.
    push_blob(&reg, "elsewhere", &image.blobs[2].bytes).await;
    let r = put_manifest(&reg, "incomplete", "v1", OCI_MANIFEST, &image.bytes).await;
    expect_error(r, 400, "MANIFEST_BLOB_UNKNOWN").await;
    assert!(tags(&reg, "incomplete").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_referencing_missing_manifests_are_refused() {
    let reg = start().await;
    let present = oci_image(1);
    let absent = oci_image(1);
    push_image(&reg, "index", &present, None).await;
    // The absent child's blobs are there; the child manifest itself is not.
    for blob in &absent.blobs {
        push_blob(&reg, "index", &blob.bytes).await;
    }
    let index = index_of(OCI_INDEX, vec![present, absent.clone()]);
    let r = put_manifest(&reg, "index", "multi", OCI_INDEX, &index.bytes).await;
    let body = expect_error(r, 400, "MANIFEST_BLOB_UNKNOWN").await;
    assert!(body.to_string().contains(&absent.digest.to_string()));
    assert!(!manifest_exists(&reg, "index", "multi").await);
    assert!(!manifest_exists(&reg, "index", &index.digest.to_string()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_with_a_missing_subject_are_accepted() {
    let reg = start().await;
    let subject = Subject::missing();
    let sig = artifact(
        Some("application/vnd.example.sig"),
        OCI_EMPTY,
        Some(&subject),
        &[],
    );
    for blob in &sig.blobs {
        push_blob(&reg, "subject", &blob.bytes).await;
    }
    let r = put_manifest(
        &reg,
        "subject",
        &sig.digest.to_string(),
        OCI_MANIFEST,
        &sig.bytes,
    )
    .await;
    let r = expect_status(r, 201).await;
    assert_eq!(header(&r, "oci-subject"), Some(subject.digest.to_string()));
    assert!(manifest_exists(&reg, "subject", &sig.digest.to_string()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_manifests_are_413() {
    let reg = start().await;
    let image = oci_image(0);
    push_image(&reg, "big", &image, None).await;
    let config = &image.blobs[0];
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [],
        "annotations": { "padding": "x".repeat(4 * 1024 * 1024 + 1) },
    });
    let bytes = serde_json::to_vec(&doc).unwrap();
    let r = put_manifest(&reg, "big", "huge", OCI_MANIFEST, &bytes).await;
    assert_eq!(r.status(), 413);
    assert!(!manifest_exists(&reg, "big", "huge").await);
    // Streamed, without a Content-Length to refuse it by.
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(256 * 1024).map(|c| Ok(c.to_vec())).collect();
    let r = send(
        reg.put("/v2/big/manifests/huge")
            .header("content-type", OCI_MANIFEST)
            .body(reqwest::Body::wrap_stream(futures::stream::iter(pieces))),
    )
    .await;
    assert_eq!(r.status(), 413);
    assert!(!manifest_exists(&reg, "big", "huge").await);
    assert!(!manifest_exists(&reg, "big", &Digest::sha256(&bytes).to_string()).await);
    // 4 MiB itself is fine.
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [],
        "annotations": { "padding": "" },
    });
    let overhead = serde_json::to_vec(&doc).unwrap().len();
    let mut doc = doc;
    doc["annotations"]["padding"] = serde_json::json!("x".repeat(4 * 1024 * 1024 - overhead));
    let bytes = serde_json::to_vec(&doc).unwrap();
    assert_eq!(bytes.len(), 4 * 1024 * 1024);
    push_manifest(&reg, "big", "four-mib", OCI_MANIFEST, &bytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_stay_in_their_repository_until_mounted() {
    let reg = start().await;
    let bytes = random_bytes(777);
    let digest = push_blob(&reg, "repo-a", &bytes).await;
    push_blob(&reg, "repo-b", b"repo-b exists").await;
    assert!(blob_exists(&reg, "repo-a", &digest).await);
    expect_error(
        send(reg.get(&format!("/v2/repo-b/blobs/{digest}"))).await,
        404,
        "BLOB_UNKNOWN",
    )
    .await;
    let r = send(reg.post(&format!(
        "/v2/repo-b/blobs/uploads/?mount={digest}&from=repo-a"
    )))
    .await;
    expect_status(r, 201).await;
    assert_pulls(&reg, "repo-b", &digest, &bytes).await;
}

/// A PATCH whose body trickles in holds its session, not the session's status: a client
/// asking where its upload stands (to resume) gets the acknowledged offset at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_answers_while_a_slow_patch_holds_the_session() {
    use futures::SinkExt;
    let reg = start().await;
    let location = start_upload(&reg, "slow").await;
    let first = random_bytes(1000);
    let r = send(reg.http.patch(&location).body(first.clone())).await;
    let location = reg.url(&header(&expect_status(r, 202).await, "location").unwrap());

    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    let slow = tokio::spawn(
        reg.http
            .patch(&location)
            .body(reqwest::Body::wrap_stream(rx))
            .send(),
    );
    tx.send(Ok(bytes::Bytes::from(random_bytes(500))))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let status = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        upload_range(&reg, &location),
    )
    .await
    .expect("the status answers while the PATCH is still arriving");
    assert_eq!(status, "0-999", "only acknowledged bytes count");

    tx.send(Ok(bytes::Bytes::from(random_bytes(500))))
        .await
        .unwrap();
    drop(tx);
    let r = slow.await.unwrap().unwrap();
    expect_status(r, 202).await;
    assert_eq!(upload_range(&reg, &location).await, "0-1999");
}

/// A PATCH body that stops arriving fails after the idle timeout, acknowledging nothing of
/// it, and the session stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_patch_body_times_out() {
    use futures::SinkExt;
    let reg = start_with(|config, _| {
        config.limits.idle_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let location = start_upload(&reg, "stalled").await;
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    let stalled = tokio::spawn(
        reg.http
            .patch(&location)
            .body(reqwest::Body::wrap_stream(rx))
            .send(),
    );
    tx.send(Ok(bytes::Bytes::from(random_bytes(100))))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let r = tokio::time::timeout(std::time::Duration::from_secs(10), stalled)
        .await
        .expect("the registry stops waiting for the body")
        .unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    if let Ok(r) = r {
        expect_error(r, 400, "BLOB_UPLOAD_INVALID").await;
    }
    drop(tx);
    assert_eq!(upload_range(&reg, &location).await, "0-0");
    let bytes = random_bytes(300);
    let digest = Digest::sha256(&bytes);
    let r = send(
        reg.http
            .put(with_digest(&location, &digest))
            .body(bytes.clone()),
    )
    .await;
    expect_status(r, 201).await;
    assert_pulls(&reg, "stalled", &digest, &bytes).await;
}
