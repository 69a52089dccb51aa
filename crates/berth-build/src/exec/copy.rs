//! The `COPY`/`ADD` executor: files from the context, a stage or an image into the stage's
//! snapshot, with BuildKit's rules (berth-fileops does the copying).

use std::fs;
use std::path::Path;

use berth_fileops::{CopyOptions, Tree};

use super::{CopyOp, Source, StepEnv, Worker};
use crate::error::{BuildError, StepError};

/// Copies what `op` names into `root` (the stage's writable snapshot); `scratch` is the
/// step's private directory outside it.
pub(crate) fn copy(
    worker: &Worker<'_>,
    op: &CopyOp,
    root: &Path,
    scratch: &Path,
    env: &StepEnv<'_>,
) -> Result<(), BuildError> {
    let chown = match &op.chown {
        Some(spec) => Some(chown_ids(root, spec).map_err(|source| {
            env.at.error(StepError::Chown {
                spec: spec.clone(),
                source,
            })
        })?),
        None => None,
    };
    let chmod = match &op.chmod {
        Some(m) => Some(
            u32::from_str_radix(m, 8)
                .map_err(|_| env.at.error(StepError::Chmod { mode: m.clone() }))?,
        ),
        None => None,
    };
    let opts = CopyOptions {
        chown,
        chmod,
        exclude: op.exclude.clone(),
        workdir: op.workdir.clone(),
        source_is_context: op.from == Source::Context,
        unpack_archives: op.unpack,
        parents: op.parents,
        allow_empty_wildcard: true,
        // Building on an earlier result: files already there with the same content stay.
        skip_identical: env.previous.is_some(),
    };
    if !op.inline.is_empty() {
        let dir = scratch.join("inline");
        fs::create_dir_all(&dir).map_err(|e| BuildError::io(&dir, e))?;
        for (name, content) in &op.inline {
            let file = dir.join(name);
            fs::write(&file, content).map_err(|e| BuildError::io(&file, e))?;
        }
        let names: Vec<String> = op.inline.iter().map(|(n, _)| n.clone()).collect();
        let inline_opts = CopyOptions {
            source_is_context: true,
            unpack_archives: false,
            ..opts.clone()
        };
        berth_fileops::copy(&dir, &names, &op.dest, root, &inline_opts)
            .map_err(|e| env.at.error(e))?;
    }
    if !op.paths.is_empty() {
        let mut held = Vec::new();
        let from = worker.source_root(&op.from, env, &scratch.join("from"), &mut held)?;
        let tree = match op.from {
            Source::Context => env.context.tree(),
            Source::Layers(_) => Tree::new(&from, None),
        };
        berth_fileops::copy_tree(tree, &op.paths, &op.dest, root, &opts)
            .map_err(|e| env.at.error(e))?;
        drop(held);
    }
    Ok(())
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
