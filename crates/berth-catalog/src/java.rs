//! Java archives (`.jar`, `.war`, `.ear` and the other zip formats the JVM world ships), read
//! from their bytes with the `zip` crate, never extracted: the archive's own package, named
//! as Syft names it (the one `pom.properties` that matches the file name, else the file name
//! and `META-INF/MANIFEST.MF`), every other Maven artifact whose `pom.properties` it bundles
//! (a shaded jar), and the same again for the archives nested in it (a Spring Boot jar's
//! `BOOT-INF/lib/*.jar`, a war's `WEB-INF/lib`), to any depth.
//!
//! Licences, as Syft reads them: the manifest's `Bundle-License` for the archive's own
//! package, else the `<licenses>` names of the `pom.xml` beside the chosen `pom.properties`;
//! each bundled artifact's from its own `pom.xml`. A `pom.xml` that does not parse gives no
//! licences (the package is still named by its `pom.properties`).
//!
//! An archive is hostile input: entries, bytes inflated (over all nested archives), nesting
//! depth and compression ratio are bounded, and an archive past a bound is refused by name.
//! Only the manifest, the Maven files (`pom.properties`, `pom.xml`) and nested archives are
//! inflated, and only they are held while an image is read ([`slim`]).

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use crate::error::{Result, clip};
use crate::fs::{File, Wanted};
use crate::model::{Distro, Package, PackageType};
use crate::paths::split;
use crate::purl::purl;

pub const WANTED: [Wanted; 1] = [Wanted::Reduced(is_archive, slim)];

/// The extensions of Java archives, as Syft's java-archive cataloger globs them (less the
/// Jenkins plugins, `.jpi` and `.hpi`, which are another package type).
const EXTENSIONS: [&str; 8] = ["jar", "war", "ear", "par", "sar", "nar", "kar", "lpkg"];

/// Most entries one archive may list.
pub const MAX_ENTRIES: usize = 100_000;
/// Most bytes inflated from one archive and everything nested in it.
pub const MAX_INFLATED: u64 = 256 << 20;
/// Deepest nesting of archives read (the file itself is depth 0).
pub const MAX_DEPTH: usize = 8;
/// Largest ratio of an entry's inflated to its compressed size: zip bombs reach thousands;
/// text and jars stay far below.
pub const MAX_RATIO: u64 = 200;

const MANIFEST: &str = "META-INF/MANIFEST.MF";
/// Where a jar keeps the Maven files of the artifacts it holds.
const MAVEN_DIR: &str = "META-INF/maven/";

/// Whether `path` names a Java archive.
pub fn is_archive(path: &str) -> bool {
    let name = split(path).1;
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty() && EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e))
    })
}

/// The packages of the archive `file` and of the archives nested in it.
pub fn packages(file: &File, _: Option<&Distro>) -> Result<Vec<Package>> {
    let mut budget = MAX_INFLATED;
    let mut found = Vec::new();
    read_archive(
        file,
        &file.bytes,
        &Nested(Vec::new()),
        &mut budget,
        &mut found,
    )
    .map_err(|why| file.parse_error(0, why))?;
    Ok(found)
}

/// What the catalogue reads of an archive, as a smaller archive: its manifest, its Maven
/// files and the archives nested in it (slimmed the same way), stored
/// uncompressed, the classes and resources dropped; so an image's jars are not held in
/// memory while it is read. An archive that cannot be slimmed (not a zip, past a bound) is
/// kept whole, for [`packages`] to say what is wrong with it.
pub fn slim(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut budget = MAX_INFLATED;
    Some(slim_archive(bytes, &Nested(Vec::new()), &mut budget).unwrap_or_else(|_| bytes.to_vec()))
}

