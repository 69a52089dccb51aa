//! The parsers of headers a registry sends (`WWW-Authenticate`, `Link`) on arbitrary text:
//! they must return a value or nothing, never panic; and the next page a `Link` leads to is
//! always on the registry that sent it.
#![no_main]

use berth_remote::challenge;
use berth_remote::ops::{next_link, path_and_query};
use libfuzzer_sys::fuzz_target;
use reqwest::Url;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = challenge::parse(text);
    for link in next_link(text).into_iter().chain([text.to_string()]) {
        let Some(target) = path_and_query(&link) else {
            continue;
        };
        assert!(target.starts_with('/') && !target.starts_with("//"), "{target:?}");
        let registry = Url::parse("http://registry.example:5000/").unwrap();
        if let Ok(url) = registry.join(&target) {
            assert_eq!(url.host_str(), Some("registry.example"), "{link:?} → {url}");
            assert_eq!(url.port(), Some(5000), "{link:?} → {url}");
        }
    }
});
