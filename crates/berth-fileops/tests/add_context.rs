//! ADD of local archives and contexts sent as a tar: extraction rules and escape refusal.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use berth_dockerfile::ignore::Patterns;
use berth_fileops::{Context, CopyOptions, Error};
// Raw entry names (the tar builder refuses `..`): the hostile corpus' own writer.
use berth_rootfs::testing::raw_tar;
use common::*;

/// A tar with a directory, a file and a symlink, owned 1234:5678.
fn sample_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o700);
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_mtime(1_000_000_000);
    h.set_size(0);
    b.append_data(&mut h, "d/", std::io::empty()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o640);
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_mtime(1_000_000_001);
    h.set_size(3);
    b.append_data(&mut h, "d/t", &b"tt\n"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "d/l", "t").unwrap();
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A temporary directory with an empty context and an empty root file system in it.
fn ctx_and_rootfs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, rootfs) = (dir.path().join("ctx"), dir.path().join("rootfs"));
    mkdir(&ctx, 0o755);
    mkdir(&rootfs, 0o755);
    (dir, ctx, rootfs)
}

fn add_opts() -> CopyOptions {
    CopyOptions {
        unpack_archives: true,
        ..Default::default()
    }
}

#[test]
fn add_unpacks_plain_gzip_and_zstd_tars() {
    let (_dir, ctx, rootfs) = ctx_and_rootfs();
    let tar = sample_tar();
    std::fs::write(ctx.join("t.tar"), &tar).unwrap();
    std::fs::write(ctx.join("t.tar.gz"), gzip(&tar)).unwrap();
    std::fs::write(
        ctx.join("t.tar.zst"),
        zstd::encode_all(&tar[..], 3).unwrap(),
    )
    .unwrap();
    std::fs::write(ctx.join("notatar.gz"), gzip(b"just text")).unwrap();
    let c = Context::open(&ctx, Patterns::default()).unwrap();
    for (src, dest) in [
        ("t.tar", "/u/"),
        ("t.tar.gz", "/gz/"),
        ("t.tar.zst", "/zst/"),
        ("t.tar", "/u3"),
    ] {
        let stats = c
            .copy(&strings(&[src]), dest, &rootfs, &add_opts())
            .unwrap();
        assert_eq!((stats.files, stats.bytes), (2, 3), "{src}");
        let base = rootfs.join(dest.trim_matches('/'));
        // Entries keep the archive's owner, mode and time; the created dest is 0755 root's.
        assert_eq!(stat(&base), (0o755, 0, 0), "{src}");
        assert_eq!(stat(&base.join("d")), (0o700, 1234, 5678), "{src}");
        assert_eq!(mtime(&base.join("d")), 1_000_000_000, "{src}");
        assert_eq!(stat(&base.join("d/t")), (0o640, 1234, 5678), "{src}");
        assert_eq!(mtime(&base.join("d/t")), 1_000_000_001, "{src}");
        assert_eq!(read(&base.join("d/t")), "tt\n");
        assert_eq!(
            std::fs::read_link(base.join("d/l")).unwrap(),
            Path::new("t")
        );
    }
    // --chown does not touch extracted owners (BuildKit), only created parents.
    let chown = CopyOptions {
        chown: Some((7, 8)),
        ..add_opts()
    };
    c.copy(&strings(&["t.tar"]), "/u2/", &rootfs, &chown)
        .unwrap();
    assert_eq!(stat(&rootfs.join("u2")), (0o755, 7, 8));
    assert_eq!(stat(&rootfs.join("u2/d/t")), (0o640, 1234, 5678));
    // Not a tar: copied as it is; and COPY never unpacks.
    c.copy(&strings(&["notatar.gz"]), "/n/", &rootfs, &add_opts())
        .unwrap();
    assert_eq!(
        std::fs::read(rootfs.join("n/notatar.gz")).unwrap(),
        gzip(b"just text")
    );
    c.copy(
        &strings(&["t.tar"]),
        "/c/",
        &rootfs,
        &CopyOptions::default(),
    )
    .unwrap();
    assert_eq!(std::fs::read(rootfs.join("c/t.tar")).unwrap(), tar);
}