fn slim_archive(bytes: &[u8], at: &Nested, budget: &mut u64) -> Result<Vec<u8>, String> {
    let mut zip = open(bytes, at)?;
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let failed = |e: &dyn std::fmt::Display| at.fault(format!("cannot slim the archive: {e}"));
    for name in names {
        let kept = if name == MANIFEST || name.ends_with("pom.properties") || is_pom_xml(&name) {
            inflate(&mut zip, &name, at, budget)?
        } else if is_archive(&name) {
            if at.0.len() >= MAX_DEPTH {
                return Err(at.fault("nested too deep".into()));
            }
            let inner = inflate(&mut zip, &name, at, budget)?;
            slim_archive(&inner, &at.with(&name), budget)?
        } else {
            continue;
        };
        out.start_file(name.as_str(), stored)
            .map_err(|e| failed(&e))?;
        out.write_all(&kept).map_err(|e| failed(&e))?;
    }
    Ok(out.finish().map_err(|e| failed(&e))?.into_inner())
}

/// A Maven `pom.xml` as jars bundle them, `META-INF/maven/GROUP/ARTIFACT/pom.xml`.
fn is_pom_xml(name: &str) -> bool {
    name.starts_with(MAVEN_DIR) && name.ends_with("/pom.xml")
}

/// The licence names a `pom.xml` declares (`project/licenses/license/name`), trimmed, empty
/// ones left out; none when it does not parse.
pub fn pom_licenses(bytes: &[u8]) -> Vec<String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Vec::new();
    };
    let Ok(doc) = roxmltree::Document::parse(text) else {
        return Vec::new();
    };
    let project = doc.root_element();
    child(project, "licenses")
        .flat_map(|licenses| child(licenses, "license"))
        .flat_map(|license| child(license, "name"))
        .filter_map(|name| {
            let text: String = name
                .descendants()
                .filter(|n| n.is_text())
                .filter_map(|n| n.text())
                .collect();
            let text = text.trim();
            (!text.is_empty()).then(|| text.to_owned())
        })
        .collect()
}

/// The child elements of `node` named `name` (namespaces aside: a pom's are Maven's).
fn child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// `bytes` as a zip archive, its entries counted.
fn open<'b>(bytes: &'b [u8], at: &Nested) -> Result<zip::ZipArchive<Cursor<&'b [u8]>>, String> {
    let zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| at.fault(format!("not a readable zip archive: {e}")))?;
    if zip.len() > MAX_ENTRIES {
        return Err(at.fault(format!(
            "{} entries, more than the {MAX_ENTRIES} berth reads of one archive",
            zip.len()
        )));
    }
    Ok(zip)
}

/// One Maven artifact named by a `pom.properties`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PomProperties {
    pub group_id: String,
    pub artifact_id: String,
    pub version: String,
}

impl PomProperties {
    /// The Maven group: `groupId`, else an `artifactId` that looks like a group (has a dot).
    fn group(&self) -> Option<String> {
        if !self.group_id.is_empty() {
            Some(clean_group(&self.group_id))
        } else if self.artifact_id.contains('.') {
            Some(clean_group(&self.artifact_id))
        } else {
            None
        }
    }
}

