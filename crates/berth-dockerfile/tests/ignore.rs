//! `.dockerignore` reading and matching, checked against moby's documented pattern semantics.

use berth_dockerfile::ignore::{IgnoreError, Patterns, clean, ignore_file_for};
use proptest::prelude::*;

/// (patterns, path, excluded?)
const MATCHES: &[(&[&str], &str, bool)] = &[
    // exact names and parents
    (&["foo"], "foo", true),
    (&["foo"], "foo/bar", true),
    (&["foo"], "foo/bar/baz", true),
    (&["foo"], "foobar", false),
    (&["foo"], "bar/foo", false),
    (&["foo/bar"], "foo/bar/baz.txt", true),
    (&["foo/bar"], "foo", false),
    (&["foo.txt"], "fooXtxt", false),
    (&["a+b(c)|{d}$"], "a+b(c)|{d}$", true),
    // `*` stays inside one path segment
    (&["*.go"], "main.go", true),
    (&["*.go"], "cmd/main.go", false),
    (&["*"], "anything", true),
    (&["*"], "dir/file", true),
    (&["*/*.go"], "cmd/main.go", true),
    (&["*/*.go"], "a/b/main.go", false),
    (&["docs/*"], "docs/readme.md", true),
    (&["docs/*"], "docs", false),
    (&["docs/*"], "docs/sub/deep.md", true),
    (&["a*b"], "a/b", false),
    (&["a*b"], "axxb", true),
    (&["*.md"], ".md", true),
    // `?`
    (&["?.txt"], "a.txt", true),
    (&["?.txt"], "ab.txt", false),
    (&["a?b"], "a/b", false),
    (&["file?"], "file", false),
    // classes
    (&["[abc].txt"], "b.txt", true),
    (&["[abc].txt"], "d.txt", false),
    (&["[a-c]x"], "bx", true),
    (&["[^a-c]x"], "bx", false),
    (&["[^a-c]x"], "dx", true),
    (&["[!a]x"], "!x", true),
    (&["[!a]x"], "bx", false),
    (&["[\\]]"], "]", true),
    (&["a[/]b"], "a/b", true),
    (&["[a-]]"], "a", false), // invalid pattern: checked separately
    // escapes
    (&["\\*"], "*", true),
    (&["\\*"], "a", false),
    (&["a\\?"], "a?", true),
    (&["a\\?"], "ab", false),
    // `**`
    (&["**"], "anything/at/all", true),
    (&["**/foo"], "foo", true),
    (&["**/foo"], "a/b/foo", true),
    (&["**/foo"], "a/b/foo/c", true),
    (&["**/foo"], "a/xfoo", false),
    (&["**foo"], "a/xfoo", true),
    (&["**/*.go"], "main.go", true),
    (&["**/*.go"], "a/b/c.go", true),
    (&["**/*.go"], "a/b/c.goo", false),
    (&["a/**"], "a/b", true),
    (&["a/**"], "a/b/c", true),
    (&["a/**"], "a", false),
    (&["a/**"], "ab/c", false),
    (&["a**"], "abc/d", true),
    (&["a/**/b"], "a/b", true),
    (&["a/**/b"], "a/x/y/b", true),
    (&["a/**/b"], "a/x/yb", false),
    (&["a/**/b"], "a/x/b/c", true),
    (&["a/**/*.txt"], "a/b/c.txt", true),
    (&["a/**/*.txt"], "b/c.txt", false),
    (&["**/a/**"], "x/a/y", true),
    (&["**/a/**"], "x/ab/y", false),
    (&["foo**bar"], "foo/x/bar", true),
    (&["foo**bar"], "fooxbar", false),
    (&["foo**bar"], "foobar", true),
    // exceptions, last match wins
    (&["*.md", "!README.md"], "README.md", false),
    (&["*.md", "!README.md"], "CHANGES.md", true),
    (&["!README.md", "*.md"], "README.md", true),
    (
        &["*.md", "!README*.md", "README-secret.md"],
        "README-secret.md",
        true,
    ),
    (
        &["*.md", "!README*.md", "README-secret.md"],
        "README-public.md",
        false,
    ),
    (&["docs", "!docs/keep.md"], "docs/keep.md", false),
    (&["docs", "!docs/keep.md"], "docs/drop.md", true),
    (&["docs", "!docs/keep"], "docs/keep/deep.txt", false),
    (&["docs/keep", "!docs"], "docs/keep/x", false),
    (&["*", "!dist", "dist/*.map"], "dist/app.js", false),
    (&["*", "!dist", "dist/*.map"], "dist/app.js.map", true),
    (&["*", "!dist", "dist/*.map"], "src/app.js", true),
    (&["!foo"], "foo", false),
    // cleaning: leading slash and ./ dropped, `..` resolved
    (&["/foo"], "foo", true),
    (&["./foo"], "foo/x", true),
    (&["foo/../bar"], "bar", true),
    (&["foo/"], "foo/x", true),
    (&["a//b"], "a/b", true),
    // the path is cleaned too
    (&["foo"], "./foo/x", true),
    (&["foo"], "/foo", true),
    (&["*"], ".", false),
    (&["*"], "", false),
    // newlines are not crossed by `**`, but are by `*`
    (&["a/**/b"], "a/x\ny/b", false),
    (&["a*b"], "a\nb", true),
];

