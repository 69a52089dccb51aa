//! Files found anywhere ([`Wanted::Matching`], [`Wanted::Executables`]): in an image, kept
//! while each layer streams once, deletions honoured; in a directory, by one walk that
//! follows no symlink and enters no skipped directory. Executables reach the extractor
//! whole, whatever their mode, and only what it returns is kept.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use berth_catalog::{DirFs, Filesystem, ImageFs, Layer, Wanted};
use berth_oci::Digest;

/// A tiny extractor: the text after `TAG=` up to the end of its line.
fn tag(bytes: &[u8]) -> Option<Vec<u8>> {
    let at = bytes.windows(4).position(|w| w == b"TAG=")? + 4;
    let end = bytes[at..].iter().position(|&b| b == b'\n')? + at;
    Some(bytes[at..end].to_vec())
}

fn is_metadata(path: &str) -> bool {
    path.ends_with(".dist-info/METADATA")
}

const WANTED: [Wanted; 2] = [Wanted::Executables(tag), Wanted::Matching(is_metadata)];

fn elf(rest: &str) -> Vec<u8> {
    let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
    bytes.extend_from_slice(&[0; 64]);
    bytes.extend_from_slice(rest.as_bytes());
    bytes
}

fn layer(entries: &[(&str, &[u8], u32)]) -> Layer<'static> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, bytes, mode) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(*mode);
        h.set_size(bytes.len() as u64);
        b.append_data(&mut h, path, *bytes).unwrap();
    }
    let tar = b.into_inner().unwrap();
    Layer::new(Digest::sha256(&tar), move || {
        Ok(std::io::Cursor::new(tar.clone()))
    })
}

fn paths_and_bytes(files: Vec<berth_catalog::File>) -> Vec<(String, String)> {
    files
        .into_iter()
        .map(|f| (f.path, String::from_utf8_lossy(&f.bytes).into_owned()))
        .collect()
}

#[test]
fn in_an_image_only_what_the_extractor_returns_is_kept_and_deletions_count() {
    let a = elf("padding TAG=one\nmore");
    let c = elf("TAG=three\n");
    let image = ImageFs::read(
        vec![
            layer(&[
                ("bin/a", &a, 0o755),
                ("bin/untagged", &elf("nothing here"), 0o755),
                ("bin/c", &c, 0o644), // not executable by mode: found all the same
                ("etc/script", b"#!/bin/sh\necho TAG=not-elf\n", 0o755),
                ("lib/x-1.dist-info/METADATA", b"Name: x\n", 0o644),
                ("lib/gone-1.dist-info/METADATA", b"Name: gone\n", 0o644),
            ]),
            layer(&[
                ("bin/.wh.c", b"", 0o644),
                ("lib/.wh.gone-1.dist-info", b"", 0o644),
            ]),
        ],
        &WANTED,
    )
    .unwrap();
    let found = image.found(&WANTED[0]).unwrap();
    assert_eq!(found[0].layer.as_ref().map(|l| l.index), Some(0));
    assert_eq!(paths_and_bytes(found), [("bin/a".into(), "one".into())]);
    // The file itself is still there to read, whole.
    assert_eq!(&*image.read("bin/a").unwrap().unwrap().bytes, &a[..]);
    assert_eq!(
        paths_and_bytes(image.found(&WANTED[1]).unwrap()),
        [("lib/x-1.dist-info/METADATA".into(), "Name: x\n".into())]
    );
    // A kind the view was not made with finds nothing.
    fn other(_: &[u8]) -> Option<Vec<u8>> {
        Some(b"never".to_vec())
    }
    assert!(image.found(&Wanted::Executables(other)).unwrap().is_empty());
}

fn tree(root: &Path, outside: &Path) {
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::write(root.join("bin/a"), elf("TAG=one\n")).unwrap();
    fs::write(root.join("bin/c"), elf("TAG=three\n")).unwrap();
    fs::write(root.join("bin/script"), "TAG=not-elf\n").unwrap();
    fs::create_dir_all(root.join("lib/x-1.dist-info")).unwrap();
    fs::write(root.join("lib/x-1.dist-info/METADATA"), "Name: x\n").unwrap();
    fs::create_dir_all(root.join("skipped/y-1.dist-info")).unwrap();
    fs::write(root.join("skipped/y-1.dist-info/METADATA"), "Name: y\n").unwrap();
    fs::create_dir_all(outside.join("z-1.dist-info")).unwrap();
    fs::write(outside.join("z-1.dist-info/METADATA"), "Name: z\n").unwrap();
    fs::write(outside.join("host-binary"), elf("TAG=host\n")).unwrap();
    // Symlinks out of the root, to a directory and to a file: never followed by the walk.
    symlink(outside, root.join("lib/escape")).unwrap();
    symlink(outside.join("host-binary"), root.join("bin/link")).unwrap();
}

#[test]
fn in_a_directory_one_walk_finds_them_following_no_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, outside) = (tmp.path().join("root"), tmp.path().join("outside"));
    tree(&root, &outside);
    let dir = DirFs::open(&root)
        .unwrap()
        .wanting(&WANTED)
        .skipping(&["/skipped"]);
    assert_eq!(
        paths_and_bytes(dir.found(&WANTED[0]).unwrap()),
        [
            ("bin/a".into(), "one".into()),
            ("bin/c".into(), "three".into())
        ]
    );
    assert_eq!(
        paths_and_bytes(dir.found(&WANTED[1]).unwrap()),
        [("lib/x-1.dist-info/METADATA".into(), "Name: x\n".into())]
    );
    let all = DirFs::open(&root).unwrap().wanting(&WANTED);
    assert_eq!(all.found(&WANTED[1]).unwrap().len(), 2);
}

#[test]
fn a_matching_file_past_the_limit_is_left_out_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let meta = tmp.path().join("big-1.dist-info/METADATA");
    fs::create_dir_all(meta.parent().unwrap()).unwrap();
    fs::write(&meta, "Name: big\nVersion: 1\n").unwrap();
    let dir = DirFs::open(tmp.path())
        .unwrap()
        .wanting(&WANTED)
        .with_limit(8);
    assert!(dir.found(&WANTED[1]).unwrap().is_empty());
    assert_eq!(
        dir.skipped(),
        [
            "/big-1.dist-info/METADATA: 21 bytes, more than the 8 bytes berth reads of one file; left out"
        ]
    );
}
