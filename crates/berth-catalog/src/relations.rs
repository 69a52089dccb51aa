//! Which package needs which: a package database names what each package requires (dpkg's
//! `Depends` and `Pre-Depends`, apk's `D:`) and provides (its own name, dpkg's `Provides`,
//! apk's `p:`); a package depends on every package of its type that provides something it
//! requires, as Syft resolves them. Every alternative of a choice (`a | b`) counts: the database does not say
//! which one was chosen, and each that is installed may be the one in use.
//!
//! An executable's list of what was compiled into it (Go build info, cargo-auditable's
//! `.dep-v0`) is a database of its own: its packages provide and require only within it, so
//! two executables that both embed a crate do not depend on each other's copy.

use std::collections::{BTreeSet, HashMap};

use crate::fs::File;
use crate::model::{Dependency, Package, PackageType};

/// What one package of a database provides and requires: names (of packages, virtual
/// packages, libraries), or what else the format resolves by (a Go module's path and
/// version, an npm lockfile entry's install path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// What it provides: its own name, and virtual packages.
    pub provides: Vec<String>,
    pub requires: Vec<String>,
}

impl Needs {
    /// An operating system package's: it provides its own name and `provides`.
    pub fn os_package(
        name: String,
        version: Option<String>,
        arch: Option<String>,
        provides: Vec<String>,
        requires: Vec<String>,
    ) -> Needs {
        Needs {
            provides: std::iter::once(name.clone()).chain(provides).collect(),
            name,
            version: version.unwrap_or_default(),
            arch: arch.unwrap_or_default(),
            requires,
        }
    }
}

/// The needs of the packages database `evidence` (its path, as packages' evidence names it,
/// with or without a leading `/`) lists, of packages of type `package_type`.
pub(crate) struct Database {
    pub package_type: PackageType,
    pub evidence: String,
    pub needs: Vec<Needs>,
    /// Whether its packages provide only to each other (an executable's list), rather than
    /// to every package of the type (an operating system's databases).
    pub scoped: bool,
}

impl Database {
    /// The needs database `file` says of its packages of type `package_type`.
    pub fn new(package_type: PackageType, file: &File, scoped: bool, needs: Vec<Needs>) -> Self {
        Database {
            package_type,
            evidence: file.path.clone(),
            needs,
            scoped,
        }
    }
}

