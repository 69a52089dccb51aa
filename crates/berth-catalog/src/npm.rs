//! Node packages: the `package.json` of each package installed under `node_modules` (in
//! images and directories), and, in directories only (a project not yet installed), the
//! lockfiles npm, Yarn and pnpm write: `package-lock.json` (lockfile versions 1 to 3),
//! `yarn.lock` (Yarn 1, and Yarn 2+ whose lockfile is YAML of the same shape) and
//! `pnpm-lock.yaml` (lockfile versions 5 to 9), as Syft reads them.

use serde_json::Value;

use crate::error::{CatalogError, Result, clip};
use crate::fs::{File, Filesystem, Wanted};
use crate::model::{Distro, Package, PackageType};
use crate::paths::split;
use crate::purl::purl;
use crate::relations::{Database, Needs};

pub const WANTED: [Wanted; 2] = [
    Wanted::Matching(is_installed_manifest),
    Wanted::Matching(is_lockfile),
];

/// Whether `path` is the manifest of an installed package: `…/node_modules/NAME/package.json`
/// or `…/node_modules/@SCOPE/NAME/package.json` (not a project's own manifest, nor the test
/// fixtures some packages ship deeper inside them).
pub fn is_installed_manifest(path: &str) -> bool {
    let (dir, name) = split(path);
    if name != "package.json" {
        return false;
    }
    let (parent, _package) = split(dir);
    let (grandparent, scope) = split(parent);
    split(parent).1 == "node_modules"
        || (scope.starts_with('@') && split(grandparent).1 == "node_modules")
}

/// Whether `path` is a lockfile this module reads.
pub fn is_lockfile(path: &str) -> bool {
    matches!(
        split(path).1,
        "package-lock.json" | "yarn.lock" | "pnpm-lock.yaml"
    )
}

/// The installed packages' manifests.
pub fn manifests(fs: &dyn Filesystem) -> Result<Vec<File>> {
    fs.found(&WANTED[0])
}

/// The lockfiles, in a directory; none in an image, where what is installed is what counts.
pub fn lockfiles(fs: &dyn Filesystem) -> Result<Vec<File>> {
    if !fs.is_directory() {
        return Ok(Vec::new());
    }
    fs.found(&WANTED[1])
}

/// The package an installed `package.json` describes; none without a name (a manifest
/// for tooling, not a package).
pub fn installed(file: &File, _: Option<&Distro>) -> Result<Vec<Package>> {
    let manifest: Value = serde_json::from_slice(&file.bytes)
        .map_err(|e| file.parse_error(e.line(), format!("not JSON: {e}")))?;
    let name = text(&manifest["name"]);
    if name.is_empty() {
        return Ok(Vec::new());
    }
    let version = text(&manifest["version"]);
    if version.is_empty() {
        return Err(file.parse_error(0, format!("package {} has no version", clip(name))));
    }
    Ok(vec![package(file, name, version, licenses(&manifest))?])
}

/// The packages a lockfile lists.
pub fn locked(file: &File, _: Option<&Distro>) -> Result<Vec<Package>> {
    match split(&file.path).1 {
        "yarn.lock" => yarn(file),
        "pnpm-lock.yaml" => pnpm(file),
        _ => package_lock(file),
    }
}

