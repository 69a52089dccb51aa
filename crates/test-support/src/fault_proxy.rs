//! A reverse proxy that injects faults between a client and a registry on loopback.
//!
//! [`FaultProxy`] listens on a free 127.0.0.1 port and forwards every request (method, path
//! and query, headers including `Host` and `Authorization`, the body streamed) to the
//! upstream over HTTP/1.1, and streams the answer back untouched, except where a [`Fault`] of
//! its plan applies: a connection dropped in the middle of a body, a status (429, 503…)
//! instead of the answer, a flipped byte, an answer lost after the upstream acted. It records
//! every exchange and how often each fault fired, so a test can check the fault happened.
//!
//! ```ignore
//! let proxy = FaultProxy::start(&registry.addr, vec![Fault::DropMidBody {
//!     path_contains: "/blobs/sha256:",
//!     after_bytes: 100_000,
//!     times: 1,
//! }]);
//! // pull from proxy.addr …
//! assert_eq!(proxy.fired(0), 1);
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ProxyBody = BoxBody<Bytes, BoxError>;

/// One fault of a plan. Each applies to requests whose path (with its query) contains
/// `path_contains`, at most `times` times (`usize::MAX`: always), in the order the requests
/// come; where several faults match, the first in the plan that still has turns applies.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Forward the request, then answer the upstream's status, headers and first `after_bytes`
    /// bytes of the body, and close the connection. Applies only to successful answers with a
    /// `Content-Length` above `after_bytes`, so it never fires on a body too short to cut.
    DropMidBody {
        path_contains: &'static str,
        after_bytes: u64,
        times: usize,
    },
    /// Answer `status` (with `Retry-After` if given, and a registry-style error body) instead
    /// of forwarding, for requests with one of `methods` (empty: any).
    Status {
        path_contains: &'static str,
        methods: &'static [&'static str],
        status: u16,
        retry_after: Option<u64>,
        times: usize,
    },
    /// Forward, and flip every bit of the body's byte at `offset`. Applies only to successful
    /// answers longer than `offset`.
    CorruptByte {
        path_contains: &'static str,
        offset: u64,
        times: usize,
    },
    /// Forward the request (the upstream acts on it), then close the connection without
    /// answering: an acknowledgement lost on the way back. For requests with one of `methods`.
    DropResponse {
        path_contains: &'static str,
        methods: &'static [&'static str],
        times: usize,
    },
}

impl Fault {
    fn path_contains(&self) -> &'static str {
        match self {
            Fault::DropMidBody { path_contains, .. }
            | Fault::Status { path_contains, .. }
            | Fault::CorruptByte { path_contains, .. }
            | Fault::DropResponse { path_contains, .. } => path_contains,
        }
    }

    fn times(&self) -> usize {
        match self {
            Fault::DropMidBody { times, .. }
            | Fault::Status { times, .. }
            | Fault::CorruptByte { times, .. }
            | Fault::DropResponse { times, .. } => *times,
        }
    }

    fn methods(&self) -> &'static [&'static str] {
        match self {
            Fault::Status { methods, .. } | Fault::DropResponse { methods, .. } => methods,
            // Bodies to cut or corrupt come with GET.
            Fault::DropMidBody { .. } | Fault::CorruptByte { .. } => &["GET"],
        }
    }

    /// Whether the fault acts before the request is forwarded.
    fn before_forwarding(&self) -> bool {
        matches!(self, Fault::Status { .. })
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        path.contains(self.path_contains())
            && (self.methods().is_empty() || self.methods().contains(&method))
    }
}

/// One request the proxy saw, and what became of it.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    /// Path and query, as the client sent them.
    pub path: String,
    /// The request's headers as the client sent them (names in lower case).
    pub headers: Vec<(String, String)>,
    /// When the request arrived.
    pub at: Instant,
    /// The status the client was answered; `None` if no answer reached it.
    pub status: Option<u16>,
    /// The index in the plan of the fault applied to this exchange.
    pub fault: Option<usize>,
    /// Why forwarding failed, when the proxy answered 502 (an upstream that closed the
    /// connection before reading the whole request, say).
    pub error: Option<String>,
}

impl Exchange {
    /// A request header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    upstream: String,
    plan: Vec<Fault>,
    fired: Vec<usize>,
    exchanges: Vec<Exchange>,
}

impl State {
    /// Takes a turn of the first fault that applies, if any; returns its index.
    fn claim(&mut self, method: &str, path: &str, which: impl Fn(&Fault) -> bool) -> Option<usize> {
        let i = (0..self.plan.len()).find(|&i| {
            let f = &self.plan[i];
            which(f) && f.matches(method, path) && self.fired[i] < f.times()
        })?;
        self.fired[i] += 1;
        Some(i)
    }
}

/// A fault-injecting HTTP/1.1 reverse proxy on 127.0.0.1, on a thread of its own with its own
/// tokio runtime; stopped on drop.
pub struct FaultProxy {
    /// `127.0.0.1:PORT`: use it as the registry's host in references.
    pub addr: String,
    state: Arc<Mutex<State>>,
    _server: crate::background::Background,
}

