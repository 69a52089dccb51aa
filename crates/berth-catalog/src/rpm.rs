//! RPM's package database: `rpmdb.sqlite` (rpm ≥ 4.16: Fedora ≥ 33, RHEL/UBI ≥ 9, Amazon
//! Linux 2023, openSUSE), an SQLite file whose `Packages` table holds one RPM header a row.
//!
//! The database's bytes are opened in memory, read-only (never written to disk: the scanned
//! root is not touched and no temporary copy exists). Each header is decoded by
//! [`header::parse`], berth's own bounded reader of the RPM header format. The older backends
//! (BerkeleyDB `Packages`, SUSE's NDB `Packages.db`) are refused by name: they are listed in
//! [`WANTED`] so that an image holding one fails loudly instead of looking empty.

pub mod header;

use rusqlite::{Connection, OpenFlags, config::DbConfig};

use crate::error::{Result, format_error};
use crate::fs::{File, Filesystem, Wanted};
use crate::model::{Distro, Package, PackageType, SourcePackage};
use crate::purl::purl;

/// Where rpm keeps its database: the classic place, and where Fedora ≥ 36 and openSUSE moved
/// it (`var/lib/rpm` is then a symlink to it, read once).
pub const SQLITE: [&str; 2] = [
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
];
/// The backends berth does not read, by where they live.
const BERKELEY_DB: [&str; 2] = ["var/lib/rpm/Packages", "usr/lib/sysimage/rpm/Packages"];
const NDB: [&str; 2] = [
    "var/lib/rpm/Packages.db",
    "usr/lib/sysimage/rpm/Packages.db",
];

pub const WANTED: [Wanted; 6] = [
    Wanted::File(SQLITE[0]),
    Wanted::File(SQLITE[1]),
    Wanted::File(BERKELEY_DB[0]),
    Wanted::File(BERKELEY_DB[1]),
    Wanted::File(NDB[0]),
    Wanted::File(NDB[1]),
];

/// The rpm databases of `fs`, each once (the two places are often one file through a
/// symlink). An older backend's file beside an `rpmdb.sqlite` is what a conversion left
/// behind; rpm reads the SQLite one, and so does berth.
pub fn databases(fs: &dyn Filesystem) -> Result<Vec<File>> {
    let mut files: Vec<File> = Vec::new();
    for wanted in WANTED {
        let Wanted::File(path) = wanted else {
            continue;
        };
        if let Some(file) = fs.read(path)?
            && !files.iter().any(|f| f.path == file.path)
        {
            files.push(file);
        }
    }
    let dir = |f: &File| crate::paths::split(&f.path).0.to_owned();
    let sqlite_dirs: Vec<String> = files
        .iter()
        .filter(|f| f.path.ends_with("/rpmdb.sqlite"))
        .map(dir)
        .collect();
    files.retain(|f| f.path.ends_with("/rpmdb.sqlite") || !sqlite_dirs.contains(&dir(f)));
    Ok(files)
}

/// The packages the rpm database `file` lists.
pub fn packages(file: &File, distro: Option<&Distro>) -> Result<Vec<Package>> {
    let (_, name) = crate::paths::split(&file.path);
    let backend = match name {
        "Packages" => Some("a BerkeleyDB"),
        "Packages.db" => Some("an NDB"),
        _ => None,
    };
    if let Some(backend) = backend {
        return Err(format_error(
            file,
            format!(
                "{backend} rpm database; berth reads only rpmdb.sqlite (rpm ≥ 4.16). \
                 Convert it inside the image with `rpmdb --rebuilddb --define '_db_backend sqlite'`"
            ),
        ));
    }
    let blobs = read_blobs(&file.bytes).map_err(|why| format_error(file, why))?;
    let mut packages = Vec::with_capacity(blobs.len());
    for (hnum, blob) in blobs {
        let header = header::parse(&blob)
            .map_err(|why| format_error(file, format!("package header {hnum}: {why}")))?;
        packages.push(
            package(file, distro, header)
                .map_err(|why| format_error(file, format!("package header {hnum}: {why}")))?,
        );
    }
    Ok(packages)
}

