//! What a rule is, and what it finds.

use std::fmt;

use crate::facts::Facts;

/// How bad a finding is, from worst to mildest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
    Info,
    Style,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Style => "style",
        }
    }

    /// Whether a finding of this severity is at least as bad as `threshold`.
    pub fn reaches(self, threshold: Severity) -> bool {
        self <= threshold
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a rule comes from, for the docs and `--list-rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// One of BuildKit's `docker build --check` rules, under BuildKit's name.
    BuildKit,
    /// One of hadolint's DL rules, under a berth name, with hadolint's code beside it.
    Hadolint,
    /// berth's own.
    Berth,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::BuildKit => "buildkit",
            Origin::Hadolint => "hadolint",
            Origin::Berth => "berth",
        }
    }
}

/// A lint rule: a stable name, what it is about, and the check itself.
pub struct Rule {
    /// Stable, CamelCase (BuildKit's name for BuildKit's rules).
    pub id: &'static str,
    /// hadolint's code for the same check (`DL3008`), when it has one.
    pub hadolint: Option<&'static str>,
    pub severity: Severity,
    pub origin: Origin,
    /// One line: what the rule wants.
    pub summary: &'static str,
    /// A paragraph: why, and how to fix it.
    pub explanation: &'static str,
    /// Off unless `# check=experimental=ID` (or `=all`) turns it on, as in BuildKit.
    pub experimental: bool,
    pub(crate) check: fn(&Facts, &mut Sink),
}

impl Rule {
    /// Whether `name` names this rule: its id or its hadolint code, any case.
    pub fn is_named(&self, name: &str) -> bool {
        self.id.eq_ignore_ascii_case(name)
            || self.hadolint.is_some_and(|h| h.eq_ignore_ascii_case(name))
    }
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id)
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        self.id == other.id
    }
}

impl Eq for Rule {}

/// One problem found: which rule, on which line (1-based, the instruction's first line), what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static Rule,
    pub line: usize,
    /// The severity it counts with: the rule's, or error under `# check=error=true`.
    pub severity: Severity,
    pub message: String,
}

/// Where one rule's check puts its findings.
pub struct Sink {
    pub(crate) rule: &'static Rule,
    pub(crate) found: Vec<Finding>,
}

impl Sink {
    pub fn report(&mut self, line: usize, message: impl Into<String>) {
        self.found.push(Finding {
            rule: self.rule,
            line,
            severity: self.rule.severity,
            message: message.into(),
        });
    }
}
