//! Paths inside the root file system, resolved as the container will see them: symlinks
//! are followed but clamped to the root (by berth-rootfs), so nothing the image contains can
//! send the sandbox's own file operations out onto the host.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use berth_rootfs::{Dir, Last, Links, Resolver, Root, Time, Until};

/// Opens `path` (a container path) of `root` for reading, resolving it inside the root;
/// `None` if it does not exist.
pub(crate) fn open_in_root(root: &Path, path: &str) -> io::Result<Option<File>> {
    match Root::open(root)?.open_read(path, Last::Follow) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What a mount point must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
}

/// Where a container path lands.
#[derive(Debug)]
pub(crate) enum Resolved {
    /// A host path under the root, with no symlink in it, that exists (or was just created).
    Host(PathBuf),
    /// Under `stops[index]` (an earlier mount), at these lexical components below it.
    Inside { index: usize, rest: Vec<OsString> },
}

/// What the sandbox created in the root only to mount over, to remove after the run.
#[derive(Debug, Default)]
pub(crate) struct Stubs {
    /// Paths relative to the root, in creation order.
    created: Vec<(OsString, Kind)>,
    /// Pre-existing directories that got a stub, to put back as they were.
    parents: Vec<Parent>,
}

#[derive(Debug)]
struct Parent {
    rel: OsString,
    /// Times before the sandbox created anything in it.
    before: FileTimes,
    /// Its mtime once the sandbox's stubs were in it: if it still has it after the run,
    /// only the sandbox changed it, and the old times can be restored.
    after: Option<Time>,
}

#[derive(Debug, Clone, Copy)]
struct FileTimes {
    atime: Time,
    mtime: Time,
}

/// Resolves the container path `path` in `root` (canonical), creating what is missing as
/// `kind` (parents as directories, mode 0755). Creations are recorded in `stubs` when
/// given. Resolution stops at any of `stops` (host paths of earlier mounts).
pub(crate) fn prepare(
    root: &Path,
    path: &str,
    kind: Kind,
    stops: &[PathBuf],
    stubs: Option<&mut Stubs>,
) -> Result<Resolved, String> {
    let rootfs = Root::open(root).map_err(|e| e.to_string())?;
    let stop_rels: Vec<&OsStr> = stops
        .iter()
        .filter_map(|s| s.strip_prefix(root).ok())
        .map(|s| s.as_os_str())
        .collect();
    let index_of = |rel: &OsStr| {
        stops
            .iter()
            .zip(&stop_rels)
            .position(|(stop, stop_rel)| *stop_rel == rel && stop.starts_with(root))
    };
    let rel = match rootfs
        .resolve_until(path, &|rel| index_of(rel).is_some())
        .map_err(|e| e.to_string())?
    {
        Until::Resolved(rel) => rel,
        Until::Stopped { at, rest } => {
            if rest.iter().any(|c| c == "..") {
                return Err("the path climbs out of an earlier mount with '..'".to_string());
            }
            let index = index_of(&at).unwrap_or_default();
            return Ok(Resolved::Inside { index, rest });
        }
    };
    match rootfs.lstat(&rel).map_err(|e| e.to_string())? {
        None => create(&rootfs, &rel, kind, stubs).map(Resolved::Host),
        Some(m) if kind == Kind::Dir && !m.is_dir() => {
            Err("it exists and is not a directory".to_string())
        }
        Some(m) if kind == Kind::File && m.is_dir() => {
            Err("it exists and is a directory".to_string())
        }
        Some(_) => Ok(Resolved::Host(rootfs.host_of(&rel))),
    }
}

/// [`prepare`] with no earlier mounts in the way: always a host path.
pub(crate) fn prepare_host(
    root: &Path,
    path: &str,
    kind: Kind,
    stubs: &mut Stubs,
) -> Result<PathBuf, String> {
    match prepare(root, path, kind, &[], Some(stubs))? {
        Resolved::Host(p) => Ok(p),
        Resolved::Inside { .. } => Err("it lies inside another mount".to_string()),
    }
}

/// The host path of the existing container path `path`, if it exists.
pub(crate) fn existing(root: &Path, path: &str) -> Option<PathBuf> {
    let rootfs = Root::open(root).ok()?;
    let rel = rootfs.resolve(path, Last::Follow).ok()?.rel;
    rootfs.lstat(&rel).ok()??;
    Some(rootfs.host_of(&rel))
}

