//! Checking bytes against the digest and size that name them, as they stream past.

use std::io::{self, Read, Write};

use berth_oci::{Digest, Hasher};

/// Bytes that don't match the digest or size that names them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("content of {expected} hashes to {actual}: the data is corrupt or was altered")]
    Digest { expected: Digest, actual: Digest },
    #[error("content of {digest} is {actual} bytes, but {expected} were declared")]
    Size {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("content of {digest} is longer than the {expected} bytes declared")]
    TooLong { digest: Digest, expected: u64 },
}

impl From<Mismatch> for io::Error {
    fn from(m: Mismatch) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, m)
    }
}

/// Hashes and counts bytes, and checks them against an expected digest and size.
pub struct Verifier {
    expected: Digest,
    size: Option<u64>,
    hasher: Hasher,
    seen: u64,
}

impl Verifier {
    /// `size`, when known, is checked too; overlong input is caught as soon as it arrives.
    pub fn new(expected: &Digest, size: Option<u64>) -> Verifier {
        Verifier {
            hasher: expected.algorithm().hasher(),
            expected: expected.clone(),
            size,
            seen: 0,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) -> Result<(), Mismatch> {
        self.seen += bytes.len() as u64;
        if let Some(size) = self.size {
            if self.seen > size {
                return Err(Mismatch::TooLong {
                    digest: self.expected.clone(),
                    expected: size,
                });
            }
        }
        self.hasher.update(bytes);
        Ok(())
    }

    pub fn bytes_seen(&self) -> u64 {
        self.seen
    }

    /// Checks the whole: call once all bytes have been seen.
    pub fn finish(self) -> Result<(), Mismatch> {
        if let Some(size) = self.size {
            if self.seen != size {
                return Err(Mismatch::Size {
                    digest: self.expected,
                    expected: size,
                    actual: self.seen,
                });
            }
        }
        let actual = self.hasher.finish();
        if actual != self.expected {
            return Err(Mismatch::Digest {
                expected: self.expected,
                actual,
            });
        }
        Ok(())
    }
}

/// A reader that fails with [`Mismatch`] (as `InvalidData`) at end of stream if the bytes it
/// passed on don't match their digest, so no consumer can take corrupt data for good data.
pub struct VerifyingReader<R> {
    inner: R,
    verifier: Option<Verifier>,
}

impl<R: Read> VerifyingReader<R> {
    pub fn new(inner: R, expected: &Digest, size: Option<u64>) -> Self {
        VerifyingReader {
            inner,
            verifier: Some(Verifier::new(expected, size)),
        }
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if buf.is_empty() {
            return Ok(0);
        }
        match self.verifier.as_mut() {
            Some(v) if n > 0 => v.update(&buf[..n])?,
            Some(_) => self.verifier.take().expect("verifier present").finish()?,
            None => {}
        }
        Ok(n)
    }
}

/// A writer that passes bytes on while hashing and counting them.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W, algorithm: berth_oci::Algorithm) -> Self {
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
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_passes_good_data_and_refuses_bad() {
        let data = b"hello world";
        let d = Digest::sha256(data);
        let mut out = Vec::new();
        VerifyingReader::new(&data[..], &d, Some(11))
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);

        let err = VerifyingReader::new(&b"hello worlD"[..], &d, Some(11))
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");

        let err = VerifyingReader::new(&b"hello"[..], &d, Some(11))
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("is 5 bytes, but 11"), "{err}");

        let err = VerifyingReader::new(&b"hello world!!"[..], &d, Some(11))
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("longer than"), "{err}");
    }

    #[test]
    fn hashing_writer_counts_and_hashes() {
        let mut w = HashingWriter::new(Vec::new(), berth_oci::Algorithm::Sha256);
        w.write_all(b"abc").unwrap();
        let (buf, d, n) = w.finish();
        assert_eq!((buf.as_slice(), n), (&b"abc"[..], 3));
        assert_eq!(d, Digest::sha256(b"abc"));
    }
}
