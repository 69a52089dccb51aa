//! The image view against the kernel's: the Debian minbase root file system as a base layer
//! (written as `berth import` writes it), then layers that rewrite, delete (whiteouts) and
//! hide (an opaque directory) package databases. The same layers, applied by berth-layer and
//! stacked by overlayfs, are what a container sees; berth's merge, never extracted, must
//! read the same files and find the same packages, and say which layer added each.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use berth_catalog::{Catalog, DirFs, Filesystem, ImageFs, Layer, LayerCache, WANTED, catalog};
use berth_layer::TarOptions;
use berth_oci::{Compression, Digest};
use test_support::run_ok;

/// A layer tar made entry by entry.
struct Tar(tar::Builder<Vec<u8>>);

impl Tar {
    fn new() -> Tar {
        Tar(tar::Builder::new(Vec::new()))
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_700_000_000);
        h
    }

    fn dir(mut self, path: &str) -> Tar {
        let mut h = Tar::header(tar::EntryType::Directory, 0o755, 0);
        self.0.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    fn file(mut self, path: &str, bytes: &[u8]) -> Tar {
        let mut h = Tar::header(tar::EntryType::Regular, 0o644, bytes.len() as u64);
        self.0.append_data(&mut h, path, bytes).unwrap();
        self
    }

    fn link(mut self, kind: tar::EntryType, path: &str, target: &str) -> Tar {
        let mut h = Tar::header(kind, 0o777, 0);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }

    fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// A layer blob on disk, and its diff ID.
struct Blob {
    path: PathBuf,
    diff_id: Digest,
}

fn blob(dir: &Path, name: &str, tar: &[u8], compression: Compression) -> Blob {
    let bytes = match compression {
        Compression::None => tar.to_vec(),
        Compression::Gzip => {
            use std::io::Write;
            let mut gz = berth_layer::gzip(Vec::new());
            gz.write_all(tar).unwrap();
            gz.finish().unwrap()
        }
        Compression::Zstd => zstd::encode_all(tar, 3).unwrap(),
    };
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    Blob {
        path,
        diff_id: Digest::sha256(tar),
    }
}

fn layers(blobs: &[Blob]) -> Vec<Layer<'static>> {
    blobs
        .iter()
        .map(|b| {
            let path = b.path.clone();
            Layer::new(b.diff_id.clone(), move || fs::File::open(&path))
        })
        .collect()
}

/// Stanzas of a dpkg status file, without the one of `package`.
fn without(status: &str, package: &str) -> String {
    status
        .split("\n\n")
        .filter(|s| !s.is_empty() && !s.starts_with(&format!("Package: {package}\n")))
        .map(|s| format!("{}\n\n", s.trim_end_matches('\n')))
        .collect()
}

fn stanza(name: &str, version: &str) -> String {
    format!(
        "Package: {name}\nStatus: install ok installed\nArchitecture: all\nVersion: {version}\n\n"
    )
}

/// The layers, applied each into its own directory as overlayfs lower layers, mounted
/// read-only, top first: the kernel's merge. Unmounted on drop.
struct Overlay {
    merged: PathBuf,
}

impl Overlay {
    fn mount(dir: &Path, blobs: &[Blob]) -> Overlay {
        let mut lowers = Vec::new();
        for (i, b) in blobs.iter().enumerate() {
            let lower = dir.join(format!("lower{i}"));
            fs::create_dir(&lower).unwrap();
            let mut input = fs::File::open(&b.path).unwrap();
            let head = berth_oci::compression::read_head(&mut input).unwrap();
            let tar = Compression::sniff(&head)
                .unwrap()
                .decoder(std::io::Cursor::new(head).chain(input))
                .unwrap();
            let applied = berth_layer::apply_layer(tar, &lower).unwrap();
            assert_eq!(applied.diff_id, b.diff_id);
            lowers.push(lower.display().to_string());
        }
        lowers.reverse();
        let merged = dir.join("merged");
        fs::create_dir(&merged).unwrap();
        run_ok(
            Command::new("mount")
                .args(["-t", "overlay", "overlay", "-o"])
                .arg(format!("lowerdir={}", lowers.join(":")))
                .arg(&merged),
        );
        Overlay { merged }
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.merged).status();
    }
}

fn without_layers(mut c: Catalog) -> Catalog {
    for p in &mut c.packages {
        p.layer = None;
    }
    c
}

