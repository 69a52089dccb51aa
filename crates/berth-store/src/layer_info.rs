//! Measuring a layer: decompress it, hash and count the tar stream.

use std::io;
use std::io::Read;

use berth_oci::compression::read_head;
use berth_oci::{Algorithm, Compression, Descriptor, HashingWriter};

use crate::blobs::Blobs;
use crate::error::StoreError;
use crate::meta::LayerInfo;

pub(crate) fn measure(blobs: &Blobs, layer: &Descriptor) -> Result<LayerInfo, StoreError> {
    let read_err = |e| StoreError::from_read(&layer.digest, e);
    let mut reader = blobs.open(&layer.digest, Some(layer.size))?;
    let head = read_head(&mut reader).map_err(read_err)?;
    // The media type is trusted when it names a compression; a layer declared plain may
    // still be compressed (some tools write them so), so its bytes decide. A compression
    // berth doesn't read is measured as it is, as plain bytes.
    let compression = match Compression::of_layer(&layer.media_type) {
        Some(c) if c != Compression::None => c,
        _ => Compression::sniff(&head).unwrap_or(Compression::None),
    };
    let mut tar = compression
        .decoder(io::Cursor::new(head).chain(reader))
        .map_err(read_err)?;
    let mut sink = HashingWriter::new(io::sink(), Algorithm::Sha256);
    io::copy(&mut tar, &mut sink).map_err(read_err)?;
    let (_, diff_id, size) = sink.finish();
    Ok(LayerInfo { diff_id, size })
}
