//! Findings rendered: for a terminal (the source line with a caret, like a compiler), as a
//! JSON array, and as SARIF 2.1.0 for code scanning.

use serde_json::{Value, json};

use crate::rule::{Finding, Rule, Severity};

/// One linted file: its name as shown, its text (for source lines), and what was found.
pub struct FileFindings<'a> {
    pub path: &'a str,
    pub source: &'a str,
    pub findings: &'a [Finding],
}

/// A JSON array of objects with exactly `file`, `line`, `rule`, `hadolint`, `severity`,
/// `message`.
pub fn json(files: &[FileFindings]) -> String {
    let items: Vec<Value> = files
        .iter()
        .flat_map(|f| {
            f.findings.iter().map(|x| {
                json!({
                    "file": f.path,
                    "line": x.line,
                    "rule": x.rule.id,
                    "hadolint": x.rule.hadolint,
                    "severity": x.severity.as_str(),
                    "message": x.message,
                })
            })
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&Value::Array(items)).unwrap_or_default();
    out.push('\n');
    out
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info | Severity::Style => "note",
    }
}

/// A SARIF 2.1.0 log with one run: every rule in `tool.driver.rules`, one result a finding.
pub fn sarif(files: &[FileFindings], rules: &[&'static Rule]) -> String {
    let rule_index = |id: &str| rules.iter().position(|r| r.id == id);
    let driver_rules: Vec<Value> = rules
        .iter()
        .map(|r| {
            let mut props = json!({ "origin": r.origin.as_str() });
            if let Some(code) = r.hadolint {
                props["hadolint"] = json!(code);
            }
            json!({
                "id": r.id,
                "name": r.id,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.explanation },
                "help": { "text": r.explanation },
                "defaultConfiguration": { "level": sarif_level(r.severity) },
                "properties": props,
            })
        })
        .collect();
    let results: Vec<Value> = files
        .iter()
        .flat_map(|f| {
            f.findings.iter().map(move |x| {
                let mut result = json!({
                    "ruleId": x.rule.id,
                    "level": sarif_level(x.severity),
                    "message": { "text": x.message },
                    "locations": [{
                        "physicalLocation": {
                            "artifactLocation": { "uri": uri(f.path) },
                            "region": { "startLine": x.line },
                        }
                    }],
                });
                if let Some(i) = rule_index(x.rule.id) {
                    result["ruleIndex"] = json!(i);
                }
                result
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "berth lint",
                    "informationUri": "https://github.com/berth-dev/berth",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": driver_rules,
                }
            },
            "results": results,
        }]
    });
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_default();
    out.push('\n');
    out
}

/// A relative URI reference for a path (spaces and `%` escaped; `-` is standard input).
fn uri(path: &str) -> String {
    let path = path.strip_prefix("./").unwrap_or(path);
    let mut out = String::new();
    for c in path.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '%' => out.push_str("%25"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            c => out.push(c),
        }
    }
    out
}

/// For a terminal: `file:line: severity[Rule]: message`, the source line under it with the
/// instruction underlined, and a hint to `--explain`. `color`: ANSI colours.
pub fn tty(files: &[FileFindings], color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    for f in files {
        let lines: Vec<&str> = f.source.lines().collect();
        for x in f.findings {
            let sev_color = match x.severity {
                Severity::Error => "1;31",
                Severity::Warning => "1;33",
                Severity::Info => "1;36",
                Severity::Style => "1;35",
            };
            let code = match x.rule.hadolint {
                Some(h) => format!("{}/{h}", x.rule.id),
                None => x.rule.id.to_string(),
            };
            out.push_str(&format!(
                "{}: {}: {}\n",
                paint("1", &format!("{}:{}", f.path, x.line)),
                paint(sev_color, &format!("{}[{code}]", x.severity)),
                x.message
            ));
            let gutter = x.line.to_string().len();
            let source = lines.get(x.line.wrapping_sub(1)).copied().unwrap_or("");
            let source = source.replace('\t', "    ");
            let indent = source.len() - source.trim_start().len();
            let width = source.trim().chars().count().max(1);
            out.push_str(&format!("{} {}\n", " ".repeat(gutter), paint("34", "|")));
            out.push_str(&format!(
                "{} {} {source}\n",
                paint("34", &x.line.to_string()),
                paint("34", "|")
            ));
            out.push_str(&format!(
                "{} {} {}{}\n",
                " ".repeat(gutter),
                paint("34", "|"),
                " ".repeat(indent),
                paint(sev_color, &format!("^{}", "~".repeat(width - 1)))
            ));
            out.push_str(&format!(
                "{} = help: berth lint --explain {}\n\n",
                " ".repeat(gutter),
                x.rule.id
            ));
        }
    }
    out
}
