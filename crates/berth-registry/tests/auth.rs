//! Auth: htpasswd users over basic auth and over tokens from `/token`, and the rules.

use std::time::Duration;

use base64::Engine;
use berth_registry::auth::{Claims, Grant};
use berth_registry::config::{Action, AuthMode, Rule};
use serde_json::Value;
use test_support::registry::*;

fn rule(users: &[&str], repositories: &[&str], actions: &[Action]) -> Rule {
    Rule {
        users: users.iter().map(|s| s.to_string()).collect(),
        repositories: repositories.iter().map(|s| s.to_string()).collect(),
        actions: actions.to_vec(),
    }
}

/// alice may do anything, bob may pull `team/*` and push `bob/*`, anyone may pull `public/**`.
fn rules(anonymous: bool) -> Vec<Rule> {
    let mut rules = vec![
        rule(
            &["alice"],
            &["**"],
            &[Action::Pull, Action::Push, Action::Delete],
        ),
        rule(&["bob"], &["team/*"], &[Action::Pull]),
        rule(&["bob"], &["bob/*"], &[Action::Pull, Action::Push]),
    ];
    if anonymous {
        rules.push(rule(&["anonymous"], &["public/**"], &[Action::Pull]));
    }
    rules
}

async fn start_auth(mode: AuthMode, anonymous: bool, ttl: Duration) -> InProcessRegistry {
    start_with(|config, dir| {
        let htpasswd = dir.join("htpasswd");
        write_htpasswd(&htpasswd, &[("alice", "alice-pw"), ("bob", "bob-pw")]);
        config.auth.mode = mode;
        config.auth.htpasswd = Some(htpasswd);
        config.auth.rules = rules(anonymous);
        config.auth.token_ttl = ttl;
    })
    .await
}

/// The same registry seen by another client.
fn as_client(reg: &InProcessRegistry, http: reqwest::Client) -> InProcessRegistry {
    reg.with_client(http)
}

fn challenge(r: &reqwest::Response) -> String {
    header(r, "www-authenticate").expect("a WWW-Authenticate challenge")
}

