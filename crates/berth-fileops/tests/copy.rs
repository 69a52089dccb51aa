//! COPY semantics, each rule checked with the modes, owners and bytes a user would see.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::Path;

use berth_dockerfile::ignore::Patterns;
use berth_fileops::{Context, CopyOptions, Error, copy};
use common::*;

struct Fixture {
    _dir: tempfile::TempDir,
    ctx: std::path::PathBuf,
    rootfs: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    let rootfs = dir.path().join("rootfs");
    mkdir(&ctx, 0o755);
    mkdir(&rootfs, 0o755);
    Fixture {
        ctx,
        rootfs,
        _dir: dir,
    }
}

fn context(ctx: &Path) -> Context {
    Context::open(ctx, Patterns::default()).unwrap()
}

fn ctx_copy(
    f: &Fixture,
    sources: &[&str],
    dest: &str,
    opts: &CopyOptions,
) -> berth_fileops::Result<berth_fileops::CopyStats> {
    context(&f.ctx).copy(&strings(sources), dest, &f.rootfs, opts)
}

#[test]
fn file_goes_to_dir_or_becomes_the_path() {
    let f = fixture();
    put(&f.ctx.join("f"), "hello\n", 0o640);
    chown(&f.ctx.join("f"), 1234, 5678);
    set_mtime(&f.ctx.join("f"), 981_173_106);
    mkdir(&f.rootfs.join("tmp"), 0o1777);
    let opts = CopyOptions::default();
    let stats = ctx_copy(&f, &["f"], "/a/b/f", &opts).unwrap();
    assert_eq!((stats.files, stats.bytes), (1, 6));
    ctx_copy(&f, &["f"], "/dir/", &opts).unwrap();
    ctx_copy(&f, &["f"], "/tmp", &opts).unwrap();
    let r = &f.rootfs;
    assert_eq!(read(&r.join("a/b/f")), "hello\n");
    // Context files become root's, keep mode and mtime; created parents are 0755 root's.
    assert_eq!(stat(&r.join("a/b/f")), (0o640, 0, 0));
    assert_eq!(mtime(&r.join("a/b/f")), 981_173_106);
    assert_eq!(stat(&r.join("a")), (0o755, 0, 0));
    assert_eq!(stat(&r.join("a/b")), (0o755, 0, 0));
    assert_eq!(read(&r.join("dir/f")), "hello\n");
    // An existing directory without a trailing slash is still a directory.
    assert_eq!(read(&r.join("tmp/f")), "hello\n");
    assert_eq!(stat(&r.join("tmp")), (0o1777, 0, 0));
}

#[test]
fn relative_dest_follows_workdir() {
    let f = fixture();
    put(&f.ctx.join("f"), "x", 0o644);
    let opts = CopyOptions {
        workdir: "/w".into(),
        ..Default::default()
    };
    ctx_copy(&f, &["f"], "rel", &opts).unwrap();
    ctx_copy(&f, &["f"], ".", &opts).unwrap();
    ctx_copy(&f, &["f"], "./sub/", &opts).unwrap();
    assert_eq!(read(&f.rootfs.join("w/rel")), "x");
    assert_eq!(read(&f.rootfs.join("w/f")), "x");
    assert_eq!(read(&f.rootfs.join("w/sub/f")), "x");
    assert_eq!(stat(&f.rootfs.join("w")), (0o755, 0, 0));
}

