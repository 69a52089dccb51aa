//! What a Dockerfile says about its own findings: BuildKit's `# check=` parser directive and
//! berth's `# berth-ignore=RULE,…` comments (hadolint's `# hadolint ignore=DL…` too).

use std::collections::HashMap;

use berth_dockerfile::ast::Dockerfile;

use crate::rule::Rule;

/// `# check=skip=Rule1,Rule2;error=true;experimental=Rule3`.
#[derive(Debug, Default)]
pub struct CheckDirective {
    skip_all: bool,
    skip: Vec<String>,
    /// `error=true`: every finding counts as an error.
    pub error: bool,
    experimental_all: bool,
    experimental: Vec<String>,
}

impl CheckDirective {
    pub fn read(file: &Dockerfile) -> CheckDirective {
        let mut d = CheckDirective::default();
        let Some(check) = &file.directives.check else {
            return d;
        };
        let value = check.value.trim();
        let value = value.strip_prefix("check=").unwrap_or(value);
        for part in value.split(';') {
            let Some((key, val)) = part.split_once('=') else {
                continue;
            };
            let names = || {
                val.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            };
            match key.trim() {
                "skip" => {
                    d.skip = names();
                    d.skip_all = d.skip.iter().any(|s| s == "all");
                }
                "error" => d.error = val.trim().eq_ignore_ascii_case("true"),
                "experimental" => {
                    d.experimental = names();
                    d.experimental_all = d.experimental.iter().any(|s| s == "all");
                }
                _ => {}
            }
        }
        d
    }

    /// Whether the rule runs on this file.
    pub fn enables(&self, rule: &Rule) -> bool {
        if self.skip_all || self.skip.iter().any(|s| rule.is_named(s)) {
            return false;
        }
        !rule.experimental
            || self.experimental_all
            || self.experimental.iter().any(|s| rule.is_named(s))
    }
}

/// `# berth-ignore=A,B` on the line right above an instruction: those rules are quiet there.
#[derive(Debug, Default)]
pub struct IgnoreComments {
    /// Instruction line → rule names ignored on it.
    by_line: HashMap<usize, Vec<String>>,
}

impl IgnoreComments {
    pub fn read(file: &Dockerfile) -> IgnoreComments {
        let mut by_line: HashMap<usize, Vec<String>> = HashMap::new();
        for comment in &file.comments {
            let text = comment.text.trim();
            let list = text
                .strip_prefix("berth-ignore=")
                .or_else(|| text.strip_prefix("hadolint ignore="));
            if let Some(list) = list {
                by_line.entry(comment.line + 1).or_default().extend(
                    list.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                );
            }
        }
        IgnoreComments { by_line }
    }

    pub fn suppresses(&self, rule: &Rule, line: usize) -> bool {
        self.by_line
            .get(&line)
            .is_some_and(|names| names.iter().any(|n| rule.is_named(n)))
    }
}
