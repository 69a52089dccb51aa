//! The copy-and-compare snapshotter, for where overlayfs can't be mounted.
//!
//! A step's root file system is made by copying the stage's unpacked layers, bottom first,
//! into a plain directory (whiteouts delete, opaque directories replace); what the step
//! changed is found by comparing the tree before and after it. Every write updates an
//! inode's change time, which nothing can set back, so a changed file is never missed even
//! when a command restores its modification time.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_layer::Entries;
use berth_layer::entry::{Entry, Kind, canonical_order};

use crate::error::BuildError;

/// Copies the merged view of `lowers` (top first, in the overlay driver's format) into
/// `target`.
pub fn materialize(lowers: &[PathBuf], target: &Path) -> Result<(), BuildError> {
    fs::create_dir_all(target).map_err(|e| BuildError::io(target, e))?;
    for lower in lowers.iter().rev() {
        let mut links = HashMap::new();
        merge_dir(lower, target, &mut links).map_err(|e| BuildError::io(lower, e))?;
    }
    Ok(())
}

/// Merges one unpacked layer directory `src` into `dst`.
fn merge_dir(src: &Path, dst: &Path, links: &mut HashMap<(u64, u64), PathBuf>) -> io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(src)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort();
    for name in names {
        let from = src.join(&name);
        let to = dst.join(&name);
        let meta = fs::symlink_metadata(&from)?;
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            remove(&to)?;
            continue;
        }
        if ft.is_dir() {
            let opaque = xattr::get(&from, "trusted.overlay.opaque")?.as_deref() == Some(b"y");
            match fs::symlink_metadata(&to) {
                Ok(m) if m.is_dir() && !opaque => {}
                Ok(_) => {
                    remove(&to)?;
                    fs::create_dir(&to)?;
                }
                Err(_) => fs::create_dir(&to)?,
            }
            merge_dir(&from, &to, links)?;
            copy_meta(&from, &to, &meta)?;
            continue;
        }
        remove(&to)?;
        if ft.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                    fs::hard_link(first, &to)?;
                    continue;
                }
                links.insert((meta.dev(), meta.ino()), to.clone());
            }
            fs::copy(&from, &to)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
        } else if ft.is_fifo() {
            let c = std::ffi::CString::new(to.as_os_str().as_encoded_bytes())
                .map_err(io::Error::other)?;
            // SAFETY: `c` is a valid NUL-terminated path for the call.
            if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
                return Err(io::Error::last_os_error());
            }
        } else {
            // Devices are never created on the host (applying a layer leaves a placeholder).
            fs::File::create(&to)?;
        }
        copy_meta(&from, &to, &meta)?;
    }
    Ok(())
}

/// Owner, mode, xattrs (not overlay's own) and times of `from` onto `to`.
fn copy_meta(from: &Path, to: &Path, meta: &fs::Metadata) -> io::Result<()> {
    std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))?;
    if !meta.file_type().is_symlink() {
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        for name in xattr::list(from)? {
            if name.to_string_lossy().starts_with("trusted.overlay.") {
                continue;
            }
            if let Some(value) = xattr::get(from, &name)? {
                xattr::set(to, &name, &value)?;
            }
        }
    }
    let times = [
        timespec(meta.atime(), meta.atime_nsec()),
        timespec(meta.mtime(), meta.mtime_nsec()),
    ];
    let c = std::ffi::CString::new(to.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
    // SAFETY: `c` is NUL-terminated and `times` holds the two timespecs utimensat reads.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn timespec(sec: i64, nsec: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec as _,
    }
}

fn remove(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
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

/// Every path of a tree (relative) and its stamp.
pub struct Inventory(HashMap<String, Stamp>);

impl Inventory {
    pub fn of(root: &Path) -> Result<Inventory, BuildError> {
        let mut map = HashMap::new();
        let mut todo = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, rel)) = todo.pop() {
            for entry in fs::read_dir(&dir).map_err(|e| BuildError::io(&dir, e))? {
                let entry = entry.map_err(|e| BuildError::io(&dir, e))?;
                let path = entry.path();
                let m = fs::symlink_metadata(&path).map_err(|e| BuildError::io(&path, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let rel = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if m.is_dir() {
                    todo.push((path, rel.clone()));
                }
                map.insert(
                    rel,
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
            }
        }
        Ok(Inventory(map))
    }
}

/// What changed in `root` since `before`, as layer entries: new and changed paths with their
/// parent directories, and a whiteout for each path that went (its topmost one only).
pub fn changes(root: &Path, before: &Inventory) -> Result<Entries, BuildError> {
    let after = Inventory::of(root)?;
    let mut keep: HashSet<String> = HashSet::new();
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
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        // Only the topmost path that went: its parent is still there.
        if !parent.is_empty() && !after.0.contains_key(parent) {
            continue;
        }
        whiteouts.push(if parent.is_empty() {
            format!(".wh.{name}")
        } else {
            add_with_parents(&mut keep, parent);
            format!("{parent}/.wh.{name}")
        });
    }
    let all = berth_layer::from_dir(root).map_err(|e| BuildError::Io {
        path: root.to_path_buf(),
        source: io::Error::other(e.to_string()),
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

fn add_with_parents(keep: &mut HashSet<String>, path: &str) {
    let mut p = path;
    loop {
        if !keep.insert(p.to_string()) {
            return;
        }
        match p.rsplit_once('/') {
            Some((parent, _)) => p = parent,
            None => return,
        }
    }
}
