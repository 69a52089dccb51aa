//! Hostile and broken input: a package database behind a symlink out of the root, databases
//! too large or malformed, layers with names that climb out, damaged or in compressions berth
//! does not read, symlink loops. Each is a clear error naming the file (and the layer) or,
//! for symlinks out of the root, a lookup that stays inside it; never a panic, never the
//! host's files.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use berth_catalog::{CatalogError, DirFs, ImageFs, Layer, MAX_FILE, WANTED, catalog};
use berth_oci::Digest;

const STATUS: &str = "var/lib/dpkg/status";

fn stanza(name: &str) -> String {
    format!("Package: {name}\nStatus: install ok installed\nArchitecture: all\nVersion: 1.0\n\n")
}

fn names_in(dir: &Path) -> Vec<String> {
    let found = catalog(&DirFs::open(dir).unwrap()).unwrap();
    found.packages.into_iter().map(|p| p.name).collect()
}

/// A one-layer image from raw tar bytes.
fn image_catalog(tar: Vec<u8>) -> Result<berth_catalog::Catalog, CatalogError> {
    let diff_id = Digest::sha256(&tar);
    let layer = Layer::new(diff_id, move || Ok(std::io::Cursor::new(tar.clone())));
    let image = ImageFs::read(vec![layer], &WANTED)?;
    catalog(&image)
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(size);
    h
}

/// A tar entry whose name is written as given, `..` and all (tar::Builder refuses those).
fn raw_entry(name: &str, body: &[u8]) -> Vec<u8> {
    let mut h = header(tar::EntryType::Regular, body.len() as u64);
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, bytes) in entries {
        let mut h = header(tar::EntryType::Regular, bytes.len() as u64);
        b.append_data(&mut h, path, *bytes).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn a_database_behind_a_symlink_out_of_the_root_is_looked_up_inside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir_all(outside.join("var/lib/dpkg")).unwrap();
    fs::write(outside.join(STATUS), stanza("host-only")).unwrap();

    // Absolute, to the host's copy; relative, climbing out with `..`.
    let absolute = tmp.path().join("absolute");
    fs::create_dir_all(absolute.join("var/lib")).unwrap();
    symlink(outside.join("var/lib/dpkg"), absolute.join("var/lib/dpkg")).unwrap();
    let relative = tmp.path().join("relative");
    fs::create_dir_all(relative.join("var")).unwrap();
    symlink("../../outside/var/lib", relative.join("var/lib")).unwrap();
    assert!(names_in(&absolute).is_empty());
    assert!(names_in(&relative).is_empty());

    // What the link names inside the root is what is read.
    let inside = tmp.path().join("inside");
    fs::create_dir_all(inside.join("var/lib")).unwrap();
    fs::create_dir_all(inside.join("elsewhere/dpkg")).unwrap();
    fs::write(inside.join("elsewhere/dpkg/status"), stanza("in-image")).unwrap();
    symlink("/elsewhere/dpkg", inside.join("var/lib/dpkg")).unwrap();
    let found = catalog(&DirFs::open(&inside).unwrap()).unwrap();
    assert_eq!(found.packages.len(), 1);
    assert_eq!(found.packages[0].name, "in-image");
    assert_eq!(found.packages[0].evidence, ["/elsewhere/dpkg/status"]);

    // In an image, a link out of it has nowhere to go but inside.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header(tar::EntryType::Symlink, 0);
    b.append_link(
        &mut h,
        "var/lib/dpkg",
        "../../../../../outside/var/lib/dpkg",
    )
    .unwrap();
    let found = image_catalog(b.into_inner().unwrap()).unwrap();
    assert!(found.packages.is_empty());
}

#[test]
fn huge_databases_are_refused_naming_the_file_and_layer() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("var/lib/dpkg")).unwrap();
    // Sparse: nothing is written, the size alone is refused.
    let f = fs::File::create(tmp.path().join(STATUS)).unwrap();
    f.set_len(MAX_FILE + 1).unwrap();
    let err = catalog(&DirFs::open(tmp.path()).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "/var/lib/dpkg/status: {} bytes, more than the {MAX_FILE} bytes berth reads of one package database",
            MAX_FILE + 1
        )
    );

    // A layer's header announcing more than the limit is refused before a byte is read.
    let mut h = header(tar::EntryType::Regular, MAX_FILE + 1);
    h.set_path(STATUS).unwrap();
    h.set_cksum();
    let tar = h.as_bytes().to_vec();
    let diff_id = Digest::sha256(&tar);
    let err = image_catalog(tar).unwrap_err();
    assert!(matches!(err, CatalogError::TooLarge { .. }), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "/var/lib/dpkg/status (in layer 0 ({diff_id})): {} bytes",
            MAX_FILE + 1
        )),
        "{err}"
    );
}

#[test]
fn malformed_databases_are_refused_naming_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("var/lib/dpkg")).unwrap();
    let garbage = b"Package: a\nVersion: 1\n\x00\xff\xfe not a field\n";
    fs::write(tmp.path().join(STATUS), garbage).unwrap();
    let err = catalog(&DirFs::open(tmp.path()).unwrap()).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "/var/lib/dpkg/status:3: \"\\0\u{fffd}\u{fffd} not a field\" is not a field"
        ),
        "{err}"
    );

    let tar = tar_of(&[("lib/apk/db/installed", b"P:musl\nV:1.2.5-r0\nnonsense\n")]);
    let diff_id = Digest::sha256(&tar);
    let err = image_catalog(tar).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "/lib/apk/db/installed:3 (in layer 0 ({diff_id})): \"nonsense\" is not a `K:value` line"
        )
    );
}

#[test]
fn a_layer_entry_climbing_out_is_refused() {
    let mut tar = raw_entry("../../etc/passwd", b"root:x:0:0::/:/bin/sh\n");
    tar.extend([0u8; 1024]);
    let diff_id = Digest::sha256(&tar);
    let err = image_catalog(tar).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "layer 0 ({diff_id}): entry \"../../etc/passwd\" climbs out of the image with '..'; the layer is hostile or broken"
        )
    );
}

#[test]
fn damaged_and_unreadable_layers_are_refused_by_name() {
    let xz = b"\xfd7zXZ\0rest of an xz stream".to_vec();
    let diff_id = Digest::sha256(&xz);
    let err = image_catalog(xz).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("layer 0 ({diff_id}) is xz-compressed; berth reads gzip, zstd and plain layers")
    );

    let tar = tar_of(&[(STATUS, stanza("a").as_bytes())]);
    let mut gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&tar).unwrap();
        e.finish().unwrap()
    };
    gz.truncate(gz.len() / 2);
    let err = image_catalog(gz).unwrap_err();
    assert!(matches!(err, CatalogError::Layer { .. }), "{err}");
    assert!(err.to_string().contains("the layer is damaged"), "{err}");
}

#[test]
fn a_symlink_loop_is_an_error_not_a_hang() {
    let mut b = tar::Builder::new(Vec::new());
    for (path, target) in [("etc/os-release", "loop"), ("etc/loop", "os-release")] {
        let mut h = header(tar::EntryType::Symlink, 0);
        b.append_link(&mut h, path, target).unwrap();
    }
    let err = image_catalog(b.into_inner().unwrap()).unwrap_err();
    assert!(matches!(err, CatalogError::TooManyLinks { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("too many levels of symbolic links"),
        "{err}"
    );
}
