//! Debian's package database: `var/lib/dpkg/status` (every dpkg system) and
//! `var/lib/dpkg/status.d/*` (distroless images, one file a package, no dpkg installed).
//!
//! Both are deb822 control files: stanzas of `Field: value` lines (continued on lines that
//! start with a space or tab) separated by blank lines. The parser is as strict as dpkg's own:
//! a database dpkg would refuse to read is refused, naming the line, rather than half read.

use crate::error::{ParseError, Result, clip};
use crate::fs::{File, Filesystem, Wanted};
use crate::model::{Distro, Package, PackageType, SourcePackage};
use crate::purl::of_os_package;
use crate::relations::{Database, Needs};

pub const STATUS: &str = "var/lib/dpkg/status";
pub const STATUS_D: &str = "var/lib/dpkg/status.d";
pub const WANTED: [Wanted; 2] = [Wanted::File(STATUS), Wanted::Children(STATUS_D)];

/// `status.d` also holds each package's list of file checksums; not a database.
const MD5SUMS: &str = ".md5sums";

/// The states (Status' third word) in which a package's files are on disk: unpacked, and
/// configured or on the way to it. `not-installed`, `config-files` (removed, configuration
/// kept) and `half-installed` (an install or removal that did not finish) are left out.
const PRESENT: [&str; 5] = [
    "installed",
    "triggers-pending",
    "triggers-awaited",
    "half-configured",
    "unpacked",
];

/// One stanza of a dpkg database, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Line of the stanza's first field (1-based).
    pub line: usize,
    pub package: String,
    pub version: Option<String>,
    pub architecture: Option<String>,
    /// `Source:` as written: the name, and the version when it differs from the binary's.
    pub source: Option<(String, Option<String>)>,
    /// `Status:` as written (`install ok installed`); absent in some `status.d` files.
    pub status: Option<String>,
    /// The names of the packages `Depends` and `Pre-Depends` name, every alternative of a
    /// `a | b` choice among them (see [`relation_names`]).
    pub depends: Vec<String>,
    /// The virtual packages `Provides` names.
    pub provides: Vec<String>,
}

impl Entry {
    /// Whether the package's files are on disk (see [`PRESENT`]). An entry without `Status`
    /// is installed: `status.d` holds only installed packages.
    pub fn is_present(&self) -> bool {
        match &self.status {
            None => true,
            Some(status) => status
                .split_whitespace()
                .nth(2)
                .is_some_and(|state| PRESENT.contains(&state)),
        }
    }
}

/// Parses a dpkg database (`status` or one `status.d` file).
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, ParseError> {
    let mut entries = Vec::new();
    let mut stanza = Stanza::default();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let text = String::from_utf8_lossy(raw);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        if text.trim().is_empty() {
            if let Some(entry) = stanza.finish()? {
                entries.push(entry);
            }
            continue;
        }
        if text.starts_with([' ', '\t']) {
            if stanza.fields.is_empty() {
                return Err(ParseError {
                    line,
                    why: "a continuation line with no field before it".into(),
                });
            }
            continue; // only multi-line fields (Description, Conffiles) continue; none is read
        }
        let Some((name, value)) = text.split_once(':') else {
            return Err(ParseError {
                line,
                why: format!("{:?} is not a field (`Name: value`)", clip(text)),
            });
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ParseError {
                line,
                why: format!("{:?} is not a field name", clip(name)),
            });
        }
        let name = name.to_ascii_lowercase();
        if stanza.fields.iter().any(|(n, _)| *n == name) {
            return Err(ParseError {
                line,
                why: format!("field {name:?} is given twice in one entry"),
            });
        }
        if stanza.fields.is_empty() {
            stanza.line = line;
        }
        stanza.fields.push((name, value.trim().to_owned()));
    }
    if let Some(entry) = stanza.finish()? {
        entries.push(entry);
    }
    Ok(entries)
}

/// A stanza being read: its first line and its fields (names lower-cased).
#[derive(Default)]
struct Stanza {
    line: usize,
    fields: Vec<(String, String)>,
}

impl Stanza {
    /// The entry the stanza read so far makes, if it has fields; leaves the stanza empty.
    fn finish(&mut self) -> Result<Option<Entry>, ParseError> {
        let fields = std::mem::take(&mut self.fields);
        if fields.is_empty() {
            return Ok(None);
        }
        let line = self.line;
        let take = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let package = take("package").ok_or_else(|| ParseError {
            line,
            why: "the entry has no Package field".into(),
        })?;
        let source = take("source").map(|s| parse_source(&s, line)).transpose()?;
        let relations = |names: &[&str]| -> Vec<String> {
            names
                .iter()
                .filter_map(|name| take(name))
                .flat_map(|value| relation_names(&value))
                .collect()
        };
        Ok(Some(Entry {
            depends: relations(&["depends", "pre-depends"]),
            provides: relations(&["provides"]),
            line,
            version: take("version"),
            architecture: take("architecture"),
            status: take("status"),
            package,
            source,
        }))
    }
}

/// The package names a relationship field (`Depends`, `Provides`…) names: each of its
/// comma-separated relations, each alternative of a `|` choice, without the version
/// (`(>= 1.2)`), architecture (`[amd64]`) or build-profile (`<!nocheck>`) restrictions and
/// without an architecture qualifier (`python3:any` is `python3`, as dpkg satisfies it).
pub fn relation_names(value: &str) -> Vec<String> {
    value
        .split([',', '|'])
        .filter_map(|relation| {
            let name = relation.split(['(', '[', '<', '>', '=']).next()?.trim();
            let name = name.split_once(':').map_or(name, |(name, _)| name);
            (!name.is_empty()).then(|| name.to_owned())
        })
        .collect()
}

