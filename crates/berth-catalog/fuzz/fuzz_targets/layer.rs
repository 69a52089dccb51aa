//! Any bytes as a layer (plain, gzip or zstd tar) are merged and catalogued without a panic
//! or a hang: an error, or a catalogue.

#![no_main]

use berth_catalog::{ImageFs, Layer, WANTED, catalog};
use berth_oci::Digest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bytes = data.to_vec();
    let layer = Layer::new(Digest::sha256(data), move || {
        Ok(std::io::Cursor::new(bytes.clone()))
    });
    if let Ok(image) = ImageFs::read(vec![layer], &WANTED) {
        let _ = catalog(&image);
    }
});
