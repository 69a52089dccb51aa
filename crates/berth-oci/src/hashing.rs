//! Hashing and counting bytes as they stream past, to learn the digest of what was read or
//! written (a layer's diff ID, a new blob's name). [`crate::verify`] checks against a digest
//! known beforehand instead.

use std::io::{self, Read, Write};

use crate::digest::{Algorithm, Digest, Hasher};

/// A writer that passes bytes on while hashing and counting them.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W, algorithm: Algorithm) -> Self {
        HashingWriter {
            inner,
            hasher: algorithm.hasher(),
            written: 0,
        }
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The inner writer, the digest and the count of what was written.
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, self.hasher.finish(), self.written)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Only what the inner writer took is hashed: a short write is retried with the rest.
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that passes bytes on while hashing and counting them.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    read: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, algorithm: Algorithm) -> Self {
        HashingReader {
            inner,
            hasher: algorithm.hasher(),
            read: 0,
        }
    }

    /// The digest and the count of what was read so far.
    pub fn finish(self) -> (Digest, u64) {
        (self.hasher.finish(), self.read)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes at most 2 bytes a write, as a pipe or socket may.
    struct Trickle(Vec<u8>);

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(2);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writer_counts_and_hashes() {
        let mut w = HashingWriter::new(Vec::new(), Algorithm::Sha256);
        w.write_all(b"abc").unwrap();
        assert_eq!(w.written(), 3);
        w.write_all(b"def").unwrap();
        let (buf, d, n) = w.finish();
        assert_eq!((buf.as_slice(), n), (&b"abcdef"[..], 6));
        assert_eq!(d, Digest::sha256(b"abcdef"));
    }

    #[test]
    fn writer_hashes_only_what_the_inner_writer_took() {
        let mut w = HashingWriter::new(Trickle(Vec::new()), Algorithm::Sha256);
        assert_eq!(w.write(b"hello").unwrap(), 2);
        w.write_all(b"llo world").unwrap();
        let (Trickle(buf), d, n) = w.finish();
        assert_eq!((buf.as_slice(), n), (&b"hello world"[..], 11));
        assert_eq!(d, Digest::sha256(b"hello world"));
    }

    #[test]
    fn writer_of_nothing_has_the_empty_digest() {
        let (_, d, n) = HashingWriter::new(io::sink(), Algorithm::Sha512).finish();
        assert_eq!((d, n), (Digest::of(Algorithm::Sha512, b""), 0));
    }

    #[test]
    fn reader_counts_and_hashes_what_was_read() {
        let mut r = HashingReader::new(&b"hello world"[..], Algorithm::Sha256);
        let mut first = [0u8; 5];
        r.read_exact(&mut first).unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b" world");
        assert_eq!(r.finish(), (Digest::sha256(b"hello world"), 11));
    }
}