#[test]
fn several_sources_need_a_directory_dest() {
    let f = fixture();
    put(&f.ctx.join("f"), "1", 0o644);
    put(&f.ctx.join("g"), "22", 0o600);
    let opts = CopyOptions::default();
    let err = ctx_copy(&f, &["f", "g"], "/multi", &opts).unwrap_err();
    assert!(matches!(err, Error::DestNotDir { .. }));
    assert!(err.to_string().starts_with("When using COPY with more than one source file, the destination must be a directory and end with a /"), "{err}");
    assert!(!f.rootfs.join("multi").exists());
    let err = ctx_copy(&f, &["?"], "/multi", &opts).unwrap_err();
    assert!(matches!(err, Error::DestNotDir { .. }));
    let stats = ctx_copy(&f, &["f", "g"], "/multi/", &opts).unwrap();
    assert_eq!((stats.files, stats.bytes), (2, 3));
    assert_eq!(stat(&f.rootfs.join("multi/g")), (0o600, 0, 0));
    // One wildcard match into a file path is fine (`COPY *.jar app.jar`).
    ctx_copy(&f, &["g*"], "/single", &opts).unwrap();
    assert_eq!(read(&f.rootfs.join("single")), "22");
}

/// A context with a nested tree: modes, owners, a symlink, a hard link, a setuid file.
fn tree(ctx: &Path) {
    mkdir(&ctx.join("dir/sub"), 0o700);
    std::fs::set_permissions(
        ctx.join("dir/sub"),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    put(&ctx.join("dir/sub/x"), "inner\n", 0o644);
    put(&ctx.join("dir/s"), "suid\n", 0o4755);
    symlink("sub/x", ctx.join("dir/link")).unwrap();
    std::fs::hard_link(ctx.join("dir/sub/x"), ctx.join("dir/hard")).unwrap();
    chown(&ctx.join("dir"), 1000, 1000);
    chown(&ctx.join("dir/sub/x"), 1000, 1000);
    set_mtime(&ctx.join("dir/sub/x"), 1_000_000_000);
    set_mtime(&ctx.join("dir/link"), 1_000_000_001);
    set_mtime(&ctx.join("dir/sub"), 1_000_000_002);
}

#[test]
fn dir_source_copies_contents_keeping_metadata() {
    let f = fixture();
    tree(&f.ctx);
    let stats = ctx_copy(&f, &["dir"], "/dd/", &CopyOptions::default()).unwrap();
    let r = &f.rootfs;
    assert_eq!(stats.files, 4);
    // The destination is created 0755 root's, not with the source dir's 0700 1000:1000.
    assert_eq!(stat(&r.join("dd")), (0o755, 0, 0));
    assert_eq!(stat(&r.join("dd/sub")), (0o750, 0, 0));
    assert_eq!(mtime(&r.join("dd/sub")), 1_000_000_002);
    assert_eq!(stat(&r.join("dd/sub/x")), (0o644, 0, 0));
    assert_eq!(mtime(&r.join("dd/sub/x")), 1_000_000_000);
    assert_eq!(stat(&r.join("dd/s")), (0o4755, 0, 0));
    assert_eq!(
        std::fs::read_link(r.join("dd/link")).unwrap(),
        Path::new("sub/x")
    );
    assert_eq!(mtime(&r.join("dd/link")), 1_000_000_001);
    let a = std::fs::metadata(r.join("dd/hard")).unwrap();
    let b = std::fs::metadata(r.join("dd/sub/x")).unwrap();
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 2), "hard link kept");
    assert!(!r.join("dd/dir").exists());
}

#[test]
fn existing_dest_dir_is_merged_and_keeps_its_metadata() {
    let f = fixture();
    tree(&f.ctx);
    mkdir(&f.rootfs.join("ex/sub"), 0o700);
    mkdir(&f.rootfs.join("ex"), 0o700);
    chown(&f.rootfs.join("ex"), 3, 3);
    put(&f.rootfs.join("ex/keep"), "kept", 0o600);
    put(&f.rootfs.join("ex/s"), "old contents, longer", 0o600);
    let opts = CopyOptions {
        chown: Some((7, 8)),
        ..Default::default()
    };
    ctx_copy(&f, &["dir"], "/ex", &opts).unwrap();
    let r = &f.rootfs;
    assert_eq!(stat(&r.join("ex")), (0o700, 3, 3));
    assert_eq!(read(&r.join("ex/keep")), "kept");
    assert_eq!(read(&r.join("ex/s")), "suid\n");
    assert_eq!(
        stat(&r.join("ex/s")),
        (0o4755, 7, 8),
        "setuid survives chown"
    );
    assert_eq!(stat(&r.join("ex/sub")), (0o750, 7, 8));
}

