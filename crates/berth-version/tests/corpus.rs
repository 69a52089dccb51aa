//! Every ordering of ../shared/corpus/version-order holds (see the corpus README), read in
//! place: `A < B`, `A = B` or `A > B` per line, `#` and `//` comments, blank lines between
//! groups. Each pair is checked both ways round.

use berth_version::{Ecosystem, compare};
use std::cmp::Ordering;
use std::fs;
use std::path::Path;

/// Which ecosystems' rules a corpus file is written for, by its name's first word.
fn ecosystems(file: &str) -> &'static [Ecosystem] {
    match file.split('-').next().unwrap_or("") {
        "alpine" => &[Ecosystem::Alpine],
        "debian" => &[Ecosystem::Debian],
        "maven" => &[Ecosystem::Maven],
        "nuget" => &[Ecosystem::NuGet],
        "packagist" => &[Ecosystem::Packagist],
        "pypi" => &[Ecosystem::PyPI],
        "redhat" => &[Ecosystem::Rpm],
        "rubygems" => &[Ecosystem::RubyGems],
        // Go's order is SemVer's, with or without the `v` the file writes on some versions.
        "semver" => &[Ecosystem::SemVer, Ecosystem::Go],
        _ => panic!("corpus file {file}: no ecosystem known for it; add it here"),
    }
}

/// The checks of one file: (line number, a, expected order, b).
fn orderings(path: &Path) -> Vec<(usize, String, Ordering, String)> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut checks = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let order = match fields.get(1) {
            Some(&"<") => Ordering::Less,
            Some(&"=") => Ordering::Equal,
            Some(&">") => Ordering::Greater,
            _ => panic!("{}:{}: not `A <|=|> B`: {line}", path.display(), i + 1),
        };
        assert_eq!(
            fields.len(),
            3,
            "{}:{}: not `A <|=|> B`: {line}",
            path.display(),
            i + 1
        );
        checks.push((i + 1, fields[0].to_owned(), order, fields[2].to_owned()));
    }
    checks
}

#[test]
fn every_ordering_of_the_corpus_holds() {
    let Some(dir) = test_support::corpus("version-order") else {
        return;
    };
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.txt in {}", dir.display());

    let (mut checked, mut failures) = (0, Vec::new());
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for &ecosystem in ecosystems(&name) {
            for (line, a, want, b) in orderings(path) {
                checked += 1;
                let got = (compare(ecosystem, &a, &b), compare(ecosystem, &b, &a));
                if got != (Ok(want), Ok(want.reverse())) {
                    failures.push(format!(
                        "{name}:{line} ({ecosystem}): {a} {want:?} {b}, got {:?} / reversed {:?}",
                        got.0, got.1
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} orderings fail:\n{}",
        failures.len(),
        failures
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        checked > 70_000,
        "only {checked} orderings read from {}",
        dir.display()
    );
}
