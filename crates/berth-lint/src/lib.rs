//! berth lint: rules over a parsed Dockerfile, with explanations, and reports as text for a
//! terminal, JSON and SARIF.
//!
//! [`lint`] runs every rule over one [`Dockerfile`] tree and applies the file's own
//! suppressions (`# check=skip=…`, `# berth-ignore=…`); the caller filters by `--ignore` and
//! severity and renders with [`report`]. The crate does no I/O: facts about the build
//! context come in a [`Context`].

mod checks;
mod facts;
pub mod report;
mod rule;
mod shell;
mod suppress;
mod vars;

use berth_dockerfile::ast::Dockerfile;

pub use facts::Context;
pub use rule::{Finding, Origin, Rule, Severity};

use crate::facts::Facts;
use crate::rule::Sink;

/// Every rule: BuildKit's, then hadolint's, then berth's own.
pub fn rules() -> impl Iterator<Item = &'static Rule> {
    checks::buildkit::RULES
        .iter()
        .chain(checks::hadolint::RULES)
        .chain(checks::berth::RULES)
}

/// The rule `name` names: its id or its hadolint code, any case.
pub fn find_rule(name: &str) -> Option<&'static Rule> {
    rules().find(|r| r.is_named(name))
}

/// Runs every enabled rule over `file`; returns the findings its `# check=` directive and
/// `# berth-ignore=` comments leave, sorted by line then rule.
pub fn lint(file: &Dockerfile, context: &Context) -> Vec<Finding> {
    let facts = Facts::new(file, context);
    let directive = suppress::CheckDirective::read(file);
    let ignores = suppress::IgnoreComments::read(file);
    let mut found = Vec::new();
    for rule in rules() {
        if !directive.enables(rule) {
            continue;
        }
        let mut sink = Sink {
            rule,
            found: Vec::new(),
        };
        (rule.check)(&facts, &mut sink);
        found.extend(
            sink.found
                .into_iter()
                .filter(|f| !ignores.suppresses(f.rule, f.line)),
        );
    }
    if directive.error {
        for f in &mut found {
            f.severity = Severity::Error;
        }
    }
    found.sort_by(|a, b| (a.line, a.rule.id).cmp(&(b.line, b.rule.id)));
    found.dedup_by(|a, b| a.line == b.line && a.rule == b.rule && a.message == b.message);
    found
}
