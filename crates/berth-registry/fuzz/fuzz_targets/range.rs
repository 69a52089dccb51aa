//! A `Range` header never panics, and a range served always lies within the blob.
//! The first eight bytes are the blob's size; the rest is the header.

#![no_main]

use berth_registry::range::{Range, parse_range};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (size, header) = data.split_at(8);
    let size = u64::from_le_bytes(size.try_into().unwrap()) % (1 << 40);
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    if let Range::Part(start, end) = parse_range(header, size) {
        assert!(start <= end && end < size, "{header:?} of {size}: {start}-{end}");
    }
});
