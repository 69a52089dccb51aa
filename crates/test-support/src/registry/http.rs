//! Plain HTTP against a registry: sending, reading headers, and asserting statuses and the
//! distribution spec's error bodies.

use reqwest::{RequestBuilder, Response};
use serde_json::Value;

/// Sends a request and returns the response (panics only if the connection fails).
pub async fn send(request: RequestBuilder) -> Response {
    request
        .send()
        .await
        .expect("the request reaches the registry")
}

/// A response header as text, if present.
pub fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("header is text").to_string())
}

/// Every value of a header (a header may be repeated).
pub fn headers(response: &Response, name: &str) -> Vec<String> {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().expect("header is text").to_string())
        .collect()
}

/// Asserts a status; on mismatch the body says why.
pub async fn expect_status(response: Response, status: u16) -> Response {
    if response.status().as_u16() != status {
        let got = response.status();
        let url = response.url().clone();
        let body = response.text().await.unwrap_or_default();
        panic!("{url}: expected {status}, got {got}: {body}");
    }
    response
}

/// Asserts an error response: its status and that its JSON body is
/// `{"errors":[{"code": code, "message": ...}, ...]}` with `code` among them. Returns the body.
pub async fn expect_error(response: Response, status: u16, code: &str) -> Value {
    let got = response.status().as_u16();
    let url = response.url().clone();
    let text = response.text().await.expect("error body");
    assert_eq!(got, status, "{url}: status; body: {text}");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{url}: error body is not JSON ({e}): {text:?}"));
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{url}: no errors array in {text}"));
    assert!(!errors.is_empty(), "{url}: empty errors array");
    for e in errors {
        assert!(e["code"].is_string(), "{url}: error without a code: {text}");
        assert!(
            e["message"].is_string() || e.get("message").is_none(),
            "{url}: message is not text: {text}"
        );
    }
    assert!(
        errors.iter().any(|e| e["code"] == code),
        "{url}: expected error code {code}, got {text}"
    );
    body
}

/// The body of a successful JSON response.
pub async fn json_body(response: Response) -> Value {
    let response = expect_status(response, 200).await;
    response.json().await.expect("JSON body")
}

/// The error code of a JSON error body, as text.
pub fn error_code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body:?}"));
    v["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `Basic` credentials for a header.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// A client that sends `authorization` with every request.
pub fn client_with_auth(authorization: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        authorization.parse().expect("a header value"),
    );
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("client")
}
