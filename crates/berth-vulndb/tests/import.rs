//! Importing the real corpora, the database file's round trip, and hostile input.

use std::fs;

use berth_vulndb::{Database, DistroState, Event, FORMAT_VERSION, Level, RangeKind, Versions};

fn imported(corpus: &str) -> Option<(Database, berth_vulndb::Source)> {
    let dir = test_support::corpus(corpus)?;
    let mut db = Database::new();
    let source = db.import(corpus, &dir).unwrap();
    Some((db, source))
}

#[test]
fn osv_corpora_import_with_withdrawn_records_skipped() {
    for (corpus, files, withdrawn) in [
        ("osv-rustsec", 1206, 13),
        ("osv-go", 4291, 17),
        ("osv-pypi", 2661, 10),
    ] {
        let Some((db, source)) = imported(corpus) else {
            return;
        };
        assert_eq!(source.withdrawn, withdrawn, "{corpus}");
        assert_eq!(source.advisories, files - withdrawn, "{corpus}");
        assert_eq!(
            db.advisories().unwrap().len(),
            files - withdrawn,
            "{corpus}"
        );
    }
}

#[test]
fn osv_record_keeps_aliases_ranges_and_scored_cvss() {
    let Some((db, _)) = imported("osv-rustsec") else {
        return;
    };
    let (advisory, affected) = db
        .lookup("crates.io", "openssl")
        .unwrap()
        .into_iter()
        .find(|(a, _)| a.id == "RUSTSEC-2016-0001")
        .unwrap();
    assert_eq!(advisory.aliases, ["CVE-2016-10931", "GHSA-34p9-f4q3-c4r7"]);
    // CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H scores 8.1.
    assert_eq!(advisory.severity.cvss[0].score, Some(8.1));
    assert_eq!(advisory.severity.level(), Level::High);
    let Versions::Osv { ranges, .. } = &affected.versions else {
        panic!("{affected:?}");
    };
    assert_eq!(ranges[0].kind, RangeKind::SemVer);
    assert_eq!(
        ranges[0].events,
        [
            Event::Introduced("0.0.0-0".into()),
            Event::Fixed("0.9.0".into())
        ]
    );
}

#[test]
fn pypi_yaml_names_match_normalised_and_git_ranges_are_dropped() {
    let Some((db, _)) = imported("osv-pypi") else {
        return;
    };
    let (advisory, affected) = db
        .lookup("PyPI", "AIOHTTP")
        .unwrap()
        .into_iter()
        .find(|(a, _)| a.id == "PYSEC-2021-76")
        .unwrap();
    assert!(advisory.aliases.contains(&"GHSA-v6wp-4m6f-gcjg".to_owned()));
    let Versions::Osv { ranges, listed } = &affected.versions else {
        panic!("{affected:?}");
    };
    assert_eq!(ranges.len(), 1, "the GIT range is not kept");
    assert_eq!(ranges[0].kind, RangeKind::Ecosystem);
    // Quoted in the YAML so that it stays a string: "0.1", not the number 0.1.
    assert_eq!(listed[0], "0.1");
}

#[test]
fn debian_tracker_import_keeps_fixed_versions_and_urgency() {
    let Some(dir) = test_support::corpus("debian-bookworm") else {
        return;
    };
    let mut db = Database::new();
    let source = db.import("debian", &dir.join("tracker.json")).unwrap();
    assert_eq!(source.advisories, 28);
    let (advisory, affected) = db
        .lookup("Debian:bookworm", "zlib")
        .unwrap()
        .into_iter()
        .find(|(a, _)| a.id == "CVE-2022-37434")
        .unwrap();
    assert_eq!(advisory.id, "CVE-2022-37434");
    assert_eq!(
        affected.versions,
        Versions::Distro(DistroState::Fixed("1:1.2.11.dfsg-4.1".into()))
    );
    assert!(affected.severity.rating.is_some());
}

