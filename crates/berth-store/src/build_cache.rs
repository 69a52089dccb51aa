//! The build cache: what a build step produced, by the step's cache key.
//!
//! A row says "the step with this key made this layer" (or "made no change to the file
//! system"). The layer blob lives in the store like any other; the row keeps it alive through
//! `berth gc` (see [`Meta::reachable`]) until the cache is pruned.

use berth_oci::Digest;
use rusqlite::{OptionalExtension, params};

use crate::error::StoreError;
use crate::meta::{Meta, now};

/// What a cached step produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedStep {
    /// The layer the step added; `None` when it changed nothing on disk.
    pub layer: Option<CachedLayer>,
    /// When the step ran (Unix seconds): a cached step keeps its time in the history, so a
    /// rebuild with nothing changed gives the same image.
    pub created: i64,
}

/// A layer blob and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedLayer {
    pub digest: Digest,
    pub media_type: String,
    /// Compressed size: the blob's.
    pub size: u64,
    pub diff_id: Digest,
}

/// How stale a cache row's last-use time may be (seconds): pruning by age is coarser.
pub const USED_GRANULARITY: i64 = 60;

impl Meta {
    /// The result recorded for `key`, touching its last-use time (unless it was touched in
    /// the last [`USED_GRANULARITY`] seconds).
    pub fn build_cache_get(&self, key: &str) -> Result<Option<CachedStep>, StoreError> {
        type Row = (
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<String>,
            i64,
            i64,
        );
        let row: Option<Row> = self
            .conn
            .query_row(
                "SELECT layer, media_type, size, diff_id, created, used FROM build_cache WHERE key = ?1",
                [key],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()
            .map_err(self.db())?;
        let Some((layer, media_type, size, diff_id, created, used)) = row else {
            return Ok(None);
        };
        let layer = match (layer, media_type, size, diff_id) {
            (Some(d), Some(m), Some(s), Some(diff)) => {
                match (Digest::parse(&d), Digest::parse(&diff)) {
                    (Ok(digest), Ok(diff_id)) => Some(CachedLayer {
                        digest,
                        media_type: m,
                        size: s as u64,
                        diff_id,
                    }),
                    // A row this version can't read is a miss, not an error.
                    _ => return Ok(None),
                }
            }
            _ => None,
        };
        // Each update is a transaction, and so an fsync: a warm build hits many steps.
        let now = now();
        if now.saturating_sub(used) >= USED_GRANULARITY {
            self.conn
                .execute(
                    "UPDATE build_cache SET used = ?2 WHERE key = ?1",
                    params![key, now],
                )
                .map_err(self.db())?;
        }
        Ok(Some(CachedStep { layer, created }))
    }

    /// Records what the step with `key` produced. The layer blob must already be stored.
    pub fn build_cache_put(&mut self, key: &str, step: &CachedStep) -> Result<(), StoreError> {
        let l = step.layer.as_ref();
        self.conn
            .execute(
                "INSERT OR REPLACE INTO build_cache
                     (key, layer, media_type, size, diff_id, created, used)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    key,
                    l.map(|l| l.digest.to_string()),
                    l.map(|l| l.media_type.clone()),
                    l.map(|l| l.size as i64),
                    l.map(|l| l.diff_id.to_string()),
                    step.created,
                    now()
                ],
            )
            .map(|_| ())
            .map_err(self.db())
    }

    /// Forgets cache rows last used before `cutoff` (Unix seconds; `i64::MAX` for all).
    /// Returns how many went; their layers go at the next `berth gc` unless an image uses them.
    pub fn build_cache_prune(&mut self, cutoff: i64) -> Result<usize, StoreError> {
        self.conn
            .execute("DELETE FROM build_cache WHERE used < ?1", [cutoff])
            .map_err(self.db())
    }

    /// Diff IDs of every layer the cache keeps.
    pub fn build_cache_diff_ids(&self) -> Result<Vec<Digest>, StoreError> {
        self.digests("SELECT DISTINCT diff_id FROM build_cache WHERE diff_id IS NOT NULL")
    }
}
