//! `COPY` and `ADD`: where the files come from, the cache key over their content, and the copy.

use std::fs;
use std::path::{Path, PathBuf};

use berth_dockerfile::describe::{AddStep, CopySource, CopyStep, FileSource};
use berth_dockerfile::ignore::Patterns;
use berth_fileops::{CopyOptions, Tree};
use serde_json::{Value, json};

use crate::error::BuildError;
use crate::keys;
use crate::snapshot::{LayerRef, View};
use crate::solve::{Located, Produced, Solver, StageState};

/// What `COPY` and `ADD` share, once the differences are settled.
struct Transfer<'a> {
    from: &'a FileSource,
    sources: &'a [CopySource],
    dest: &'a str,
    chown: Option<&'a str>,
    chmod: Option<&'a str>,
    parents: bool,
    exclude: &'a [String],
    unpack: bool,
    keyword: &'static str,
}

impl Solver<'_> {
    pub(crate) fn copy(
        &self,
        state: &StageState,
        copy: &CopyStep,
        at: &Located<'_>,
    ) -> Result<(String, Produced, String), BuildError> {
        self.transfer(
            state,
            &Transfer {
                from: &copy.from,
                sources: &copy.sources,
                dest: &copy.dest,
                chown: copy.chown.as_deref(),
                chmod: copy.chmod.as_deref(),
                parents: copy.parents,
                exclude: &copy.exclude,
                unpack: false,
                keyword: "COPY",
            },
            at,
        )
    }

    pub(crate) fn add(
        &self,
        state: &StageState,
        add: &AddStep,
        at: &Located<'_>,
    ) -> Result<(String, Produced, String), BuildError> {
        for s in &add.sources {
            if let CopySource::Path(p) = s {
                if is_remote(p) {
                    return Err(self.step_error(
                        at,
                        format!(
                            "ADD {p}: berth build does not download URLs or clone git repositories yet; fetch it in a RUN step (with --checksum verified) or COPY a local file"
                        ),
                    ));
                }
            }
        }
        self.transfer(
            state,
            &Transfer {
                from: &FileSource::Context,
                sources: &add.sources,
                dest: &add.dest,
                chown: add.chown.as_deref(),
                chmod: add.chmod.as_deref(),
                parents: false,
                exclude: &add.exclude,
                unpack: add.unpack.unwrap_or(true),
                keyword: "ADD",
            },
            at,
        )
    }

    fn transfer(
        &self,
        state: &StageState,
        t: &Transfer<'_>,
        at: &Located<'_>,
    ) -> Result<(String, Produced, String), BuildError> {
        let mut paths = Vec::new();
        let mut inline = Vec::new();
        for s in t.sources {
            match s {
                CopySource::Path(p) => paths.push(p.clone()),
                CopySource::Inline { name, content } => {
                    inline.push((name.clone(), content.clone()))
                }
            }
        }
        let exclude = Patterns::from_list(t.exclude)
            .map_err(|e| self.step_error(at, format!("--exclude: {e}")))?;
        // From the context, the selection's shape (which paths, which types) comes with its
        // checksum: a rerun with the same shape can build on the previous result.
        let mut shape = None;
        let content = if paths.is_empty() {
            json!(inline)
        } else if matches!(t.from, FileSource::Context) {
            let sums = self.context_checksums(&paths, &exclude, at)?;
            shape = Some(sums.shape);
            json!({ "paths": { "context": sums.content }, "inline": inline })
        } else {
            json!({
                "paths": self.source_identity_excluding(t.from, &paths, &exclude, at)?,
                "inline": inline,
            })
        };
        let workdir = state.config.workdir();
        let definition = json!({
            "op": t.keyword,
            "content": content,
            "dest": t.dest,
            // A relative destination depends on the working directory.
            "workdir": (!t.dest.starts_with('/')).then_some(&workdir),
            "chown": t.chown,
            "chmod": t.chmod,
            "parents": t.parents,
            "exclude": t.exclude,
            "unpack": t.unpack,
        });
        let key = keys::step(&state.key, &definition, &state.platform);
        // The same step with other file contents: its last result, if there is one to build
        // on, so a rerun writes only the files that changed.
        let slot = shape
            .filter(|_| inline.is_empty() && !t.unpack)
            .map(|shape| {
                let mut same_step = definition.clone();
                same_step["content"] = json!({ "shape": shape });
                format!(
                    "slot:{}",
                    keys::step(&state.key, &same_step, &state.platform)
                )
            });
        let previous = match &slot {
            Some(slot) => self.previous_result(slot)?,
            None => None,
        };
        let incremental = previous.is_some();
        let produced = self.step_with_cache(
            state,
            &key,
            at.label,
            previous.as_ref(),
            |merged, _, scratch| {
                let chown = match t.chown {
                    Some(spec) => Some(
                        chown_ids(merged, spec)
                            .map_err(|e| self.step_error(at, format!("--chown={spec}: {e}")))?,
                    ),
                    None => None,
                };
                let chmod = match t.chmod {
                    Some(m) => Some(u32::from_str_radix(m, 8).map_err(|_| {
                        self.step_error(
                            at,
                            format!("--chmod={m}: expected an octal mode such as 755"),
                        )
                    })?),
                    None => None,
                };
                let mut held = Vec::new();
                let opts = CopyOptions {
                    chown,
                    chmod,
                    exclude: exclude.clone(),
                    workdir: workdir.clone(),
                    source_is_context: matches!(t.from, FileSource::Context),
                    unpack_archives: t.unpack,
                    parents: t.parents,
                    allow_empty_wildcard: true,
                    skip_identical: incremental,
                };
                if !inline.is_empty() {
                    let dir = scratch.join("inline");
                    fs::create_dir_all(&dir).map_err(|e| BuildError::io(&dir, e))?;
                    for (name, content) in &inline {
                        let file = dir.join(name);
                        fs::write(&file, content).map_err(|e| BuildError::io(&file, e))?;
                    }
                    let names: Vec<String> = inline.iter().map(|(n, _)| n.clone()).collect();
                    let inline_opts = CopyOptions {
                        source_is_context: true,
                        unpack_archives: false,
                        ..opts.clone()
                    };
                    berth_fileops::copy(&dir, &names, t.dest, merged, &inline_opts)
                        .map_err(|e| self.step_error(at, e.to_string()))?;
                }
                if !paths.is_empty() {
                    let root = self.source_root(t.from, &scratch.join("from"), &mut held, at)?;
                    let tree = match t.from {
                        FileSource::Context => self.context.tree(),
                        _ => Tree::new(&root, None),
                    };
                    berth_fileops::copy_tree(tree, &paths, t.dest, merged, &opts)
                        .map_err(|e| self.step_error(at, e.to_string()))?;
                }
                drop(held);
                Ok(())
            },
        )?;
        if let (Some(slot), Some(layer)) = (&slot, &produced.layer) {
            self.remember_result(slot, layer, produced.time)?;
        }
        let mut words: Vec<String> = paths;
        words.extend(inline.iter().map(|(n, _)| n.clone()));
        words.push(t.dest.to_string());
        Ok((
            key,
            produced,
            format!("{} {} # buildkit", t.keyword, words.join(" ")),
        ))
    }

    /// The last result recorded under `slot` when its files are still unpacked and its chain
    /// of deltas has room for one more.
    fn previous_result(&self, slot: &str) -> Result<Option<LayerRef>, BuildError> {
        if self.req.no_cache || self.snapshots.mode() != crate::snapshot::Mode::Overlay {
            return Ok(None);
        }
        let Some(layer) = self.cached(slot)?.and_then(|p| p.layer) else {
            return Ok(None);
        };
        let room = self
            .snapshots
            .chain(&layer.diff_id)
            .is_some_and(|dirs| dirs.len() < crate::snapshot::MAX_CHAIN);
        Ok(room.then_some(layer))
    }

    /// Records `layer` as the latest result of the step `slot` names.
    fn remember_result(&self, slot: &str, layer: &LayerRef, time: i64) -> Result<(), BuildError> {
        self.store.meta().build_cache_put(
            slot,
            &berth_store::CachedStep {
                layer: Some(berth_store::CachedLayer {
                    digest: layer.descriptor.digest.clone(),
                    media_type: layer.descriptor.media_type.clone(),
                    size: layer.descriptor.size,
                    diff_id: layer.diff_id.clone(),
                }),
                created: time,
            },
        )?;
        Ok(())
    }

    /// The content identity of `paths` in a source, for cache keys.
    pub(crate) fn source_identity(
        &self,
        source: &FileSource,
        paths: &[String],
        at: &Located<'_>,
    ) -> Result<Value, BuildError> {
        self.source_identity_excluding(source, paths, &Patterns::default(), at)
    }

    fn source_identity_excluding(
        &self,
        source: &FileSource,
        paths: &[String],
        exclude: &Patterns,
        at: &Located<'_>,
    ) -> Result<Value, BuildError> {
        Ok(match source {
            // Context files by content, through the stat index.
            FileSource::Context => {
                json!({ "context": self.context_checksums(paths, exclude, at)?.content })
            }
            // A stage or image by the layers it is made of: content-addressed, and free.
            FileSource::Stage(i) => {
                let state = self.wait_for(*i)?;
                json!({ "layers": state.chain(), "paths": paths })
            }
            FileSource::Image(reference) => {
                json!({ "image": self.image_chain(reference)?, "paths": paths })
            }
        })
    }

    /// Checksums of what `paths` select in the context, through the stat index.
    fn context_checksums(
        &self,
        paths: &[String],
        exclude: &Patterns,
        at: &Located<'_>,
    ) -> Result<berth_fileops::Checksums, BuildError> {
        self.context
            .with_index(|index| {
                berth_fileops::checksum_and_shape(
                    self.context.tree(),
                    paths,
                    exclude,
                    true,
                    Some(index),
                )
            })
            .map_err(|e| self.step_error(at, e.to_string()))
    }

    /// Where a source's files are on disk; stages and images are mounted read-only at
    /// `mountpoint` (kept mounted by `held`).
    pub(crate) fn source_root(
        &self,
        source: &FileSource,
        mountpoint: &Path,
        held: &mut Vec<View>,
        _at: &Located<'_>,
    ) -> Result<PathBuf, BuildError> {
        let layers = match source {
            FileSource::Context => return Ok(self.context.path().to_path_buf()),
            FileSource::Stage(i) => self.wait_for(*i)?.layers,
            FileSource::Image(reference) => self.image_layer_refs(reference)?,
        };
        held.push(self.mount_read_only(&layers, mountpoint)?);
        Ok(mountpoint.to_path_buf())
    }
}

/// `--chown` as BuildKit reads it: `USER[:GROUP]`, names from the stage's passwd and group
/// files. A number alone is also the group (`--chown=42` is `42:42`); a name alone takes the
/// user's group from passwd.
fn chown_ids(rootfs: &Path, spec: &str) -> Result<(u32, u32), berth_sandbox::SandboxError> {
    let user = berth_sandbox::resolve_user(rootfs, spec)?;
    if let Ok(n) = spec.parse::<u32>() {
        return Ok((n, n));
    }
    Ok((user.uid, user.gid))
}

/// `ADD` sources fetched from elsewhere.
fn is_remote(source: &str) -> bool {
    source.starts_with("http://")
        || source.starts_with("https://")
        || source.starts_with("git@")
        || source.ends_with(".git")
}