#[test]
fn tracker_verdicts_are_read_as_the_tracker_means_them() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = tmp.path().join("feed.json");
    let release = |r: &str| format!(r#"{{"releases": {{"bookworm": {r}}}}}"#);
    // The feed's own quirks: `"releases": []` for an issue without any, `scope` and
    // `debianbug` fields, urgencies marked `**`.
    fs::write(
        &feed,
        format!(
            r#"{{"pkg": {{
                "CVE-0": {{"scope": "remote", "debianbug": 1, "releases": []}},
                "CVE-1": {},
                "CVE-2": {},
                "CVE-3": {},
                "CVE-4": {},
                "CVE-5": {},
                "CVE-6": {},
                "CVE-7": {},
                "CVE-8": {}
            }}}}"#,
            release(r#"{"status": "resolved", "fixed_version": "0", "urgency": "low"}"#),
            release(r#"{"status": "open", "urgency": "unimportant"}"#),
            release(r#"{"status": "open", "nodsa": "Minor issue", "nodsa_reason": ""}"#),
            release(r#"{"status": "open", "nodsa": "", "nodsa_reason": "ignored"}"#),
            release(r#"{"status": "open", "nodsa": "", "nodsa_reason": "postponed"}"#),
            release(r#"{"status": "undetermined"}"#),
            release(r#"{"status": "open", "urgency": "end-of-life"}"#),
            release(r#"{"status": "resolved", "fixed_version": "1.0-2", "urgency": "high**"}"#),
        ),
    )
    .unwrap();
    let mut db = Database::new();
    let source = db.import("feed", &feed).unwrap();
    assert_eq!(source.not_reported, 2, "not-affected and undetermined");
    let states: Vec<_> = db
        .lookup("Debian:bookworm", "pkg")
        .unwrap()
        .into_iter()
        .map(|(a, f)| (a.id.as_str(), f.versions.clone()))
        .collect();
    assert_eq!(
        states,
        [
            ("CVE-2", Versions::Distro(DistroState::Unfixed)),
            // <no-dsa>: no advisory planned, still unfixed (as Trivy reports it).
            ("CVE-3", Versions::Distro(DistroState::Unfixed)),
            ("CVE-4", Versions::Distro(DistroState::WillNotFix)),
            ("CVE-5", Versions::Distro(DistroState::FixDeferred)),
            ("CVE-7", Versions::Distro(DistroState::EndOfLife)),
            (
                "CVE-8",
                Versions::Distro(DistroState::Fixed("1.0-2".into()))
            ),
        ]
    );
    let severity = |id: &str| {
        let (_, affected) = db
            .lookup("Debian:bookworm", "pkg")
            .unwrap()
            .into_iter()
            .find(|(a, _)| a.id == id)
            .unwrap();
        (
            affected.severity.rating.clone().unwrap(),
            affected.severity.level(),
        )
    };
    // "unimportant" is not a level: the word is kept, the level stays unknown; "high**" is
    // the tracker's high, not yet confirmed.
    assert_eq!(severity("CVE-2"), ("unimportant".into(), Level::Unknown));
    assert_eq!(severity("CVE-8"), ("high**".into(), Level::High));
}

#[test]
fn database_round_trips_and_reimport_replaces_its_source() {
    let Some(dir) = test_support::corpus("debian-bookworm") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut db = Database::new();
    db.import("debian", &dir.join("tracker.json")).unwrap();
    db.import("debian", &dir.join("tracker.json")).unwrap();
    assert_eq!(db.sources().len(), 1);
    assert_eq!(db.advisories().unwrap().len(), 28);
    let path = db.save(tmp.path()).unwrap();
    let names: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["vulndb.bin"], "no temporary file left behind");

    let again = Database::open(tmp.path()).unwrap();
    assert_eq!(again.sources(), db.sources());
    assert_eq!(again.advisories().unwrap(), db.advisories().unwrap());
    assert_eq!(
        again.lookup("Debian:bookworm", "perl").unwrap().len(),
        13 + 3
    );
    let bytes = fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"BERTHVDB");
    assert_eq!(bytes[8..12], FORMAT_VERSION.to_le_bytes());
}

#[test]
fn hostile_advisory_files_get_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = Database::new();
    let mut error_for = |name: &str, body: &[u8]| {
        let path = tmp.path().join(name);
        fs::write(&path, body).unwrap();
        let err = db.import(name, &path).unwrap_err().to_string();
        assert!(err.contains(name), "{err}");
        err
    };
    let err = error_for("truncated.json", br#"{"id": "GHSA-1", "affected": ["#);
    assert!(
        err.contains("not valid JSON") && err.contains("line 1"),
        "{err}"
    );
    let err = error_for(
        "future.json",
        br#"{"schema_version": "2.0.0", "id": "X-1", "modified": "2024-01-01T00:00:00Z"}"#,
    );
    assert!(err.contains("OSV schema version \"2.0.0\""), "{err}");
    let err = error_for("other.json", br#"{"hello": "world"}"#);
    assert!(err.contains("neither an OSV advisory"), "{err}");
    let err = error_for("bad.yaml", b"id: X-1\naffected: [\n");
    assert!(err.contains("not valid OSV YAML"), "{err}");
    let err = error_for("notes.txt", b"just some text");
    assert!(err.contains("neither an OSV advisory"), "{err}");
    let err = error_for(
        "tracker.json",
        br#"{"pkg": {"CVE-1": {"releases": {"bookworm": {"status": "maybe"}}}}}"#,
    );
    assert!(
        err.contains("pkg CVE-1 bookworm") && err.contains("unknown status"),
        "{err}"
    );
    let err = error_for(
        "float.yaml",
        b"id: X-1\naffected:\n- package: {ecosystem: PyPI, name: a}\n  versions: [[1]]\n",
    );
    assert!(err.contains("not valid OSV YAML"), "{err}");
    let err = error_for(
        "two.json",
        br#"{"id": "X-2", "affected": [{"package": {"ecosystem": "Go", "name": "m"},
             "ranges": [{"type": "SEMVER", "events": [{"introduced": "0", "fixed": "1"}]}]}]}"#,
    );
    assert!(err.contains("X-2") && err.contains("exactly one"), "{err}");
    assert_eq!(
        db.advisories().unwrap().len(),
        0,
        "nothing imported from a failed file"
    );

    // A file past the limit is refused before it is read (sparse: no disk used).
    let huge = tmp.path().join("huge.json");
    fs::File::create(&huge)
        .unwrap()
        .set_len(berth_vulndb::MAX_FILE + 1)
        .unwrap();
    let err = db.import("huge", &huge).unwrap_err().to_string();
    assert!(
        err.contains("huge.json") && err.contains("more than"),
        "{err}"
    );
}

#[test]
fn a_bad_file_in_a_directory_fails_the_import_and_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("a.json"),
        br#"{"id": "X-1", "modified": "2024-01-01T00:00:00Z", "affected": []}"#,
    )
    .unwrap();
    fs::create_dir(tmp.path().join("sub")).unwrap();
    fs::write(tmp.path().join("sub/b.json"), b"{").unwrap();
    let mut db = Database::new();
    let err = db.import("dir", tmp.path()).unwrap_err().to_string();
    assert!(
        err.contains(&format!("sub{}b.json", std::path::MAIN_SEPARATOR)),
        "{err}"
    );
    assert!(db.sources().is_empty());
}
