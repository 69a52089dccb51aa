//! Variables in Dockerfile words as BuildKit's expansion looks them up: the linter asks
//! berth-dockerfile's expander ([`berth_dockerfile::expand`]) which names a word uses instead
//! of reading words a second way.

use berth_dockerfile::expand::{Lexer, Vars};

/// The variables `word` uses that are not defined — neither by `defined` nor by BuildKit
/// ([`PREDEFINED_ARGS`]) — in order, each once. With `allow_guarded`, a use with a fallback
/// (`${NAME:-word}`, `${NAME+word}`…) is no mistake.
///
/// A word that does not expand (`${NAME`) gives the names it used before the error: the
/// error itself is the parser's to report.
pub fn undefined(
    word: &str,
    escape: char,
    defined: &dyn Fn(&str) -> bool,
    allow_guarded: bool,
) -> Vec<String> {
    let known = Known(&|name| defined(name) || PREDEFINED_ARGS.contains(&name));
    let mut out: Vec<String> = Vec::new();
    let _ = Lexer::new(escape).word_reporting(word, &known, &mut |lookup| {
        let excused = lookup.set || (allow_guarded && lookup.guarded);
        if !excused && is_name(lookup.name) && !out.iter().any(|n| n == lookup.name) {
            out.push(lookup.name.to_string());
        }
    });
    out
}

/// Names the linter knows are defined, their values unknown (the empty string stands in).
struct Known<'a>(&'a dyn Fn(&str) -> bool);

impl Vars for Known<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        (self.0)(name).then_some("")
    }
}

/// A name a Dockerfile could declare: not a special parameter such as `$@` or `$$`.
fn is_name(name: &str) -> bool {
    name.chars().all(|c| c == '_' || c.is_alphanumeric())
}

/// The build arguments BuildKit defines in every build.
pub const PREDEFINED_ARGS: &[&str] = &[
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "TARGETSTAGE",
    "BUILDKIT_SYNTAX",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
    "SOURCE_DATE_EPOCH",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_undefined_uses_outside_single_quotes() {
        let none = |_: &str| false;
        let word = "a$B-${C:-x}\\$D '$E' \"$F\" $@ $TARGETARCH";
        assert_eq!(undefined(word, '\\', &none, true), ["B", "F"]);
        assert_eq!(undefined(word, '\\', &none, false), ["B", "C", "F"]);
        let b = |n: &str| n == "B";
        assert_eq!(undefined("$B${B}$F$F", '\\', &b, true), ["F"]);
    }

    #[test]
    fn reports_what_it_saw_before_an_error() {
        assert_eq!(undefined("$A ${B", '\\', &|_| false, true), ["A"]);
    }
}
