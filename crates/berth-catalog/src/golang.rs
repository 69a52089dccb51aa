//! Go executables: the build information the Go linker embeds (what `go version -m` prints):
//! the Go version, the main module, every module compiled in (with `=>` replacements), and
//! the build settings.
//!
//! It sits behind the 16-byte-aligned magic `\xff Go buildinf:` (in ELF, the `.go.buildinfo`
//! section). Byte 14 is the pointer size, byte 15 the flags: since Go 1.18 (flag 2) the two
//! strings, the Go version and the module information, follow inline as varint-prefixed
//! strings; before, two pointers follow, each to a Go string header (data pointer and length)
//! in the executable's memory image. [`extract`] resolves either into one self-contained blob
//! in the inline form; [`packages`] reads only that form.

use object::{Object, ObjectSection, ObjectSegment};
use regex::bytes::Regex;

use crate::error::{Result, format_error};
use crate::fs::File;
use crate::model::{Distro, Package, PackageType};
use crate::purl::of_go_module;
use crate::relations::{Database, Needs};

const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
/// The build info header: magic, pointer size, flags, padding to 32 bytes.
const HEADER: usize = 32;
const FLAG_BIG_ENDIAN: u8 = 1;
const FLAG_INLINE: u8 = 2;
/// Most bytes of each of the two strings (the module list of a large program is tens of KiB).
const MAX_STRING: usize = 4 << 20;
/// The module information is framed by two 16-byte sentinels the linker adds.
const SENTINEL: usize = 16;
/// What Go writes as the version of a module built from its source tree.
const DEVEL: &str = "(devel)";

/// The build info of the Go executable `bytes`, as a self-contained blob [`packages`] reads;
/// `None` when it is not a Go executable (or its build info cannot be located).
pub fn extract(bytes: &[u8]) -> Option<Vec<u8>> {
    let elf = object::File::parse(bytes).ok();
    // The section where the linker puts it; else every aligned magic in the file (an ELF
    // without section headers, other executable formats).
    let section = elf.as_ref().and_then(|f| {
        let s = f.section_by_name(".go.buildinfo")?;
        let (offset, _) = s.file_range()?;
        usize::try_from(offset).ok()
    });
    let candidates = section.into_iter().chain(
        bytes
            .chunks_exact(16)
            .enumerate()
            .filter(|(_, chunk)| chunk.starts_with(MAGIC))
            .map(|(i, _)| i * 16),
    );
    candidates
        .into_iter()
        .find_map(|at| blob_at(bytes, at, elf.as_ref()))
}

/// The blob for the build info header at `at`, if it is one.
fn blob_at(bytes: &[u8], at: usize, elf: Option<&object::File>) -> Option<Vec<u8>> {
    let header = bytes.get(at..at.checked_add(HEADER)?)?;
    if !header.starts_with(MAGIC) {
        return None;
    }
    let (pointer_size, flags) = (header[14], header[15]);
    let (version, modinfo) = if flags & FLAG_INLINE != 0 {
        let (version, rest) = varint_string(&bytes[at + HEADER..]).ok()?;
        let (modinfo, _) = varint_string(rest).ok()?;
        (version, modinfo)
    } else {
        let memory = Memory {
            elf: elf?,
            pointer_size: usize::from(pointer_size),
            big_endian: flags & FLAG_BIG_ENDIAN != 0,
        };
        let pointers = &header[16..];
        let version = memory.string(memory.pointer(pointers)?)?;
        let modinfo = memory.string(memory.pointer(pointers.get(usize::from(pointer_size)..)?)?)?;
        (version, modinfo)
    };
    if version.is_empty() {
        return None;
    }
    // The header of the inline form: the pointers, if any, mean nothing in the blob.
    let mut blob = header[..16].to_vec();
    blob[15] = FLAG_INLINE;
    blob.resize(HEADER, 0);
    for s in [version, modinfo] {
        put_varint(&mut blob, s.len() as u64);
        blob.extend_from_slice(s);
    }
    Some(blob)
}

/// An ELF executable's memory image, read through its loadable segments.
struct Memory<'a> {
    elf: &'a object::File<'a>,
    pointer_size: usize,
    big_endian: bool,
}

