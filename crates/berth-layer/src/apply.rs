//! Applying one layer tar to an empty directory, in the form the overlayfs kernel driver takes
//! as a `lowerdir`.
//!
//! Layers come from registries, so nothing in one is trusted: every object is created relative
//! to a directory descriptor that was opened without following symlinks, one path component at
//! a time, so no name (`..`, a symlink planted by an earlier entry, an absolute link target)
//! can make a write land outside the destination. Device nodes are never created (except
//! overlayfs whiteouts, which are inert).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use berth_oci::{Algorithm, Digest, HashingReader};
use rustix::fs::{
    AtFlags, CWD, Dir, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, XattrFlags, chmodat,
    chownat, fchmod, fchown, fsetxattr, futimens, linkat, lsetxattr, makedev, mkdirat, mknodat,
    openat, statat, symlinkat, unlinkat, utimensat,
};
use rustix::io::Errno;
use tar::EntryType;

use crate::diff::{OPAQUE_MARKER, WHITEOUT_PREFIX};
use crate::error::LayerError;
use crate::source::{HeaderFields, header_fields};

/// How a layer is named in messages about its tar stream.
const ARCHIVE: &str = "layer";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// overlayfs' own state; a layer that carries it could steer the mount, so it is never set.
const OVERLAY_XATTRS: &str = "trusted.overlay.";

/// What applying a layer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// sha256 of the whole (uncompressed) tar stream, to check against the image config.
    pub diff_id: Digest,
    /// Length of the tar stream.
    pub size: u64,
    /// Character and block devices in the layer, created as empty files with mode 0 instead.
    pub devices_skipped: Vec<String>,
    /// Extended attributes not set, as `path: name (why)`: the file system refused them, or
    /// they were overlayfs' own (`trusted.overlay.*`).
    pub xattrs_skipped: Vec<String>,
}

/// Applies the (decompressed) layer tar `input` to `dest`, an empty directory, so that `dest`
/// can serve as an overlayfs `lowerdir`: whiteouts `.wh.NAME` become character devices 0:0
/// and `DIR/.wh..wh..opq` sets `trusted.overlay.opaque=y` on DIR.
///
/// Reads `input` to its end, past the end-of-archive blocks, so the returned diffID covers the
/// whole stream. Refuses entries that climb out with `..`, entries below a symlink, and hard
/// links to anything but an earlier file of the layer.
pub fn apply_layer(input: impl Read, dest: &Path) -> Result<Applied, LayerError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let root =
        openat(CWD, dest, flags, Mode::empty()).map_err(|e| LayerError::io(dest, e.into()))?;
    let mut input = HashingReader::new(input, Algorithm::Sha256);
    let mut applier = Applier {
        root,
        dest: dest.to_path_buf(),
        seen: HashMap::new(),
        dir_times: BTreeMap::new(),
        cached: None,
        devices_skipped: Vec::new(),
        xattrs_skipped: Vec::new(),
    };
    {
        let mut archive = tar::Archive::new(&mut input);
        for item in archive.entries().map_err(|e| LayerError::tar(ARCHIVE, e))? {
            applier.entry(item.map_err(|e| LayerError::tar(ARCHIVE, e))?)?;
        }
    }
    // The end-of-archive blocks, and any padding after them, are part of the diffID.
    io::copy(&mut input, &mut io::sink()).map_err(|e| LayerError::tar(ARCHIVE, e))?;
    applier.set_dir_times()?;
    let (diff_id, size) = input.finish();
    Ok(Applied {
        diff_id,
        size,
        devices_skipped: applier.devices_skipped,
        xattrs_skipped: applier.xattrs_skipped,
    })
}

struct Applier {
    root: OwnedFd,
    dest: PathBuf,
    /// Paths this layer created, and whether each is a directory: a hard link may only name
    /// an earlier non-directory.
    seen: HashMap<String, bool>,
    /// Directory mtimes, set once everything inside them is written.
    dir_times: BTreeMap<String, i64>,
    /// The directory the previous entry went into (entries come grouped by directory).
    cached: Option<(String, OwnedFd)>,
    devices_skipped: Vec<String>,
    xattrs_skipped: Vec<String>,
}

