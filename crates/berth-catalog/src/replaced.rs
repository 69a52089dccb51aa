//! Which installed packages replaced another version of themselves: an image whose base
//! brought `libssl3 3.0.11` and whose later `RUN apt-get upgrade` brought `3.0.15` lists only
//! the second, and [`crate::catalog`] attributes it to the `RUN`'s layer. This says what was
//! there before, and which layer brought that, from the database file's earlier versions.

use crate::fs::{File, Filesystem};
use crate::model::{Catalog, LayerRef, Package};
use crate::{DATABASES, Result};

/// The version of a package that a later layer replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    /// The version the earlier layers listed.
    pub version: String,
    /// The layer that brought that version: the earliest from which the database listed it
    /// continuously until the package's own layer replaced it.
    pub layer: LayerRef,
}

/// For each package of `catalog` (a catalogue of `fs`), in its order: the version it
/// replaced, when the layer that added it found the same package (name, type and
/// architecture) at another version in the same database. `None` for packages new in their
/// layer, and everywhere in a directory (it has no layers).
pub fn replaced(fs: &dyn Filesystem, catalog: &Catalog) -> Result<Vec<Option<Replaced>>> {
    let distro = catalog.distro.as_ref();
    let mut out = vec![None; catalog.packages.len()];
    for (find, read, _) in DATABASES {
        for file in find(fs)? {
            let evidence = format!("/{}", file.path);
            let versions = fs.versions(&file);
            // Each earlier version read once, newest first: (layer, packages listed).
            let mut earlier: Vec<(LayerRef, Option<Vec<Package>>)> = Vec::new();
            for version in versions.iter().rev() {
                let listed = version.bytes.as_ref().and_then(|bytes| {
                    let old = File {
                        path: file.path.clone(),
                        bytes: bytes.clone(),
                        layer: Some(version.layer.clone()),
                    };
                    // A version that does not read is as good as absent: the walk ends there.
                    read(&old, distro).ok()
                });
                earlier.push((version.layer.clone(), listed));
            }
            for (slot, package) in out.iter_mut().zip(&catalog.packages) {
                if slot.is_none() && package.evidence.contains(&evidence) {
                    *slot = previous(package, &earlier);
                }
            }
        }
    }
    Ok(out)
}

/// The version `package` replaced, from the database's versions newest first.
fn previous(
    package: &Package,
    newest_first: &[(LayerRef, Option<Vec<Package>>)],
) -> Option<Replaced> {
    let added = package.layer.as_ref()?.index;
    let same = |p: &&Package| {
        p.name == package.name && p.package_type == package.package_type && p.arch == package.arch
    };
    let mut found: Option<Replaced> = None;
    for (layer, listed) in newest_first.iter().filter(|(l, _)| l.index < added) {
        let Some(listed) = listed else { break };
        let old = listed.iter().find(same).map(|p| &p.version);
        match (&mut found, old) {
            (None, Some(version)) if *version != package.version => {
                found = Some(Replaced {
                    version: version.clone(),
                    layer: layer.clone(),
                });
            }
            // Not there before its own layer: new, not an upgrade.
            (None, _) => return None,
            (Some(r), Some(version)) if *version == r.version => r.layer = layer.clone(),
            (Some(_), _) => break,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use berth_oci::Digest;

    use super::*;
    use crate::dpkg::STATUS;
    use crate::fs::Version;

    /// A dpkg status file as successive layers wrote it (`None`: the layer deleted it).
    struct Layers(Vec<Option<String>>);

    impl Layers {
        fn layer(index: usize) -> LayerRef {
            LayerRef {
                index,
                diff_id: Digest::sha256(index.to_string().as_bytes()),
            }
        }
    }

    impl Filesystem for Layers {
        fn read(&self, path: &str) -> Result<Option<File>> {
            let last = self.0.len() - 1;
            Ok(self.0[last]
                .as_ref()
                .filter(|_| path == STATUS)
                .map(|s| File {
                    path: STATUS.into(),
                    bytes: Arc::from(s.as_bytes()),
                    layer: Some(Layers::layer(last)),
                }))
        }

        fn list(&self, _: &str) -> Result<Vec<String>> {
            Ok(Vec::new())
        }

        fn found(&self, _: &crate::Wanted) -> Result<Vec<File>> {
            Ok(Vec::new())
        }

        fn versions(&self, _: &File) -> Vec<Version> {
            let bytes = |s: &Option<String>| s.as_ref().map(|s| Arc::from(s.as_bytes()));
            (self.0.iter().enumerate())
                .map(|(i, s)| Version {
                    layer: Layers::layer(i),
                    bytes: bytes(s),
                })
                .collect()
        }
    }

    fn status(packages: &[(&str, &str)]) -> Option<String> {
        let stanza = |(name, version): &(&str, &str)| {
            format!(
                "Package: {name}\nStatus: install ok installed\nArchitecture: all\nVersion: {version}\n\n"
            )
        };
        Some(packages.iter().map(stanza).collect())
    }

    fn found(fs: &Layers) -> Vec<(String, Option<(String, usize)>)> {
        let c = crate::catalog(fs).unwrap();
        let r = replaced(fs, &c).unwrap();
        c.packages
            .iter()
            .zip(r)
            .map(|(p, r)| (p.name.clone(), r.map(|r| (r.version, r.layer.index))))
            .collect()
    }

    #[test]
    fn an_upgrade_names_the_version_it_replaced_and_the_layer_that_brought_it() {
        let fs = Layers(vec![
            status(&[("libssl3", "1.0"), ("zlib", "1")]),
            // Another package changes: libssl3 1.0 is still the base's.
            status(&[("libssl3", "1.0"), ("zlib", "1"), ("curl", "8")]),
            status(&[("libssl3", "2.0"), ("zlib", "1"), ("curl", "8")]),
        ]);
        assert_eq!(
            found(&fs),
            [
                ("curl".to_string(), None),
                ("libssl3".to_string(), Some(("1.0".to_string(), 0))),
                ("zlib".to_string(), None),
            ]
        );
    }

    #[test]
    fn a_package_removed_and_installed_again_replaced_nothing() {
        let fs = Layers(vec![
            status(&[("libssl3", "1.0")]),
            status(&[]),
            status(&[("libssl3", "2.0")]),
        ]);
        assert_eq!(found(&fs), [("libssl3".to_string(), None)]);
        // A deleted database ends the walk the same way.
        let fs = Layers(vec![
            status(&[("libssl3", "1.0")]),
            None,
            status(&[("libssl3", "2.0")]),
        ]);
        assert_eq!(found(&fs), [("libssl3".to_string(), None)]);
    }
}
