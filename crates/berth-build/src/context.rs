//! The build context as the solver sees it: a directory, its `.dockerignore`, and the
//! file-stat index that lets a warm build re-hash only what changed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_dockerfile::ignore::Patterns;
use berth_fileops::{Context, Index, Tree};
use sha2::{Digest as _, Sha256};

use crate::error::BuildError;
use crate::request::BuildRequest;
use crate::snapshot::Snapshots;

/// The context directory seen through its `.dockerignore`, and the stat index of its files.
pub struct BuildContext {
    context: Context,
    index: Mutex<Index>,
    index_path: PathBuf,
}

impl BuildContext {
    pub fn open(req: &BuildRequest, snapshots: &Snapshots) -> Result<BuildContext, BuildError> {
        let ignore = match &req.dockerignore {
            Some(text) => Patterns::parse(text).map_err(|e| BuildError::Dockerfile {
                file: ".dockerignore".into(),
                message: e.to_string(),
            })?,
            None => Patterns::default(),
        };
        let context = Context::open(&req.context, ignore).map_err(|e| BuildError::Io {
            path: req.context.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        // One index per context directory, named by its absolute path. A missing or damaged
        // one only costs re-hashing.
        let name = hex::encode(Sha256::digest(
            context.root().as_os_str().as_encoded_bytes(),
        ));
        let index_path = snapshots.dir().join("context").join(format!("{name}.idx"));
        let index = Index::load(&index_path).unwrap_or_default();
        Ok(BuildContext {
            context,
            index: Mutex::new(index),
            index_path,
        })
    }

    pub fn tree(&self) -> Tree<'_> {
        self.context.tree()
    }

    pub fn path(&self) -> &Path {
        self.context.root()
    }

    /// Runs `f` with the index (checksums of context files go through it).
    pub fn with_index<T>(&self, f: impl FnOnce(&mut Index) -> T) -> T {
        let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut index)
    }

    /// Saves the index for the next build; failing to is not worth failing a build for.
    pub fn save_index(&self) {
        let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
        index.prune_unused();
        if let Err(e) = index.save(&self.index_path) {
            tracing::warn!("could not save the context index: {e}");
        }
    }
}
