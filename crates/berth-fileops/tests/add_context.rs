//! ADD of local archives and contexts sent as a tar: extraction rules and escape refusal.

mod common;

use std::io::Write;
use std::path::Path;

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

fn add_opts() -> CopyOptions {
    CopyOptions {
        unpack_archives: true,
        ..Default::default()
    }
}

#[test]
fn add_unpacks_plain_gzip_and_zstd_tars() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, rootfs) = (dir.path().join("ctx"), dir.path().join("rootfs"));
    mkdir(&ctx, 0o755);
    mkdir(&rootfs, 0o755);
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
    let dir = tempfile::tempdir().unwrap();
    let (ctx, rootfs) = (dir.path().join("ctx"), dir.path().join("rootfs"));
    mkdir(&ctx, 0o755);
    mkdir(&rootfs, 0o755);
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

#[test]
fn add_refuses_bzip2_and_xz_archives_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, rootfs) = (dir.path().join("ctx"), dir.path().join("rootfs"));
    mkdir(&ctx, 0o755);
    mkdir(&rootfs, 0o755);
    // Only the magic numbers matter: berth refuses before decompressing anything.
    std::fs::write(ctx.join("t.tar.bz2"), b"BZh91AY&SY rest of the stream").unwrap();
    std::fs::write(ctx.join("t.tar.xz"), b"\xfd7zXZ\0 rest of the stream").unwrap();
    let c = Context::open(&ctx, Patterns::default()).unwrap();
    for (src, name) in [("t.tar.bz2", "bzip2"), ("t.tar.xz", "xz")] {
        let err = c
            .copy(&strings(&[src]), "/a/", &rootfs, &add_opts())
            .unwrap_err();
        assert!(matches!(err, Error::Archive { .. }), "{src}: {err}");
        assert!(
            err.to_string().contains(&format!(
                "{name} archives are not supported by berth's ADD; recompress it with gzip or zstd"
            )),
            "{src}: {err}"
        );
        assert!(!rootfs.join("a").join(src).exists(), "{src} was copied");
    }
    // COPY never unpacks, so it copies them as they are.
    c.copy(
        &strings(&["t.tar.xz"]),
        "/c/",
        &rootfs,
        &CopyOptions::default(),
    )
    .unwrap();
    assert!(rootfs.join("c/t.tar.xz").is_file());
}