/// `package-lock.json`. Versions 2 and 3: `packages` maps each install path (`""` for the
/// project, `node_modules/a/node_modules/b`) to its entry, named by its `name` or the path
/// after the last `node_modules/` (the project only when it has a `name`). Version 1 (npm 6):
/// the top-level `dependencies`, by name. Development dependencies are left out, links
/// (`"link": true`) are their target's entry, and entries without a version (links to
/// nowhere) are nothing installed.
fn package_lock(file: &File) -> Result<Vec<Package>> {
    let lock: Value = serde_json::from_slice(&file.bytes)
        .map_err(|e| file.parse_error(e.line(), format!("not JSON: {e}")))?;
    let entries: Vec<(&str, &Value)> = match lock["lockfileVersion"].as_u64() {
        Some(1) => object(&lock["dependencies"])
            .map(|(name, entry)| (name.as_str(), entry))
            .collect(),
        Some(2 | 3) => installed_at(&lock)
            .map(|(_, name, entry)| (name, entry))
            .collect(),
        _ => {
            return Err(file.parse_error(
                0,
                format!(
                    "lockfileVersion {} is none berth reads (1, 2 and 3)",
                    lock["lockfileVersion"]
                ),
            ));
        }
    };
    let mut found = Vec::new();
    for (name, entry) in entries {
        let skipped = entry["dev"].as_bool() == Some(true) || entry["link"].as_bool() == Some(true);
        let version = text(&entry["version"]);
        if skipped || name.is_empty() || version.is_empty() {
            continue;
        }
        found.push(package(file, name, version, licenses(entry))?);
    }
    Ok(found)
}

/// The entries of a version 2 or 3 `package-lock.json`: install path, name, entry.
fn installed_at(lock: &Value) -> impl Iterator<Item = (&str, &str, &Value)> {
    object(&lock["packages"]).filter_map(|(path, entry)| match text(&entry["name"]) {
        "" if path.is_empty() => None,
        "" => Some((
            path.as_str(),
            path.rsplit("node_modules/").next().unwrap_or(path),
            entry,
        )),
        name => Some((path.as_str(), name, entry)),
    })
}

/// What each package of a version 2 or 3 `package-lock.json` needs: the entries its
/// `dependencies` resolve to as Node resolves them (the nearest `node_modules/NAME` going up
/// from where it is installed; a link is the entry it points to). Each package provides its
/// install path. Other lockfiles say nothing berth reads.
pub(crate) fn needs(file: &File) -> Result<Database> {
    let mut database = Database::new(PackageType::Npm, file, true, Vec::new());
    if split(&file.path).1 != "package-lock.json" {
        return Ok(database);
    }
    let lock: Value = serde_json::from_slice(&file.bytes)
        .map_err(|e| file.parse_error(e.line(), format!("not JSON: {e}")))?;
    let entries = lock["packages"].as_object();
    let target = |path: &str| -> Option<String> {
        let entry = entries?.get(path)?;
        Some(match entry["link"].as_bool() {
            Some(true) => text(&entry["resolved"]).to_owned(),
            _ => path.to_owned(),
        })
    };
    for (path, name, entry) in installed_at(&lock) {
        let requires = object(&entry["dependencies"])
            .filter_map(|(needed, _)| {
                let mut from = path;
                loop {
                    let candidate = match from {
                        "" => format!("node_modules/{needed}"),
                        from => format!("{from}/node_modules/{needed}"),
                    };
                    if let Some(found) = target(&candidate) {
                        return Some(found);
                    }
                    if from.is_empty() {
                        return None;
                    }
                    from = from.rfind("/node_modules/").map_or("", |i| &from[..i]);
                }
            })
            .collect();
        database.needs.push(Needs {
            name: name.to_owned(),
            version: text(&entry["version"]).to_owned(),
            arch: String::new(),
            provides: vec![path.to_owned()],
            requires,
        });
    }
    Ok(database)
}

/// The members of a JSON object; none when it is not one.
fn object(value: &Value) -> impl Iterator<Item = (&String, &Value)> {
    value.as_object().into_iter().flatten()
}

