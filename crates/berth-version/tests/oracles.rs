//! The ecosystems' own comparisons as oracles (dpkg, rpm, Python's `packaging`, Maven's
//! `ComparableVersion`, npm's semver), on versions generated with proptest from what makes each
//! order tricky (`~ ^ + . - : _`, digits, letters; labels, qualifiers, separators).
//!
//! The oracles run as one process each, fed every question on stdin, so the test stays at a
//! few seconds: dpkg answers one `dpkg --compare-versions` per line (from one `sh` loop), rpm
//! one `rpm.ver` comparison per line (from one python3-rpm process), and so on. Failures list
//! every disagreement with both answers; the versions are short, so no shrinking is needed.
//!
//! Needs dpkg, and Debian's python3-rpm, python3-packaging, libmaven3-core-java with a JRE,
//! nodejs and node-semver (scripts/install-test-deps installs them).

use berth_version::{Ecosystem, Version, compare, parse};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

/// `n` values of `strategy`, from a fresh random seed.
fn sample<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::default();
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).expect("a value").current())
        .collect()
}

/// Runs `program` with `stdin`, insisting it succeeds; its stdout's lines.
fn oracle(program: &str, args: &[&str], stdin: &str) -> Vec<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{program}: {e}: run scripts/install-test-deps, which installs the oracles")
        });
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_owned();
    let writer = std::thread::spawn(move || input.write_all(stdin.as_bytes()));
    let out = child.wait_with_output().expect("oracle output");
    writer
        .join()
        .expect("writer")
        .expect("writing to the oracle");
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Fails clearly unless Debian's python3 can import `module` (from Debian's `package`).
fn require_python_module(module: &str, package: &str) {
    let found = Command::new(PYTHON)
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{package} is not installed: run scripts/install-test-deps (Debian's {package})"
    );
}

/// Debian's python3, which Debian's python3-rpm and python3-packaging extend (a python3 found
/// first on PATH may be another one).
const PYTHON: &str = "/usr/bin/python3";

/// An oracle's `-1`, `0` or `1`.
fn sign(answer: &str) -> Option<Ordering> {
    match answer {
        "-1" => Some(Ordering::Less),
        "0" => Some(Ordering::Equal),
        "1" => Some(Ordering::Greater),
        _ => None,
    }
}