impl<'a> Memory<'a> {
    fn read(&self, address: u64, size: usize) -> Option<&'a [u8]> {
        self.elf
            .segments()
            .find_map(|s| s.data_range(address, size as u64).ok().flatten())
    }

    /// The pointer at the start of `bytes`.
    fn pointer(&self, bytes: &[u8]) -> Option<u64> {
        let word = bytes.get(..self.pointer_size)?;
        Some(match (self.pointer_size, self.big_endian) {
            (4, false) => u64::from(u32::from_le_bytes(word.try_into().ok()?)),
            (4, true) => u64::from(u32::from_be_bytes(word.try_into().ok()?)),
            (8, false) => u64::from_le_bytes(word.try_into().ok()?),
            (8, true) => u64::from_be_bytes(word.try_into().ok()?),
            _ => return None,
        })
    }

    /// The Go string whose header (data pointer, length) is at `address`.
    fn string(&self, address: u64) -> Option<&'a [u8]> {
        let header = self.read(address, 2 * self.pointer_size)?;
        let data = self.pointer(header)?;
        let len = usize::try_from(self.pointer(&header[self.pointer_size..])?).ok()?;
        if len > MAX_STRING {
            return None;
        }
        self.read(data, len)
    }
}

/// A string prefixed by its length as an unsigned LEB128 varint, and what follows it.
fn varint_string(bytes: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let mut len: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        len |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let rest = &bytes[i + 1..];
            return match usize::try_from(len) {
                Ok(len) if len <= MAX_STRING && len <= rest.len() => Ok(rest.split_at(len)),
                _ => Err(format!(
                    "a string of {len} bytes where {} remain (at most {MAX_STRING} read)",
                    rest.len()
                )),
            };
        }
    }
    Err("a string length that is not a valid varint".into())
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A module as the build info lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Module {
    pub path: String,
    pub version: String,
    /// The `h1:` checksum; empty for the main module and vendored modules.
    pub sum: String,
    /// What a `replace` directive put in its place (`=>`).
    pub replace: Option<Box<Module>>,
}

/// The build info of one executable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildInfo {
    /// `go1.22.1`, possibly followed by ` X:experiments`.
    pub go_version: String,
    /// The main package's import path.
    pub path: String,
    /// The main module; empty when the program was not built in module mode.
    pub main: Module,
    pub deps: Vec<Module>,
    /// `-ldflags`, `GOARCH`, `vcs.revision`… in the order written.
    pub settings: Vec<(String, String)>,
}

/// Decodes a blob [`extract`] made.
pub fn parse(blob: &[u8]) -> Result<BuildInfo, String> {
    let header = blob
        .get(..HEADER)
        .filter(|h| h.starts_with(MAGIC))
        .ok_or("no Go build info header")?;
    if header[15] & FLAG_INLINE == 0 {
        return Err("build info with pointers, not strings: extract it first".into());
    }
    let (go_version, rest) = varint_string(&blob[HEADER..])?;
    let (modinfo, _) = varint_string(rest)?;
    let mut info = BuildInfo {
        go_version: String::from_utf8(go_version.to_vec())
            .map_err(|_| "the Go version is not UTF-8")?,
        ..BuildInfo::default()
    };
    // Without both sentinels and the newline before the end one, the linker wrote no
    // module information (a program built outside module mode).
    if modinfo.len() <= 2 * SENTINEL || modinfo[modinfo.len() - SENTINEL - 1] != b'\n' {
        return Ok(info);
    }
    let text = std::str::from_utf8(&modinfo[SENTINEL..modinfo.len() - SENTINEL])
        .map_err(|_| "the module information is not UTF-8")?;
    for (i, line) in text.lines().enumerate() {
        let bad = |why: &str| format!("module information line {}: {why}", i + 1);
        let Some((key, value)) = line.split_once('\t') else {
            if line.is_empty() {
                continue;
            }
            return Err(bad("no tab after the key"));
        };
        match key {
            "go" => {} // the Go version again (written by Go ≥ 1.18 tools that print it)
            "path" => info.path = value.to_owned(),
            "mod" => info.main = module(value).ok_or_else(|| bad("a broken `mod` line"))?,
            "dep" => info
                .deps
                .push(module(value).ok_or_else(|| bad("a broken `dep` line"))?),
            "=>" => {
                let replacement = module(value).ok_or_else(|| bad("a broken `=>` line"))?;
                let replaced = match info.deps.last_mut() {
                    Some(dep) => dep,
                    None if !info.main.path.is_empty() => &mut info.main,
                    None => return Err(bad("a replacement of no module")),
                };
                if replaced.replace.is_some() {
                    return Err(bad("a second replacement of the same module"));
                }
                replaced.replace = Some(Box::new(replacement));
            }
            "build" => {
                let (key, value) = value
                    .split_once('=')
                    .ok_or_else(|| bad("a build setting without `=`"))?;
                info.settings.push((unquote(key), unquote(value)));
            }
            _ => return Err(bad(&format!("unknown key {key:?}"))),
        }
    }
    Ok(info)
}