/// Creates the missing end of `rel` (resolved, so free of symlinks): the directories below
/// the deepest existing one, then `kind` itself. Through a root that refuses symlinks, so
/// nothing swapped in meanwhile is followed.
fn create(
    rootfs: &Root,
    rel: &OsStr,
    kind: Kind,
    mut stubs: Option<&mut Stubs>,
) -> Result<PathBuf, String> {
    let strict = rootfs
        .with_links(Links::Refuse)
        .map_err(|e| e.to_string())?;
    let parts: Vec<&[u8]> = rel
        .as_bytes()
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty())
        .collect();
    let joined = |parts: &[&[u8]]| OsStr::from_bytes(&parts.join(&b'/')).to_owned();
    // The deepest existing directory.
    let mut have = 0;
    while have < parts.len() {
        let prefix = joined(&parts[..=have]);
        match strict.lstat(&prefix).map_err(|e| e.to_string())? {
            Some(m) if m.is_dir() => have += 1,
            Some(_) => {
                return Err(format!(
                    "{} is not a directory",
                    strict.host_of(&prefix).display()
                ));
            }
            None => break,
        }
    }
    let existing = joined(&parts[..have]);
    let mut dir = strict.dir(&existing).map_err(|e| e.to_string())?;
    if let Some(stubs) = stubs.as_deref_mut() {
        stubs.remember_parent(&dir);
    }
    let last = parts.len() - 1;
    for (i, name) in parts.iter().enumerate().skip(have) {
        let name = OsStr::from_bytes(name);
        let this = if i == last { kind } else { Kind::Dir };
        let cannot = |e: berth_rootfs::Error| {
            format!(
                "cannot create {}: {e}",
                strict.host_of(dir.path_of(name)).display()
            )
        };
        let next = match this {
            Kind::Dir => Some(dir.mkdir(name, 0o755).map_err(cannot)?),
            Kind::File => {
                dir.create_file(name, 0o644).map_err(cannot)?;
                None
            }
        };
        if let Some(stubs) = stubs.as_deref_mut() {
            stubs.created.push((dir.path_of(name), this));
            if i == have {
                stubs.note_parent_changed(&dir);
            }
        }
        if let Some(next) = next {
            dir = next;
        }
    }
    Ok(strict.host_of(rel))
}

fn times_of(meta: &berth_rootfs::Meta) -> FileTimes {
    FileTimes {
        atime: Time::accessed(meta),
        mtime: Time::modified(meta),
    }
}

impl Stubs {
    fn remember_parent(&mut self, dir: &Dir<'_>) {
        if self.parents.iter().any(|p| p.rel == dir.rel()) {
            return;
        }
        if let Ok(m) = dir.metadata() {
            self.parents.push(Parent {
                rel: dir.rel().to_owned(),
                before: times_of(&m),
                after: None,
            });
        }
    }

    fn note_parent_changed(&mut self, dir: &Dir<'_>) {
        if let Some(parent) = self.parents.iter_mut().find(|p| p.rel == dir.rel()) {
            parent.after = dir.metadata().ok().map(|m| times_of(&m).mtime);
        }
    }

