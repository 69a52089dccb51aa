//! Compressing layers for `berth build`: gzip on every core, or zstd.
//!
//! Parallel gzip splits the tar stream into fixed-size blocks at fixed offsets and deflates
//! each on its own, primed with the 32 KiB before it (pigz's scheme), then joins them into
//! one gzip member. Block boundaries depend only on the input, and each block's compressor
//! starts fresh, so the bytes are the same whatever the number of threads: reproducible
//! builds depend on it. The bytes differ from [`crate::write_gzip_layer`]'s (a single deflate
//! stream), which stays as it is for `berth import`.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use crate::error::LayerError;
use crate::source::Entries;
use crate::write::{TarOptions, TarStats, write_tar_reporting};

/// Input bytes per deflate block.
const BLOCK: usize = 512 * 1024;
/// The deflate window: how much of the previous block primes the next.
const WINDOW: usize = 32 * 1024;
/// Same level as [`crate::gzip`].
const GZIP_LEVEL: u32 = 6;
const ZSTD_LEVEL: i32 = 3;
/// gzip header: deflate, no flags, mtime 0, no extra flags, OS "unknown".
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// How `berth build` compresses a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayerCompression {
    /// gzip, level 6, on every core; the most widely accepted.
    #[default]
    Gzip,
    /// zstd, level 3.
    Zstd,
}

/// Writes `entries` as a compressed layer into `out`, reporting as
/// [`crate::write_tar_reporting`] does. The same entries always give the same bytes.
pub fn write_layer<W: Write + Send>(
    entries: &Entries,
    opts: &TarOptions,
    compression: LayerCompression,
    out: W,
    report: &dyn Fn(u64),
) -> Result<(W, TarStats), LayerError> {
    match compression {
        LayerCompression::Gzip => {
            let gz = ParallelGzip::new(out, default_threads());
            let (gz, stats) = write_tar_reporting(entries, opts, gz, report)?;
            Ok((gz.finish().map_err(LayerError::Write)?, stats))
        }
        LayerCompression::Zstd => {
            let zst =
                zstd::stream::write::Encoder::new(out, ZSTD_LEVEL).map_err(LayerError::Write)?;
            let (zst, stats) = write_tar_reporting(entries, opts, zst, report)?;
            Ok((zst.finish().map_err(LayerError::Write)?, stats))
        }
    }
}

/// Cores available to this process.
fn default_threads() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

/// A gzip encoder that deflates blocks on `threads` threads; its output doesn't depend on
/// `threads`. Call [`ParallelGzip::finish`] to end the stream.
pub struct ParallelGzip<W: Write> {
    out: W,
    /// Input not yet sent: sent once full and more input follows, so the last block (which
    /// ends the deflate stream) is known only at `finish`.
    pending: Vec<u8>,
    /// The last window of the block sent before `pending`.
    dict: Vec<u8>,
    crc: Crc,
    /// Workers, or `None` to deflate on the caller's thread.
    pool: Option<Pool>,
    /// Blocks sent, and blocks written.
    sent: u64,
    written: u64,
    /// Deflated blocks that arrived before an earlier one.
    ready: BTreeMap<u64, Vec<u8>>,
    header_written: bool,
}

struct Job {
    index: u64,
    dict: Vec<u8>,
    data: Vec<u8>,
    last: bool,
}

struct Pool {
    jobs: Option<SyncSender<Job>>,
    results: Receiver<(u64, io::Result<Vec<u8>>)>,
    workers: Vec<JoinHandle<()>>,
    /// Most blocks in flight at once, bounding memory.
    depth: u64,
}

impl<W: Write> ParallelGzip<W> {
    /// An encoder writing to `out`, deflating on `threads` threads (1: no extra threads).
    pub fn new(out: W, threads: usize) -> ParallelGzip<W> {
        let pool = (threads > 1).then(|| Pool::start(threads));
        ParallelGzip {
            out,
            pending: Vec::with_capacity(BLOCK),
            dict: Vec::new(),
            crc: Crc::new(),
            pool,
            sent: 0,
            written: 0,
            ready: BTreeMap::new(),
            header_written: false,
        }
    }