/// `PATH\tVERSION[\tSUM]`.
fn module(value: &str) -> Option<Module> {
    let mut fields = value.split('\t');
    let path = fields.next().filter(|p| !p.is_empty())?.to_owned();
    let version = fields.next().unwrap_or_default().to_owned();
    let sum = fields.next().unwrap_or_default().to_owned();
    if fields.next().is_some() {
        return None;
    }
    Some(Module {
        path,
        version,
        sum,
        replace: None,
    })
}

/// A build setting's key or value, which Go quotes (strconv.Quote) when it holds spaces,
/// tabs, quotes or `=`.
fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return s.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// The modules compiled into the executable whose build info [`extract`] put in `file`, named
/// as Syft names them: each dependency (or its replacement), the main module, and the Go
/// standard library as the module `stdlib` at the Go version.
pub fn packages(file: &File, _distro: Option<&Distro>) -> Result<Vec<Package>> {
    Ok(modules(file)?.0)
}

/// What the main module needs: every other module compiled in, the standard library
/// included; each module provides itself (path and version) to the main module of the same
/// executable.
pub(crate) fn needs(file: &File) -> Result<Database> {
    let (packages, main) = modules(file)?;
    let token = |p: &Package| format!("{}@{}", p.name, p.version);
    let needs = packages
        .iter()
        .enumerate()
        .map(|(i, p)| Needs {
            name: p.name.clone(),
            version: p.version.clone(),
            arch: p.arch.clone(),
            provides: vec![token(p)],
            requires: match main {
                Some(main) if main == i => packages
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, p)| token(p))
                    .collect(),
                _ => Vec::new(),
            },
        })
        .collect();
    Ok(Database::new(PackageType::GoModule, file, true, needs))
}

/// The modules compiled into the executable, and which of them is the main module.
fn modules(file: &File) -> Result<(Vec<Package>, Option<usize>)> {
    let info = parse(&file.bytes).map_err(|why| format_error(file, why))?;
    let go_version = info
        .go_version
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    let arch = info
        .settings
        .iter()
        .find(|(k, _)| k == "GOARCH")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let package = |name: &str, version: &str| Package {
        name: name.to_owned(),
        version: version.to_owned(),
        package_type: PackageType::GoModule,
        arch: arch.clone(),
        purl: Some(of_go_module(name, version)),
        source: None,
        licenses: Vec::new(),
        evidence: vec![format!("/{}", file.path)],
        layer: file.layer.clone(),
    };
    let (main, deps) = main_module(&info);
    let mut packages: Vec<Package> = deps
        .iter()
        .map(|dep| dep.replace.as_deref().unwrap_or(dep))
        .map(|m| package(&m.path, &m.version))
        .collect();
    let main_index = main.is_some().then_some(packages.len());
    if let Some(main) = main {
        let main = main.replace.as_deref().unwrap_or(&main);
        let version = match main.version.as_str() {
            DEVEL => main_version(&info, &main.path).unwrap_or_else(|| DEVEL.to_owned()),
            version => version.to_owned(),
        };
        packages.push(package(&main.path, &version));
    }
    // Syft lists the standard library for a Go version it can read a number from.
    if !packages.is_empty() && go_version.bytes().any(|b| b.is_ascii_digit()) {
        let mut stdlib = package("stdlib", &go_version);
        stdlib.purl = Some(of_go_module(
            "stdlib",
            go_version.strip_prefix("go").unwrap_or(&go_version),
        ));
        stdlib.licenses = vec!["BSD-3-Clause".to_owned()];
        packages.push(stdlib);
    }
    Ok((packages, main_index))
}

