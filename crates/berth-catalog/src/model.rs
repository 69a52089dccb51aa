//! What a catalogue holds: the distribution, and the packages with where they came from.

use std::fmt;

use berth_oci::Digest;

/// One layer of an image: its position (0 is the base) and its diff ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LayerRef {
    pub index: usize,
    pub diff_id: Digest,
}

impl fmt::Display for LayerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "layer {} ({})", self.index, self.diff_id)
    }
}

/// The operating system, as `os-release` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Distro {
    /// `ID`: `debian`, `ubuntu`, `alpine`…
    pub id: String,
    /// `VERSION_ID`: `12`, `3.20.3`; absent on rolling releases (Debian sid).
    pub version_id: Option<String>,
    /// `VERSION_CODENAME`: `bookworm`.
    pub version_codename: Option<String>,
    /// `ID_LIKE`: the distributions this one derives from (`debian` for Ubuntu).
    pub id_like: Vec<String>,
    /// `PRETTY_NAME`, for people.
    pub pretty_name: Option<String>,
}

impl Distro {
    /// Whether this is `family` or derives from it.
    pub fn is_like(&self, family: &str) -> bool {
        self.id == family || self.id_like.iter().any(|id| id == family)
    }

    /// The purl `distro` qualifier: `ID-VERSION_ID` (`debian-12`), or `ID` alone when there
    /// is no version, as Syft writes it.
    pub fn purl_qualifier(&self) -> String {
        match &self.version_id {
            Some(version) => format!("{}-{version}", self.id),
            None => self.id.clone(),
        }
    }
}

/// The package managers berth catalogues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PackageType {
    /// Debian and its derivatives: the dpkg database.
    Deb,
    /// Alpine and its derivatives: the apk database.
    Apk,
}

impl PackageType {
    /// The name Syft and the purl specification use for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            PackageType::Deb => "deb",
            PackageType::Apk => "apk",
        }
    }
}

impl fmt::Display for PackageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The source package a binary package was built from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourcePackage {
    pub name: String,
    pub version: String,
}

/// An installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub package_type: PackageType,
    /// `amd64`, `x86_64`, `all`… as the database says; empty when it says nothing.
    pub arch: String,
    /// The package URL; `None` when the distribution is unknown (no `os-release`), since the
    /// purl's namespace is the distribution.
    pub purl: Option<String>,
    /// The source package, as the database says or as its format defines when it is silent
    /// (a dpkg entry without `Source` is its own source, at its own version).
    pub source: Option<SourcePackage>,
    /// Licences as the package metadata declares them (apk's `L:`); empty when it declares
    /// none. dpkg declares none in its database (they live in `/usr/share/doc/*/copyright`,
    /// not read yet).
    pub licenses: Vec<String>,
    /// The files that evidence the package: the database it is listed in.
    pub evidence: Vec<String>,
    /// The layer that added it (the earliest layer from which it is listed continuously up to
    /// the image's final state); `None` for a directory.
    pub layer: Option<LayerRef>,
}

/// Everything found in one file system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub distro: Option<Distro>,
    /// In a fixed order: by type, name, version, architecture, then evidence.
    pub packages: Vec<Package>,
}
