//! The retry policy against berth's registry in process, with a fault proxy in front of it
//! answering what the registry would not: 503 a few times, 429 with `Retry-After`, a 400.

mod common;

use std::time::{Duration, Instant};

use berth_registry::config::AuthMode;
use common::*;
use reqwest::StatusCode;
use test_support::Fault;

fn status(
    path_contains: &'static str,
    status: u16,
    retry_after: Option<u64>,
    times: usize,
) -> Fault {
    Fault::Status {
        path_contains,
        methods: &["GET"],
        status,
        retry_after,
        times,
    }
}

/// A registry with `public/app:1` in it, and a proxy in front of it with no faults yet.
async fn with_image() -> (
    test_support::registry::InProcessRegistry,
    test_support::FaultProxy,
    tempfile::TempDir,
) {
    let reg = registry(AuthMode::None, false).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = proxy(&reg, vec![]);
    push_small_image(&anonymous(dir.path(), &proxy.addr), "public/app", "1").await;
    (reg, proxy, dir)
}

fn manifest_gets(proxy: &test_support::FaultProxy) -> Vec<test_support::Exchange> {
    proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.method == "GET" && e.path.contains("/manifests/"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_twice_then_served() {
    let (_reg, proxy, dir) = with_image().await;
    proxy.set_plan(vec![status("/manifests/", 503, None, 2)]);
    let client = anonymous(dir.path(), &proxy.addr);
    assert_eq!(
        get_manifest(&client, "public/app", "1").await,
        StatusCode::OK
    );
    assert_eq!(proxy.fired(0), 2);
    let statuses: Vec<Option<u16>> = manifest_gets(&proxy).iter().map(|e| e.status).collect();
    assert_eq!(statuses, [Some(503), Some(503), Some(200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gives_up_after_its_retries_with_the_last_answer() {
    let (_reg, proxy, dir) = with_image().await;
    proxy.set_plan(vec![status("/manifests/", 503, None, usize::MAX)]);
    let client = client(dir.path(), 2).registry(&proxy.addr).unwrap();
    assert_eq!(
        get_manifest(&client, "public/app", "1").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        manifest_gets(&proxy).len(),
        3,
        "the first try and two retries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_waits_as_long_as_retry_after_says() {
    let (_reg, proxy, dir) = with_image().await;
    proxy.set_plan(vec![status("/manifests/", 429, Some(1), 1)]);
    let client = anonymous(dir.path(), &proxy.addr);
    let start = Instant::now();
    assert_eq!(
        get_manifest(&client, "public/app", "1").await,
        StatusCode::OK
    );
    let gets = manifest_gets(&proxy);
    assert_eq!(gets.len(), 2);
    let waited = gets[1].at - gets[0].at;
    // The client's own backoff is 10 ms: only Retry-After makes it a second.
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_a_retry_cannot_change_are_final() {
    let (_reg, proxy, dir) = with_image().await;
    let client = anonymous(dir.path(), &proxy.addr);
    assert_eq!(
        get_manifest(&client, "public/app", "nosuch").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(manifest_gets(&proxy).len(), 1, "a 404 is not retried");

    proxy.set_plan(vec![status("/manifests/", 400, None, usize::MAX)]);
    assert_eq!(
        get_manifest(&client, "public/app", "1").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(proxy.fired(0), 1, "a 400 is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ping_and_the_token_service_retry_by_the_same_policy() {
    let reg = registry(AuthMode::Token, true).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = proxy(
        &reg,
        vec![
            Fault::Status {
                path_contains: "/v2/",
                methods: &["GET"],
                status: 503,
                retry_after: None,
                times: 1,
            },
            status("/token", 502, None, 2),
        ],
    );
    let alice = signed_in(dir.path(), &proxy.addr, ALICE);
    alice
        .check_login()
        .await
        .expect("signs in after the failures");
    assert_eq!((proxy.fired(0), proxy.fired(1)), (1, 2));
    let exchanges = proxy.exchanges();
    assert_eq!(exchanges[0].path, "/v2/");
    assert_eq!(exchanges[0].status, Some(503));
    assert_eq!(exchanges[1].path, "/v2/", "the ping again");
    let tokens: Vec<Option<u16>> = requests_to(&exchanges, "/token")
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(tokens, [Some(502), Some(502), Some(200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_registry_fails_after_its_retries() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let client = client(dir.path(), 2).registry(&addr).unwrap();
    let start = Instant::now();
    let err = client.check_login().await.unwrap_err();
    assert_eq!(err.kind, berth_remote::Kind::Unavailable, "{err}");
    assert!(err.message.contains(&addr), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}