    /// Compresses what is left, writes the gzip trailer and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let data = std::mem::take(&mut self.pending);
        self.send(data, true)?;
        while self.written < self.sent {
            self.receive(true)?;
        }
        self.write_header()?;
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.sum().to_le_bytes());
        trailer[4..].copy_from_slice(&self.crc.amount().to_le_bytes());
        self.out.write_all(&trailer)?;
        self.out.flush()?;
        if let Some(mut pool) = self.pool.take() {
            pool.jobs = None; // workers stop once the queue is closed
            for worker in pool.workers.drain(..) {
                let _ = worker.join();
            }
        }
        Ok(self.out)
    }

    /// Hands a block to a worker (or deflates it here), then writes whatever is done.
    fn send(&mut self, data: Vec<u8>, last: bool) -> io::Result<()> {
        self.crc.update(&data);
        let dict = std::mem::replace(&mut self.dict, tail(&data));
        let index = self.sent;
        self.sent += 1;
        match &self.pool {
            None => {
                let block = deflate_block(&dict, &data, last)?;
                self.ready.insert(index, block);
                self.write_ready()
            }
            Some(pool) => {
                let job = Job {
                    index,
                    dict,
                    data,
                    last,
                };
                let queue = pool.jobs.as_ref().ok_or_else(stopped)?;
                queue.send(job).map_err(|_| stopped())?;
                // Wait only when too much is in flight; otherwise take what has arrived.
                let full = self.sent - self.written >= pool.depth;
                self.receive(full)?;
                while self.receive(false)? {}
                Ok(())
            }
        }
    }

    /// Takes one finished block from the workers (waiting for it if `wait`) and writes all
    /// that are next in order; returns whether a block came.
    fn receive(&mut self, wait: bool) -> io::Result<bool> {
        let Some(pool) = &self.pool else {
            return Ok(false);
        };
        let (index, block) = if wait {
            pool.results.recv().map_err(|_| stopped())?
        } else {
            match pool.results.try_recv() {
                Ok(result) => result,
                Err(_) => return Ok(false),
            }
        };
        self.ready.insert(index, block?);
        self.write_ready()?;
        Ok(true)
    }

    fn write_ready(&mut self) -> io::Result<()> {
        while let Some(block) = self.ready.remove(&self.written) {
            self.write_header()?;
            self.out.write_all(&block)?;
            self.written += 1;
        }
        Ok(())
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.out.write_all(&GZIP_HEADER)?;
            self.header_written = true;
        }
        Ok(())
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pending.len() == BLOCK {
            // More input follows, so the full block is not the last.
            let data = std::mem::replace(&mut self.pending, Vec::with_capacity(BLOCK));
            self.send(data, false)?;
        }
        let n = buf.len().min(BLOCK - self.pending.len());
        self.pending.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    /// Writes out the blocks already deflated; input still pending stays (flushing it would
    /// move block boundaries and so change the bytes).
    fn flush(&mut self) -> io::Result<()> {
        while self.receive(false)? {}
        self.out.flush()
    }
}

impl Pool {
    fn start(threads: usize) -> Pool {
        let (jobs, queue) = sync_channel::<Job>(threads);
        let queue = Arc::new(Mutex::new(queue));
        let (done, results) = channel();
        let workers = (0..threads)
            .map(|_| {
                let queue = Arc::clone(&queue);
                let done = done.clone();
                thread::spawn(move || work(&queue, &done))
            })
            .collect();
        Pool {
            jobs: Some(jobs),
            results,
            workers,
            depth: 2 * threads as u64,
        }
    }
}

fn work(queue: &Mutex<Receiver<Job>>, done: &Sender<(u64, io::Result<Vec<u8>>)>) {
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let block = deflate_block(&job.dict, &job.data, job.last);
        if done.send((job.index, block)).is_err() {
            return;
        }
    }
}

fn stopped() -> io::Error {
    io::Error::other("gzip worker threads stopped")
}

/// The last deflate window of `data`.
fn tail(data: &[u8]) -> Vec<u8> {
    data[data.len().saturating_sub(WINDOW)..].to_vec()
}

/// Deflates one block as a piece of a raw deflate stream: primed with `dict`, and ending on a
/// byte boundary (sync flush) so the next piece can follow, or ending the stream if `last`.
fn deflate_block(dict: &[u8], data: &[u8], last: bool) -> io::Result<Vec<u8>> {
    let mut deflate = Compress::new(Compression::new(GZIP_LEVEL), false);
    if !dict.is_empty() {
        deflate.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    loop {
        let consumed = deflate.total_in() as usize;
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let status = deflate
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = deflate.total_in() as usize == data.len();
        match status {
            Status::StreamEnd => return Ok(out),
            // A sync flush is complete once it returns with output space to spare.
            Status::Ok | Status::BufError if !last && all_in && out.len() < out.capacity() => {
                return Ok(out);
            }
            Status::Ok | Status::BufError => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn compress(data: &[u8], threads: usize, chunk: usize) -> Vec<u8> {
        let mut gz = ParallelGzip::new(Vec::new(), threads);
        for piece in data.chunks(chunk.max(1)) {
            gz.write_all(piece).unwrap();
        }
        gz.finish().unwrap()
    }

    #[test]
    fn empty_input_is_a_valid_gzip() {
        let out = compress(b"", 1, 1);
        assert_eq!(gunzip(&out), b"");
        assert_eq!(out, compress(b"", 3, 1));
    }

    #[test]
    fn block_boundaries_round_trip() {
        let data: Vec<u8> = (0..BLOCK * 2).map(|i| (i % 251) as u8).collect();
        for len in [BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK] {
            let out = compress(&data[..len], 2, 7000);
            assert_eq!(gunzip(&out), &data[..len], "length {len}");
            assert_eq!(out, compress(&data[..len], 1, len), "length {len}");
        }
    }
}
