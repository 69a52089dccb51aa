//! Telling how a stream is compressed, and undoing it.

use std::io::{self, Read};

use berth_oci::media_type::Compression;

/// Reads up to `n` bytes from the start of `reader` (fewer only at its end). Put them back in
/// front with `io::Cursor::new(head).chain(reader)`.
pub fn read_head(reader: &mut impl Read, n: usize) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        match reader.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(filled);
    Ok(head)
}

/// A reader of `reader`'s bytes with `compression` undone.
pub fn decoder<'a>(
    compression: Compression,
    reader: impl Read + 'a,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::Decoder::new(reader)?),
    })
}