    /// Removes, deepest first, every stub the command left as the sandbox made it (empty
    /// file, empty directory), then restores the times of the directories that held them
    /// unless the command changed those too. Never follows a symlink: the command may have
    /// replaced any of these paths.
    pub(crate) fn remove(&self, root: &Path) {
        let Ok(rootfs) = Root::open_with(root, Resolver::detect(), Links::Refuse) else {
            return;
        };
        let untouched: Vec<Option<Dir<'_>>> = self
            .parents
            .iter()
            .map(|p| {
                let dir = rootfs.dir(&p.rel).ok()?;
                let now = times_of(&dir.metadata().ok()?).mtime;
                (Some(now) == p.after).then_some(dir)
            })
            .collect();
        for (rel, kind) in self.created.iter().rev() {
            let (parent, name) = berth_rootfs::path::split(rel);
            let Ok(dir) = rootfs.dir(parent) else {
                continue;
            };
            let Ok(Some(meta)) = dir.lstat(name) else {
                continue;
            };
            match kind {
                // Fails, and so keeps it, if the command put something in it.
                Kind::Dir if meta.is_dir() => {
                    let _ = dir.rmdir(name);
                }
                Kind::File if meta.is_file() && meta.len() == 0 => {
                    let _ = dir.unlink(name);
                }
                _ => {}
            }
        }
        for (parent, dir) in self.parents.iter().zip(untouched) {
            if let Some(dir) = dir {
                let _ = dir.utimens_self(parent.before.atime, parent.before.mtime);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn root() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        (dir, root)
    }

    #[test]
    fn absolute_symlinks_stay_in_the_root() {
        let (_d, root) = root();
        fs::create_dir(root.join("real")).unwrap();
        symlink("/real", root.join("link")).unwrap();
        symlink("../../../..", root.join("up")).unwrap();
        let r = prepare(&root, "/link/x", Kind::File, &[], None).unwrap();
        assert!(matches!(r, Resolved::Host(p) if p == root.join("real/x")));
        let r = prepare(&root, "/up/etc", Kind::Dir, &[], None).unwrap();
        assert!(matches!(r, Resolved::Host(p) if p == root.join("etc")));
        assert!(root.join("etc").is_dir());
    }

    #[test]
    fn stubs_are_removed_only_when_untouched() {
        let (_d, root) = root();
        fs::create_dir(root.join("etc")).unwrap();
        let mut stubs = Stubs::default();
        prepare(&root, "/etc/hosts", Kind::File, &[], Some(&mut stubs)).unwrap();
        prepare(&root, "/run/secrets/a", Kind::File, &[], Some(&mut stubs)).unwrap();
        prepare(&root, "/proc", Kind::Dir, &[], Some(&mut stubs)).unwrap();
        fs::write(root.join("run/secrets/a"), "kept").unwrap();
        stubs.remove(&root);
        assert!(!root.join("etc/hosts").exists());
        assert!(!root.join("proc").exists());
        assert_eq!(fs::read(root.join("run/secrets/a")).unwrap(), b"kept");
    }

    #[test]
    fn removal_never_follows_a_swapped_in_symlink() {
        let (_d, root) = root();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("x"), "").unwrap();
        let mut stubs = Stubs::default();
        prepare(&root, "/d/x", Kind::File, &[], Some(&mut stubs)).unwrap();
        fs::remove_dir_all(root.join("d")).unwrap();
        symlink(outside.path(), root.join("d")).unwrap();
        stubs.remove(&root);
        assert!(outside.path().join("x").exists());
    }

    #[test]
    fn stops_at_earlier_mounts() {
        let (_d, root) = root();
        fs::create_dir(root.join("tmp")).unwrap();
        let stops = [root.join("tmp")];
        let r = prepare(&root, "/tmp/a/b", Kind::Dir, &stops, None).unwrap();
        assert!(matches!(r, Resolved::Inside { index: 0, ref rest } if rest.len() == 2));
        assert!(!root.join("tmp/a").exists());
    }

    /// berth-rootfs' hostile corpus through the sandbox's stubs and lookups, on both
    /// resolution strategies.
    #[test]
    fn hostile_corpus_through_root_paths() {
        use berth_rootfs::testing::{on_both_strategies, run_corpus};
        on_both_strategies("rootpath::tests::hostile_corpus_through_root_paths", || {
            run_corpus("sandbox root paths", |scene, case| {
                let root = fs::canonicalize(&scene.root).unwrap();
                let mut stubs = Stubs::default();
                for kind in [Kind::File, Kind::Dir] {
                    for path in [case.path.to_string(), format!("/{}/sub/x", case.path)] {
                        let _ = prepare(&root, &path, kind, &[], Some(&mut stubs));
                    }
                }
                let _ = existing(&root, case.path);
                let _ = open_in_root(&root, case.path);
                stubs.remove(&root);
            });
        });
    }

    #[test]
    fn race_through_root_paths() {
        use berth_rootfs::testing::{on_both_strategies, race};
        on_both_strategies("rootpath::tests::race_through_root_paths", || {
            race("sandbox root paths", 300, |scene, i| {
                let root = fs::canonicalize(&scene.root).unwrap();
                let mut stubs = Stubs::default();
                let _ = prepare(
                    &root,
                    &format!("/d/f{i}"),
                    Kind::File,
                    &[],
                    Some(&mut stubs),
                );
                let _ = prepare(
                    &root,
                    &format!("/d/s{i}/x"),
                    Kind::Dir,
                    &[],
                    Some(&mut stubs),
                );
                let _ = prepare(&root, "/d/secret", Kind::File, &[], Some(&mut stubs));
                stubs.remove(&root);
            });
        });
    }
}
