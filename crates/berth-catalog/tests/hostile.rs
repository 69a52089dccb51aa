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

/// A jar of `entries`, each stored (`Stored`) or deflated.
fn jar(entries: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(false);
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

const MANIFEST: &[u8] = b"Manifest-Version: 1.0\r\nImplementation-Version: 1.0\r\n\r\n";

/// The warnings and package names of a catalogue of `dir`.
fn warnings_in(dir: &Path) -> (Vec<String>, Vec<String>) {
    let found = catalog(&DirFs::open(dir).unwrap()).unwrap();
    let names = found.packages.into_iter().map(|p| p.name).collect();
    (found.warnings, names)
}

#[test]
fn hostile_java_archives_are_left_out_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("opt/lib");
    fs::create_dir_all(&lib).unwrap();
    let deflated = zip::CompressionMethod::Deflated;
    // A bomb: 32 MiB of zeros in a few kilobytes, as a pom.properties and as a nested jar.
    let zeros = vec![0u8; 32 << 20];
    let bomb = jar(
        &[
            ("META-INF/MANIFEST.MF", MANIFEST),
            ("META-INF/maven/g/a/pom.properties", &zeros),
        ],
        deflated,
    );
    assert!(bomb.len() < 1 << 20);
    fs::write(lib.join("bomb-1.0.jar"), &bomb).unwrap();
    let outer = jar(
        &[
            ("META-INF/MANIFEST.MF", MANIFEST),
            ("lib/inner.jar", &zeros),
        ],
        deflated,
    );
    fs::write(lib.join("nested-bomb-1.0.jar"), &outer).unwrap();
    // Nested 50 deep, each level stored in the one above.
    let mut deep = jar(&[("META-INF/MANIFEST.MF", MANIFEST)], deflated);
    for _ in 0..50 {
        deep = jar(
            &[
                ("META-INF/MANIFEST.MF", MANIFEST),
                ("lib/level-1.0.jar", &deep),
            ],
            zip::CompressionMethod::Stored,
        );
    }
    fs::write(lib.join("deep-1.0.jar"), &deep).unwrap();
    fs::write(lib.join("garbage-1.0.jar"), b"PK\x03\x04 not really a zip").unwrap();
    fs::write(
        lib.join("fine-2.0.jar"),
        jar(&[("META-INF/MANIFEST.MF", MANIFEST)], deflated),
    )
    .unwrap();

    let (mut warnings, names) = warnings_in(tmp.path());
    warnings.sort();
    assert_eq!(names, ["fine"], "{warnings:#?}");
    assert_eq!(warnings.len(), 4, "{warnings:#?}");
    let expect = [
        "/opt/lib/bomb-1.0.jar: entry META-INF/maven/g/a/pom.properties inflates ",
        "/opt/lib/deep-1.0.jar: in lib/level-1.0.jar:lib/level-1.0.jar:",
        "/opt/lib/garbage-1.0.jar: not a readable zip archive",
        "/opt/lib/nested-bomb-1.0.jar: entry lib/inner.jar inflates ",
    ];
    for (warning, start) in warnings.iter().zip(expect) {
        assert!(warning.starts_with(start), "{warning}");
        assert!(warning.ends_with("; left out"), "{warning}");
    }
    assert!(
        warnings[1].contains("archives nested more than 8 deep"),
        "{}",
        warnings[1]
    );
    assert!(warnings[0].contains("a zip bomb"), "{}", warnings[0]);
}

#[test]
fn huge_or_malformed_language_metadata_is_left_out_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("usr/lib/python3/site-packages");
    fs::create_dir_all(site.join("huge-1.dist-info")).unwrap();
    fs::create_dir_all(site.join("binary-1.dist-info")).unwrap();
    fs::create_dir_all(site.join("noversion-1.dist-info")).unwrap();
    // 100 MB, sparse: refused by its size before a byte is read.
    let huge = fs::File::create(site.join("huge-1.dist-info/METADATA")).unwrap();
    huge.set_len(100_000_000).unwrap();
    fs::write(
        site.join("binary-1.dist-info/METADATA"),
        b"\x00\xff\xfe\x01garbage",
    )
    .unwrap();
    fs::write(
        site.join("noversion-1.dist-info/METADATA"),
        "Name: noversion\n",
    )
    .unwrap();
    let modules = tmp.path().join("app/node_modules");
    fs::create_dir_all(modules.join("broken")).unwrap();
    fs::create_dir_all(modules.join("array")).unwrap();
    fs::write(
        modules.join("broken/package.json"),
        "{\"name\": \"broken\",\n",
    )
    .unwrap();
    fs::write(modules.join("array/package.json"), "[1, 2, 3]").unwrap();

    let (mut warnings, names) = warnings_in(tmp.path());
    warnings.sort();
    assert!(names.is_empty(), "{names:?}");
    assert_eq!(
        warnings,
        [
            "/app/node_modules/broken/package.json:2: not JSON: EOF while parsing a value at line 2 column 0; left out".to_string(),
            "/usr/lib/python3/site-packages/huge-1.dist-info/METADATA: 100000000 bytes, more than the 67108864 bytes berth reads of one file; left out".into(),
            "/usr/lib/python3/site-packages/noversion-1.dist-info/METADATA: distribution noversion has no Version field; left out".into(),
        ]
    );

    // The same in an image: a layer announcing a 100 MB METADATA is left out, not refused.
    let mut h = header(tar::EntryType::Regular, 100_000_000);
    h.set_path("usr/lib/python3/site-packages/huge-1.dist-info/METADATA")
        .unwrap();
    h.set_cksum();
    let head = h.as_bytes().to_vec();
    // The 100 MB streamed, never held: the layer passes over them.
    let layer = Layer::new(Digest::sha256(&head), move || {
        use std::io::Read;
        Ok(std::io::Cursor::new(head.clone())
            .chain(std::io::repeat(0).take(100_000_000u64.div_ceil(512) * 512 + 1024)))
    });
    let found = catalog(&ImageFs::read(vec![layer], &WANTED).unwrap()).unwrap();
    assert!(found.packages.is_empty());
    assert_eq!(found.warnings.len(), 1, "{:?}", found.warnings);
    assert!(
        found.warnings[0].contains("100000000 bytes"),
        "{:?}",
        found.warnings
    );
}

