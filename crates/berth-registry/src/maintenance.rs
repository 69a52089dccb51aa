//! Keeping the registry tidy while it serves: expiring abandoned uploads, applying retention
//! policies, and collecting garbage online (writers wait for the sweep, readers never do).

use std::fs;
use std::time::{Duration, SystemTime};

use berth_store::{GcReport, Store, StoreError};

use crate::config::{Config, glob};

#[derive(Debug, Default, Clone)]
pub struct Report {
    pub uploads_expired: usize,
    pub tags_retired: usize,
    pub manifests_retired: usize,
    pub gc: GcReport,
    pub storage_bytes: u64,
    pub storage_blobs: u64,
}

/// One pass: uploads, retention, then garbage collection with `config.gc.grace`.
pub fn run(store: &Store, config: &Config) -> Result<Report, StoreError> {
    let mut report = Report {
        uploads_expired: expire_uploads(store, config.uploads.expire)?,
        ..Report::default()
    };
    retain(store, config, &mut report)?;
    report.gc = store
        .gc(true, config.gc.grace)?
        .expect("gc waits for the lock");
    let blobs = store.blobs().list()?;
    report.storage_blobs = blobs.len() as u64;
    report.storage_bytes = blobs.iter().map(|(_, n)| n).sum();
    Ok(report)
}

fn expire_uploads(store: &Store, after: Duration) -> Result<usize, StoreError> {
    let cutoff = now() - after.as_secs() as i64;
    let dir = store.root().join("uploads");
    let stale = store.meta().stale_uploads(cutoff)?;
    for id in &stale {
        store.meta().delete_upload(id)?;
        let _ = fs::remove_file(dir.join(id));
    }
    // Files whose session row is gone (a crash between the two) go once as old.
    let mut orphans = 0;
    for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
        let Ok(id) = entry.file_name().into_string() else {
            continue;
        };
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > after);
        if old && store.meta().upload(&id)?.is_none() {
            let _ = fs::remove_file(entry.path());
            orphans += 1;
        }
    }
    Ok(stale.len() + orphans)
}

fn retain(store: &Store, config: &Config, report: &mut Report) -> Result<(), StoreError> {
    if config.policies.iter().all(|p| p.retention.is_none()) {
        return Ok(());
    }
    let repos = store.meta().repositories()?;
    for repo in repos {
        let Some(retention) = config.policy(&repo).and_then(|p| p.retention.as_ref()) else {
            continue;
        };
        if let Some(keep) = retention.keep_tags {
            let tags = store.meta().repo_tag_times(&repo)?;
            let matching: Vec<&String> = tags
                .iter()
                .map(|(t, _)| t)
                .filter(|t| glob(&retention.tag_pattern, t))
                .collect();
            for tag in matching.into_iter().skip(keep) {
                if store.meta().delete_tag(&repo, tag)? {
                    report.tags_retired += 1;
                }
            }
        }
        if let Some(age) = retention.untagged_older_than {
            let cutoff = now() - age.as_secs() as i64;
            // Its own statement: the metadata lock must be let go before the loop takes it.
            let untagged = store.meta().untagged_manifests(&repo, cutoff)?;
            for digest in untagged {
                if store.meta().delete_repo_manifest(&repo, &digest)? {
                    report.manifests_retired += 1;
                }
            }
        }
    }
    Ok(())
}

fn now() -> i64 {
    crate::auth::unix_now() as i64
}
