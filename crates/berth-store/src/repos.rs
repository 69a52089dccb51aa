//! What `berth registry` keeps per repository: which blobs and manifests each repository holds
//! (links into the shared content store), its tags, the referrers of its manifests, and upload
//! sessions in progress.
//!
//! The same invariants as the rest of the store hold: a repository's manifest row exists only
//! once the manifest and everything it references are in that repository, and a tag only
//! points at a manifest row of its repository (a foreign key makes sure).

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use berth_oci::{Digest, media_type};

use crate::error::StoreError;
use crate::meta::{Meta, db_err, now};

/// A manifest as a repository serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoManifest {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

/// A manifest whose `subject` is another, as the referrers API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    /// The manifest's annotations, as JSON.
    pub annotations: Option<String>,
}

/// A manifest being pushed into a repository.
#[derive(Debug, Clone)]
pub struct NewManifest<'a> {
    pub digest: &'a Digest,
    pub media_type: &'a str,
    pub size: u64,
    /// Blobs and child manifests it references; each must be in the repository already.
    pub children: Vec<(&'a Digest, &'a str)>,
    pub subject: Option<&'a Digest>,
    pub artifact_type: Option<&'a str>,
    pub annotations: Option<String>,
    /// Tags to point at it.
    pub tags: &'a [String],
    /// Refuse to move a tag that points at another manifest.
    pub immutable_tags: bool,
}

/// Why a push into a repository was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushRefused {
    /// A referenced blob or manifest isn't in the repository.
    Unknown(Digest),
    /// The tag exists, points elsewhere, and the repository's tags are immutable.
    TagImmutable { tag: String, current: Digest },
}

/// What taking a blob out of a repository did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobUnlink {
    Unlinked,
    /// The repository doesn't hold the blob.
    NotLinked,
    /// A manifest of the repository references the blob: taking it out would leave that
    /// manifest (and its tags, or the index holding it) unpullable.
    InUse {
        manifest: Digest,
        tag: Option<String>,
    },
}

/// A manifest of a repository referencing something the repository doesn't hold: the
/// repository serves the manifest, but a client can't pull what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub repo: String,
    pub manifest: Digest,
    /// The manifest's tags in the repository (none: it is pulled by digest, or via an index).
    pub tags: Vec<String>,
    pub child: Digest,
    /// Whether the child is a manifest (else a blob).
    pub child_is_manifest: bool,
}

impl BrokenLink {
    /// Where a client asks for the child: the API path that answers 404.
    pub fn api_path(&self) -> String {
        let endpoint = if self.child_is_manifest {
            "manifests"
        } else {
            "blobs"
        };
        format!("/v2/{}/{endpoint}/{}", self.repo, self.child)
    }
}

/// An upload session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    pub repo: String,
    pub algorithm: String,
    pub offset: u64,
    pub updated: i64,
}

