//! A test server's own thread with its own tokio runtime, stopped and joined when dropped:
//! what the fault proxy and the hostile registry run on.

use std::future::Future;

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
