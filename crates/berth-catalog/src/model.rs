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
    /// Fedora, RHEL and their kin, openSUSE: the rpm database.
    Rpm,
    /// Python distributions: `*.dist-info/METADATA`, `*.egg-info`.
    Python,
    /// Node packages: `package.json` under `node_modules`, and lockfiles in directories.
    Npm,
    /// Java archives (jar, war, ear), and the Maven artifacts bundled in them.
    JavaArchive,
    /// A Go module compiled into an executable (its build info), and the Go standard library.
    GoModule,
    /// A Rust crate compiled into an executable built with cargo-auditable.
    RustCrate,
}

impl PackageType {
    /// The name Syft uses for the type (for OS packages, also the purl's type).
    pub fn as_str(self) -> &'static str {
        match self {
            PackageType::Deb => "deb",
            PackageType::Apk => "apk",
            PackageType::Python => "python",
            PackageType::Npm => "npm",
            PackageType::JavaArchive => "java-archive",
            PackageType::Rpm => "rpm",
            PackageType::GoModule => "go-module",
            PackageType::RustCrate => "rust-crate",
        }
    }

    /// The purl type: the package manager's name in the purl specification.
    pub fn purl_type(self) -> &'static str {
        match self {
            PackageType::Deb => "deb",
            PackageType::Apk => "apk",
            PackageType::Rpm => "rpm",
            PackageType::Python => "pypi",
            PackageType::Npm => "npm",
            PackageType::JavaArchive => "maven",
            PackageType::GoModule => "golang",
            PackageType::RustCrate => "cargo",
        }
    }

    /// The programming language of a library package, as Syft names it; `None` for the
    /// operating system's packages.
    pub fn language(self) -> Option<&'static str> {
        match self {
            PackageType::Deb | PackageType::Apk | PackageType::Rpm => None,
            PackageType::Python => Some("python"),
            PackageType::Npm => Some("javascript"),
            PackageType::JavaArchive => Some("java"),
            PackageType::GoModule => Some("go"),
            PackageType::RustCrate => Some("rust"),
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
    /// Licences as the package metadata declares them (apk's `L:`; for dpkg, whose database
    /// declares none, the names its `/usr/share/doc/NAME/copyright` gives); empty when it
    /// declares none.
    pub licenses: Vec<String>,
    /// The files that evidence the package: the database it is listed in, the metadata file
    /// of a language package, the archive (`app.jar`, or `app.jar:BOOT-INF/lib/dep.jar`
    /// inside it).
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
    /// Which package needs which, where the metadata says (dpkg's `Depends`, apk's `D:`):
    /// sorted, each pair once.
    pub dependencies: Vec<Dependency>,
    /// What was left out and why (a file too large, a malformed package manifest), for
    /// people: a catalogue with warnings is still every package berth could read.
    pub warnings: Vec<String>,
}

/// One package needing another: both are indices into [`Catalog::packages`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dependency {
    /// The package that needs the other.
    pub dependent: usize,
    /// The package it needs (or one that provides what it needs).
    pub dependency: usize,
}
