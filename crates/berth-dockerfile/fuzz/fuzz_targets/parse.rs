//! The parser on arbitrary text: it must return a tree or an error, never panic; a tree must
//! dump, and parsing must be deterministic.
#![no_main]

use berth_dockerfile::syntax::{dump, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let first = parse(text);
    assert_eq!(first, parse(text), "parse is not deterministic");
    if let Ok(df) = first {
        let _ = dump(&df);
    }
});
