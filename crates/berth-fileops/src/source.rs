//! What a `COPY` source selects: wildcard expansion, scoped symlink resolution, `.dockerignore`
//! and `--exclude` filtering, and the ordered walk of a selected directory. Shared by the
//! checksum (cache key) and the copy itself, so both see exactly the same files.
//!
//! Everything is read through the tree's [`Root`]: directories are listed and entries
//! stat'ed by descriptor, and a selected entry is opened again ([`Source`]) by its path
//! inside the root with symlinks refused, so a symlink swapped in after the walk can never
//! make berth read a file outside the tree.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use berth_dockerfile::ignore::Patterns;
use berth_rootfs::path::{file_name, for_matching};
use berth_rootfs::{Dir, Last, Links, Meta, OFlags, Reader, Resolver, Root};
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::scoped::{clean_rel, join_rel};
use crate::wildcard;

/// A tree files are taken from: the build context (filtered by `.dockerignore`) or a stage's
/// root filesystem.
#[derive(Debug, Clone, Copy)]
pub struct Tree<'a> {
    pub root: &'a Path,
    /// The context's `.dockerignore`; `None` for a stage or image.
    pub ignore: Option<&'a Patterns>,
}

/// One path a source selected. Paths are bytes, as names are on Linux: a name that is not
/// UTF-8 is selected, matched and copied like any other.
#[derive(Debug)]
pub(crate) struct Match {
    /// The path as named (wildcards expanded), relative to the root.
    pub named: OsString,
    /// Where it resolves to after following symlinks (the last one too), relative to the root.
    pub resolved: OsString,
    /// The root's host path joined with `resolved`: for messages and the index's key.
    pub host: PathBuf,
    /// Metadata of what the path resolves to.
    pub meta: Meta,
}

impl Match {
    /// The name a file source gets in a destination directory: its own, not its link target's.
    pub fn name(&self) -> &OsStr {
        file_name(&self.named)
    }
}

/// One entry of a selected tree, parents before children.
#[derive(Debug)]
pub(crate) struct Node {
    /// Relative to the selected source: `""` for the source itself.
    pub rel: OsString,
    /// Where it is inside the tree's root, no symlink on the way: how [`Source`] reads it.
    pub path: OsString,
    /// The root's host path joined with `path`: for messages and the index's key.
    pub host: PathBuf,
    pub meta: Meta,
}

/// The reading side of a tree: its root opened to refuse symlinks, for the entries a walk
/// selected (whose paths hold none, unless one was swapped in since: then the read fails).
pub(crate) struct Source {
    reader: Reader,
}

impl Source {
    pub fn open(tree: &Tree<'_>) -> Result<Source> {
        let root = Root::open_with(tree.root, Resolver::detect(), Links::Refuse)?;
        Ok(Source {
            reader: Reader::new(root),
        })
    }

    /// Opens a regular file of the walk for reading.
    pub fn open_file(&self, node: &Node) -> Result<File> {
        Ok(self.reader.open(&node.path, OFlags::RDONLY)?)
    }

    /// Opens a selected regular file for reading (a local archive `ADD` unpacks).
    pub fn open_match(&self, m: &Match) -> Result<File> {
        Ok(self
            .reader
            .root()
            .open_file(&m.resolved, Last::NoFollow, OFlags::RDONLY, 0)?)
    }

    /// The target of a symlink of the walk.
    pub fn read_link(&self, node: &Node) -> Result<OsString> {
        Ok(self.reader.readlink(&node.path)?)
    }

    /// The extended attributes of an entry of the walk (not followed), sorted by name.
    pub fn xattrs(&self, node: &Node) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(self.reader.xattrs(&node.path)?)
    }
}

