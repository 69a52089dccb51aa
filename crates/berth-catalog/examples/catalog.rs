//! Prints the catalogue of a directory or of an OCI layout's image, one package a line
//! (type, name, version, purl, layer): the catalogers alone, without a document around them
//! (scripts/bench/sbom times `berth sbom`).
//!
//!   cargo run --release -p berth-catalog --example catalog -- dir PATH
//!   cargo run --release -p berth-catalog --example catalog -- oci-dir LAYOUT

use std::fs;
use std::path::{Path, PathBuf};

use berth_catalog::{Catalog, DirFs, ImageFs, Layer, WANTED, catalog};
use berth_oci::{Digest, ImageConfig, Manifest};

fn blob(layout: &Path, digest: &Digest) -> PathBuf {
    layout
        .join("blobs")
        .join(digest.algorithm().name())
        .join(digest.hex())
}

/// The first image of the layout's index, as layers bottom first.
fn layers(layout: &Path) -> Vec<Layer<'static>> {
    let index = fs::read(layout.join("index.json")).expect("an OCI layout has index.json");
    let Manifest::Index(index) = Manifest::parse(&index, None).expect("index.json parses") else {
        panic!("index.json is not an index");
    };
    let read = |d: &Digest| fs::read(blob(layout, d)).expect("the layout holds the blob");
    let Manifest::Image(manifest) =
        Manifest::parse(&read(&index.manifests[0].digest), None).expect("the manifest parses")
    else {
        panic!("the layout's first manifest is not an image");
    };
    let config = ImageConfig::parse(&read(&manifest.config.digest)).expect("the config parses");
    manifest
        .layers
        .iter()
        .zip(config.rootfs.diff_ids)
        .map(|(layer, diff_id)| {
            let path = blob(layout, &layer.digest);
            Layer::new(diff_id, move || fs::File::open(&path))
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let found: Catalog = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["dir", path] => catalog(&DirFs::open(Path::new(path)).unwrap()),
        ["oci-dir", path] => catalog(&ImageFs::read(layers(Path::new(path)), &WANTED).unwrap()),
        _ => panic!("usage: catalog dir PATH | oci-dir LAYOUT"),
    }
    .unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });
    for p in found.packages {
        let layer = p.layer.map(|l| l.to_string()).unwrap_or_default();
        let purl = p.purl.unwrap_or_default();
        println!(
            "{}\t{}\t{}\t{purl}\t{layer}",
            p.package_type, p.name, p.version
        );
    }
}
