//! Compressing layers for `berth build`: gzip on every core, or zstd.
//!
//! Gzip layers are one gzip member whose deflate stream is cut into *chunks*, each deflated on
//! its own (no history from the chunk before) and ended on a byte boundary (sync flush); an
//! empty final block ends the stream. Chunks deflate in parallel, and since each depends only
//! on its own bytes, a chunk an earlier layer already holds can be copied from that layer
//! instead of deflated again ([`ChunkSource`]): a `COPY` rerun because one of 2,000 files
//! changed deflates the chunk of that file, not the whole layer.
//!
//! Where chunks end is a function of the tar stream alone, so the bytes are the same whatever
//! the number of threads and whatever was reused: reproducible builds depend on it. A chunk
//! ends before an entry whose path is a *cut point* (a quarter of paths, by a hash of the
//! path) once it holds [`MIN_CHUNK`] bytes, and at [`MAX_CHUNK`] bytes in any case; after a
//! change, the cuts fall where they did from the next cut point on. The bytes differ from
//! [`crate::write_gzip_layer`]'s (a single deflate stream), which stays as it is for
//! `berth import`.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};

use berth_oci::Digest;
use flate2::{Compress, Compression, Crc, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::LayerError;
use crate::source::Entries;
use crate::write::{TarOptions, TarStats, write_tar_marking};

/// A chunk may end before an entry once it holds this many bytes.
const MIN_CHUNK: usize = 64 * 1024;
/// A chunk ends here whatever it holds (bounds memory, and splits large files for the cores).
const MAX_CHUNK: usize = 512 * 1024;
/// Same level as [`crate::gzip`].
const GZIP_LEVEL: u32 = 6;
const ZSTD_LEVEL: i32 = 3;
/// gzip header: deflate, no flags, mtime 0, no extra flags, OS "unknown".
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// An empty final deflate block (fixed Huffman codes, end of block only): ends the stream.
const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

/// How `berth build` compresses a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayerCompression {
    /// gzip, level 6, on every core; the most widely accepted.
    #[default]
    Gzip,
    /// zstd, level 3.
    Zstd,
}

/// Where a chunk of a gzip layer is: the sha256 of the bytes it holds (uncompressed), and
/// the range of the blob its deflated bytes take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub content: Digest,
    pub offset: u64,
    pub len: u64,
}

/// Deflated chunks written before, found by the sha256 of the bytes they hold. What it gives
/// is inflated and compared before it is used: a wrong answer costs time, never bytes.
pub trait ChunkSource: Sync {
    fn deflated(&self, content: &Digest) -> Option<Vec<u8>>;
}

/// A [`ChunkSource`] that has nothing.
pub struct NoChunks;

impl ChunkSource for NoChunks {
    fn deflated(&self, _: &Digest) -> Option<Vec<u8>> {
        None
    }
}

/// What [`write_layer`] wrote.
#[derive(Debug, Clone)]
pub struct WrittenLayer {
    pub stats: TarStats,
    /// The gzip chunks, in order (none for zstd).
    pub chunks: Vec<Chunk>,
    /// How many of them were copied from an earlier layer rather than deflated.
    pub reused: usize,
}

/// Writes `entries` as a compressed layer into `out`, reporting as
/// [`crate::write_tar_reporting`] does, and reusing what `reuse` holds of the gzip chunks.
/// The same entries always give the same bytes.
pub fn write_layer<W: Write + Send>(
    entries: &Entries,
    opts: &TarOptions,
    compression: LayerCompression,
    out: W,
    report: &dyn Fn(u64),
    reuse: &dyn ChunkSource,
) -> Result<(W, WrittenLayer), LayerError> {
    match compression {
        LayerCompression::Gzip => {
            let gz = ParallelGzip::reusing(out, default_threads(), reuse);
            let (gz, stats) = write_tar_marking(entries, opts, gz, report, &mut |gz, path| {
                gz.entry_starts(std::os::unix::ffi::OsStrExt::as_bytes(path))
            })?;
            let reused = gz.reused;
            let (out, chunks) = gz.finish_with_chunks().map_err(LayerError::Write)?;
            Ok((
                out,
                WrittenLayer {
                    stats,
                    chunks,
                    reused,
                },
            ))
        }
        LayerCompression::Zstd => {
            let zst =
                zstd::stream::write::Encoder::new(out, ZSTD_LEVEL).map_err(LayerError::Write)?;
            let (zst, stats) = crate::write::write_tar_reporting(entries, opts, zst, report)?;
            let out = zst.finish().map_err(LayerError::Write)?;
            Ok((
                out,
                WrittenLayer {
                    stats,
                    chunks: Vec::new(),
                    reused: 0,
                },
            ))
        }
    }
}

