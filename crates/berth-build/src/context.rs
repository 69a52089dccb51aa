//! The build context as the solver and executors see it: the context the caller opened
//! (with its `.dockerignore`), and the file-stat index that lets a warm build re-hash only
//! what changed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_dockerfile::ignore::Patterns;
use berth_fileops::{Checksums, Context, Index, Tree};
use sha2::{Digest as _, Sha256};

/// The context directory seen through its `.dockerignore`, and the stat index of its files.
pub struct BuildContext {
    context: Context,
    index: Mutex<Index>,
    index_path: PathBuf,
}

impl BuildContext {
    /// `context` with its index, kept in `index_dir` (one per context directory, named by
    /// its absolute path). A missing or damaged index only costs re-hashing.
    pub fn new(context: Context, index_dir: &Path) -> BuildContext {
        let name = hex::encode(Sha256::digest(
            context.root().as_os_str().as_encoded_bytes(),
        ));
        let index_path = index_dir.join(format!("{name}.idx"));
        let index = Index::load(&index_path).unwrap_or_default();
        BuildContext {
            context,
            index: Mutex::new(index),
            index_path,
        }
    }

    pub fn tree(&self) -> Tree<'_> {
        self.context.tree()
    }

    pub fn path(&self) -> &Path {
        self.context.root()
    }

    /// Checksums of what `paths` select (less `exclude`), through the stat index.
    pub fn checksums(
        &self,
        paths: &[String],
        exclude: &Patterns,
    ) -> Result<Checksums, berth_fileops::Error> {
        let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
        berth_fileops::checksum_and_shape(self.tree(), paths, exclude, true, Some(&mut index))
    }

    /// Saves the index for the next build; failing to is not worth failing a build for.
    pub fn save_index(&self) {
        let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
        index.prune_unused();
        if let Some(dir) = self.index_path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = index.save(&self.index_path) {
            tracing::warn!("could not save the context index: {e}");
        }
    }
}
