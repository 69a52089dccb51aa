//! The parser against BuildKit's own parser test vectors and 122 real Dockerfiles, read in place
//! from ../shared/corpus beside the checkout (see its README.md).

use berth_dockerfile::syntax::{dump, parse};
use std::fs;
use std::path::{Path, PathBuf};

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    entries
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Lines of `expected` and `actual` that differ, numbered, for a readable failure.
fn diff(expected: &str, actual: &str) -> String {
    let expected: Vec<&str> = expected.lines().collect();
    let actual: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    for i in 0..expected.len().max(actual.len()) {
        let (e, a) = (expected.get(i), actual.get(i));
        if e != a {
            out.push_str(&format!(
                "    line {}:\n      expected {}\n      actual   {}\n",
                i + 1,
                e.unwrap_or(&"<none>"),
                a.unwrap_or(&"<none>")
            ));
        }
    }
    out
}

#[test]
fn buildkit_parser_cases_dump_as_buildkit_does() {
    let Some(dir) = test_support::corpus("dockerfile-parser") else {
        return;
    };
    let mut cases = 0;
    let mut failures = Vec::new();
    for case in sorted_entries(&dir) {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("neg-") {
            continue;
        }
        cases += 1;
        let expected = read(&case.join("result"));
        match parse(&read(&case.join("Dockerfile"))) {
            Err(e) => failures.push(format!("{name}: parse failed: {e}")),
            Ok(df) => {
                let actual = dump(&df);
                if actual != expected {
                    failures.push(format!(
                        "{name}: dump differs\n{}",
                        diff(&expected, &actual)
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(cases, 33, "positive parser cases in the corpus");
}

/// Parses the named negative case and returns the error's text.
fn negative(name: &str) -> Option<String> {
    let dir = test_support::corpus("dockerfile-parser")?;
    let text = read(&dir.join(name).join("Dockerfile"));
    match parse(&text) {
        Ok(df) => panic!("{name} must be rejected, parsed as:\n{}", dump(&df)),
        Err(e) => Some(e.to_string()),
    }
}

#[test]
fn negative_cases_are_all_covered() {
    let Some(dir) = test_support::corpus("dockerfile-parser") else {
        return;
    };
    let names: Vec<String> = sorted_entries(&dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("neg-"))
        .collect();
    assert_eq!(
        names,
        [
            "neg-empty_dockerfile",
            "neg-env_no_value",
            "neg-only_comments",
            "neg-shykes-nested-json"
        ],
        "each negative case needs its own test below"
    );
}

#[test]
fn neg_empty_dockerfile() {
    let Some(message) = negative("neg-empty_dockerfile") else {
        return;
    };
    assert_eq!(
        message,
        "line 1: the file is empty: expected at least one instruction, such as FROM"
    );
}

#[test]
fn neg_only_comments() {
    let Some(message) = negative("neg-only_comments") else {
        return;
    };
    assert_eq!(
        message,
        "line 3: file with no instructions (only comments, directives and blank lines): expected \
         at least one instruction, such as FROM"
    );
}

#[test]
fn neg_env_no_value() {
    let Some(message) = negative("neg-env_no_value") else {
        return;
    };
    assert_eq!(
        message,
        "line 3: ENV PATH has no value: write `ENV PATH=value` (or the legacy `ENV PATH value`)"
    );
}

#[test]
fn neg_shykes_nested_json() {
    let Some(message) = negative("neg-shykes-nested-json") else {
        return;
    };
    assert_eq!(
        message,
        "line 1: CMD: in the JSON array (exec) form every element must be a string, but element 2 \
         is an array; quote it, or write the command in shell form"
    );
}

#[test]
fn every_real_dockerfile_parses() {
    let Some(dir) = test_support::corpus("dockerfiles") else {
        return;
    };
    let files = sorted_entries(&dir);
    let mut failures = Vec::new();
    let mut instructions = 0;
    for file in &files {
        match parse(&read(file)) {
            Ok(df) => {
                instructions += df.instructions.len();
                // Every instruction knows where it is, inside the file.
                let total = read(file).lines().count();
                for i in &df.instructions {
                    assert!(
                        1 <= i.lines.start && i.lines.start <= i.lines.end && i.lines.end <= total,
                        "{}: {:?} for `{}`",
                        file.display(),
                        i.lines,
                        i.original
                    );
                }
            }
            Err(e) => failures.push(format!("{}: {e}", file.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} files fail to parse:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(files.len(), 122, "real Dockerfiles in the corpus");
    assert!(
        instructions > 122 * 3,
        "suspiciously few instructions: {instructions}"
    );
}
