//! The one safe tar extractor: layer application and `ADD` of a local archive (and a build
//! context sent as a tar) both unpack through it, into a [`Root`].
//!
//! Every entry name is cleaned first and refused if a `..` climbs above the destination;
//! every entry is then written relative to its directory's descriptor, reached inside the
//! root by the root's own rule (symlinks on the way followed inside it, or refused), and
//! with calls that never follow the entry's own name. A later entry replaces an earlier one
//! (a directory stays a directory). Owners, modes (setuid after the chown), `SCHILY.xattr`
//! attributes and times are kept; directory times are set last. Device nodes are never
//! created. What differs between the callers is in [`Rules`] (which links are allowed,
//! what a device becomes) and in [`Hooks`] (whiteouts, attributes a caller never sets).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use tar::EntryType;

use crate::dir::{Dir, Node, Time};
use crate::error::Error;
use crate::path::{clean_inside, is_within, join, shown, split};
use crate::root::{Last, NewDir, Root};

/// Why a hard link entry was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadLink {
    /// It names no target.
    Empty,
    /// Its target climbs out of the destination with `..`.
    ClimbsOut,
    /// It names itself.
    Itself,
    /// Its target is a directory.
    Directory,
    /// Its target is not an earlier entry ([`Hardlinks::EarlierEntries`]).
    NotEarlier,
}

impl std::fmt::Display for BadLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BadLink::Empty => "which is empty",
            BadLink::ClimbsOut => "which climbs out of the layer",
            BadLink::Itself => "which is the link itself",
            BadLink::Directory => "which is a directory",
            BadLink::NotEarlier => "which is not an earlier entry of this layer",
        })
    }
}

/// What can stop an extraction. `entry` is always the name as the archive wrote it (bytes:
/// shown with any byte that is not UTF-8 as `\xNN`).
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("reading the archive: {0}")]
    Tar(#[source] io::Error),
    #[error("entry {:?} climbs out of the destination with '..'", shown(entry))]
    Escapes { entry: OsString },
    #[error(
        "symlink {:?} points to {:?}, outside the destination",
        shown(entry),
        shown(target)
    )]
    SymlinkEscapes { entry: OsString, target: OsString },
    #[error("hard link {:?} to {:?}: {why}", shown(entry), shown(target))]
    BadHardlink {
        entry: OsString,
        target: OsString,
        why: BadLink,
    },
    #[error(
        "entry {:?} lies under /{}, which is a symlink",
        shown(entry),
        shown(link)
    )]
    UnderSymlink { entry: OsString, link: OsString },
    #[error(
        "entry {:?} lies under /{}, which is not a directory",
        shown(entry),
        shown(parent)
    )]
    ParentNotDir { entry: OsString, parent: OsString },
    #[error(
        "entry {:?} has owner {id}, which is not a valid Linux id",
        shown(entry)
    )]
    BadOwner { entry: OsString, id: u64 },
    #[error("entry {:?}: {why}", shown(entry))]
    Entry { entry: OsString, why: String },
    /// Writing the file system failed (not the archive's fault).
    #[error(transparent)]
    Root(Error),
}

impl ExtractError {
    fn from_root(entry: &OsStr, e: Error) -> ExtractError {
        match e {
            Error::UnderSymlink { link, .. } => ExtractError::UnderSymlink {
                entry: entry.to_owned(),
                link,
            },
            Error::NotADirectory { parent, .. } => ExtractError::ParentNotDir {
                entry: entry.to_owned(),
                parent,
            },
            other => ExtractError::Root(other),
        }
    }
}

/// Which hard links an archive may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hardlinks {
    /// Only to a non-directory written earlier by the same archive (a layer).
    EarlierEntries,
    /// To any non-directory inside the destination (moby's rule, for `ADD`).
    Inside,
}

/// What becomes of a character or block device entry (never a device node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Devices {
    /// An empty file with mode 0 keeps the name (a layer: the image still lists it).
    Placeholder,
    /// Nothing is written.
    Skip,
}

/// How an extraction treats what its callers see differently.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Relative symlink targets that climb out of the destination are refused (moby's rule
    /// for `ADD`); otherwise every target is stored verbatim (it is data, resolved only
    /// inside the container).
    pub refuse_escaping_symlinks: bool,
    pub hardlinks: Hardlinks,
    pub devices: Devices,
    /// Entry types the extractor does not write (sockets, unknown): refused, or skipped.
    pub refuse_unknown_types: bool,
    /// `chown` refused with `EPERM` (an unprivileged extraction) leaves the caller's owner.
    pub tolerate_chown_eperm: bool,
    /// How missing directories (the destination, parents not listed) are made.
    pub parents: NewDir,
}

