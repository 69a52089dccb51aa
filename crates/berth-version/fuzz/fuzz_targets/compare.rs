//! Parsing any text as a version of any ecosystem must never panic or overflow the stack, and
//! what parses must compare like an order: equal to itself, the reverse answer when swapped.
//!
//! The first byte picks the ecosystem; the rest, up to the first newline, is one version and
//! what follows it the other.

#![no_main]

use berth_version::{Ecosystem, parse};
use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let ecosystem = Ecosystem::ALL[usize::from(pick) % Ecosystem::ALL.len()];
    let text = String::from_utf8_lossy(rest);
    let (a, b) = text.split_once('\n').unwrap_or((&text, "0"));
    let (a, b) = match (parse(ecosystem, a), parse(ecosystem, b)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            assert!(e.to_string().contains(ecosystem.name()), "{e}");
            return;
        }
    };
    assert_eq!(a.partial_cmp(&a), Some(Ordering::Equal), "{a}");
    let forward = a.partial_cmp(&b).expect("one ecosystem");
    let backward = b.partial_cmp(&a).expect("one ecosystem");
    assert_eq!(forward, backward.reverse(), "{a} vs {b}");
});