impl Applier {
    fn entry<R: Read>(&mut self, mut item: tar::Entry<R>) -> Result<(), LayerError> {
        let raw = String::from_utf8(item.path_bytes().into_owned()).map_err(|e| {
            LayerError::NotUtf8(PathBuf::from(
                String::from_utf8_lossy(e.as_bytes()).into_owned(),
            ))
        })?;
        let path = normalize(&raw).ok_or_else(|| LayerError::Escapes { entry: raw.clone() })?;
        let entry_type = item.header().entry_type();
        if path.is_empty() || entry_type == EntryType::XGlobalHeader {
            return Ok(()); // the root itself (its metadata is the mount's business)
        }
        let (dir, name) = split(&path);
        if name == OPAQUE_MARKER {
            return self.opaque(&raw, dir);
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.starts_with(WHITEOUT_PREFIX) {
                return Ok(()); // other AUFS bookkeeping (`.wh..wh.plnk`): meaningless here
            }
            let fields = header_fields(&mut item, ARCHIVE)?;
            return self.whiteout(&raw, dir, hidden, fields.mtime);
        }
        let fields = header_fields(&mut item, ARCHIVE)?;
        let mode = item.header().mode().unwrap_or(0o644) & 0o7777;
        let uid = Uid::from_raw(id(&raw, fields.uid)?);
        let gid = Gid::from_raw(id(&raw, fields.gid)?);
        let meta = Meta {
            mode,
            uid,
            gid,
            fields,
        };
        // Checked before anything is removed: a link may not replace its own target.
        let link_target = match entry_type {
            EntryType::Link => Some(self.link_target(&raw, &path, &item)?),
            _ => None,
        };
        let parent = self.parent(&raw, dir)?;
        self.clear(
            parent.as_fd(),
            &path,
            name,
            entry_type == EntryType::Directory,
        )?;
        match entry_type {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let file = self.create_file(parent.as_fd(), &path, name, 0o600)?;
                let mut file = File::from(file);
                copy_data(&mut item, &mut file, &self.dest.join(&path))?;
                self.finish_fd(file.as_fd(), &path, &meta, meta.mode)?;
                self.seen.insert(path, false);
            }
            EntryType::Directory => {
                match mkdirat(&parent, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(self.io(&path, e)),
                }
                let fd = open_dir(parent.as_fd(), name).map_err(|e| self.io(&path, e))?;
                self.finish_fd(fd.as_fd(), &path, &meta, meta.mode)?;
                self.dir_times.insert(path.clone(), meta.fields.mtime);
                self.seen.insert(path, true);
            }
            EntryType::Symlink => {
                // Verbatim: a target is data, only ever resolved inside the container.
                let target = item.link_name_bytes().ok_or_else(|| LayerError::Entry {
                    archive: ARCHIVE.to_string(),
                    why: format!("symlink {raw:?} has no target"),
                })?;
                symlinkat(target.as_ref(), &parent, name).map_err(|e| self.io(&path, e))?;
                self.finish_at(parent.as_fd(), &path, name, &meta, None)?;
                self.seen.insert(path, false);
            }
            EntryType::Link => {
                let (target_parent, target_name) =
                    link_target.ok_or_else(|| LayerError::Entry {
                        archive: ARCHIVE.to_string(),
                        why: format!("hard link {raw:?} has no target"),
                    })?;
                linkat(
                    &target_parent,
                    target_name.as_str(),
                    &parent,
                    name,
                    AtFlags::empty(),
                )
                .map_err(|e| self.io(&path, e))?;
                self.seen.insert(path, false);
            }
            EntryType::Char | EntryType::Block => {
                // A device node would give the container (or anyone who can reach the layer
                // directory) access to host hardware: keep the name, not the device.
                let file = self.create_file(parent.as_fd(), &path, name, 0)?;
                self.finish_fd(file.as_fd(), &path, &meta, 0)?;
                self.devices_skipped.push(path.clone());
                self.seen.insert(path, false);
            }
            EntryType::Fifo => {
                let mode = Mode::from_raw_mode(meta.mode);
                mknodat(&parent, name, FileType::Fifo, mode, 0).map_err(|e| self.io(&path, e))?;
                self.finish_at(parent.as_fd(), &path, name, &meta, Some(meta.mode))?;
                self.seen.insert(path, false);
            }
            other => {
                return Err(LayerError::Entry {
                    archive: ARCHIVE.to_string(),
                    why: format!("entry {raw:?} has unsupported type {other:?}"),
                });
            }
        }
        Ok(())
    }

    /// Resolves a hard link's target to (its directory, its name), refusing anything but an
    /// earlier non-directory of this layer.
    fn link_target<R: Read>(
        &mut self,
        raw: &str,
        path: &str,
        item: &tar::Entry<R>,
    ) -> Result<(OwnedFd, String), LayerError> {
        let bad = |target: &str, why: &str| LayerError::BadHardlink {
            entry: raw.to_string(),
            target: target.to_string(),
            why: why.to_string(),
        };
        let raw_target = item
            .link_name_bytes()
            .map(|t| String::from_utf8_lossy(&t).into_owned())
            .ok_or_else(|| bad("", "which is empty"))?;
        let target = normalize(&raw_target)
            .ok_or_else(|| bad(&raw_target, "which climbs out of the layer"))?;
        if target == path {
            return Err(bad(&raw_target, "which is the link itself"));
        }
        match self.seen.get(&target) {
            Some(false) => {}
            Some(true) => return Err(bad(&raw_target, "which is a directory")),
            None => {
                return Err(bad(
                    &raw_target,
                    "which is not an earlier entry of this layer",
                ));
            }
        }
        let (dir, name) = split(&target);
        let parent = self.walk_to(raw, dir, false)?;
        Ok((parent, name.to_string()))
    }

    /// `DIR/.wh..wh..opq`: DIR hides the directories of the same name in lower layers.
    fn opaque(&mut self, raw: &str, dir: &str) -> Result<(), LayerError> {
        let fd = self.walk_to(raw, dir, true)?;
        fsetxattr(&fd, OPAQUE_XATTR, b"y", XattrFlags::empty()).map_err(|e| LayerError::Opaque {
            path: self.dest.join(dir),
            xattr: OPAQUE_XATTR.to_string(),
            source: e.into(),
        })
    }

    /// `.wh.NAME`: NAME is deleted from the lower layers; overlayfs says so with a
    /// character device 0:0.
    fn whiteout(
        &mut self,
        raw: &str,
        dir: &str,
        hidden: &str,
        mtime: i64,
    ) -> Result<(), LayerError> {
        if hidden.is_empty() || hidden == "." || hidden == ".." {
            return Err(LayerError::Entry {
                archive: ARCHIVE.to_string(),
                why: format!("whiteout {raw:?} names no file; rebuild the layer"),
            });
        }
        let path = join(dir, hidden);
        let parent = self.parent(raw, dir)?;
        self.clear(parent.as_fd(), &path, hidden, false)?;
        mknodat(
            &parent,
            hidden,
            FileType::CharacterDevice,
            Mode::empty(),
            makedev(0, 0),
        )
        .map_err(|e| self.io(&path, e))?;
        utimensat(&parent, hidden, &times(mtime), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.io(&path, e))
    }

    /// The directory `dir` (relative to the root), created if missing; the last one is kept.
    fn parent(&mut self, raw: &str, dir: &str) -> Result<OwnedFd, LayerError> {
        if let Some((cached, fd)) = &self.cached {
            if cached == dir {
                return fd.try_clone().map_err(|e| LayerError::io(&self.dest, e));
            }
        }
        let fd = self.walk_to(raw, dir, true)?;
        let keep = fd.try_clone().map_err(|e| LayerError::io(&self.dest, e))?;
        self.cached = Some((dir.to_string(), keep));
        Ok(fd)
    }

    /// Opens `dir` one component at a time without following symlinks; missing directories
    /// are created if `create`. An entry below a symlink or a non-directory is refused.
    fn walk_to(&self, raw: &str, dir: &str, create: bool) -> Result<OwnedFd, LayerError> {
        let mut fd = self
            .root
            .try_clone()
            .map_err(|e| LayerError::io(&self.dest, e))?;
        let mut walked = String::new();
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            if !walked.is_empty() {
                walked.push('/');
            }
            walked.push_str(part);
            fd = match open_dir(fd.as_fd(), part) {
                Ok(next) => next,
                Err(Errno::NOENT) if create => {
                    match mkdirat(&fd, part, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(self.io(&walked, e)),
                    }
                    let next = open_dir(fd.as_fd(), part).map_err(|e| self.io(&walked, e))?;
                    // Exactly 0755 whatever the umask, as other tools create missing parents.
                    fchmod(&next, Mode::from_raw_mode(0o755)).map_err(|e| self.io(&walked, e))?;
                    next
                }
                Err(Errno::LOOP | Errno::NOTDIR) => {
                    let stat = statat(&fd, part, AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(|e| self.io(&walked, e))?;
                    return Err(
                        if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink {
                            LayerError::UnderSymlink {
                                entry: raw.to_string(),
                                link: walked,
                            }
                        } else {
                            LayerError::ParentNotDir {
                                entry: raw.to_string(),
                                parent: walked,
                            }
                        },
                    );
                }
                Err(e) => return Err(self.io(&walked, e)),
            };
        }
        Ok(fd)
    }

    /// Removes what `name` in `parent` is, as a later tar entry replaces an earlier one; an
    /// existing directory stays if the new entry is a directory too.
    fn clear(
        &mut self,
        parent: BorrowedFd<'_>,
        path: &str,
        name: &str,
        keep_dir: bool,
    ) -> Result<(), LayerError> {
        let stat = match statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(self.io(path, e)),
        };
        let is_dir = FileType::from_raw_mode(stat.st_mode) == FileType::Directory;
        if is_dir && keep_dir {
            return Ok(());
        }
        // The cached descriptor may be the directory about to go.
        self.cached = None;
        if is_dir {
            remove_tree(parent, name).map_err(|e| self.io(path, e))?;
        } else {
            unlinkat(parent, name, AtFlags::empty()).map_err(|e| self.io(path, e))?;
        }
        let below = format!("{path}/");
        self.seen.retain(|p, _| p != path && !p.starts_with(&below));
        self.dir_times
            .retain(|p, _| p != path && !p.starts_with(&below));
        Ok(())
    }

    fn create_file(
        &self,
        parent: BorrowedFd<'_>,
        path: &str,
        name: &str,
        mode: u32,
    ) -> Result<OwnedFd, LayerError> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        openat(parent, name, flags, Mode::from_raw_mode(mode)).map_err(|e| self.io(path, e))
    }

    /// Owner, then mode (chown clears setuid/setgid), then xattrs (chown clears file
    /// capabilities), then mtime, on an open file or directory.
    fn finish_fd(
        &mut self,
        fd: BorrowedFd<'_>,
        path: &str,
        meta: &Meta,
        mode: u32,
    ) -> Result<(), LayerError> {
        fchown(fd, Some(meta.uid), Some(meta.gid)).map_err(|e| self.io(path, e))?;
        fchmod(fd, Mode::from_raw_mode(mode)).map_err(|e| self.io(path, e))?;
        for (key, value) in &meta.fields.xattrs {
            let result = match settable(key) {
                Ok(()) => fsetxattr(fd, key.as_str(), value, XattrFlags::empty())
                    .map_err(|e| e.to_string()),
                Err(why) => Err(why.to_string()),
            };
            self.note_xattr(path, key, result);
        }
        futimens(fd, &times(meta.fields.mtime)).map_err(|e| self.io(path, e))
    }

    /// [`Self::finish_fd`] for what can't be opened (symlinks, fifos), by name in `parent`.
    fn finish_at(
        &mut self,
        parent: BorrowedFd<'_>,
        path: &str,
        name: &str,
        meta: &Meta,
        mode: Option<u32>,
    ) -> Result<(), LayerError> {
        chownat(
            parent,
            name,
            Some(meta.uid),
            Some(meta.gid),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.io(path, e))?;
        if let Some(mode) = mode {
            // Not a symlink (just created as a fifo), so following is harmless.
            chmodat(parent, name, Mode::from_raw_mode(mode), AtFlags::empty())
                .map_err(|e| self.io(path, e))?;
        }
        // The descriptor's /proc entry names the directory itself; `l*` keeps `name` unfollowed.
        let by_fd = PathBuf::from(format!("/proc/self/fd/{}", parent.as_raw_fd())).join(name);
        for (key, value) in &meta.fields.xattrs {
            let result = match settable(key) {
                Ok(()) => lsetxattr(&by_fd, key.as_str(), value, XattrFlags::empty())
                    .map_err(|e| e.to_string()),
                Err(why) => Err(why.to_string()),
            };
            self.note_xattr(path, key, result);
        }
        utimensat(
            parent,
            name,
            &times(meta.fields.mtime),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.io(path, e))
    }

    fn note_xattr(&mut self, path: &str, key: &str, result: Result<(), String>) {
        if let Err(why) = result {
            self.xattrs_skipped.push(format!("{path}: {key} ({why})"));
        }
    }

    /// Directory mtimes last: writing inside a directory changes its mtime.
    fn set_dir_times(&mut self) -> Result<(), LayerError> {
        for (path, mtime) in &self.dir_times {
            let fd = self.walk_to(path, path, false)?;
            futimens(&fd, &times(*mtime)).map_err(|e| self.io(path, e))?;
        }
        Ok(())
    }

    fn io(&self, path: &str, e: Errno) -> LayerError {
        LayerError::io(&self.dest.join(path), e.into())
    }
}

