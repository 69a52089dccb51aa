//! Measuring a layer: decompress it, hash and count the tar stream.

use std::io::{self, Read, Write};

use berth_oci::media_type::{self, Compression, Kind};
use berth_oci::{Algorithm, Descriptor};

use crate::blobs::Blobs;
use crate::error::StoreError;
use crate::meta::LayerInfo;
use crate::verify::HashingWriter;

pub(crate) fn measure(blobs: &Blobs, layer: &Descriptor) -> Result<LayerInfo, StoreError> {
    let mut reader = blobs.open(&layer.digest, Some(layer.size))?;
    let mut head = [0u8; 4];
    let n =
        read_full(&mut reader, &mut head).map_err(|e| StoreError::from_read(&layer.digest, e))?;
    let compression = match media_type::kind(&layer.media_type) {
        Kind::Layer(c) if c != Compression::None => c,
        _ => Compression::sniff(&head[..n]),
    };
    let stream = io::Cursor::new(head[..n].to_vec()).chain(reader);
    let mut sink = HashingWriter::new(io::sink(), Algorithm::Sha256);
    let result = match compression {
        Compression::None => copy(stream, &mut sink),
        Compression::Gzip => copy(flate2::read::MultiGzDecoder::new(stream), &mut sink),
        Compression::Zstd => match zstd::Decoder::new(stream) {
            Ok(d) => copy(d, &mut sink),
            Err(e) => Err(e),
        },
    };
    result.map_err(|e| StoreError::from_read(&layer.digest, e))?;
    let (_, diff_id, size) = sink.finish();
    Ok(LayerInfo { diff_id, size })
}

fn copy(mut r: impl Read, w: &mut impl Write) -> io::Result<u64> {
    io::copy(&mut r, w)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
