//! Word expansion, checked against BuildKit's documented `shell.Lex` behaviour.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use berth_dockerfile::expand::{Lexer, Lookup, NoVars, Vars, expand_word, expand_words};
use proptest::prelude::*;

/// The environment most cases run in: set, empty and (by omission) unset variables.
fn env() -> Vec<(String, String)> {
    [
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
        ("SPACED", "a  b"),
        ("FILE", "/usr/lib/libfoo.so.1.2"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `None` means the word must fail to expand.
const BACKSLASH: &[(&str, Option<&str>)] = &[
    // plain text, quotes, escapes
    ("hello", Some("hello")),
    ("he'll'o", Some("hello")),
    ("he'llo", None),
    ("he\\'llo", Some("he'llo")),
    ("he\\\\'llo", None),
    ("abc\\tdef", Some("abctdef")),
    ("\"abc\\tdef\"", Some("abc\\tdef")),
    ("\"abc\\\\tdef\"", Some("abc\\tdef")),
    ("'abc\\tdef'", Some("abc\\tdef")),
    ("hello\\", Some("hello")),
    ("hello\\\\", Some("hello\\")),
    ("\"hello", None),
    ("\"hello\\\"", None),
    ("\"hel'lo\"", Some("hel'lo")),
    ("'hello", None),
    ("'hello\\'", Some("hello\\")),
    ("'hello\\\\there'", Some("hello\\\\there")),
    ("\"''\"", Some("''")),
    ("'\"hello\"'", Some("\"hello\"")),
    ("a\\ b", Some("a b")),
    ("\"a\\`b\"", Some("a\\`b")),
    ("\u{feff}bom$PWD", Some("bom/home")),
    // `$` with no name after it
    ("$.", Some("$.")),
    ("he$.x", Some("he$.x")),
    ("$", Some("$")),
    ("a$", Some("a$")),
    ("$ x", Some("$ x")),
    ("\"$\"", Some("$")),
    // simple references
    ("he$PWD", Some("he/home")),
    ("he$pwd.", Some("he.")),
    ("he\\$PWD", Some("he$PWD")),
    ("he\\\\$PWD", Some("he\\/home")),
    ("\"he\\$PWD\"", Some("he$PWD")),
    ("\"he\\\\$PWD\"", Some("he\\/home")),
    ("'he$PWD'", Some("he$PWD")),
    ("'\\$PWD'", Some("\\$PWD")),
    ("\"he'$PWD'\"", Some("he'/home'")),
    ("$PWD$SHELL", Some("/homebash")),
    ("$PWD_x", Some("")),
    ("${PWD}_x", Some("/home_x")),
    ("he${hi}xx", Some("hexx")),
    ("$KOREAN", Some("한국어")),
    ("안녕$KOREAN", Some("안녕한국어")),
    ("$NULL.", Some(".")),
    // positional and special parameters are never set
    ("he$1x", Some("hex")),
    ("$999aaa", Some("aaa")),
    ("${001:-bbb}aaa", Some("bbbaaa")),
    ("$@@@", Some("@@")),
    ("${@:-bbb}", Some("bbb")),
    ("${#:+bbb}", Some("")),
    ("$$", Some("")),
    ("$0", Some("")),
    ("${?:-x}", Some("x")),
    // bad braces
    ("${}", None),
    ("he${}xx", None),
    ("\\${}", Some("${}")),
    ("he\\${}xx", Some("he${}xx")),
    ("he${.}", None),
    ("he${PWD", None),
    ("${{aaa}", None),
    ("${aaa}}", Some("}")),
    ("${:}", None),
    ("${:-bbb}", None),
    ("${PWD:", None),
    ("${", None),
    // :- and -
    ("he${XXX:-000}xx", Some("he000xx")),
    ("he${PWD:-000}xx", Some("he/homexx")),
    ("${NULL:-empty}", Some("empty")),
    ("${NULL-empty}", Some("")),
    ("${XXX-unset}", Some("unset")),
    ("${PWD-x}", Some("/home")),
    ("he${XXX:-$PWD}xx", Some("he/homexx")),
    ("he${XXX:-${PWD:-yyy}}xx", Some("he/homexx")),
    ("he${XXX:-${YYY:-yyy}}xx", Some("heyyyxx")),
    ("${aaa:-bbb}}", Some("bbb}")),
    ("${aaa:-bbb", None),
    ("${aaa:-bbb ${foo}", None),
    ("${aaa:-bbb {foo}", Some("bbb {foo")),
    ("he${XXX:-\\$PWD:}xx", Some("he$PWD:xx")),
    ("he${XXX:-\\${PWD}z}xx", Some("he${PWDz}xx")),
    ("${XXX:-'a}b'}", Some("a}b")),
    ("${XXX:-\"$PWD x\"}", Some("/home x")),
    ("\"${XXX:-\"in\"}\"", Some("in")),
    // :+ and +
    ("he${XXX:+${PWD}}xx", Some("hexx")),
    ("he${PWD:+${XXX}}xx", Some("hexx")),
    ("he${PWD:+${SHELL}}xx", Some("hebashxx")),
    ("he${PWD:+000}xx", Some("he000xx")),
    ("he${PWD:+${PWD}:}xx", Some("he/home:xx")),
    ("${NULL:+set}", Some("")),
    ("${NULL+set}", Some("set")),
    ("${XXX+set}", Some("")),
    // :? and ?
    ("he${XXX?}", None),
    ("he${XXX:?}", None),
    ("he${PWD?}", Some("he/home")),
    ("he${PWD:?}", Some("he/home")),
    ("he${NULL?}", Some("he")),
    ("he${NULL:?}", None),
    // unsupported modifiers
    ("he${XXX:YYY}", None),
    ("he${PWD:=000}xx", None),
    ("${PWD=x}", None),
    ("${PWD:#x}", None),
    ("${PWD:%%x}", None),
    ("${PWD^}", None),
    // # and ## (prefix), % and %% (suffix)
    ("${FILE#*/}", Some("usr/lib/libfoo.so.1.2")),
    ("${FILE##*/}", Some("libfoo.so.1.2")),
    ("${FILE%.*}", Some("/usr/lib/libfoo.so.1")),
    ("${FILE%%.*}", Some("/usr/lib/libfoo")),
    ("${FILE#/usr}", Some("/lib/libfoo.so.1.2")),
    ("${FILE#lib}", Some("/usr/lib/libfoo.so.1.2")),
    ("${FILE%?.?}", Some("/usr/lib/libfoo.so.")),
    ("${FILE#[}", Some("/usr/lib/libfoo.so.1.2")),
    ("${XXX#a}", Some("")),
    ("${PWD#}", Some("/home")),
    ("${PWD%%}", Some("/home")),
    ("${PWD#\\q}", None),
    ("${PWD#\\}", None),
    ("${PWD%'*\\'}", Some("/home")),
    ("${FILE#$PWD}", Some("/usr/lib/libfoo.so.1.2")),
    // / and // (first and every match)
    ("${FILE/lib/LIB}", Some("/usr/LIB/libfoo.so.1.2")),
    ("${FILE//lib/LIB}", Some("/usr/LIB/LIBfoo.so.1.2")),
    ("${FILE//\\//:}", Some(":usr:lib:libfoo.so.1.2")),
    ("${FILE//\\//\\/}", Some("\\/usr\\/lib\\/libfoo.so.1.2")),
    ("${FILE/*./}", Some("2")),
    ("${FILE/?/X}", Some("Xusr/lib/libfoo.so.1.2")),
    ("${FILE//[/X}", Some("/usr/lib/libfoo.so.1.2")),
    ("${PWD//o/'$0$0'}", Some("/hoome")),
    ("${PWD//o/'$$'}", Some("/h$me")),
    ("${PWD/o/'$0'}", Some("/h$0me")),
    ("${PWD///}", Some("/home")),
    ("${XXX///}", Some("")),
    ("${XXX//*/x}", Some("x")),
    ("${PWD//ww}", None),
    ("${PWD//}", None),
    ("${PWD/a", None),
];

fn expect(
    input: &str,
    expected: Option<&str>,
    result: Result<String, berth_dockerfile::expand::ExpandError>,
) {
    match (expected, result) {
        (Some(want), Ok(got)) => assert_eq!(got, want, "expanding {input:?}"),
        (None, Err(_)) => {}
        (Some(want), Err(e)) => panic!("expanding {input:?}: wanted {want:?}, got error {e}"),
        (None, Ok(got)) => panic!("expanding {input:?}: wanted an error, got {got:?}"),
    }
}

#[test]
fn backslash_escape_table() {
    let vars = env();
    assert!(BACKSLASH.len() >= 70);
    for &(input, expected) in BACKSLASH {
        expect(input, expected, expand_word(input, &vars, '\\'));
    }
}

#[test]
fn backtick_escape() {
    let vars = env();
    let cases: &[(&str, Option<&str>)] = &[
        ("a`$PWD", Some("a$PWD")),
        ("a``$PWD", Some("a`/home")),
        ("a\\$PWD", Some("a\\/home")),
        ("C:\\path\\x", Some("C:\\path\\x")),
        ("\"a`\"b\"", Some("a\"b")),
        ("\"a`$PWD\"", Some("a$PWD")),
        ("\"a\\$PWD\"", Some("a\\/home")),
        ("\"a`x\"", Some("a`x")),
        ("hello`", Some("hello")),
        ("a` b", Some("a b")),
        // patterns keep the escape character, and only `\` escapes inside them
        ("${PWD#`/}", Some("/home")),
        ("${FILE##*\\/}", Some("libfoo.so.1.2")),
    ];
    for &(input, expected) in cases {
        expect(input, expected, expand_word(input, &vars, '`'));
    }
}

#[test]
fn pattern_operators_with_special_characters() {
    // Each case: pattern word, value of FOO, result.
    let cases: &[(&str, &str, &str)] = &[
        ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", "()[]{}^$.*?|\\x", "x"),
        ("${FOO%%\\**}", "xx**", "xx"),
        ("${FOO#*x*y}", "xxyy", "y"),
        ("${FOO#*}", "xxyy", "xxyy"),
        ("${FOO##*}", "xxyy", ""),
        ("${FOO##*x}", "xxyy", "yy"),
        ("${FOO#?\\?}", "???y", "?y"),
        ("${FOO%%\\**\\*}", "a***yy*", "a"),
        ("${FOO%y*}", "xyxy", "xyx"),
        ("${FOO%%y*}", "xyxy", "x"),
        ("${FOO##*}", "a\nb", "\nb"),
        ("${FOO%%*}", "a\nb", "a\n"),
        ("${FOO//?/.}", "a\nb", ".\n."),
        ("${FOO//*/-}", "ab\ncd", "-\n-"),
        ("${FOO//x*/-}", "axbxc", "a-"),
        ("${FOO/\\*/}", "a*b*", "ab*"),
        ("${FOO//b/\\}}", "abab", "a\\}a\\}"),
        ("${FOO/#/x}", "a#b", "axb"),
        ("${FOO//}/x}", "a}b", "axb"),
        ("${FOO/$BAR/ww}", "xxyy", "wwxxyy"),
    ];
    for &(input, foo, want) in cases {
        let vars = vec![
            ("FOO".to_string(), foo.to_string()),
            ("BAR".to_string(), String::new()),
        ];
        assert_eq!(
            expand_word(input, &vars, '\\').as_deref(),
            Ok(want),
            "expanding {input:?} with FOO={foo:?}"
        );
    }
}

#[test]
fn needle_from_a_variable_is_a_pattern() {
    let vars: HashMap<String, String> = [
        ("FOO", "/foo*/*/*.txt"),
        ("NEEDLE", "\\*/"),
        ("P", "/a/foo/b/c.txt"),
        ("N2", "/?/"),
        ("R", "/"),
        ("URL", "http://google.de"),
        ("HTTP", "http://"),
        ("HTTPS", "https://"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let cases = [
        (
            "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
            "/foo.*/*.txt - /foo..*.txt",
        ),
        ("${P/$N2/$R} - ${P//$N2/$R}", "/foo/b/c.txt - /foo/c.txt"),
        ("${URL/$HTTP/$HTTPS}", "https://google.de"),
    ];
    for (input, want) in cases {
        assert_eq!(
            expand_word(input, &vars, '\\').as_deref(),
            Ok(want),
            "expanding {input:?}"
        );
    }
}

#[test]
fn required_variables_report_their_message() {
    let set = vec![
        ("VAR".to_string(), "plain".to_string()),
        ("ARG".to_string(), "x".to_string()),
    ];
    let empty = vec![
        ("VAR".to_string(), String::new()),
        ("ARG".to_string(), "x".to_string()),
    ];
    let unset = vec![("ARG".to_string(), "x".to_string())];
    let no_empty = "${VAR:?message here$ARG}";
    let no_unset = "${VAR?message here$ARG}";

    assert_eq!(expand_word(no_empty, &set, '\\').as_deref(), Ok("plain"));
    let e = expand_word(no_empty, &empty, '\\').unwrap_err();
    assert!(e.message.ends_with("VAR: message herex"), "{}", e.message);
    let e = expand_word(no_empty, &unset, '\\').unwrap_err();
    assert!(e.message.ends_with("VAR: message herex"), "{}", e.message);

    assert_eq!(expand_word(no_unset, &set, '\\').as_deref(), Ok("plain"));
    assert_eq!(expand_word(no_unset, &empty, '\\').as_deref(), Ok(""));
    let e = expand_word(no_unset, &unset, '\\').unwrap_err();
    assert!(e.message.ends_with("VAR: message herex"), "{}", e.message);

    let e = expand_word("${VAR?}", &unset, '\\').unwrap_err();
    assert!(
        e.message.ends_with("VAR: is not allowed to be unset"),
        "{}",
        e.message
    );
    let e = expand_word("${VAR:?}", &empty, '\\').unwrap_err();
    assert!(
        e.message.ends_with("VAR: is not allowed to be empty"),
        "{}",
        e.message
    );
}

#[test]
fn errors_name_the_word_and_the_problem() {
    let e = expand_word("x${A", &NoVars, '\\').unwrap_err();
    assert_eq!(
        e.message,
        "failed to process \"x${A\": syntax error: missing '}'"
    );
    let e = expand_word("${A:=b}", &NoVars, '\\').unwrap_err();
    assert_eq!(
        e.message,
        "failed to process \"${A:=b}\": unsupported modifier (:=) in substitution"
    );
    let e = expand_word("'abc", &NoVars, '\\').unwrap_err();
    assert!(e.message.contains("matching single-quote"), "{}", e.message);
    let e = expand_word("\"abc", &NoVars, '\\').unwrap_err();
    assert!(e.message.contains("matching double-quote"), "{}", e.message);
    let e = expand_word("${A/b", &NoVars, '\\').unwrap_err();
    assert!(
        e.message.ends_with("syntax error: missing '/' in ${}"),
        "{}",
        e.message
    );
    let e = expand_word("${A#\\q}", &NoVars, '\\').unwrap_err();
    assert!(
        e.message
            .ends_with("invalid pattern (\\q) in substitution: invalid escape '\\q'"),
        "{}",
        e.message
    );
}

#[test]
fn words_split_on_unquoted_whitespace_including_values() {
    let vars = vec![
        ("hi".to_string(), "hi".to_string()),
        ("space".to_string(), "abc  def".to_string()),
        ("leading".to_string(), "  ab c".to_string()),
        ("trailing".to_string(), "ab c   ".to_string()),
    ];
    let cases: &[(&str, Option<&[&str]>)] = &[
        ("hello", Some(&["hello"])),
        ("hello${hi}bye", Some(&["hellohibye"])),
        ("hello${space}bye", Some(&["helloabc", "defbye"])),
        ("hello\"${space}\"bye", Some(&["helloabc  defbye"])),
        ("hello \"${space}\"bye", Some(&["hello", "abc  defbye"])),
        ("hello${leading}def", Some(&["hello", "ab", "cdef"])),
        ("hello\"${leading}\" def", Some(&["hello  ab c", "def"])),
        ("hello${trailing}", Some(&["helloab", "c"])),
        ("hello${trailing}d", Some(&["helloab", "c", "d"])),
        ("hel\"lo${trailing}\"", Some(&["helloab c   "])),
        ("hello\" there  \"", Some(&["hello there  "])),
        ("hello there     ", Some(&["hello", "there"])),
        ("hello\\ there", Some(&["hello there"])),
        ("hello\" there", None),
        ("hello\\\" there", Some(&["hello\"", "there"])),
        ("hello'$there'", Some(&["hello$there"])),
        ("  ", Some(&[])),
        ("a '' b", Some(&["a", "b"])),
        ("a\tb\nc", Some(&["a", "b", "c"])),
        ("cat << EOF", Some(&["cat", "<< EOF"])),
        ("a<b", Some(&["a<b"])),
        // an operator form drops the partial word before it, as BuildKit does
        ("80${P:-/tcp}", Some(&["/tcp"])),
        ("x ab\"${P:-c}\"d", Some(&["x", "cd"])),
        ("80$P/tcp 443", Some(&["80/tcp", "443"])),
    ];
    for &(input, expected) in cases {
        let got = expand_words(input, &vars, '\\');
        match expected {
            Some(want) => {
                let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
                assert_eq!(got, Ok(want), "splitting {input:?}");
            }
            None => assert!(
                got.is_err(),
                "splitting {input:?}: wanted an error, got {got:?}"
            ),
        }
    }
}

#[test]
fn lexer_modes_for_heredocs_and_unset_variables() {
    let raw = Lexer {
        raw_quotes: true,
        raw_escapes: true,
        skip_unset_env: true,
        ..Lexer::new('\\')
    };
    assert_eq!(
        raw.words("cat <<\"EOF\" $X ${Y:-z} 'a b' \\x", &NoVars)
            .unwrap(),
        ["cat", "<<\"EOF\"", "$X", "${Y:-z}", "'a b'", "\\x"]
    );

    let keep_unset = Lexer {
        raw_quotes: true,
        skip_unset_env: true,
        ..Lexer::new('\\')
    };
    let vars = [("A", "1")];
    assert_eq!(
        keep_unset
            .word("$A $B ${B} ${B:-x} ${B/a/b} ${A:+y} 'q'", &vars)
            .unwrap(),
        "1 $B ${B} ${B:-x} ${B/a/b} y 'q'"
    );

    let heredoc = Lexer::heredoc_content();
    assert_eq!(
        heredoc.word("echo \"$A\" '$A' \\$A", &vars).unwrap(),
        "echo \"1\" '1' $A"
    );
}

#[test]
fn tracking_reports_matched_and_unmatched_names() {
    let vars: BTreeMap<String, String> = [
        ("FOO".to_string(), "xxx".to_string()),
        ("BAR".to_string(), String::new()),
    ]
    .into();
    let got = Lexer::new('\\')
        .word_tracked("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc} $BAZ", &vars)
        .unwrap();
    assert_eq!(got.value, "xxx bbb ccc ");
    assert_eq!(got.matched.into_iter().collect::<Vec<_>>(), ["BAR", "FOO"]);
    assert_eq!(got.unmatched.into_iter().collect::<Vec<_>>(), ["BAZ"]);
}

#[test]
fn reporting_tells_every_lookup_in_order_with_its_guard() {
    let vars = [("SET", "1")];
    let mut seen = Vec::new();
    let value = Lexer::new('\\')
        .word_reporting(
            "$SET ${A:-$B} ${C+x} '$D' \\$E \"${F#*}\" ${G:?} ",
            &vars,
            &mut |l: Lookup<'_>| seen.push((l.name.to_string(), l.set, l.guarded)),
        )
        .unwrap_err();
    assert!(
        value.message.contains("G: is not allowed to be unset"),
        "{value}"
    );
    let seen: Vec<(&str, bool, bool)> = seen.iter().map(|(n, s, g)| (n.as_str(), *s, *g)).collect();
    assert_eq!(
        seen,
        [
            ("SET", true, false),
            // The word of an operator form is expanded before the name is looked up.
            ("B", false, false),
            ("A", false, true),
            ("C", false, true),
            ("F", false, false),
            // Reported even though the lookup ends the expansion with an error.
            ("G", false, false),
        ]
    );
}

#[test]
fn variable_sources_agree() {
    let pairs = vec![
        ("A".to_string(), "1".to_string()),
        ("A".to_string(), "2".to_string()),
    ];
    assert_eq!(
        expand_word("$A", &pairs, '\\').unwrap(),
        "2",
        "the last pair wins"
    );
    let map: HashMap<String, String> = [("A".to_string(), "3".to_string())].into();
    assert_eq!(expand_word("$A", &map, '\\').unwrap(), "3");
    let tree: BTreeMap<String, String> = [("A".to_string(), "4".to_string())].into();
    assert_eq!(expand_word("$A", &tree, '\\').unwrap(), "4");
    assert_eq!(expand_word("$A", &[("A", "5")], '\\').unwrap(), "5");
    assert_eq!(NoVars.get("A"), None);
}

#[test]
fn adversarial_patterns_finish_quickly() {
    let value = "a".repeat(3000);
    let vars = vec![("V".to_string(), value)];
    let start = Instant::now();
    let word = "${V//*a*a*a*a*a*a*a*b/x}${V%%*a*a*a*a*a*a*a*b}${V#*a*a*a*a*a*a*b}";
    let got = expand_word(word, &vars, '\\').unwrap();
    assert_eq!(got.len(), 9000);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let word = "${A:-".repeat(10_000) + &"}".repeat(10_000);
    assert!(expand_word(&word, &NoVars, '\\').is_err());
    let quotes = "\"${A:-".repeat(10_000);
    assert!(expand_word(&quotes, &NoVars, '\\').is_err());
    let fine = "${A:-".repeat(50) + "x" + &"}".repeat(50);
    assert_eq!(expand_word(&fine, &NoVars, '\\').unwrap(), "x");
}

proptest! {
    #[test]
    fn expansion_never_panics(word in "[-${}:#%/?*+'\"\\\\`a-cA-C0-9 \n<@!]{0,60}") {
        let vars = vec![("A".to_string(), "a*b/c".to_string()), ("B".to_string(), String::new())];
        for escape in ['\\', '`'] {
            let _ = expand_word(&word, &vars, escape);
            let _ = expand_words(&word, &vars, escape);
            let raw = Lexer { raw_quotes: true, raw_escapes: true, skip_unset_env: true, ..Lexer::new(escape) };
            let _ = raw.words(&word, &vars);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(word in any::<String>()) {
        let _ = expand_word(&word, &NoVars, '\\');
        let _ = expand_words(&word, &NoVars, '`');
    }

    #[test]
    fn plain_words_are_unchanged(word in "[a-zA-Z0-9_./:=,-]{0,40}") {
        prop_assert_eq!(expand_word(&word, &NoVars, '\\').unwrap(), word);
    }
}

#[test]
fn nested_replacements_stop_at_a_bound_instead_of_growing_without_end() {
    // Each level replaces every character of A by the level inside it: 6^12 characters if
    // nothing stopped it (the fuzzer found a word like this that took seconds).
    let vars: Vec<(String, String)> = vec![("A".into(), "abcdef".into())];
    let mut word = "x".to_string();
    for _ in 0..12 {
        word = format!("${{A//?/{word}}}");
    }
    let started = Instant::now();
    let err = expand_word(&word, &vars, '\\').unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(err.message.contains("more than 1 MiB"), "{}", err.message);
    // Three levels are fine: 216 characters.
    let mut word = "x".to_string();
    for _ in 0..3 {
        word = format!("${{A//?/{word}}}");
    }
    assert_eq!(expand_word(&word, &vars, '\\').unwrap(), "x".repeat(216));
}
