//! What a `COPY` source selects: wildcard expansion, scoped symlink resolution, `.dockerignore`
//! and `--exclude` filtering, and the ordered walk of a selected directory. Shared by the
//! checksum (cache key) and the copy itself, so both see exactly the same files.

use std::fs::Metadata;
use std::path::{Path, PathBuf};

use berth_dockerfile::ignore::Patterns;

use crate::error::{Error, IoContext, Result};
use crate::scoped::{self, clean_rel, join_rel};
use crate::wildcard;

/// A tree files are taken from: the build context (filtered by `.dockerignore`) or a stage's
/// root filesystem.
#[derive(Debug, Clone, Copy)]
pub struct Tree<'a> {
    pub root: &'a Path,
    /// The context's `.dockerignore`; `None` for a stage or image.
    pub ignore: Option<&'a Patterns>,
}

/// One path a source selected.
#[derive(Debug)]
pub(crate) struct Match {
    /// The path as named (wildcards expanded), relative to the root.
    pub named: String,
    /// Where it resolves to after following symlinks (the last one too), relative to the root.
    pub resolved: String,
    pub host: PathBuf,
    /// Metadata of what the path resolves to.
    pub meta: Metadata,
}

impl Match {
    /// The name a file source gets in a destination directory: its own, not its link target's.
    pub fn name(&self) -> &str {
        self.named.rsplit('/').next().unwrap_or("")
    }
}

/// One entry of a selected tree, parents before children.
#[derive(Debug)]
pub(crate) struct Node {
    /// Relative to the selected source: `""` for the source itself.
    pub rel: String,
    pub host: PathBuf,
    pub meta: Metadata,
}

impl<'a> Tree<'a> {
    pub fn new(root: &'a Path, ignore: Option<&'a Patterns>) -> Tree<'a> {
        Tree { root, ignore }
    }

    fn place(&self) -> (&'static str, &'static str) {
        match self.ignore {
            Some(_) => ("build context", " and is not excluded by .dockerignore"),
            None => ("source stage or image", ""),
        }
    }

    /// Whether a path of the tree exists for the build: context paths excluded by
    /// `.dockerignore` are invisible, unless a directory may hold re-included files.
    fn visible(&self, rel: &str, is_dir: bool) -> bool {
        match self.ignore {
            None => true,
            Some(_) if rel.is_empty() => true,
            Some(p) => !p.excludes(rel) || (is_dir && p.may_include_under(rel)),
        }
    }

    /// Expands one source: cleaned to stay inside the root (`../x` and `/x` mean `x`), wildcards
    /// matched per component, the last symlink followed inside the root. Sorted by name.
    pub(crate) fn expand(&self, source: &str, allow_empty_wildcard: bool) -> Result<Vec<Match>> {
        let cleaned = clean_rel(source);
        let mut named: Vec<String> = vec![String::new()];
        let mut wild = false;
        for part in cleaned.split('/').filter(|p| !p.is_empty()) {
            if !wildcard::has_meta(part) {
                named.iter_mut().for_each(|n| *n = join_rel(n, part));
                continue;
            }
            wild = true;
            let mut next = Vec::new();
            for prefix in &named {
                next.extend(self.list_matching(prefix, part, source)?);
            }
            named = next;
        }
        let mut matches = Vec::new();
        for name in named {
            match self.lookup(&name)? {
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
    fn list_matching(&self, prefix: &str, pattern: &str, source: &str) -> Result<Vec<String>> {
        let dir = scoped::resolve(self.root, prefix, true).at(self.root.join(prefix))?;
        let entries = match std::fs::read_dir(&dir.host) {
            Ok(entries) => entries,
            // Not a directory or not there: a wildcard under it simply matches nothing.
            Err(_) => return Ok(Vec::new()),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.at(&dir.host)?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let hit = wildcard::matches(pattern, &name).map_err(|e| Error::BadPattern {
                pattern: source.to_owned(),
                reason: e.to_string(),
            })?;
            if hit {
                out.push(join_rel(prefix, &name));
            }
        }
        out.sort();
        Ok(out)
    }

    /// A named path, resolved inside the root; `None` when it is not there for the build.
    fn lookup(&self, named: &str) -> Result<Option<Match>> {
        // The name itself (a symlink, maybe) must be visible, and so must what it points to.
        let unfollowed = scoped::resolve(self.root, named, false).at(self.root.join(named))?;
        let Ok(link_meta) = std::fs::symlink_metadata(&unfollowed.host) else {
            return Ok(None);
        };
        if !self.visible(&unfollowed.rel, link_meta.is_dir()) {
            return Ok(None);
        }
        let resolved = scoped::resolve(self.root, named, true).at(self.root.join(named))?;
        let Ok(meta) = std::fs::symlink_metadata(&resolved.host) else {
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
    pub(crate) fn walk(&self, m: &Match, exclude: &Patterns) -> Result<Vec<Node>> {
        let mut nodes = Vec::new();
        if !m.meta.is_dir() {
            if !exclude.excludes(m.name()) {
                nodes.push(Node {
                    rel: String::new(),
                    host: m.host.clone(),
                    meta: m.meta.clone(),
                });
            }
            return Ok(nodes);
        }
        nodes.push(Node {
            rel: String::new(),
            host: m.host.clone(),
            meta: m.meta.clone(),
        });
        self.walk_dir(&m.host, &m.resolved, "", exclude, &mut nodes)?;
        Ok(nodes)
    }

    fn walk_dir(
        &self,
        host: &Path,
        tree_rel: &str,
        rel: &str,
        exclude: &Patterns,
        nodes: &mut Vec<Node>,
    ) -> Result<()> {
        let mut names: Vec<_> = std::fs::read_dir(host)
            .at(host)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .at(host)?;
        names.sort();
        for name in names {
            let Some(name) = name.to_str() else {
                continue;
            };
            let child_host = host.join(name);
            let meta = std::fs::symlink_metadata(&child_host).at(&child_host)?;
            let child_tree = join_rel(tree_rel, name);
            let child_rel = join_rel(rel, name);
            // Empty pattern lists are the common case: skip the matcher's allocations.
            let ignored = self
                .ignore
                .is_some_and(|p| !p.is_empty() && p.excludes(&child_tree));
            let excluded = ignored || (!exclude.is_empty() && exclude.excludes(&child_rel));
            if !meta.is_dir() {
                if !excluded {
                    nodes.push(Node {
                        rel: child_rel,
                        host: child_host,
                        meta,
                    });
                }
                continue;
            }
            let may_return = (!ignored || self.visible(&child_tree, true))
                && (!exclude.excludes(&child_rel) || exclude.may_include_under(&child_rel));
            if excluded && !may_return {
                continue;
            }
            let at = nodes.len();
            nodes.push(Node {
                rel: child_rel.clone(),
                host: child_host.clone(),
                meta,
            });
            self.walk_dir(&child_host, &child_tree, &child_rel, exclude, nodes)?;
            // An excluded directory only exists to hold what an exception brought back.
            if excluded && nodes.len() == at + 1 {
                nodes.pop();
            }
        }
        Ok(())
    }
}
