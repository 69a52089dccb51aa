//! Where the gzip chunks of built layers are, so a rerun step can copy the chunks its new
//! layer shares with its earlier one instead of deflating them again (see
//! [`berth_layer::ChunkSource`]).
//!
//! Each gzip layer the builder writes gets a `<layer dir>.chunks` file beside its unpacked
//! form: a header naming the format, the deflate codec ([`berth_layer::chunk_codec`]) and the
//! blob, then one line per chunk: the sha256 of what it holds, its offset and its length in
//! the blob. It is a cache and nothing more: a chunk it points to is inflated and compared
//! before it is used, so a stale or torn file costs only the time it was meant to save.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use berth_layer::{Chunk, ChunkSource};
use berth_oci::{Algorithm, Digest};
use berth_store::Store;

use crate::snapshot::{LayerRef, Snapshots};

const FORMAT: &str = "berth-chunks-1";

/// Records where `chunks` sit in `layer`'s blob. Best effort: without the file, a later
/// rerun deflates everything, as it would have anyway.
pub(crate) fn save(snapshots: &Snapshots, layer: &LayerRef, chunks: &[Chunk]) {
    if chunks.is_empty() {
        return;
    }
    let mut text = format!(
        "{FORMAT} {} {}\n",
        berth_layer::chunk_codec(),
        layer.descriptor.digest
    );
    for c in chunks {
        text.push_str(&format!("{} {} {}\n", c.content.hex(), c.offset, c.len));
    }
    let path = snapshots.chunks_file(&layer.diff_id);
    if let Err(e) = std::fs::write(&path, text) {
        tracing::debug!(path = %path.display(), error = %e, "chunk index not written");
    }
}

/// The chunks of an earlier layer, read from its blob.
pub(crate) struct LayerChunks {
    blob: File,
    size: u64,
    at: HashMap<Digest, (u64, u64)>,
}

impl LayerChunks {
    /// The chunks recorded for `layer`, when they were made by this build's codec and its
    /// blob is in the store; `None` otherwise.
    pub(crate) fn of(
        store: &Store,
        snapshots: &Snapshots,
        layer: &LayerRef,
    ) -> Option<LayerChunks> {
        let text = std::fs::read_to_string(snapshots.chunks_file(&layer.diff_id)).ok()?;
        let mut lines = text.lines();
        let header = format!(
            "{FORMAT} {} {}",
            berth_layer::chunk_codec(),
            layer.descriptor.digest
        );
        if lines.next()? != header {
            return None;
        }
        let at = lines.filter_map(parse_line).collect();
        let blob = File::open(store.blobs().path(&layer.descriptor.digest)).ok()?;
        let size = blob.metadata().ok()?.len();
        Some(LayerChunks { blob, size, at })
    }
}

fn parse_line(line: &str) -> Option<(Digest, (u64, u64))> {
    let mut fields = line.split(' ');
    let content = Digest::from_hex(Algorithm::Sha256, fields.next()?).ok()?;
    let offset = fields.next()?.parse().ok()?;
    let len = fields.next()?.parse().ok()?;
    Some((content, (offset, len)))
}

impl ChunkSource for LayerChunks {
    fn deflated(&self, content: &Digest) -> Option<Vec<u8>> {
        let &(offset, len) = self.at.get(content)?;
        if offset.checked_add(len)? > self.size {
            return None;
        }
        let mut bytes = vec![0; usize::try_from(len).ok()?];
        self.blob.read_exact_at(&mut bytes, offset).ok()?;
        Some(bytes)
    }
}