/// An entry's attributes, checked.
struct Meta {
    mode: u32,
    uid: Uid,
    gid: Gid,
    fields: HeaderFields,
}

/// Whether a layer may set the attribute `key`.
fn settable(key: &str) -> Result<(), &'static str> {
    if key.starts_with(OVERLAY_XATTRS) {
        Err("overlayfs state; a layer may not set it")
    } else {
        Ok(())
    }
}

fn id(raw: &str, id: u64) -> Result<u32, LayerError> {
    u32::try_from(id)
        .ok()
        .filter(|&id| id != u32::MAX)
        .ok_or_else(|| LayerError::BadOwner {
            entry: raw.to_string(),
            id,
        })
}

fn times(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Cleans an entry name: drops leading `/`, `.` and empty components, and folds `..` into
/// the component before it; `None` if a `..` would climb above the root.
fn normalize(raw: &str) -> Option<String> {
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Splits a cleaned path into (directory, name); the directory is `""` at the root.
fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn open_dir(parent: BorrowedFd<'_>, name: &str) -> Result<OwnedFd, Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    openat(parent, name, flags, Mode::empty())
}

/// Removes the directory `name` in `parent` and everything in it, never following symlinks.
fn remove_tree(parent: BorrowedFd<'_>, name: &str) -> Result<(), Errno> {
    let fd = open_dir(parent, name)?;
    let mut names = Vec::new();
    for entry in Dir::read_from(&fd)? {
        let entry = entry?;
        let child = entry.file_name().to_bytes();
        if child != b"." && child != b".." {
            names.push(entry.file_name().to_owned());
        }
    }
    for child in names {
        match unlinkat(&fd, child.as_c_str(), AtFlags::empty()) {
            Err(Errno::ISDIR) => {
                let child = child.to_str().map_err(|_| Errno::INVAL)?;
                remove_tree(fd.as_fd(), child)?
            }
            other => other?,
        }
    }
    unlinkat(parent, name, AtFlags::REMOVEDIR)
}

/// Copies a file's bytes, telling a bad archive from a failing disk.
fn copy_data(from: &mut impl Read, to: &mut File, path: &Path) -> Result<(), LayerError> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(LayerError::tar(ARCHIVE, e)),
        };
        to.write_all(&buf[..n])
            .map_err(|e| LayerError::io(path, e))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize("./usr//bin/").as_deref(), Some("usr/bin"));
        assert_eq!(normalize("/etc/passwd").as_deref(), Some("etc/passwd"));
        assert_eq!(normalize("a/../b").as_deref(), Some("b"));
        assert_eq!(normalize("../x"), None);
        assert_eq!(normalize("a/../../x"), None);
        assert_eq!(normalize("./").as_deref(), Some(""));
    }
}
