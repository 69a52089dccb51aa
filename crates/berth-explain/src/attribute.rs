//! Packages to layers, history entries and Dockerfile lines.

use berth_catalog::{Catalog, LayerRef, Replaced};
use berth_dockerfile::origin::{BuildRecord, Origin};
use berth_oci::ImageConfig;
use serde::Serialize;

/// The history entry that made a layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Its index in the config's `history`.
    pub history: usize,
    pub created_by: Option<String>,
    /// Where it came from in the Dockerfile, when berth built the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<Located>,
}

/// An instruction in a named Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Located {
    /// The Dockerfile as the build was given it.
    pub file: String,
    #[serde(flatten)]
    pub origin: Origin,
}

/// Where one package came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribution {
    /// The layer that added the package (at this version).
    #[serde(serialize_with = "layer_json")]
    pub layer: LayerRef,
    /// The history entry that made that layer; `None` when the history does not line up
    /// with the layers (images some tools wrote), rather than a guess.
    pub step: Option<Step>,
    /// The version the layer replaced, when an earlier layer held another one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgraded: Option<Upgrade>,
}

/// A package's earlier version, which a later layer replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Upgrade {
    pub from_version: String,
    /// The layer that brought the earlier version.
    #[serde(serialize_with = "layer_json")]
    pub layer: LayerRef,
    pub step: Option<Step>,
}

fn layer_json<S: serde::Serializer>(layer: &LayerRef, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut out = s.serialize_struct("Layer", 2)?;
    out.serialize_field("index", &layer.index)?;
    out.serialize_field("diffID", &layer.diff_id.to_string())?;
    out.end()
}

/// Where each package of `catalog` came from, in its order (`None` for a package with no
/// layer: a directory's). `config` is the image's config (its history and diff IDs),
/// `record` the build record berth kept for it if it built it, `replaced` what
/// [`berth_catalog::replaced`] found for the same catalogue.
pub fn attribute(
    catalog: &Catalog,
    config: &ImageConfig,
    record: Option<&BuildRecord>,
    replaced: &[Option<Replaced>],
) -> Vec<Option<Attribution>> {
    let history = Layers::new(config, record);
    catalog
        .packages
        .iter()
        .enumerate()
        .map(|(i, package)| {
            let layer = package.layer.clone()?;
            let upgraded = replaced.get(i).cloned().flatten().map(|r| Upgrade {
                step: history.step(&r.layer),
                from_version: r.version,
                layer: r.layer,
            });
            Some(Attribution {
                step: history.step(&layer),
                layer,
                upgraded,
            })
        })
        .collect()
}

/// An image's layers paired with its history entries.
struct Layers<'a> {
    config: &'a ImageConfig,
    /// The history index of each layer; empty when the history does not line up.
    entries: Vec<usize>,
    /// The build record, when it describes this history.
    record: Option<&'a BuildRecord>,
}

impl<'a> Layers<'a> {
    fn new(config: &'a ImageConfig, record: Option<&'a BuildRecord>) -> Layers<'a> {
        let mut entries: Vec<usize> = (config.history.iter().enumerate())
            .filter(|(_, h)| !h.empty_layer)
            .map(|(i, _)| i)
            .collect();
        if entries.len() != config.rootfs.diff_ids.len() {
            entries.clear();
        }
        // A record with another number of entries is not this image's.
        let record = record.filter(|r| r.history.len() == config.history.len());
        Layers {
            config,
            entries,
            record,
        }
    }

    fn step(&self, layer: &LayerRef) -> Option<Step> {
        let history = *self.entries.get(layer.index)?;
        if self.config.rootfs.diff_ids.get(layer.index) != Some(&layer.diff_id) {
            return None;
        }
        Some(Step {
            history,
            created_by: self.config.history[history].created_by.clone(),
            dockerfile: self.record.map(|r| Located {
                file: r.dockerfile.clone(),
                origin: r.history[history].clone(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use berth_catalog::{Package, PackageType};
    use berth_dockerfile::origin::StageRef;
    use berth_oci::Digest;
    use berth_oci::config::History;

    use super::*;

    fn entry(created_by: &str, empty_layer: bool) -> History {
        History {
            created_by: Some(created_by.into()),
            empty_layer,
            ..History::default()
        }
    }

    fn origin(line: usize, instruction: &str) -> Origin {
        Origin {
            stage: StageRef {
                index: 0,
                name: None,
            },
            start_line: line,
            end_line: line,
            instruction: instruction.into(),
            source: None,
        }
    }

    fn package(name: &str, layer: usize) -> Package {
        Package {
            name: name.into(),
            version: "1".into(),
            package_type: PackageType::Deb,
            arch: "all".into(),
            purl: None,
            source: None,
            licenses: vec![],
            evidence: vec![],
            layer: Some(LayerRef {
                index: layer,
                diff_id: Digest::sha256(&[layer as u8]),
            }),
        }
    }

    #[test]
    fn layers_pair_with_the_entries_that_are_not_empty_layers() {
        let mut config = ImageConfig {
            history: vec![
                entry("ADD rootfs", false),
                entry("ENV A=1", true),
                entry("RUN make", false),
            ],
            ..ImageConfig::default()
        };
        config.rootfs.diff_ids = vec![Digest::sha256(&[0]), Digest::sha256(&[1])];
        let catalog = Catalog {
            distro: None,
            packages: vec![package("base", 0), package("built", 1)],
            ..Catalog::default()
        };
        let record = BuildRecord::new(
            "Dockerfile".into(),
            vec![
                origin(1, "FROM x"),
                origin(2, "ENV A=1"),
                origin(3, "RUN make"),
            ],
        );
        let found = attribute(&catalog, &config, Some(&record), &[]);
        let step = |i: usize| found[i].as_ref().unwrap().step.clone().unwrap();
        assert_eq!((step(0).history, step(1).history), (0, 2));
        assert_eq!(step(1).created_by.as_deref(), Some("RUN make"));
        assert_eq!(step(1).dockerfile.unwrap().origin.start_line, 3);

        // A record of another history is not this image's: no Dockerfile lines.
        let stale = BuildRecord::new("Dockerfile".into(), vec![origin(1, "FROM x")]);
        let found = attribute(&catalog, &config, Some(&stale), &[]);
        assert_eq!(
            found[1].as_ref().unwrap().step.as_ref().unwrap().dockerfile,
            None
        );

        // History that does not line up with the layers names no entry rather than a wrong one.
        config.history.remove(0);
        let found = attribute(&catalog, &config, None, &[]);
        assert_eq!(found[1].as_ref().unwrap().step, None);
    }
}