/// `Source: name` or `Source: name (version)`.
fn parse_source(value: &str, line: usize) -> Result<(String, Option<String>), ParseError> {
    let (name, rest) = value
        .split_once(char::is_whitespace)
        .map_or((value, ""), |(n, r)| (n, r.trim()));
    if rest.is_empty() {
        return Ok((name.to_owned(), None));
    }
    match rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        Some(version) if !version.trim().is_empty() => {
            Ok((name.to_owned(), Some(version.trim().to_owned())))
        }
        _ => Err(ParseError {
            line,
            why: format!("Source {:?} is not `name` or `name (version)`", clip(value)),
        }),
    }
}

/// The dpkg databases in `fs`: `status`, then each `status.d` file in name order.
pub fn databases(fs: &dyn Filesystem) -> Result<Vec<File>> {
    let mut files: Vec<File> = fs.read(STATUS)?.into_iter().collect();
    for name in fs.list(STATUS_D)? {
        if name.ends_with(MD5SUMS) {
            continue;
        }
        if let Some(file) = fs.read(&format!("{STATUS_D}/{name}"))? {
            files.push(file);
        }
    }
    Ok(files)
}

/// The packages whose files are on disk, as database `file` lists them.
pub fn packages(file: &File, distro: Option<&Distro>) -> Result<Vec<Package>> {
    let entries = parse(&file.bytes).map_err(|e| file.parse_error(e.line, e.why))?;
    let mut packages = Vec::new();
    for entry in entries.into_iter().filter(Entry::is_present) {
        let Some(version) = entry.version.clone() else {
            return Err(file.parse_error(
                entry.line,
                format!("installed package {} has no Version", entry.package),
            ));
        };
        let arch = entry.architecture.clone().unwrap_or_default();
        // Syft's `upstream`: the Source field as written, `name@version` when it names a
        // version.
        let upstream = match &entry.source {
            Some((name, Some(v))) => format!("{name}@{v}"),
            Some((name, None)) => name.clone(),
            None => String::new(),
        };
        let purl = of_os_package(
            PackageType::Deb,
            distro.filter(|d| d.is_like("debian")),
            &entry.package,
            &version,
            &arch,
            &upstream,
        )
        .map_err(|why| file.parse_error(entry.line, why))?;
        // Debian policy: no Source means the source is named as the binary; a Source without
        // a version means the source's version is the binary's.
        let source = match entry.source {
            Some((name, Some(v))) => SourcePackage { name, version: v },
            Some((name, None)) => SourcePackage {
                name,
                version: version.clone(),
            },
            None => SourcePackage {
                name: entry.package.clone(),
                version: version.clone(),
            },
        };
        packages.push(Package {
            name: entry.package,
            version,
            package_type: PackageType::Deb,
            arch,
            purl,
            source: Some(source),
            licenses: Vec::new(),
            evidence: vec![format!("/{}", file.path)],
            layer: file.layer.clone(),
        });
    }
    Ok(packages)
}

/// What each package database `file` lists as present provides and requires, by name.
pub(crate) fn needs(file: &File) -> Result<Database> {
    let entries = parse(&file.bytes).map_err(|e| file.parse_error(e.line, e.why))?;
    let needs = entries
        .into_iter()
        .filter(Entry::is_present)
        .map(|entry| {
            let (provides, requires) = (entry.provides, entry.depends);
            Needs::os_package(
                entry.package,
                entry.version,
                entry.architecture,
                provides,
                requires,
            )
        })
        .collect();
    Ok(Database::new(PackageType::Deb, file, false, needs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stanzas_sources_and_states() {
        let text = "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u4\n\
                    Architecture: amd64\nSource: glibc\nDescription: GNU C Library\n continued\n .\n\n\
                    Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\n\
                    Source: bash (5.2.15-2)\n\n\n\
                    Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
                    Package: never\nStatus: purge ok not-installed\n";
        let entries = parse(text.as_bytes()).unwrap();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0].line, 1);
        assert_eq!(entries[0].source, Some(("glibc".into(), None)));
        assert_eq!(
            entries[1].source,
            Some(("bash".into(), Some("5.2.15-2".into())))
        );
        assert!(entries[0].depends.is_empty());
        let present: Vec<_> = entries.iter().filter(|e| e.is_present()).collect();
        assert_eq!(present.len(), 2);
        assert_eq!(entries[3].version, None);
    }

    #[test]
    fn reads_relations_as_names() {
        let text = "Package: a\nVersion: 1\nPre-Depends: libc6 (>= 2.34)\n\
                    Depends: debconf (>= 0.5) | debconf-2.0, python3:any, x [amd64] <!nocheck>\n\
                    Provides: awk, mail-transport-agent (= 1.0)\n";
        let entry = &parse(text.as_bytes()).unwrap()[0];
        assert_eq!(
            entry.depends,
            ["debconf", "debconf-2.0", "python3", "x", "libc6"]
        );
        assert_eq!(entry.provides, ["awk", "mail-transport-agent"]);
    }

    #[test]
    fn refuses_what_dpkg_refuses_naming_the_line() {
        for (text, line, why) in [
            (" orphan\n", 1, "continuation"),
            ("Package: a\nno colon here\n", 2, "not a field"),
            ("Package: a\nPackage: b\n", 2, "twice"),
            ("Version: 1\n\nPackage: b\n", 1, "no Package"),
            ("Package: a\nSource: x (1\n", 1, "Source"),
        ] {
            let err = parse(text.as_bytes()).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err:?}");
            assert!(err.why.contains(why), "{text:?}: {err:?}");
        }
    }
}
