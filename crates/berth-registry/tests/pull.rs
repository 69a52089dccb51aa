//! Pull: the base endpoint, manifests and blobs by GET and HEAD, ranges, and what is unknown.

use berth_oci::Digest;
use test_support::registry::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_endpoint_says_the_api_is_here() {
    let reg = start().await;
    let r = expect_status(send(reg.get("/v2/")).await, 200).await;
    assert_eq!(
        header(&r, "docker-distribution-api-version").as_deref(),
        Some("registry/2.0")
    );
    let r = expect_status(send(reg.head("/v2/")).await, 200).await;
    assert!(r.bytes().await.unwrap().is_empty());
}

/// GETs and HEADs a manifest by `reference` and checks everything a client relies on.
async fn check_manifest(reg: &InProcessRegistry, repo: &str, reference: &str, image: &Image) {
    let path = format!("/v2/{repo}/manifests/{reference}");
    let r = send(reg.get(&path).header("accept", &image.media_type)).await;
    let r = expect_status(r, 200).await;
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some(image.media_type.as_str()),
        "GET {path}"
    );
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(image.digest.to_string()),
        "GET {path}"
    );
    assert_eq!(
        header(&r, "content-length"),
        Some(image.size().to_string()),
        "GET {path}"
    );
    let body = r.bytes().await.unwrap();
    assert_eq!(
        &body[..],
        &image.bytes[..],
        "GET {path}: the exact pushed bytes"
    );

    let r = send(reg.head(&path)).await;
    let r = expect_status(r, 200).await;
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some(image.media_type.as_str()),
        "HEAD {path}"
    );
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(image.digest.to_string()),
        "HEAD {path}"
    );
    assert_eq!(
        header(&r, "content-length"),
        Some(image.size().to_string()),
        "HEAD {path}: Content-Length is the manifest's size"
    );
    assert!(
        r.bytes().await.unwrap().is_empty(),
        "HEAD {path} has no body"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_pull_by_tag_and_digest_in_every_media_type() {
    let reg = start().await;
    let oci = oci_image(2);
    let docker = docker_image(1);
    let oci_index = index_of(OCI_INDEX, vec![oci_image(1), oci_image(1)]);
    let docker_list = index_of(DOCKER_LIST, vec![docker_image(1), docker_image(2)]);
    for (tag, image) in [
        ("oci", &oci),
        ("docker", &docker),
        ("oci-index", &oci_index),
        ("docker-list", &docker_list),
    ] {
        push_image(&reg, "app/pull", image, Some(tag)).await;
        check_manifest(&reg, "app/pull", tag, image).await;
        check_manifest(&reg, "app/pull", &image.digest.to_string(), image).await;
    }
    // The children of the indexes pull by digest too.
    for child in oci_index.children.iter().chain(&docker_list.children) {
        check_manifest(&reg, "app/pull", &child.digest.to_string(), child).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_manifests_are_manifest_unknown() {
    let reg = start().await;
    push_image(&reg, "known", &oci_image(1), Some("latest")).await;
    let missing = Digest::sha256(&random_bytes(16));
    for reference in ["nope".to_string(), missing.to_string()] {
        let path = format!("/v2/known/manifests/{reference}");
        expect_error(send(reg.get(&path)).await, 404, "MANIFEST_UNKNOWN").await;
        let r = send(reg.head(&path)).await;
        assert_eq!(r.status(), 404, "HEAD {path}");
        assert!(r.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_repositories_are_name_unknown() {
    let reg = start().await;
    push_image(&reg, "known", &oci_image(1), Some("latest")).await;
    let digest = Digest::sha256(b"anything");
    for path in [
        "/v2/unknown/manifests/latest".to_string(),
        format!("/v2/unknown/manifests/{digest}"),
        format!("/v2/unknown/blobs/{digest}"),
        "/v2/unknown/tags/list".to_string(),
    ] {
        expect_error(send(reg.get(&path)).await, 404, "NAME_UNKNOWN").await;
    }
    let r = send(reg.head("/v2/unknown/manifests/latest")).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_pull_with_digest_and_length() {
    let reg = start().await;
    let bytes = random_bytes(300_000);
    let digest = push_blob(&reg, "blobs", &bytes).await;
    let path = format!("/v2/blobs/blobs/{digest}");

    let r = expect_status(send(reg.get(&path)).await, 200).await;
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(digest.to_string())
    );
    assert_eq!(header(&r, "content-length"), Some(bytes.len().to_string()));
    let body = r.bytes().await.unwrap();
    assert_eq!(Digest::sha256(&body), digest);
    assert!(body[..] == bytes[..], "the exact bytes come back");

    let r = expect_status(send(reg.head(&path)).await, 200).await;
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(digest.to_string())
    );
    assert_eq!(header(&r, "content-length"), Some(bytes.len().to_string()));
    assert!(r.bytes().await.unwrap().is_empty(), "HEAD has no body");

    // An empty blob is a blob too.
    let empty = push_blob(&reg, "blobs", b"").await;
    let r = expect_status(
        send(reg.get(&format!("/v2/blobs/blobs/{empty}"))).await,
        200,
    )
    .await;
    assert_eq!(header(&r, "content-length").as_deref(), Some("0"));
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_ranges_give_the_exact_slice() {
    let reg = start().await;
    let bytes = random_bytes(2048);
    let digest = push_blob(&reg, "ranges", &bytes).await;
    let path = format!("/v2/ranges/blobs/{digest}");
    for (range, start, end) in [
        ("bytes=500-1499", 500, 1499),
        ("bytes=500-", 500, 2047),
        ("bytes=-500", 1548, 2047),
        ("bytes=0-0", 0, 0),
        ("bytes=2000-5000", 2000, 2047),
    ] {
        let r = send(reg.get(&path).header("range", range)).await;
        let r = expect_status(r, 206).await;
        assert_eq!(
            header(&r, "content-range"),
            Some(format!("bytes {start}-{end}/2048")),
            "{range}"
        );
        assert_eq!(
            header(&r, "content-length"),
            Some((end - start + 1).to_string()),
            "{range}"
        );
        let body = r.bytes().await.unwrap();
        assert!(body[..] == bytes[start..=end], "{range}: the exact slice");
    }
    for range in ["bytes=5000-10000", "bytes=2048-", "bytes=500-0"] {
        let r = send(reg.get(&path).header("range", range)).await;
        assert_eq!(r.status(), 416, "{range}");
        assert_eq!(
            header(&r, "content-range").as_deref(),
            Some("bytes */2048"),
            "{range}"
        );
    }
    // Several ranges, or another unit: RFC 9110 lets the server send the whole blob, and
    // clients take a 200 whole.
    for range in [
        "bytes=0-1,5-9",
        "bytes=0-99, 200-299",
        "items=0-9",
        "pages=1",
    ] {
        let r = send(reg.get(&path).header("range", range)).await;
        let r = expect_status(r, 200).await;
        assert_eq!(header(&r, "content-range"), None, "{range}");
        assert_eq!(
            header(&r, "content-length"),
            Some("2048".to_string()),
            "{range}"
        );
        assert!(
            r.bytes().await.unwrap()[..] == bytes[..],
            "{range}: the whole blob"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_blobs_are_blob_unknown() {
    let reg = start().await;
    push_blob(&reg, "known", b"something").await;
    let missing = Digest::sha256(b"something else");
    let path = format!("/v2/known/blobs/{missing}");
    expect_error(send(reg.get(&path)).await, 404, "BLOB_UNKNOWN").await;
    let r = send(reg.head(&path)).await;
    assert_eq!(r.status(), 404);
    assert!(r.bytes().await.unwrap().is_empty());
}
