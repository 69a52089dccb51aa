//! The content store's promises: only verified bytes under a digest's name, only complete
//! manifests recorded, tags only on images, GC never racing a writer.

use std::fs;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use berth_oci::{Descriptor, Digest, ImageManifest, Reference, media_type};
use berth_store::{Store, StoreError};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("root")).unwrap();
    (dir, store)
}

fn ingest_is_empty(store: &Store) -> bool {
    fs::read_dir(store.root().join("ingest"))
        .unwrap()
        .next()
        .is_none()
}

#[test]
fn a_blob_is_kept_only_if_it_matches_its_digest() {
    let (_d, store) = store();
    let good = Digest::sha256(b"hello");
    store
        .blobs()
        .write_from(&good, Some(5), &b"hello"[..])
        .unwrap();
    assert!(store.blobs().contains(&good));

    let err = store
        .blobs()
        .write_from(&good, Some(5), &b"hellO"[..])
        .unwrap_err();
    assert!(matches!(err, StoreError::Rejected(_)), "{err}");
    let other = Digest::sha256(b"other");
    let err = store
        .blobs()
        .write_from(&other, Some(5), &b"hello"[..])
        .unwrap_err();
    assert!(err.to_string().contains(&other.to_string()), "{err}");
    assert!(!store.blobs().contains(&other));
    let err = store
        .blobs()
        .write_from(&other, Some(9), &b"other"[..])
        .unwrap_err();
    assert!(err.to_string().contains("5 bytes, but 9"), "{err}");
    assert!(ingest_is_empty(&store), "no temporary file may stay behind");
}

#[test]
fn a_blob_damaged_on_disk_is_reported_when_read() {
    let (_d, store) = store();
    let digest = store.blobs().write_bytes(b"{\"a\":1}").unwrap();
    fs::write(store.blobs().path(&digest), b"{\"a\":2}").unwrap();
    let err = store.blobs().read(&digest, 1024).unwrap_err().to_string();
    assert!(
        err.contains("corrupt") && err.contains(&digest.to_string()),
        "{err}"
    );
    let err = store
        .blobs()
        .open(&digest, None)
        .unwrap()
        .read_to_end(&mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("corrupt"), "{err}");
    let report = store.fsck(true).unwrap();
    assert_eq!(report.corrupt.len(), 1);
    assert!(!store.blobs().contains(&digest), "repair removes it");
}

fn manifest_for(store: &Store, layer: &[u8]) -> (Descriptor, Vec<u8>) {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_desc = Descriptor::of_bytes(media_type::OCI_CONFIG, config);
    let layer_desc = Descriptor::of_bytes(media_type::OCI_LAYER, layer);
    store.blobs().write_bytes(config).unwrap();
    let bytes = ImageManifest::new(config_desc, vec![layer_desc]).to_bytes();
    (
        Descriptor::of_bytes(media_type::OCI_MANIFEST, &bytes),
        bytes,
    )
}

