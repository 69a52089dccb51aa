//! The metadata database: which manifests the store holds and what they reference, which of
//! them are images, and which tags point at them.
//!
//! SQLite in WAL mode, because the store is shared by every berth process on the machine (the
//! CLI and a running `berth registry`): readers never block, writers queue behind a busy
//! timeout, and every change is one atomic, durable transaction. (redb, the first candidate,
//! takes an exclusive lock on its file per process, so two berth processes could not share it.)
//!
//! Invariants the write order keeps, whatever moment a process dies at:
//! - a `manifests` row exists only once the manifest and everything it references are on disk;
//! - an `images` row (a root) only once its manifest row exists;
//! - a tag only points at an image row.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_oci::{Digest, Reference};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::StoreError;

const SCHEMA_VERSION: i64 = 5;

const SCHEMA: &str = "
CREATE TABLE manifests (
    digest     TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE refs (
    parent TEXT NOT NULL REFERENCES manifests(digest) ON DELETE CASCADE,
    child  TEXT NOT NULL,
    PRIMARY KEY (parent, child)
) WITHOUT ROWID;
CREATE INDEX refs_child ON refs(child);
CREATE TABLE images (
    digest TEXT PRIMARY KEY REFERENCES manifests(digest),
    added  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE tags (
    name       TEXT PRIMARY KEY,
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL REFERENCES images(digest),
    updated    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tags_digest ON tags(digest);
CREATE TABLE repo_digests (
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL REFERENCES images(digest) ON DELETE CASCADE,
    PRIMARY KEY (repository, digest)
) WITHOUT ROWID;
CREATE TABLE layers (
    digest  TEXT PRIMARY KEY,
    diff_id TEXT NOT NULL,
    size    INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Version 2: what `berth registry` keeps per repository.
const SCHEMA_V2: &str = "
CREATE TABLE repo_blobs (
    repo   TEXT NOT NULL,
    digest TEXT NOT NULL,
    added  INTEGER NOT NULL,
    PRIMARY KEY (repo, digest)
) WITHOUT ROWID;
CREATE INDEX repo_blobs_digest ON repo_blobs(digest);
CREATE TABLE repo_manifests (
    repo          TEXT NOT NULL,
    digest        TEXT NOT NULL REFERENCES manifests(digest),
    added         INTEGER NOT NULL,
    subject       TEXT,
    artifact_type TEXT,
    annotations   TEXT,
    PRIMARY KEY (repo, digest)
) WITHOUT ROWID;
CREATE INDEX repo_manifests_subject ON repo_manifests(subject);
CREATE INDEX repo_manifests_digest ON repo_manifests(digest);
CREATE TABLE repo_tags (
    repo    TEXT NOT NULL,
    tag     TEXT NOT NULL,
    digest  TEXT NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (repo, tag),
    FOREIGN KEY (repo, digest) REFERENCES repo_manifests(repo, digest)
) WITHOUT ROWID;
CREATE INDEX repo_tags_digest ON repo_tags(repo, digest);
CREATE TABLE uploads (
    id        TEXT PRIMARY KEY,
    repo      TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    offset    INTEGER NOT NULL,
    updated   INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Version 3: the build cache (see `build_cache.rs`).
const SCHEMA_V3: &str = "
CREATE TABLE build_cache (
    key        TEXT PRIMARY KEY,
    layer      TEXT,
    media_type TEXT,
    size       INTEGER,
    diff_id    TEXT,
    created    INTEGER NOT NULL,
    used       INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Version 4: which repositories of which registry hold a blob (see `blob_locations.rs`).
const SCHEMA_V4: &str = "
CREATE TABLE blob_locations (
    registry   TEXT NOT NULL,
    digest     TEXT NOT NULL,
    repository TEXT NOT NULL,
    seen       INTEGER NOT NULL,
    PRIMARY KEY (registry, digest, repository)
) WITHOUT ROWID;
CREATE INDEX blob_locations_seen ON blob_locations(seen);
";

/// Version 5: what the builder knows of the images it built (see `build_records.rs`).
const SCHEMA_V5: &str = "
CREATE TABLE build_records (
    config TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    added  INTEGER NOT NULL
) WITHOUT ROWID;
";

/// An image record: a root manifest or index the store keeps, and its tags.
#[derive(Debug, Clone)]
pub struct ImageRecord {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// Unix seconds when the image entered the store.
    pub added: i64,
    pub tags: Vec<Reference>,
}

/// What a layer holds once decompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    pub diff_id: Digest,
    pub size: u64,
}

pub struct Meta {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
}

impl Meta {
    pub fn open(path: &Path) -> Result<Meta, StoreError> {
        let db = |source| StoreError::Db {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(60)).map_err(db)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(db)?;
        let mut meta = Meta {
            conn,
            path: path.to_path_buf(),
        };
        meta.migrate()?;
        Ok(meta)
    }

    pub(crate) fn db(&self) -> impl Fn(rusqlite::Error) -> StoreError + Copy + '_ {
        db_err(&self.path)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let db = db_err(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Schema {
                path: self.path.clone(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        if version < 1 {
            tx.execute_batch(SCHEMA).map_err(db)?;
        }
        if version < 2 {
            tx.execute_batch(SCHEMA_V2).map_err(db)?;
        }
        if version < 3 {
            tx.execute_batch(SCHEMA_V3).map_err(db)?;
        }
        if version < 4 {
            tx.execute_batch(SCHEMA_V4).map_err(db)?;
        }
        if version < 5 {
            tx.execute_batch(SCHEMA_V5).map_err(db)?;
        }
        if version < SCHEMA_VERSION {
            tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
                .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    /// Records a manifest and the digests it references. The caller must already have every
    /// one of them on disk.
    pub fn record_manifest(
        &mut self,
        digest: &Digest,
        media_type: &str,
        size: u64,
        children: &[Digest],
    ) -> Result<(), StoreError> {
        let db = db_err(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let inserted = tx
            .execute(
                "INSERT OR IGNORE INTO manifests (digest, media_type, size) VALUES (?1, ?2, ?3)",
                params![digest.to_string(), media_type, size as i64],
            )
            .map_err(db)?;
        if inserted > 0 {
            let mut stmt = tx
                .prepare("INSERT OR IGNORE INTO refs (parent, child) VALUES (?1, ?2)")
                .map_err(db)?;
            for child in children {
                stmt.execute(params![digest.to_string(), child.to_string()])
                    .map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    pub fn has_manifest(&self, digest: &Digest) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT 1 FROM manifests WHERE digest = ?1",
                [digest.to_string()],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(self.db())
    }

    /// The media type and size recorded for a manifest.
    pub fn manifest_info(&self, digest: &Digest) -> Result<Option<(String, u64)>, StoreError> {
        self.conn
            .query_row(
                "SELECT media_type, size FROM manifests WHERE digest = ?1",
                [digest.to_string()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)),
            )
            .optional()
            .map_err(self.db())
    }

    /// Makes `digest` an image, and points each name at it: a tagged name moves its tag, any
    /// name records the repository for `RepoDigests`. All or nothing.
    pub fn add_image(&mut self, digest: &Digest, names: &[Reference]) -> Result<(), StoreError> {
        let db = db_err(&self.path);
        let now = now();
        let d = digest.to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let known: bool = tx
            .query_row(
                "SELECT 1 FROM manifests WHERE digest = ?1",
                [&d],
                |_| Ok(()),
            )
            .optional()
            .map_err(db)?
            .is_some();
        if !known {
            return Err(StoreError::UnknownImage(d));
        }
        tx.execute(
            "INSERT OR IGNORE INTO images (digest, added) VALUES (?1, ?2)",
            params![d, now],
        )
        .map_err(db)?;
        for name in names {
            let repository = name.repository().to_string();
            if let Some(tagged) = name.tagged() {
                tx.execute(
                    "INSERT INTO tags (name, repository, digest, updated) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(name) DO UPDATE SET digest = excluded.digest, updated = excluded.updated",
                    params![tagged.to_string(), repository, d, now],
                )
                .map_err(db)?;
            }
            tx.execute(
                "INSERT OR IGNORE INTO repo_digests (repository, digest) VALUES (?1, ?2)",
                params![repository, d],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    /// The image a tag points at.
    pub fn tag_target(&self, tagged: &Reference) -> Result<Option<Digest>, StoreError> {
        let found: Option<String> = self
            .conn
            .query_row(
                "SELECT digest FROM tags WHERE name = ?1",
                [tagged.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())?;
        Ok(found.and_then(|s| Digest::parse(&s).ok()))
    }

    pub fn is_image(&self, digest: &Digest) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT 1 FROM images WHERE digest = ?1",
                [digest.to_string()],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(self.db())
    }

    /// Removes a tag; returns the image it pointed at.
    pub fn untag(&mut self, tagged: &Reference) -> Result<Option<Digest>, StoreError> {
        let target = self.tag_target(tagged)?;
        self.conn
            .execute("DELETE FROM tags WHERE name = ?1", [tagged.to_string()])
            .map_err(self.db())?;
        Ok(target)
    }

    /// Removes an image record, its tags and repository digests. Its blobs stay until GC.
    pub fn remove_image(&mut self, digest: &Digest) -> Result<(), StoreError> {
        let db = db_err(&self.path);
        let d = digest.to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        tx.execute("DELETE FROM tags WHERE digest = ?1", [&d])
            .map_err(db)?;
        tx.execute("DELETE FROM repo_digests WHERE digest = ?1", [&d])
            .map_err(db)?;
        tx.execute("DELETE FROM images WHERE digest = ?1", [&d])
            .map_err(db)?;
        tx.commit().map_err(db)
    }

    pub fn tags_of(&self, digest: &Digest) -> Result<Vec<Reference>, StoreError> {
        self.strings(
            "SELECT name FROM tags WHERE digest = ?1 ORDER BY name",
            &digest.to_string(),
        )
        .map(|names| {
            names
                .iter()
                .filter_map(|n| Reference::parse(n).ok())
                .collect()
        })
    }

    /// Repositories this image is known in, for `RepoDigests`.
    pub fn repositories_of(&self, digest: &Digest) -> Result<Vec<String>, StoreError> {
        self.strings(
            "SELECT repository FROM repo_digests WHERE digest = ?1 ORDER BY repository",
            &digest.to_string(),
        )
    }

    fn strings(&self, sql: &str, arg: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(self.db())?;
        let rows = stmt
            .query_map([arg], |r| r.get::<_, String>(0))
            .map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }

    /// Every image, newest first, with its tags.
    pub fn images(&self) -> Result<Vec<ImageRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT i.digest, m.media_type, m.size, i.added,
                        (SELECT group_concat(name, ' ') FROM tags t WHERE t.digest = i.digest)
                 FROM images i JOIN manifests m ON m.digest = i.digest
                 ORDER BY i.added DESC, i.digest",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .map_err(self.db())?;
        let mut out = Vec::new();
        for row in rows {
            let (digest, media_type, size, added, tags) = row.map_err(self.db())?;
            let Ok(digest) = Digest::parse(&digest) else {
                continue;
            };
            let mut tags: Vec<Reference> = tags
                .unwrap_or_default()
                .split(' ')
                .filter_map(|t| Reference::parse(t).ok())
                .collect();
            tags.sort();
            out.push(ImageRecord {
                digest,
                media_type,
                size: size as u64,
                added,
                tags,
            });
        }
        Ok(out)
    }

    /// Every digest something keeps alive: images, build cache layers, registry tags, registry manifests without a
    /// subject, and anything pushed to the registry after `cutoff` (Unix seconds); then what
    /// those reference, and the referrers of anything alive.
    pub fn reachable(&self, cutoff: i64) -> Result<HashSet<Digest>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "WITH RECURSIVE live(d) AS (
                     SELECT digest FROM images
                     UNION SELECT digest FROM repo_tags
                     UNION SELECT digest FROM repo_manifests WHERE subject IS NULL OR added > ?1
                     UNION SELECT digest FROM repo_blobs WHERE added > ?1
                     UNION SELECT layer FROM build_cache WHERE layer IS NOT NULL
                     UNION SELECT child FROM refs JOIN live ON refs.parent = live.d
                     UNION SELECT m.digest FROM repo_manifests m JOIN live ON m.subject = live.d)
                 SELECT d FROM live",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map([cutoff], |r| r.get::<_, String>(0))
            .map_err(self.db())?;
        let mut out = HashSet::new();
        for row in rows {
            if let Ok(d) = Digest::parse(&row.map_err(self.db())?) {
                out.insert(d);
            }
        }
        Ok(out)
    }

    /// Every recorded manifest with the digests it references.
    pub fn manifests(&self) -> Result<Vec<(Digest, Vec<Digest>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT m.digest, group_concat(r.child, ' ') FROM manifests m
                 LEFT JOIN refs r ON r.parent = m.digest GROUP BY m.digest",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .map_err(self.db())?;
        let mut out = Vec::new();
        for row in rows {
            let (d, children) = row.map_err(self.db())?;
            let Ok(d) = Digest::parse(&d) else { continue };
            let children = children
                .unwrap_or_default()
                .split(' ')
                .filter_map(|c| Digest::parse(c).ok())
                .collect();
            out.push((d, children));
        }
        Ok(out)
    }

    /// Forgets manifests, layer records and build records not in `live`. Returns how many
    /// manifests went.
    pub fn forget_unreachable(&mut self, live: &HashSet<Digest>) -> Result<usize, StoreError> {
        let db = db_err(&self.path);
        let all = self.manifests()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        // Registry rows first: they reference the manifests and blobs about to go.
        let repo_rows: Vec<(String, String)> = {
            let mut stmt = tx
                .prepare("SELECT repo, digest FROM repo_manifests UNION ALL SELECT repo, digest FROM repo_blobs")
                .map_err(db)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)?
        };
        for (repo, digest) in repo_rows {
            if !Digest::parse(&digest).is_ok_and(|d| live.contains(&d)) {
                tx.execute(
                    "DELETE FROM repo_manifests WHERE repo = ?1 AND digest = ?2",
                    params![repo, digest],
                )
                .map_err(db)?;
                tx.execute(
                    "DELETE FROM repo_blobs WHERE repo = ?1 AND digest = ?2",
                    params![repo, digest],
                )
                .map_err(db)?;
            }
        }
        let mut removed = 0;
        for (d, _) in all.iter().filter(|(d, _)| !live.contains(d)) {
            removed += tx
                .execute("DELETE FROM manifests WHERE digest = ?1", [d.to_string()])
                .map_err(db)?;
        }
        forget_rows_not_in(&tx, "layers", "digest", live).map_err(db)?;
        // A build record goes with the config blob it describes.
        forget_rows_not_in(&tx, "build_records", "config", live).map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(removed)
    }

    /// Diff IDs of every layer the store knows the contents of.
    pub fn layer_diff_ids(&self) -> Result<Vec<Digest>, StoreError> {
        self.digests("SELECT DISTINCT diff_id FROM layers")
    }

    /// The digests a one-column query returns; rows that don't parse are skipped.
    pub(crate) fn digests(&self, sql: &str) -> Result<Vec<Digest>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(self.db())?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.db())?;
        let mut out = Vec::new();
        for row in rows {
            if let Ok(d) = Digest::parse(&row.map_err(self.db())?) {
                out.push(d);
            }
        }
        Ok(out)
    }

    pub fn layer_info(&self, digest: &Digest) -> Result<Option<LayerInfo>, StoreError> {
        let row: Option<(String, i64)> = self
            .conn
            .query_row(
                "SELECT diff_id, size FROM layers WHERE digest = ?1",
                [digest.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.db())?;
        Ok(row.and_then(|(diff, size)| {
            Some(LayerInfo {
                diff_id: Digest::parse(&diff).ok()?,
                size: size as u64,
            })
        }))
    }

    pub fn set_layer_info(&mut self, digest: &Digest, info: &LayerInfo) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO layers (digest, diff_id, size) VALUES (?1, ?2, ?3)",
                params![
                    digest.to_string(),
                    info.diff_id.to_string(),
                    info.size as i64
                ],
            )
            .map(|_| ())
            .map_err(self.db())
    }
}

/// Deletes the rows of `table` whose digest `column` is not in `live` (or not a digest).
fn forget_rows_not_in(
    tx: &rusqlite::Transaction,
    table: &str,
    column: &str,
    live: &HashSet<Digest>,
) -> rusqlite::Result<()> {
    let keys: Vec<String> = {
        let mut stmt = tx.prepare(&format!("SELECT {column} FROM {table}"))?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let delete = format!("DELETE FROM {table} WHERE {column} = ?1");
    for key in keys {
        if !Digest::parse(&key).is_ok_and(|d| live.contains(&d)) {
            tx.execute(&delete, [&key])?;
        }
    }
    Ok(())
}

pub(crate) fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + Copy + '_ {
    move |source| StoreError::Db {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