#[test]
fn match_table() {
    assert!(MATCHES.len() >= 60);
    for &(patterns, path, want) in MATCHES {
        let text = patterns.join("\n");
        let Ok(parsed) = Patterns::parse(&text) else {
            // Only the deliberately invalid case may fail to parse.
            assert_eq!(patterns, &["[a-]]"]);
            continue;
        };
        assert_eq!(
            parsed.excludes(path),
            want,
            "patterns {patterns:?} on {path:?}"
        );
    }
}

#[test]
fn reading_skips_comments_and_blanks_and_cleans() {
    let text = "\u{feff}# comment\n\n   \n  # not a comment\n/abs/path\n./rel/./x\nsub/\n! keep \n!/also\nline\r\n#last";
    let patterns = Patterns::parse(text).unwrap();
    let got: Vec<(bool, &str, usize)> = patterns
        .iter()
        .map(|p| (p.is_exception(), p.text(), p.line()))
        .collect();
    assert_eq!(
        got,
        [
            (false, "# not a comment", 4),
            (false, "abs/path", 5),
            (false, "rel/x", 6),
            (false, "sub", 7),
            (true, "keep", 8),
            (true, "also", 9),
            (false, "line", 10),
        ]
    );
    assert!(patterns.has_exceptions());
    assert!(patterns.excludes("# not a comment"));
}

