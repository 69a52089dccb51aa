//! The copy-and-compare snapshotter, for where overlayfs can't be mounted.
//!
//! A step's root file system is made by copying the stage's unpacked layers, bottom first,
//! into a plain directory (whiteouts delete, opaque directories replace); what the step
//! changed is found by comparing the tree before and after it. Every write updates an
//! inode's change time, which nothing can set back, so a changed file is never missed even
//! when a command restores its modification time. The tree is written and read through
//! berth-rootfs (descriptors, symlinks never followed).

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use berth_layer::Entries;
use berth_layer::entry::{Entry, Kind, canonical_order};
use berth_rootfs::path::{join, split};
use berth_rootfs::{Dir, Links, Meta, Node, OFlags, Resolver, Root, Time};

use crate::error::BuildError;

/// overlayfs' marker of a directory that hides the lower ones.
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// overlayfs' own attributes, never copied.
const OVERLAY_XATTRS: &str = "trusted.overlay.";

/// The step's tree, written only through descriptors: a symlink a lower layer (or a racing
/// process) put in it is never followed. Lowers are read the same way.
fn open_root(target: &Path) -> Result<Root, BuildError> {
    Root::open_with(target, Resolver::detect(), Links::Refuse).map_err(|e| rootfs_error(target, e))
}

fn rootfs_error(root: &Path, e: berth_rootfs::Error) -> BuildError {
    let path = root.join(e.path());
    BuildError::io(&path, e.into())
}

/// Copies the merged view of `lowers` (top first, in the overlay driver's format) into
/// `target`.
pub fn materialize(lowers: &[PathBuf], target: &Path) -> Result<(), BuildError> {
    fs::create_dir_all(target).map_err(|e| BuildError::io(target, e))?;
    let root = open_root(target)?;
    for lower in lowers.iter().rev() {
        let mut links = HashMap::new();
        let lower_root = open_root(lower)?;
        let from = lower_root.top().map_err(|e| rootfs_error(lower, e))?;
        let top = root.top().map_err(|e| rootfs_error(target, e))?;
        merge_dir(from, top, &mut links).map_err(|e| match e {
            Merge::Read(e) => BuildError::io(lower, e),
            Merge::Lower(e) => rootfs_error(lower, e),
            Merge::Write(e) => rootfs_error(target, e),
        })?;
    }
    Ok(())
}

/// A failure to read a lower layer, or to write the tree.
enum Merge {
    /// Copying bytes.
    Read(io::Error),
    /// Reading the lower layer's tree.
    Lower(berth_rootfs::Error),
    Write(berth_rootfs::Error),
}

impl From<io::Error> for Merge {
    fn from(e: io::Error) -> Merge {
        Merge::Read(e)
    }
}

impl From<berth_rootfs::Error> for Merge {
    fn from(e: berth_rootfs::Error) -> Merge {
        Merge::Write(e)
    }
}

/// Merges one unpacked layer directory `src` (by its descriptor, inside the lower's root)
/// into `dst`.
///
/// Iterative, with an explicit stack of the directories being merged (one descriptor per level
/// on each side): a layer thousands of levels deep never overflows the thread's stack.
fn merge_dir<'s, 'd>(
    src: Dir<'s>,
    dst: Dir<'d>,
    links: &mut HashMap<(u64, u64), OsString>,
) -> Result<(), Merge> {
    let mut stack = vec![Level::open(src, dst, None)?];
    while let Some(level) = stack.last_mut() {
        let Some(name) = level.names.next() else {
            let done = stack.pop();
            // A directory's own metadata goes on once its contents are written, so writing
            // them does not change its times.
            if let (
                Some(Level {
                    entry: Some((name, meta)),
                    ..
                }),
                Some(parent),
            ) = (done, stack.last())
            {
                copy_meta(&parent.src, &parent.dst, &name, &meta)?;
            }
            continue;
        };
        if let Some(below) = merge_entry(&level.src, &level.dst, &name, links)? {
            stack.push(below);
        }
    }
    Ok(())
}

/// One directory being merged: both sides' descriptors, the names still to merge, and its
/// own name and metadata in the parent (none for the top), applied once it is done.
struct Level<'s, 'd> {
    src: Dir<'s>,
    dst: Dir<'d>,
    names: std::vec::IntoIter<OsString>,
    entry: Option<(OsString, Meta)>,
}

impl<'s, 'd> Level<'s, 'd> {
    fn open(
        src: Dir<'s>,
        dst: Dir<'d>,
        entry: Option<(OsString, Meta)>,
    ) -> Result<Level<'s, 'd>, Merge> {
        let mut names = src.read_dir().map_err(Merge::Lower)?;
        names.sort();
        Ok(Level {
            src,
            dst,
            names: names.into_iter(),
            entry,
        })
    }
}