// Basic auth.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_challenges_and_checks_passwords() {
    let reg = start_auth(AuthMode::Basic, false, Duration::from_secs(300)).await;
    // No credentials.
    for path in ["/v2/", "/v2/team/app/tags/list", "/v2/_catalog"] {
        let r = send(reg.get(path)).await;
        assert_eq!(r.status(), 401, "{path}");
        assert!(
            challenge(&r).starts_with("Basic realm="),
            "{}",
            challenge(&r)
        );
        expect_error(r, 401, "UNAUTHORIZED").await;
    }
    // Wrong password, unknown user.
    for (user, pw) in [("alice", "wrong"), ("mallory", "alice-pw"), ("alice", "")] {
        let r = send(reg.get("/v2/").header("authorization", basic(user, pw))).await;
        assert!(challenge(&r).starts_with("Basic realm="));
        expect_error(r, 401, "UNAUTHORIZED").await;
    }
    // The right password.
    let r = send(
        reg.get("/v2/")
            .header("authorization", basic("alice", "alice-pw")),
    )
    .await;
    expect_status(r, 200).await;
    let alice = as_client(&reg, client_with_auth(&basic("alice", "alice-pw")));
    let image = oci_image(1);
    push_image(&alice, "team/app", &image, Some("v1")).await;
    let r = expect_status(send(alice.get("/v2/team/app/manifests/v1")).await, 200).await;
    assert!(r.bytes().await.unwrap()[..] == image.bytes[..]);
    // Without credentials the content stays out of reach, and so does whether a repository
    // exists: a reference that names nothing is a 404 only to those who may pull.
    for path in [
        "/v2/team/app/manifests/v1",
        "/v2/team/app/manifests/.INVALID_MANIFEST_NAME",
    ] {
        let r = send(reg.get(path)).await;
        expect_error(r, 401, "UNAUTHORIZED").await;
    }
    let r = send(alice.get("/v2/team/app/manifests/.INVALID_MANIFEST_NAME")).await;
    expect_error(r, 404, "MANIFEST_UNKNOWN").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_rules_deny_and_allow_anonymous_pulls() {
    let reg = start_auth(AuthMode::Basic, true, Duration::from_secs(300)).await;
    let alice = as_client(&reg, client_with_auth(&basic("alice", "alice-pw")));
    let bob = as_client(&reg, client_with_auth(&basic("bob", "bob-pw")));
    let image = oci_image(1);
    push_image(&alice, "team/app", &image, Some("v1")).await;
    push_image(&alice, "public/app", &image, Some("v1")).await;
    push_image(&alice, "private/app", &image, Some("v1")).await;

    // bob may pull team/*, nothing more.
    let r = expect_status(send(bob.get("/v2/team/app/manifests/v1")).await, 200).await;
    assert!(r.bytes().await.unwrap()[..] == image.bytes[..]);
    expect_error(
        send(bob.post("/v2/team/app/blobs/uploads/")).await,
        403,
        "DENIED",
    )
    .await;
    expect_error(
        send(bob.delete("/v2/team/app/manifests/v1")).await,
        403,
        "DENIED",
    )
    .await;
    expect_error(
        send(bob.get("/v2/private/app/manifests/v1")).await,
        403,
        "DENIED",
    )
    .await;
    // bob can't mount what he may not pull: he gets an upload session instead.
    let secret = &image.blobs[1].digest;
    let r = send(bob.post(&format!(
        "/v2/bob/app/blobs/uploads/?mount={secret}&from=private/app"
    )))
    .await;
    expect_status(r, 202).await;
    assert!(!blob_exists(&alice, "bob/app", secret).await);
    let r = send(bob.post(&format!(
        "/v2/bob/app/blobs/uploads/?mount={secret}&from=team/app"
    )))
    .await;
    expect_status(r, 201).await;
    // What anyone may pull, bob may pull signed in.
    expect_status(send(bob.get("/v2/public/app/manifests/v1")).await, 200).await;
    expect_error(
        send(bob.post("/v2/public/app/blobs/uploads/")).await,
        403,
        "DENIED",
    )
    .await;
    let r = send(
        bob.put("/v2/team/app/manifests/v2")
            .header("content-type", OCI_MANIFEST)
            .body(image.bytes.clone()),
    )
    .await;
    expect_error(r, 403, "DENIED").await;
    assert_eq!(
        tags(&alice, "team/app").await,
        ["v1"],
        "bob's push changed nothing"
    );

    // Anonymous may pull public/**, and only pull.
    let r = expect_status(send(reg.get("/v2/public/app/manifests/v1")).await, 200).await;
    assert!(r.bytes().await.unwrap()[..] == image.bytes[..]);
    let blob = &image.blobs[0];
    let r = expect_status(
        send(reg.get(&format!("/v2/public/app/blobs/{}", blob.digest))).await,
        200,
    )
    .await;
    assert!(r.bytes().await.unwrap()[..] == blob.bytes[..]);
    let r = send(reg.post("/v2/public/app/blobs/uploads/")).await;
    assert!(challenge(&r).starts_with("Basic realm="));
    expect_error(r, 401, "UNAUTHORIZED").await;
    expect_error(
        send(reg.get("/v2/team/app/manifests/v1")).await,
        401,
        "UNAUTHORIZED",
    )
    .await;

    // The catalog lists what the caller may pull.
    let body = json_body(send(bob.get("/v2/_catalog")).await).await;
    assert_eq!(
        body["repositories"],
        serde_json::json!(["bob/app", "public/app", "team/app"])
    );
    let body = json_body(send(alice.get("/v2/_catalog")).await).await;
    assert_eq!(
        body["repositories"],
        serde_json::json!(["bob/app", "private/app", "public/app", "team/app"])
    );
}