/// An entry's owner, time and attributes: the header, overridden by its PAX records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    pub mtime: i64,
    pub uid: u64,
    pub gid: u64,
    /// `SCHILY.xattr.*`, sorted by name.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// Reads [`Fields`] of a tar entry.
pub fn fields<R: Read>(item: &mut tar::Entry<R>) -> io::Result<Fields> {
    let header = item.header();
    let mut fields = Fields {
        mtime: header.mtime().unwrap_or(0) as i64,
        uid: header.uid().unwrap_or(0),
        gid: header.gid().unwrap_or(0),
        xattrs: Vec::new(),
    };
    if let Some(pax) = item.pax_extensions()? {
        for ext in pax {
            let ext = ext?;
            let Ok(key) = ext.key() else { continue };
            let value = ext.value_bytes();
            let text = std::str::from_utf8(value).unwrap_or("");
            match key {
                k if k.starts_with("SCHILY.xattr.") => {
                    let attr = k["SCHILY.xattr.".len()..].to_string();
                    fields.xattrs.push((attr, value.to_vec()));
                }
                "mtime" => {
                    if let Ok(t) = text.split('.').next().unwrap_or("").parse() {
                        fields.mtime = t;
                    }
                }
                "uid" => fields.uid = text.parse().unwrap_or(fields.uid),
                "gid" => fields.gid = text.parse().unwrap_or(fields.gid),
                _ => {}
            }
        }
    }
    fields.xattrs.sort();
    Ok(fields)
}

/// What a hook decided about an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// The extractor writes it.
    Extract,
    /// The hook dealt with it (or it means nothing here).
    Done,
}

/// What a caller adds to the extraction.
pub trait Hooks {
    /// The caller's error, which an extraction error becomes.
    type Error: From<ExtractError>;

    /// Sees every entry first (`path` cleaned, relative to the destination) and may take it
    /// over, writing through `place` (a layer's whiteouts and opaque markers).
    fn visit<R: Read>(
        &mut self,
        place: &mut Place<'_, '_>,
        path: &OsStr,
        item: &mut tar::Entry<R>,
    ) -> Result<Visit, Self::Error> {
        let _ = (place, path, item);
        Ok(Visit::Extract)
    }

    /// Whether the attribute `key` may be set; `Err(why)` skips it (and says why).
    fn xattr_allowed(&mut self, key: &str) -> Result<(), &'static str> {
        let _ = key;
        Ok(())
    }
}

/// Hooks that add nothing.
pub struct NoHooks;

impl Hooks for NoHooks {
    type Error = ExtractError;
}

/// What an extraction wrote, and what it left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Non-directory entries written (files, links, fifos, device placeholders).
    pub files: u64,
    /// Bytes of regular files.
    pub bytes: u64,
    /// Character and block devices not created, by path relative to the destination.
    pub devices_skipped: Vec<OsString>,
    /// Attributes not set, as `path: name (why)`.
    pub xattrs_skipped: Vec<String>,
}