#[test]
fn add_refuses_escaping_archives() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, rootfs) = (dir.path().join("ctx"), dir.path().join("rootfs"));
    mkdir(&ctx, 0o755);
    mkdir(&rootfs.join("app"), 0o755);
    let cases: [(&str, Vec<u8>); 3] = [
        (
            "dotdot.tar",
            raw_tar(&[("../../escaped", tar::EntryType::Regular, "", b"x")]),
        ),
        (
            "hardlink.tar",
            raw_tar(&[("h", tar::EntryType::Link, "../../../etc/passwd", b"")]),
        ),
        (
            "symlink.tar",
            raw_tar(&[("s", tar::EntryType::Symlink, "../../..", b"")]),
        ),
    ];
    let c = Context::open(&ctx, Patterns::default()).unwrap();
    for (name, bytes) in &cases {
        std::fs::write(ctx.join(name), bytes).unwrap();
        let err = c
            .copy(&strings(&[name]), "/app/", &rootfs, &add_opts())
            .unwrap_err();
        assert!(matches!(err, Error::ArchiveEscape { .. }), "{name}: {err}");
        assert!(err.to_string().contains("outside the destination"), "{err}");
    }
    assert!(!dir.path().join("escaped").exists());
    assert!(!rootfs.join("escaped").exists());
}

#[test]
fn add_writes_through_planted_symlinks_only_inside_rootfs() {
    let (_dir, ctx, rootfs) = ctx_and_rootfs();
    // An absolute symlink is allowed (it means the image's /), and writing through it stays
    // inside the rootfs.
    let bytes = raw_tar(&[
        ("l", tar::EntryType::Symlink, "/tmp/berth-fileops-add", b""),
        ("l/pwned", tar::EntryType::Regular, "", b"x"),
    ]);
    std::fs::write(ctx.join("plant.tar"), bytes).unwrap();
    let c = Context::open(&ctx, Patterns::default()).unwrap();
    c.copy(&strings(&["plant.tar"]), "/", &rootfs, &add_opts())
        .unwrap();
    assert_eq!(read(&rootfs.join("tmp/berth-fileops-add/pwned")), "x");
    assert!(!Path::new("/tmp/berth-fileops-add").exists());
}

#[test]
fn context_from_tar_is_extracted_safely() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("Dockerfile", "FROM scratch\n"),
        ("app/main.rs", "fn main() {}\n"),
        (".dockerignore", "*.log\n"),
        ("x.log", "log"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data.as_bytes()).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let ctx = Context::from_tar(&tar[..], &dir.path().join("ctx"), "Dockerfile").unwrap();
    assert_eq!(ctx.read_file("Dockerfile").unwrap(), b"FROM scratch\n");
    assert!(ctx.is_excluded("x.log"));
    let rootfs = dir.path().join("rootfs");
    mkdir(&rootfs, 0o755);
    ctx.copy(&strings(&["."]), "/", &rootfs, &CopyOptions::default())
        .unwrap();
    assert_eq!(read(&rootfs.join("app/main.rs")), "fn main() {}\n");
    assert!(!rootfs.join("x.log").exists());

    let evil = raw_tar(&[("../outside", tar::EntryType::Regular, "", b"x")]);
    let err = Context::from_tar(&evil[..], &dir.path().join("ctx2"), "Dockerfile").unwrap_err();
    assert!(matches!(err, Error::ArchiveEscape { .. }), "{err}");
    assert!(!dir.path().join("outside").exists());
}

#[test]
fn dockerfile_specific_ignore_file_wins() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(&root.join(".dockerignore"), "a\n", 0o644);
    put(&root.join("build.Dockerfile.dockerignore"), "b\n", 0o644);
    let ctx = Context::open_for_dockerfile(root, "build.Dockerfile").unwrap();
    assert!(ctx.is_excluded("b") && !ctx.is_excluded("a"));
    let ctx = Context::open_for_dockerfile(root, "Dockerfile").unwrap();
    assert!(ctx.is_excluded("a") && !ctx.is_excluded("b"));
}

