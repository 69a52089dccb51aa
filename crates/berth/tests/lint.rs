//! `berth lint` end to end: the three output formats, suppression from the command line and
//! from the Dockerfile, exit codes, `--explain`, standard input, and the build-context rule.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// Two findings: CdInRun (DL3003, warning) on line 2 and AptListsNotDeleted (DL3009, info)
/// on line 4; nothing else fires on it.
const TWO_FINDINGS: &str = "FROM debian:12\nRUN cd /tmp && make\nWORKDIR /src\nRUN apt-get update && apt-get install -y --no-install-recommends curl=8.5.0-2\n";

fn berth_lint(args: &[&str], dir: &Path) -> Output {
    berth_lint_stdin(args, dir, None)
}

fn berth_lint_stdin(args: &[&str], dir: &Path, stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("lint")
        .args(args)
        .current_dir(dir)
        .env("BERTH_ROOT", dir.join("root"))
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run berth");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().expect("wait for berth")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("berth exited by a signal")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// A temp dir holding `Dockerfile` with `text` (no .git, so the context rule stays quiet).
fn dockerfile(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    fs::write(&path, text).unwrap();
    (dir, path)
}

/// (rule, line) of each finding in a JSON report.
fn rules_and_lines(report: &Value) -> Vec<(String, u64)> {
    report
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn json_report(args: &[&str], dir: &Path) -> (i32, Value) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = berth_lint(&all, dir);
    let report: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(&out), stderr(&out)));
    (code(&out), report)
}

fn pairs(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(r, l)| (r.to_string(), *l)).collect()
}

#[test]
fn json_objects_have_exactly_the_documented_keys() {
    let (dir, _) = dockerfile(TWO_FINDINGS);
    let (status, report) = json_report(&["Dockerfile"], dir.path());
    assert_eq!(status, 1);
    let items = report.as_array().unwrap();
    assert_eq!(items.len(), 2, "{report:#}");
    for item in items {
        let mut keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["file", "hadolint", "line", "message", "rule", "severity"]
        );
    }
    assert_eq!(
        items[0],
        serde_json::json!({
            "file": "Dockerfile",
            "line": 2,
            "rule": "CdInRun",
            "hadolint": "DL3003",
            "severity": "warning",
            "message": "Use WORKDIR to switch to a directory",
        })
    );
    assert_eq!(items[1]["rule"], "AptListsNotDeleted");
    assert_eq!(items[1]["hadolint"], "DL3009");
    assert_eq!(items[1]["severity"], "info");
    assert_eq!(items[1]["line"], 4);
}

#[test]
fn json_hadolint_is_null_for_rules_without_a_code() {
    let (dir, _) = dockerfile("FROM alpine:3.20\nMAINTAINER me\nENV A b\n");
    let (_, report) = json_report(&["Dockerfile"], dir.path());
    let legacy = report
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "LegacyKeyValueFormat")
        .expect("LegacyKeyValueFormat reported");
    assert_eq!(legacy["hadolint"], Value::Null);
    assert_eq!(legacy["line"], 3);
}