/// Where entries are written, for [`Hooks::visit`]: directories reached (and made) as the
/// extraction does, and the replacement of what a name holds.
pub struct Place<'a, 'r> {
    root: &'r Root,
    dest: &'a Dir<'r>,
    rules: &'a Rules,
    /// Paths written, and whether each is a directory (hard links may name earlier files).
    seen: HashMap<OsString, bool>,
    /// Directory mtimes, set once everything inside them is written.
    dir_times: HashMap<OsString, i64>,
    /// The directory the previous entry went into (entries come grouped by directory).
    cached: Option<(OsString, Dir<'r>)>,
    /// The raw name of the entry being written, for errors.
    entry: OsString,
}

impl<'r> Place<'_, 'r> {
    /// The directory `dir` (relative to the destination), made if missing.
    pub fn dir(&mut self, dir: &OsStr) -> Result<Dir<'r>, ExtractError> {
        if let Some((cached, fd)) = &self.cached {
            if cached == dir {
                return fd.try_clone().map_err(ExtractError::Root);
            }
        }
        let found = if dir.is_empty() {
            self.dest.try_clone()
        } else {
            self.root
                .mkdir_all(join(self.dest.rel(), dir), &self.rules.parents)
        }
        .map_err(|e| ExtractError::from_root(&self.entry, e))?;
        self.cached = Some((
            dir.to_owned(),
            found.try_clone().map_err(ExtractError::Root)?,
        ));
        Ok(found)
    }

    /// Removes what `name` in `parent` holds (at `path`, relative to the destination), as a
    /// later entry replaces an earlier one; a directory stays if `keep_dir`.
    pub fn clear(
        &mut self,
        parent: &Dir<'_>,
        path: &OsStr,
        name: &OsStr,
        keep_dir: bool,
    ) -> Result<(), ExtractError> {
        let Some(meta) = parent.lstat(name).map_err(ExtractError::Root)? else {
            return Ok(());
        };
        if meta.is_dir() && keep_dir {
            return Ok(());
        }
        // The cached descriptor may be the directory about to go.
        self.cached = None;
        if meta.is_dir() {
            parent.remove_all(name)
        } else {
            parent.unlink(name)
        }
        .map_err(ExtractError::Root)?;
        self.seen.retain(|p, _| !is_within(p, path));
        self.dir_times.retain(|p, _| !is_within(p, path));
        Ok(())
    }

    /// The raw name of the entry being visited.
    pub fn entry(&self) -> &OsStr {
        &self.entry
    }
}

/// Extracts the tar stream `input` into the directory `dest` (a path inside `root`, made as
/// `rules.parents` says if missing). Reads the archive up to its end-of-archive blocks.
pub fn extract<R: Read, H: Hooks>(
    root: &Root,
    dest: impl AsRef<OsStr>,
    input: R,
    rules: &Rules,
    hooks: &mut H,
) -> Result<Extracted, H::Error> {
    let dest = dest.as_ref();
    let dest = root
        .mkdir_all(dest, &rules.parents)
        .map_err(|e| ExtractError::from_root(dest, e))?;
    let mut place = Place {
        root,
        dest: &dest,
        rules,
        seen: HashMap::new(),
        dir_times: HashMap::new(),
        cached: None,
        entry: OsString::new(),
    };
    let mut done = Extracted::default();
    let mut archive = tar::Archive::new(input);
    for item in archive.entries().map_err(ExtractError::Tar)? {
        let mut item = item.map_err(ExtractError::Tar)?;
        // Names are bytes on Linux: one that is not UTF-8 is written as the archive has it.
        let raw = OsString::from_vec(item.path_bytes().into_owned());
        let path =
            clean_inside(&raw).ok_or_else(|| ExtractError::Escapes { entry: raw.clone() })?;
        if path.is_empty() || item.header().entry_type() == EntryType::XGlobalHeader {
            continue; // the destination itself (its metadata is not the archive's)
        }
        place.entry = raw;
        if hooks.visit(&mut place, &path, &mut item)? == Visit::Done {
            continue;
        }
        write_entry(&mut place, hooks, &path, &mut item, &mut done)?;
    }
    set_dir_times(&place)?;
    Ok(done)
}

/// An entry's attributes, checked.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    fields: Fields,
}