/// Fails listing every disagreement with `oracle`, out of `asked` questions.
fn assert_agrees(oracle: &str, asked: usize, disagreements: &[String]) {
    assert!(
        disagreements.is_empty(),
        "{} of {asked} answers disagree with {oracle}:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

fn order_name(order: Ordering) -> &'static str {
    match order {
        Ordering::Less => "lt",
        Ordering::Equal => "eq",
        Ordering::Greater => "gt",
    }
}

/// Debian versions: mostly well formed, with `~ + . - :` and letters in the upstream part
/// (a `:` only after an epoch, where it is allowed).
fn dpkg_version() -> impl Strategy<Value = String> {
    (
        prop::option::weighted(0.2, "[0-9]{1,2}"),
        "[0-9][0-2ab~+.:-]{0,6}",
        prop::option::weighted(0.6, "[0-2ab~+.]{1,4}"),
    )
        .prop_map(|(epoch, upstream, revision)| {
            let mut v = String::new();
            match epoch {
                Some(epoch) => {
                    v += &epoch;
                    v.push(':');
                    v += &upstream;
                }
                None => v += &upstream.replace(':', "."),
            }
            if let Some(revision) = revision {
                v.push('-');
                v += &revision;
            }
            v
        })
}

/// Text that is often not a Debian version at all.
fn junk() -> impl Strategy<Value = String> {
    "[0-9aZ~^+.:_ -]{1,6}"
}

/// dpkg's verdicts, one per `(a, relation, b)`: its exit status, and whether it said
/// anything (a warning or an error about the syntax).
fn ask_dpkg(questions: &[(&str, &str, &str)]) -> Vec<(i32, bool)> {
    const LOOP: &str = r#"t=$(mktemp)
while IFS='	' read -r a op b; do
  dpkg --compare-versions "$a" "$op" "$b" 2>"$t"; r=$?
  if [ -s "$t" ]; then echo "$r said"; else echo "$r quiet"; fi
done
rm -f "$t""#;
    let input: String = questions
        .iter()
        .map(|(a, op, b)| format!("{a}\t{op}\t{b}\n"))
        .collect();
    let answers = oracle("sh", &["-c", LOOP], &input);
    assert_eq!(answers.len(), questions.len(), "one answer per question");
    answers
        .iter()
        .map(|line| {
            let (status, said) = line.split_once(' ').expect("status and verdict");
            (status.parse().expect("exit status"), said == "said")
        })
        .collect()
}

#[test]
fn dpkg_agrees_on_order_and_validity() {
    test_support::require("dpkg");
    let mut valid: Vec<(String, Version)> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    for text in sample(dpkg_version(), 400)
        .into_iter()
        .chain(sample(junk(), 120))
    {
        match parse(Ecosystem::Debian, &text) {
            Ok(version) => valid.push((text, version)),
            Err(_) => refused.push(text),
        }
    }
    // Sorted by berth's order, each neighbour must be `lt` or `eq` to the next for dpkg too;
    // dpkg's order being transitive, that checks every pair of the list, not only neighbours.
    valid.sort_by(|a, b| a.1.partial_cmp(&b.1).expect("one ecosystem"));
    let mut questions: Vec<(&str, &str, &str)> = valid
        .windows(2)
        .map(|w| {
            let order = w[0].1.partial_cmp(&w[1].1).expect("one ecosystem");
            (w[0].0.as_str(), order_name(order), w[1].0.as_str())
        })
        .collect();
    let neighbours = questions.len();
    // What berth refuses, dpkg must refuse or warn about.
    questions.extend(refused.iter().map(|t| (t.as_str(), "eq", t.as_str())));
    let answers = ask_dpkg(&questions);

    let mut disagreements = Vec::new();
    for (i, ((a, op, b), (status, said))) in questions.iter().zip(&answers).enumerate() {
        if i < neighbours && (*status != 0 || *said) {
            disagreements.push(format!(
                "berth: {a:?} {op} {b:?}; dpkg: exit {status}{}",
                if *said { ", with a syntax message" } else { "" }
            ));
        }
        if i >= neighbours && !said {
            let err = parse(Ecosystem::Debian, a).unwrap_err();
            disagreements.push(format!("berth refuses what dpkg accepts: {err}"));
        }
    }
    assert_agrees("dpkg", questions.len(), &disagreements);
    // The order is consistent beyond neighbours: positions in the sorted list agree with compare.
    for (i, j) in sample((0..valid.len(), 0..valid.len()), 2000) {
        let order = compare(Ecosystem::Debian, &valid[i].0, &valid[j].0).unwrap();
        assert!(
            order == Ordering::Equal || order == i.cmp(&j),
            "{:?} vs {:?}: {order:?} but sorted at {i} and {j}",
            valid[i].0,
            valid[j].0
        );
    }
    assert!(
        valid.len() > 300,
        "only {} generated versions parsed",
        valid.len()
    );
}

/// RPM EVR strings: every one has a release (rpm skips the release when one side lacks it).
fn rpm_version() -> impl Strategy<Value = String> {
    (
        prop::option::weighted(0.2, "[0-9]{0,2}"),
        "[0-2aZ~^+._:-]{0,6}",
        "[0-2aZ~^+._]{0,4}",
    )
        .prop_map(|(epoch, version, release)| match epoch {
            Some(epoch) => format!("{epoch}:{version}-{release}"),
            None => format!("{version}-{release}"),
        })
}

#[test]
fn rpm_agrees_on_order() {
    const COMPARE: &str = "import sys, rpm
for line in sys.stdin:
    a, b = line.rstrip('\\n').split('\\t')
    va, vb = rpm.ver(a), rpm.ver(b)
    print((va > vb) - (va < vb))
";
    require_python_module("rpm", "python3-rpm");
    // Pairs of one shape share prefixes often, where the interesting comparisons are.
    let pairs = sample((rpm_version(), rpm_version()), 4000);
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let answers = oracle(PYTHON, &["-c", COMPARE], &input);
    assert_eq!(answers.len(), pairs.len(), "one answer per pair");

    let mut disagreements = Vec::new();
    for ((a, b), answer) in pairs.iter().zip(&answers) {
        let rpm = sign(answer).unwrap_or_else(|| panic!("rpm answered {answer:?} for {a:?} {b:?}"));
        let berth = compare(Ecosystem::Rpm, a, b).expect("every non-empty text is an RPM version");
        if berth != rpm {
            disagreements.push(format!("{a:?} vs {b:?}: berth {berth:?}, rpm {rpm:?}"));
        }
    }
    assert_agrees("rpm", pairs.len(), &disagreements);
}

/// PEP 440 versions in their many spellings: labels in any case, optional separators,
/// implicit post releases, epochs, local parts; and some text that is not PEP 440 at all.
fn pep440_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => concat!(
            "[vV]?([0-9]!)?[0-9]{1,2}([.][0-9]{1,2}){0,2}",
            "([-_.]?(a|b|c|rc|alpha|beta|pre|preview|A|RC|Beta)[-_.]?[0-9]{0,2})?",
            "(-[0-9]|[-_.]?(post|rev|r|POST)[-_.]?[0-9]{0,2})?",
            "([-_.]?(dev|DEV)[-_.]?[0-9]{0,2})?",
            "([+][a-z0-9]{1,3}([-_.][a-zA-Z0-9]{1,3}){0,2})?",
        ),
        1 => "[0-9a-z.+!_-]{1,8}",
    ]
}

