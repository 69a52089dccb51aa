//! The `/v2/` API: one dispatcher reading the method and route, and an endpoint per file.

mod blobs;
mod listing;
mod manifests;
mod push;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;

use crate::app::App;
use crate::auth::{Identity, Need};
use crate::config::Action;
use crate::error::{ApiError, ApiResult, Code};
use crate::route::{self, Route};

/// The query parameters of a request, in order, repeated keys kept.
pub struct Query(Vec<(String, String)>);

impl Query {
    fn parse(uri: &Uri) -> Query {
        Query(
            uri.query()
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// What every endpoint gets.
pub struct Request<'a> {
    pub app: &'a App,
    pub headers: &'a HeaderMap,
    pub query: Query,
}

impl Request<'_> {
    pub fn authorize(&self, need: Need<'_>) -> ApiResult<Identity> {
        self.app.auth.authorize(self.headers, &need)
    }
}

/// Handles everything under `/v2/`.
pub async fn dispatch(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    mut headers: HeaderMap,
    body: Body,
) -> Response {
    with_host(&mut headers, &uri);
    let mut response = match route::parse(uri.path()) {
        Ok(Some(route)) => {
            let label = route.label();
            let req = Request {
                app: &app,
                headers: &headers,
                query: Query::parse(&uri),
            };
            let mut response = handle(&req, &method, route, body)
                .await
                .unwrap_or_else(IntoResponse::into_response);
            response.extensions_mut().insert(RouteLabel(label));
            response
        }
        Ok(None) => {
            ApiError::not_found(Code::Unsupported, format!("no endpoint at {}", uri.path()))
                .into_response()
        }
        Err(e) => e.into_response(),
    };
    response.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

/// HTTP/2 requests carry the host in the URI (`:authority`), not a `Host` header; challenges
/// build the token realm from `Host`, so put it there.
pub fn with_host(headers: &mut HeaderMap, uri: &Uri) {
    if headers.contains_key(header::HOST) {
        return;
    }
    if let Some(v) = uri
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        headers.insert(header::HOST, v);
    }
}

/// The route a response answered, for metrics and logs.
#[derive(Clone, Copy)]
pub struct RouteLabel(pub &'static str);

async fn handle(
    req: &Request<'_>,
    method: &Method,
    route: Route,
    body: Body,
) -> ApiResult<Response> {
    use Method as M;
    match (method, route) {
        (&M::GET | &M::HEAD, Route::Base) => {
            let who = req.authorize(Need::Login)?;
            Ok(with_user(
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    "{}",
                )
                    .into_response(),
                &who,
            ))
        }
        (&M::GET, Route::Catalog) => listing::catalog(req).await,
        (&M::GET, Route::Tags { name }) => listing::tags(req, &name).await,
        (&M::GET, Route::Referrers { name, digest }) => {
            listing::referrers(req, &name, &digest).await
        }
        (&M::GET | &M::HEAD, Route::Manifest { name, reference }) => {
            manifests::get(req, &name, &reference, method == M::HEAD).await
        }
        (&M::PUT, Route::Manifest { name, reference }) => {
            manifests::put(req, &name, &reference, body).await
        }
        (&M::DELETE, Route::Manifest { name, reference }) => {
            manifests::delete(req, &name, &reference).await
        }
        (&M::GET | &M::HEAD, Route::BadReference { name, refusal }) => {
            manifests::get_unnameable(req, &name, &refusal).await
        }
        (&M::PUT | &M::DELETE, Route::BadReference { refusal, .. }) => Err(*refusal),
        (&M::GET | &M::HEAD, Route::Blob { name, digest }) => {
            blobs::get(req, &name, &digest, method == M::HEAD).await
        }
        (&M::DELETE, Route::Blob { name, digest }) => blobs::delete(req, &name, &digest).await,
        (&M::POST, Route::Uploads { name }) => push::start(req, &name, body).await,
        (&M::PATCH, Route::Upload { name, id }) => push::patch(req, &name, &id, body).await,
        (&M::PUT, Route::Upload { name, id }) => push::finish(req, &name, &id, body).await,
        (&M::GET, Route::Upload { name, id }) => push::status(req, &name, &id).await,
        (&M::DELETE, Route::Upload { name, id }) => push::cancel(req, &name, &id).await,
        (m, route) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::Unsupported,
            format!("{m} is not supported on the {} endpoint", route.label()),
        )),
    }
}

/// Notes who made a request on its response, for the access log.
pub fn with_user(mut response: Response, who: &Identity) -> Response {
    response.extensions_mut().insert(who.clone());
    response
}

/// The repository action a method implies for upload endpoints.
pub fn push_need(name: &str) -> Need<'_> {
    Need::Repo(name, Action::Push)
}

/// The next chunk of a request body; an error once the client has sent nothing for `idle`
/// (a body trickling in, or stalled, must not hold a connection and a session for ever).
pub async fn next_chunk(
    stream: &mut (impl futures::Stream<Item = Result<Bytes, axum::Error>> + Unpin),
    idle: Duration,
) -> Option<Result<Bytes, String>> {
    match tokio::time::timeout(idle, stream.next()).await {
        Ok(chunk) => chunk.map(|c| c.map_err(|e| format!("reading the request body: {e}"))),
        Err(_) => Some(Err(format!(
            "the request body sent nothing for {}s; the registry stopped waiting",
            idle.as_secs()
        ))),
    }
}

/// Reads a whole request body, refusing more than `limit` bytes.
pub async fn read_body(
    req: &Request<'_>,
    body: Body,
    limit: usize,
    too_large: impl Fn() -> ApiError,
) -> ApiResult<Bytes> {
    let idle = req.app.config.limits.idle_timeout;
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = next_chunk(&mut stream, idle).await {
        let chunk = chunk.map_err(|why| ApiError::bad_request(Code::BlobUploadInvalid, why))?;
        if buf.len() + chunk.len() > limit {
            // What is left of the body is read by `unread::settle`, so the answer arrives.
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// The declared Content-Length, if any.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A `Link` header for the next page.
pub fn next_link(path: &str, params: &[(&str, &str)]) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("<{path}?{query}>; rel=\"next\"")
}

/// Repository not found, or known but without what was asked for.
pub async fn unknown(req: &Request<'_>, name: &str, code: Code, what: String) -> ApiError {
    let repo = name.to_string();
    let exists = req
        .app
        .metadata
        .run("looking up a repository", move |store| {
            store.meta().repo_exists(&repo)
        })
        .await;
    match exists {
        Ok(false) => ApiError::not_found(
            Code::NameUnknown,
            format!("repository {name} is not known to this registry"),
        )
        .detail(serde_json::json!({ "name": name })),
        _ => ApiError::not_found(code, what),
    }
}