#[test]
fn chown_owns_copied_entries_and_created_parents() {
    let f = fixture();
    tree(&f.ctx);
    let opts = CopyOptions {
        chown: Some((7, 8)),
        ..Default::default()
    };
    ctx_copy(&f, &["dir"], "/c/d/", &opts).unwrap();
    let r = &f.rootfs;
    assert_eq!(stat(&r.join("c")), (0o755, 7, 8));
    assert_eq!(stat(&r.join("c/d")), (0o755, 7, 8));
    assert_eq!(stat(&r.join("c/d/sub/x")), (0o644, 7, 8));
    assert_eq!(stat(&r.join("c/d/link")).1, 7);
}

#[test]
fn chmod_sets_copied_files_and_dirs_not_created_parents() {
    let f = fixture();
    tree(&f.ctx);
    let opts = CopyOptions {
        chmod: Some(0o600),
        ..Default::default()
    };
    ctx_copy(&f, &["dir"], "/cm/", &opts).unwrap();
    let r = &f.rootfs;
    assert_eq!(stat(&r.join("cm")), (0o755, 0, 0));
    assert_eq!(stat(&r.join("cm/sub")), (0o600, 0, 0));
    assert_eq!(stat(&r.join("cm/sub/x")), (0o600, 0, 0));
    assert_eq!(stat(&r.join("cm/s")), (0o600, 0, 0));
    assert_eq!(
        stat(&r.join("cm/link")).0,
        0o777,
        "symlinks keep their mode"
    );
}

#[test]
fn stage_sources_keep_owners() {
    let f = fixture();
    mkdir(&f.ctx.join("s/n"), 0o711);
    put(&f.ctx.join("s/n/f"), "x\n", 0o644);
    chown(&f.ctx.join("s/n"), 33, 44);
    chown(&f.ctx.join("s/n/f"), 33, 44);
    copy(
        &f.ctx,
        &strings(&["/s"]),
        "/fromstage/",
        &f.rootfs,
        &CopyOptions::default(),
    )
    .unwrap();
    copy(
        &f.ctx,
        &strings(&["/s/n"]),
        "/fs2/q/",
        &f.rootfs,
        &CopyOptions::default(),
    )
    .unwrap();
    let r = &f.rootfs;
    assert_eq!(stat(&r.join("fromstage")), (0o755, 0, 0));
    assert_eq!(stat(&r.join("fromstage/n")), (0o711, 33, 44));
    assert_eq!(stat(&r.join("fromstage/n/f")), (0o644, 33, 44));
    assert_eq!(stat(&r.join("fs2/q")), (0o755, 0, 0));
    assert_eq!(stat(&r.join("fs2/q/f")), (0o644, 33, 44));
}

#[test]
fn top_level_symlink_is_followed_and_keeps_its_name() {
    let f = fixture();
    put(&f.ctx.join("f"), "target", 0o640);
    symlink("f", f.ctx.join("topl")).unwrap();
    symlink("dir", f.ctx.join("tdir")).unwrap();
    put(&f.ctx.join("dir/y"), "y", 0o644);
    ctx_copy(&f, &["topl"], "/d/", &CopyOptions::default()).unwrap();
    ctx_copy(&f, &["tdir"], "/e/", &CopyOptions::default()).unwrap();
    let r = &f.rootfs;
    let meta = std::fs::symlink_metadata(r.join("d/topl")).unwrap();
    assert!(meta.is_file());
    assert_eq!(read(&r.join("d/topl")), "target");
    assert_eq!(stat(&r.join("d/topl")), (0o640, 0, 0));
    assert_eq!(read(&r.join("e/y")), "y");
}

