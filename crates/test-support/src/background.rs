//! A test server's own thread with its own tokio runtime, stopped and joined when dropped:
//! what the fault proxy and the hostile registry run on.

use std::error::Error;
use std::future::Future;

use hyper::body::{Body, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub(crate) struct Background {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Runs `serve` on a thread named `name`; the receiver it gets fires when this is
    /// dropped. Dropping the runtime afterwards ends the connections still open.
    pub(crate) fn spawn<F, Fut>(name: &str, serve: F) -> Background
    where
        F: FnOnce(oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for a test server");
                runtime.block_on(serve(stopped));
            })
            .expect("a test server's thread starts");
        Background {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Serves HTTP/1.1 with keep-alive on `listener` (non-blocking), one task a connection,
    /// each request answered by `handle`. An error from `handle` ends its connection: that is
    /// how a test server cuts one.
    pub(crate) fn http<H, Fut, B, E>(
        name: &str,
        listener: std::net::TcpListener,
        handle: H,
    ) -> Background
    where
        H: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<Response<B>, E>> + Send + 'static,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn Error + Send + Sync>>,
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        Background::spawn(name, move |mut stopped| async move {
            let listener = TcpListener::from_std(listener).expect("a tokio listener");
            loop {
                let stream = tokio::select! {
                    _ = &mut stopped => return,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                };
                let _ = stream.set_nodelay(true);
                let handle = handle.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(handle);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