impl FaultProxy {
    /// A proxy in front of `upstream` (`host:port`) with the faults of `plan`.
    pub fn start(upstream: &str, plan: Vec<Fault>) -> FaultProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds a loopback port");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State {
            upstream: upstream.to_string(),
            fired: vec![0; plan.len()],
            plan,
            exchanges: Vec::new(),
        }));
        let shared = state.clone();
        let server = crate::background::Background::http("fault-proxy", listener, move |req| {
            handle(shared.clone(), req)
        });
        FaultProxy {
            addr,
            state,
            _server: server,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the plan (and forgets how often the old one fired).
    pub fn set_plan(&self, plan: Vec<Fault>) {
        let mut s = self.state();
        s.fired = vec![0; plan.len()];
        s.plan = plan;
    }

    /// How many times fault `i` of the plan fired.
    pub fn fired(&self, i: usize) -> usize {
        self.state().fired[i]
    }

    /// Every request so far, in the order they arrived.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.state().exchanges.clone()
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, BoxError> {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let (index, upstream, early) = {
        let mut s = lock(&state);
        let early = s.claim(&method, &path, Fault::before_forwarding);
        let index = s.exchanges.len();
        s.exchanges.push(Exchange {
            method: method.clone(),
            path: path.clone(),
            headers,
            at: Instant::now(),
            status: None,
            fault: early,
            error: None,
        });
        let fault = early.map(|i| s.plan[i].clone());
        (index, s.upstream.clone(), fault)
    };
    let record = |status: Option<u16>, fault: Option<usize>| {
        let mut s = lock(&state);
        s.exchanges[index].status = status;
        if fault.is_some() {
            s.exchanges[index].fault = fault;
        }
    };

    if let Some(Fault::Status {
        status,
        retry_after,
        ..
    }) = early
    {
        // Read what the client sends first, so it sees the answer rather than a broken pipe.
        let _ = req.into_body().collect().await;
        let status = StatusCode::from_u16(status).expect("a valid status");
        let code = match status.as_u16() {
            429 => "TOOMANYREQUESTS",
            _ => "UNAVAILABLE",
        };
        let body = format!(
            r#"{{"errors":[{{"code":"{code}","message":"injected {}"}}]}}"#,
            status.as_u16()
        );
        let mut response = Response::new(full(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        record(Some(status.as_u16()), None);
        return Ok(response);
    }

    let response = match forward(&upstream, req).await {
        Ok(r) => r,
        Err(e) => {
            let mut response = Response::new(full(Bytes::from(format!("proxy: {e}"))));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            record(Some(502), None);
            lock(&state).exchanges[index].error = Some(format!("{e:?}"));
            return Ok(response);
        }
    };
    let status = response.status();
    let length = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let late = {
        let mut s = lock(&state);
        s.claim(&method, &path, |f| match f {
            Fault::DropResponse { .. } => true,
            Fault::DropMidBody { after_bytes, .. } => {
                status.is_success() && length.is_some_and(|n| n > *after_bytes)
            }
            Fault::CorruptByte { offset, .. } => {
                status.is_success() && length.is_some_and(|n| n > *offset)
            }
            Fault::Status { .. } => false,
        })
        .map(|i| (i, s.plan[i].clone()))
    };
    let (parts, body) = response.into_parts();
    let body = match late {
        Some((i, Fault::DropResponse { .. })) => {
            record(None, Some(i));
            // Let the upstream finish its answer, then drop it and the client's connection.
            let _ = body.collect().await;
            return Err("injected: answer dropped".into());
        }
        Some((i, Fault::DropMidBody { after_bytes, .. })) => {
            record(Some(status.as_u16()), Some(i));
            Faulty::new(body, Some(after_bytes), None).boxed()
        }
        Some((i, Fault::CorruptByte { offset, .. })) => {
            record(Some(status.as_u16()), Some(i));
            Faulty::new(body, None, Some(offset)).boxed()
        }
        _ => {
            record(Some(status.as_u16()), None);
            body.map_err(|e| Box::new(e) as BoxError).boxed()
        }
    };
    Ok(Response::from_parts(parts, body))
}

fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes).map_err(|e: Infallible| match e {}).boxed()
}

/// Sends the request to the upstream on a connection of its own, as it came.
async fn forward(upstream: &str, req: Request<Incoming>) -> Result<Response<Incoming>, BoxError> {
    let stream = TcpStream::connect(upstream).await?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let (mut parts, body) = req.into_parts();
    parts.extensions = Default::default();
    let request = Request::from_parts(parts, body);
    Ok(sender.send_request(request).await?)
}

/// A response body that stops after `drop_after` bytes (then fails, which makes hyper close
/// the connection) or has the byte at `corrupt_at` flipped.
struct Faulty {
    inner: Incoming,
    seen: u64,
    drop_after: Option<u64>,
    corrupt_at: Option<u64>,
    /// After the last byte before a drop: a pause so hyper flushes what was sent, then the end.
    dropping: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Faulty {
    fn new(inner: Incoming, drop_after: Option<u64>, corrupt_at: Option<u64>) -> Faulty {
        Faulty {
            inner,
            seen: 0,
            drop_after,
            corrupt_at,
            dropping: None,
        }
    }

    fn boxed(self) -> ProxyBody {
        BoxBody::new(self)
    }
}

impl Body for Faulty {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(sleep) = self.dropping.as_mut() {
            return match sleep.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => Poll::Ready(Some(Err("injected: connection dropped".into()))),
            };
        }
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(Some(Ok(frame))) => frame,
        };
        let Ok(mut data) = frame.into_data() else {
            // Trailers: none in this protocol; pass nothing on.
            return Poll::Ready(None);
        };
        let start = self.seen;
        let end = start + data.len() as u64;
        if let Some(at) = self.corrupt_at {
            if (start..end).contains(&at) {
                let mut bytes = BytesMut::from(&data[..]);
                bytes[(at - start) as usize] ^= 0xff;
                data = bytes.freeze();
            }
        }
        if let Some(limit) = self.drop_after {
            if end >= limit {
                data = data.slice(..(limit - start) as usize);
                self.dropping = Some(Box::pin(tokio::time::sleep(Duration::from_millis(50))));
                // Wake to start the pause even if nothing was left to send.
                cx.waker().wake_by_ref();
            }
        }
        self.seen = end;
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.dropping.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