#[test]
fn sarif_is_2_1_0_with_rules_and_located_results() {
    let (dir, _) = dockerfile(TWO_FINDINGS);
    let out = berth_lint(&["--format", "sarif", "Dockerfile"], dir.path());
    assert_eq!(code(&out), 1);
    let log: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let listed = berth_lint(&["--list-rules"], dir.path());
    let rule_count = stdout(&listed).lines().count() - 1;
    assert_eq!(rules.len(), rule_count, "every rule is described");
    assert!(rules.iter().any(|r| r["id"] == "CdInRun"
        && r["properties"]["hadolint"] == "DL3003"
        && r["defaultConfiguration"]["level"] == "warning"));
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let located: Vec<(&str, &str, u64, &str)> = results
        .iter()
        .map(|r| {
            let loc = &r["locations"][0]["physicalLocation"];
            (
                r["ruleId"].as_str().unwrap(),
                r["level"].as_str().unwrap(),
                loc["region"]["startLine"].as_u64().unwrap(),
                loc["artifactLocation"]["uri"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        located,
        [
            ("CdInRun", "warning", 2, "Dockerfile"),
            ("AptListsNotDeleted", "note", 4, "Dockerfile"),
        ]
    );
    // ruleIndex points at the rule's entry.
    let index = results[0]["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[index]["id"], "CdInRun");
}

#[test]
fn tty_shows_the_source_line_and_a_caret() {
    let (dir, _) = dockerfile(TWO_FINDINGS);
    let out = berth_lint(&["Dockerfile"], dir.path());
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    let expected = "\
Dockerfile:2: warning[CdInRun/DL3003]: Use WORKDIR to switch to a directory
  |
2 | RUN cd /tmp && make
  | ^~~~~~~~~~~~~~~~~~~
  = help: berth lint --explain CdInRun
";
    assert!(text.starts_with(expected), "{text}");
    assert!(
        text.contains("Dockerfile:4: info[AptListsNotDeleted/DL3009]:"),
        "{text}"
    );
    assert!(
        !text.contains('\x1b'),
        "no colour when not a terminal: {text:?}"
    );
}

#[test]
fn ignore_by_id_and_by_dl_code() {
    let (dir, _) = dockerfile(TWO_FINDINGS);
    let (status, report) = json_report(&["--ignore", "CdInRun", "Dockerfile"], dir.path());
    assert_eq!(
        rules_and_lines(&report),
        pairs(&[("AptListsNotDeleted", 4)])
    );
    assert_eq!(
        status, 1,
        "the info finding still reaches the default threshold"
    );
    let (status, report) = json_report(
        &["--ignore", "dl3003", "--ignore", "DL3009", "Dockerfile"],
        dir.path(),
    );
    assert_eq!(rules_and_lines(&report), []);
    assert_eq!(status, 0);
}

#[test]
fn ignore_of_an_unknown_rule_is_an_error() {
    let (dir, _) = dockerfile(TWO_FINDINGS);
    let out = berth_lint(&["--ignore", "NoSuchRule", "Dockerfile"], dir.path());
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("unknown lint rule 'NoSuchRule'"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--list-rules"), "{}", stderr(&out));
}

#[test]
fn berth_ignore_comment_silences_the_next_instruction() {
    let (dir, _) = dockerfile(
        "FROM debian:12\n# berth-ignore=CdInRun,DL3009\nRUN cd /tmp && apt-get update\nWORKDIR /src\nRUN cd /tmp && make\n",
    );
    let (_, report) = json_report(&["Dockerfile"], dir.path());
    assert_eq!(rules_and_lines(&report), pairs(&[("CdInRun", 5)]));
}

#[test]
fn check_skip_directive_turns_rules_off() {
    let (dir, _) = dockerfile(&format!("# check=skip=CdInRun,DL3009\n{TWO_FINDINGS}"));
    let (status, report) = json_report(&["Dockerfile"], dir.path());
    assert_eq!(rules_and_lines(&report), []);
    assert_eq!(status, 0);
}

#[test]
fn failure_threshold_sets_the_exit_code() {
    // CdInRun is a warning, AptListsNotDeleted info.
    let (dir, _) = dockerfile(TWO_FINDINGS);
    let status = |threshold: Option<&str>| {
        let mut args = vec!["--format", "json"];
        if let Some(t) = threshold {
            args.extend(["--failure-threshold", t]);
        }
        args.push("Dockerfile");
        code(&berth_lint(&args, dir.path()))
    };
    assert_eq!(status(None), 1, "default threshold (info) with findings");
    assert_eq!(status(Some("none")), 0);
    assert_eq!(status(Some("error")), 0, "only warnings and info");
    assert_eq!(status(Some("warning")), 1);
    assert_eq!(status(Some("style")), 1);

    // Info alone passes a warning threshold; style alone passes the default one.
    let (info_dir, _) = dockerfile(
        "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl=8.5.0-2\n",
    );
    let info = |t: &str| {
        code(&berth_lint(
            &["--failure-threshold", t, "Dockerfile"],
            info_dir.path(),
        ))
    };
    assert_eq!(info("warning"), 0);
    assert_eq!(info("info"), 1);

    let (clean, _) = dockerfile("FROM alpine:3.20\nCMD [\"true\"]\n");
    let out = berth_lint(&["Dockerfile"], clean.path());
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(stdout(&out), "");
}

#[test]
fn check_error_true_makes_warnings_fail_an_error_threshold() {
    let (dir, _) = dockerfile("# check=error=true\nFROM alpine:3.20\nRUN cd /tmp\n");
    let (status, report) = json_report(&["--failure-threshold", "error", "Dockerfile"], dir.path());
    assert_eq!(status, 1);
    assert_eq!(report[0]["rule"], "CdInRun");
    assert_eq!(report[0]["severity"], "error");
}

#[test]
fn unparseable_file_exits_2_naming_file_and_line() {
    let (dir, _) = dockerfile("FROM alpine:3.20\nENV A\nRUN true\n");
    let out = berth_lint(&["--format", "json", "Dockerfile"], dir.path());
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.starts_with("berth: Dockerfile:2: "), "{err}");
    assert!(err.contains("ENV A has no value"), "{err}");

    // One bad file among good ones: the good one is still reported, and the exit is 2.
    fs::write(dir.path().join("Good.Dockerfile"), TWO_FINDINGS).unwrap();
    let (status, report) = json_report(&["Dockerfile", "Good.Dockerfile"], dir.path());
    assert_eq!(status, 2);
    assert_eq!(report.as_array().unwrap().len(), 2);
    assert_eq!(report[0]["file"], "Good.Dockerfile");

    let out = berth_lint(&["missing/Dockerfile"], dir.path());
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).starts_with("berth: missing/Dockerfile: can't read the Dockerfile"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn what_no_builder_would_run_exits_2() {
    for (text, expected) in [
        (
            "FROM scratch\nFOO bar\n",
            "berth: Dockerfile:2: unknown instruction: FOO",
        ),
        (
            "FROM scratch\nENV\n",
            "berth: Dockerfile:2: ENV requires at least one argument",
        ),
        (
            "FROM scratch\nCOPY --bogus a b\n",
            "berth: Dockerfile:2: unknown flag: --bogus",
        ),
    ] {
        let (dir, _) = dockerfile(text);
        let out = berth_lint(&["Dockerfile"], dir.path());
        assert_eq!(code(&out), 2, "{text}");
        assert!(stderr(&out).starts_with(expected), "{}", stderr(&out));
    }
}

#[test]
fn explain_prints_the_paragraph() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["CdInRun", "dl3003"] {
        let out = berth_lint(&["--explain", name], dir.path());
        assert_eq!(code(&out), 0);
        let text = stdout(&out);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("CdInRun (hadolint DL3003): Use WORKDIR to switch to a directory")
        );
        assert_eq!(lines.next(), Some("severity: warning, from hadolint"));
        assert_eq!(lines.next(), Some(""));
        let paragraph = lines.next().unwrap();
        assert!(
            paragraph.starts_with("`cd` in a `RUN` only lasts"),
            "{text}"
        );
        assert!(paragraph.contains("Fix: `WORKDIR /path`"), "{text}");
    }
    let out = berth_lint(&["--explain", "DL9999"], dir.path());
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("unknown lint rule 'DL9999'"));
}

#[test]
fn list_rules_lists_every_rule_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = berth_lint(&["--list-rules"], dir.path());
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["RULE", "HADOLINT", "SEVERITY", "ORIGIN", "SUMMARY"]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 49);
    let cd = rows.iter().find(|r| r[0] == "CdInRun").unwrap();
    assert_eq!(&cd[1..4], ["DL3003", "warning", "hadolint"]);
    let dockerignore = rows.iter().find(|r| r[0] == "DockerignoreMissing").unwrap();
    assert_eq!(&dockerignore[1..4], ["-", "warning", "berth"]);
}

