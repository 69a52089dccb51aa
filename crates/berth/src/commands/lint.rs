//! `berth lint [FILE…]`: check Dockerfiles against BuildKit's, hadolint's and berth's rules.
//!
//! Exit status: 0 when nothing reaches `--failure-threshold`, 1 when a finding does, 2 when a
//! file can't be read or parsed (or a rule name is unknown).

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use berth_lint::report::{self, FileFindings};
use berth_lint::{Context, Finding, Rule, Severity};
use clap::{Args, ValueEnum};

#[derive(Args, Debug)]
pub struct LintArgs {
    /// Dockerfiles to check; `-` reads standard input [default: ./Dockerfile]
    pub files: Vec<String>,
    /// Output: text for a terminal, a JSON array, or SARIF 2.1.0 (GitHub code scanning)
    #[arg(long, value_enum, default_value = "tty")]
    pub format: LintFormat,
    /// Don't report this rule (its id, e.g. UndefinedVar, or hadolint code, e.g. DL3008); repeatable
    #[arg(long = "ignore", value_name = "RULE")]
    pub ignore: Vec<String>,
    /// Exit 1 when a finding is at least this severe (like hadolint: style findings alone pass)
    #[arg(long, value_enum, default_value = "info", value_name = "LEVEL")]
    pub failure_threshold: Threshold,
    /// Print what a rule checks, why, and how to fix it
    #[arg(long, value_name = "RULE", conflicts_with = "list_rules")]
    pub explain: Option<String>,
    /// List every rule: id, hadolint code, severity, summary
    #[arg(long)]
    pub list_rules: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintFormat {
    Tty,
    Json,
    Sarif,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threshold {
    Error,
    Warning,
    Info,
    Style,
    None,
}

impl Threshold {
    fn severity(self) -> Option<Severity> {
        match self {
            Threshold::Error => Some(Severity::Error),
            Threshold::Warning => Some(Severity::Warning),
            Threshold::Info => Some(Severity::Info),
            Threshold::Style => Some(Severity::Style),
            Threshold::None => None,
        }
    }
}

const UNREADABLE: u8 = 2;

/// One file read and linted.
struct Linted {
    name: String,
    source: String,
    findings: Vec<Finding>,
}

pub fn run(args: LintArgs) -> ExitCode {
    if args.list_rules {
        return print(&list_rules());
    }
    if let Some(name) = &args.explain {
        return match berth_lint::find_rule(name) {
            Some(rule) => print(&explain(rule)),
            None => unknown_rule(name),
        };
    }
    let mut ignored: Vec<&Rule> = Vec::new();
    for name in &args.ignore {
        match berth_lint::find_rule(name) {
            Some(rule) => ignored.push(rule),
            None => return unknown_rule(name),
        }
    }
    let files = if args.files.is_empty() {
        vec!["Dockerfile".to_string()]
    } else {
        args.files.clone()
    };
    let mut failed_to_read = false;
    let mut linted = Vec::new();
    for name in &files {
        match lint_file(name) {
            Ok(mut l) => {
                l.findings.retain(|f| !ignored.contains(&f.rule));
                linted.push(l);
            }
            Err(message) => {
                eprintln!("berth: {message}");
                failed_to_read = true;
            }
        }
    }
    let views: Vec<FileFindings> = linted
        .iter()
        .map(|l| FileFindings {
            path: &l.name,
            source: &l.source,
            findings: &l.findings,
        })
        .collect();
    let text = match args.format {
        LintFormat::Json => report::json(&views),
        LintFormat::Sarif => report::sarif(&views, &berth_lint::rules().collect::<Vec<_>>()),
        LintFormat::Tty => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            report::tty(&views, color)
        }
    };
    let printed = print(&text);
    if failed_to_read {
        return ExitCode::from(UNREADABLE);
    }
    if printed != ExitCode::SUCCESS {
        return printed;
    }
    let fails = args.failure_threshold.severity().is_some_and(|t| {
        linted
            .iter()
            .flat_map(|l| &l.findings)
            .any(|f| f.severity.reaches(t))
    });
    if fails {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Reads, parses and lints one file; the error names the file (and line) and what went wrong.
fn lint_file(name: &str) -> Result<Linted, String> {
    let (source, context) = if name == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("reading a Dockerfile from standard input: {e}"))?;
        (text, Context::default())
    } else {
        let path = Path::new(name);
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{name}: can't read the Dockerfile: {e}"))?;
        (text, context_of(path))
    };
    let shown = if name == "-" { "<stdin>" } else { name };
    let tree = berth_dockerfile::syntax::parse(&source).map_err(|e| {
        format!(
            "{shown}:{}: {}; fix the Dockerfile (berth lint only checks files that parse)",
            e.line, e.message
        )
    })?;
    // What parses but no builder would run (an unknown instruction, an unknown flag, ENV with
    // nothing to set) is refused as BuildKit refuses it, not linted.
    berth_dockerfile::instructions::parse_instructions(&tree).map_err(|e| {
        format!(
            "{shown}:{}: {}; fix the Dockerfile (berth lint only checks files that parse)",
            e.line, e.message
        )
    })?;
    let findings = berth_lint::lint(&tree, &context);
    Ok(Linted {
        name: shown.to_string(),
        source,
        findings,
    })
}

/// What the rules need to know of the build context: the Dockerfile's directory, as
/// `docker build -f DIR/Dockerfile DIR` would send it.
fn context_of(dockerfile: &Path) -> Context {
    let dir = match dockerfile.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let heavy_entries = [".git", "node_modules"]
        .into_iter()
        .filter(|e| dir.join(e).exists())
        .map(str::to_string)
        .collect();
    // BuildKit prefers `<Dockerfile>.dockerignore` next to the Dockerfile.
    let own = dockerfile
        .file_name()
        .map(|n| dir.join(format!("{}.dockerignore", n.to_string_lossy())));
    let dockerignore = own
        .into_iter()
        .chain(std::iter::once(dir.join(".dockerignore")))
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|text| text.lines().map(str::to_string).collect());
    Context {
        known: true,
        heavy_entries,
        dockerignore,
        ..Context::default()
    }
}

fn list_rules() -> String {
    let mut out = format!(
        "{:<32} {:<8} {:<8} {:<9} SUMMARY\n",
        "RULE", "HADOLINT", "SEVERITY", "ORIGIN"
    );
    for r in berth_lint::rules() {
        let summary = if r.experimental {
            format!("{} (experimental)", r.summary)
        } else {
            r.summary.to_string()
        };
        out.push_str(&format!(
            "{:<32} {:<8} {:<8} {:<9} {summary}\n",
            r.id,
            r.hadolint.unwrap_or("-"),
            r.severity.as_str(),
            r.origin.as_str(),
        ));
    }
    out
}

fn explain(rule: &Rule) -> String {
    let code = rule
        .hadolint
        .map(|h| format!(" (hadolint {h})"))
        .unwrap_or_default();
    format!(
        "{}{code}: {}\nseverity: {}, from {}\n\n{}\n",
        rule.id,
        rule.summary,
        rule.severity,
        rule.origin.as_str(),
        rule.explanation
    )
}

fn unknown_rule(name: &str) -> ExitCode {
    eprintln!(
        "berth: unknown lint rule '{name}': see 'berth lint --list-rules' for the ids and DL codes"
    );
    ExitCode::from(UNREADABLE)
}

/// Writes to standard output; a closed pipe (`| head`) is not an error worth a message.
fn print(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth: writing the report: {e}");
            ExitCode::from(UNREADABLE)
        }
    }
}
