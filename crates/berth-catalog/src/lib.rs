//! What is installed in a file system: the distribution and the packages its package
//! managers recorded, read without running anything and without extracting an image.
//!
//! Two views of a file system implement [`Filesystem`]: [`DirFs`], a directory read through
//! berth-rootfs (symlinks resolve inside it, never on the host), and [`ImageFs`], an image's
//! layers merged in memory (whiteouts and opaque directories honoured), each layer streamed
//! once keeping only the files catalogers declared in [`WANTED`]. Catalogers are pure
//! functions of the files they read: the operating system's package databases, [`dpkg`]
//! (Debian and derivatives, including distroless `status.d`), [`apk`] (Alpine) and [`rpm`]
//! (`rpmdb.sqlite`); the language ecosystems' metadata, [`python`] (dist-info, egg-info),
//! [`npm`] (installed `package.json`, lockfiles in directories) and [`java`] (jar, war, ear,
//! nested archives); and the modules compiled into executables, [`golang`] (Go build info)
//! and [`rust_audit`] (cargo-auditable). [`catalog`] runs them all and orders the result, so
//! the same input always gives the same catalogue. [`replaced`] says which packages a later
//! layer upgraded (or downgraded), and from what.
//!
//! Executables are read in two steps, so that a layer's bytes need not be kept: an `extract`
//! function keeps what a reader needs of a whole file (or nothing, for other files), and
//! `packages` reads that.

pub mod apk;
pub mod copyright;
pub mod cpe;
mod dir;
pub mod dpkg;
mod error;
mod fs;
pub mod golang;
mod image;
pub mod java;
mod layer_cache;
mod model;
pub mod npm;
pub mod os_release;
mod paths;
mod purl;
pub mod python;
mod relations;
mod replaced;
pub mod rpm;
pub mod rust_audit;

pub use dir::DirFs;
pub use error::{CatalogError, ParseError, Result};
pub use fs::{ELF_MAGIC, Extract, File, Filesystem, MAX_EXECUTABLE, MAX_FILE, Version, Wanted};
pub use image::{ImageFs, Layer, OpenLayer};
pub use layer_cache::LayerCache;
pub use model::{Catalog, Dependency, Distro, LayerRef, Package, PackageType, SourcePackage};
pub use relations::Needs;
pub use replaced::{Replaced, replaced};

use std::collections::{HashMap, HashSet};

/// Everything a cataloger reads: what [`ImageFs::read`] must keep for [`catalog`].
pub const WANTED: [Wanted; 18] = [
    os_release::WANTED[0],
    os_release::WANTED[1],
    dpkg::WANTED[0],
    dpkg::WANTED[1],
    copyright::WANTED,
    apk::WANTED[0],
    python::WANTED[0],
    npm::WANTED[0],
    npm::WANTED[1],
    java::WANTED[0],
    rpm::WANTED[0],
    rpm::WANTED[1],
    rpm::WANTED[2],
    rpm::WANTED[3],
    rpm::WANTED[4],
    rpm::WANTED[5],
    GO,
    RUST,
];

/// A database format: where its files are, and the packages one file lists.
type Reader = fn(&File, Option<&Distro>) -> Result<Vec<Package>>;
type Finder = fn(&dyn Filesystem) -> Result<Vec<File>>;
/// What a database says each package provides and requires, where berth reads it.
type Needer = Option<fn(&File) -> Result<relations::Database>>;
const DATABASES: [(Finder, Reader, Needer); 3] = [
    (dpkg::databases, dpkg::packages, Some(dpkg::needs)),
    (apk::databases, apk::packages, Some(apk::needs)),
    (rpm::databases, rpm::packages, None),
];

/// The language ecosystems' metadata. Unlike a package database, one file describes one
/// package (or one archive's): a file that cannot be read is left out with a warning, as
/// Syft does, rather than failing the catalogue.
const LANGUAGES: [(Finder, Reader, Needer); 6] = [
    (|fs| fs.found(&python::WANTED[0]), python::packages, None),
    (npm::manifests, npm::installed, None),
    (npm::lockfiles, npm::locked, Some(npm::needs)),
    (|fs| fs.found(&java::WANTED[0]), java::packages, None),
    (|fs| fs.found(&GO), golang::packages, Some(golang::needs)),
    (
        |fs| fs.found(&RUST),
        rust_audit::packages,
        Some(rust_audit::needs),
    ),
];