#[test]
fn stdin_is_read_for_dash() {
    let dir = tempfile::tempdir().unwrap();
    // A .git here must not matter: standard input has no build context.
    fs::create_dir(dir.path().join(".git")).unwrap();
    let text = format!("{TWO_FINDINGS}COPY . /src\n");
    let out = berth_lint_stdin(&["--format", "json", "-"], dir.path(), Some(&text));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        rules_and_lines(&report),
        pairs(&[("CdInRun", 2), ("AptListsNotDeleted", 4)])
    );
    assert_eq!(report[0]["file"], "<stdin>");

    let out = berth_lint_stdin(&["-"], dir.path(), Some("FROM alpine:3.20\nENV A\n"));
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).starts_with("berth: <stdin>:2: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn default_file_is_dockerfile_in_the_current_directory() {
    let (dir, _) = dockerfile(TWO_FINDINGS);
    let (status, report) = json_report(&[], dir.path());
    assert_eq!(status, 1);
    assert_eq!(report[0]["file"], "Dockerfile");
}

#[test]
fn missing_dockerignore_is_reported_for_a_context_with_git() {
    let text = "FROM alpine:3.20\nWORKDIR /src\nCOPY . .\nCMD [\"./run\"]\n";
    let dir = tempfile::tempdir().unwrap();
    let context = dir.path().join("app");
    fs::create_dir_all(context.join(".git")).unwrap();
    fs::write(context.join("Dockerfile"), text).unwrap();

    let (status, report) = json_report(&["app/Dockerfile"], dir.path());
    assert_eq!(status, 1);
    assert_eq!(
        rules_and_lines(&report),
        pairs(&[("DockerignoreMissing", 3)])
    );
    assert_eq!(report[0]["file"], "app/Dockerfile");
    assert_eq!(report[0]["severity"], "warning");
    assert!(
        report[0]["message"].as_str().unwrap().contains(".git"),
        "{report:#}"
    );

    // node_modules counts too, and both are named.
    fs::create_dir(context.join("node_modules")).unwrap();
    let (_, report) = json_report(&["app/Dockerfile"], dir.path());
    let message = report[0]["message"].as_str().unwrap();
    assert!(message.contains(".git and node_modules"), "{message}");

    // A .dockerignore (or Dockerfile.dockerignore) next to it: quiet.
    fs::write(context.join(".dockerignore"), ".git\nnode_modules\n").unwrap();
    let (status, report) = json_report(&["app/Dockerfile"], dir.path());
    assert_eq!(rules_and_lines(&report), []);
    assert_eq!(status, 0);
    fs::remove_file(context.join(".dockerignore")).unwrap();
    fs::write(context.join("Dockerfile.dockerignore"), ".git\n").unwrap();
    let (status, _) = json_report(&["app/Dockerfile"], dir.path());
    assert_eq!(status, 0);
}

#[test]
fn copy_of_a_file_the_dockerignore_excludes_is_reported() {
    let (dir, _) = dockerfile("FROM alpine:3.20\nCOPY app.txt /\nCOPY notes.md /\n");
    fs::write(dir.path().join(".dockerignore"), "*.md\n").unwrap();
    let (_, report) = json_report(&["Dockerfile"], dir.path());
    assert_eq!(rules_and_lines(&report), pairs(&[("CopyIgnoredFile", 3)]));
}
