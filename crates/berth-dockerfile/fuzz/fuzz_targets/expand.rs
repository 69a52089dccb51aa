//! Word expansion must never panic, hang or disagree with itself, whatever the word.
//! The first byte picks the escape character and the lexer mode; the rest is the word.

#![no_main]

use berth_dockerfile::expand::{Lexer, Vars};
use libfuzzer_sys::fuzz_target;

const VARS: [(&str, &str); 5] = [
    ("A", "a*b/c"),
    ("EMPTY", ""),
    ("SPACED", " x  y "),
    ("PAT", "\\*/"),
    ("DOLLAR", "$0$$"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(word) = std::str::from_utf8(rest) else {
        return;
    };
    let lexer = Lexer {
        escape: if mode & 1 == 0 { '\\' } else { '`' },
        raw_quotes: mode & 2 != 0,
        raw_escapes: mode & 4 != 0,
        skip_process_quotes: mode & 8 != 0,
        skip_unset_env: mode & 16 != 0,
    };
    let vars: &dyn Vars = &VARS;
    let single = lexer.word(word, vars);
    let tracked = lexer.word_tracked(word, vars);
    let words = lexer.words(word, vars);
    // One pass, three views: they must agree on success and on the result.
    assert_eq!(single.is_ok(), words.is_ok(), "word vs words on {word:?}");
    match (single, tracked) {
        (Ok(value), Ok(expansion)) => assert_eq!(value, expansion.value, "on {word:?}"),
        (Err(a), Err(b)) => assert_eq!(a, b, "on {word:?}"),
        (a, b) => panic!("word {a:?} vs tracked {b:?} on {word:?}"),
    }
});