fn write_entry<R: Read, H: Hooks>(
    place: &mut Place<'_, '_>,
    hooks: &mut H,
    path: &OsStr,
    item: &mut tar::Entry<R>,
    done: &mut Extracted,
) -> Result<(), ExtractError> {
    let raw = place.entry.clone();
    let entry_type = item.header().entry_type();
    let fields = fields(item).map_err(ExtractError::Tar)?;
    let meta = Meta {
        mode: item.header().mode().unwrap_or(0o644) & 0o7777,
        uid: id(&raw, fields.uid)?,
        gid: id(&raw, fields.gid)?,
        fields,
    };
    // Checked before anything is removed: a link may not replace its own target.
    let link_target = match entry_type {
        EntryType::Link => Some(hardlink_target(place, path, item)?),
        _ => None,
    };
    let (dir, name) = split(path);
    let parent = place.dir(dir)?;
    place.clear(&parent, path, name, entry_type == EntryType::Directory)?;
    let mut attrs = Attrs {
        parent: &parent,
        name,
        path,
        meta: &meta,
        rules: place.rules,
        hooks,
        skipped: &mut done.xattrs_skipped,
    };
    match entry_type {
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
            let mut file = parent
                .create_file(name, 0o600)
                .map_err(ExtractError::Root)?;
            done.bytes += copy_data(item, &mut file, &parent, name)?;
            attrs.on_file(&file, meta.mode)?;
            place.seen.insert(path.to_owned(), false);
            done.files += 1;
        }
        EntryType::Directory => {
            match parent.mkdir(name, 0o700) {
                Ok(_) => {}
                Err(e) if e.errno() == Some(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(ExtractError::Root(e)),
            }
            attrs.at_name(Some(meta.mode))?;
            place.dir_times.insert(path.to_owned(), meta.fields.mtime);
            place.seen.insert(path.to_owned(), true);
        }
        EntryType::Symlink => {
            // A symlink's target is bytes, written as the archive has them (names are bytes
            // on Linux).
            let target = item
                .link_name_bytes()
                .map(|t| OsString::from_vec(t.into_owned()))
                .ok_or_else(|| ExtractError::Entry {
                    entry: raw.clone(),
                    why: "symlink has no target".into(),
                })?;
            if place.rules.refuse_escaping_symlinks
                && !target.as_bytes().starts_with(b"/")
                && clean_inside(join(dir, &target)).is_none()
            {
                return Err(ExtractError::SymlinkEscapes { entry: raw, target });
            }
            parent.symlink(&target, name).map_err(ExtractError::Root)?;
            attrs.at_name(None)?;
            place.seen.insert(path.to_owned(), false);
            done.files += 1;
        }
        EntryType::Link => {
            if let Some((from, from_name)) = link_target {
                parent
                    .hardlink(&from, &from_name, name)
                    .map_err(ExtractError::Root)?;
            }
            place.seen.insert(path.to_owned(), false);
            done.files += 1;
        }
        EntryType::Char | EntryType::Block => {
            let major = item.header().device_major().ok().flatten().unwrap_or(0);
            let minor = item.header().device_minor().ok().flatten().unwrap_or(0);
            let node = if entry_type == EntryType::Char {
                Node::Char { major, minor }
            } else {
                Node::Block { major, minor }
            };
            match parent.mknod(name, node, meta.mode) {
                Err(Error::DeviceRefused { .. }) => {}
                Ok(()) => {}
                Err(e) => return Err(ExtractError::Root(e)),
            }
            done.devices_skipped.push(path.to_owned());
            if place.rules.devices == Devices::Placeholder {
                // Keep the name, not the device: an empty file nobody may read.
                let file = parent.create_file(name, 0).map_err(ExtractError::Root)?;
                attrs.on_file(&file, 0)?;
                place.seen.insert(path.to_owned(), false);
                done.files += 1;
            }
        }
        EntryType::Fifo => {
            parent
                .mknod(name, Node::Fifo, meta.mode)
                .map_err(ExtractError::Root)?;
            attrs.at_name(Some(meta.mode))?;
            place.seen.insert(path.to_owned(), false);
            done.files += 1;
        }
        other if place.rules.refuse_unknown_types => {
            return Err(ExtractError::Entry {
                entry: raw,
                why: format!("unsupported type {other:?}"),
            });
        }
        _ => {}
    }
    Ok(())
}

/// Resolves a hard link's target to (its directory, its name) by the rules.
fn hardlink_target<'r, R: Read>(
    place: &mut Place<'_, 'r>,
    path: &OsStr,
    item: &tar::Entry<R>,
) -> Result<(Dir<'r>, OsString), ExtractError> {
    // Bytes, like every name: a target that is not UTF-8 names the entry of that name.
    let raw_target = OsString::from_vec(item.link_name_bytes().unwrap_or_default().into_owned());
    let bad = |why| ExtractError::BadHardlink {
        entry: place.entry.clone(),
        target: raw_target.clone(),
        why,
    };
    if raw_target.is_empty() {
        return Err(bad(BadLink::Empty));
    }
    let target = clean_inside(&raw_target).ok_or_else(|| bad(BadLink::ClimbsOut))?;
    if target == path || target.is_empty() {
        return Err(bad(BadLink::Itself));
    }
    if place.rules.hardlinks == Hardlinks::EarlierEntries {
        match place.seen.get(&target) {
            Some(false) => {}
            Some(true) => return Err(bad(BadLink::Directory)),
            None => return Err(bad(BadLink::NotEarlier)),
        }
    }
    let found = place
        .root
        .locate(join(place.dest.rel(), &target), Last::NoFollow)
        .map_err(|e| ExtractError::from_root(&place.entry, e))?;
    let name = found.name.clone().ok_or_else(|| bad(BadLink::Directory))?;
    if found
        .dir
        .lstat(&name)
        .map_err(ExtractError::Root)?
        .is_some_and(|m| m.is_dir())
    {
        return Err(bad(BadLink::Directory));
    }
    Ok((found.dir, name))
}