#[test]
fn merged_layers_read_as_the_kernel_stacks_them() {
    let rootfs = test_support::debian_rootfs();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // Layer 0: the root file system, as `berth import` writes it.
    let entries = berth_layer::from_dir(&rootfs).unwrap();
    let base = dir.join("layer0");
    let (_, stats) = berth_layer::write_gzip_layer(
        &entries,
        &TarOptions::default(),
        fs::File::create(&base).unwrap(),
        &|_| {},
    )
    .unwrap();
    let mut blobs = vec![Blob {
        path: base,
        diff_id: stats.diff_id,
    }];

    let status = fs::read_to_string(rootfs.join("var/lib/dpkg/status")).unwrap();
    assert!(status.contains("Package: hostname\n"));
    let status1 = without(&status, "hostname") + &stanza("berth-probe", "1.0-1");
    let status2 = without(&status1, "berth-probe") + &stanza("berth-probe", "1.1-1");
    let os_release = fs::read_to_string(rootfs.join("usr/lib/os-release"))
        .unwrap()
        .replace(
            "PRETTY_NAME=",
            "PRETTY_NAME=\"berth test\"\nOLD_PRETTY_NAME=",
        );

    // Layer 1 (gzip): a new status without `hostname`, a distroless status.d, os-release
    // rewritten behind base's etc/os-release -> ../usr/lib/os-release.
    let l1 = Tar::new()
        .file("var/lib/dpkg/status", status1.as_bytes())
        .dir("var/lib/dpkg/status.d")
        .file(
            "var/lib/dpkg/status.d/extra",
            stanza("extra-pkg", "2.0").as_bytes(),
        )
        .file("var/lib/dpkg/status.d/extra.md5sums", b"0  x\n")
        .file(
            "var/lib/dpkg/status.d/gone",
            stanza("gone-pkg", "1.0").as_bytes(),
        )
        .file("usr/lib/os-release", os_release.as_bytes())
        .finish();
    blobs.push(blob(dir, "layer1", &l1, Compression::Gzip));
    // Layer 2 (zstd): berth-probe upgraded, `gone` whited out.
    let l2 = Tar::new()
        .file("var/lib/dpkg/status", status2.as_bytes())
        .file("var/lib/dpkg/status.d/.wh.gone", b"")
        .finish();
    blobs.push(blob(dir, "layer2", &l2, Compression::Zstd));
    // Layer 3 (plain): status.d made opaque (hiding `extra`), with a new file, a hard link
    // to it, and a symlink to a file no cataloger declared.
    let l3 = Tar::new()
        .dir("var/lib/dpkg/status.d")
        .file("var/lib/dpkg/status.d/.wh..wh..opq", b"")
        .file(
            "var/lib/dpkg/status.d/late",
            stanza("late-pkg", "3.0").as_bytes(),
        )
        .link(
            tar::EntryType::Link,
            "var/lib/dpkg/status.d/late-link",
            "var/lib/dpkg/status.d/late",
        )
        .file("opt/db/via-link", stanza("via-link-pkg", "4.0").as_bytes())
        .link(
            tar::EntryType::Symlink,
            "var/lib/dpkg/status.d/via-link",
            "/opt/db/via-link",
        )
        .finish();
    blobs.push(blob(dir, "layer3", &l3, Compression::None));

    let started = Instant::now();
    let image = ImageFs::read(layers(&blobs), &WANTED).unwrap();
    let from_image = catalog(&image).unwrap();
    eprintln!(
        "catalogued 4 layers ({} packages) in {:?}",
        from_image.packages.len(),
        started.elapsed()
    );

    let overlay = Overlay::mount(dir, &blobs);
    let merged = DirFs::open(&overlay.merged).unwrap();
    let from_dir = catalog(&merged).unwrap();

    // The same files, the same directory listing, the same catalogue.
    for path in [
        "etc/os-release",
        "usr/lib/os-release",
        "var/lib/dpkg/status",
        "var/lib/dpkg/status.d/late",
        "var/lib/dpkg/status.d/late-link",
        "var/lib/dpkg/status.d/via-link",
        "var/lib/dpkg/status.d/extra",
        "var/lib/dpkg/status.d/gone",
    ] {
        let a = image.read(path).unwrap();
        let b = merged.read(path).unwrap();
        assert_eq!(
            a.as_ref().map(|f| (&f.path, &f.bytes)),
            b.as_ref().map(|f| (&f.path, &f.bytes)),
            "{path}"
        );
    }
    assert_eq!(
        image.list("var/lib/dpkg/status.d").unwrap(),
        ["late", "late-link", "via-link"]
    );
    assert_eq!(
        image.list("var/lib/dpkg/status.d").unwrap(),
        merged.list("var/lib/dpkg/status.d").unwrap()
    );
    assert_eq!(without_layers(from_image.clone()), from_dir);

    let distro = from_image.distro.as_ref().unwrap();
    assert_eq!(distro.pretty_name.as_deref(), Some("berth test"));
    let find = |name: &str| {
        from_image
            .packages
            .iter()
            .filter(|p| p.name == name)
            .map(|p| (p.version.as_str(), p.layer.as_ref().map(|l| l.index)))
            .collect::<Vec<_>>()
    };
    assert_eq!(find("hostname"), []);
    assert_eq!(find("gone-pkg"), []);
    assert_eq!(find("extra-pkg"), []);
    // Listed since the base, through two rewrites of the status file: the base added it.
    let libc = from_image
        .packages
        .iter()
        .find(|p| p.name == "libc6")
        .unwrap();
    let layer = libc.layer.as_ref().unwrap();
    assert_eq!((layer.index, &layer.diff_id), (0, &blobs[0].diff_id));
    assert_eq!(libc.evidence, ["/var/lib/dpkg/status"]);
    assert_eq!(find("berth-probe"), [("1.1-1", Some(2))]);
    assert_eq!(find("late-pkg"), [("3.0", Some(3)), ("3.0", Some(3))]);
    assert_eq!(find("via-link-pkg"), [("4.0", Some(3))]);
}

