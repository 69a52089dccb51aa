//! Bad input: each refused with the spec's status and code, and leaving nothing behind.

use berth_oci::Digest;
use test_support::registry::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_digest_stores_nothing() {
    let reg = start().await;
    let bytes = random_bytes(1000);
    let actual = Digest::sha256(&bytes);
    let claimed = Digest::sha256(b"something else");

    // POST then PUT.
    let location = start_upload(&reg, "wrong").await;
    let r = send(
        reg.http
            .put(with_digest(&location, &claimed))
            .body(bytes.clone()),
    )
    .await;
    expect_error(r, 400, "DIGEST_INVALID").await;
    // Single POST.
    let r = send(
        reg.post(&format!("/v2/wrong/blobs/uploads/?digest={claimed}"))
            .body(bytes.clone()),
    )
    .await;
    expect_error(r, 400, "DIGEST_INVALID").await;
    // Chunks, then a closing PUT with the wrong digest.
    let location = start_upload(&reg, "wrong").await;
    let r = send(
        reg.http
            .patch(&location)
            .header("content-range", "0-999")
            .body(bytes.clone()),
    )
    .await;
    let location = reg.url(&header(&expect_status(r, 202).await, "location").unwrap());
    let r = send(reg.http.put(with_digest(&location, &claimed))).await;
    expect_error(r, 400, "DIGEST_INVALID").await;
    // A malformed digest.
    let location = start_upload(&reg, "wrong").await;
    let r = send(
        reg.http
            .put(format!("{location}?digest=sha256:1234"))
            .body(bytes.clone()),
    )
    .await;
    expect_error(r, 400, "DIGEST_INVALID").await;
    // No digest at all.
    let location = start_upload(&reg, "wrong").await;
    let r = send(reg.http.put(&location).body(bytes.clone())).await;
    expect_error(r, 400, "DIGEST_INVALID").await;

    for d in [&actual, &claimed] {
        assert!(!blob_exists(&reg, "wrong", d).await, "{d}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_that_disagree_with_their_content_range_change_nothing() {
    let reg = start().await;
    let bytes = random_bytes(300);
    let digest = Digest::sha256(&bytes);
    let location = start_upload(&reg, "sizes").await;
    let r = send(
        reg.http
            .patch(&location)
            .header("content-range", "0-99")
            .body(bytes[..100].to_vec()),
    )
    .await;
    expect_status(r, 202).await;

    // Shorter and longer than the range says.
    for (range, body) in [("100-199", &bytes[100..150]), ("100-199", &bytes[100..250])] {
        let r = send(
            reg.http
                .patch(&location)
                .header("content-range", range)
                .body(body.to_vec()),
        )
        .await;
        expect_error(r, 400, "SIZE_INVALID").await;
        let status = expect_status(send(reg.http.get(&location)).await, 204).await;
        assert_eq!(
            header(&status, "range").as_deref(),
            Some("0-99"),
            "nothing was added"
        );
    }
    // The upload goes on from where it was.
    let r = send(
        reg.http
            .patch(&location)
            .header("content-range", "100-199")
            .body(bytes[100..200].to_vec()),
    )
    .await;
    expect_status(r, 202).await;
    // A closing PUT whose last chunk is short of its range fails and stores nothing.
    let r = send(
        reg.http
            .put(with_digest(&location, &digest))
            .header("content-range", "200-299")
            .body(bytes[200..250].to_vec()),
    )
    .await;
    expect_error(r, 400, "SIZE_INVALID").await;
    assert!(!blob_exists(&reg, "sizes", &digest).await);
    assert!(!blob_exists(&reg, "sizes", &Digest::sha256(&bytes[..250])).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_repository_names_are_name_invalid() {
    let reg = start().await;
    let long = "a".repeat(256);
    let names = [
        "Upper",
        "a/Upper/b",
        "..",
        "a/../b",
        "%2e%2e",
        "a/%2e%2e/b",
        "a//b",
        "-a",
        "a-",
        "a_-b",
        "a..b",
        "a___b",
        "a/",
        "/a",
        "a:b",
        long.as_str(),
    ];
    let digest = Digest::sha256(b"x");
    for name in names {
        for (method, path) in [
            ("GET", format!("/v2/{name}/manifests/latest")),
            ("HEAD", format!("/v2/{name}/manifests/latest")),
            ("GET", format!("/v2/{name}/blobs/{digest}")),
            ("GET", format!("/v2/{name}/tags/list")),
            ("POST", format!("/v2/{name}/blobs/uploads/")),
            ("PUT", format!("/v2/{name}/manifests/latest")),
        ] {
            let (status, body) = raw_request(&reg, method, &path).await;
            assert_eq!(status, 400, "{method} {path}: {body}");
            if method != "HEAD" {
                assert_eq!(error_code(&body), "NAME_INVALID", "{method} {path}");
            }
        }
    }
    assert!(catalog(&reg).await.is_empty(), "nothing was created");
    // The longest valid name works, and so do the separators the grammar allows.
    let longest = "b".repeat(255);
    let mut valid = vec![longest.as_str(), "a__b", "a---b", "a.b/c_d/e-f", "0/1/2"];
    for name in &valid {
        push_blob(&reg, name, b"ok").await;
    }
    valid.sort();
    assert_eq!(catalog(&reg).await, valid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_tags_are_refused() {
    let reg = start().await;
    let image = oci_image(1);
    push_image(&reg, "tags", &image, None).await;
    let long = "t".repeat(129);
    for tag in [long.as_str(), ".dot", "-dash", "a+b", "t%C3%A9"] {
        let r = put_manifest(&reg, "tags", tag, OCI_MANIFEST, &image.bytes).await;
        assert_eq!(r.status(), 400, "PUT tag {tag}");
        let body = r.text().await.unwrap();
        let code = error_code(&body);
        assert!(
            code == "MANIFEST_INVALID" || code == "TAG_INVALID",
            "tag {tag}: {body}"
        );
        // As a ?tag= on a push by digest.
        let r = send(
            reg.put(&format!(
                "/v2/tags/manifests/{}?tag=ok&tag={tag}",
                image.digest
            ))
            .header("content-type", OCI_MANIFEST)
            .body(image.bytes.clone()),
        )
        .await;
        assert_eq!(r.status(), 400, "?tag={tag}");
        // No manifest can be named so: reading one is not found, as the spec says.
        let r = send(reg.get(&format!("/v2/tags/manifests/{tag}"))).await;
        expect_error(r, 404, "MANIFEST_UNKNOWN").await;
        let r = send(reg.head(&format!("/v2/tags/manifests/{tag}"))).await;
        assert_eq!(r.status(), 404, "HEAD tag {tag}");
        let r = send(reg.delete(&format!("/v2/tags/manifests/{tag}"))).await;
        assert_eq!(r.status(), 400, "DELETE tag {tag}");
    }
    assert!(tags(&reg, "tags").await.is_empty(), "no tag was set");
    // 128 characters is fine.
    let longest = "t".repeat(128);
    push_manifest(&reg, "tags", &longest, OCI_MANIFEST, &image.bytes).await;
    assert_eq!(tags(&reg, "tags").await, [longest]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_whose_media_type_differs_from_content_type_are_invalid() {
    let reg = start().await;
    let image = oci_image(1);
    for blob in &image.blobs {
        push_blob(&reg, "mismatch", &blob.bytes).await;
    }
    for content_type in [OCI_INDEX, DOCKER_MANIFEST] {
        let r = put_manifest(&reg, "mismatch", "v1", content_type, &image.bytes).await;
        expect_error(r, 400, "MANIFEST_INVALID").await;
    }
    assert!(!manifest_exists(&reg, "mismatch", "v1").await);
    assert!(!manifest_exists(&reg, "mismatch", &image.digest.to_string()).await);
    assert!(tags(&reg, "mismatch").await.is_empty());
    // With the right type it goes in.
    push_manifest(&reg, "mismatch", "v1", OCI_MANIFEST, &image.bytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_manifests_are_invalid() {
    let reg = start().await;
    push_blob(&reg, "malformed", b"repo exists").await;
    let bodies: [&[u8]; 5] = [
        b"{not json",
        b"",
        b"[]",
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
        br#"{"schemaVersion":1,"fsLayers":[]}"#,
    ];
    for body in bodies {
        let r = put_manifest(&reg, "malformed", "v1", OCI_MANIFEST, body).await;
        expect_error(r, 400, "MANIFEST_INVALID").await;
        let d = Digest::sha256(body).to_string();
        assert!(!manifest_exists(&reg, "malformed", &d).await);
    }
    assert!(tags(&reg, "malformed").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_pushed_by_the_wrong_digest_are_digest_invalid() {
    let reg = start().await;
    let image = oci_image(1);
    for blob in &image.blobs {
        push_blob(&reg, "bydigest", &blob.bytes).await;
    }
    let wrong = Digest::sha256(b"not the manifest");
    let r = put_manifest(
        &reg,
        "bydigest",
        &wrong.to_string(),
        OCI_MANIFEST,
        &image.bytes,
    )
    .await;
    expect_error(r, 400, "DIGEST_INVALID").await;
    assert!(!manifest_exists(&reg, "bydigest", &wrong.to_string()).await);
    assert!(!manifest_exists(&reg, "bydigest", &image.digest.to_string()).await);
    let r = put_manifest(
        &reg,
        "bydigest",
        "sha256:baddigeststring",
        OCI_MANIFEST,
        &image.bytes,
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = send(reg.get("/v2/bydigest/manifests/sha256:baddigeststring")).await;
    assert!(r.status() == 400 || r.status() == 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bogus_content_ranges_are_416() {
    let reg = start().await;
    let location = start_upload(&reg, "bogus").await;
    for range in ["bytes=abc", "5-2", "x-y", "10", "-5"] {
        let r = send(
            reg.http
                .patch(&location)
                .header("content-range", range)
                .body(b"12345".to_vec()),
        )
        .await;
        assert_eq!(r.status(), 416, "Content-Range: {range}");
        let status = expect_status(send(reg.http.get(&location)).await, 204).await;
        assert_eq!(header(&status, "range").as_deref(), Some("0-0"));
    }
    // The session still takes a proper chunk.
    let r = send(
        reg.http
            .patch(&location)
            .header("content-range", "0-4")
            .body(b"12345".to_vec()),
    )
    .await;
    let r = expect_status(r, 202).await;
    assert_eq!(header(&r, "range").as_deref(), Some("0-4"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_upload_sessions_are_blob_upload_unknown() {
    let reg = start().await;
    start_upload(&reg, "sessions").await;
    let digest = Digest::sha256(b"x");
    for id in ["00000000-0000-0000-0000-000000000000", "nonsense"] {
        let path = format!("/v2/sessions/blobs/uploads/{id}");
        expect_error(send(reg.get(&path)).await, 404, "BLOB_UPLOAD_UNKNOWN").await;
        let r = send(reg.patch(&path).body(b"x".to_vec())).await;
        expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
        let r = send(
            reg.put(&format!("{path}?digest={digest}"))
                .body(b"x".to_vec()),
        )
        .await;
        expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
        expect_error(send(reg.delete(&path)).await, 404, "BLOB_UPLOAD_UNKNOWN").await;
    }
    assert!(!blob_exists(&reg, "sessions", &digest).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_belong_to_their_repository() {
    let reg = start().await;
    let bytes = random_bytes(100);
    let digest = Digest::sha256(&bytes);
    let location = start_upload(&reg, "owner").await;
    push_blob(&reg, "thief", b"exists").await;
    let stolen = location.replace("/v2/owner/", "/v2/thief/");
    assert_ne!(stolen, location);
    let r = send(reg.http.patch(&stolen).body(bytes.clone())).await;
    expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
    let r = send(
        reg.http
            .put(with_digest(&stolen, &digest))
            .body(bytes.clone()),
    )
    .await;
    expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
    expect_error(
        send(reg.http.get(&stolen)).await,
        404,
        "BLOB_UPLOAD_UNKNOWN",
    )
    .await;
    expect_error(
        send(reg.http.delete(&stolen)).await,
        404,
        "BLOB_UPLOAD_UNKNOWN",
    )
    .await;
    assert!(!blob_exists(&reg, "thief", &digest).await);
    // The owner's session is untouched.
    let r = expect_status(send(reg.http.get(&location)).await, 204).await;
    assert_eq!(header(&r, "range").as_deref(), Some("0-0"));
    let r = send(
        reg.http
            .put(with_digest(&location, &digest))
            .body(bytes.clone()),
    )
    .await;
    expect_status(r, 201).await;
    assert!(blob_exists(&reg, "owner", &digest).await);
    assert!(!blob_exists(&reg, "thief", &digest).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_digests_in_paths_are_digest_invalid() {
    let reg = start().await;
    push_blob(&reg, "digests", b"exists").await;
    push_image(&reg, "digests", &oci_image(0), Some("v1")).await;
    for bad in [
        "sha256:abc",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
    ] {
        let r = send(reg.get(&format!("/v2/digests/blobs/{bad}"))).await;
        expect_error(r, 400, "DIGEST_INVALID").await;
        let r = send(reg.post(&format!("/v2/digests/blobs/uploads/?mount={bad}&from=x"))).await;
        assert_eq!(r.status(), 400, "mount={bad}");
        // A manifest by it is not found; pushing one by it is refused.
        let r = send(reg.get(&format!("/v2/digests/manifests/{bad}"))).await;
        expect_error(r, 404, "MANIFEST_UNKNOWN").await;
        let r = send(reg.put(&format!("/v2/digests/manifests/{bad}"))).await;
        expect_error(r, 400, "DIGEST_INVALID").await;
    }
}

/// The older conformance suite's nonexistent manifest is a reference no tag can have: GET and
/// HEAD are 404, in an existing repository (`MANIFEST_UNKNOWN`) or not (`NAME_UNKNOWN`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_by_references_that_name_nothing_are_404() {
    let reg = start().await;
    push_image(&reg, "exists", &oci_image(0), Some("v1")).await;
    for (repo, code) in [("exists", "MANIFEST_UNKNOWN"), ("absent", "NAME_UNKNOWN")] {
        let path = format!("/v2/{repo}/manifests/.INVALID_MANIFEST_NAME");
        let r = send(reg.get(&path)).await;
        expect_error(r, 404, code).await;
        let r = send(reg.head(&path)).await;
        assert_eq!(r.status(), 404, "HEAD {path}");
    }
}

/// A manifest whose layer has `urls`: only the non-distributable types may live elsewhere,
/// and only at http(s) URLs without a fragment; anything else must be in the repository.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_layers_only_where_distribution_allows_them() {
    let reg = start().await;
    let config = push_blob(&reg, "foreign", br#"{"architecture":"amd64","os":"linux"}"#).await;
    let missing = Digest::sha256(b"a layer this registry never saw");
    let manifest = |layer_type: &str, urls: &[&str]| {
        let mut layer = descriptor(layer_type, &missing, 100);
        if !urls.is_empty() {
            layer["urls"] = serde_json::json!(urls);
        }
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, &config, 37),
            "layers": [layer],
        }))
        .unwrap()
    };
    let https = ["https://example.com/layer.tar.gz"];
    let nondist = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    let docker_foreign = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    // Non-distributable with an https URL: stored without the layer.
    for (tag, t) in [("nondist", nondist), ("foreign", docker_foreign)] {
        push_manifest(&reg, "foreign", tag, OCI_MANIFEST, &manifest(t, &https)).await;
    }
    // An ordinary layer with urls is still checked.
    let r = put_manifest(
        &reg,
        "foreign",
        "plain",
        OCI_MANIFEST,
        &manifest(OCI_LAYER, &https),
    )
    .await;
    expect_error(r, 400, "MANIFEST_BLOB_UNKNOWN").await;
    // Schemes other than http(s), and fragments, are refused whatever the type.
    for url in [
        "file:///etc/passwd",
        "ftp://example.com/l",
        "https://example.com/l#x",
    ] {
        for t in [nondist, OCI_LAYER] {
            let r = put_manifest(&reg, "foreign", "bad", OCI_MANIFEST, &manifest(t, &[url])).await;
            expect_error(r, 400, "MANIFEST_INVALID").await;
        }
    }
    // Docker's foreign type without urls has nowhere to come from.
    let r = put_manifest(
        &reg,
        "foreign",
        "nourls",
        OCI_MANIFEST,
        &manifest(docker_foreign, &[]),
    )
    .await;
    expect_error(r, 400, "MANIFEST_INVALID").await;
    assert_eq!(tags(&reg, "foreign").await, ["foreign", "nondist"]);
}
