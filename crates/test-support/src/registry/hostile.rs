//! A registry that lies, for testing what berth's client does with what a server sends.
//!
//! [`HostileRegistry`] listens on a loopback address of the caller's choosing (`127.0.0.1`,
//! or `127.0.0.2` to play a second host) and answers every request as its script says: a
//! whole answer, a body that never ends, or a body that stalls after a few bytes. It records
//! every request it receives (method, path and query, headers), so a test can assert on what
//! reached it, above all which credentials did.
//!
//! ```ignore
//! let other = HostileRegistry::start("127.0.0.2", |_| Answer::status(404));
//! let registry = HostileRegistry::start("127.0.0.1", move |req| match req.path.as_str() {
//!     "/v2/" => Answer::status(200),
//!     _ => Answer::status(404).header("Link", &format!("<http://{}/x>; rel=\"next\"", other_addr)),
//! });
//! // … run the client against registry.addr …
//! assert!(other.received().iter().all(|r| r.header("authorization").is_none()));
//! ```

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};

type AnswerBody = BoxBody<Bytes, Infallible>;

/// A request as the hostile registry received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Header names lowercased, values as sent.
    pub headers: Vec<(String, String)>,
}

impl Received {
    /// The first value of a header (`name` lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the body of an answer goes.
#[derive(Debug, Clone)]
enum Shape {
    /// These bytes, with their `Content-Length`.
    Whole(Bytes),
    /// This chunk, over and over, chunked, without end.
    Endless(Bytes),
    /// These bytes under a `Content-Length` of `announced`, then silence with the connection
    /// held open.
    Stall { prefix: Bytes, announced: u64 },
}

/// One answer of a script.
#[derive(Debug, Clone)]
pub struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    shape: Shape,
}

impl Answer {
    /// `status` with an empty body.
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            shape: Shape::Whole(Bytes::new()),
        }
    }

    /// 200 with `body`.
    pub fn ok(body: impl Into<Bytes>) -> Answer {
        Answer {
            shape: Shape::Whole(body.into()),
            ..Answer::status(200)
        }
    }

    /// 200 with `chunk` repeated for ever (chunked encoding: no length announced).
    pub fn endless(chunk: impl Into<Bytes>) -> Answer {
        Answer {
            shape: Shape::Endless(chunk.into()),
            ..Answer::status(200)
        }
    }

    /// 200 announcing `announced` bytes, sending `prefix`, then nothing more, ever.
    pub fn stall(prefix: impl Into<Bytes>, announced: u64) -> Answer {
        Answer {
            shape: Shape::Stall {
                prefix: prefix.into(),
                announced,
            },
            ..Answer::status(200)
        }
    }

    /// The same answer with another status.
    pub fn with_status(mut self, status: u16) -> Answer {
        self.status = status;
        self
    }

    /// The same answer with a header more.
    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

type Script = dyn Fn(&Received) -> Answer + Send + Sync;

/// A scripted HTTP/1.1 server on a loopback address, on a thread of its own with its own
/// tokio runtime; stopped on drop (connections held open by stalls are dropped with it).
pub struct HostileRegistry {
    /// `IP:PORT`: the registry's host in references.
    pub addr: String,
    received: Arc<Mutex<Vec<Received>>>,
    _server: crate::background::Background,
}

impl HostileRegistry {
    /// A registry on `ip` (a loopback address) and a free port, answering as `script` says.
    pub fn start(
        ip: &str,
        script: impl Fn(&Received) -> Answer + Send + Sync + 'static,
    ) -> HostileRegistry {
        let listener =
            std::net::TcpListener::bind((ip, 0)).expect("binds a port on a loopback address");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking socket");
        let addr = listener.local_addr().expect("a bound address").to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let log = received.clone();
        let server =
            crate::background::Background::http("hostile-registry", listener, move |req| {
                answer(script.clone(), log.clone(), req)
            });
        HostileRegistry {
            addr,
            received,
            _server: server,
        }
    }

    /// Every request so far, in the order they arrived.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The requests whose path (with its query) contains `part`.
    pub fn received_at(&self, part: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path.contains(part))
            .collect()
    }
}

async fn answer(
    script: Arc<Script>,
    received: Arc<Mutex<Vec<Received>>>,
    req: Request<Incoming>,
) -> Result<Response<AnswerBody>, Infallible> {
    let seen = Received {
        method: req.method().to_string(),
        path: req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string()),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    };
    received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(seen.clone());
    // Take what the client sends, so it sees the answer rather than a broken pipe.
    let _ = req.into_body().collect().await;
    let planned = script(&seen);
    let body = match planned.shape {
        Shape::Whole(bytes) => Lying::whole(bytes),
        Shape::Endless(chunk) => Lying::endless(chunk),
        Shape::Stall { prefix, announced } => Lying::stall(prefix, announced),
    };
    let mut response = Response::new(body.boxed());
    *response.status_mut() = StatusCode::from_u16(planned.status).expect("a valid status");
    for (name, value) in planned.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
        let value = HeaderValue::from_str(&value).expect("a valid header value");
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

/// A body that says what it likes about its length.
enum Lying {
    /// These bytes (taken once sent), announced with their length.
    Whole { bytes: Option<Bytes>, len: u64 },
    /// This chunk for ever, chunked.
    Endless(Bytes),
    /// The prefix (taken once sent) under a longer `Content-Length`, then silence.
    Stall {
        prefix: Option<Bytes>,
        announced: u64,
    },
}

impl Lying {
    fn whole(bytes: Bytes) -> Lying {
        Lying::Whole {
            len: bytes.len() as u64,
            bytes: Some(bytes).filter(|b| !b.is_empty()),
        }
    }

    fn endless(chunk: Bytes) -> Lying {
        assert!(!chunk.is_empty(), "an endless body repeats something");
        Lying::Endless(chunk)
    }

    fn stall(prefix: Bytes, announced: u64) -> Lying {
        Lying::Stall {
            prefix: Some(prefix).filter(|b| !b.is_empty()),
            announced,
        }
    }
}

impl Body for Lying {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match &mut *self {
            Lying::Whole { bytes, .. } => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Lying::Endless(chunk) => Poll::Ready(Some(Ok(Frame::data(chunk.clone())))),
            Lying::Stall { prefix, .. } => match prefix.take() {
                Some(b) => Poll::Ready(Some(Ok(Frame::data(b)))),
                // Never woken: the connection stays open and silent until the registry stops.
                None => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Lying::Whole { bytes: None, .. })
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Lying::Whole { len, .. } => SizeHint::with_exact(*len),
            Lying::Endless(_) => SizeHint::default(),
            Lying::Stall { announced, .. } => SizeHint::with_exact(*announced),
        }
    }
}