/// The layer cache gives the catalogue a fresh read gives, and never a stale or damaged one:
/// a scan is kept only once committed, found again only by the same layer, build and wanted
/// set, and a damaged entry is read as a miss. (A blob whose bytes change under the same
/// digest is how this test sees which scan was used: berth's readers refuse such a blob.)
#[test]
fn the_layer_cache_gives_the_catalogue_a_fresh_read_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let os_release = "ID=debian\nVERSION_ID=12\nPRETTY_NAME=\"berth test\"\n";
    let base = Tar::new()
        .dir("usr/lib")
        .file("usr/lib/os-release", os_release.as_bytes())
        .link(
            tar::EntryType::Symlink,
            "etc/os-release",
            "../usr/lib/os-release",
        )
        .file(
            "var/lib/dpkg/status",
            (stanza("base-pkg", "1.0") + &stanza("gone-pkg", "2.0")).as_bytes(),
        )
        .file(
            "var/lib/dpkg/status.d/gone",
            stanza("gone-pkg", "2.0").as_bytes(),
        )
        .finish();
    let upper = |name: &str| {
        Tar::new()
            .file("var/lib/dpkg/status.d/.wh.gone", b"")
            .file("var/lib/dpkg/status.d/top", stanza(name, "3.0").as_bytes())
            .finish()
    };
    let blobs = [
        blob(dir, "base", &base, Compression::Gzip),
        blob(dir, "upper", &upper("top-pkg"), Compression::Gzip),
    ];
    let digests: Vec<Digest> = blobs
        .iter()
        .map(|b| Digest::sha256(&fs::read(&b.path).unwrap()))
        .collect();
    let cached_layers = || -> Vec<Layer<'static>> {
        layers(&blobs)
            .into_iter()
            .zip(&digests)
            .map(|(layer, digest)| layer.with_blob(digest.clone()))
            .collect()
    };
    let names = |c: &Catalog| -> Vec<String> {
        c.packages
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect()
    };
    let fresh = catalog(&ImageFs::read(layers(&blobs), &WANTED).unwrap()).unwrap();
    assert_eq!(
        names(&fresh),
        ["base-pkg 1.0", "gone-pkg 2.0", "top-pkg 3.0"]
    );

    let entries = dir.join("cache");
    let count = || fs::read_dir(&entries).map_or(0, |d| d.count());
    let cache = LayerCache::new(&entries, "build 1", LayerCache::DEFAULT_CAP);
    let read = |cache: &LayerCache| {
        catalog(&ImageFs::read_cached(cached_layers(), &WANTED, cache).unwrap()).unwrap()
    };
    // A miss reads the layers; their scans are kept only once committed.
    assert_eq!(read(&cache), fresh);
    assert_eq!(count(), 0, "nothing kept before the commit");
    cache.commit().unwrap();
    assert_eq!(count(), 2, "one entry per layer");

    // The upper layer's blob now holds another package under the same digest.
    blob(dir, "upper", &upper("other-pkg"), Compression::Gzip);
    let hit = read(&cache);
    assert_eq!(hit, fresh, "both layers' scans come from the cache");

    // A hit still reads its blob to the end, through the reader's checks: one that fails
    // there (as a digest check does) fails the read.
    struct FailsAtEnd;
    impl Read for FailsAtEnd {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("the data is corrupt or was altered"))
        }
    }
    let failing: Vec<Layer<'static>> = blobs
        .iter()
        .zip(&digests)
        .map(|(b, digest)| {
            let path = b.path.clone();
            Layer::new(b.diff_id.clone(), move || {
                Ok(fs::File::open(&path)?.chain(FailsAtEnd))
            })
            .with_blob(digest.clone())
        })
        .collect();
    let err = ImageFs::read_cached(failing, &WANTED, &cache)
        .err()
        .expect("a blob failing its check fails a cached read");
    assert!(err.to_string().contains("layer 0"), "{err}");
    // Unless the blob is in berth's own store, checked as it was written: then the cached
    // scan is used and the blob not opened at all.
    let unopened: Vec<Layer<'static>> = blobs
        .iter()
        .zip(&digests)
        .map(|(b, digest)| {
            Layer::new(b.diff_id.clone(), || -> std::io::Result<fs::File> {
                panic!("a stored blob whose scan is cached is not read")
            })
            .with_blob(digest.clone())
            .checked_at_rest()
        })
        .collect();
    let stored = catalog(&ImageFs::read_cached(unopened, &WANTED, &cache).unwrap()).unwrap();
    assert_eq!(stored, fresh);

    // Another build or another wanted set names other entries: the layers are read.
    let rebuilt = LayerCache::new(&entries, "build 2", LayerCache::DEFAULT_CAP);
    assert_eq!(
        names(&read(&rebuilt)),
        ["base-pkg 1.0", "gone-pkg 2.0", "other-pkg 3.0"]
    );
    let dpkg_only = &WANTED[2..4];
    let c = ImageFs::read_cached(cached_layers(), dpkg_only, &cache).unwrap();
    assert_eq!(
        c.read("var/lib/dpkg/status.d/top")
            .unwrap()
            .unwrap()
            .bytes
            .as_ref(),
        stanza("other-pkg", "3.0").as_bytes()
    );

    // Damaged entries (one truncated, one with a byte flipped) are misses, never a catalogue,
    // and are removed; the commit writes them whole again.
    let fresh_cache = LayerCache::new(dir.join("damaged"), "build 1", LayerCache::DEFAULT_CAP);
    let _ = read(&fresh_cache);
    fresh_cache.commit().unwrap();
    let mut damaged: Vec<PathBuf> = fs::read_dir(dir.join("damaged"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    damaged.sort();
    // Back to the package the layer was first read with: a scan read again shows it.
    blob(dir, "upper", &upper("top-pkg"), Compression::Gzip);
    let bytes = fs::read(&damaged[0]).unwrap();
    fs::write(&damaged[0], &bytes[..bytes.len() / 2]).unwrap();
    let mut bytes = fs::read(&damaged[1]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&damaged[1], bytes).unwrap();
    assert_eq!(read(&fresh_cache), fresh);
    assert!(
        damaged.iter().all(|p| !p.exists()),
        "damaged entries removed"
    );
    fresh_cache.commit().unwrap();
    assert_eq!(fs::read_dir(dir.join("damaged")).unwrap().count(), 2);

    // An entry larger than the cap is not kept; a cap smaller than two entries keeps one.
    let small = LayerCache::new(dir.join("small"), "build 1", 1);
    let _ = read(&small);
    small.commit().unwrap();
    assert_eq!(fs::read_dir(dir.join("small")).map_or(0, |d| d.count()), 0);
    let total: u64 = damaged.iter().map(|p| fs::metadata(p).unwrap().len()).sum();
    let one = LayerCache::new(dir.join("one"), "build 1", total - 1);
    let _ = read(&one);
    one.commit().unwrap();
    assert_eq!(fs::read_dir(dir.join("one")).unwrap().count(), 1);
}