/// `bytes` in each compression BuildKit's `ADD` reads, with the file name's usual suffix.
fn compressed(bytes: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(bytes).unwrap();
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
    xz.write_all(bytes).unwrap();
    vec![
        ("gz", gzip(bytes)),
        ("zst", zstd::encode_all(bytes, 3).unwrap()),
        ("bz2", bz.finish().unwrap()),
        ("xz", xz.finish().unwrap()),
    ]
}

#[test]
fn add_unpacks_bzip2_and_xz_tars() {
    let (_dir, ctx, rootfs) = ctx_and_rootfs();
    let tar = sample_tar();
    let c = |name: &str, bytes: &[u8]| {
        std::fs::write(ctx.join(name), bytes).unwrap();
        Context::open(&ctx, Patterns::default()).unwrap()
    };
    for (ext, bytes) in compressed(&tar) {
        let name = format!("t.tar.{ext}");
        let stats = c(&name, &bytes)
            .copy(
                &strings(&[&name]),
                &format!("/{ext}/"),
                &rootfs,
                &add_opts(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((stats.files, stats.bytes), (2, 3), "{name}");
        let base = rootfs.join(ext);
        assert_eq!(stat(&base.join("d/t")), (0o640, 1234, 5678), "{name}");
        assert_eq!(read(&base.join("d/t")), "tt\n", "{name}");
        assert!(
            !base.join(&name).exists(),
            "{name} was copied, not unpacked"
        );
    }
}

#[test]
fn add_decides_what_is_an_archive_by_content_not_by_name() {
    let (_dir, ctx, rootfs) = ctx_and_rootfs();
    let mut files: Vec<(String, Vec<u8>)> = compressed(b"just text, no tar")
        .into_iter()
        .map(|(ext, bytes)| (format!("notatar.tar.{ext}"), bytes))
        .collect();
    files.push((
        "plain.tar.gz".into(),
        b"plain text named like an archive".to_vec(),
    ));
    // An empty tar (only its end blocks) has no first entry: BuildKit copies it too.
    files.push(("empty.tar".into(), vec![0; 1024]));
    for (name, bytes) in &files {
        std::fs::write(ctx.join(name), bytes).unwrap();
    }
    // A tar by any name is unpacked.
    std::fs::write(ctx.join("data.bin"), sample_tar()).unwrap();
    let c = Context::open(&ctx, Patterns::default()).unwrap();
    for (name, bytes) in &files {
        c.copy(&strings(&[name]), "/raw/", &rootfs, &add_opts())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            &std::fs::read(rootfs.join("raw").join(name)).unwrap(),
            bytes,
            "{name}"
        );
    }
    c.copy(&strings(&["data.bin"]), "/bin-tar/", &rootfs, &add_opts())
        .unwrap();
    assert_eq!(read(&rootfs.join("bin-tar/d/t")), "tt\n");
    assert!(!rootfs.join("bin-tar/data.bin").exists());
}

/// A tar with a small first file, then a large one that does not compress.
fn tar_with_a_large_second_file() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut noise = Vec::with_capacity(1 << 20);
    let mut x: u32 = 2463534242;
    while noise.len() < 1 << 20 {
        // xorshift32: bytes no codec can shrink, so a cut anywhere falls inside them.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.extend(x.to_le_bytes());
    }
    for (name, data) in [("first", &b"1\n"[..]), ("noise", &noise[..])] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn a_truncated_archive_fails_naming_it_and_a_stub_is_copied_as_it_is() {
    let (_dir, ctx, rootfs) = ctx_and_rootfs();
    let tar = tar_with_a_large_second_file();
    let mut streams = compressed(&tar);
    streams.push(("plain", tar.clone()));
    for (ext, bytes) in streams {
        // Cut in the middle of the second file: the first entry reads, so it is an archive
        // (BuildKit's test), and the extraction then fails on the missing bytes.
        let name = format!("cut.tar.{ext}");
        std::fs::write(ctx.join(&name), &bytes[..bytes.len() / 2]).unwrap();
        let c = Context::open(&ctx, Patterns::default()).unwrap();
        let err = c
            .copy(&strings(&[&name]), "/cut/", &rootfs, &add_opts())
            .unwrap_err();
        assert!(matches!(err, Error::Archive { .. }), "{name}: {err}");
        assert!(err.to_string().contains(&name), "{name}: {err}");
        assert!(!rootfs.join("cut").join(&name).exists(), "{name}");
        // Cut before any whole entry: no tar shows, so the bytes are copied as they are.
        let stub = format!("stub.tar.{ext}");
        std::fs::write(ctx.join(&stub), &bytes[..40]).unwrap();
        let c = Context::open(&ctx, Patterns::default()).unwrap();
        c.copy(&strings(&[&stub]), "/stub/", &rootfs, &add_opts())
            .unwrap_or_else(|e| panic!("{stub}: {e}"));
        assert_eq!(
            std::fs::read(rootfs.join("stub").join(&stub)).unwrap(),
            &bytes[..40]
        );
    }
}

/// A tar of one file of `size` zero bytes, written through `encoder` (a few kilobytes).
fn zeros_tar<W: Write>(encoder: W, size: u64) -> W {
    let mut b = tar::Builder::new(encoder);
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(size);
    b.append_data(&mut h, "zeros", std::io::repeat(0).take(size))
        .unwrap();
    b.into_inner().unwrap()
}

/// Unmounts on drop, so a failed assertion leaves no tmpfs behind.
struct Mounted<'a>(&'a Path);

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.0).status();
    }
}