/// An anonymous rule must not make `/v2/` answer 200: that is how clients learn to send
/// their credentials, and what `docker login` checks a password against.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_challenges_anonymous_callers_whatever_the_rules() {
    for (mode, scheme) in [(AuthMode::Basic, "Basic "), (AuthMode::Token, "Bearer ")] {
        let reg = start_auth(mode, true, Duration::from_secs(300)).await;
        for request in [reg.get("/v2/"), reg.head("/v2/")] {
            let r = send(request).await;
            assert_eq!(r.status(), 401, "{mode:?}");
            assert!(
                challenge(&r).starts_with(scheme),
                "{mode:?}: {}",
                challenge(&r)
            );
        }
        if mode == AuthMode::Basic {
            let r = send(
                reg.get("/v2/")
                    .header("authorization", basic("alice", "wrong")),
            )
            .await;
            expect_error(r, 401, "UNAUTHORIZED").await;
            let r = send(
                reg.get("/v2/")
                    .header("authorization", basic("alice", "alice-pw")),
            )
            .await;
            expect_status(r, 200).await;
        }
    }
    // Anonymous pulls stay decided per repository.
    let reg = start_auth(AuthMode::Basic, true, Duration::from_secs(300)).await;
    let alice = as_client(&reg, client_with_auth(&basic("alice", "alice-pw")));
    push_image(&alice, "public/app", &oci_image(1), Some("v1")).await;
    expect_status(send(reg.get("/v2/public/app/manifests/v1")).await, 200).await;
    expect_error(
        send(
            reg.get("/v2/public/app/tags/list")
                .header("authorization", basic("alice", "no")),
        )
        .await,
        401,
        "UNAUTHORIZED",
    )
    .await;
}

// Tokens.