/// Merges the entry `name` of `src` into `dst`; a directory to merge next comes back opened
/// on both sides.
fn merge_entry<'s, 'd>(
    src: &Dir<'s>,
    dst: &Dir<'d>,
    name: &OsStr,
    links: &mut HashMap<(u64, u64), OsString>,
) -> Result<Option<Level<'s, 'd>>, Merge> {
    let Some(meta) = src.lstat(name).map_err(Merge::Lower)? else {
        let gone = src.root().host_of(src.path_of(name));
        return Err(Merge::Read(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{}: gone while it was read", gone.display()),
        )));
    };
    let ft = meta.file_type();
    if ft.is_char_device() && meta.rdev() == 0 {
        dst.remove_all(name)?;
        return Ok(None);
    }
    if ft.is_dir() {
        let opaque = src
            .get_xattr(name, OPAQUE_XATTR)
            .map_err(Merge::Lower)?
            .is_some_and(|v| v == b"y");
        let sub = match dst.lstat(name)? {
            Some(m) if m.is_dir() && !opaque => dst.open_dir(name)?,
            Some(_) => {
                dst.remove_all(name)?;
                dst.mkdir(name, 0o700)?
            }
            None => dst.mkdir(name, 0o700)?,
        };
        let from = src.open_dir(name).map_err(Merge::Lower)?;
        return Ok(Some(Level::open(from, sub, Some((name.to_owned(), meta)))?));
    }
    dst.remove_all(name)?;
    if ft.is_file() {
        if meta.nlink() > 1 {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                dst.root().hardlink(first, dst.path_of(name))?;
                return Ok(None);
            }
            links.insert((meta.dev(), meta.ino()), dst.path_of(name));
        }
        let mut to = dst.create_file(name, 0o600)?;
        let mut from = src.open(name, OFlags::RDONLY, 0).map_err(Merge::Lower)?;
        io::copy(&mut from, &mut to)?;
    } else if ft.is_symlink() {
        dst.symlink(src.readlink(name).map_err(Merge::Lower)?, name)?;
    } else if ft.is_fifo() {
        dst.mknod(name, Node::Fifo, 0o600)?;
    } else {
        // Devices are never created on the host (applying a layer leaves a placeholder).
        dst.create_file(name, 0o600)?;
    }
    copy_meta(src, dst, name, &meta)?;
    Ok(None)
}

/// Owner, mode, xattrs (not overlay's own) and times of `name` in `src` (described by
/// `meta`) onto `name` in `dst`.
fn copy_meta(src: &Dir<'_>, dst: &Dir<'_>, name: &OsStr, meta: &Meta) -> Result<(), Merge> {
    dst.chown(name, meta.uid(), meta.gid())?;
    if !meta.file_type().is_symlink() {
        dst.chmod(name, meta.mode() & 0o7777)?;
        for key in src.list_xattrs(name).map_err(Merge::Lower)? {
            if key.starts_with(OVERLAY_XATTRS) {
                continue;
            }
            // Removed meanwhile: it is not there.
            let Some(value) = src.get_xattr(name, &key).map_err(Merge::Lower)? else {
                continue;
            };
            dst.set_xattr(name, &key, &value)?;
        }
    }
    Ok(dst.utimens(name, Time::accessed(meta), Time::modified(meta))?)
}

/// What identifies a path's state: any write changes the change time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    ctime: (i64, i64),
    mtime: (i64, i64),
    size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// Every path of a tree (relative, bytes) and its stamp.
pub struct Inventory(HashMap<OsString, Stamp>);

impl Inventory {
    /// Every path of the tree at `root`, depth first, with an explicit stack of the open
    /// directories on the way down: one descriptor per level, however wide or deep the tree
    /// (a queue of every directory seen would hold one per directory of a whole distribution).
    pub fn of(root: &Path) -> Result<Inventory, BuildError> {
        let rootfs = open_root(root)?;
        let failed = |e| rootfs_error(root, e);
        let mut map = HashMap::new();
        let top = rootfs.top().map_err(failed)?;
        let names = top.read_dir().map_err(failed)?.into_iter();
        let mut stack = vec![(top, names)];
        while let Some((dir, names)) = stack.last_mut() {
            let Some(name) = names.next() else {
                stack.pop();
                continue;
            };
            let Some(m) = dir.lstat(&name).map_err(failed)? else {
                continue; // gone meanwhile
            };
            let below = if m.is_dir() {
                Some(dir.open_dir(&name).map_err(failed)?)
            } else {
                None
            };
            map.insert(
                dir.path_of(&name),
                Stamp {
                    ino: m.ino(),
                    ctime: (m.ctime(), m.ctime_nsec()),
                    mtime: (m.mtime(), m.mtime_nsec()),
                    size: m.len(),
                    mode: m.mode(),
                    uid: m.uid(),
                    gid: m.gid(),
                },
            );
            if let Some(below) = below {
                let names = below.read_dir().map_err(failed)?.into_iter();
                stack.push((below, names));
            }
        }
        Ok(Inventory(map))
    }
}

