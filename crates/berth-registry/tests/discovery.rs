//! Content discovery: tag lists and the catalog with pagination, and the referrers API.

use berth_oci::Digest;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use test_support::registry::*;

/// The target of a `Link: <url>; rel="next"` header.
fn next_link(r: &reqwest::Response) -> Option<String> {
    let link = header(r, "link")?;
    assert!(link.contains("rel=\"next\""), "{link}");
    let start = link.find('<').expect("<url>") + 1;
    let end = link.find('>').expect("<url>");
    Some(link[start..end].to_string())
}

/// Pushes one manifest and points every tag at it.
async fn tag_all(reg: &InProcessRegistry, repo: &str, tags: &[&str]) {
    let image = oci_image(1);
    push_image(reg, repo, &image, None).await;
    for t in tags {
        push_manifest(reg, repo, t, OCI_MANIFEST, &image.bytes).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_listed_in_ascii_order() {
    let reg = start().await;
    let pushed = [
        "latest", "B", "a", "1.0", "_x", "Z9", "a-b", "a.b", "10", "2",
    ];
    tag_all(&reg, "sorted", &pushed).await;
    let r = expect_status(send(reg.get("/v2/sorted/tags/list")).await, 200).await;
    assert!(next_link(&r).is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["name"], "sorted");
    let mut expected: Vec<&str> = pushed.to_vec();
    expected.sort(); // byte order, as Go's sort.Strings
    assert_eq!(body["tags"], json!(expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_paginate_with_n_last_and_link() {
    let reg = start().await;
    let all = ["t0", "t1", "t2", "t3", "t4", "t5", "t6"];
    tag_all(&reg, "paged", &all).await;

    // n alone: the first n, and a Link that leads through the rest.
    let mut seen = Vec::new();
    let mut path = "/v2/paged/tags/list?n=3".to_string();
    let mut pages = 0;
    loop {
        let r = expect_status(send(reg.get(&path)).await, 200).await;
        let link = next_link(&r);
        let body: Value = r.json().await.unwrap();
        let page: Vec<String> = body["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        pages += 1;
        assert!(page.len() <= 3);
        if link.is_some() {
            assert_eq!(page.len(), 3, "a page with a Link after it is full");
        }
        seen.extend(page);
        match link {
            Some(next) => path = next,
            None => break,
        }
        assert!(pages < 10, "the Links go round in circles");
    }
    assert_eq!(seen, all);
    assert_eq!(pages, 3);

    // last: strictly after it.
    let body = json_body(send(reg.get("/v2/paged/tags/list?n=2&last=t2")).await).await;
    assert_eq!(body["tags"], json!(["t3", "t4"]));
    let body = json_body(send(reg.get("/v2/paged/tags/list?last=t4")).await).await;
    assert_eq!(body["tags"], json!(["t5", "t6"]));
    // A page that ends the list exactly has no Link.
    let r = expect_status(send(reg.get("/v2/paged/tags/list?n=7")).await, 200).await;
    assert!(next_link(&r).is_none());
    let r = expect_status(send(reg.get("/v2/paged/tags/list?n=6")).await, 200).await;
    assert!(next_link(&r).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_with_n_zero_or_huge_or_not_a_number() {
    let reg = start().await;
    tag_all(&reg, "limits", &["a", "b", "c"]).await;

    let r = expect_status(send(reg.get("/v2/limits/tags/list?n=0")).await, 200).await;
    assert!(header(&r, "link").is_none(), "n=0 has no Link");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["tags"], json!([]));

    let r = send(reg.get("/v2/limits/tags/list?n=100000000")).await;
    let body = json_body(r).await;
    assert_eq!(body["tags"], json!(["a", "b", "c"]));

    // Many tags (100 a request, by ?tag=): a huge n is served, capped, with a Link to the rest.
    let image = oci_image(0);
    push_image(&reg, "many", &image, None).await;
    let mut all: Vec<String> = (0..1100).map(|i| format!("t{i:05}")).collect();
    for batch in all.chunks(100) {
        let query: Vec<String> = batch.iter().map(|t| format!("tag={t}")).collect();
        let r = send(
            reg.put(&format!(
                "/v2/many/manifests/{}?{}",
                image.digest,
                query.join("&")
            ))
            .header("content-type", OCI_MANIFEST)
            .body(image.bytes.clone()),
        )
        .await;
        expect_status(r, 201).await;
    }
    all.sort();
    let mut seen: Vec<String> = Vec::new();
    let mut path = "/v2/many/tags/list?n=100000000".to_string();
    loop {
        let r = expect_status(send(reg.get(&path)).await, 200).await;
        let link = next_link(&r);
        let body: Value = r.json().await.unwrap();
        let page = body["tags"].as_array().unwrap();
        assert!(!page.is_empty());
        seen.extend(page.iter().map(|t| t.as_str().unwrap().to_string()));
        match link {
            Some(next) => path = next,
            None => break,
        }
        assert!(seen.len() < all.len(), "a Link after the last tag");
    }
    assert_eq!(seen, all);

    for bad in ["abc", "-1", "1.5"] {
        let r = send(reg.get(&format!("/v2/limits/tags/list?n={bad}"))).await;
        assert_eq!(r.status(), 400, "n={bad}");
        let body: Value = r.json().await.expect("a JSON error");
        assert!(body["errors"][0]["code"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_of_an_unknown_repository_are_name_unknown() {
    let reg = start().await;
    tag_all(&reg, "known", &["a"]).await;
    expect_error(
        send(reg.get("/v2/unknown/tags/list")).await,
        404,
        "NAME_UNKNOWN",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_lists_and_paginates() {
    let reg = start().await;
    assert!(catalog(&reg).await.is_empty());
    let repos = ["b/two", "a/one", "c", "a/zero", "d-d"];
    for repo in repos {
        push_blob(&reg, repo, repo.as_bytes()).await;
    }
    let mut expected = repos.to_vec();
    expected.sort();
    assert_eq!(catalog(&reg).await, expected);

    let mut seen = Vec::new();
    let mut path = "/v2/_catalog?n=2".to_string();
    loop {
        let r = expect_status(send(reg.get(&path)).await, 200).await;
        let link = next_link(&r);
        let body: Value = r.json().await.unwrap();
        let page = body["repositories"].as_array().unwrap().clone();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|r| r.as_str().unwrap().to_string()));
        match link {
            Some(next) => path = next,
            None => break,
        }
        assert!(seen.len() <= repos.len(), "the Links go round in circles");
    }
    assert_eq!(seen, expected);

    let r = expect_status(send(reg.get("/v2/_catalog?n=0")).await, 200).await;
    assert!(header(&r, "link").is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["repositories"], json!([]));
    let body = json_body(send(reg.get("/v2/_catalog?n=2&last=a/zero")).await).await;
    assert_eq!(body["repositories"], json!(["b/two", "c"]));
}

/// The referrers of `subject` in `repo`: the response's headers and its index, checked to be
/// an OCI index.
async fn referrers(
    reg: &InProcessRegistry,
    repo: &str,
    subject: &Digest,
    query: &str,
) -> (HeaderMap, Value) {
    let r = send(reg.get(&format!("/v2/{repo}/referrers/{subject}{query}"))).await;
    let r = expect_status(r, 200).await;
    assert_eq!(header(&r, "content-type").as_deref(), Some(OCI_INDEX));
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).expect("an index");
    assert_eq!(body["schemaVersion"], 2);
    assert_eq!(body["mediaType"], OCI_INDEX);
    assert!(body["manifests"].is_array(), "manifests is a list: {body}");
    (headers, body)
}

fn filters(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("oci-filters-applied")
        .map(|v| v.to_str().unwrap())
}

fn by_digest<'a>(body: &'a Value, digest: &Digest) -> Option<&'a Value> {
    body["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["digest"] == digest.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_list_descriptors_with_artifact_type_and_annotations() {
    let reg = start().await;
    let image = oci_image(1);
    push_image(&reg, "refs", &image, Some("v1")).await;
    let subject = Subject::of(&image);

    let sbom = artifact(
        Some("application/vnd.example.sbom.v1"),
        OCI_EMPTY,
        Some(&subject),
        &[
            ("org.example.format", "json"),
            ("org.opencontainers.image.created", "2024-01-01T00:00:00Z"),
        ],
    );
    // No artifactType: the config's media type stands in.
    let sig = artifact(
        None,
        "application/vnd.example.sig.config.v1+json",
        Some(&subject),
        &[("k", "v")],
    );
    // An index referrer without artifactType: none is given.
    let bundle = index_referrer(&subject, vec![oci_image(1)], &[("bundle", "yes")]);
    // Something that refers elsewhere isn't listed.
    let other = artifact(
        Some("application/vnd.example.sbom.v1"),
        OCI_EMPTY,
        Some(&Subject::missing()),
        &[],
    );
    for a in [&sbom, &sig, &bundle, &other] {
        push_image(&reg, "refs", a, None).await;
    }

    let (_, body) = referrers(&reg, "refs", &image.digest, "").await;
    assert_eq!(body["manifests"].as_array().unwrap().len(), 3, "{body}");

    let d = by_digest(&body, &sbom.digest).expect("the sbom is listed");
    assert_eq!(d["mediaType"], OCI_MANIFEST);
    assert_eq!(d["size"], sbom.size());
    assert_eq!(d["artifactType"], "application/vnd.example.sbom.v1");
    assert_eq!(
        d["annotations"],
        json!({"org.example.format": "json", "org.opencontainers.image.created": "2024-01-01T00:00:00Z"})
    );

    let d = by_digest(&body, &sig.digest).expect("the signature is listed");
    assert_eq!(
        d["artifactType"],
        "application/vnd.example.sig.config.v1+json"
    );
    assert_eq!(d["annotations"], json!({"k": "v"}));
    assert_eq!(d["size"], sig.size());

    let d = by_digest(&body, &bundle.digest).expect("the index is listed");
    assert_eq!(d["mediaType"], OCI_INDEX);
    assert!(
        d.get("artifactType").is_none(),
        "an index without artifactType has none: {d}"
    );
    assert_eq!(d["annotations"], json!({"bundle": "yes"}));
    assert!(by_digest(&body, &other.digest).is_none());

    // A referrer in another repository isn't listed here.
    let elsewhere = artifact(Some("application/x.other"), OCI_EMPTY, Some(&subject), &[]);
    push_image(&reg, "other-repo", &elsewhere, None).await;
    let (_, body) = referrers(&reg, "refs", &image.digest, "").await;
    assert!(by_digest(&body, &elsewhere.digest).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_filter_by_artifact_type() {
    let reg = start().await;
    let image = oci_image(0);
    push_image(&reg, "filter", &image, Some("v1")).await;
    let subject = Subject::of(&image);
    let sbom = artifact(
        Some("application/vnd.example.sbom.v1"),
        OCI_EMPTY,
        Some(&subject),
        &[],
    );
    let sig = artifact(
        Some("application/vnd.example.sig.v1"),
        OCI_EMPTY,
        Some(&subject),
        &[],
    );
    push_image(&reg, "filter", &sbom, None).await;
    push_image(&reg, "filter", &sig, None).await;

    let (h, body) = referrers(
        &reg,
        "filter",
        &image.digest,
        "?artifactType=application/vnd.example.sbom.v1",
    )
    .await;
    assert_eq!(filters(&h), Some("artifactType"));
    let listed = body["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{body}");
    assert_eq!(listed[0]["digest"], sbom.digest.to_string());

    let (h, body) = referrers(
        &reg,
        "filter",
        &image.digest,
        "?artifactType=application/x.none",
    )
    .await;
    assert_eq!(filters(&h), Some("artifactType"));
    assert_eq!(body["manifests"], json!([]));

    let (h, body) = referrers(&reg, "filter", &image.digest, "").await;
    assert!(filters(&h).is_none());
    assert_eq!(body["manifests"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_of_unknown_things_are_empty_not_404() {
    let reg = start().await;
    push_image(&reg, "known", &oci_image(0), Some("v1")).await;
    let nothing = Digest::sha256(&random_bytes(8));
    for repo in ["known", "unknown"] {
        let (_, body) = referrers(&reg, repo, &nothing, "").await;
        assert_eq!(body["manifests"], json!([]), "{repo}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_of_an_invalid_digest_are_400() {
    let reg = start().await;
    push_image(&reg, "known", &oci_image(0), Some("v1")).await;
    for bad in ["sha256:abc", "notadigest", "sha256:ZZZZ"] {
        let r = send(reg.get(&format!("/v2/known/referrers/{bad}"))).await;
        expect_error(r, 400, "DIGEST_INVALID").await;
    }
}