/// Owner, then mode (chown clears setuid/setgid), then xattrs (chown clears file
/// capabilities), then times, of one written entry.
struct Attrs<'a, 'r, H> {
    parent: &'a Dir<'r>,
    name: &'a OsStr,
    path: &'a OsStr,
    meta: &'a Meta,
    rules: &'a Rules,
    hooks: &'a mut H,
    skipped: &'a mut Vec<String>,
}

impl<H: Hooks> Attrs<'_, '_, H> {
    /// On a regular file just written through `file`.
    fn on_file(&mut self, file: &File, mode: u32) -> Result<(), ExtractError> {
        let (parent, name) = (self.parent, self.name);
        let io = |op, e: io::Error| ExtractError::Root(parent.err(op, name, e));
        match std::os::unix::fs::fchown(file, Some(self.meta.uid), Some(self.meta.gid)) {
            Err(e) if self.rules.tolerate_chown_eperm && e.raw_os_error() == Some(1) => {}
            other => other.map_err(|e| io("chown", e))?,
        }
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| io("chmod", e))?;
        self.xattrs(|key, value| {
            rustix::fs::fsetxattr(file, key, value, rustix::fs::XattrFlags::empty())
                .map_err(io::Error::from)
        });
        let t = Time::secs(self.meta.fields.mtime);
        let times = std::fs::FileTimes::new()
            .set_accessed(t.to_system_time())
            .set_modified(t.to_system_time());
        file.set_times(times).map_err(|e| io("utimens", e))
    }

    /// By name in the parent: directories, symlinks (no mode), fifos.
    fn at_name(&mut self, mode: Option<u32>) -> Result<(), ExtractError> {
        let (parent, name) = (self.parent, self.name);
        match parent.chown(name, self.meta.uid, self.meta.gid) {
            Err(e)
                if self.rules.tolerate_chown_eperm
                    && e.errno() == Some(rustix::io::Errno::PERM) => {}
            other => other.map_err(ExtractError::Root)?,
        }
        if let Some(mode) = mode {
            parent.chmod(name, mode).map_err(ExtractError::Root)?;
        }
        self.xattrs(|key, value| parent.set_xattr(name, key, value).map_err(io::Error::from));
        let t = Time::secs(self.meta.fields.mtime);
        parent.utimens(name, t, t).map_err(ExtractError::Root)
    }

    fn xattrs(&mut self, mut set: impl FnMut(&str, &[u8]) -> io::Result<()>) {
        for (key, value) in &self.meta.fields.xattrs {
            let why = match self.hooks.xattr_allowed(key) {
                Ok(()) => match set(key, value) {
                    Ok(()) => continue,
                    Err(e) => e.to_string(),
                },
                Err(why) => why.to_string(),
            };
            self.skipped
                .push(format!("{}: {key} ({why})", shown(self.path)));
        }
    }
}

/// Directory times last: writing inside a directory changes its mtime. A directory a later
/// entry replaced is gone: nothing to stamp.
fn set_dir_times(place: &Place<'_, '_>) -> Result<(), ExtractError> {
    let mut dirs: Vec<(&OsString, &i64)> = place.dir_times.iter().collect();
    dirs.sort();
    for (path, mtime) in dirs.into_iter().rev() {
        let t = Time::secs(*mtime);
        match place.root.utimens(join(place.dest.rel(), path), t, t) {
            Err(e) if e.is_not_found() => {}
            other => other.map_err(|e| ExtractError::from_root(path, e))?,
        }
    }
    Ok(())
}

fn id(raw: &OsStr, id: u64) -> Result<u32, ExtractError> {
    u32::try_from(id)
        .ok()
        .filter(|&id| id != u32::MAX)
        .ok_or_else(|| ExtractError::BadOwner {
            entry: raw.to_owned(),
            id,
        })
}

/// Copies a file's bytes, telling a bad archive from a failing disk.
fn copy_data(
    from: &mut impl Read,
    to: &mut File,
    parent: &Dir<'_>,
    name: &OsStr,
) -> Result<u64, ExtractError> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ExtractError::Tar(e)),
        };
        to.write_all(&buf[..n])
            .map_err(|e| ExtractError::Root(parent.err("write", name, e)))?;
        total += n as u64;
    }
}
