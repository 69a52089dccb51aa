//! The content checksum of what `COPY` sources select, the part of a `COPY` cache key that
//! depends on files (BuildKit's `contenthash`, in spirit: its bytes differ).
//!
//! Hashed, per selected entry in walk order: its path relative to the root, file type,
//! permission bits with setuid/setgid/sticky, uid, gid, symlink target, device number,
//! extended attributes (sorted) and the sha256 of a regular file's bytes (both through the
//! [`Index`] when given). Never timestamps: touching a file keeps the key, as in BuildKit.
//! A top-level symlink is followed, as `COPY` does, and hashed under the name it was selected
//! by. Each source pattern is hashed with what it selected, so the same files picked by a
//! different pattern give a different key.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use berth_rootfs::Meta;

use berth_dockerfile::ignore::Patterns;
use sha2::{Digest, Sha256};

use crate::error::{IoContext, Result};
use crate::index::{FileDigests, Index, digest_xattrs};
use crate::scoped::join_rel;
use crate::source::{Node, Source, Tree};

/// Checksum of `sources` (relative to `root`, Go `filepath.Match` wildcards allowed) minus
/// what `exclude` (`COPY --exclude`) leaves out: `"sha256:<hex>"`. The root is taken whole
/// (a stage or image); see [`checksum_tree`] for a context filtered by `.dockerignore`.
pub fn checksum(
    root: &std::path::Path,
    sources: &[String],
    exclude: &Patterns,
    index: Option<&mut Index>,
) -> Result<String> {
    checksum_tree(Tree::new(root, None), sources, exclude, false, index)
}

/// [`checksum`] over a [`Tree`], which may carry a `.dockerignore`. With
/// `allow_empty_wildcard`, a wildcard selecting nothing adds nothing instead of failing.
pub fn checksum_tree(
    tree: Tree<'_>,
    sources: &[String],
    exclude: &Patterns,
    allow_empty_wildcard: bool,
    index: Option<&mut Index>,
) -> Result<String> {
    Ok(checksum_and_shape(tree, sources, exclude, allow_empty_wildcard, index)?.content)
}

/// Two checksums of what `COPY` sources select, from one walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksums {
    /// Everything a copy depends on: what [`checksum_tree`] returns.
    pub content: String,
    /// Only which paths are selected and their types: equal shapes mean a copy writes the
    /// same set of paths, whatever their bytes.
    pub shape: String,
}

/// [`checksum_tree`], and the shape of the selection beside it.
pub fn checksum_and_shape(
    tree: Tree<'_>,
    sources: &[String],
    exclude: &Patterns,
    allow_empty_wildcard: bool,
    mut index: Option<&mut Index>,
) -> Result<Checksums> {
    let mut hasher = Sha256::new();
    let mut shape = Sha256::new();
    let reader = Source::open(&tree)?;
    for source in sources {
        field(&mut hasher, b"source", source.as_bytes());
        field(&mut shape, b"source", source.as_bytes());
        for m in tree.expand(source, allow_empty_wildcard)? {
            field(&mut hasher, b"match", m.named.as_bytes());
            field(&mut shape, b"match", m.named.as_bytes());
            for node in tree.walk(&m, exclude)? {
                let path = join_rel(&m.named, &node.rel);
                field(&mut shape, b"path", path.as_bytes());
                field(&mut shape, b"type", kind(&node.meta));
                entry(&mut hasher, &path, &node, &reader, index.as_deref_mut())?;
            }
        }
    }
    Ok(Checksums {
        content: format!("sha256:{}", hex::encode(hasher.finalize())),
        shape: format!("sha256:{}", hex::encode(shape.finalize())),
    })
}

/// A file type's name in checksums.
fn kind(meta: &Meta) -> &'static [u8] {
    let ft = meta.file_type();
    if ft.is_dir() {
        b"dir"
    } else if ft.is_symlink() {
        b"symlink"
    } else if ft.is_file() {
        b"file"
    } else if ft.is_fifo() {
        b"fifo"
    } else if ft.is_char_device() {
        b"char"
    } else if ft.is_block_device() {
        b"block"
    } else {
        b"socket"
    }
}

fn entry(
    hasher: &mut Sha256,
    path: &OsStr,
    node: &Node,
    source: &Source,
    index: Option<&mut Index>,
) -> Result<()> {
    let meta = &node.meta;
    let ft = meta.file_type();
    field(hasher, b"path", path.as_bytes());
    field(hasher, b"type", kind(meta));
    field(hasher, b"mode", &(meta.mode() & 0o7777).to_le_bytes());
    field(hasher, b"uid", &meta.uid().to_le_bytes());
    field(hasher, b"gid", &meta.gid().to_le_bytes());
    if ft.is_symlink() {
        let target = source.read_link(node)?;
        field(hasher, b"link", target.as_encoded_bytes());
    }
    if ft.is_char_device() || ft.is_block_device() {
        field(hasher, b"rdev", &meta.rdev().to_le_bytes());
    }
    if ft.is_file() {
        // Read through the source's root; the index only keys its records by host path.
        let compute = || -> Result<FileDigests> {
            let xattrs = source.xattrs(node)?;
            FileDigests::of(source.open_file(node)?, &xattrs).at(&node.host)
        };
        let digests = match index {
            Some(index) => index.file_digests_with(&node.host, meta, compute)?,
            None => compute()?,
        };
        field(hasher, b"xattrs", &digests.xattrs);
        field(hasher, b"sha256", &digests.content);
    } else {
        let xattrs = digest_xattrs(&source.xattrs(node)?);
        field(hasher, b"xattrs", &xattrs);
    }
    Ok(())
}

/// Length-prefixed, so no two different entries hash the same byte stream.
fn field(hasher: &mut Sha256, tag: &[u8], value: &[u8]) {
    hasher.update(tag);
    hasher.update((value.len() as u64).to_le_bytes());
    hasher.update(value);
}