/// Executables with Go build info, kept as the build info alone.
const GO: Wanted = Wanted::Executables(golang::extract);
/// Executables built with cargo-auditable, kept as their `.dep-v0` section alone.
const RUST: Wanted = Wanted::Executables(rust_audit::extract);

/// Catalogues `fs`: its distribution and every package its databases list, in a fixed order
/// (type, name, version, architecture, evidence).
pub fn catalog(fs: &dyn Filesystem) -> Result<Catalog> {
    let distro = os_release::find(fs)?;
    let mut packages = Vec::new();
    let mut warnings = Vec::new();
    let mut databases = Vec::new();
    for (find, read, needs) in DATABASES {
        for file in find(fs)? {
            let mut found = read(&file, distro.as_ref())?;
            attribute(fs, &file, distro.as_ref(), read, &mut found);
            packages.extend(found);
            if let Some(needs) = needs {
                databases.push(needs(&file)?);
            }
        }
    }
    deb_licences(fs, &mut packages, &mut warnings)?;
    for (find, read, needs) in LANGUAGES {
        for file in find(fs)? {
            match read(&file, distro.as_ref()) {
                Ok(mut found) => {
                    attribute(fs, &file, distro.as_ref(), read, &mut found);
                    packages.extend(found);
                    // It reads the file `read` just read: it cannot fail where that did not.
                    databases.extend(needs.and_then(|needs| needs(&file).ok()));
                }
                Err(e) => warnings.push(format!("{e}; left out")),
            }
        }
    }
    warnings.extend(fs.skipped());
    packages.sort_by(|a, b| {
        (a.package_type, &a.name, &a.version, &a.arch, &a.evidence).cmp(&(
            b.package_type,
            &b.name,
            &b.version,
            &b.arch,
            &b.evidence,
        ))
    });
    let dependencies = relations::resolve(&packages, &databases);
    Ok(Catalog {
        distro,
        packages,
        dependencies,
        warnings,
    })
}

/// Sets each Debian package's licences to those its copyright file names: one the views
/// found while reading, else (a doc directory that is a symlink, `usr/share/doc/libgcc-s1 ->
/// gcc-12-base`) the file read through the symlink. One that cannot be read (too large, a
/// symlink loop) leaves the package's licences out, with a warning, as for a language
/// package's metadata.
fn deb_licences(
    fs: &dyn Filesystem,
    packages: &mut [Package],
    warnings: &mut Vec<String>,
) -> Result<()> {
    let found: HashMap<String, File> = fs
        .found(&copyright::WANTED)?
        .into_iter()
        .map(|file| (file.path.clone(), file))
        .collect();
    for package in packages
        .iter_mut()
        .filter(|p| p.package_type == PackageType::Deb)
    {
        let path = copyright::path_of(&package.name);
        let read = match found.get(&path) {
            Some(file) => Ok(Some(file.clone())),
            None => fs.read(&path),
        };
        match read {
            Ok(Some(file)) => package.licenses = copyright::licences(&file.bytes),
            Ok(None) => {}
            // The views left it out while reading and say so among their skipped files.
            Err(CatalogError::TooLarge { .. }) => {}
            Err(e) => warnings.push(format!("{e}; the licences of {} left out", package.name)),
        }
    }
    Ok(())
}

/// Sets each package's layer to the one that added it: going back from the database's final
/// version, the earliest layer from which every version lists the package (same name,
/// version and architecture). A deleted or unreadable earlier version ends the walk.
fn attribute(
    fs: &dyn Filesystem,
    file: &File,
    distro: Option<&Distro>,
    read: Reader,
    packages: &mut [Package],
) {
    let versions = fs.versions(file);
    // The final version is `file` itself; the walk starts below it.
    let Some((_, earlier)) = versions.split_last() else {
        return;
    };
    let key = |p: &Package| (p.name.clone(), p.version.clone(), p.arch.clone());
    let mut pending: Vec<usize> = (0..packages.len()).collect();
    for version in earlier.iter().rev() {
        if pending.is_empty() {
            break;
        }
        let Some(bytes) = &version.bytes else { break };
        let old = File {
            path: file.path.clone(),
            bytes: bytes.clone(),
            layer: Some(version.layer.clone()),
        };
        let Ok(listed) = read(&old, distro) else {
            break;
        };
        let listed: HashSet<_> = listed.iter().map(key).collect();
        pending.retain(|&i| {
            let there = listed.contains(&key(&packages[i]));
            if there {
                packages[i].layer = Some(version.layer.clone());
            }
            there
        });
    }
}
