//! The table Trivy prints: per target a heading, the `Total: N (UNKNOWN: a, LOW: b, MEDIUM: c,
//! HIGH: d, CRITICAL: e)` line, and a box-drawn table of Library, Vulnerability, Severity,
//! Status, Installed Version, Fixed Version and Title, a library named once for its rows.

use std::fmt::Write as _;

use crate::{Class, LEVELS, Scan, counts, targets};

const HEADINGS: [&str; 7] = [
    "Library",
    "Vulnerability",
    "Severity",
    "Status",
    "Installed Version",
    "Fixed Version",
    "Title",
];

pub(crate) fn write(scan: &Scan) -> String {
    let mut out = String::new();
    for target in targets(scan) {
        let n = counts(&target.vulnerabilities);
        let summary: Vec<String> = LEVELS
            .iter()
            .zip(n)
            .map(|(level, count)| format!("{level}: {count}"))
            .collect();
        // Trivy names a language target's type after it: `Python (python-pkg)`.
        let heading = match target.class {
            Class::LangPkgs => format!("{} ({})", target.name, target.kind),
            Class::OsPkgs => target.name.clone(),
        };
        let _ = write!(
            out,
            "\n{heading}\n{}\nTotal: {} ({})\n\n",
            "=".repeat(heading.chars().count()),
            target.vulnerabilities.len(),
            summary.join(", ")
        );
        if target.vulnerabilities.is_empty() {
            continue;
        }
        let mut rows: Vec<[String; 7]> = Vec::new();
        let mut last_library = None;
        for v in &target.vulnerabilities {
            let f = &v.finding;
            let library = if last_library == Some(&f.package) {
                String::new()
            } else {
                f.package.clone()
            };
            last_library = Some(&f.package);
            rows.push([
                library,
                f.id.clone(),
                f.severity.to_string(),
                f.status.to_string(),
                f.installed.clone(),
                f.fixed_version.clone().unwrap_or_default(),
                v.title.clone().unwrap_or_default(),
            ]);
        }
        draw(&mut out, &rows);
    }
    out
}

/// A box-drawn table of `rows` under [`HEADINGS`], a rule between libraries.
fn draw(out: &mut String, rows: &[[String; 7]]) {
    let mut widths = HEADINGS.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let rule = |left: &str, mid: &str, right: &str| {
        let parts: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
        format!("{left}{}{right}\n", parts.join(mid))
    };
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!(" {c}{} ", " ".repeat(w - c.chars().count())))
            .collect();
        format!("│{}│\n", parts.join("│"))
    };
    out.push_str(&rule("┌", "┬", "┐"));
    out.push_str(&line(&HEADINGS.map(String::from)));
    for (i, row) in rows.iter().enumerate() {
        if i == 0 || !row[0].is_empty() {
            out.push_str(&rule("├", "┼", "┤"));
        }
        out.push_str(&line(row));
    }
    out.push_str(&rule("└", "┴", "┘"));
}
