//! Rust executables built with cargo-auditable: the crates compiled in, which it embeds as
//! zlib-compressed JSON in the ELF section `.dep-v0`:
//! `{"packages":[{"name","version","source","kind","dependencies","root"}],"format":1}`.
//!
//! [`extract`] copies the section (still compressed); [`packages`] inflates it, at most
//! [`MAX_JSON`] bytes, and lists the crates as Syft does: those compiled into the executable
//! (`kind` absent or `runtime`), the root crate included; build dependencies (`kind: build`,
//! build scripts and proc-macros) ran at build time only and are left out.

use std::io::Read;

use flate2::read::ZlibDecoder;
use object::{Object, ObjectSection};
use serde::Deserialize;

use crate::error::{Result, format_error};
use crate::fs::File;
use crate::model::{Distro, Package, PackageType};
use crate::purl::purl;
use crate::relations::{Database, Needs};

const SECTION: &str = ".dep-v0";
/// Most bytes the JSON may inflate to, as cargo-auditable's own reader bounds it (8 MiB):
/// more is a compression bomb, not a dependency list.
pub const MAX_JSON: u64 = 8 << 20;

/// The `.dep-v0` section of the ELF executable `bytes`, compressed as it is there; `None`
/// when it has none.
pub fn extract(bytes: &[u8]) -> Option<Vec<u8>> {
    let elf = object::File::parse(bytes).ok()?;
    let data = elf.section_by_name(SECTION)?.data().ok()?;
    Some(data.to_vec())
}

/// The document (its `format` and any later field are not needed).
#[derive(Debug, Deserialize)]
struct Audit {
    packages: Vec<Crate>,
}

/// One crate of the dependency list.
#[derive(Debug, Deserialize)]
pub struct Crate {
    pub name: String,
    pub version: String,
    /// `crates.io`, `git`, `local`, `registry`…
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub kind: Kind,
    /// Indexes into the list of the crates this one depends on.
    #[serde(default)]
    pub dependencies: Vec<usize>,
    /// The crate the executable was built from.
    #[serde(default)]
    pub root: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Compiled into the executable.
    #[default]
    Runtime,
    /// Ran while building it (build scripts, proc-macros).
    Build,
}

/// Inflates and decodes a `.dep-v0` section.
pub fn parse(section: &[u8]) -> Result<Vec<Crate>, String> {
    let mut json = Vec::new();
    ZlibDecoder::new(section)
        .take(MAX_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| format!("the .dep-v0 section does not inflate: {e}"))?;
    if json.len() as u64 > MAX_JSON {
        return Err(format!(
            "the .dep-v0 section inflates past {MAX_JSON} bytes: a compression bomb, not a dependency list"
        ));
    }
    let audit: Audit = serde_json::from_slice(&json)
        .map_err(|e| format!("the .dep-v0 section is not cargo-auditable's JSON: {e}"))?;
    for (i, c) in audit.packages.iter().enumerate() {
        if c.name.is_empty() || c.version.is_empty() {
            return Err(format!("crate {i} of .dep-v0 has no name or no version"));
        }
        if let Some(&bad) = c.dependencies.iter().find(|&&d| d >= audit.packages.len()) {
            return Err(format!(
                "crate {} depends on crate {bad} of a list of {}",
                c.name,
                audit.packages.len()
            ));
        }
    }
    Ok(audit.packages)
}

/// The crates compiled into the executable whose `.dep-v0` section [`extract`] put in `file`.
pub fn packages(file: &File, _distro: Option<&Distro>) -> Result<Vec<Package>> {
    let crates = parse(&file.bytes).map_err(|why| format_error(file, why))?;
    crates
        .into_iter()
        .filter(|c| c.kind == Kind::Runtime)
        .map(|c| {
            let purl = purl(PackageType::RustCrate, "", &c.name, &c.version, &[])
                .map_err(|why| format_error(file, why))?;
            Ok(Package {
                name: c.name,
                version: c.version,
                package_type: PackageType::RustCrate,
                arch: String::new(),
                purl: Some(purl),
                source: None,
                licenses: Vec::new(),
                evidence: vec![format!("/{}", file.path)],
                layer: file.layer.clone(),
            })
        })
        .collect()
}

/// What each crate compiled in needs, from the dependency indices of the list: a crate
/// provides itself (name and version, as two versions of one crate can be compiled in) to
/// the crates of the same executable.
pub(crate) fn needs(file: &File) -> Result<Database> {
    let crates = parse(&file.bytes).map_err(|why| format_error(file, why))?;
    let token = |c: &Crate| format!("{} {}", c.name, c.version);
    let needs = crates
        .iter()
        .filter(|c| c.kind == Kind::Runtime)
        .map(|c| Needs {
            name: c.name.clone(),
            version: c.version.clone(),
            arch: String::new(),
            provides: vec![token(c)],
            requires: c.dependencies.iter().map(|&i| token(&crates[i])).collect(),
        })
        .collect();
    Ok(Database::new(PackageType::RustCrate, file, true, needs))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::{Compression, write::ZlibEncoder};

    use super::*;

    fn deflate(bytes: &[u8]) -> Vec<u8> {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
        z.write_all(bytes).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn keeps_what_is_compiled_in() {
        let json = br#"{"packages":[{"name":"cc","version":"1.1.0","source":"crates.io","kind":"build"},{"name":"itoa","version":"1.0.19","source":"crates.io"},{"name":"app","version":"0.3.1","source":"local","dependencies":[0,1],"root":true}],"format":1}"#;
        let file = File {
            path: "usr/bin/app".into(),
            bytes: deflate(json).into(),
            layer: None,
        };
        let got: Vec<_> = packages(&file, None)
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.purl.unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("itoa".to_owned(), "pkg:cargo/itoa@1.0.19".to_owned()),
                ("app".to_owned(), "pkg:cargo/app@0.3.1".to_owned())
            ]
        );
    }

    #[test]
    fn refuses_bombs_and_broken_lists() {
        let bomb = deflate(&vec![b' '; (MAX_JSON + 10) as usize]);
        assert!(bomb.len() < 64 << 10);
        for (section, why) in [
            (bomb, "compression bomb"),
            (b"not zlib".to_vec(), "does not inflate"),
            (deflate(b"{\"packages\":7}"), "not cargo-auditable's JSON"),
            (
                deflate(br#"{"packages":[{"name":"a","version":"1","dependencies":[5]}]}"#),
                "depends on crate 5",
            ),
            (
                deflate(br#"{"packages":[{"name":"","version":"1"}]}"#),
                "no name",
            ),
            (
                deflate(br#"{"packages":[{"name":"a","version":"1","kind":"dev"}]}"#),
                "not cargo-auditable's JSON",
            ),
        ] {
            let err = parse(&section).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
    }
}
