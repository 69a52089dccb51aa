//! Content management: deleting manifests (by digest and by tag) and blobs.

use berth_oci::Digest;
use test_support::registry::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_manifest_by_digest_takes_its_tags() {
    let reg = start().await;
    let image = oci_image(1);
    let keep = oci_image(1);
    push_image(&reg, "del", &image, Some("v1")).await;
    push_manifest(&reg, "del", "v1-alias", OCI_MANIFEST, &image.bytes).await;
    push_image(&reg, "del", &keep, Some("keep")).await;
    let d = image.digest.to_string();

    let r = send(reg.delete(&format!("/v2/del/manifests/{d}"))).await;
    expect_status(r, 202).await;
    for reference in [d.as_str(), "v1", "v1-alias"] {
        let r = send(reg.get(&format!("/v2/del/manifests/{reference}"))).await;
        expect_error(r, 404, "MANIFEST_UNKNOWN").await;
        assert!(!manifest_exists(&reg, "del", reference).await);
    }
    assert_eq!(tags(&reg, "del").await, ["keep"]);
    assert!(manifest_exists(&reg, "del", "keep").await);
    // Deleting it again: it isn't there.
    let r = send(reg.delete(&format!("/v2/del/manifests/{d}"))).await;
    expect_error(r, 404, "MANIFEST_UNKNOWN").await;
    // It can be pushed again.
    push_manifest(&reg, "del", "v1", OCI_MANIFEST, &image.bytes).await;
    let r = expect_status(send(reg.get(&format!("/v2/del/manifests/{d}"))).await, 200).await;
    assert!(r.bytes().await.unwrap()[..] == image.bytes[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_tag_keeps_the_manifest() {
    let reg = start().await;
    let image = oci_image(1);
    push_image(&reg, "deltag", &image, Some("v1")).await;
    push_manifest(&reg, "deltag", "v2", OCI_MANIFEST, &image.bytes).await;

    let r = send(reg.delete("/v2/deltag/manifests/v1")).await;
    expect_status(r, 202).await;
    let r = send(reg.get("/v2/deltag/manifests/v1")).await;
    expect_error(r, 404, "MANIFEST_UNKNOWN").await;
    assert_eq!(tags(&reg, "deltag").await, ["v2"]);
    for reference in [image.digest.to_string(), "v2".to_string()] {
        let r = send(reg.get(&format!("/v2/deltag/manifests/{reference}"))).await;
        let r = expect_status(r, 200).await;
        assert!(r.bytes().await.unwrap()[..] == image.bytes[..]);
    }
    let r = send(reg.delete("/v2/deltag/manifests/v1")).await;
    expect_error(r, 404, "MANIFEST_UNKNOWN").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_blob() {
    let reg = start().await;
    let bytes = random_bytes(1234);
    let digest = push_blob(&reg, "delblob", &bytes).await;
    let other = push_blob(&reg, "delblob", b"stays").await;
    let r = send(reg.delete(&format!("/v2/delblob/blobs/{digest}"))).await;
    expect_status(r, 202).await;
    let r = send(reg.get(&format!("/v2/delblob/blobs/{digest}"))).await;
    expect_error(r, 404, "BLOB_UNKNOWN").await;
    assert!(!blob_exists(&reg, "delblob", &digest).await);
    assert!(blob_exists(&reg, "delblob", &other).await);
    let r = send(reg.delete(&format!("/v2/delblob/blobs/{digest}"))).await;
    expect_error(r, 404, "BLOB_UNKNOWN").await;
}

/// A blob a manifest of the repository uses can't be deleted from under it: tagged, or the
/// untagged child of a tagged index. Deleting the manifest first frees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_blob_a_manifest_uses_is_refused() {
    let reg = start().await;
    let image = oci_image(2);
    let manifest = push_image(&reg, "inuse", &image, Some("v1")).await;
    let list = index_of(OCI_INDEX, vec![oci_image(1)]);
    push_image(&reg, "inuse", &list, Some("list")).await;
    let child_layer = &list.children[0].blobs[1].digest;
    for (blob, tag) in [(&image.blobs[1].digest, Some("v1")), (child_layer, None)] {
        let r = send(reg.delete(&format!("/v2/inuse/blobs/{blob}"))).await;
        let body = expect_error(r, 409, "DENIED").await;
        let message = body["errors"][0]["message"].as_str().unwrap().to_string();
        assert!(message.contains("delete the manifest first"), "{message}");
        if let Some(tag) = tag {
            assert!(message.contains(&format!("tag {tag}")), "{message}");
        }
        assert!(blob_exists(&reg, "inuse", blob).await, "{blob} stays");
    }
    // The image still pulls whole.
    expect_status(send(reg.get("/v2/inuse/manifests/v1")).await, 200).await;
    // Once the manifest is gone, its blobs may go.
    let r = send(reg.delete(&format!("/v2/inuse/manifests/{manifest}"))).await;
    expect_status(r, 202).await;
    let r = send(reg.delete(&format!("/v2/inuse/blobs/{}", image.blobs[1].digest))).await;
    expect_status(r, 202).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_what_isnt_there_is_404() {
    let reg = start().await;
    push_image(&reg, "present", &oci_image(1), Some("v1")).await;
    let missing = Digest::sha256(&random_bytes(10));
    let cases = [
        (
            format!("/v2/present/manifests/{missing}"),
            "MANIFEST_UNKNOWN",
        ),
        ("/v2/present/manifests/nope".to_string(), "MANIFEST_UNKNOWN"),
        (format!("/v2/present/blobs/{missing}"), "BLOB_UNKNOWN"),
        (format!("/v2/absent/manifests/{missing}"), "NAME_UNKNOWN"),
        ("/v2/absent/manifests/v1".to_string(), "NAME_UNKNOWN"),
        (format!("/v2/absent/blobs/{missing}"), "NAME_UNKNOWN"),
    ];
    for (path, code) in cases {
        expect_error(send(reg.delete(&path)).await, 404, code).await;
    }
    assert_eq!(tags(&reg, "present").await, ["v1"]);
    assert_eq!(catalog(&reg).await, ["present"]);
}