impl<'a> Tree<'a> {
    pub fn new(root: &'a Path, ignore: Option<&'a Patterns>) -> Tree<'a> {
        Tree { root, ignore }
    }

    fn open_root(&self) -> Result<Root> {
        Ok(Root::open(self.root)?)
    }

    fn place(&self) -> (&'static str, &'static str) {
        match self.ignore {
            Some(_) => ("build context", " and is not excluded by .dockerignore"),
            None => ("source stage or image", ""),
        }
    }

    /// Whether a path of the tree exists for the build: context paths excluded by
    /// `.dockerignore` are invisible, unless a directory may hold re-included files.
    fn visible(&self, rel: &OsStr, is_dir: bool) -> bool {
        match self.ignore {
            None => true,
            Some(_) if rel.is_empty() => true,
            Some(p) => {
                let rel = for_matching(rel);
                !p.excludes(&rel) || (is_dir && p.may_include_under(&rel))
            }
        }
    }

    /// Expands one source: cleaned to stay inside the root (`../x` and `/x` mean `x`), wildcards
    /// matched per component, the last symlink followed inside the root. Sorted by name.
    pub(crate) fn expand(&self, source: &str, allow_empty_wildcard: bool) -> Result<Vec<Match>> {
        let root = self.open_root()?;
        // Cleaning only drops components: what the Dockerfile wrote stays UTF-8.
        let cleaned = clean_rel(source);
        let cleaned = cleaned.to_string_lossy();
        let mut named: Vec<OsString> = vec![OsString::new()];
        let mut wild = false;
        for part in cleaned.split('/').filter(|p| !p.is_empty()) {
            if !wildcard::has_meta(part) {
                named.iter_mut().for_each(|n| *n = join_rel(&*n, part));
                continue;
            }
            wild = true;
            let mut next = Vec::new();
            for prefix in &named {
                next.extend(self.list_matching(&root, prefix, part, source)?);
            }
            named = next;
        }
        let mut matches = Vec::new();
        for name in named {
            match self.lookup(&root, &name)? {
                Some(m) => matches.push(m),
                None if wild => {}
                None => {
                    let (place, hint) = self.place();
                    return Err(Error::NotFound {
                        path: name,
                        place,
                        hint,
                    });
                }
            }
        }
        if matches.is_empty() && !allow_empty_wildcard {
            let (place, hint) = self.place();
            return Err(Error::NoMatch {
                pattern: source.to_owned(),
                place,
                hint,
            });
        }
        matches.sort_by(|a, b| a.named.cmp(&b.named));
        Ok(matches)
    }

    /// Names in directory `prefix` matching one wildcard component.
    fn list_matching(
        &self,
        root: &Root,
        prefix: &OsStr,
        pattern: &str,
        source: &str,
    ) -> Result<Vec<OsString>> {
        let names = match root.dir(prefix) {
            Ok(dir) => dir.read_dir(),
            Err(e) => Err(e),
        };
        let names = match names {
            Ok(names) => names,
            // Not a directory or not there: a wildcard under it simply matches nothing.
            Err(e) if e.is_not_found() || e.errno() == Some(Errno::NOTDIR) => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for name in names {
            // A name that is not UTF-8 is matched as Go's `filepath.Match` reads it, as
            // BuildKit does: each stray byte is one character, which only a wildcard matches.
            let hit = wildcard::matches(pattern, &for_matching(&name)).map_err(|e| {
                Error::BadPattern {
                    pattern: source.to_owned(),
                    reason: e.to_string(),
                }
            })?;
            if hit {
                out.push(join_rel(prefix, &name));
            }
        }
        out.sort();
        Ok(out)
    }

    /// A named path, resolved inside the root; `None` when it is not there for the build.
    fn lookup(&self, root: &Root, named: &OsStr) -> Result<Option<Match>> {
        // The name itself (a symlink, maybe) must be visible, and so must what it points to.
        let unfollowed = root.resolve(named, Last::NoFollow)?;
        let Ok(link_meta) = root.stat(&unfollowed.rel, Last::NoFollow) else {
            return Ok(None);
        };
        if !self.visible(&unfollowed.rel, link_meta.is_dir()) {
            return Ok(None);
        }
        let resolved = root.resolve(named, Last::Follow)?;
        let Ok(meta) = root.stat(&resolved.rel, Last::NoFollow) else {
            return Ok(None);
        };
        if !self.visible(&resolved.rel, meta.is_dir()) {
            return Ok(None);
        }
        Ok(Some(Match {
            named: named.to_owned(),
            resolved: resolved.rel,
            host: resolved.host,
            meta,
        }))
    }

    /// Every entry a match selects, parents first, names sorted; symlinks inside are not
    /// followed. `exclude` (`COPY --exclude`) applies to paths relative to a directory source,
    /// and to a file source's name.
    ///
    /// Iterative, with an explicit stack of open directories (one descriptor per level, each
    /// opened by its name in its parent): a context thousands of levels deep is walked like a
    /// shallow one, never overflowing the thread's stack. (Files are read later by their
    /// path inside the root, so a path past `PATH_MAX` fails then, naming it.)
    pub(crate) fn walk(&self, m: &Match, exclude: &Patterns) -> Result<Vec<Node>> {
        let mut nodes = Vec::new();
        let top = Node {
            rel: OsString::new(),
            path: m.resolved.clone(),
            host: m.host.clone(),
            meta: m.meta.clone(),
        };
        if !m.meta.is_dir() {
            if !exclude.excludes(&for_matching(m.name())) {
                nodes.push(top);
            }
            return Ok(nodes);
        }
        nodes.push(top);
        let root = self.open_root()?;
        let mut stack = vec![Level::open(root.dir(&m.resolved)?, OsString::new(), None)?];
        while let Some(level) = stack.last_mut() {
            let Some(name) = level.names.next() else {
                let done = stack.pop();
                // An excluded directory only exists to hold what an exception brought back.
                if let Some(Level {
                    prune_at: Some(at), ..
                }) = done
                {
                    if nodes.len() == at + 1 {
                        nodes.pop();
                    }
                }
                continue;
            };
            if let Some(below) = self.visit(level, &name, exclude, &mut nodes)? {
                stack.push(below);
            }
        }
        Ok(nodes)
    }

    /// One entry `name` of the directory `level`: added to `nodes` unless excluded; a
    /// directory to descend into comes back opened.
    fn visit<'r>(
        &self,
        level: &Level<'r>,
        name: &OsStr,
        exclude: &Patterns,
        nodes: &mut Vec<Node>,
    ) -> Result<Option<Level<'r>>> {
        let dir = &level.dir;
        let child_tree = dir.path_of(name);
        let child_host = dir.root().host_of(&child_tree);
        let meta = dir.lstat(name)?.ok_or_else(|| Error::Io {
            path: child_host.clone(),
            source: io::Error::from(io::ErrorKind::NotFound),
        })?;
        let child_rel = join_rel(&level.rel, name);
        // Empty pattern lists are the common case: skip the matcher's allocations.
        let ignored = self
            .ignore
            .is_some_and(|p| !p.is_empty() && p.excludes(&for_matching(&child_tree)));
        let excluded =
            ignored || (!exclude.is_empty() && exclude.excludes(&for_matching(&child_rel)));
        if !meta.is_dir() {
            if !excluded {
                nodes.push(Node {
                    rel: child_rel,
                    path: child_tree,
                    host: child_host,
                    meta,
                });
            }
            return Ok(None);
        }
        let may_return = (!ignored || self.visible(&child_tree, true))
            && (!exclude.excludes(&for_matching(&child_rel))
                || exclude.may_include_under(&for_matching(&child_rel)));
        if excluded && !may_return {
            return Ok(None);
        }
        let at = nodes.len();
        nodes.push(Node {
            rel: child_rel.clone(),
            path: child_tree,
            host: child_host,
            meta,
        });
        // Opened without following: a symlink swapped in for it fails here.
        let below = dir.open_dir(name)?;
        Ok(Some(Level::open(below, child_rel, excluded.then_some(at))?))
    }
}

/// One directory of a walk in progress: its descriptor and the names still to visit.
struct Level<'r> {
    dir: Dir<'r>,
    /// Where it is relative to the selected source.
    rel: OsString,
    names: std::vec::IntoIter<OsString>,
    /// For an excluded directory kept only for what an exception may bring back: its index
    /// in the walk's nodes, dropped again if nothing below it was kept.
    prune_at: Option<usize>,
}

impl<'r> Level<'r> {
    fn open(dir: Dir<'r>, rel: OsString, prune_at: Option<usize>) -> Result<Level<'r>> {
        let mut names = dir.read_dir()?;
        names.sort();
        Ok(Level {
            dir,
            rel,
            names: names.into_iter(),
            prune_at,
        })
    }
}
