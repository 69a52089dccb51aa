//! Where blobs live in registries: which repositories of a registry are known to hold each
//! blob, learnt from pushes, pulls, copies and mounts. A push asks it for repositories to
//! mount a blob from instead of uploading the bytes again (skopeo's blob-info cache and
//! Docker's distribution metadata keep the same).
//!
//! Only hints: the registry has the last word. An entry the registry proves wrong (it would
//! not mount the blob from there) is dropped, and the table stays bounded: the most recently
//! seen repositories per blob, and the most recently seen rows overall.

use std::collections::HashSet;

use berth_oci::Digest;
use rusqlite::{TransactionBehavior, params};

use crate::error::StoreError;
use crate::meta::{Meta, db_err};

/// Repositories remembered per blob and registry: the most recently seen. A push tries a few
/// of them at most; the rest are there for when those few are proven wrong.
pub const REPOSITORIES_PER_BLOB: usize = 8;

/// Rows kept in all (a few MiB); past that, the least recently seen go.
const MAX_LOCATIONS: i64 = 50_000;

/// A blob in one repository of one registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobLocation {
    /// The registry as the user names it, normalised (see `berth_transport::Origin`).
    pub registry: String,
    pub repository: String,
    pub digest: Digest,
}

impl Meta {
    /// The repositories of `registry` known to hold `digest`, most recently seen first.
    pub fn blob_repositories(
        &self,
        registry: &str,
        digest: &Digest,
    ) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT repository FROM blob_locations WHERE registry = ?1 AND digest = ?2
                 ORDER BY seen DESC, repository",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map(params![registry, digest.to_string()], |r| {
                r.get::<_, String>(0)
            })
            .map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }

    /// Records what a transfer learnt, in one transaction: first the locations the registry
    /// proved wrong are forgotten, then the ones seen holding their blob are remembered as
    /// seen now (so a blob uploaded where a mount was refused ends up known there).
    pub fn record_blob_locations(
        &mut self,
        held: &[BlobLocation],
        wrong: &[BlobLocation],
    ) -> Result<(), StoreError> {
        if held.is_empty() && wrong.is_empty() {
            return Ok(());
        }
        // Hints, not records: a power cut may lose the last ones, so the commit need not wait
        // for the disk (in WAL mode this keeps the database consistent all the same). A push
        // that mounted everything would otherwise spend most of its time in fsync.
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL")
            .map_err(self.db())?;
        let recorded = self.record_blob_locations_in_tx(held, wrong);
        self.conn
            .execute_batch("PRAGMA synchronous = FULL")
            .map_err(self.db())?;
        recorded
    }

    fn record_blob_locations_in_tx(
        &mut self,
        held: &[BlobLocation],
        wrong: &[BlobLocation],
    ) -> Result<(), StoreError> {
        let db = db_err(&self.path);
        let seen = now_millis();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        {
            let mut forget = tx
                .prepare_cached(
                    "DELETE FROM blob_locations
                     WHERE registry = ?1 AND digest = ?2 AND repository = ?3",
                )
                .map_err(db)?;
            for l in wrong {
                forget
                    .execute(params![l.registry, l.digest.to_string(), l.repository])
                    .map_err(db)?;
            }
            let mut remember = tx
                .prepare_cached(
                    "INSERT INTO blob_locations (registry, digest, repository, seen)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO UPDATE SET seen = excluded.seen",
                )
                .map_err(db)?;
            let mut trim = tx
                .prepare_cached(
                    "DELETE FROM blob_locations WHERE registry = ?1 AND digest = ?2
                     AND repository NOT IN (
                         SELECT repository FROM blob_locations WHERE registry = ?1 AND digest = ?2
                         ORDER BY seen DESC, repository LIMIT ?3)",
                )
                .map_err(db)?;
            let mut touched = HashSet::new();
            for l in held {
                let digest = l.digest.to_string();
                remember
                    .execute(params![l.registry, digest, l.repository, seen])
                    .map_err(db)?;
                touched.insert((l.registry.as_str(), digest));
            }
            for (registry, digest) in touched {
                trim.execute(params![registry, digest, REPOSITORIES_PER_BLOB as i64])
                    .map_err(db)?;
            }
            tx.execute(
                "DELETE FROM blob_locations WHERE seen < (
                     SELECT seen FROM blob_locations ORDER BY seen DESC LIMIT 1 OFFSET ?1)",
                [MAX_LOCATIONS],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)
    }
}

/// Milliseconds, so that pushes a moment apart still order which repository was seen last.
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
