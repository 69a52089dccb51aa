//! A descriptor's `urls` never panic the check, and a layer the registry lets live elsewhere
//! is always a non-distributable type at http(s) URLs without a fragment.
//! The first byte picks the media type; the rest, split at newlines, are the URLs.

#![no_main]

use berth_oci::{Descriptor, Digest, media_type};
use berth_registry::foreign::{Placement, placement};
use libfuzzer_sys::fuzz_target;

const TYPES: [&str; 6] = [
    media_type::OCI_LAYER_NONDIST_GZIP,
    media_type::DOCKER_FOREIGN_LAYER,
    media_type::OCI_LAYER_GZIP,
    media_type::OCI_CONFIG,
    media_type::DOCKER_LAYER_GZIP,
    "application/octet-stream",
];

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let media_type = TYPES[kind as usize % TYPES.len()];
    let mut d = Descriptor::new(media_type, Digest::sha256(b"layer"), 1);
    d.urls = text.split('\n').map(str::to_string).collect();
    if let Ok(Placement::Elsewhere) = placement(&d) {
        assert!(media_type == TYPES[0] || media_type == TYPES[1], "{media_type}");
        for url in &d.urls {
            let lower = url.to_ascii_lowercase();
            assert!(
                (lower.starts_with("http://") || lower.starts_with("https://")) && !url.contains('#'),
                "{url:?}"
            );
        }
    }
});
