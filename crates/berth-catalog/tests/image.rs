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

use berth_catalog::{Catalog, DirFs, Filesystem, ImageFs, Layer, WANTED, catalog};
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