/// Names the deflate implementation and settings chunks are made with: the sha256 of a fixed
/// sample (~75 KiB, about a millisecond) deflated as a chunk. Chunks recorded under another
/// name may deflate differently from what this build would write (a newer deflater), so
/// they must not be reused: the layer would differ from one built from nothing.
pub fn chunk_codec() -> &'static str {
    static CODEC: OnceLock<String> = OnceLock::new();
    CODEC.get_or_init(|| {
        let sample: Vec<u8> = (0..3_000u32)
            .flat_map(|i| {
                format!(
                    "{} {:x} berth chunk\n",
                    i % 997,
                    i.wrapping_mul(2_654_435_761)
                )
                .into_bytes()
            })
            .collect();
        let deflated = deflate_chunk(&sample).unwrap_or_default();
        format!(
            "gzip-{GZIP_LEVEL}-{}",
            &Digest::sha256(&deflated).hex()[..16]
        )
    })
}

/// Cores available to this process.
fn default_threads() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

/// A gzip encoder that deflates chunks on `threads` threads; its output doesn't depend on
/// `threads`. Tell it where tar entries start ([`ParallelGzip::entry_starts`]) so chunks end
/// there; call [`ParallelGzip::finish`] to end the stream.
pub struct ParallelGzip<'r, W: Write> {
    out: W,
    /// The chunk being filled: sent once it ends.
    pending: Vec<u8>,
    crc: Crc,
    reuse: &'r dyn ChunkSource,
    /// Workers, or `None` to deflate on the caller's thread.
    pool: Option<Pool>,
    /// Chunks sent, and chunks written.
    sent: u64,
    written: u64,
    /// What each chunk sent holds, in order; placed once written.
    chunks: Vec<Chunk>,
    /// Bytes written to `out`.
    offset: u64,
    /// Chunks written as an earlier layer had them.
    reused: usize,
    /// Deflated chunks that arrived before an earlier one.
    ready: BTreeMap<u64, Deflated>,
}

/// A chunk's deflated bytes, and whether they came from an earlier layer.
type Deflated = (Vec<u8>, bool);

/// Work for a deflate thread: the chunk's bytes, and what an earlier layer holds for them.
struct Job {
    index: u64,
    data: Vec<u8>,
    reused: Option<Vec<u8>>,
}

struct Pool {
    jobs: Option<SyncSender<Job>>,
    results: Receiver<(u64, io::Result<Deflated>)>,
    workers: Vec<JoinHandle<()>>,
    /// Most chunks in flight at once, bounding memory.
    depth: u64,
}

impl<W: Write> ParallelGzip<'static, W> {
    /// An encoder writing to `out`, deflating on `threads` threads (1: no extra threads).
    pub fn new(out: W, threads: usize) -> ParallelGzip<'static, W> {
        ParallelGzip::reusing(out, threads, &NoChunks)
    }
}