/// What changed in `root` since `before`, as layer entries: new and changed paths with their
/// parent directories, and a whiteout for each path that went (its topmost one only).
pub fn changes(root: &Path, before: &Inventory) -> Result<Entries, BuildError> {
    let after = Inventory::of(root)?;
    let mut keep: HashSet<OsString> = HashSet::new();
    for (path, stamp) in &after.0 {
        if before.0.get(path) != Some(stamp) {
            add_with_parents(&mut keep, path);
        }
    }
    let mut whiteouts = Vec::new();
    for path in before.0.keys() {
        if after.0.contains_key(path) {
            continue;
        }
        let (parent, name) = split(path);
        // Only the topmost path that went: its parent is still there.
        if !parent.is_empty() && !after.0.contains_key(parent) {
            continue;
        }
        if !parent.is_empty() {
            add_with_parents(&mut keep, parent);
        }
        let whiteout = [b".wh.", name.as_bytes()].concat();
        whiteouts.push(join(parent, OsStr::from_bytes(&whiteout)));
    }
    let all = berth_layer::from_dir(root).map_err(|source| BuildError::LayerWrite {
        path: root.to_path_buf(),
        source,
    })?;
    // A kept hard link needs the name it points at in the same layer.
    for e in &all.entries {
        if let Kind::Hardlink { target } = &e.kind {
            if keep.contains(&e.path) && !keep.contains(target) {
                add_with_parents(&mut keep, target);
            }
        }
    }
    let mut entries: Vec<Entry> = all
        .entries
        .into_iter()
        .filter(|e| keep.contains(&e.path))
        .collect();
    entries.extend(whiteouts.into_iter().map(|path| Entry::marker(path, 0)));
    entries.sort_by(|a, b| canonical_order(&a.path, &b.path));
    Ok(Entries {
        entries,
        spool: None,
        skipped: all.skipped,
    })
}

fn add_with_parents(keep: &mut HashSet<OsString>, path: &OsStr) {
    let mut p = path;
    loop {
        if !keep.insert(p.to_owned()) {
            return;
        }
        match split(p).0 {
            parent if parent.is_empty() => return,
            parent => p = parent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_rootfs::testing::{SECRET, on_both_strategies, race, race_planted, run_corpus};

    /// A lower layer directory holding a file at `path` (cleaned), and the parents it needs.
    fn lower_with(dir: &Path, path: &str) -> PathBuf {
        fs::create_dir_all(dir).unwrap();
        let rel = berth_rootfs::path::clean(path);
        if !rel.is_empty() {
            let file = dir.join(&rel);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, b"lower").unwrap();
        }
        dir.to_path_buf()
    }

    /// berth-rootfs' hostile corpus through the copy snapshotter: the case's archive applied
    /// as a lower layer, and a lower that writes the case's path, merged onto the planted
    /// tree.
    #[test]
    fn hostile_corpus_through_the_copy_snapshotter() {
        on_both_strategies(
            "copy_snapshot::tests::hostile_corpus_through_the_copy_snapshotter",
            || {
                run_corpus("copy snapshotter", |scene, case| {
                    let lowers = tempfile::tempdir().unwrap();
                    let applied = lowers.path().join("applied");
                    fs::create_dir(&applied).unwrap();
                    let _ = berth_layer::apply_layer((case.tar)(scene).as_slice(), &applied);
                    let writes = lower_with(&lowers.path().join("writes"), case.path);
                    let _ = materialize(&[writes.clone(), applied.clone()], &scene.root);
                    let _ = materialize(&[applied, writes], &scene.root);
                    let _ = Inventory::of(&scene.root);
                });
            },
        );
    }

    #[test]
    fn race_through_the_copy_snapshotter() {
        on_both_strategies(
            "copy_snapshot::tests::race_through_the_copy_snapshotter",
            || {
                let lowers = tempfile::tempdir().unwrap();
                let lower = lower_with(&lowers.path().join("l"), "d/secret");
                lower_with(&lower, "e/secret");
                race("copy snapshotter", 200, |scene, _| {
                    let _ = materialize(std::slice::from_ref(&lower), &scene.root);
                    let _ = Inventory::of(&scene.root);
                });
            },
        );
    }

    /// The read side: the lower is the raced root, its `d` a directory holding `secret` at
    /// one moment and a symlink to the outside (holding its own `secret`) at the next; the
    /// merged tree never gets the outside bytes.
    #[test]
    fn race_reading_a_lower() {
        on_both_strategies("copy_snapshot::tests::race_reading_a_lower", || {
            let target = tempfile::tempdir().unwrap();
            let plant = |scene: &berth_rootfs::testing::Scene| {
                fs::write(scene.root.join("d/secret"), b"inside").unwrap();
            };
            race_planted("copy snapshotter's lower", 200, plant, |scene, _| {
                let _ = materialize(std::slice::from_ref(&scene.root), target.path());
                // Looked at without following: `d` may have been copied as the symlink.
                let d = target.path().join("d");
                let is_dir = fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir());
                let secret = d.join("secret");
                if is_dir && fs::symlink_metadata(&secret).is_ok_and(|m| m.is_file()) {
                    assert_ne!(fs::read(&secret).unwrap(), SECRET, "read outside the lower");
                }
            });
        });
    }
}
