//! `--diff OLD NEW`: what a rebuild fixed, introduced and left, finding by finding.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use berth_catalog::Catalog;
use berth_match::Finding;
use berth_vulndb::Level;

/// One image's scan: its catalogue and the findings matched against it.
#[derive(Debug, Clone, Copy)]
pub struct Scan<'a> {
    pub catalog: &'a Catalog,
    pub findings: &'a [Finding],
}

/// A finding on one side or both, with the package's version in each image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: String,
    pub package: String,
    pub severity: Level,
    /// The package's version in the old image; `None` when it was not installed.
    pub old: Option<String>,
    /// The package's version in the new image; `None` when it is gone.
    pub new: Option<String>,
    /// The version that fixes it, as the newer finding says.
    pub fixed_version: Option<String>,
}

/// Two scans compared, each list in severity (highest first), package, then id order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// In the old image, not in the new.
    pub fixed: Vec<Change>,
    /// In the new image, not in the old.
    pub introduced: Vec<Change>,
    /// In both.
    pub unchanged: Vec<Change>,
}

/// Compares the findings of `old` and `new`: the same advisory id on the same package is the
/// same finding, whatever version it was found at.
pub fn diff(old: Scan, new: Scan) -> Diff {
    let key = |f: &Finding| (f.package.clone(), f.id.clone());
    let before: BTreeMap<_, &Finding> = old.findings.iter().map(|f| (key(f), f)).collect();
    let after: BTreeMap<_, &Finding> = new.findings.iter().map(|f| (key(f), f)).collect();
    let change = |f: &Finding| Change {
        id: f.id.clone(),
        package: f.package.clone(),
        severity: f.severity,
        old: version(old.catalog, &f.package),
        new: version(new.catalog, &f.package),
        fixed_version: after
            .get(&key(f))
            .map_or(&f.fixed_version, |n| &n.fixed_version)
            .clone(),
    };
    let mut out = Diff::default();
    for (k, f) in &before {
        match after.contains_key(k) {
            true => out.unchanged.push(change(after[k])),
            false => out.fixed.push(change(f)),
        }
    }
    for (k, f) in &after {
        if !before.contains_key(k) {
            out.introduced.push(change(f));
        }
    }
    for list in [&mut out.fixed, &mut out.introduced, &mut out.unchanged] {
        list.sort_by(|a, b| (b.severity, &a.package, &a.id).cmp(&(a.severity, &b.package, &b.id)));
    }
    out
}

/// The installed versions of `package` in `catalog`, joined (one unless several
/// architectures or databases list it).
fn version(catalog: &Catalog, package: &str) -> Option<String> {
    let mut versions: Vec<&str> = (catalog.packages.iter())
        .filter(|p| p.name == package)
        .map(|p| p.version.as_str())
        .collect();
    versions.dedup();
    (!versions.is_empty()).then(|| versions.join(", "))
}

impl Diff {
    /// The `--diff` text: a summary line, then each list with the package's version before
    /// and after.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{} fixed, {} introduced, {} unchanged\n",
            self.fixed.len(),
            self.introduced.len(),
            self.unchanged.len()
        );
        let sections = [
            ("Fixed", &self.fixed),
            ("Introduced", &self.introduced),
            ("Unchanged", &self.unchanged),
        ];
        for (title, changes) in sections.into_iter().filter(|(_, c)| !c.is_empty()) {
            let _ = writeln!(out, "\n{title}:");
            let id_width = changes.iter().map(|c| c.id.len()).max().unwrap_or(0);
            for c in changes {
                let versions = format!(
                    "{} -> {}",
                    c.old.as_deref().unwrap_or("not installed"),
                    c.new.as_deref().unwrap_or("removed")
                );
                let fix = match (&c.fixed_version, title) {
                    (_, "Fixed") => String::new(),
                    (Some(v), _) => format!(" (fixed in {v})"),
                    (None, _) => " (no fix yet)".to_string(),
                };
                let _ = writeln!(
                    out,
                    "  {:<8} {:id_width$}  {} {versions}{fix}",
                    c.severity.as_str(),
                    c.id,
                    c.package
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use berth_catalog::{Package, PackageType};
    use berth_match::Status;

    use super::*;

    fn catalog(packages: &[(&str, &str)]) -> Catalog {
        let package = |(name, version): &(&str, &str)| Package {
            name: name.to_string(),
            version: version.to_string(),
            package_type: PackageType::Deb,
            arch: "amd64".into(),
            purl: None,
            source: None,
            licenses: vec![],
            evidence: vec![],
            layer: None,
        };
        Catalog {
            distro: None,
            packages: packages.iter().map(package).collect(),
            ..Catalog::default()
        }
    }

    fn finding(
        id: &str,
        package: &str,
        installed: &str,
        fixed: Option<&str>,
        severity: Level,
    ) -> Finding {
        Finding {
            id: id.into(),
            aliases: vec![],
            package: package.into(),
            installed: installed.into(),
            source: None,
            path: None,
            fixed_version: fixed.map(str::to_string),
            severity,
            severity_rating: None,
            status: Status::Fixed,
        }
    }

    #[test]
    fn a_base_upgrade_shows_what_it_fixed_and_introduced() {
        let old_catalog = catalog(&[("libssl3", "1.0"), ("zlib1g", "1"), ("tar", "1.34")]);
        let new_catalog = catalog(&[("libssl3", "2.0"), ("zlib1g", "2"), ("tar", "1.34")]);
        let old = [
            finding("CVE-1", "libssl3", "1.0", Some("1.5"), Level::Critical),
            finding("CVE-3", "tar", "1.34", None, Level::Low),
        ];
        let new = [
            finding("CVE-2", "zlib1g", "2", Some("3"), Level::Medium),
            finding("CVE-3", "tar", "1.34", None, Level::Low),
        ];
        let d = diff(
            Scan {
                catalog: &old_catalog,
                findings: &old,
            },
            Scan {
                catalog: &new_catalog,
                findings: &new,
            },
        );
        let ids = |c: &[Change]| c.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&d.fixed), ["CVE-1"]);
        assert_eq!(ids(&d.introduced), ["CVE-2"]);
        assert_eq!(ids(&d.unchanged), ["CVE-3"]);
        assert_eq!(
            (d.fixed[0].old.as_deref(), d.fixed[0].new.as_deref()),
            (Some("1.0"), Some("2.0"))
        );
        assert_eq!(
            d.render(),
            "1 fixed, 1 introduced, 1 unchanged\n\
             \n\
             Fixed:\n  CRITICAL CVE-1  libssl3 1.0 -> 2.0\n\
             \n\
             Introduced:\n  MEDIUM   CVE-2  zlib1g 1 -> 2 (fixed in 3)\n\
             \n\
             Unchanged:\n  LOW      CVE-3  tar 1.34 -> 1.34 (no fix yet)\n"
        );
    }

    #[test]
    fn a_removed_package_and_a_new_one_say_so() {
        let old_catalog = catalog(&[("curl", "7")]);
        let new_catalog = catalog(&[("wget", "1")]);
        let old = [finding("CVE-1", "curl", "7", Some("8"), Level::High)];
        let new = [finding("CVE-2", "wget", "1", Some("2"), Level::High)];
        let text = diff(
            Scan {
                catalog: &old_catalog,
                findings: &old,
            },
            Scan {
                catalog: &new_catalog,
                findings: &new,
            },
        )
        .render();
        assert!(text.contains("curl 7 -> removed\n"), "{text}");
        assert!(
            text.contains("wget not installed -> 1 (fixed in 2)\n"),
            "{text}"
        );
    }
}
