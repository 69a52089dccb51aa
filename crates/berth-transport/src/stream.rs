//! Blob streams, and the bridges between them and blocking readers and writers.

use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::io::StreamReader;

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

/// Runs `f` on a blocking thread with `stream` as a blocking reader, and returns what it
/// returns. The stream is read here, as part of the returned future, and handed over through a
/// small channel, so the blocking side never polls the runtime. Dropping the future (a copy
/// abandoned because another blob failed) drops the stream at once; the blocking side then
/// reads an error, gives up and drops what it was writing. (Polling the stream from the
/// blocking thread instead kept it reading after the copy was abandoned, into a runtime
/// shutting down, where a registry download's retry panicked.)
pub async fn read_blocking<T, F>(stream: BlobStream, f: F) -> Result<T, tokio::task::JoinError>
where
    T: Send + 'static,
    F: FnOnce(ChannelReader) -> T + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
    let task = tokio::task::spawn_blocking(move || {
        f(ChannelReader {
            rx,
            current: Bytes::new(),
            ended: false,
        })
    });
    let pump = async move {
        let mut stream = stream;
        // Chunks are split off one buffer, which is reused once the reader has dropped them
        // all: no fresh allocation (and page faults) per chunk.
        let mut buf = BytesMut::new();
        loop {
            if buf.capacity() < CHUNK {
                buf.reserve(CHUNK * 4);
            }
            let item = match read_ready(&mut stream, &mut buf).await {
                // An empty chunk marks the end, so the reader can tell it from abandonment.
                Ok(0) => Ok(Bytes::new()),
                Ok(_) => Ok(buf.split().freeze()),
                Err(e) => Err(e),
            };
            let last = !matches!(&item, Ok(b) if !b.is_empty());
            if tx.send(item).await.is_err() || last {
                return;
            }
        }
    };
    tokio::pin!(task);
    tokio::select! {
        // The reader is done (maybe early, on an error): stop reading the stream.
        result = &mut task => result,
        () = pump => task.await,
    }
}

/// Waits for some bytes (or the end: 0), then takes whatever else is ready at once, up to
/// [`CHUNK`]: fewer, larger hand-overs to the blocking side than one per network read.
async fn read_ready(stream: &mut BlobStream, buf: &mut BytesMut) -> io::Result<usize> {
    std::future::poll_fn(|cx| {
        let mut got = 0;
        while got < CHUNK && buf.capacity() > buf.len() {
            match tokio_util::io::poll_read_buf(stream.as_mut(), cx, buf) {
                Poll::Ready(Ok(0)) => break,
                Poll::Ready(Ok(n)) => got += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending if got == 0 => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        Poll::Ready(Ok(got))
    })
    .await
}

/// The blocking end of [`read_blocking`].
pub struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    ended: bool,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) if chunk.is_empty() => self.ended = true,
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(e),
                None => return Err(io::Error::other("the copy was abandoned")),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
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

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn read_blocking_hands_over_every_byte() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let stream = from_blocking(std::io::Cursor::new(data.clone()));
        let read = read_blocking(stream, |mut r| {
            let mut out = Vec::new();
            r.read_to_end(&mut out).map(|_| out)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(read, data);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn abandoning_the_copy_stops_the_blocking_reader() {
        // A stream that sends a little, then waits for ever.
        let (reader, mut writer) = tokio::io::duplex(64);
        writer.write_all(b"abc").await.unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let copy = read_blocking(Box::pin(reader), move |mut r| {
            let mut out = Vec::new();
            let _ = tx.send(r.read_to_end(&mut out).map(|_| out));
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(100), copy)
                .await
                .is_err()
        );
        let result = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(result.unwrap_err().to_string().contains("abandoned"));
        drop(writer);
    }
}
