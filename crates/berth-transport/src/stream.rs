//! Blob streams, and the bridges between them and blocking readers and writers.

use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::io::{StreamReader, SyncIoBridge};

/// A blob's bytes on their way from a source to a destination.
pub type BlobStream = Pin<Box<dyn AsyncRead + Send>>;

const CHUNK: usize = 256 * 1024;

/// Turns a blocking reader (a file, a tar member, a decompressor) into a stream, read on a
/// blocking thread a few chunks ahead of the consumer.
pub fn from_blocking(reader: impl Read + Send + 'static) -> BlobStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        loop {
            let mut buf = vec![0u8; CHUNK];
            let item = match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    Ok(Bytes::from(buf))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let stop = item.is_err();
            if tx.blocking_send(item).is_err() || stop {
                return;
            }
        }
    });
    Box::pin(StreamReader::new(tokio_stream_from(rx)))
}

/// Lets blocking code on a `spawn_blocking` thread read a stream.
pub fn to_blocking(stream: BlobStream) -> impl Read + Send {
    SyncIoBridge::new(stream)
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
) -> impl futures::Stream<Item = io::Result<Bytes>> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Counts bytes as they are read, calling `on_read` with the running total.
pub struct Counting<F> {
    inner: BlobStream,
    total: u64,
    on_read: F,
}

impl<F: FnMut(u64) + Send + Unpin> Counting<F> {
    pub fn new(inner: BlobStream, on_read: F) -> Counting<F> {
        Counting {
            inner,
            total: 0,
            on_read,
        }
    }
}

impl<F: FnMut(u64) + Send + Unpin> AsyncRead for Counting<F> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = this.inner.as_mut().poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            this.total += n as u64;
            (this.on_read)(this.total);
        }
        poll
    }
}