/// `yarn.lock`: blocks headed by the specs they resolve (`lodash@^4.17.20, lodash@^4.17.21:`,
/// quoted when scoped), each with an indented `version "4.17.21"` (Yarn 1) or `version:
/// 4.17.21` (Yarn 2+, whose specs name their protocol: `"ms@npm:2.1.3, ms@npm:^2.1.2":`,
/// `"web@workspace:."`). A package is named by its first spec, as Syft names it (an alias
/// `"alias@npm:real@1"` by the alias); Yarn 2+'s `__metadata` block names none.
fn yarn(file: &File) -> Result<Vec<Package>> {
    let text = String::from_utf8_lossy(&file.bytes);
    let mut found = Vec::new();
    let mut name: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') {
            let Some(specs) = line.strip_suffix(':') else {
                return Err(file.parse_error(
                    i + 1,
                    format!("{:?} is neither a block header nor a field", clip(line)),
                ));
            };
            let first = specs
                .split(", ")
                .next()
                .unwrap_or_default()
                .trim_matches('"');
            // The name ends at the `@` before the range; a scope's `@` starts it.
            name = first
                .get(1..)
                .and_then(|rest| rest.find('@'))
                .map(|at| first[..=at].to_owned());
            continue;
        }
        let field = line.trim_start();
        let Some(version) = field
            .strip_prefix("version ")
            .or_else(|| field.strip_prefix("version:"))
        else {
            continue;
        };
        if let Some(name) = name.take() {
            found.push(package(
                file,
                &name,
                version.trim().trim_matches('"'),
                Vec::new(),
            )?);
        }
    }
    Ok(found)
}

/// `pnpm-lock.yaml`: each key of `packages` is one package at one version, `name@version`
/// (lockfile 9), `/name@version` (6) or `/name/version` (5), with the peers it was resolved
/// with after the version (`(react@18.2.0)` from 6 on, `_react@18.2.0` in 5), dropped here.
/// Development dependencies are included, as Syft includes them (lockfile 9 no longer marks
/// them).
fn pnpm(file: &File) -> Result<Vec<Package>> {
    let doc: serde_yaml::Value = serde_yaml::from_slice(&file.bytes).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        file.parse_error(line, format!("not YAML: {e}"))
    })?;
    let lockfile = match &doc["lockfileVersion"] {
        serde_yaml::Value::String(v) => v.parse::<f64>().ok(),
        v => v.as_f64(),
    };
    let Some(lockfile) = lockfile else {
        return Err(file.parse_error(0, "no lockfileVersion: not a pnpm lockfile".into()));
    };
    let packages = match &doc["packages"] {
        serde_yaml::Value::Null => return Ok(Vec::new()),
        serde_yaml::Value::Mapping(packages) => packages,
        _ => return Err(file.parse_error(0, "`packages` is not a mapping".into())),
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut found = Vec::new();
    for key in packages.keys() {
        let key = key.as_str().unwrap_or_default();
        let Some((name, version)) = pnpm_key(key, lockfile < 6.0) else {
            return Err(file.parse_error(
                0,
                format!("package {:?} names no name and version", clip(key)),
            ));
        };
        if seen.insert((name, version)) {
            found.push(package(file, name, version, Vec::new())?);
        }
    }
    Ok(found)
}

/// The name and version a key of a pnpm lockfile's `packages` names, its peers dropped;
/// `slashed` for lockfile 5's `/name/version`.
fn pnpm_key(key: &str, slashed: bool) -> Option<(&str, &str)> {
    let key = key.strip_prefix('/').unwrap_or(key);
    let (name, version) = if slashed {
        // The version follows the name's last slash: its second for a scoped name.
        let slashes = if key.starts_with('@') { 2 } else { 1 };
        let cut = key.match_indices('/').nth(slashes - 1)?.0;
        (&key[..cut], key[cut + 1..].split('_').next()?)
    } else {
        let key = key.split('(').next()?;
        let at = key.get(1..)?.find('@')? + 1;
        (&key[..at], &key[at + 1..])
    };
    (!name.is_empty() && !version.is_empty()).then_some((name, version))
}

/// A string field, or `""`.
fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default().trim()
}

