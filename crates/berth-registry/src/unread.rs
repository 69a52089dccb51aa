//! Request bodies answered before they were read to the end: a 401 to a PATCH, a 416 to a
//! chunk out of order, a 404 to an upload that is gone, a 413, a 400 for a bad `?digest=`.
//!
//! Given back an HTTP/1 body that isn't finished, hyper reads what it already buffered and
//! otherwise closes the connection once the answer is written; the kernel then resets the
//! connection on the bytes still coming. A client still writing sees that reset, and Go's
//! net/http (containerd, skopeo, the spec's conformance suite), which writes the body and reads
//! the answer concurrently, reports `write: broken pipe` instead of the answer whenever its
//! write notices first. It reuses a connection only if it finished writing within 50 ms of the
//! answer, too. So every answer given early goes through [`settle`]: the rest of a body of up to
//! [`KEEP_ALIVE_MAX`] is read and dropped before the answer is sent, and the connection stays
//! usable; a larger one is answered with `Connection: close` at once and read on (up to
//! [`LINGER_MAX`], for at most [`LINGER_TIME`]) while the client finishes writing and reads the
//! answer, and the connection closes when the body ends.
//!
//! HTTP/2 needs none of it: there, an unread body ends with its stream reset (`NO_ERROR`, which
//! tells the client to stop sending), and the connection carries on.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Version, header};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use tokio::sync::oneshot;

/// The most of a body read and dropped before an early answer, to keep the connection.
/// Above clients' usual chunk sizes; a client sending more is better told to stop.
const KEEP_ALIVE_MAX: u64 = 8 << 20;
/// How long that reading may take, at most.
const KEEP_ALIVE_TIME: Duration = Duration::from_secs(5);
/// The most of a body read after an early answer that closes the connection.
const LINGER_MAX: u64 = 64 << 20;
/// How long that reading may take, at most.
const LINGER_TIME: Duration = Duration::from_secs(10);

/// Middleware: lets a handler answer before reading its request body, as described above.
pub async fn settle(request: Request, next: Next) -> Response {
    if request.version() >= Version::HTTP_2 || request.body().is_end_stream() {
        // No body (nearly every GET and HEAD): nothing can be left unread.
        return next.run(request).await;
    }
    let expects_continue = request
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (back, mut left) = oneshot::channel();
    let request = request.map(|body| Body::new(Watched::new(body, back)));
    let mut response = next.run(request).await;
    // The handler has dropped the body by now; it sent back what it left unread, if anything.
    let Ok(Leftover { mut body, started }) = left.try_recv() else {
        return response;
    };
    if expects_continue && !started {
        // The client waits for a 100 Continue before it sends the body; it gets the answer
        // instead, so it sends nothing, and hyper won't read a request past a body it skipped.
        close(&mut response);
        return response;
    }
    let known_too_long = body.size_hint().lower() > KEEP_ALIVE_MAX;
    if !known_too_long {
        match drain(&mut body, KEEP_ALIVE_MAX, KEEP_ALIVE_TIME).await {
            Drained::ToTheEnd | Drained::Broken => return response,
            Drained::Partly => {}
        }
    }
    close(&mut response);
    tokio::spawn(async move {
        drain(&mut body, LINGER_MAX, LINGER_TIME).await;
    });
    response
}

fn close(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

enum Drained {
    /// The body ended: the connection can carry the next request.
    ToTheEnd,
    /// More is coming than the bounds allow.
    Partly,
    /// The body failed (the client went away, or sent a malformed chunk): the connection is
    /// over either way.
    Broken,
}

/// Reads and drops a body until it ends, `max` bytes have come or `time` has passed.
async fn drain(body: &mut Body, max: u64, time: Duration) -> Drained {
    let reading = async {
        let mut read = 0u64;
        loop {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await;
            match frame {
                None => return Drained::ToTheEnd,
                Some(Err(_)) => return Drained::Broken,
                Some(Ok(frame)) => {
                    read += frame.data_ref().map_or(0, |d| d.len() as u64);
                    if read > max {
                        return Drained::Partly;
                    }
                }
            }
        }
    };
    tokio::time::timeout(time, reading)
        .await
        .unwrap_or(Drained::Partly)
}

/// What a handler left of a body.
struct Leftover {
    body: Body,
    /// Whether the handler read any of it (so a 100 Continue went out, if one was expected).
    started: bool,
}

/// A request body that, dropped before its end, sends the rest back to [`settle`].
struct Watched {
    body: Option<Body>,
    back: Option<oneshot::Sender<Leftover>>,
    started: bool,
    /// Ended, or failed: nothing to read on.
    over: bool,
}

impl Watched {
    fn new(body: Body, back: oneshot::Sender<Leftover>) -> Watched {
        Watched {
            body: Some(body),
            back: Some(back),
            started: false,
            over: false,
        }
    }

    fn body(&mut self) -> Pin<&mut Body> {
        Pin::new(self.body.as_mut().expect("a body until dropped"))
    }
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.started = true;
        let polled = self.body().poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.over = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let (Some(body), Some(back)) = (self.body.take(), self.back.take()) else {
            return;
        };
        if self.over || body.is_end_stream() {
            return;
        }
        let _ = back.send(Leftover {
            body,
            started: self.started,
        });
    }
}
