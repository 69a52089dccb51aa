//! Resolving a Dockerfile (stages, ARG scoping, every word expanded) must never panic or run
//! out of memory, whatever the text: values built from earlier values (`ARG B=$A$A`) stop at
//! the expansion limit with an error naming the line.
//!
//! The first byte says how many times the input's last line is repeated after it, so growth
//! across instructions is reachable from short inputs (`ARG A=x` then `ARG A=$A$A` forty
//! times). Memory stays bounded by libFuzzer's `-rss_limit_mb`, which `scripts/fuzz` sets.

#![no_main]

use berth_dockerfile::describe::{BuildOptions, DescribeError, resolve};
use berth_dockerfile::syntax;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&repeat, rest)) = data.split_first() else {
        return;
    };
    let Ok(body) = std::str::from_utf8(rest) else {
        return;
    };
    let last = body.trim_end_matches('\n').rsplit('\n').next().unwrap_or("");
    let mut text = format!("FROM scratch\n{body}\n");
    for _ in 0..repeat % 64 {
        text.push_str(last);
        text.push('\n');
    }
    let Ok(df) = syntax::parse(&text) else {
        return;
    };
    if let Err(DescribeError::Line { line, .. }) = resolve(&df, &BuildOptions::default()) {
        assert!(line >= 1 && line <= text.lines().count() + 1, "line {line} of {text:?}");
    }
});