#[test]
fn a_bzip2_or_xz_bomb_that_outgrows_the_disk_fails_naming_the_file() {
    let (_dir, ctx, rootfs) = ctx_and_rootfs();
    // The image's file system is a 2 MiB tmpfs; each archive unpacks to 24 MiB.
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&rootfs)
        .status()
        .unwrap();
    assert!(status.success(), "mount tmpfs (the test needs root)");
    let _mounted = Mounted(&rootfs);
    let size = 24 << 20;
    let bz = zeros_tar(
        bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast()),
        size,
    );
    let xz = zeros_tar(liblzma::write::XzEncoder::new(Vec::new(), 0), size);
    for (name, bytes) in [
        ("bomb.tar.bz2", bz.finish().unwrap()),
        ("bomb.tar.xz", xz.finish().unwrap()),
    ] {
        assert!(bytes.len() < 64 << 10, "{name} is {} bytes", bytes.len());
        std::fs::write(ctx.join(name), &bytes).unwrap();
        let c = Context::open(&ctx, Patterns::default()).unwrap();
        let err = c
            .copy(&strings(&[name]), "/bomb/", &rootfs, &add_opts())
            .unwrap_err()
            .to_string();
        assert!(err.contains("No space left on device"), "{name}: {err}");
        assert!(err.contains("zeros"), "{name}: {err}");
        std::fs::remove_dir_all(rootfs.join("bomb")).unwrap();
    }
}

#[test]
fn an_xz_archive_needing_too_much_memory_fails_naming_it_and_is_not_copied() {
    let (_dir, ctx, rootfs) = ctx_and_rootfs();
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
    xz.write_all(&sample_tar()).unwrap();
    let mut bytes = xz.finish().unwrap();
    // The block header after the 12-byte stream header: size, flags, LZMA2 (0x21, one
    // property byte), padding, CRC32. Ask for a 1 GiB dictionary and make the CRC right.
    let (start, end) = (12, 12 + (bytes[12] as usize + 1) * 4);
    assert_eq!(&bytes[start + 2..start + 4], &[0x21, 0x01]);
    bytes[start + 4] = 36;
    let mut crc = flate2::Crc::new();
    crc.update(&bytes[start..end - 4]);
    bytes[end - 4..end].copy_from_slice(&crc.sum().to_le_bytes());
    std::fs::write(ctx.join("big-dict.tar.xz"), &bytes).unwrap();
    let c = Context::open(&ctx, Patterns::default()).unwrap();
    let err = c
        .copy(&strings(&["big-dict.tar.xz"]), "/a/", &rootfs, &add_opts())
        .unwrap_err();
    assert!(matches!(err, Error::Archive { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("big-dict.tar.xz"), "{text}");
    assert!(text.contains("more than 256 MiB of memory"), "{text}");
    assert!(
        !rootfs.join("a/big-dict.tar.xz").exists(),
        "copied as a file"
    );
}