#[test]
fn packaging_agrees_on_pep440() {
    const COMPARE: &str = "import sys
from packaging.version import Version, InvalidVersion
def parse(text):
    try:
        return Version(text)
    except InvalidVersion:
        return None
for line in sys.stdin:
    a, b = (parse(t) for t in line.rstrip('\\n').split('\\t'))
    if a is None or b is None:
        print('-' if a is None else '+', '-' if b is None else '+')
    else:
        print((a > b) - (a < b))
";
    require_python_module("packaging", "python3-packaging");
    let pairs = sample((pep440_text(), pep440_text()), 4000);
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let answers = oracle(PYTHON, &["-c", COMPARE], &input);
    assert_eq!(answers.len(), pairs.len(), "one answer per pair");

    let pep440 = |text: &str| {
        text.parse::<berth_version::pep440::Version>()
            .expect("every non-blank text is a PyPI version")
            .is_pep440()
    };
    let mut disagreements = Vec::new();
    let mut compared = 0;
    for ((a, b), answer) in pairs.iter().zip(&answers) {
        let order = match sign(answer) {
            Some(order) => order,
            None => {
                // packaging refused one side: berth must read that side as legacy, not PEP 440.
                let (va, vb) = answer.split_once(' ').expect("two verdicts");
                for (text, valid) in [(a, va == "+"), (b, vb == "+")] {
                    if pep440(text) != valid {
                        disagreements.push(format!(
                            "{text:?}: packaging says PEP 440 {valid}, berth {}",
                            !valid
                        ));
                    }
                }
                continue;
            }
        };
        compared += 1;
        for text in [a, b] {
            if !pep440(text) {
                disagreements.push(format!("{text:?}: packaging reads PEP 440, berth does not"));
            }
        }
        let berth = compare(Ecosystem::PyPI, a, b).expect("non-blank");
        if berth != order {
            disagreements.push(format!(
                "{a:?} vs {b:?}: berth {berth:?}, packaging {order:?}"
            ));
        }
    }
    disagreements.sort();
    disagreements.dedup();
    assert_agrees("packaging", pairs.len(), &disagreements);
    assert!(compared > 2000, "only {compared} pairs both PEP 440");
}

/// The jar with Maven's own `ComparableVersion` (Debian's libmaven3-core-java).
const MAVEN_ARTIFACT: &str = "/usr/share/java/maven-artifact-3.x.jar";

/// Maven versions built from the items `ComparableVersion` gives meaning to.
fn maven_version() -> impl Strategy<Value = String> {
    let item = prop::sample::select(vec![
        "0",
        "1",
        "2",
        "10",
        "01",
        "a",
        "b",
        "m",
        "rc",
        "cr",
        "ga",
        "final",
        "release",
        "sp",
        "alpha",
        "beta",
        "milestone",
        "snapshot",
        "xyz",
        "",
        "RC",
        "Final",
    ]);
    let separator = prop::sample::select(vec![".", "-", ""]);
    (
        prop::sample::select(vec!["0", "1", "2"]),
        prop::collection::vec((separator, item), 0..5),
    )
        .prop_map(|(first, rest)| {
            rest.into_iter()
                .fold(first.to_owned(), |v, (sep, item)| v + sep + item)
        })
        // Maven 3.8 reads `.X` as `-X` for a qualifier X, which the corpus (and berth) do not.
        .prop_filter("no qualifier after a dot", |v| {
            !v.as_bytes()
                .windows(2)
                .any(|w| w[0] == b'.' && w[1].is_ascii_alphabetic())
        })
}