/// The main module and the dependencies. Without a `mod` line (or with `go build file.go`'s
/// `command-line-arguments`), Syft takes the one dependency at `(devel)` as the main module,
/// else makes one from the package path at `(devel)`.
fn main_module(info: &BuildInfo) -> (Option<Module>, Vec<Module>) {
    let missing = (info.main.path.is_empty() && !info.path.is_empty())
        || (info.main.path == "command-line-arguments" && info.main.replace.is_none());
    if !missing {
        let main = (!info.main.path.is_empty()).then(|| info.main.clone());
        return (main, info.deps.clone());
    }
    let devel: Vec<usize> = (0..info.deps.len())
        .filter(|&i| info.deps[i].version == DEVEL)
        .collect();
    let mut deps = info.deps.clone();
    if let [only] = devel[..] {
        return (Some(deps.remove(only)), deps);
    }
    let main = Module {
        path: info.path.clone(),
        version: DEVEL.to_owned(),
        ..Module::default()
    };
    (Some(main), deps)
}

/// A version for a main module built from a source tree, from what the build recorded, in
/// Syft's order: a version set by the linker (`-X main.version=1.2.3` in `-ldflags`), else a
/// pseudo-version from the version control settings. (Syft next guesses from semver-like
/// strings anywhere in the executable; berth does not guess.)
fn main_version(info: &BuildInfo, main_path: &str) -> Option<String> {
    let setting = |key: &str| {
        info.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    if let Some(version) = setting("-ldflags").and_then(|flags| ldflags_version(flags, main_path)) {
        return Some(version);
    }
    let revision = setting("vcs.revision")?;
    let time = setting("vcs.time")?;
    let revision: String = revision.chars().take(12).collect();
    Some(format!("v0.0.0-{}-{revision}", pseudo_time(time)))
}

/// The `-X` version a linker flag sets on a symbol of the main module: a symbol of `main` or
/// of a package under the main module's path whose name ends in `version`/`ver` (or `tag`),
/// set to something shaped like `1.2.3`, prefixed with `v` as Go versions are.
fn ldflags_version(flags: &str, main_path: &str) -> Option<String> {
    // Syft 1.18.1's two patterns, as facts: the same symbols, the same version shape.
    static SUFFIXES: [&str; 2] = [
        r"\.[a-zA-Z0-9]*([rR]elease)?([gG]it)?([bB]uild)?[vV]er(sion)?=(\S+/)*(?P<version>v?\d+.\d+.\d+[-\w]*)",
        r"\.[a-zA-Z0-9]*([tT]ag)=(\S+/)*(?P<version>v?\d+.\d+.\d+[-\w]*)",
    ];
    let main_path = regex::escape(main_path);
    for suffix in SUFFIXES {
        let pattern = format!(r"(?m-u)(main|{main_path}/[^\s]*){suffix}");
        let Ok(re) = Regex::new(&pattern) else {
            continue;
        };
        if let Some(found) = re
            .captures(flags.as_bytes())
            .and_then(|c| c.name("version"))
        {
            let version = String::from_utf8_lossy(found.as_bytes());
            return Some(match version.strip_prefix('v') {
                Some(_) => version.into_owned(),
                None => format!("v{version}"),
            });
        }
    }
    None
}

/// `vcs.time` (RFC 3339, which Go writes in UTC) as a pseudo-version's `yyyymmddhhmmss`; the
/// zero time when it is not that, as Go's and Syft's parsers leave it.
fn pseudo_time(time: &str) -> String {
    let digits: String = time
        .split('.')
        .next()
        .unwrap_or_default()
        .trim_end_matches('Z')
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let shaped = time.len() >= 20
        && time.ends_with('Z')
        && time.as_bytes().get(10) == Some(&b'T')
        && digits.len() == 14;
    if shaped {
        digits
    } else {
        "00010101000000".to_owned()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A blob in the inline form holding `modinfo` framed by the linker's sentinels.
    pub(crate) fn blob(go_version: &str, modinfo: &str) -> Vec<u8> {
        let mut blob = MAGIC.to_vec();
        blob.extend([8, FLAG_INLINE]);
        blob.resize(HEADER, 0);
        let mut framed = vec![0x30; SENTINEL];
        framed.extend(modinfo.as_bytes());
        framed.extend([0xf9; SENTINEL]);
        for s in [go_version.as_bytes(), &framed] {
            put_varint(&mut blob, s.len() as u64);
            blob.extend(s);
        }
        blob
    }

    fn file(bytes: Vec<u8>) -> File {
        File {
            path: "usr/bin/app".into(),
            bytes: bytes.into(),
            layer: None,
        }
    }

    fn listed(modinfo: &str) -> Vec<(String, String, String)> {
        packages(&file(blob("go1.22.5 X:boringcrypto", modinfo)), None)
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.version, p.purl.unwrap()))
            .collect()
    }

    #[test]
    fn lists_modules_replacements_and_stdlib() {
        let got = listed(
            "path\tgithub.com/acme/tool/cmd/tool\nmod\tgithub.com/acme/tool\tv1.4.2\th1:abc=\n\
             dep\tgolang.org/x/sys\tv0.20.0\th1:def=\n\
             dep\tgithub.com/old/name\tv1.0.0\n=>\tgithub.com/new/name\tv1.1.0\th1:ghi=\n\
             build\t-ldflags=\"-s -w\"\nbuild\tGOARCH=arm64\n",
        );
        assert_eq!(
            got,
            [
                (
                    "golang.org/x/sys",
                    "v0.20.0",
                    "pkg:golang/golang.org/x/sys@v0.20.0"
                ),
                (
                    "github.com/new/name",
                    "v1.1.0",
                    "pkg:golang/github.com/new/name@v1.1.0"
                ),
                (
                    "github.com/acme/tool",
                    "v1.4.2",
                    "pkg:golang/github.com/acme/tool@v1.4.2"
                ),
                ("stdlib", "go1.22.5", "pkg:golang/stdlib@1.22.5"),
            ]
            .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
        );
    }

    #[test]
    fn versions_a_devel_main_module_from_what_the_build_recorded() {
        let main = |modinfo: &str| {
            listed(modinfo)
                .into_iter()
                .find(|p| p.0 == "example.com/app")
                .unwrap()
                .1
        };
        let base = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n";
        assert_eq!(main(base), "(devel)");
        assert_eq!(
            main(&format!(
                "{base}build\t-ldflags=\"-X main.version=2.1.0\"\n"
            )),
            "v2.1.0"
        );
        assert_eq!(
            main(&format!(
                "{base}build\t-ldflags=\"-X example.com/app/internal/build.Version=v3.0.1-rc1\"\n"
            )),
            "v3.0.1-rc1"
        );
        assert_eq!(
            main(&format!(
                "{base}build\tvcs=git\nbuild\tvcs.revision=53e6d0aaf6fb1234\nbuild\tvcs.time=2022-03-08T21:26:42Z\n"
            )),
            "v0.0.0-20220308212642-53e6d0aaf6fb"
        );
        // `go build main.go`: the only (devel) dependency is the main module.
        let got = listed(
            "path\tcommand-line-arguments\nmod\tcommand-line-arguments\t(devel)\t\n\
             dep\texample.com/app\t(devel)\t\ndep\tgolang.org/x/text\tv0.14.0\th1:x=\n",
        );
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got.iter().any(|p| p.0 == "example.com/app"));
    }

    #[test]
    fn refuses_forged_build_info_saying_why() {
        let good = blob("go1.22.5", "path\ta\nmod\ta\tv1.0.0\t\n");
        let mut too_long = good[..HEADER].to_vec();
        put_varint(&mut too_long, 1 << 40);
        too_long.extend(b"go1");
        let mut endless_varint = good[..HEADER].to_vec();
        endless_varint.extend([0xff; 20]);
        let mut pointers = good.clone();
        pointers[15] = 0;
        for (bytes, why) in [
            (&good[..10], "no Go build info"),
            (&too_long[..], "where 3 remain"),
            (&endless_varint[..], "not a valid varint"),
            (&pointers[..], "pointers"),
            (&blob("go1.22.5", "mod\ta\tv1\tsum\textra\n")[..], "line 1"),
            (
                &blob("go1.22.5", "=>\tb\tv1\t\n")[..],
                "replacement of no module",
            ),
            (&blob("go1.22.5", "nonsense\n")[..], "no tab"),
        ] {
            let err = parse(bytes).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
        assert!(parse(&good).is_ok());
    }

    #[test]
    fn extract_finds_only_real_build_info() {
        assert_eq!(extract(b""), None);
        assert_eq!(extract(b"\x7fELF garbage"), None);
        // An aligned inline header among other bytes is found and copied.
        let inner = blob("go1.21.0", "path\tx\nmod\tx\tv1.0.0\t\n");
        let mut exe = vec![0u8; 64];
        exe.extend(&inner);
        exe.extend([0u8; 100]);
        assert_eq!(extract(&exe), Some(inner.clone()));
        // Misaligned, it is not build info.
        let mut shifted = vec![0u8; 3];
        shifted.extend(&inner);
        assert_eq!(extract(&shifted), None);
    }

    /// A minimal little-endian ELF64 executable, one loadable segment mapping the whole file
    /// at 0x400000, holding build info in the pointer form Go used before 1.18.
    fn elf_with_pointer_build_info(version: &str, modinfo: &[u8]) -> Vec<u8> {
        const BASE: u64 = 0x40_0000;
        let mut strings: Vec<u8> = Vec::new();
        let version_at = 192u64;
        strings.extend(version.as_bytes());
        let modinfo_at = version_at + strings.len() as u64;
        strings.extend(modinfo);
        let len = 192 + strings.len() as u64;
        let mut f = Vec::new();
        // ELF header: class 64, little-endian, version 1; ET_EXEC, x86-64.
        f.extend(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        f.extend(2u16.to_le_bytes());
        f.extend(62u16.to_le_bytes());
        f.extend(1u32.to_le_bytes());
        f.extend(BASE.to_le_bytes()); // entry
        f.extend(64u64.to_le_bytes()); // program headers
        f.extend(0u64.to_le_bytes()); // no section headers
        f.extend(0u32.to_le_bytes());
        for half in [64u16, 56, 1, 64, 0, 0] {
            f.extend(half.to_le_bytes());
        }
        // PT_LOAD, R+W, the whole file.
        f.extend(1u32.to_le_bytes());
        f.extend(6u32.to_le_bytes());
        for word in [0, BASE, BASE, len, len, 0x1000] {
            f.extend(word.to_le_bytes());
        }
        f.resize(128, 0);
        f.extend(MAGIC);
        f.extend([8, 0]);
        f.extend((BASE + 160).to_le_bytes());
        f.extend((BASE + 176).to_le_bytes());
        for (at, n) in [(version_at, version.len()), (modinfo_at, modinfo.len())] {
            f.extend((BASE + at).to_le_bytes());
            f.extend((n as u64).to_le_bytes());
        }
        f.extend(strings);
        f
    }

    #[test]
    fn extract_resolves_the_pointer_form_of_go_before_1_18() {
        let inline = blob("go1.17.13", "path\tx\nmod\tx\tv1.0.0\t\n");
        // The modinfo string as the inline blob holds it, after its varint length.
        let (version, rest) = varint_string(&inline[HEADER..]).unwrap();
        let (modinfo, _) = varint_string(rest).unwrap();
        let exe = elf_with_pointer_build_info("go1.17.13", modinfo);
        assert_eq!(version, b"go1.17.13");
        assert_eq!(extract(&exe), Some(inline));
        // A pointer outside every segment, or a length past it: not build info.
        let mut wild = exe.clone();
        wild[144..152].copy_from_slice(&0xdead_beefu64.to_le_bytes());
        assert_eq!(extract(&wild), None);
        let mut long = exe.clone();
        long[168..176].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert_eq!(extract(&long), None);
    }
}
