//! Measuring a layer: decompress it, hash and count the tar stream.

use std::io;
use std::io::Read;

use berth_oci::media_type::{self, Compression, Kind};
use berth_oci::{Algorithm, Descriptor};

use crate::blobs::Blobs;
use crate::compression::{decoder, read_head};
use crate::error::StoreError;
use crate::meta::LayerInfo;
use crate::verify::HashingWriter;

pub(crate) fn measure(blobs: &Blobs, layer: &Descriptor) -> Result<LayerInfo, StoreError> {
    let read_err = |e| StoreError::from_read(&layer.digest, e);
    let mut reader = blobs.open(&layer.digest, Some(layer.size))?;
    let head = read_head(&mut reader, 4).map_err(read_err)?;
    let compression = match media_type::kind(&layer.media_type) {
        Kind::Layer(c) if c != Compression::None => c,
        _ => Compression::sniff(&head),
    };
    let mut tar = decoder(compression, io::Cursor::new(head).chain(reader)).map_err(read_err)?;
    let mut sink = HashingWriter::new(io::sink(), Algorithm::Sha256);
    io::copy(&mut tar, &mut sink).map_err(read_err)?;
    let (_, diff_id, size) = sink.finish();
    Ok(LayerInfo { diff_id, size })
}