/// Asks `/token` for `scopes`, as `user` (or anonymously); returns the token.
async fn token(reg: &InProcessRegistry, user: Option<(&str, &str)>, scopes: &[&str]) -> String {
    let mut query: Vec<(&str, &str)> = vec![("service", "berth")];
    query.extend(scopes.iter().map(|s| ("scope", *s)));
    let mut request = reg.get("/token").query(&query);
    if let Some((u, p)) = user {
        request = request.header("authorization", basic(u, p));
    }
    let body = json_body(send(request).await).await;
    body["token"].as_str().expect("a token").to_string()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_auth_challenges_with_the_realm() {
    let reg = start_auth(AuthMode::Token, false, Duration::from_secs(300)).await;
    let r = send(reg.get("/v2/")).await;
    assert_eq!(
        challenge(&r),
        format!(
            "Bearer realm=\"http://{}/token\",service=\"berth\"",
            reg.addr
        )
    );
    expect_error(r, 401, "UNAUTHORIZED").await;
    let r = send(reg.get("/v2/team/app/tags/list")).await;
    let c = challenge(&r);
    assert!(
        c.starts_with(&format!(
            "Bearer realm=\"http://{}/token\",service=\"berth\"",
            reg.addr
        )),
        "{c}"
    );
    assert!(c.contains("scope=\"repository:team/app:pull\""), "{c}");
    // Basic credentials are no way in: a token is.
    let r = send(
        reg.get("/v2/")
            .header("authorization", basic("alice", "alice-pw")),
    )
    .await;
    assert_eq!(r.status(), 401);
    let t = token(&reg, Some(("alice", "alice-pw")), &[]).await;
    let r = send(reg.get("/v2/").header("authorization", bearer(&t))).await;
    expect_status(r, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_issues_tokens_for_scopes() {
    let reg = start_auth(AuthMode::Token, false, Duration::from_secs(300)).await;
    let r = send(
        reg.get("/token?service=berth&scope=repository:alice/app:pull,push")
            .header("authorization", basic("alice", "alice-pw")),
    )
    .await;
    let body = json_body(r).await;
    let token = body["token"].as_str().expect("token");
    assert!(!token.is_empty());
    assert_eq!(body["access_token"], body["token"]);
    assert_eq!(body["expires_in"], 300);
    let issued = body["issued_at"].as_str().expect("issued_at");
    chrono::DateTime::parse_from_rfc3339(issued).expect("issued_at is RFC 3339");

    // Bad credentials get no token.
    let r = send(
        reg.get("/token?service=berth&scope=repository:alice/app:pull")
            .header("authorization", basic("alice", "nope")),
    )
    .await;
    assert_eq!(r.status(), 401);
    // Another service's token isn't issued here.
    let r = send(
        reg.get("/token?service=elsewhere&scope=repository:alice/app:pull")
            .header("authorization", basic("alice", "alice-pw")),
    )
    .await;
    assert_eq!(r.status(), 400);

    // The token pushes and pulls that repository.
    let alice = as_client(&reg, client_with_auth(&bearer(token)));
    let image = oci_image(2);
    push_image(&alice, "alice/app", &image, Some("v1")).await;
    let r = expect_status(send(alice.get("/v2/alice/app/manifests/v1")).await, 200).await;
    assert!(r.bytes().await.unwrap()[..] == image.bytes[..]);
    for blob in &image.blobs {
        let r = expect_status(
            send(alice.get(&format!("/v2/alice/app/blobs/{}", blob.digest))).await,
            200,
        )
        .await;
        assert!(r.bytes().await.unwrap()[..] == blob.bytes[..]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_without_the_scope_get_insufficient_scope() {
    let reg = start_auth(AuthMode::Token, false, Duration::from_secs(300)).await;
    let pull_only = token(
        &reg,
        Some(("alice", "alice-pw")),
        &["repository:alice/app:pull"],
    )
    .await;
    let alice = as_client(&reg, client_with_auth(&bearer(&pull_only)));

    let r = send(alice.post("/v2/alice/app/blobs/uploads/")).await;
    let c = challenge(&r);
    assert!(c.contains("error=\"insufficient_scope\""), "{c}");
    assert!(
        c.contains("scope=\"repository:alice/app:pull,push\""),
        "{c}"
    );
    assert!(
        c.contains(&format!("realm=\"http://{}/token\"", reg.addr)),
        "{c}"
    );
    expect_error(r, 401, "UNAUTHORIZED").await;

    let r = send(alice.get("/v2/alice/other/tags/list")).await;
    let c = challenge(&r);
    assert!(c.contains("error=\"insufficient_scope\""), "{c}");
    assert!(c.contains("scope=\"repository:alice/other:pull\""), "{c}");
    expect_error(r, 401, "UNAUTHORIZED").await;

    let r = send(alice.delete("/v2/alice/app/manifests/v1")).await;
    let c = challenge(&r);
    assert!(c.contains("scope=\"repository:alice/app:delete\""), "{c}");
    assert_eq!(r.status(), 401);

    // The scope it has works.
    let r = send(alice.get("/v2/alice/app/tags/list")).await;
    expect_error(r, 404, "NAME_UNKNOWN").await;

    // The catalog has a scope of its own.
    let r = send(alice.get("/v2/_catalog")).await;
    let c = challenge(&r);
    assert!(c.contains("scope=\"registry:catalog:*\""), "{c}");
    assert_eq!(r.status(), 401);
    let t = token(&reg, Some(("alice", "alice-pw")), &["registry:catalog:*"]).await;
    let lister = as_client(&reg, client_with_auth(&bearer(&t)));
    let body = json_body(send(lister.get("/v2/_catalog")).await).await;
    assert_eq!(body["repositories"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_users_the_rules_refuse_are_denied() {
    let reg = start_auth(AuthMode::Token, true, Duration::from_secs(300)).await;
    let admin = token(
        &reg,
        Some(("alice", "alice-pw")),
        &[
            "repository:team/app:pull,push",
            "repository:public/app:pull,push",
        ],
    )
    .await;
    let alice = as_client(&reg, client_with_auth(&bearer(&admin)));
    let image = oci_image(1);
    push_image(&alice, "team/app", &image, Some("v1")).await;
    push_image(&alice, "public/app", &image, Some("v1")).await;

    // bob asks for push; the token only carries the pull the rules give him.
    let t = token(
        &reg,
        Some(("bob", "bob-pw")),
        &[
            "repository:team/app:pull,push",
            "repository:private/app:pull",
        ],
    )
    .await;
    let bob = as_client(&reg, client_with_auth(&bearer(&t)));
    expect_status(send(bob.get("/v2/team/app/manifests/v1")).await, 200).await;
    expect_error(
        send(bob.post("/v2/team/app/blobs/uploads/")).await,
        403,
        "DENIED",
    )
    .await;
    expect_error(
        send(bob.get("/v2/private/app/tags/list")).await,
        403,
        "DENIED",
    )
    .await;
    // What anyone may pull, bob's token may pull.
    let t = token(
        &reg,
        Some(("bob", "bob-pw")),
        &["repository:public/app:pull"],
    )
    .await;
    let bob_public = as_client(&reg, client_with_auth(&bearer(&t)));
    expect_status(
        send(bob_public.get("/v2/public/app/manifests/v1")).await,
        200,
    )
    .await;
    assert_eq!(tags(&alice, "team/app").await, ["v1"]);

    // Anonymous tokens pull public/**.
    let anon = token(&reg, None, &["repository:public/app:pull,push"]).await;
    let anyone = as_client(&reg, client_with_auth(&bearer(&anon)));
    let r = expect_status(send(anyone.get("/v2/public/app/manifests/v1")).await, 200).await;
    assert!(r.bytes().await.unwrap()[..] == image.bytes[..]);
    let r = send(anyone.post("/v2/public/app/blobs/uploads/")).await;
    assert_eq!(r.status(), 401, "anonymous is asked to sign in, not denied");
    let r = send(anyone.get("/v2/team/app/manifests/v1")).await;
    assert_eq!(r.status(), 401);
}

/// Claims granting `repo` everything, valid for five minutes.
fn claims(user: &str, repo: &str) -> Claims {
    let now = chrono::Utc::now().timestamp() as u64;
    Claims {
        iss: "berth".into(),
        sub: user.into(),
        aud: "berth".into(),
        exp: now + 300,
        nbf: now - 5,
        iat: now,
        jti: random_word(),
        access: vec![Grant {
            kind: "repository".into(),
            name: repo.into(),
            actions: vec!["pull".into(), "push".into(), "delete".into()],
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_altered_tokens_are_refused() {
    let reg = start_auth(AuthMode::Token, false, Duration::from_secs(300)).await;
    let alice = token(
        &reg,
        Some(("alice", "alice-pw")),
        &["repository:alice/app:pull,push"],
    )
    .await;
    let ok = as_client(&reg, client_with_auth(&bearer(&alice)));
    push_image(&ok, "alice/app", &oci_image(0), Some("v1")).await;

    // Signed with another key.
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims("alice", "alice/app"),
        &jsonwebtoken::EncodingKey::from_secret(b"not the registry's key, but 32 bytes"),
    )
    .unwrap();
    // The real token with its claims changed (bob for alice; another repository).
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = alice.split('.').collect();
    assert_eq!(parts.len(), 3);
    let mut payload: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    payload["access"][0]["name"] = "alice/secret".into();
    let altered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(payload.to_string()),
        parts[2]
    );
    // No signature at all.
    let unsigned = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(serde_json::to_string(&claims("alice", "alice/app")).unwrap())
    );
    for (what, t) in [
        ("forged", forged),
        ("altered", altered),
        ("unsigned", unsigned),
        ("garbage", "abc.def.ghi".to_string()),
    ] {
        let client = as_client(&reg, client_with_auth(&bearer(&t)));
        for path in [
            "/v2/",
            "/v2/alice/app/manifests/v1",
            "/v2/alice/secret/tags/list",
        ] {
            let r = send(client.get(path)).await;
            assert!(challenge(&r).starts_with("Bearer "), "{what} {path}");
            expect_error(r, 401, "UNAUTHORIZED").await;
        }
    }
    // The genuine one still works.
    expect_status(send(ok.get("/v2/alice/app/manifests/v1")).await, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_not_yet_valid_are_refused() {
    let reg = start_auth(AuthMode::Token, false, Duration::from_secs(300)).await;
    let secret = std::fs::read(reg.path("root/registry/token.secret")).expect("the signing key");
    let sign = |nbf_ahead: u64| {
        let mut c = claims("alice", "alice/app");
        c.nbf += 5 + nbf_ahead;
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &c,
            &jsonwebtoken::EncodingKey::from_secret(&secret),
        )
        .unwrap()
    };
    // Valid from an hour from now: refused, whatever it grants.
    let later = as_client(&reg, client_with_auth(&bearer(&sign(3600))));
    for path in ["/v2/", "/v2/alice/app/tags/list"] {
        let r = send(later.get(path)).await;
        assert!(challenge(&r).contains("invalid_token"), "{path}");
        expect_error(r, 401, "UNAUTHORIZED").await;
    }
    // The same claims valid from now pass: the signature is right.
    let now = as_client(&reg, client_with_auth(&bearer(&sign(0))));
    expect_status(send(now.get("/v2/")).await, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_are_refused() {
    let reg = start_auth(AuthMode::Token, false, Duration::from_secs(1)).await;
    let t = token(
        &reg,
        Some(("alice", "alice-pw")),
        &["repository:alice/app:pull"],
    )
    .await;
    let client = as_client(&reg, client_with_auth(&bearer(&t)));
    expect_status(send(client.get("/v2/")).await, 200).await;
    // One second to live, and five of leeway.
    tokio::time::sleep(Duration::from_millis(7100)).await;
    for path in ["/v2/", "/v2/alice/app/tags/list"] {
        let r = send(client.get(path)).await;
        assert!(challenge(&r).starts_with("Bearer "), "{path}");
        expect_error(r, 401, "UNAUTHORIZED").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_password_and_refresh_grants() {
    let reg = start_auth(AuthMode::Token, false, Duration::from_secs(300)).await;
    let form = |pairs: &[(&str, &str)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let post = |body: String| {
        reg.post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let r = send(post(form(&[
        ("grant_type", "password"),
        ("service", "berth"),
        ("client_id", "tests"),
        ("username", "alice"),
        ("password", "alice-pw"),
        ("scope", "repository:alice/app:pull,push"),
    ])))
    .await;
    let body = json_body(r).await;
    let access = body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    let refresh = body["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();
    assert!(body["expires_in"].as_u64().is_some());
    let alice = as_client(&reg, client_with_auth(&bearer(&access)));
    push_image(&alice, "alice/app", &oci_image(0), Some("v1")).await;

    let r = send(post(form(&[
        ("grant_type", "password"),
        ("service", "berth"),
        ("username", "alice"),
        ("password", "wrong"),
    ])))
    .await;
    assert_eq!(r.status(), 401);

    let r = send(post(form(&[
        ("grant_type", "refresh_token"),
        ("service", "berth"),
        ("client_id", "tests"),
        ("refresh_token", &refresh),
        ("scope", "repository:alice/app:pull"),
    ])))
    .await;
    let body = json_body(r).await;
    let renewed = body["access_token"].as_str().expect("access_token");
    let client = as_client(&reg, client_with_auth(&bearer(renewed)));
    expect_status(send(client.get("/v2/alice/app/manifests/v1")).await, 200).await;
    // It carries only what was asked: pull.
    assert_eq!(
        send(client.post("/v2/alice/app/blobs/uploads/"))
            .await
            .status(),
        401
    );

    let r = send(post(form(&[
        ("grant_type", "refresh_token"),
        ("service", "berth"),
        ("refresh_token", "not.a.token"),
    ])))
    .await;
    assert_eq!(r.status(), 401);

    // The two kinds of token don't stand in for each other.
    let refresh_as_access = as_client(&reg, client_with_auth(&bearer(&refresh)));
    assert_eq!(
        send(refresh_as_access.get("/v2/alice/app/manifests/v1"))
            .await
            .status(),
        401
    );
    let r = send(post(form(&[
        ("grant_type", "refresh_token"),
        ("service", "berth"),
        ("refresh_token", &access),
    ])))
    .await;
    assert_eq!(r.status(), 401);
}

/// The token signing key is created 0600: never readable by others, not even for the moment
/// between a write and a chmod (inotify would see the chmod as an attribute change).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signing_key_is_created_private() {
    use rustix::fs::inotify;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let store = std::sync::Arc::new(berth_store::Store::open(&root).unwrap());
    let keys = root.join("registry");
    std::fs::create_dir_all(&keys).unwrap();
    let watch = inotify::init(inotify::CreateFlags::NONBLOCK).unwrap();
    inotify::add_watch(
        &watch,
        &keys,
        inotify::WatchFlags::CREATE | inotify::WatchFlags::ATTRIB | inotify::WatchFlags::MOVED_TO,
    )
    .unwrap();
    let config = berth_registry::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..berth_registry::Config::default()
    };
    let server = berth_registry::Server::bind(config, store).await.unwrap();
    drop(server);

    let mode = std::fs::metadata(keys.join("token.secret"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let mut buf = [std::mem::MaybeUninit::uninit(); 4096];
    let mut events = inotify::Reader::new(&watch, &mut buf);
    let mut seen = Vec::new();
    while let Ok(event) = events.next() {
        seen.push((event.events(), event.file_name().map(|n| n.to_owned())));
    }
    assert!(
        seen.iter()
            .any(|(e, _)| e.contains(inotify::ReadFlags::MOVED_TO)),
        "the key is written: {seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|(e, _)| e.contains(inotify::ReadFlags::ATTRIB)),
        "no mode change after creation: {seen:?}"
    );
}
