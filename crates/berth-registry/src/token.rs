//! `/token`: Docker's token endpoint. `GET` with basic auth (or none, for anonymous access)
//! and `scope` parameters, as every client does; `POST` with an OAuth2 form, as `docker login`
//! does first.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::App;
use crate::auth::{Identity, basic_credentials};
use crate::config::AuthMode;
use crate::error::{ApiError, Code};

pub async fn token(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if app.auth.mode() != AuthMode::Token {
        return ApiError::not_found(Code::Unsupported, "this registry doesn't issue tokens")
            .into_response();
    }
    let mut params: Vec<(String, String)> = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    if method == Method::POST {
        match axum::body::to_bytes(body, 64 * 1024).await {
            Ok(b) => params.extend(form_urlencoded::parse(&b).into_owned()),
            Err(_) => return bad("the form is too large"),
        }
    }
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(service) = get("service") {
        if service != app.auth.service() {
            return bad(&format!(
                "this registry's service is {:?}, not {service:?}",
                app.auth.service()
            ));
        }
    }

    // Who: basic credentials, an OAuth2 password grant, a refresh token, or nobody.
    let who = if method == Method::POST {
        match get("grant_type").as_deref() {
            Some("password") => match (get("username"), get("password")) {
                (Some(u), Some(p)) if app.auth.check_password(&u, &p) => Identity::User(u),
                _ => return unauthorized(),
            },
            Some("refresh_token") => {
                match get("refresh_token").map(|t| app.auth.verify_refresh_token(&t)) {
                    Some(Ok(claims)) if !claims.sub.is_empty() => Identity::User(claims.sub),
                    _ => return unauthorized(),
                }
            }
            _ => return bad("grant_type must be password or refresh_token"),
        }
    } else {
        match basic_credentials(&headers) {
            Some((u, p)) if app.auth.check_password(&u, &p) => Identity::User(u),
            Some(_) => return unauthorized(),
            None => Identity::Anonymous,
        }
    };
    let (token, expires_in) = app.auth.issue_token(&who, &scopes);
    let issued_at = chrono_now();
    let mut body = json!({
        "token": token,
        "access_token": token,
        "expires_in": expires_in,
        "issued_at": issued_at,
    });
    // A refresh token lets `docker login` keep signing in without the password.
    if method == Method::POST && matches!(who, Identity::User(_)) {
        body["refresh_token"] = json!(app.auth.issue_refresh_token(&who));
    }
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response.extensions_mut().insert(who);
    response
}

fn unauthorized() -> Response {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        Code::Unauthorized,
        "invalid username or password",
    )
    .header(header::WWW_AUTHENTICATE, "Basic realm=\"berth\"")
    .into_response()
}

fn bad(why: &str) -> Response {
    ApiError::bad_request(Code::Unsupported, why).into_response()
}

/// RFC 3339 UTC now, whole seconds.
fn chrono_now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