/// One package from its header, named as Syft names it: the version is
/// `[EPOCH:]VERSION-RELEASE`; the purl's version leaves the epoch out (it is a qualifier).
fn package(file: &File, distro: Option<&Distro>, h: header::Header) -> Result<Package, String> {
    let upstream_version = format!("{}-{}", h.version, h.release);
    let version = match h.epoch {
        Some(epoch) => format!("{epoch}:{upstream_version}"),
        None => upstream_version.clone(),
    };
    let purl = distro
        .map(|d| {
            // Syft's namespace for Red Hat Enterprise Linux is the vendor's name.
            let namespace = if d.id == "rhel" { "redhat" } else { &d.id };
            let epoch = h.epoch.map(|e| e.to_string()).unwrap_or_default();
            purl(
                PackageType::Rpm,
                namespace,
                &h.name,
                &upstream_version,
                &[
                    ("arch", &h.arch),
                    ("distro", &d.purl_qualifier()),
                    ("epoch", &epoch),
                    ("upstream", &h.source_rpm),
                ],
            )
        })
        .transpose()?;
    Ok(Package {
        source: source_package(&h.source_rpm),
        name: h.name,
        version,
        package_type: PackageType::Rpm,
        arch: h.arch,
        purl,
        licenses: h.license.into_iter().collect(),
        evidence: vec![format!("/{}", file.path)],
        layer: file.layer.clone(),
    })
}

/// The source package of a `SOURCERPM` file name, `NAME-VERSION-RELEASE.src.rpm` (the name
/// may hold dashes; version and release do not).
fn source_package(source_rpm: &str) -> Option<SourcePackage> {
    let nvr = source_rpm
        .strip_suffix(".src.rpm")
        .or_else(|| source_rpm.strip_suffix(".nosrc.rpm"))?;
    let (name_version, release) = nvr.rsplit_once('-')?;
    let (name, version) = name_version.rsplit_once('-')?;
    (!name.is_empty()).then(|| SourcePackage {
        name: name.to_owned(),
        version: format!("{version}-{release}"),
    })
}

/// The header blobs of the `Packages` table, by row number, from the database's bytes.
fn read_blobs(bytes: &[u8]) -> Result<Vec<(i64, Vec<u8>)>, String> {
    const MAGIC: &[u8] = b"SQLite format 3\0";
    if bytes.len() < 100 || !bytes.starts_with(MAGIC) {
        return Err("not an SQLite database (no SQLite header)".into());
    }
    // rpm keeps the database in WAL mode (header bytes 18 and 19 are 2), which an in-memory
    // database cannot be opened in; a copy marked as a rollback-journal database reads the
    // same pages. The copy is read only, so the mode never matters otherwise.
    let mut copy = bytes.to_vec();
    copy[18] = 1;
    copy[19] = 1;
    let sqlite = |e: rusqlite::Error| format!("the SQLite database cannot be read: {e}");
    let mut db = Connection::open_in_memory_with_flags(
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite)?;
    // The file is untrusted: its schema may not run functions or change the connection.
    db.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .map_err(sqlite)?;
    db.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)
        .map_err(sqlite)?;
    db.deserialize_read_exact("main", copy.as_slice(), copy.len(), true)
        .map_err(sqlite)?;
    // A view named Packages would run the file's own SQL: only a table is read.
    let kind: Option<String> = db
        .query_row(
            "SELECT type FROM sqlite_master WHERE name = 'Packages'",
            [],
            |row| row.get(0),
        )
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })
        .map_err(sqlite)?;
    if kind.as_deref() != Some("table") {
        return Err("no Packages table: not an rpm database".into());
    }
    let mut statement = db
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(sqlite)?;
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(sqlite)?;
    rows.collect::<Result<_, _>>().map_err(sqlite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_package_from_its_file_name() {
        let s = source_package("util-linux-core-2.40.2-4.fc41.src.rpm").unwrap();
        assert_eq!(s.name, "util-linux-core");
        assert_eq!(s.version, "2.40.2-4.fc41");
        assert_eq!(source_package("(none)"), None);
        assert_eq!(source_package("x-1.src.rpm"), None);
    }

    #[test]
    fn refuses_what_is_not_an_rpm_database() {
        assert!(read_blobs(b"").unwrap_err().contains("not an SQLite"));
        let mut junk = b"SQLite format 3\0".to_vec();
        junk.resize(4096, 0xa5);
        assert!(read_blobs(&junk).unwrap_err().contains("cannot be read"));
    }
}
