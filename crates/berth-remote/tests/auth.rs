//! The token flow and basic auth against berth's registry in process: what the client sends
//! is read off the fault proxy in front of it (with no faults planned).

mod common;

use berth_registry::config::AuthMode;
use berth_remote::Kind;
use common::*;
use reqwest::StatusCode;

/// The `Authorization` scheme of a request, if it has one.
fn scheme(e: &test_support::Exchange) -> Option<&str> {
    e.header("authorization")
        .map(|v| v.split_once(' ').map_or(v, |(s, _)| s))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_pull_answers_the_challenge_with_a_token() {
    let reg = registry(AuthMode::Token, true).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = proxy(&reg, vec![]);
    let alice = signed_in(dir.path(), &proxy.addr, ALICE);
    push_small_image(&alice, "public/app", "1").await;
    let seen_before = proxy.exchanges().len();

    let nobody = anonymous(dir.path(), &proxy.addr);
    assert_eq!(
        get_manifest(&nobody, "public/app", "1").await,
        StatusCode::OK
    );

    let exchanges = proxy.exchanges().split_off(seen_before);
    let paths: Vec<(&str, &str)> = exchanges
        .iter()
        .map(|e| (e.method.as_str(), e.path.split('?').next().unwrap_or("")))
        .collect();
    assert_eq!(
        paths,
        [
            ("GET", "/v2/"),
            ("GET", "/token"),
            ("GET", "/v2/public/app/manifests/1")
        ],
        "ping, token, then the request: {exchanges:#?}"
    );
    assert_eq!(exchanges[0].status, Some(401), "the ping is challenged");
    assert_eq!(scheme(&exchanges[1]), None, "an anonymous token request");
    assert_eq!(token_scopes(&exchanges[1]), ["repository:public/app:pull"]);
    assert_eq!(scheme(&exchanges[2]), Some("Bearer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_reused_for_the_same_scopes() {
    let reg = registry(AuthMode::Token, true).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = proxy(&reg, vec![]);
    let alice = signed_in(dir.path(), &proxy.addr, ALICE);
    push_small_image(&alice, "public/app", "1").await;
    let nobody = anonymous(dir.path(), &proxy.addr);

    for _ in 0..3 {
        assert_eq!(
            get_manifest(&nobody, "public/app", "1").await,
            StatusCode::OK
        );
    }

    let exchanges = proxy.exchanges();
    let pull_tokens: Vec<_> = requests_to(&exchanges, "/token")
        .into_iter()
        .filter(|e| token_scopes(e) == ["repository:public/app:pull"])
        .collect();
    assert_eq!(pull_tokens.len(), 1, "one token for three pulls");
    let tokens: Vec<&str> = requests_to(&exchanges, "/manifests/1")
        .iter()
        .filter(|e| e.method == "GET")
        .filter_map(|e| e.header("authorization"))
        .collect();
    assert_eq!(tokens.len(), 3);
    assert!(tokens.iter().all(|t| *t == tokens[0]), "the same token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushing_asks_for_a_token_with_push_scope() {
    let reg = registry(AuthMode::Token, true).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = proxy(&reg, vec![]);
    let alice = signed_in(dir.path(), &proxy.addr, ALICE);

    // A pull first: its token may read, not write.
    assert_eq!(
        get_manifest(&alice, "alice/app", "1").await,
        StatusCode::NOT_FOUND
    );
    push_small_image(&alice, "alice/app", "1").await;
    assert_eq!(get_manifest(&alice, "alice/app", "1").await, StatusCode::OK);

    let exchanges = proxy.exchanges();
    let tokens = requests_to(&exchanges, "/token");
    let scopes: Vec<Vec<String>> = tokens.iter().map(|e| token_scopes(e)).collect();
    assert_eq!(
        scopes,
        [
            vec!["repository:alice/app:pull".to_string()],
            vec!["repository:alice/app:pull,push".to_string()],
        ],
        "a pull token, then one upgraded for the push (and reused after)"
    );
    assert!(
        tokens.iter().all(|e| scheme(e) == Some("Basic")),
        "alice's password goes to the token service only"
    );
    let api: Vec<_> = exchanges
        .iter()
        .filter(|e| e.path.starts_with("/v2/") && e.path != "/v2/")
        .collect();
    assert!(
        api.iter().all(|e| scheme(e) == Some("Bearer")),
        "every API request carries a token: {api:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_service_refusal_names_the_user() {
    let reg = registry(AuthMode::Token, true).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = proxy(&reg, vec![]);
    let mallory = signed_in(dir.path(), &proxy.addr, ("alice", "wrong"));
    let err = mallory.check_login().await.unwrap_err();
    assert_eq!(err.kind, Kind::Unauthorized, "{err}");
    assert!(err.message.contains("as alice"), "{err}");
    let exchanges = proxy.exchanges();
    assert_eq!(
        requests_to(&exchanges, "/token").len(),
        1,
        "a refusal is not retried"
    );
}

/// Without anonymous access, `/v2/` challenges; the password then goes with every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_sends_the_password_with_every_request() {
    let reg = registry(AuthMode::Basic, false).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = proxy(&reg, vec![]);
    let alice = signed_in(dir.path(), &proxy.addr, ALICE);
    alice.check_login().await.expect("alice signs in");
    push_small_image(&alice, "alice/app", "1").await;
    assert_eq!(get_manifest(&alice, "alice/app", "1").await, StatusCode::OK);

    let exchanges = proxy.exchanges();
    assert!(requests_to(&exchanges, "/token").is_empty(), "no tokens");
    assert_eq!(exchanges[0].path, "/v2/");
    assert_eq!(scheme(&exchanges[0]), None, "the ping learns the challenge");
    assert_eq!(exchanges[0].status, Some(401));
    assert!(
        exchanges[1..].iter().all(|e| scheme(e) == Some("Basic")),
        "{exchanges:#?}"
    );

    let wrong = signed_in(dir.path(), &proxy.addr, ("alice", "wrong"));
    let err = wrong.check_login().await.unwrap_err();
    assert_eq!(err.kind, Kind::Unauthorized, "{err}");
}