/// Now, in microseconds since the epoch: when tags move. Seconds are too coarse to tell which
/// of the tags a build pushes one after another is the newest.
fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Meta {
    /// Whether the repository holds anything at all.
    pub fn repo_exists(&self, repo: &str) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM repo_manifests WHERE repo = ?1 UNION ALL
             SELECT 1 FROM repo_blobs WHERE repo = ?1 LIMIT 1",
            params![repo],
        )
    }

    fn exists(&self, sql: &str, args: impl rusqlite::Params) -> Result<bool, StoreError> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row(args, |_| Ok(())).optional())
            .map(|r| r.is_some())
            .map_err(self.db())
    }

    /// Makes a stored blob part of a repository.
    pub fn link_blob(&mut self, repo: &str, digest: &Digest) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO repo_blobs (repo, digest, added) VALUES (?1, ?2, ?3)
                 ON CONFLICT(repo, digest) DO UPDATE SET added = excluded.added",
            )
            .and_then(|mut s| s.execute(params![repo, digest.to_string(), now()]))
            .map(|_| ())
            .map_err(self.db())
    }

    pub fn blob_linked(&self, repo: &str, digest: &Digest) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM repo_blobs WHERE repo = ?1 AND digest = ?2",
            params![repo, digest.to_string()],
        )
    }

    /// Takes a blob out of a repository, unless a manifest of the repository references it
    /// (tagged or not: an untagged one may be the child of a tagged index, and is pulled by
    /// digest). The check and the removal are one transaction, so a manifest pushed meanwhile
    /// can't lose its blob.
    pub fn unlink_blob(&mut self, repo: &str, digest: &Digest) -> Result<BlobUnlink, StoreError> {
        let db = db_err(&self.path);
        let d = digest.to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let user: Option<(String, Option<String>)> = tx
            .query_row(
                "SELECT r.parent,
                        (SELECT t.tag FROM repo_tags t
                         WHERE t.repo = ?1 AND t.digest = r.parent ORDER BY t.tag LIMIT 1)
                 FROM refs r
                 JOIN repo_manifests m ON m.repo = ?1 AND m.digest = r.parent
                 WHERE r.child = ?2
                 ORDER BY r.parent LIMIT 1",
                params![repo, d],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)?;
        if let Some((manifest, tag)) = user {
            if let Ok(manifest) = Digest::parse(&manifest) {
                return Ok(BlobUnlink::InUse { manifest, tag });
            }
        }
        let n = tx
            .execute(
                "DELETE FROM repo_blobs WHERE repo = ?1 AND digest = ?2",
                params![repo, d],
            )
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(if n > 0 {
            BlobUnlink::Unlinked
        } else {
            BlobUnlink::NotLinked
        })
    }

    /// Every manifest of a repository whose child (config, layer or index entry, as recorded
    /// when it was pushed) the repository doesn't hold.
    pub fn broken_repo_links(&self) -> Result<Vec<BrokenLink>, StoreError> {
        let rows: Vec<(String, String, String, bool, Option<String>)> = self
            .conn
            .prepare(
                "SELECT m.repo, m.digest, r.child,
                        EXISTS (SELECT 1 FROM manifests x WHERE x.digest = r.child),
                        (SELECT group_concat(tag, ' ') FROM
                            (SELECT t.tag FROM repo_tags t
                             WHERE t.repo = m.repo AND t.digest = m.digest ORDER BY t.tag))
                 FROM repo_manifests m
                 JOIN refs r ON r.parent = m.digest
                 WHERE NOT EXISTS (SELECT 1 FROM repo_blobs b
                                   WHERE b.repo = m.repo AND b.digest = r.child)
                   AND NOT EXISTS (SELECT 1 FROM repo_manifests n
                                   WHERE n.repo = m.repo AND n.digest = r.child)
                 ORDER BY m.repo, m.digest, r.child",
            )
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect()
            })
            .map_err(self.db())?;
        Ok(rows
            .into_iter()
            .filter_map(|(repo, manifest, child, child_is_manifest, tags)| {
                Some(BrokenLink {
                    repo,
                    manifest: Digest::parse(&manifest).ok()?,
                    tags: tags
                        .map(|t| t.split(' ').map(str::to_string).collect())
                        .unwrap_or_default(),
                    child: Digest::parse(&child).ok()?,
                    child_is_manifest,
                })
            })
            .collect())
    }

    /// Records a pushed manifest in a repository and points its tags at it, all at once. The
    /// manifest's bytes must be stored already.
    pub fn push_manifest(
        &mut self,
        repo: &str,
        m: &NewManifest<'_>,
    ) -> Result<Result<(), PushRefused>, StoreError> {
        let db = db_err(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        for (child, child_type) in &m.children {
            let sql = if media_type::is_manifest(child_type) {
                "SELECT 1 FROM repo_manifests WHERE repo = ?1 AND digest = ?2"
            } else {
                "SELECT 1 FROM repo_blobs WHERE repo = ?1 AND digest = ?2"
            };
            let found = tx
                .query_row(sql, params![repo, child.to_string()], |_| Ok(()))
                .optional()
                .map_err(db)?;
            if found.is_none() {
                return Ok(Err(PushRefused::Unknown((*child).clone())));
            }
        }
        let digest = m.digest.to_string();
        if m.immutable_tags {
            for tag in m.tags {
                let current: Option<String> = tx
                    .query_row(
                        "SELECT digest FROM repo_tags WHERE repo = ?1 AND tag = ?2",
                        params![repo, tag],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db)?;
                if let Some(current) = current.filter(|c| *c != digest) {
                    if let Ok(current) = Digest::parse(&current) {
                        return Ok(Err(PushRefused::TagImmutable {
                            tag: tag.clone(),
                            current,
                        }));
                    }
                }
            }
        }
        let time = now();
        tx.execute(
            "INSERT OR IGNORE INTO manifests (digest, media_type, size) VALUES (?1, ?2, ?3)",
            params![digest, m.media_type, m.size as i64],
        )
        .map_err(db)?;
        for (child, _) in &m.children {
            tx.execute(
                "INSERT OR IGNORE INTO refs (parent, child) VALUES (?1, ?2)",
                params![digest, child.to_string()],
            )
            .map_err(db)?;
        }
        tx.execute(
            "INSERT INTO repo_manifests (repo, digest, added, subject, artifact_type, annotations)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(repo, digest) DO UPDATE SET added = excluded.added",
            params![
                repo,
                digest,
                time,
                m.subject.map(|s| s.to_string()),
                m.artifact_type,
                m.annotations
            ],
        )
        .map_err(db)?;
        let moved = now_micros();
        for tag in m.tags {
            tx.execute(
                "INSERT INTO repo_tags (repo, tag, digest, updated) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(repo, tag) DO UPDATE SET digest = excluded.digest, updated = excluded.updated",
                params![repo, tag, digest, moved],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(Ok(()))
    }

    /// The manifest a tag of a repository points at.
    pub fn repo_manifest_by_tag(
        &self,
        repo: &str,
        tag: &str,
    ) -> Result<Option<RepoManifest>, StoreError> {
        self.repo_manifest_row(
            "SELECT t.digest, m.media_type, m.size FROM repo_tags t
             JOIN manifests m ON m.digest = t.digest WHERE t.repo = ?1 AND t.tag = ?2",
            params![repo, tag],
        )
    }

    /// A manifest of a repository, by digest.
    pub fn repo_manifest(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<Option<RepoManifest>, StoreError> {
        self.repo_manifest_row(
            "SELECT r.digest, m.media_type, m.size FROM repo_manifests r
             JOIN manifests m ON m.digest = r.digest WHERE r.repo = ?1 AND r.digest = ?2",
            params![repo, digest.to_string()],
        )
    }

    fn repo_manifest_row(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Option<RepoManifest>, StoreError> {
        let row: Option<(String, String, i64)> = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut s| {
                s.query_row(args, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .map_err(self.db())?;
        Ok(row.and_then(|(d, media_type, size)| {
            Some(RepoManifest {
                digest: Digest::parse(&d).ok()?,
                media_type,
                size: size as u64,
            })
        }))
    }

    /// Removes a manifest and every tag pointing at it from a repository.
    pub fn delete_repo_manifest(
        &mut self,
        repo: &str,
        digest: &Digest,
    ) -> Result<bool, StoreError> {
        let db = db_err(&self.path);
        let d = digest.to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        tx.execute(
            "DELETE FROM repo_tags WHERE repo = ?1 AND digest = ?2",
            params![repo, d],
        )
        .map_err(db)?;
        let n = tx
            .execute(
                "DELETE FROM repo_manifests WHERE repo = ?1 AND digest = ?2",
                params![repo, d],
            )
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(n > 0)
    }

    /// Removes a tag; returns whether it existed.
    pub fn delete_tag(&mut self, repo: &str, tag: &str) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "DELETE FROM repo_tags WHERE repo = ?1 AND tag = ?2",
                params![repo, tag],
            )
            .map(|n| n > 0)
            .map_err(self.db())
    }

    /// Tags of a repository in ASCII order, after `last`, at most `n` of them.
    pub fn repo_tags(
        &self,
        repo: &str,
        last: Option<&str>,
        n: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.strings_page(
            "SELECT tag FROM repo_tags WHERE repo = ?1 AND tag > ?2 ORDER BY tag LIMIT ?3",
            params![repo, last.unwrap_or(""), n as i64],
        )
    }

    /// Repositories in ASCII order, after `last`, at most `n` of them.
    pub fn catalog(&self, last: Option<&str>, n: usize) -> Result<Vec<String>, StoreError> {
        self.strings_page(
            "SELECT repo FROM (SELECT repo FROM repo_manifests UNION SELECT repo FROM repo_blobs)
             WHERE repo > ?1 ORDER BY repo LIMIT ?2",
            params![last.unwrap_or(""), n as i64],
        )
    }

    fn strings_page(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(self.db())?;
        let rows = stmt
            .query_map(args, |r| r.get::<_, String>(0))
            .map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }

    /// Manifests of a repository whose subject is `subject`, optionally of one artifact type,
    /// in digest order after `last`, at most `n`.
    pub fn referrers(
        &self,
        repo: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
        last: Option<&str>,
        n: usize,
    ) -> Result<Vec<Referrer>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.digest, m.media_type, m.size, r.artifact_type, r.annotations
                 FROM repo_manifests r JOIN manifests m ON m.digest = r.digest
                 WHERE r.repo = ?1 AND r.subject = ?2 AND (?3 IS NULL OR r.artifact_type = ?3)
                   AND r.digest > ?4
                 ORDER BY r.digest LIMIT ?5",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map(
                params![
                    repo,
                    subject.to_string(),
                    artifact_type,
                    last.unwrap_or(""),
                    n as i64
                ],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                },
            )
            .map_err(self.db())?;
        let mut out = Vec::new();
        for row in rows {
            let (d, media_type, size, artifact_type, annotations) = row.map_err(self.db())?;
            if let Ok(digest) = Digest::parse(&d) {
                out.push(Referrer {
                    digest,
                    media_type,
                    size: size as u64,
                    artifact_type,
                    annotations,
                });
            }
        }
        Ok(out)
    }

    /// Tags of a repository and when they last moved (microseconds since the epoch; whole
    /// seconds for tags set before that, which sort as older), newest first.
    pub fn repo_tag_times(&self, repo: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT tag, updated FROM repo_tags WHERE repo = ?1 ORDER BY updated DESC, tag",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map([repo], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }

    /// Manifests of a repository no tag points at, no index of the repository lists and that
    /// refer to no subject, pushed before `before` (Unix seconds).
    pub fn untagged_manifests(&self, repo: &str, before: i64) -> Result<Vec<Digest>, StoreError> {
        let names = self.strings_page(
            "SELECT r.digest FROM repo_manifests r
             WHERE r.repo = ?1 AND r.added < ?2 AND r.subject IS NULL
               AND NOT EXISTS (SELECT 1 FROM repo_tags t WHERE t.repo = r.repo AND t.digest = r.digest)
               AND NOT EXISTS (SELECT 1 FROM refs f JOIN repo_manifests p
                               ON p.digest = f.parent AND p.repo = r.repo WHERE f.child = r.digest)",
            params![repo, before],
        )?;
        Ok(names.iter().filter_map(|d| Digest::parse(d).ok()).collect())
    }

    // Upload sessions.

    pub fn create_upload(
        &mut self,
        id: &str,
        repo: &str,
        algorithm: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO uploads (id, repo, algorithm, offset, updated) VALUES (?1, ?2, ?3, 0, ?4)",
                params![id, repo, algorithm, now()],
            )
            .map(|_| ())
            .map_err(self.db())
    }

    pub fn upload(&self, id: &str) -> Result<Option<Upload>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT id, repo, algorithm, offset, updated FROM uploads WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([id], |r| {
                    Ok(Upload {
                        id: r.get(0)?,
                        repo: r.get(1)?,
                        algorithm: r.get(2)?,
                        offset: r.get::<_, i64>(3)? as u64,
                        updated: r.get(4)?,
                    })
                })
                .optional()
            })
            .map_err(self.db())
    }

    pub fn set_upload_offset(&mut self, id: &str, offset: u64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE uploads SET offset = ?2, updated = ?3 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, offset as i64, now()]))
            .map(|_| ())
            .map_err(self.db())
    }

    pub fn delete_upload(&mut self, id: &str) -> Result<bool, StoreError> {
        self.conn
            .execute("DELETE FROM uploads WHERE id = ?1", [id])
            .map(|n| n > 0)
            .map_err(self.db())
    }

    /// Sessions not touched since `before` (Unix seconds).
    pub fn stale_uploads(&self, before: i64) -> Result<Vec<String>, StoreError> {
        self.strings_page("SELECT id FROM uploads WHERE updated < ?1", [before])
    }

    /// Every repository.
    pub fn repositories(&self) -> Result<Vec<String>, StoreError> {
        self.catalog(None, usize::MAX >> 1)
    }
}