/// The dependencies between `packages` that `databases` say, sorted; a package needing
/// itself (it provides what it requires) is left out.
pub(crate) fn resolve<'a>(packages: &'a [Package], databases: &'a [Database]) -> Vec<Dependency> {
    // Each package's needs, found by where it is listed and what it is.
    let mut needs_of = HashMap::new();
    let mut scoped = HashMap::new();
    for db in databases {
        let evidence = db.evidence.trim_start_matches('/');
        scoped.insert((db.package_type, evidence), db.scoped);
        for needs in &db.needs {
            let key = (
                db.package_type,
                evidence,
                needs.name.as_str(),
                needs.version.as_str(),
                needs.arch.as_str(),
            );
            needs_of.insert(key, needs);
        }
    }
    let needs: Vec<Option<&Needs>> = packages
        .iter()
        .map(|p| {
            let evidence = p.evidence.first()?.trim_start_matches('/');
            let key = (
                p.package_type,
                evidence,
                p.name.as_str(),
                p.version.as_str(),
                p.arch.as_str(),
            );
            needs_of.get(&key).copied()
        })
        .collect();

    // Where a package's provisions reach: its type, and its database when that is scoped.
    let scope = |p: &'a Package| -> (PackageType, &'a str) {
        let evidence = p.evidence.first().map_or("", |e| e.trim_start_matches('/'));
        match scoped.get(&(p.package_type, evidence)) {
            Some(true) => (p.package_type, evidence),
            _ => (p.package_type, ""),
        }
    };
    let mut providers: HashMap<(PackageType, &str, &str), Vec<usize>> = HashMap::new();
    for (i, (package, needs)) in packages.iter().zip(&needs).enumerate() {
        let Some(needs) = needs else { continue };
        let (ty, within) = scope(package);
        for name in needs.provides.iter().collect::<BTreeSet<_>>() {
            providers.entry((ty, within, name)).or_default().push(i);
        }
    }

    let mut dependencies = BTreeSet::new();
    for (dependent, (package, needs)) in packages.iter().zip(&needs).enumerate() {
        let Some(needs) = needs else { continue };
        let (ty, within) = scope(package);
        for name in &needs.requires {
            let found = providers.get(&(ty, within, name.as_str()));
            for &dependency in found.into_iter().flatten() {
                if dependency != dependent {
                    dependencies.insert(Dependency {
                        dependent,
                        dependency,
                    });
                }
            }
        }
    }
    dependencies.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{golang, npm, rust_audit};

    fn file(path: &str, bytes: Vec<u8>) -> File {
        File {
            path: path.into(),
            bytes: bytes.into(),
            layer: None,
        }
    }

    /// (dependency, dependent) as `name in evidence`.
    fn edges(packages: &[Package], databases: &[Database]) -> BTreeSet<(String, String)> {
        let named = |i: usize| format!("{} in {}", packages[i].name, packages[i].evidence[0]);
        resolve(packages, databases)
            .into_iter()
            .map(|d| (named(d.dependency), named(d.dependent)))
            .collect()
    }

    #[test]
    fn an_executables_modules_provide_only_within_it() {
        let modinfo = "path\ta\nmod\ta\tv1.0.0\t\ndep\tb\tv0.1.0\t\n";
        let one = file("usr/bin/one", golang::tests::blob("go1.22.5", modinfo));
        let two = file("usr/bin/two", golang::tests::blob("go1.22.5", modinfo));
        let mut packages = golang::packages(&one, None).unwrap();
        packages.extend(golang::packages(&two, None).unwrap());
        let databases = [golang::needs(&one).unwrap(), golang::needs(&two).unwrap()];
        let want: BTreeSet<(String, String)> = ["one", "two"]
            .into_iter()
            .flat_map(|exe| {
                let at = |name: &str| format!("{name} in /usr/bin/{exe}");
                [(at("b"), at("a")), (at("stdlib"), at("a"))]
            })
            .collect();
        assert_eq!(edges(&packages, &databases), want);
    }

    #[test]
    fn a_crate_needs_what_its_indices_name_that_was_compiled_in() {
        let json = br#"{"packages":[{"name":"cc","version":"1.1.0","kind":"build"},{"name":"itoa","version":"1.0.19"},{"name":"itoa","version":"0.4.8"},{"name":"app","version":"0.3.1","dependencies":[0,1],"root":true}],"format":1}"#;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut z, json).unwrap();
        let exe = file("usr/bin/app", z.finish().unwrap());
        let packages = rust_audit::packages(&exe, None).unwrap();
        let databases = [rust_audit::needs(&exe).unwrap()];
        let resolved = resolve(&packages, &databases);
        assert_eq!(resolved.len(), 1, "{resolved:?}");
        let (needed, by) = (
            &packages[resolved[0].dependency],
            &packages[resolved[0].dependent],
        );
        assert_eq!(
            (needed.name.as_str(), needed.version.as_str()),
            ("itoa", "1.0.19")
        );
        assert_eq!(by.name, "app");
    }

    #[test]
    fn an_npm_package_needs_what_node_would_load_for_it() {
        let lock = r#"{"name":"app","lockfileVersion":3,"packages":{
            "":{"name":"app","version":"1.0.0","dependencies":{"debug":"^4","linked":"*"},"devDependencies":{"mocha":"*"}},
            "node_modules/debug":{"version":"4.3.4","dependencies":{"ms":"2.1.2"}},
            "node_modules/ms":{"version":"2.0.0"},
            "node_modules/debug/node_modules/ms":{"version":"2.1.2"},
            "node_modules/other":{"version":"1.0.0","dependencies":{"ms":"^2.0.0"}},
            "node_modules/linked":{"resolved":"packages/linked","link":true},
            "packages/linked":{"name":"linked","version":"0.1.0","dependencies":{"other":"1"}},
            "node_modules/mocha":{"version":"10.0.0","dev":true}}}"#;
        let lockfile = file("srv/package-lock.json", lock.as_bytes().to_vec());
        let packages = npm::locked(&lockfile, None).unwrap();
        let databases = [npm::needs(&lockfile).unwrap()];
        let named = |i: usize| format!("{}@{}", packages[i].name, packages[i].version);
        let got: BTreeSet<(String, String)> = resolve(&packages, &databases)
            .into_iter()
            .map(|d| (named(d.dependency), named(d.dependent)))
            .collect();
        let want: BTreeSet<(String, String)> = [
            ("debug@4.3.4", "app@1.0.0"),
            ("linked@0.1.0", "app@1.0.0"),
            ("ms@2.1.2", "debug@4.3.4"),
            ("ms@2.0.0", "other@1.0.0"),
            ("other@1.0.0", "linked@0.1.0"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .into();
        assert_eq!(got, want);
    }
}