#[test]
fn wildcards_match_per_component() {
    let f = fixture();
    put(&f.ctx.join("dir/a.txt"), "a", 0o644);
    put(&f.ctx.join("dir2/b.txt"), "b", 0o644);
    put(&f.ctx.join("dir2/c.md"), "c", 0o644);
    put(&f.ctx.join("x/sub/d.txt"), "d", 0o644);
    let opts = CopyOptions::default();
    ctx_copy(&f, &["d*"], "/glob/", &opts).unwrap();
    ctx_copy(&f, &["*/*.txt"], "/txt/", &opts).unwrap();
    ctx_copy(&f, &["dir[0-9]/[bc].*"], "/cls/", &opts).unwrap();
    let r = &f.rootfs;
    assert_eq!(read(&r.join("glob/a.txt")), "a");
    assert_eq!(read(&r.join("glob/c.md")), "c");
    assert_eq!(read(&r.join("txt/a.txt")), "a");
    assert_eq!(read(&r.join("txt/b.txt")), "b");
    assert!(!r.join("txt/d.txt").exists(), "* does not cross /");
    assert_eq!(read(&r.join("cls/c.md")), "c");
    let err = ctx_copy(&f, &["nope*"], "/n/", &opts).unwrap_err();
    assert!(matches!(err, Error::NoMatch { .. }));
    assert!(err.to_string().contains("\"nope*\""), "{err}");
    assert!(err.to_string().contains(".dockerignore"), "{err}");
    let lenient = CopyOptions {
        allow_empty_wildcard: true,
        ..Default::default()
    };
    let stats = ctx_copy(&f, &["nope*"], "/n/", &lenient).unwrap();
    assert_eq!(stats.files, 0);
    let err = ctx_copy(&f, &["missing/file"], "/n/", &opts).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to compute cache key: \"/missing/file\" not found: check that it exists in the build context and is not excluded by .dockerignore"
    );
}

#[test]
fn hostile_context_symlink_never_reads_the_host() {
    let f = fixture();
    symlink("/etc/passwd", f.ctx.join("evil")).unwrap();
    symlink("../../../../../etc/passwd", f.ctx.join("evil2")).unwrap();
    mkdir(&f.ctx.join("d"), 0o755);
    symlink("/etc", f.ctx.join("d/etc")).unwrap();
    let opts = CopyOptions::default();
    for src in ["evil", "evil2", "d/etc/passwd"] {
        let err = ctx_copy(&f, &[src], "/x", &opts).unwrap_err();
        assert!(
            err.to_string().contains("\"/") && err.to_string().contains("not found"),
            "{src}: {err}"
        );
        assert!(!f.rootfs.join("x").exists());
    }
    // With an etc/passwd inside the context, that one is what the link means.
    put(&f.ctx.join("etc/passwd"), "context passwd\n", 0o644);
    ctx_copy(&f, &["evil"], "/x", &opts).unwrap();
    ctx_copy(&f, &["evil2"], "/y", &opts).unwrap();
    assert_eq!(read(&f.rootfs.join("x")), "context passwd\n");
    assert_eq!(read(&f.rootfs.join("y")), "context passwd\n");
    // Copying the directory keeps the link as a link; it is not followed.
    ctx_copy(&f, &["d"], "/dd/", &opts).unwrap();
    assert_eq!(
        std::fs::read_link(f.rootfs.join("dd/etc")).unwrap(),
        Path::new("/etc")
    );
}

#[test]
fn dotdot_and_absolute_sources_stay_in_the_context() {
    let f = fixture();
    put(&f.ctx.join("x"), "in context", 0o644);
    // A sibling of the context the source must not reach.
    put(&f.ctx.parent().unwrap().join("x"), "outside", 0o644);
    let opts = CopyOptions::default();
    ctx_copy(&f, &["../x"], "/up", &opts).unwrap();
    ctx_copy(&f, &["/x"], "/abs", &opts).unwrap();
    ctx_copy(&f, &["../../../x"], "/up3", &opts).unwrap();
    assert_eq!(read(&f.rootfs.join("up")), "in context");
    assert_eq!(read(&f.rootfs.join("abs")), "in context");
    assert_eq!(read(&f.rootfs.join("up3")), "in context");
}