/// `license` (an SPDX expression, or the old `{"type": …}`), else the old `licenses` list.
fn licenses(manifest: &Value) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Object(o) => o.get("type").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    let mut found: Vec<String> = match &manifest["license"] {
        // Lockfiles write a list where a package declared several.
        Value::Array(list) => list.iter().filter_map(one).collect(),
        license => one(license).into_iter().collect(),
    };
    if found.is_empty()
        && let Some(list) = manifest["licenses"].as_array()
    {
        found = list.iter().filter_map(one).collect();
    }
    found.retain(|l| !l.is_empty());
    found
}

fn package(file: &File, name: &str, version: &str, licenses: Vec<String>) -> Result<Package> {
    let (scope, bare) = match name.split_once('/') {
        Some((scope, bare)) if scope.starts_with('@') => (scope, bare),
        _ => ("", name),
    };
    let purl =
        purl(PackageType::Npm, scope, bare, version, &[]).map_err(|why| CatalogError::Parse {
            path: file.path.clone(),
            line: 0,
            layer: file.layer.clone(),
            why,
        })?;
    Ok(Package {
        name: name.to_owned(),
        version: version.to_owned(),
        package_type: PackageType::Npm,
        arch: String::new(),
        purl: Some(purl),
        source: None,
        licenses,
        evidence: vec![file.path.clone()],
        layer: file.layer.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pnpm_lockfile_alias_bomb_is_refused_fast() {
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        let mut bomb =
            String::from("lockfileVersion: '9.0'\na: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for pair in names.windows(2) {
            let (prev, name) = (pair[0], pair[1]);
            let refs = vec![format!("*{prev}"); 10].join(", ");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        bomb.push_str("packages:\n  ms@2.1.3: {bomb: *i}\n");
        let file = File {
            path: "app/pnpm-lock.yaml".into(),
            bytes: bomb.into_bytes().into(),
            layer: None,
        };
        let start = std::time::Instant::now();
        let err = locked(&file, None).unwrap_err().to_string();
        assert!(start.elapsed().as_secs() < 5, "{:?}", start.elapsed());
        assert!(
            err.contains("app/pnpm-lock.yaml")
                && err.contains("not YAML: repetition limit exceeded"),
            "{err}"
        );
    }

    #[test]
    fn pnpm_keys_of_each_lockfile_version() {
        for (key, slashed, want) in [
            ("ms@2.1.3", false, Some(("ms", "2.1.3"))),
            (
                "@babel/code-frame@7.12.13",
                false,
                Some(("@babel/code-frame", "7.12.13")),
            ),
            (
                "/react-dom@18.2.0(react@18.2.0)",
                false,
                Some(("react-dom", "18.2.0")),
            ),
            (
                "/@types/node@20.1.0",
                false,
                Some(("@types/node", "20.1.0")),
            ),
            (
                "/react-dom/18.2.0_react@18.2.0",
                true,
                Some(("react-dom", "18.2.0")),
            ),
            ("/@types/node/20.1.0", true, Some(("@types/node", "20.1.0"))),
            (
                "/@scope/x/1.0.0_@types+node@20.1.0",
                true,
                Some(("@scope/x", "1.0.0")),
            ),
            ("no-version", false, None),
            ("@scope-only@", false, None),
            ("/nothing", true, None),
            ("é@1", false, None),
            ("", false, None),
        ] {
            assert_eq!(pnpm_key(key, slashed), want, "{key}");
        }
    }

    #[test]
    fn installed_manifests_are_those_of_packages_under_node_modules() {
        assert!(is_installed_manifest(
            "app/node_modules/lodash/package.json"
        ));
        assert!(is_installed_manifest(
            "app/node_modules/@babel/core/package.json"
        ));
        assert!(is_installed_manifest(
            "node_modules/debug/node_modules/ms/package.json"
        ));
        assert!(!is_installed_manifest("app/package.json"));
        assert!(!is_installed_manifest(
            "node_modules/resolve/test/fixtures/package.json"
        ));
    }
}
