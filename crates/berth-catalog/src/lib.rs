//! What is installed in a file system: the distribution and the packages its package
//! managers recorded, read without running anything and without extracting an image.
//!
//! Two views of a file system implement [`Filesystem`]: [`DirFs`], a directory read through
//! berth-rootfs (symlinks resolve inside it, never on the host), and [`ImageFs`], an image's
//! layers merged in memory (whiteouts and opaque directories honoured), each layer streamed
//! once keeping only the files catalogers declared in [`WANTED`]. Catalogers are pure
//! functions of the files they read: [`dpkg`] (Debian and derivatives, including distroless
//! `status.d`) and [`apk`] (Alpine). [`catalog`] runs them all and orders the result, so the
//! same input always gives the same catalogue.

pub mod apk;
mod dir;
pub mod dpkg;
mod error;
mod fs;
mod image;
mod model;
pub mod os_release;
mod paths;
mod purl;

pub use dir::DirFs;
pub use error::{CatalogError, ParseError, Result};
pub use fs::{File, Filesystem, MAX_FILE, Version, Wanted};
pub use image::{ImageFs, Layer, OpenLayer};
pub use model::{Catalog, Distro, LayerRef, Package, PackageType, SourcePackage};

use std::collections::HashSet;

/// Every path a cataloger reads: what [`ImageFs::read`] must keep for [`catalog`].
pub const WANTED: [Wanted; 5] = [
    os_release::WANTED[0],
    os_release::WANTED[1],
    dpkg::WANTED[0],
    dpkg::WANTED[1],
    apk::WANTED[0],
];

/// A database format: where its files are, and the packages one file lists.
type Reader = fn(&File, Option<&Distro>) -> Result<Vec<Package>>;
type Finder = fn(&dyn Filesystem) -> Result<Vec<File>>;
const DATABASES: [(Finder, Reader); 2] = [
    (dpkg::databases, dpkg::packages),
    (apk::databases, apk::packages),
];

/// Catalogues `fs`: its distribution and every package its databases list, in a fixed order
/// (type, name, version, architecture, evidence).
pub fn catalog(fs: &dyn Filesystem) -> Result<Catalog> {
    let distro = os_release::find(fs)?;
    let mut packages = Vec::new();
    for (find, read) in DATABASES {
        for file in find(fs)? {
            let mut found = read(&file, distro.as_ref())?;
            attribute(fs, &file, distro.as_ref(), read, &mut found);
            packages.extend(found);
        }
    }
    packages.sort_by(|a, b| {
        (a.package_type, &a.name, &a.version, &a.arch, &a.evidence).cmp(&(
            b.package_type,
            &b.name,
            &b.version,
            &b.arch,
            &b.evidence,
        ))
    });
    Ok(Catalog { distro, packages })
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