#[test]
fn maven_agrees_on_order() {
    assert!(
        std::path::Path::new(MAVEN_ARTIFACT).is_file(),
        "{MAVEN_ARTIFACT} is missing: run scripts/install-test-deps (Debian's libmaven3-core-java)"
    );
    let versions = sample(maven_version(), 3000);
    // ComparableVersion's main shows each argument's items ("2. 1-ga-1 -> 1-1; tokens: [1,
    // [[1]]]") and compares it with the next ("   1-ga-1 < 1-1").
    let mut args = vec![
        "-cp",
        MAVEN_ARTIFACT,
        "org.apache.maven.artifact.versioning.ComparableVersion",
    ];
    args.extend(versions.iter().map(String::as_str));
    let output = oracle("java", &args, "");
    let answers: Vec<&String> = output.iter().filter(|l| l.starts_with("   ")).collect();
    let items: Vec<&str> = output
        .iter()
        .filter_map(|l| l.split_once("; tokens: ").map(|(_, items)| items))
        .collect();
    assert_eq!(
        answers.len(),
        versions.len() - 1,
        "one answer per neighbour"
    );
    assert_eq!(items.len(), versions.len(), "items for every version");
    // Maven 3.8 keeps a hyphen group that held only nulls as a list inside a list (`1-ga-1` is
    // `[1, [[1]]]`, after `1-1`); the corpus, like newer Maven, has `1-ga-1 = 1-1`.
    let nested = |i: usize| items[i][1..].contains("[[");

    let (mut compared, mut disagreements) = (0, Vec::new());
    for (i, answer) in answers.iter().enumerate() {
        if nested(i) || nested(i + 1) {
            continue;
        }
        compared += 1;
        let (a, b) = (&versions[i], &versions[i + 1]);
        let maven = match answer.split_whitespace().nth(1) {
            Some("<") => Ordering::Less,
            Some("==") => Ordering::Equal,
            Some(">") => Ordering::Greater,
            _ => panic!("Maven answered {answer:?} for {a:?} {b:?}"),
        };
        let berth = compare(Ecosystem::Maven, a, b).expect("every text here is a Maven version");
        if berth != maven {
            disagreements.push(format!("{a:?} vs {b:?}: berth {berth:?}, Maven {maven:?}"));
        }
    }
    assert_agrees("Maven", compared, &disagreements);
    assert!(compared > 1500, "only {compared} pairs compared");
}

/// SemVer versions: strict ones in the main, with pre-release identifiers that share
/// prefixes, numbers with and without leading zeros, build metadata, and some loose spellings.
fn semver_text() -> impl Strategy<Value = String> {
    concat!(
        "v?(0|1)\\.(0|1)\\.(1|9|10)",
        "(-(0|1|2|10|01|a|b|a1|a-1|alpha|beta|rc|-)(\\.(0|1|2|10|a|b|x-y)){0,3})?",
        "(\\+[0-9a-z]{1,3}(\\.[0-9a-z-]{1,3})?)?",
    )
}

#[test]
fn npm_semver_agrees_on_order() {
    // npm's own semver: Debian's npm uses node-semver, a bundled npm carries its own copy.
    const COMPARE: &str = "const path = require('path');
const places = ['/usr/share/nodejs/semver',
  path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/semver')];
let semver;
for (const place of places) { try { semver = require(place); break; } catch (e) {} }
if (!semver) { console.error('no semver module in ' + places.join(', ')); process.exit(2); }
const lines = require('fs').readFileSync(0, 'utf8').split('\\n').filter(Boolean);
for (const line of lines) {
  const [a, b] = line.split('\\t');
  if (!semver.valid(a) || !semver.valid(b)) { console.log('invalid'); continue; }
  console.log(semver.compare(a, b));
}
";
    test_support::require("node");
    let pairs = sample((semver_text(), semver_text()), 4000);
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let answers = oracle("node", &["-e", COMPARE], &input);
    assert_eq!(answers.len(), pairs.len(), "one answer per pair");

    let (mut compared, mut disagreements) = (0, Vec::new());
    for ((a, b), answer) in pairs.iter().zip(&answers) {
        // npm refuses leading zeros and empty identifiers; berth reads them (OSV's data has
        // them), so there is nothing to compare.
        if answer == "invalid" {
            continue;
        }
        let npm = sign(answer)
            .unwrap_or_else(|| panic!("npm's semver answered {answer:?} for {a:?} {b:?}"));
        compared += 1;
        for ecosystem in [Ecosystem::SemVer, Ecosystem::Go] {
            match compare(ecosystem, a, b) {
                Ok(berth) if berth == npm => {}
                got => disagreements.push(format!(
                    "{ecosystem}: {a:?} vs {b:?}: berth {got:?}, npm {npm:?}"
                )),
            }
        }
    }
    assert_agrees("npm's semver", compared, &disagreements);
    assert!(compared > 1000, "only {compared} pairs valid for npm");
}