/// A group as written in a manifest or pom.properties, without OSGi directives
/// (`org.example;singleton:=true`) or a `#` comment.
fn clean_group(group: &str) -> String {
    let group = group.split(';').next().unwrap_or_default();
    group
        .split('#')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// A package while its archive is read: name, version, the group of its purl, its licences.
#[derive(Debug, Clone)]
struct Found {
    name: String,
    version: String,
    group: Option<String>,
    licenses: Vec<String>,
}

/// Where an archive is inside the file: the paths of the archives nested in one another,
/// outermost first; empty for the file itself.
struct Nested(Vec<String>);

impl Nested {
    /// The archive's file name.
    fn file_name<'a>(&'a self, file: &'a File) -> &'a str {
        split(self.0.last().unwrap_or(&file.path)).1
    }

    /// The evidence of its packages: `opt/app.jar`, `opt/app.jar:BOOT-INF/lib/dep.jar`.
    fn evidence(&self, file: &File) -> String {
        std::iter::once(file.path.as_str())
            .chain(self.0.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// `why`, saying which nested archive it is about.
    fn fault(&self, why: String) -> String {
        match self.0.is_empty() {
            true => why,
            false => format!("in {}: {why}", self.0.join(":")),
        }
    }

    fn with(&self, name: &str) -> Nested {
        let mut chain = self.0.clone();
        chain.push(name.to_owned());
        Nested(chain)
    }
}

/// Reads the archive `bytes`, at `at` in `file`, into `found`.
fn read_archive(
    file: &File,
    bytes: &[u8],
    at: &Nested,
    budget: &mut u64,
    found: &mut Vec<Package>,
) -> Result<(), String> {
    let depth = at.0.len();
    let mut zip = open(bytes, at)?;
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    let mut manifest = None;
    let mut properties = BTreeMap::new();
    // The licences of each directory's pom.xml, for the pom.properties beside it.
    let mut pom_xml: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut nested = Vec::new();
    for name in &names {
        if name == MANIFEST {
            manifest = Some(parse_manifest(&inflate(&mut zip, name, at, budget)?));
        } else if name.ends_with("pom.properties") {
            if let Some(props) = parse_pom_properties(&inflate(&mut zip, name, at, budget)?) {
                properties.insert(split(name).0.to_owned(), props);
            }
        } else if is_pom_xml(name) {
            let licenses = pom_licenses(&inflate(&mut zip, name, at, budget)?);
            pom_xml.insert(split(name).0.to_owned(), licenses);
        } else if is_archive(name) {
            nested.push(name.clone());
        }
    }

    let file_name = FileName::parse(at.file_name(file));
    if let Some(manifest) = manifest
        && manifest.get("Weave-Classes").is_none()
    {
        let mut main = main_package(&manifest, &file_name, &properties);
        let declared = |dir: &str| pom_xml.get(dir).cloned().unwrap_or_default();
        let mut main_pom_licenses = Vec::new();
        let mut others = Vec::new();
        for (dir, props) in &properties {
            // Syft merges a pom.properties into the archive's package when the artifact is
            // the package's name.
            if props.artifact_id == main.name {
                main.name = props.artifact_id.clone();
                main.version = props.version.clone();
                if main.group.is_none() {
                    main.group = props.group();
                }
                main_pom_licenses.extend(declared(dir));
            } else {
                others.push(Found {
                    name: props.artifact_id.clone(),
                    version: props.version.clone(),
                    group: props.group(),
                    licenses: declared(dir),
                });
            }
        }
        if main.group.is_none() {
            main.group = manifest.group();
        }
        main.licenses = match manifest.main_get("Bundle-License").map(str::trim) {
            Some(bundle) if !bundle.is_empty() => vec![bundle.to_owned()],
            _ => main_pom_licenses,
        };
        for package in std::iter::once(main).chain(others) {
            if package.name.is_empty() || package.version.is_empty() {
                continue;
            }
            found.push(to_package(file, &at.evidence(file), package).map_err(|e| at.fault(e))?);
        }
    }

    if depth >= MAX_DEPTH && !nested.is_empty() {
        return Err(at.fault(format!(
            "archives nested more than {MAX_DEPTH} deep; berth reads no deeper"
        )));
    }
    for name in nested {
        let inner = inflate(&mut zip, &name, at, budget)?;
        read_archive(file, &inner, &at.with(&name), budget, found)?;
    }
    Ok(())
}

/// The archive's own package: a `pom.properties` whose artifact matches the file name wins
/// (the last one in path order, as Syft picks it), else the name and version come from the
/// file name and the manifest.
fn main_package(
    manifest: &Manifest,
    file_name: &FileName,
    properties: &BTreeMap<String, PomProperties>,
) -> Found {
    let artifacts: Vec<&str> = properties
        .values()
        .map(|p| p.artifact_id.as_str())
        .collect();
    let matches = |artifact: &str| {
        if artifact.is_empty() || file_name.name.is_empty() {
            false
        } else if artifacts.contains(&file_name.name.as_str()) {
            artifact == file_name.name
        } else {
            artifact.starts_with(&file_name.name) || file_name.name.ends_with(artifact)
        }
    };
    let chosen = properties.values().rev().find(|p| matches(&p.artifact_id));
    let name = match chosen {
        Some(p) => p.artifact_id.clone(),
        None => select_name(manifest, file_name),
    };
    let version = match chosen {
        Some(p) => p.version.clone(),
        None if !file_name.version.is_empty() => file_name.version.clone(),
        None => [
            "Implementation-Version",
            "Specification-Version",
            "Plugin-Version",
            "Bundle-Version",
        ]
        .iter()
        .find_map(|k| manifest.get(k))
        .unwrap_or_default()
        .to_owned(),
    };
    // The group comes from a matching pom.properties merged in, else the manifest (see the
    // caller).
    Found {
        name,
        version,
        group: None,
        licenses: Vec::new(),
    }
}

fn select_name(manifest: &Manifest, file_name: &FileName) -> String {
    if manifest
        .get("Created-By")
        .is_some_and(|c| c.contains("Apache Maven Bundle Plugin"))
        && let Some(symbolic) = manifest.get("Bundle-SymbolicName")
        && manifest.get("Implementation-Vendor-Id") != Some(symbolic)
    {
        return symbolic.rsplit('.').next().unwrap_or(symbolic).to_owned();
    }
    let name = &file_name.name;
    if name.contains('.') && !name.starts_with("org.eclipse.") {
        let fields: Vec<&str> = name.split('.').collect();
        let identifier = |f: &&str| {
            f.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        };
        if fields.iter().all(identifier) {
            return fields[fields.len() - 1].to_owned();
        }
    }
    if !name.is_empty() {
        return name.clone();
    }
    [
        "Name",
        "Bundle-Name",
        "Short-Name",
        "Extension-Name",
        "Implementation-Title",
    ]
    .iter()
    .find_map(|k| manifest.main_get(k))
    .unwrap_or_default()
    .to_owned()
}

fn to_package(file: &File, evidence: &str, mut found: Found) -> Result<Package, String> {
    found.licenses.sort();
    found.licenses.dedup();
    let group = found.group.unwrap_or_else(|| found.name.clone());
    let purl = purl(
        PackageType::JavaArchive,
        &group,
        &found.name,
        &found.version,
        &[],
    )?;
    Ok(Package {
        name: found.name,
        version: found.version,
        package_type: PackageType::JavaArchive,
        arch: String::new(),
        purl: Some(purl),
        source: None,
        licenses: found.licenses,
        evidence: vec![evidence.to_owned()],
        layer: file.layer.clone(),
    })
}

/// The bytes of entry `name`, bounded by what is left of `budget` and by [`MAX_RATIO`].
fn inflate(
    zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    at: &Nested,
    budget: &mut u64,
) -> Result<Vec<u8>, String> {
    let entry = zip
        .by_name(name)
        .map_err(|e| at.fault(format!("entry {}: {e}", clip(name))))?;
    let (size, compressed) = (entry.size(), entry.compressed_size().max(1));
    if size > 1 << 20 && size / compressed > MAX_RATIO {
        return Err(at.fault(format!(
            "entry {} inflates {compressed} bytes to {size}, a ratio past {MAX_RATIO}: a zip bomb",
            clip(name)
        )));
    }
    let over = |size| {
        at.fault(format!(
            "entry {} takes the bytes inflated from the archive past {MAX_INFLATED} ({size} more)",
            clip(name)
        ))
    };
    if size > *budget {
        return Err(over(size));
    }
    // The sizes in the directory may lie: the read itself is bounded too.
    let mut bytes = Vec::with_capacity(size as usize);
    entry
        .take(*budget + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| at.fault(format!("entry {}: {e}", clip(name))))?;
    if bytes.len() as u64 > *budget {
        return Err(over(bytes.len() as u64));
    }
    *budget -= bytes.len() as u64;
    Ok(bytes)
}

/// A jar manifest: sections of `Key: value` lines (continued on lines starting with a space),
/// the main section first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub sections: Vec<Vec<(String, String)>>,
}

impl Manifest {
    /// `key` in the main section.
    fn main_get(&self, key: &str) -> Option<&str> {
        let main = self.sections.first()?;
        main.iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The Maven group the manifest suggests, as Syft reads it: of the values of the fields
    /// that usually hold one (`Bundle-SymbolicName`, `Implementation-Vendor-Id`…, else
    /// `Automatic-Module-Name`, `Main-Class`, `Package`) that start like a reversed domain
    /// (`com`, `org`, `net`, `io`, `be`), the first in sorted order.
    fn group(&self) -> Option<String> {
        const PRIMARY: [&str; 8] = [
            "Group-Id",
            "Bundle-SymbolicName",
            "Extension-Name",
            "Specification-Vendor",
            "Implementation-Vendor",
            "Implementation-Vendor-Id",
            "Implementation-Title",
            "Bundle-Activator",
        ];
        const SECONDARY: [&str; 3] = ["Automatic-Module-Name", "Main-Class", "Package"];
        const DOMAINS: [&str; 5] = ["com", "org", "net", "io", "be"];
        [&PRIMARY[..], &SECONDARY[..]]
            .into_iter()
            .find_map(|fields| {
                let mut groups: Vec<String> = fields
                    .iter()
                    .flat_map(|field| {
                        self.sections
                            .iter()
                            .flat_map(move |s| s.iter().filter(move |(k, _)| k == field))
                    })
                    .filter(|(_, v)| DOMAINS.iter().any(|d| v.starts_with(d)))
                    .map(|(_, v)| clean_group(v))
                    .collect();
                groups.sort();
                groups.into_iter().next()
            })
    }

    /// `key` in the main section, else in the first other section that has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.sections
            .iter()
            .flatten()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

pub fn parse_manifest(bytes: &[u8]) -> Manifest {
    let text = String::from_utf8_lossy(bytes);
    let mut manifest = Manifest::default();
    let mut in_section = false;
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            in_section = false;
            continue;
        }
        if let Some(more) = line.strip_prefix(' ') {
            if in_section
                && let Some((_, value)) = manifest.sections.last_mut().and_then(|s| s.last_mut())
            {
                value.push_str(more.trim());
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() {
            continue;
        }
        if !in_section {
            manifest.sections.push(Vec::new());
            in_section = true;
        }
        if let Some(section) = manifest.sections.last_mut() {
            section.push((key.to_owned(), value.trim().to_owned()));
        }
    }
    manifest
}

/// A `pom.properties` (Java properties: `key=value` or `key: value`, `#` comments); `None`
/// when a line is neither, or the artifact or version is missing.
pub fn parse_pom_properties(bytes: &[u8]) -> Option<PomProperties> {
    let text = String::from_utf8_lossy(bytes);
    let mut props = PomProperties {
        group_id: String::new(),
        artifact_id: String::new(),
        version: String::new(),
    };
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start_matches(' ').starts_with('#') {
            continue;
        }
        let at = line.find(['=', ':'])?;
        let (key, value) = (line[..at].trim(), line[at + 1..].trim().to_owned());
        match key.to_ascii_lowercase().as_str() {
            "groupid" => props.group_id = value,
            "artifactid" => props.artifact_id = value,
            "version" => props.version = value,
            _ => {}
        }
    }
    (!props.artifact_id.is_empty() && !props.version.is_empty()).then_some(props)
}

/// An archive's file name split as Syft splits it: `commons-lang3-3.12.0.jar` is
/// `commons-lang3` at `3.12.0`; the version starts at the first `-` followed by a digit (or
/// by `build`, `r` or `rc` and a digit), else at the first `.`, `_` or `-` followed by a
/// digit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileName {
    pub name: String,
    pub version: String,
}

impl FileName {
    pub fn parse(file: &str) -> FileName {
        let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
        let starts_version = |rest: &str| {
            let digit_after = |p: &str| {
                rest.strip_prefix(p)
                    .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
            };
            digit_after("") || digit_after("build") || digit_after("rc") || digit_after("r")
        };
        let cut = |seps: &[char]| {
            stem.char_indices()
                .find(|&(i, c)| i > 0 && seps.contains(&c) && starts_version(&stem[i + 1..]))
                .map(|(i, _)| FileName {
                    name: stem[..i].to_owned(),
                    version: stem[i + 1..].to_owned(),
                })
        };
        if !stem.starts_with(|c: char| c.is_alphabetic()) {
            return FileName::default();
        }
        cut(&['-'])
            .or_else(|| cut(&['.', '_', '-']))
            .unwrap_or_else(|| FileName {
                name: stem.to_owned(),
                version: String::new(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn pom_licences_are_read_from_the_project_only_and_hostile_poms_give_none() {
        let pom = br#"<?xml version="1.0"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <licenses><license><name> Apache-2.0 </name></license><license><name/></license></licenses>
  <dependencies><dependency><licenses><license><name>not-this</name></license></licenses>
  </dependency></dependencies>
</project>"#;
        assert_eq!(pom_licenses(pom), ["Apache-2.0"]);
        // An entity bomb: DTDs are refused, so nothing expands.
        let bomb = br#"<?xml version="1.0"?>
<!DOCTYPE project [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<project><licenses><license><name>&d;</name></license></licenses></project>"#;
        assert!(pom_licenses(bomb).is_empty());
        for broken in [&b"<project><licenses>"[..], b"\xff\xfe<project/>", b""] {
            assert!(pom_licenses(broken).is_empty());
        }
    }

    #[test]
    fn a_slimmed_archive_keeps_only_what_names_its_packages() {
        let manifest = b"Manifest-Version: 1.0\r\nImplementation-Version: 1.0\r\n\r\n";
        let classes = vec![7u8; 1 << 20];
        let inner = jar(&[
            ("META-INF/MANIFEST.MF", manifest),
            (
                "META-INF/maven/g/dep/pom.properties",
                b"groupId=g\nartifactId=dep\nversion=2\n",
            ),
            ("g/Dep.class", &classes),
        ]);
        let outer = jar(&[
            ("META-INF/MANIFEST.MF", manifest),
            ("app/Main.class", &classes),
            ("BOOT-INF/lib/dep-2.jar", &inner),
        ]);
        let slimmed = slim(&outer).unwrap();
        assert!(slimmed.len() < 2048, "{} bytes", slimmed.len());
        let names: Vec<String> = zip::ZipArchive::new(Cursor::new(&slimmed[..]))
            .unwrap()
            .file_names()
            .map(str::to_owned)
            .collect();
        assert_eq!(names, ["META-INF/MANIFEST.MF", "BOOT-INF/lib/dep-2.jar"]);
        let file = |bytes: &[u8]| File {
            path: "opt/app-1.0.jar".into(),
            bytes: bytes.into(),
            layer: None,
        };
        let whole = packages(&file(&outer), None).unwrap();
        assert_eq!(whole.len(), 2);
        assert_eq!(packages(&file(&slimmed), None).unwrap(), whole);
        // What cannot be slimmed is kept as it is, for the reader to refuse by name.
        assert_eq!(slim(b"not a zip").unwrap(), b"not a zip");
    }

    #[test]
    fn file_names_split_as_syft_splits_them() {
        let split = |f| {
            let n = FileName::parse(f);
            (n.name, n.version)
        };
        assert_eq!(
            split("commons-lang3-3.12.0.jar"),
            ("commons-lang3".into(), "3.12.0".into())
        );
        assert_eq!(
            split("guava-32.1.2-jre.jar"),
            ("guava".into(), "32.1.2-jre".into())
        );
        assert_eq!(split("app.war"), ("app".into(), String::new()));
        assert_eq!(split("foo.1.jar"), ("foo".into(), "1".into()));
    }
}
