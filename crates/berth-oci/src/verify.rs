//! Checking bytes against the digest and size that name them, as they stream past.

use std::io::{self, Read};

use crate::digest::{Digest, Hasher};

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

impl Mismatch {
    /// Compares what was seen, `actual` over `seen` bytes, with what was declared. A wrong
    /// size is reported before a wrong digest: it says more (a truncated download, say).
    pub fn check(
        expected: &Digest,
        size: Option<u64>,
        actual: Digest,
        seen: u64,
    ) -> Result<(), Mismatch> {
        if let Some(size) = size.filter(|&size| size != seen) {
            return Err(Mismatch::Size {
                digest: expected.clone(),
                expected: size,
                actual: seen,
            });
        }
        if actual != *expected {
            return Err(Mismatch::Digest {
                expected: expected.clone(),
                actual,
            });
        }
        Ok(())
    }
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
        if let Some(size) = self.size.filter(|&size| self.seen > size) {
            return Err(Mismatch::TooLong {
                digest: self.expected.clone(),
                expected: size,
            });
        }
        self.hasher.update(bytes);
        Ok(())
    }

    pub fn bytes_seen(&self) -> u64 {
        self.seen
    }

    /// Checks the whole: call once all bytes have been seen.
    pub fn finish(self) -> Result<(), Mismatch> {
        Mismatch::check(&self.expected, self.size, self.hasher.finish(), self.seen)
    }
}

/// A reader that fails with [`Mismatch`] (as `InvalidData`) at end of stream if the bytes it
/// passed on don't match their digest, so no consumer can take corrupt data for good data.
/// Input longer than the declared size fails as soon as the excess is read.
pub struct VerifyingReader<R> {
    inner: R,
    /// `None` once the end was reached and checked: later reads just pass the end on.
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
        // An empty buffer reads 0 bytes without being the end of the stream.
        if buf.is_empty() {
            return Ok(0);
        }
        if n > 0 {
            if let Some(verifier) = self.verifier.as_mut() {
                verifier.update(&buf[..n])?;
            }
        } else if let Some(verifier) = self.verifier.take() {
            verifier.finish()?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &[u8] = b"hello world";

    fn read_all(input: &[u8], size: Option<u64>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        VerifyingReader::new(input, &Digest::sha256(DATA), size).read_to_end(&mut out)?;
        Ok(out)
    }

    fn mismatch(err: io::Error) -> Mismatch {
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        err.into_inner()
            .and_then(|e| e.downcast::<Mismatch>().ok())
            .map(|m| *m)
            .expect("a Mismatch inside the error")
    }

    #[test]
    fn passes_good_data_with_or_without_a_size() {
        assert_eq!(read_all(DATA, Some(11)).unwrap(), DATA);
        assert_eq!(read_all(DATA, None).unwrap(), DATA);
    }

    #[test]
    fn refuses_a_wrong_digest_naming_both() {
        let err = mismatch(read_all(b"hello worlD", Some(11)).unwrap_err());
        assert_eq!(
            err,
            Mismatch::Digest {
                expected: Digest::sha256(DATA),
                actual: Digest::sha256(b"hello worlD"),
            }
        );
        assert!(err.to_string().contains("corrupt"), "{err}");
        // Without a size, the digest still catches a different length.
        let err = mismatch(read_all(b"hello", None).unwrap_err());
        assert!(matches!(err, Mismatch::Digest { .. }), "{err}");
    }

    #[test]
    fn refuses_short_input_naming_the_size() {
        let err = mismatch(read_all(b"hello", Some(11)).unwrap_err());
        assert_eq!(
            err,
            Mismatch::Size {
                digest: Digest::sha256(DATA),
                expected: 11,
                actual: 5,
            }
        );
        assert!(err.to_string().contains("is 5 bytes, but 11"), "{err}");
    }

    #[test]
    fn refuses_long_input_as_soon_as_the_size_is_passed() {
        let long = b"hello world!!";
        let mut reader = VerifyingReader::new(&long[..], &Digest::sha256(DATA), Some(11));
        let mut buf = [0u8; 11];
        reader.read_exact(&mut buf).unwrap();
        // The next read brings the excess: it fails there, not at the end.
        let err = mismatch(reader.read(&mut [0u8; 1]).unwrap_err());
        assert_eq!(
            err,
            Mismatch::TooLong {
                digest: Digest::sha256(DATA),
                expected: 11,
            }
        );
        assert!(err.to_string().contains("longer than"), "{err}");
    }

    #[test]
    fn an_empty_buffer_is_not_the_end() {
        let mut reader = VerifyingReader::new(DATA, &Digest::sha256(DATA), Some(11));
        assert_eq!(reader.read(&mut []).unwrap(), 0);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, DATA);
        // Past the end, reads keep returning 0 without checking again.
        assert_eq!(reader.read(&mut [0u8; 4]).unwrap(), 0);
    }

    #[test]
    fn verifier_checks_bytes_given_whole() {
        let d = Digest::sha256(DATA);
        let mut v = Verifier::new(&d, Some(11));
        v.update(&DATA[..5]).unwrap();
        v.update(&DATA[5..]).unwrap();
        assert_eq!(v.bytes_seen(), 11);
        v.finish().unwrap();
        let mut v = Verifier::new(&d, Some(4));
        assert!(matches!(v.update(DATA), Err(Mismatch::TooLong { .. })));
    }
}