#[test]
fn reading_errors_name_the_line() {
    assert_eq!(
        Patterns::parse("a\n!\n"),
        Err(IgnoreError::LoneExclamation { line: 2 })
    );
    assert_eq!(
        Patterns::parse("a\n  !   "),
        Err(IgnoreError::LoneExclamation { line: 2 })
    );
    // "!/" cleans to "!" once the slash is gone.
    assert_eq!(
        Patterns::parse("!/"),
        Err(IgnoreError::LoneExclamation { line: 1 })
    );
    for (text, line) in [
        ("ok\n[abc", 2),
        ("x\\", 1),
        ("a\nb\n[]a]", 3),
        ("[a-]", 1),
        ("[^]", 1),
        ("[z-a]", 1),
        ("a[", 1),
        ("[-a]", 1),
    ] {
        match Patterns::parse(text) {
            Err(IgnoreError::BadPattern { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
            other => panic!("{text:?}: wanted a syntax error, got {other:?}"),
        }
    }
    let message = Patterns::parse("[abc").unwrap_err().to_string();
    assert!(
        message.starts_with("line 1: syntax error in pattern \"[abc\""),
        "{message}"
    );
}

#[test]
fn from_list_keeps_leading_slash_and_reports_position() {
    let list = Patterns::from_list(&["*.tmp", "/abs", "!keep.tmp"]).unwrap();
    assert!(list.excludes("x.tmp"));
    assert!(!list.excludes("keep.tmp"));
    assert!(
        !list.excludes("abs"),
        "a leading / is kept, so it never matches a relative path"
    );
    assert_eq!(
        Patterns::from_list(&["a", "!"]),
        Err(IgnoreError::LoneExclamation { line: 2 })
    );
    assert!(Patterns::from_list::<&str>(&[]).unwrap().is_empty());
    assert_eq!(Patterns::from_list(&["", "  ", "a"]).unwrap().len(), 1);
}

#[test]
fn walking_into_excluded_directories() {
    let none = Patterns::parse("node_modules\n").unwrap();
    assert!(none.excludes("node_modules"));
    assert!(!none.may_include_under("node_modules"));

    let literal = Patterns::parse("vendor\n!vendor/keep/file.txt\n").unwrap();
    assert!(literal.may_include_under("vendor"));
    assert!(literal.may_include_under("vendor/keep"));
    assert!(literal.may_include_under("vendor/keep/file.txt"));
    assert!(!literal.may_include_under("vendor/other"));
    assert!(!literal.may_include_under("vend"));

    let trailing_glob = Patterns::parse("build\n!build/out/**\n").unwrap();
    assert!(trailing_glob.may_include_under("build/out"));
    assert!(!trailing_glob.may_include_under("build/tmp"));

    let wildcard = Patterns::parse("*\n!**/*.go\n").unwrap();
    assert!(wildcard.may_include_under("anything"));
}

#[test]
fn ignore_file_choice() {
    let both = |p: &str| p == "Dockerfile.dockerignore" || p == ".dockerignore";
    assert_eq!(
        ignore_file_for("Dockerfile", both).as_deref(),
        Some("Dockerfile.dockerignore")
    );
    let root_only = |p: &str| p == ".dockerignore";
    assert_eq!(
        ignore_file_for("Dockerfile", root_only).as_deref(),
        Some(".dockerignore")
    );
    let nested = |p: &str| p == "build/app.Dockerfile.dockerignore";
    assert_eq!(
        ignore_file_for("build/app.Dockerfile", nested).as_deref(),
        Some("build/app.Dockerfile.dockerignore")
    );
    assert_eq!(ignore_file_for("Dockerfile", |_| false), None);
    assert_eq!(
        ignore_file_for("", |p| p == "Dockerfile.dockerignore").as_deref(),
        Some("Dockerfile.dockerignore")
    );
}

#[test]
fn clean_matches_go() {
    for (input, want) in [
        ("", "."),
        (".", "."),
        ("a/b", "a/b"),
        ("a//b/", "a/b"),
        ("./a/./b/.", "a/b"),
        ("a/../b", "b"),
        ("a/..", "."),
        ("../a", "../a"),
        ("../../a/..", "../.."),
        ("/../a", "/a"),
        ("/", "/"),
        ("//", "/"),
        ("!a/../b", "b"),
    ] {
        assert_eq!(clean(input), want, "clean({input:?})");
    }
}

proptest! {
    #[test]
    fn matching_never_panics(pattern in "[-a-c*?\\[\\]!^\\\\/.\n ]{0,20}", path in "[a-c*?/.\n\\\\\\[\\]]{0,20}") {
        if let Ok(patterns) = Patterns::parse(&pattern) {
            let _ = patterns.excludes(&path);
            let _ = patterns.may_include_under(&path);
        }
        if let Ok(patterns) = Patterns::from_list(&[pattern.as_str(), "!a*"]) {
            let _ = patterns.excludes(&path);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>(), path in any::<String>()) {
        if let Ok(patterns) = Patterns::parse(&text) {
            let _ = patterns.excludes(&path);
        }
    }

    #[test]
    fn a_literal_name_excludes_itself_and_its_children(name in "[a-z]{1,8}", child in "[a-z]{1,8}") {
        let patterns = Patterns::parse(&name).unwrap();
        prop_assert!(patterns.excludes(&name));
        let nested = format!("{name}/{child}");
        prop_assert!(patterns.excludes(&nested));
        let sibling = format!("{name}x");
        prop_assert!(!patterns.excludes(&sibling));
    }
}