#[test]
fn dest_symlinks_resolve_inside_rootfs() {
    let f = fixture();
    put(&f.ctx.join("f"), "payload", 0o644);
    mkdir(&f.rootfs.join("etc"), 0o755);
    put(&f.rootfs.join("etc/passwd"), "image passwd", 0o644);
    symlink("/etc", f.rootfs.join("app")).unwrap();
    symlink("/../../tmp", f.rootfs.join("esc")).unwrap();
    symlink(
        "../../../../../../tmp/berth-fileops-escape",
        f.rootfs.join("esc2"),
    )
    .unwrap();
    symlink("/etc/passwd", f.rootfs.join("lnk2")).unwrap();
    let opts = CopyOptions::default();
    ctx_copy(&f, &["f"], "/app/x", &opts).unwrap();
    assert_eq!(read(&f.rootfs.join("etc/x")), "payload");
    ctx_copy(&f, &["f"], "/esc/f", &opts).unwrap();
    assert_eq!(read(&f.rootfs.join("tmp/f")), "payload");
    ctx_copy(&f, &["f"], "/esc2/", &opts).unwrap();
    assert_eq!(
        read(&f.rootfs.join("tmp/berth-fileops-escape/f")),
        "payload"
    );
    assert!(!Path::new("/tmp/berth-fileops-escape").exists());
    // A symlink at the end of dest is written through, inside the image, as BuildKit does.
    ctx_copy(&f, &["f"], "/lnk2", &opts).unwrap();
    assert_eq!(read(&f.rootfs.join("etc/passwd")), "payload");
    assert!(
        std::fs::symlink_metadata(f.rootfs.join("lnk2"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A directory copied onto an image symlink merges into its target inside the rootfs.
    put(&f.ctx.join("tree/app/y"), "y", 0o644);
    ctx_copy(&f, &["tree"], "/", &opts).unwrap();
    assert_eq!(read(&f.rootfs.join("etc/y")), "y");
}

#[test]
fn existing_files_are_replaced_dirs_are_not() {
    let f = fixture();
    put(&f.ctx.join("f"), "new", 0o644);
    put(&f.rootfs.join("old"), "old and longer", 0o600);
    chown(&f.rootfs.join("old"), 5, 5);
    mkdir(&f.rootfs.join("adir/f"), 0o755);
    let opts = CopyOptions::default();
    ctx_copy(&f, &["f"], "/old", &opts).unwrap();
    assert_eq!(read(&f.rootfs.join("old")), "new");
    assert_eq!(stat(&f.rootfs.join("old")), (0o644, 0, 0));
    let err = ctx_copy(&f, &["f"], "/adir/", &opts).unwrap_err();
    assert!(matches!(err, Error::IsADirectory { .. }), "{err}");
    put(&f.rootfs.join("file"), "", 0o644);
    let err = ctx_copy(&f, &["f"], "/file/x/", &opts).unwrap_err();
    assert!(matches!(err, Error::NotADirectory { .. }), "{err}");
}

#[test]
fn dockerignore_hides_files_from_copy() {
    let f = fixture();
    put(&f.ctx.join("app/main.rs"), "fn main() {}", 0o644);
    put(&f.ctx.join("app/secret.key"), "k", 0o600);
    put(&f.ctx.join("logs/a.log"), "a", 0o644);
    put(&f.ctx.join("logs/keep.log"), "keep", 0o644);
    put(&f.ctx.join("Dockerfile"), "FROM scratch\n", 0o644);
    let ignore = Patterns::parse("**/*.key\nlogs\n!logs/keep.log\nDockerfile\n").unwrap();
    let ctx = Context::open(&f.ctx, ignore).unwrap();
    let opts = CopyOptions::default();
    ctx.copy(&strings(&["."]), "/all/", &f.rootfs, &opts)
        .unwrap();
    let r = &f.rootfs;
    assert_eq!(read(&r.join("all/app/main.rs")), "fn main() {}");
    assert!(!r.join("all/app/secret.key").exists());
    assert!(!r.join("all/logs/a.log").exists());
    assert_eq!(read(&r.join("all/logs/keep.log")), "keep");
    assert!(
        !r.join("all/Dockerfile").exists(),
        "COPY follows the patterns for the Dockerfile"
    );
    // The builder itself still reads the Dockerfile.
    assert_eq!(ctx.read_file("Dockerfile").unwrap(), b"FROM scratch\n");
    let err = ctx
        .copy(&strings(&["app/secret.key"]), "/k", &f.rootfs, &opts)
        .unwrap_err();
    assert!(
        err.to_string().contains("\"/app/secret.key\" not found"),
        "{err}"
    );
    let err = ctx
        .copy(&strings(&["*.key", "app/*.key"]), "/k/", &f.rootfs, &opts)
        .unwrap_err();
    assert!(matches!(err, Error::NoMatch { .. }), "{err}");
}

#[test]
fn exclude_is_relative_to_the_source() {
    let f = fixture();
    put(&f.ctx.join("src/a.txt"), "a", 0o644);
    put(&f.ctx.join("src/b.md"), "b", 0o644);
    put(&f.ctx.join("src/deep/c.txt"), "c", 0o644);
    put(&f.ctx.join("src/deep/keep.txt"), "k", 0o644);
    put(&f.ctx.join("top.txt"), "t", 0o644);
    put(&f.ctx.join("top.md"), "m", 0o644);
    let opts = CopyOptions {
        exclude: Patterns::from_list(&["**/*.txt", "!deep/keep.txt"]).unwrap(),
        ..Default::default()
    };
    ctx_copy(&f, &["src"], "/out/", &opts).unwrap();
    ctx_copy(&f, &["top.*"], "/top/", &opts).unwrap();
    let r = &f.rootfs;
    assert_eq!(read(&r.join("out/b.md")), "b");
    assert!(!r.join("out/a.txt").exists());
    assert!(!r.join("out/deep/c.txt").exists());
    assert_eq!(read(&r.join("out/deep/keep.txt")), "k");
    assert_eq!(read(&r.join("top/top.md")), "m");
    assert!(!r.join("top/top.txt").exists());
}

#[test]
fn parents_keep_the_source_path() {
    let f = fixture();
    put(&f.ctx.join("a/b/c.txt"), "c", 0o644);
    put(&f.ctx.join("a/x/c.txt"), "xc", 0o644);
    mkdir(&f.ctx.join("a/d"), 0o700);
    put(&f.ctx.join("a/d/e"), "e", 0o644);
    let opts = CopyOptions {
        parents: true,
        ..Default::default()
    };
    ctx_copy(&f, &["a/*/c.txt", "a/d"], "/dst/", &opts).unwrap();
    ctx_copy(&f, &["a/./b/c.txt"], "/piv/", &opts).unwrap();
    let r = &f.rootfs;
    assert_eq!(read(&r.join("dst/a/b/c.txt")), "c");
    assert_eq!(read(&r.join("dst/a/x/c.txt")), "xc");
    assert_eq!(read(&r.join("dst/a/d/e")), "e");
    assert_eq!(stat(&r.join("dst/a")), (0o755, 0, 0));
    assert_eq!(read(&r.join("piv/b/c.txt")), "c");
}

#[test]
fn special_files_and_xattrs_are_copied() {
    let f = fixture();
    let fifo = f.ctx.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o640) }, 0);
    put(&f.ctx.join("x"), "x", 0o644);
    xattr::set(f.ctx.join("x"), "user.berth", b"v1").unwrap();
    ctx_copy(&f, &["fifo", "x"], "/s/", &CopyOptions::default()).unwrap();
    let meta = std::fs::symlink_metadata(f.rootfs.join("s/fifo")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()));
    assert_eq!(meta.mode() & 0o7777, 0o640);
    assert_eq!(
        xattr::get(f.rootfs.join("s/x"), "user.berth").unwrap(),
        Some(b"v1".to_vec())
    );
}