#[test]
fn only_complete_manifests_are_recorded_and_only_images_tagged() {
    let (_d, store) = store();
    let (desc, bytes) = manifest_for(&store, b"layer bytes");
    let err = store.put_manifest(&bytes, &desc).unwrap_err();
    assert!(matches!(err, StoreError::Incomplete { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&Digest::sha256(b"layer bytes").to_string())
    );
    let name = Reference::parse("x:1").unwrap();
    assert!(
        store
            .add_image(&desc.digest, std::slice::from_ref(&name))
            .is_err()
    );

    store.blobs().write_bytes(b"layer bytes").unwrap();
    store.put_manifest(&bytes, &desc).unwrap();
    store.add_image(&desc.digest, &[name]).unwrap();
    assert_eq!(store.lookup("x:1").unwrap().0, desc.digest);
    assert_eq!(
        store.lookup(&desc.digest.hex()[..8]).unwrap().0,
        desc.digest
    );
    let err = store.lookup("x:2").unwrap_err().to_string();
    assert!(err.starts_with("no such image: x:2 "), "{err}");
}

#[test]
fn gc_waits_for_writers_and_keeps_what_images_use() {
    let (_d, store) = store();
    let (desc, bytes) = manifest_for(&store, b"kept layer");
    store.blobs().write_bytes(b"kept layer").unwrap();
    store.put_manifest(&bytes, &desc).unwrap();
    store.add_image(&desc.digest, &[]).unwrap();
    let config = serde_json::from_slice::<ImageManifest>(&bytes)
        .unwrap()
        .config
        .digest;
    store.meta().build_record_put(&config, "{}").unwrap();
    let stray = store.blobs().write_bytes(b"stray").unwrap();

    // A writer is running: GC must not touch its (so far unreferenced) blobs.
    let lock = store.write_lock().unwrap();
    assert!(store.gc(false, Duration::ZERO).unwrap().is_none());
    drop(lock);

    let report = store.gc(false, Duration::ZERO).unwrap().unwrap();
    assert_eq!(report.blobs_removed, 1);
    assert!(!store.blobs().contains(&stray));
    assert!(store.blobs().contains(&desc.digest));
    assert!(store.fsck(false).unwrap().is_clean());

    // Once the image goes, so does everything it used.
    store.meta().remove_image(&desc.digest).unwrap();
    let report = store.gc(true, Duration::ZERO).unwrap().unwrap();
    assert_eq!(report.blobs_removed, 3);
    assert_eq!(report.manifests_forgotten, 1);
    assert_eq!(
        store.meta().build_record_get(&config).unwrap(),
        None,
        "the build record goes with its config"
    );
}

#[test]
fn threads_writing_the_same_blob_and_tag_all_succeed() {
    let (_d, store) = store();
    let store = Arc::new(store);
    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let digest = Digest::sha256(&data);
    let data = Arc::new(data);
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (store, data, digest) = (store.clone(), data.clone(), digest.clone());
            std::thread::spawn(move || {
                store
                    .blobs()
                    .write_from(&digest, Some(data.len() as u64), &data[..])
                    .unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(fs::read(store.blobs().path(&digest)).unwrap(), *data);
    assert!(ingest_is_empty(&store));
}

#[test]
fn a_store_from_a_newer_berth_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    drop(Store::open(&root).unwrap());
    let conn = rusqlite::Connection::open(root.join("berth.db")).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let err = Store::open(&root).err().unwrap().to_string();
    assert!(err.contains("newer berth"), "{err}");
}

/// A reader that counts what was taken from it.
struct Counting<R> {
    inner: R,
    taken: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

#[test]
fn a_blob_longer_than_its_size_is_refused_before_the_excess_is_read() {
    let (_d, store) = store();
    let digest = Digest::sha256(&[0u8; 10_000]);
    let taken = Arc::new(std::sync::atomic::AtomicU64::new(0));
    // As good as endless: an answer that never ends would be read to the end otherwise.
    let endless = Counting {
        inner: std::io::repeat(0).take(256 << 20),
        taken: taken.clone(),
    };
    let err = store
        .blobs()
        .write_from(&digest, Some(10_000), endless)
        .unwrap_err();
    assert!(matches!(err, StoreError::Rejected(_)), "{err}");
    assert!(err.to_string().contains("longer than"), "{err}");
    let taken = taken.load(std::sync::atomic::Ordering::Relaxed);
    assert!(taken <= 1 << 20, "read {taken} bytes of a 10 kB blob");
    assert!(ingest_is_empty(&store), "no temporary file may stay behind");
}

#[test]
fn partial_blobs_of_a_killed_writer_go_when_the_next_writer_starts_alone() {
    let (_d, store) = store();
    let ingest = store.root().join("ingest");
    // A writer is running, with a partial blob; an archive `berth load` unpacks is there too.
    let running = store.write_lock().unwrap();
    let partial = ingest.join(berth_store::blobs::temp_name());
    fs::write(&partial, vec![0u8; 4096]).unwrap();
    let unpacking = ingest.join("archive.tmp");
    fs::write(&unpacking, b"not a blob").unwrap();

    // Another writer starts meanwhile: the partial blob may be the running one's, it stays.
    drop(store.write_lock().unwrap());
    assert!(partial.exists(), "a running writer's files stay");

    // The writer is killed (its lock dies with it); the next one starts alone.
    drop(running);
    let _alone = store.write_lock().unwrap();
    assert!(!partial.exists(), "the orphan is reclaimed");
    assert!(unpacking.exists(), "only partial blobs go");
}

/// A repository's blob a manifest uses can't be unlinked; a link lost anyway is what fsck
/// reports, and `repair` links the blob again when it is whole.
#[test]
fn repository_links_are_kept_and_checked() {
    use berth_store::repos::{BlobUnlink, NewManifest};
    let (_d, store) = store();
    let (desc, bytes) = manifest_for(&store, b"a layer");
    store.blobs().write_bytes(b"a layer").unwrap();
    store.blobs().write_bytes(&bytes).unwrap();
    let layer = Digest::sha256(b"a layer");
    let config = match berth_oci::Manifest::parse(&bytes, None).unwrap() {
        berth_oci::Manifest::Image(m) => m.config.digest,
        berth_oci::Manifest::Index(_) => unreachable!("an image manifest"),
    };
    let unused = store.blobs().write_bytes(b"unused").unwrap();
    {
        let mut meta = store.meta();
        for d in [&config, &layer, &unused] {
            meta.link_blob("app", d).unwrap();
        }
        let tags = ["v1".to_string()];
        meta.push_manifest(
            "app",
            &NewManifest {
                digest: &desc.digest,
                media_type: media_type::OCI_MANIFEST,
                size: bytes.len() as u64,
                children: vec![
                    (&config, media_type::OCI_CONFIG),
                    (&layer, media_type::OCI_LAYER),
                ],
                subject: None,
                artifact_type: None,
                annotations: None,
                tags: &tags,
                immutable_tags: false,
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            meta.unlink_blob("app", &layer).unwrap(),
            BlobUnlink::InUse {
                manifest: desc.digest.clone(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            meta.unlink_blob("app", &unused).unwrap(),
            BlobUnlink::Unlinked
        );
        assert_eq!(
            meta.unlink_blob("app", &unused).unwrap(),
            BlobUnlink::NotLinked
        );
        assert!(meta.broken_repo_links().unwrap().is_empty());
    }
    assert!(store.fsck(false).unwrap().is_clean());

    // Lose the link behind the store's back (a bad restore, say).
    let db = rusqlite::Connection::open(store.root().join("berth.db")).unwrap();
    db.execute(
        "DELETE FROM repo_blobs WHERE repo = 'app' AND digest = ?1",
        [layer.to_string()],
    )
    .unwrap();
    drop(db);
    let report = store.fsck(false).unwrap();
    assert!(!report.is_clean());
    let [problem] = &report.broken_links[..] else {
        panic!("one broken link: {report:?}");
    };
    assert_eq!(
        (
            problem.link.repo.as_str(),
            &problem.link.child,
            &problem.link.tags[..]
        ),
        ("app", &layer, &["v1".to_string()][..])
    );
    assert_eq!(problem.link.api_path(), format!("/v2/app/blobs/{layer}"));
    assert!(problem.relinkable && !problem.repaired);
    let repaired = store.fsck(true).unwrap();
    assert!(repaired.is_clean() && repaired.broken_links[0].repaired);
    assert!(store.fsck(false).unwrap().broken_links.is_empty());
}

/// A warm build looks up many cache entries: a lookup must not be a write (each write is a
/// transaction with an fsync) when the entry was used a moment ago, and still is when it was
/// last used long ago (pruning by age goes by it).
#[test]
fn a_cache_hit_writes_its_last_use_only_when_that_is_old() {
    let (_dir, store) = store();
    let step = berth_store::CachedStep {
        layer: None,
        created: 1_700_000_000,
    };
    store.meta().build_cache_put("key", &step).unwrap();
    let db = rusqlite::Connection::open(store.root().join("berth.db")).unwrap();
    let now = db
        .query_row("SELECT unixepoch()", [], |r| r.get::<_, i64>(0))
        .unwrap();
    let used_after_hit = |used: i64| -> i64 {
        db.execute("UPDATE build_cache SET used = ?1 WHERE key = 'key'", [used])
            .unwrap();
        let hit = store.meta().build_cache_get("key").unwrap();
        assert_eq!(hit.map(|h| h.created), Some(step.created));
        db.query_row("SELECT used FROM build_cache WHERE key = 'key'", [], |r| {
            r.get(0)
        })
        .unwrap()
    };
    assert_eq!(
        used_after_hit(now - 30),
        now - 30,
        "a recent use is left alone"
    );
    assert!(
        used_after_hit(now - 3600) >= now,
        "an old use is brought up to date"
    );
}

#[test]
fn blob_locations_come_most_recent_first_and_wrong_ones_go() {
    use berth_store::{BlobLocation, REPOSITORIES_PER_BLOB};
    let (_d, store) = store();
    let layer = Digest::sha256(b"layer");
    let at = |repo: &str| BlobLocation {
        registry: "localhost:5000".into(),
        repository: repo.into(),
        digest: layer.clone(),
    };
    let mut meta = store.meta();
    let known =
        |meta: &berth_store::meta::Meta| meta.blob_repositories("localhost:5000", &layer).unwrap();
    meta.record_blob_locations(&[at("team/a")], &[]).unwrap();
    std::thread::sleep(Duration::from_millis(3));
    meta.record_blob_locations(&[at("team/b")], &[]).unwrap();
    assert_eq!(known(&meta), ["team/b", "team/a"]);
    assert!(
        meta.blob_repositories("localhost:5001", &layer)
            .unwrap()
            .is_empty(),
        "another registry knows nothing of it"
    );

    // Seen again: first again. Proven wrong: gone, even when seen elsewhere at once.
    std::thread::sleep(Duration::from_millis(3));
    meta.record_blob_locations(&[at("team/a")], &[]).unwrap();
    assert_eq!(known(&meta), ["team/a", "team/b"]);
    std::thread::sleep(Duration::from_millis(3));
    meta.record_blob_locations(&[at("team/c")], &[at("team/a")])
        .unwrap();
    assert_eq!(known(&meta), ["team/c", "team/b"]);

    // Bounded per blob: the most recently seen stay.
    let many: Vec<BlobLocation> = (0..20).map(|i| at(&format!("many/{i:02}"))).collect();
    std::thread::sleep(Duration::from_millis(3));
    meta.record_blob_locations(&many, &[]).unwrap();
    let kept = known(&meta);
    assert_eq!(kept.len(), REPOSITORIES_PER_BLOB, "{kept:?}");
    assert!(kept.iter().all(|r| r.starts_with("many/")), "{kept:?}");
}

#[test]
fn a_store_of_the_previous_schema_gains_blob_locations() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    drop(Store::open(&root).unwrap());
    let conn = rusqlite::Connection::open(root.join("berth.db")).unwrap();
    conn.execute_batch(
        "DROP TABLE blob_locations; DROP TABLE build_records; PRAGMA user_version = 3",
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&root).unwrap();
    let layer = Digest::sha256(b"layer");
    let at = berth_store::BlobLocation {
        registry: "localhost:5000".into(),
        repository: "team/a".into(),
        digest: layer.clone(),
    };
    store.meta().record_blob_locations(&[at], &[]).unwrap();
    assert_eq!(
        store
            .meta()
            .blob_repositories("localhost:5000", &layer)
            .unwrap(),
        ["team/a"]
    );
}

#[test]
fn a_store_of_the_previous_schema_gains_build_records() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    drop(Store::open(&root).unwrap());
    let conn = rusqlite::Connection::open(root.join("berth.db")).unwrap();
    conn.execute_batch("DROP TABLE build_records; PRAGMA user_version = 4")
        .unwrap();
    drop(conn);
    let store = Store::open(&root).unwrap();
    let config = Digest::sha256(b"config");
    store.meta().build_record_put(&config, "{}").unwrap();
    assert_eq!(
        store.meta().build_record_get(&config).unwrap().as_deref(),
        Some("{}")
    );
}
