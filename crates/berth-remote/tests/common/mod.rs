//! What every berth-remote test starts from: berth's registry in this process, behind a
//! fault proxy that records every request (and fails the ones a test asks it to), and a
//! client that reaches it over loopback.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use berth_oci::Digest;
use berth_registry::config::{Action, AuthMode, Rule};
use berth_remote::client::Request;
use berth_remote::{Client, Credential, Options, Registry, Scope};
use bytes::Bytes;
use reqwest::{Method, StatusCode};
use test_support::registry::{InProcessRegistry, write_htpasswd};
use test_support::{Exchange, Fault, FaultProxy};

pub const ALICE: (&str, &str) = ("alice", "alice-pw");

/// berth's registry with `mode` auth: alice may do anything; anyone may pull `public/**` if
/// `anonymous`.
pub async fn registry(mode: AuthMode, anonymous: bool) -> InProcessRegistry {
    test_support::registry::start_with(|config, dir| {
        let htpasswd = dir.join("htpasswd");
        write_htpasswd(&htpasswd, &[ALICE]);
        config.auth.mode = mode;
        config.auth.htpasswd = Some(htpasswd);
        config.auth.rules = vec![Rule {
            users: vec![ALICE.0.into()],
            repositories: vec!["**".into()],
            actions: vec![Action::Pull, Action::Push, Action::Delete],
        }];
        if anonymous {
            config.auth.rules.push(Rule {
                users: vec!["anonymous".into()],
                repositories: vec!["public/**".into()],
                actions: vec![Action::Pull],
            });
        }
    })
    .await
}

/// A fault proxy in front of `registry` with the faults of `plan`.
pub fn proxy(registry: &InProcessRegistry, plan: Vec<Fault>) -> FaultProxy {
    FaultProxy::start(&registry.addr.to_string(), plan)
}

/// A client whose retries pause 10 ms, doubling: a test sees only pauses the registry asks
/// for with `Retry-After`. Its Docker config (in `dir`) holds no credentials.
pub fn client(dir: &Path, retries: u32) -> Client {
    Client::new(Options {
        docker_config: Some(dir.join("no-credentials.json")),
        retries: Some(retries),
        backoff: Some(Duration::from_millis(10)),
        ..Options::default()
    })
    .expect("the client is set up")
}

/// The registry at `host` as nobody.
pub fn anonymous(dir: &Path, host: &str) -> Arc<Registry> {
    client(dir, 5)
        .registry(host)
        .expect("no credentials to read")
}

/// The registry at `host` as `user`.
pub fn signed_in(dir: &Path, host: &str, (user, password): (&str, &str)) -> Arc<Registry> {
    client(dir, 5).registry_with(
        host,
        Credential::Basic {
            username: user.into(),
            password: password.into(),
        },
    )
}

/// Pushes a small image (a config blob and its manifest) as `repo:tag` through the client;
/// returns the manifest's digest.
pub async fn push_small_image(registry: &Registry, repo: &str, tag: &str) -> Digest {
    let scopes = [Scope::push(repo)];
    let config = Bytes::from(format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"config":{{"Labels":{{"tag":"{tag}"}}}}}}"#
    ));
    let config_digest = Digest::sha256(&config);
    let post = Request::new(
        Method::POST,
        format!("/v2/{repo}/blobs/uploads/?digest={config_digest}"),
        &scopes,
    )
    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
    .body(config.clone());
    let response = registry.send(&post).await.expect("the config goes up");
    assert_eq!(response.status(), StatusCode::CREATED, "config upload");
    let manifest = Bytes::from(format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[]}}"#,
        config.len()
    ));
    let put = Request::new(Method::PUT, format!("/v2/{repo}/manifests/{tag}"), &scopes)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/vnd.oci.image.manifest.v1+json",
        )
        .body(manifest.clone());
    let response = registry.send(&put).await.expect("the manifest goes up");
    assert_eq!(response.status(), StatusCode::CREATED, "manifest push");
    Digest::sha256(&manifest)
}

/// `GET /v2/<repo>/manifests/<reference>` with pull scope; the status it came to.
pub async fn get_manifest(registry: &Registry, repo: &str, reference: &str) -> StatusCode {
    let scopes = [Scope::pull(repo)];
    let req = Request::new(
        Method::GET,
        format!("/v2/{repo}/manifests/{reference}"),
        &scopes,
    )
    .header(
        reqwest::header::ACCEPT,
        "application/vnd.oci.image.manifest.v1+json",
    );
    registry
        .send(&req)
        .await
        .expect("the registry answers")
        .status()
}

/// The requests the proxy saw whose path contains `part`.
pub fn requests_to<'a>(exchanges: &'a [Exchange], part: &str) -> Vec<&'a Exchange> {
    exchanges.iter().filter(|e| e.path.contains(part)).collect()
}

/// The `scope` parameters of a token request.
pub fn token_scopes(e: &Exchange) -> Vec<String> {
    let query = e.path.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned())
        .collect()
}
