//! Whatever the text, parsing never panics, and what parses is ordered like an order should
//! be: every version equals itself, swapping the sides reverses the answer, and `a <= b <= c`
//! gives `a <= c`. The texts are short and drawn from the characters the ecosystems give
//! meaning to, so that most of them parse and many share prefixes.

use berth_version::{Ecosystem, Version, parse};
use proptest::prelude::*;
use std::cmp::Ordering;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "v?[0-9]{1,2}([.~^+_:!-]?[0-9a-cprA-C]{0,3}){0,4}",
        "[0-9a-zA-Z.~^+_:!#-]{0,12}",
        any::<String>(),
    ]
}

fn ecosystem() -> impl Strategy<Value = Ecosystem> {
    prop::sample::select(Ecosystem::ALL.to_vec())
}

fn cmp(a: &Version, b: &Version) -> Ordering {
    a.partial_cmp(b).expect("one ecosystem")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn parsing_never_panics_and_errors_name_the_text(ecosystem in ecosystem(), text in text()) {
        if let Err(err) = parse(ecosystem, &text) {
            prop_assert_eq!(err.ecosystem, ecosystem);
            prop_assert_eq!(&err.version, &text);
            prop_assert!(err.to_string().contains(ecosystem.name()));
        }
    }

    #[test]
    fn each_order_is_an_order(ecosystem in ecosystem(), a in text(), b in text(), c in text()) {
        // PHP's order makes a `#` part equal to every number (the corpus holds `1.2.3.# =
        // 1.2.3` and `1.2.3.# = 1.2.3.1`), so it is an order only without `#`.
        if ecosystem == Ecosystem::Packagist && [&a, &b, &c].iter().any(|t| t.contains('#')) {
            return Ok(());
        }
        let (Ok(a), Ok(b), Ok(c)) = (parse(ecosystem, &a), parse(ecosystem, &b), parse(ecosystem, &c)) else {
            return Ok(());
        };
        prop_assert_eq!(cmp(&a, &a), Ordering::Equal, "{} = itself", a);
        prop_assert_eq!(cmp(&a, &b), cmp(&b, &a).reverse(), "{} vs {}", a, b);
        let mut sorted = [a, b, c];
        sorted.sort_by(cmp);
        let [a, b, c] = &sorted;
        prop_assert!(cmp(a, b).is_le() && cmp(b, c).is_le() && cmp(a, c).is_le(),
            "not transitive: {} {:?} {} {:?} {}, but {} {:?} {}",
            a, cmp(a, b), b, cmp(b, c), c, a, cmp(a, c), c);
    }
}

#[test]
fn versions_of_two_ecosystems_are_not_comparable() {
    let deb = parse(Ecosystem::Debian, "1.0").unwrap();
    let rpm = parse(Ecosystem::Rpm, "1.0").unwrap();
    assert_eq!(deb.partial_cmp(&rpm), None);
    assert_ne!(deb, rpm);
}

#[test]
fn hostile_lengths_are_bounded() {
    use berth_version::MAX_LEN;
    // Maven nests a list per `-`; the rest walk long texts: all within the bound stay cheap.
    let patterns = ["1-", "1a", "0.", "~", "-r", "1_", ".#", "a."];
    for ecosystem in Ecosystem::ALL {
        for pattern in patterns {
            let long = pattern.repeat(MAX_LEN / pattern.len());
            if let (Ok(a), Ok(b)) = (parse(ecosystem, &long), parse(ecosystem, &long[1..])) {
                assert_eq!(cmp(&a, &b), cmp(&b, &a).reverse(), "{ecosystem}: {pattern}");
            }
            let err = parse(ecosystem, &format!("{long}{long}")).unwrap_err();
            assert!(err.to_string().contains("longer than 1024 bytes"), "{err}");
            assert!(
                err.to_string().len() < 300,
                "the message quotes a bounded part: {err}"
            );
        }
    }
}