impl<'r, W: Write> ParallelGzip<'r, W> {
    /// [`ParallelGzip::new`], taking the chunks `reuse` has instead of deflating them.
    pub fn reusing(out: W, threads: usize, reuse: &'r dyn ChunkSource) -> ParallelGzip<'r, W> {
        let pool = (threads > 1).then(|| Pool::start(threads));
        ParallelGzip {
            out,
            pending: Vec::with_capacity(MAX_CHUNK),
            crc: Crc::new(),
            reuse,
            pool,
            sent: 0,
            written: 0,
            chunks: Vec::new(),
            offset: 0,
            reused: 0,
            ready: BTreeMap::new(),
        }
    }

    /// Says that a tar entry named `path` starts with the next byte written: the chunk may
    /// end here.
    pub fn entry_starts(&mut self, path: &[u8]) -> io::Result<()> {
        if self.pending.len() >= MIN_CHUNK && is_cut_point(path) {
            self.cut()?;
        }
        Ok(())
    }

    /// Compresses what is left, writes the gzip trailer and returns the writer.
    pub fn finish(self) -> io::Result<W> {
        self.finish_with_chunks().map(|(out, _)| out)
    }

    /// [`ParallelGzip::finish`], also returning where each chunk went.
    pub fn finish_with_chunks(mut self) -> io::Result<(W, Vec<Chunk>)> {
        if !self.pending.is_empty() {
            self.cut()?;
        }
        while self.written < self.sent {
            self.receive(true)?;
        }
        self.write_header()?;
        self.out.write_all(&FINAL_BLOCK)?;
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
        Ok((self.out, self.chunks))
    }

    /// Ends the pending chunk: hands it to a worker (or deflates it here), then writes
    /// whatever is done.
    fn cut(&mut self) -> io::Result<()> {
        let data = std::mem::replace(&mut self.pending, Vec::with_capacity(MAX_CHUNK));
        self.crc.update(&data);
        let content = Digest::sha256(&data);
        let reused = self.reuse.deflated(&content);
        self.chunks.push(Chunk {
            content,
            offset: 0,
            len: 0,
        });
        let index = self.sent;
        self.sent += 1;
        match &self.pool {
            None => {
                let chunk = reuse_or_deflate(&data, reused)?;
                self.ready.insert(index, chunk);
                self.write_ready()
            }
            Some(pool) => {
                let job = Job {
                    index,
                    data,
                    reused,
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

    /// Takes one finished chunk from the workers (waiting for it if `wait`) and writes all
    /// that are next in order; returns whether a chunk came.
    fn receive(&mut self, wait: bool) -> io::Result<bool> {
        let Some(pool) = &self.pool else {
            return Ok(false);
        };
        let (index, chunk) = if wait {
            pool.results.recv().map_err(|_| stopped())?
        } else {
            match pool.results.try_recv() {
                Ok(result) => result,
                Err(_) => return Ok(false),
            }
        };
        self.ready.insert(index, chunk?);
        self.write_ready()?;
        Ok(true)
    }

    fn write_ready(&mut self) -> io::Result<()> {
        while let Some((chunk, reused)) = self.ready.remove(&self.written) {
            self.write_header()?;
            self.reused += usize::from(reused);
            self.out.write_all(&chunk)?;
            let placed = &mut self.chunks[self.written as usize];
            placed.offset = self.offset;
            placed.len = chunk.len() as u64;
            self.offset += chunk.len() as u64;
            self.written += 1;
        }
        Ok(())
    }

    fn write_header(&mut self) -> io::Result<()> {
        if self.offset == 0 {
            self.out.write_all(&GZIP_HEADER)?;
            self.offset = GZIP_HEADER.len() as u64;
        }
        Ok(())
    }
}

impl<W: Write> Write for ParallelGzip<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pending.len() == MAX_CHUNK {
            self.cut()?;
        }
        let n = buf.len().min(MAX_CHUNK - self.pending.len());
        self.pending.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    /// Writes out the chunks already deflated; input still pending stays (flushing it would
    /// move chunk boundaries and so change the bytes).
    fn flush(&mut self) -> io::Result<()> {
        while self.receive(false)? {}
        self.out.flush()
    }
}

/// Whether a chunk may end before the entry named `path`: for about one path in four, by a
/// hash of the name alone, so the same tree always cuts at the same entries.
fn is_cut_point(path: &[u8]) -> bool {
    // FNV-1a, then a multiply-xorshift finish so short names spread over every bit: small,
    // and stable across versions and platforms.
    let mut hash = path.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash >> 62 == 0
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

fn work(queue: &Mutex<Receiver<Job>>, done: &Sender<(u64, io::Result<Deflated>)>) {
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let chunk = reuse_or_deflate(&job.data, job.reused);
        if done.send((job.index, chunk)).is_err() {
            return;
        }
    }
}

fn stopped() -> io::Error {
    io::Error::other("gzip worker threads stopped")
}

/// `reused` if it inflates to exactly `data` (as a chunk: ending on a sync flush), else
/// `data` deflated now. Inflating is several times cheaper than deflating, and it makes
/// what a [`ChunkSource`] says a hint rather than a trust.
fn reuse_or_deflate(data: &[u8], reused: Option<Vec<u8>>) -> io::Result<Deflated> {
    match reused {
        Some(deflated) if inflates_to(&deflated, data) => Ok((deflated, true)),
        _ => Ok((deflate_chunk(data)?, false)),
    }
}

/// Whether the raw deflate `chunk` holds exactly `data`, all of it, and does not end the
/// stream (a chunk never does: the stream's final block comes after the last one).
fn inflates_to(chunk: &[u8], data: &[u8]) -> bool {
    let mut inflate = Decompress::new(false);
    // One byte of room more than `data` needs: a chunk holding more shows as input left.
    let mut out = Vec::with_capacity(data.len() + 1);
    match inflate.decompress_vec(chunk, &mut out, FlushDecompress::Sync) {
        Ok(Status::Ok | Status::BufError) => {
            inflate.total_in() == chunk.len() as u64 && out == data
        }
        Ok(Status::StreamEnd) | Err(_) => false,
    }
}

/// Deflates one chunk as a piece of a raw deflate stream: on its own (no history), ending on
/// a byte boundary with a sync flush so the next piece can follow.
fn deflate_chunk(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut deflate = Compress::new(Compression::new(GZIP_LEVEL), false);
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    loop {
        let consumed = deflate.total_in() as usize;
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let status = deflate
            .compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        let all_in = deflate.total_in() as usize == data.len();
        match status {
            // A sync flush is complete once it returns with output space to spare.
            Status::Ok | Status::BufError if all_in && out.len() < out.capacity() => {
                return Ok(out);
            }
            Status::Ok | Status::BufError => {}
            Status::StreamEnd => return Err(io::Error::other("deflate ended a chunk's stream")),
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
    fn chunk_boundaries_round_trip() {
        let data: Vec<u8> = (0..MAX_CHUNK * 2).map(|i| (i % 251) as u8).collect();
        for len in [MAX_CHUNK - 1, MAX_CHUNK, MAX_CHUNK + 1, 2 * MAX_CHUNK] {
            let out = compress(&data[..len], 2, 7000);
            assert_eq!(gunzip(&out), &data[..len], "length {len}");
            assert_eq!(out, compress(&data[..len], 1, len), "length {len}");
        }
    }

    /// Entries of `size` bytes each, named `e0`, `e1`...; `edit` changes the bytes of one.
    fn marked(
        entries: usize,
        size: usize,
        edit: Option<usize>,
        reuse: &dyn ChunkSource,
    ) -> (Vec<u8>, Vec<Chunk>) {
        let mut gz = ParallelGzip::reusing(Vec::new(), 2, reuse);
        for i in 0..entries {
            gz.entry_starts(format!("e{i}").as_bytes()).unwrap();
            let fill = if edit == Some(i) {
                b'#'
            } else {
                b'a' + (i % 26) as u8
            };
            let mut bytes = format!("entry {i}\n").into_bytes();
            bytes.resize(size, fill);
            gz.write_all(&bytes).unwrap();
        }
        gz.finish_with_chunks().unwrap()
    }

    /// Chunks of `blob` by what they hold, counting the lookups that found one.
    struct Earlier<'a> {
        blob: &'a [u8],
        chunks: &'a [Chunk],
        found: std::sync::atomic::AtomicUsize,
    }

    impl ChunkSource for Earlier<'_> {
        fn deflated(&self, content: &Digest) -> Option<Vec<u8>> {
            let c = self.chunks.iter().find(|c| &c.content == content)?;
            self.found
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Some(self.blob[c.offset as usize..(c.offset + c.len) as usize].to_vec())
        }
    }

    #[test]
    fn a_changed_entry_reuses_every_other_chunk_and_gives_the_same_bytes() {
        let (before, chunks) = marked(600, 1000, None, &NoChunks);
        assert!(chunks.len() > 4, "several chunks: {}", chunks.len());
        let earlier = Earlier {
            blob: &before,
            chunks: &chunks,
            found: 0.into(),
        };
        let (after, after_chunks) = marked(600, 1000, Some(300), &earlier);
        let (fresh, fresh_chunks) = marked(600, 1000, Some(300), &NoChunks);
        assert_eq!(after, fresh, "reusing chunks changes no byte");
        assert_eq!(after_chunks, fresh_chunks);
        assert_eq!(
            earlier.found.into_inner(),
            chunks.len() - 1,
            "all chunks but one reused"
        );
        assert_eq!(gunzip(&after).len(), 600 * 1000);
    }

    #[test]
    fn a_reused_chunk_that_does_not_hold_its_bytes_is_deflated_again() {
        struct Wrong(Vec<u8>);
        impl ChunkSource for Wrong {
            fn deflated(&self, _: &Digest) -> Option<Vec<u8>> {
                Some(self.0.clone())
            }
        }
        let (fresh, _) = marked(300, 1000, None, &NoChunks);
        for wrong in [
            Vec::new(),
            vec![0, 0, 0xff, 0xff],
            deflate_chunk(b"other bytes").unwrap(),
        ] {
            assert_eq!(marked(300, 1000, None, &Wrong(wrong)).0, fresh);
        }
    }

    #[test]
    fn the_codec_name_is_stable_within_a_build() {
        let name = chunk_codec();
        assert!(name.starts_with("gzip-6-"), "{name}");
        assert_eq!(name, chunk_codec());
    }
}