/// A context 800 levels deep is walked and copied on a thread with a small stack: the walk
/// and the copy keep a stack of their own, so depth never overflows a thread's stack.
#[test]
fn a_deep_tree_copies_on_a_small_stack() {
    const DEPTH: usize = 800;
    let f = fixture();
    let root = berth_rootfs::Root::open(&f.ctx).unwrap();
    let mut at = root.mkdir("d", 0o755).unwrap();
    for _ in 1..DEPTH {
        at = at.mkdir("d", 0o755).unwrap();
    }
    at.create_file("leaf", 0o644).unwrap();
    drop(at);
    let stats = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn_scoped(s, || ctx_copy(&f, &["."], "/", &CopyOptions::default()))
            .unwrap()
            .join()
            .unwrap()
    })
    .unwrap();
    assert_eq!(stats.files, 1);
    let leaf = format!("{}/leaf", vec!["d"; DEPTH].join("/"));
    assert!(f.rootfs.join(leaf).is_file());
}

/// Names are bytes on Linux, as BuildKit copies them: a name that is not UTF-8 is copied byte
/// for byte by `COPY .`, a directory source and a wildcard (each stray byte is one character
/// to `?`, as Go's `filepath.Match` reads it), and `.dockerignore` patterns match it the same
/// way; it counts in the cache key like any name.
#[test]
fn names_that_are_not_utf8_are_copied_byte_for_byte() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let f = fixture();
    put(&f.ctx.join("good"), "good\n", 0o644);
    let bad = OsStr::from_bytes(b"bad\xff\xfe");
    put(&f.ctx.join("sub").join(bad), "bad\n", 0o644);
    let opts = CopyOptions::default();
    for (source, dest, copied) in [
        (".", "/all/", "all/sub"),
        ("sub", "/dir/", "dir"),
        ("sub/b*", "/star/", "star"),
        ("sub/bad??", "/marks/", "marks"),
    ] {
        ctx_copy(&f, &[source], dest, &opts).unwrap();
        let at = f.rootfs.join(copied).join(bad);
        assert_eq!(read(&at), "bad\n", "COPY {source} {dest}");
    }
    // Three characters where two bytes stray: nothing.
    let err = ctx_copy(&f, &["sub/bad???"], "/none/", &opts).unwrap_err();
    assert!(err.to_string().contains("matches nothing"), "{err}");

    let sum = |ctx: &Context| ctx.checksum(&strings(&["."]), &Patterns::default(), false, None);
    let before = sum(&Context::open(&f.ctx, Patterns::default()).unwrap()).unwrap();
    fs::rename(
        f.ctx.join("sub").join(bad),
        f.ctx.join("sub/bad\u{fffd}\u{fffd}"),
    )
    .unwrap();
    let renamed = sum(&Context::open(&f.ctx, Patterns::default()).unwrap()).unwrap();
    assert_ne!(
        before, renamed,
        "the key tells the bytes from their replacement"
    );
    fs::rename(
        f.ctx.join("sub/bad\u{fffd}\u{fffd}"),
        f.ctx.join("sub").join(bad),
    )
    .unwrap();

    // Excluded by .dockerignore, it is not part of the build.
    for pattern in ["sub/bad*\n", "sub/bad??\n"] {
        let ignored = Context::open(&f.ctx, Patterns::parse(pattern).unwrap()).unwrap();
        let dest = f.rootfs.join("ignored");
        let _ = fs::remove_dir_all(&dest);
        ignored
            .copy(&strings(&["."]), "/ignored/", &f.rootfs, &opts)
            .unwrap();
        assert!(dest.join("sub").is_dir(), "{pattern}");
        assert!(!dest.join("sub").join(bad).exists(), "{pattern}");
        assert!(dest.join("good").is_file(), "{pattern}");
    }
}
