//! Alpine's package database, `lib/apk/db/installed`: one entry per installed package, each
//! a run of `K:value` lines (one letter a field: `P` name, `V` version, `A` architecture,
//! `L` licence, `o` origin, `F`/`R` its directories and files…) ended by a blank line, as
//! apk-tools writes it and the Alpine wiki's "Apk spec" documents.

use crate::error::{ParseError, Result, clip};
use crate::fs::{File, Filesystem, Wanted};
use crate::model::{Distro, Package, PackageType, SourcePackage};
use crate::purl::of_os_package;
use crate::relations::{Database, Needs};

pub const INSTALLED: &str = "lib/apk/db/installed";
pub const WANTED: [Wanted; 1] = [Wanted::File(INSTALLED)];

/// One package of the database, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// Line of the entry's first field (1-based).
    pub line: usize,
    pub package: String,
    pub version: String,
    pub architecture: Option<String>,
    pub license: Option<String>,
    /// The package this one was built with (`o:`), its "source".
    pub origin: Option<String>,
    /// What it depends on (`D:`: package names, `so:` libraries, `cmd:` commands), without
    /// version constraints; conflicts (`!name`) are no dependency and are left out.
    pub depends: Vec<String>,
    /// What it provides besides its name (`p:`), without versions.
    pub provides: Vec<String>,
}

/// Parses an apk `installed` database.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, ParseError> {
    let mut entries = Vec::new();
    let mut current: Option<(Entry, bool)> = None; // the entry, and whether V: was seen
    let finish = |current: &mut Option<(Entry, bool)>| -> Result<Option<Entry>, ParseError> {
        match current.take() {
            None => Ok(None),
            Some((entry, _)) if entry.package.is_empty() => Err(ParseError {
                line: entry.line,
                why: "the entry has no package name (P:)".into(),
            }),
            Some((entry, false)) => Err(ParseError {
                line: entry.line,
                why: format!("package {} has no version (V:)", entry.package),
            }),
            Some((entry, true)) => Ok(Some(entry)),
        }
    };
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let text = String::from_utf8_lossy(raw);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        if text.is_empty() {
            entries.extend(finish(&mut current)?);
            continue;
        }
        let mut chars = text.chars();
        let (Some(key), Some(':')) = (chars.next(), chars.next()) else {
            return Err(ParseError {
                line,
                why: format!("{:?} is not a `K:value` line", clip(text)),
            });
        };
        let value = chars.as_str();
        let (entry, has_version) = current.get_or_insert_with(|| {
            (
                Entry {
                    line,
                    ..Entry::default()
                },
                false,
            )
        });
        let set = |field: &mut Option<String>| *field = Some(value.to_owned());
        match key {
            'P' if !entry.package.is_empty() => {
                return Err(ParseError {
                    line,
                    why: format!(
                        "a second package name in the entry of {} (is a blank line missing?)",
                        entry.package
                    ),
                });
            }
            'P' => entry.package = value.to_owned(),
            'V' => {
                entry.version = value.to_owned();
                *has_version = !value.is_empty();
            }
            'A' => set(&mut entry.architecture),
            'L' => set(&mut entry.license),
            'o' => set(&mut entry.origin),
            'D' => entry.depends = names(value),
            'p' => entry.provides = names(value),
            _ => {} // checksums, sizes, file lists: not catalogued yet
        }
    }
    entries.extend(finish(&mut current)?);
    Ok(entries)
}

/// The names in a `D:` or `p:` value: blank-separated, each without its version constraint
/// (`musl>=1.2`, `so:libc.musl-x86_64.so.1=1`, `foo~1.2`); conflicts (`!foo`) left out.
fn names(value: &str) -> Vec<String> {
    value
        .split_whitespace()
        .filter(|name| !name.starts_with('!'))
        .filter_map(|name| name.split(['<', '>', '=', '~']).next())
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The apk database of `fs`, if it has one.
pub fn databases(fs: &dyn Filesystem) -> Result<Vec<File>> {
    Ok(fs.read(INSTALLED)?.into_iter().collect())
}

/// The packages database `file` lists.
pub fn packages(file: &File, distro: Option<&Distro>) -> Result<Vec<Package>> {
    let entries = parse(&file.bytes).map_err(|e| file.parse_error(e.line, e.why))?;
    let mut packages = Vec::new();
    for entry in entries {
        let arch = entry.architecture.clone().unwrap_or_default();
        // Syft's `upstream` names the origin when it is another package.
        let upstream = entry
            .origin
            .as_deref()
            .filter(|origin| *origin != entry.package)
            .unwrap_or("");
        let purl = of_os_package(
            PackageType::Apk,
            distro,
            &entry.package,
            &entry.version,
            &arch,
            upstream,
        )
        .map_err(|why| file.parse_error(entry.line, why))?;
        // An origin is built at the version of the packages it makes.
        let source = entry.origin.map(|name| SourcePackage {
            name,
            version: entry.version.clone(),
        });
        packages.push(Package {
            name: entry.package,
            version: entry.version,
            package_type: PackageType::Apk,
            arch,
            purl,
            source,
            licenses: entry.license.into_iter().collect(),
            evidence: vec![format!("/{}", file.path)],
            layer: file.layer.clone(),
        });
    }
    Ok(packages)
}

/// What each package of database `file` provides and requires, by name.
pub(crate) fn needs(file: &File) -> Result<Database> {
    let entries = parse(&file.bytes).map_err(|e| file.parse_error(e.line, e.why))?;
    let needs = entries
        .into_iter()
        .map(|entry| {
            let (provides, requires) = (entry.provides, entry.depends);
            Needs::os_package(
                entry.package,
                Some(entry.version),
                entry.architecture,
                provides,
                requires,
            )
        })
        .collect();
    Ok(Database::new(PackageType::Apk, file, false, needs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entries_and_their_fields() {
        let text = "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\no:musl\np:so:libc.musl-x86_64.so.1=1\n\
                    F:lib\nR:libc.musl-x86_64.so.1\n\n\
                    P:ssl_client\nV:3.3.2-r0\nA:x86_64\nL:MIT AND BSD-2-Clause\no:openssl\n\
                    D:musl>=1.2 so:libcrypto.so.3 !old-ssl tzdata~2024\n";
        let entries = parse(text.as_bytes()).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].line, 1);
        assert_eq!(entries[0].package, "musl");
        assert_eq!(entries[1].origin.as_deref(), Some("openssl"));
        assert_eq!(entries[1].license.as_deref(), Some("MIT AND BSD-2-Clause"));
        assert_eq!(entries[0].provides, ["so:libc.musl-x86_64.so.1"]);
        assert_eq!(entries[1].depends, ["musl", "so:libcrypto.so.3", "tzdata"]);
    }

    #[test]
    fn refuses_broken_entries_naming_the_line() {
        for (text, line, why) in [
            ("P:a\nV:1\nnot a field\n", 3, "K:value"),
            ("V:1\n", 1, "no package name"),
            ("P:a\nA:x86_64\n", 1, "no version"),
            ("P:a\nV:1\nP:b\nV:2\n", 3, "blank line missing"),
        ] {
            let err = parse(text.as_bytes()).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err:?}");
            assert!(err.why.contains(why), "{text:?}: {err:?}");
        }
    }
}