/// An SQLite database made by running `sql`, as bytes.
fn sqlite(sql: &str) -> Vec<u8> {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(sql).unwrap();
    db.serialize("main").unwrap().to_vec()
}

#[test]
fn rpm_databases_berth_does_not_read_or_that_are_broken_are_refused_by_name() {
    const SQLITE: &str = "var/lib/rpm/rpmdb.sqlite";
    // The older backends: refused, saying what berth reads instead.
    let tar = tar_of(&[("var/lib/rpm/Packages", b"\0\x06\x15\x61 BerkeleyDB hash")]);
    let diff_id = Digest::sha256(&tar);
    let err = image_catalog(tar).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "/var/lib/rpm/Packages (in layer 0 ({diff_id})): a BerkeleyDB rpm database; berth reads \
             only rpmdb.sqlite (rpm ≥ 4.16). Convert it inside the image with \
             `rpmdb --rebuilddb --define '_db_backend sqlite'`"
        )
    );
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("usr/lib/sysimage/rpm")).unwrap();
    fs::write(
        tmp.path().join("usr/lib/sysimage/rpm/Packages.db"),
        b"NDB garbage",
    )
    .unwrap();
    let err = catalog(&DirFs::open(tmp.path()).unwrap()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/usr/lib/sysimage/rpm/Packages.db: an NDB rpm database"),
        "{err}"
    );

    // What a conversion left beside an rpmdb.sqlite is not read: rpm reads the SQLite one.
    let table =
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);";
    let tar = tar_of(&[
        ("var/lib/rpm/Packages", b"\0\x06\x15\x61 BerkeleyDB hash"),
        (SQLITE, &sqlite(table)),
    ]);
    assert!(image_catalog(tar).unwrap().packages.is_empty());

    // Broken rpmdb.sqlite files: each a clear error naming it, never a panic.
    let forged_counts =
        format!("{table} INSERT INTO Packages (blob) VALUES (x'0000ffff00000010');");
    let truncated = sqlite(&format!(
        "{forged_counts} INSERT INTO Packages (blob) VALUES (zeroblob(100000));"
    ));
    for (bytes, why) in [
        (
            b"SQLite format 3\0 and then nothing".to_vec(),
            "not an SQLite database",
        ),
        (
            truncated[..truncated.len() / 2].to_vec(),
            "the SQLite database cannot be read",
        ),
        (sqlite("CREATE TABLE Other (x);"), "no Packages table"),
        (
            sqlite(
                "CREATE VIEW Packages AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n AS hnum, n AS blob FROM r;",
            ),
            "no Packages table",
        ),
        (
            sqlite(&forged_counts),
            "package header 1: 65535 index entries and a 16-byte store do not fill the 8-byte header",
        ),
    ] {
        let tar = tar_of(&[(SQLITE, &bytes)]);
        let diff_id = Digest::sha256(&tar);
        let err = image_catalog(tar).unwrap_err();
        assert!(matches!(err, CatalogError::Format { .. }), "{err}");
        let prefix = format!("/{SQLITE} (in layer 0 ({diff_id})): ");
        let message = err.to_string();
        assert!(message.starts_with(&prefix), "{message}");
        assert!(message.contains(why), "{why}: {message}");
    }
}

#[test]
fn a_huge_copyright_file_leaves_the_licences_out_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("var/lib/dpkg")).unwrap();
    fs::write(tmp.path().join(STATUS), stanza("big")).unwrap();
    fs::create_dir_all(tmp.path().join("usr/share/doc/big")).unwrap();
    // 100 MB, sparse: refused by its size before a byte is read.
    let huge = fs::File::create(tmp.path().join("usr/share/doc/big/copyright")).unwrap();
    huge.set_len(100_000_000).unwrap();
    let found = catalog(&DirFs::open(tmp.path()).unwrap()).unwrap();
    assert_eq!(found.packages.len(), 1);
    assert!(found.packages[0].licenses.is_empty());
    assert_eq!(
        found.warnings,
        [
            "/usr/share/doc/big/copyright: 100000000 bytes, more than the 67108864 bytes berth reads of one file; left out"
        ]
    );

    // The same in an image: the file passed over while the layer streams, never held.
    let status = stanza("big");
    let mut tar = raw_entry(STATUS, status.as_bytes());
    let mut h = header(tar::EntryType::Regular, 100_000_000);
    h.set_path("usr/share/doc/big/copyright").unwrap();
    h.set_cksum();
    tar.extend(h.as_bytes());
    let layer = Layer::new(Digest::sha256(&tar), move || {
        use std::io::Read;
        Ok(std::io::Cursor::new(tar.clone())
            .chain(std::io::repeat(0).take(100_000_000u64.div_ceil(512) * 512 + 1024)))
    });
    let found = catalog(&ImageFs::read(vec![layer], &WANTED).unwrap()).unwrap();
    assert_eq!(found.packages.len(), 1);
    assert!(found.packages[0].licenses.is_empty());
    assert!(
        found
            .warnings
            .iter()
            .all(|w| w.contains("usr/share/doc/big/copyright")),
        "{:?}",
        found.warnings
    );
    assert!(!found.warnings.is_empty());
}
