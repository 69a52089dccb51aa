//! Policies (immutable tags, no deletes), retention, garbage collection, and metrics.

use std::time::Duration;

use berth_oci::Digest;
use berth_registry::config::{Policy, Retention, parse_duration};
use berth_registry::maintenance;
use serde_json::json;
use test_support::registry::*;

fn policy(pattern: &str) -> Policy {
    Policy {
        repositories: vec![pattern.to_string()],
        immutable_tags: false,
        allow_delete: true,
        retention: None,
    }
}

/// Runs one maintenance pass (retention, then GC) with the registry's configuration.
async fn maintain(reg: &InProcessRegistry) -> maintenance::Report {
    let (store, config) = (reg.store.clone(), reg.config.clone());
    tokio::task::spawn_blocking(move || maintenance::run(&store, &config))
        .await
        .unwrap()
        .expect("maintenance runs")
}

/// Retention and GC work in whole seconds: let a second pass so what was pushed is older.
async fn let_a_second_pass() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

fn digest_of(r: &reqwest::Response) -> String {
    header(r, "docker-content-digest").expect("Docker-Content-Digest")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immutable_tags_refuse_to_move_and_deletes_are_off() {
    let reg = start_with(|config, _| {
        config.policies = vec![Policy {
            immutable_tags: true,
            allow_delete: false,
            ..policy("frozen/**")
        }];
    })
    .await;
    let first = oci_image(1);
    let second = oci_image(1);
    push_image(&reg, "frozen/app", &first, Some("v1")).await;
    for blob in &second.blobs {
        push_blob(&reg, "frozen/app", &blob.bytes).await;
    }

    // Another manifest for the tag: refused, and nothing changes.
    let r = put_manifest(&reg, "frozen/app", "v1", OCI_MANIFEST, &second.bytes).await;
    expect_error(r, 409, "DENIED").await;
    let r = send(
        reg.put(&format!(
            "/v2/frozen/app/manifests/{}?tag=v1",
            second.digest
        ))
        .header("content-type", OCI_MANIFEST)
        .body(second.bytes.clone()),
    )
    .await;
    expect_error(r, 409, "DENIED").await;
    let r = expect_status(send(reg.get("/v2/frozen/app/manifests/v1")).await, 200).await;
    assert_eq!(digest_of(&r), first.digest.to_string());
    assert!(!manifest_exists(&reg, "frozen/app", &second.digest.to_string()).await);

    // The same manifest again is fine, and so is a new tag.
    push_manifest(&reg, "frozen/app", "v1", OCI_MANIFEST, &first.bytes).await;
    push_manifest(&reg, "frozen/app", "v2", OCI_MANIFEST, &second.bytes).await;
    assert_eq!(tags(&reg, "frozen/app").await, ["v1", "v2"]);

    // No deletes of any kind.
    let blob = &first.blobs[1].digest;
    for path in [
        "/v2/frozen/app/manifests/v1".to_string(),
        format!("/v2/frozen/app/manifests/{}", first.digest),
        format!("/v2/frozen/app/blobs/{blob}"),
    ] {
        let r = send(reg.delete(&path)).await;
        assert_eq!(r.status(), 405, "DELETE {path}");
    }
    assert_eq!(tags(&reg, "frozen/app").await, ["v1", "v2"]);
    assert!(manifest_exists(&reg, "frozen/app", &first.digest.to_string()).await);
    assert!(blob_exists(&reg, "frozen/app", blob).await);

    // Elsewhere tags move and deletes work.
    push_image(&reg, "thawed/app", &first, Some("v1")).await;
    push_image(&reg, "thawed/app", &second, Some("v1")).await;
    let r = expect_status(send(reg.get("/v2/thawed/app/manifests/v1")).await, 200).await;
    assert_eq!(digest_of(&r), second.digest.to_string());
    expect_status(send(reg.delete("/v2/thawed/app/manifests/v1")).await, 202).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_the_newest_matching_tags() {
    let reg = start_with(|config, _| {
        config.policies = vec![Policy {
            retention: Some(Retention {
                keep_tags: Some(2),
                tag_pattern: "v*".to_string(),
                untagged_older_than: None,
            }),
            ..policy("kept/**")
        }];
    })
    .await;
    // Pushed in this order: the newest two are v3 and v1, whatever their names say.
    let mut digests = std::collections::HashMap::new();
    for tag in ["v2", "v0", "latest", "v3", "v1"] {
        let image = oci_image(1);
        push_image(&reg, "kept/app", &image, Some(tag)).await;
        digests.insert(tag, image.digest);
    }
    // The same tags in a repository without the policy.
    let other = oci_image(0);
    push_image(&reg, "other", &other, None).await;
    for tag in ["v0", "v1", "v2", "v3"] {
        push_manifest(&reg, "other", tag, OCI_MANIFEST, &other.bytes).await;
    }

    let report = maintain(&reg).await;
    assert_eq!(report.tags_retired, 2);
    assert_eq!(tags(&reg, "kept/app").await, ["latest", "v1", "v3"]);
    for gone in ["v0", "v2"] {
        let r = send(reg.get(&format!("/v2/kept/app/manifests/{gone}"))).await;
        expect_error(r, 404, "MANIFEST_UNKNOWN").await;
    }
    assert_eq!(tags(&reg, "other").await, ["v0", "v1", "v2", "v3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_untagged_manifests() {
    let reg = start_with(|config, _| {
        config.policies = vec![Policy {
            retention: Some(Retention {
                keep_tags: None,
                tag_pattern: "*".to_string(),
                untagged_older_than: parse_duration("0"),
            }),
            ..policy("tidy/**")
        }];
    })
    .await;
    let tagged = oci_image(1);
    let untagged = oci_image(1);
    let index = index_of(OCI_INDEX, vec![oci_image(1), oci_image(1)]);
    let referrer = artifact(
        Some("application/x.sig"),
        OCI_EMPTY,
        Some(&Subject::of(&tagged)),
        &[],
    );
    push_image(&reg, "tidy/app", &tagged, Some("v1")).await;
    push_image(&reg, "tidy/app", &untagged, None).await;
    push_image(&reg, "tidy/app", &index, Some("multi")).await;
    push_image(&reg, "tidy/app", &referrer, None).await;
    push_image(&reg, "loose/app", &untagged, None).await;
    let_a_second_pass().await;

    let report = maintain(&reg).await;
    assert_eq!(report.manifests_retired, 1);
    let r = send(reg.get(&format!("/v2/tidy/app/manifests/{}", untagged.digest))).await;
    expect_error(r, 404, "MANIFEST_UNKNOWN").await;
    // Tagged, reached from a tagged index, or referring to something: kept.
    for keep in [
        &tagged,
        &index,
        &index.children[0],
        &index.children[1],
        &referrer,
    ] {
        assert!(
            manifest_exists(&reg, "tidy/app", &keep.digest.to_string()).await,
            "{}",
            keep.digest
        );
    }
    // Another repository without the policy keeps its untagged manifest.
    assert!(manifest_exists(&reg, "loose/app", &untagged.digest.to_string()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_collection_keeps_what_is_referenced() {
    let reg = start_with(|config, _| {
        config.gc.grace = Duration::ZERO;
        config.uploads.expire = Duration::ZERO;
    })
    .await;
    let abandoned = start_upload(&reg, "gc/app").await;
    let r = send(
        reg.http
            .patch(&abandoned)
            .header("content-range", "0-9")
            .body(vec![7u8; 10]),
    )
    .await;
    expect_status(r, 202).await;
    let orphan = random_bytes(999);
    let orphan = push_blob(&reg, "gc/app", &orphan).await;
    let image = oci_image(2);
    push_image(&reg, "gc/app", &image, Some("v1")).await;
    let index = index_of(OCI_INDEX, vec![oci_image(1), oci_image(2)]);
    push_image(&reg, "gc/app", &index, Some("multi")).await;
    let doomed = oci_image(1);
    push_image(&reg, "gc/app", &doomed, Some("doomed")).await;
    let referrer = artifact(
        Some("application/x.sig"),
        OCI_EMPTY,
        Some(&Subject::of(&doomed)),
        &[],
    );
    push_image(&reg, "gc/app", &referrer, None).await;
    let kept_referrer = artifact(
        Some("application/x.sig"),
        OCI_EMPTY,
        Some(&Subject::of(&image)),
        &[],
    );
    push_image(&reg, "gc/app", &kept_referrer, None).await;
    let r = send(reg.delete(&format!("/v2/gc/app/manifests/{}", doomed.digest))).await;
    expect_status(r, 202).await;
    let_a_second_pass().await;

    let report = maintain(&reg).await;
    assert!(report.gc.blobs_removed > 0);
    assert_eq!(report.uploads_expired, 1);

    // The abandoned upload expired.
    expect_error(
        send(reg.http.get(&abandoned)).await,
        404,
        "BLOB_UPLOAD_UNKNOWN",
    )
    .await;
    let r = send(
        reg.http
            .patch(&abandoned)
            .header("content-range", "10-19")
            .body(vec![7u8; 10]),
    )
    .await;
    expect_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;

    // The unreferenced upload is gone, from the repository and from disk.
    let r = send(reg.get(&format!("/v2/gc/app/blobs/{orphan}"))).await;
    expect_error(r, 404, "BLOB_UNKNOWN").await;
    assert!(!reg.store.blobs().contains(&orphan));

    // The tagged image and everything it references still pull.
    let r = expect_status(send(reg.get("/v2/gc/app/manifests/v1")).await, 200).await;
    assert!(r.bytes().await.unwrap()[..] == image.bytes[..]);
    for blob in &image.blobs {
        let r = send(reg.get(&format!("/v2/gc/app/blobs/{}", blob.digest))).await;
        let r = expect_status(r, 200).await;
        assert!(r.bytes().await.unwrap()[..] == blob.bytes[..]);
    }
    // So do the children of the tagged index, and their blobs.
    for child in &index.children {
        let r = send(reg.get(&format!("/v2/gc/app/manifests/{}", child.digest))).await;
        let r = expect_status(r, 200).await;
        assert!(r.bytes().await.unwrap()[..] == child.bytes[..]);
        for blob in &child.blobs {
            assert!(
                blob_exists(&reg, "gc/app", &blob.digest).await,
                "{}",
                blob.digest
            );
        }
    }

    // The deleted manifest's blobs went, and its referrer with them.
    for blob in &doomed.blobs {
        assert!(
            !blob_exists(&reg, "gc/app", &blob.digest).await,
            "{}",
            blob.digest
        );
    }
    let r = send(reg.get(&format!("/v2/gc/app/referrers/{}", doomed.digest))).await;
    let body = json_body(r).await;
    assert_eq!(body["manifests"], json!([]));
    assert!(!manifest_exists(&reg, "gc/app", &referrer.digest.to_string()).await);
    // A referrer of a live manifest stays.
    let r = send(reg.get(&format!("/v2/gc/app/referrers/{}", image.digest))).await;
    let body = json_body(r).await;
    assert_eq!(
        body["manifests"][0]["digest"],
        kept_referrer.digest.to_string()
    );
    assert!(manifest_exists(&reg, "gc/app", &kept_referrer.digest.to_string()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_collection_spares_recent_uploads() {
    let reg = start().await;
    assert_eq!(reg.config.gc.grace, Duration::from_secs(3600));
    let bytes = random_bytes(4321);
    let digest = push_blob(&reg, "grace", &bytes).await;
    let report = maintain(&reg).await;
    assert_eq!(report.gc.blobs_removed, 0);
    let r = expect_status(
        send(reg.get(&format!("/v2/grace/blobs/{digest}"))).await,
        200,
    )
    .await;
    assert!(r.bytes().await.unwrap()[..] == bytes[..]);
    // A manifest can still be pushed on top of it.
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, &digest, bytes.len()),
        "layers": [],
    });
    push_manifest(
        &reg,
        "grace",
        "v1",
        OCI_MANIFEST,
        &serde_json::to_vec(&doc).unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_method_and_status() {
    let reg = start().await;
    expect_status(send(reg.get("/v2/")).await, 200).await;
    expect_status(send(reg.get("/v2/")).await, 200).await;
    let missing = Digest::sha256(b"missing");
    let r = send(reg.get(&format!("/v2/metrics/manifests/{missing}"))).await;
    assert_eq!(r.status(), 404);
    push_blob(&reg, "metrics", b"counted").await;

    let r = expect_status(send(reg.get("/metrics")).await, 200).await;
    assert!(
        header(&r, "content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    for line in [
        "# TYPE berth_registry_requests_total counter",
        "berth_registry_requests_total{route=\"base\",method=\"GET\",status=\"200\"} 2",
        "berth_registry_requests_total{route=\"manifest\",method=\"GET\",status=\"404\"} 1",
        "berth_registry_requests_total{route=\"upload\",method=\"POST\",status=\"202\"} 1",
        "berth_registry_requests_total{route=\"upload\",method=\"PUT\",status=\"201\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
    }
}
