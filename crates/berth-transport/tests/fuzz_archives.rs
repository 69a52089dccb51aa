//! Fuzz-style robustness tests for `berth load`'s path: `open_any` on OCI and Docker archives
//! that are truncated, have flipped bytes, damaged or missing members, or random JSON in place
//! of `index.json` / `manifest.json`, then `roots()` and a copy of each root into a fresh store.
//! Nothing may panic; a failed copy must leave no image and a clean store; a successful one a
//! clean store.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use berth_oci::{Descriptor, Digest, media_type};
use berth_store::Store;
use berth_transport::local::StoreDestination;
use berth_transport::{CopyOptions, Input, NoProgress, copy, open_any};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Value, json};

/// A bounded run that writes no regression files into the source tree.
fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..ProptestConfig::with_cases(n)
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

// ---------------------------------------------------------------------------------------------
// A small valid image, and the two archive formats holding it
// ---------------------------------------------------------------------------------------------

struct Image {
    config: Vec<u8>,
    layer: Vec<u8>,
    manifest: Vec<u8>,
    config_digest: Digest,
    layer_digest: Digest,
    manifest_digest: Digest,
    /// An index (stored as a blob) holding the manifest.
    index: Vec<u8>,
    /// An index holding the manifest and a manifest the archive doesn't have: copying it
    /// fails after the first child is written.
    partial_index: Vec<u8>,
}

impl Image {
    /// Descriptors of everything in the archive, and of something that isn't, each with the
    /// media type it should have and with a wrong one.
    fn descriptors(&self) -> Vec<Descriptor> {
        let mt = media_type::OCI_MANIFEST;
        let mut out = vec![
            Descriptor::of_bytes(mt, &self.manifest),
            Descriptor::of_bytes(media_type::OCI_INDEX, &self.index),
            Descriptor::of_bytes(media_type::OCI_INDEX, &self.partial_index),
            Descriptor::of_bytes(mt, &self.config),
            Descriptor::of_bytes(mt, &self.layer),
            Descriptor::of_bytes(media_type::OCI_INDEX, &self.manifest),
            Descriptor::of_bytes(mt, &self.index),
            Descriptor::of_bytes(media_type::OCI_LAYER, &self.layer),
            Descriptor::of_bytes(media_type::DOCKER_SCHEMA1, &self.manifest),
            Descriptor::of_bytes(mt, b"missing"),
        ];
        let mut wrong_size = Descriptor::of_bytes(mt, &self.manifest);
        wrong_size.size -= 1;
        out.push(wrong_size);
        out
    }
}

fn image() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in [
            ("etc/hostname", &b"berth\n"[..]),
            ("bin/sh", &b"#!fake"[..]),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o755);
            h.set_size(data.len() as u64);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, data).unwrap();
        }
        let layer = b.into_inner().unwrap();
        let layer_digest = Digest::sha256(&layer);
        let config = serde_json::to_vec(&json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest.to_string()]},
            "history": [{"created_by": "fuzz"}]
        }))
        .unwrap();
        let config_desc = Descriptor::of_bytes(media_type::OCI_CONFIG, &config);
        let layer_desc = Descriptor::of_bytes(media_type::OCI_LAYER, &layer);
        let manifest =
            berth_oci::ImageManifest::new(config_desc.clone(), vec![layer_desc]).to_bytes();
        let mut child = Descriptor::of_bytes(media_type::OCI_MANIFEST, &manifest);
        child.platform = Some(berth_oci::Platform::new("linux", "amd64", None));
        let index = berth_oci::ImageIndex::new(vec![child.clone()]).to_bytes();
        let mut missing = Descriptor::of_bytes(media_type::OCI_MANIFEST, b"not in the archive");
        missing.platform = Some(berth_oci::Platform::new("linux", "arm64", None));
        let partial_index = berth_oci::ImageIndex::new(vec![child, missing]).to_bytes();
        Image {
            config_digest: config_desc.digest,
            manifest_digest: Digest::sha256(&manifest),
            layer_digest,
            config,
            layer,
            manifest,
            index,
            partial_index,
        }
    })
}

fn oci_index() -> Value {
    let img = image();
    json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": [{
            "mediaType": media_type::OCI_MANIFEST,
            "digest": img.manifest_digest.to_string(),
            "size": img.manifest.len(),
            "annotations": {
                "io.containerd.image.name": "docker.io/library/x:1",
                "org.opencontainers.image.ref.name": "1"
            }
        }]
    })
}

fn docker_manifest() -> Value {
    let img = image();
    json!([{
        "Config": format!("{}.json", img.config_digest.hex()),
        "RepoTags": ["x:1"],
        "Layers": [format!("{}.tar", img.layer_digest.hex())]
    }])
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Oci,
    Docker,
}

/// The archive's members, in order: (path, bytes). `None` bytes make a directory.
fn members(format: Format, top_json: &[u8]) -> Vec<(String, Option<Vec<u8>>)> {
    let img = image();
    match format {
        Format::Oci => vec![
            (
                "oci-layout".into(),
                Some(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
            ),
            ("index.json".into(), Some(top_json.to_vec())),
            ("blobs".into(), None),
            ("blobs/sha256".into(), None),
            (
                format!("blobs/sha256/{}", img.config_digest.hex()),
                Some(img.config.clone()),
            ),
            (
                format!("blobs/sha256/{}", img.layer_digest.hex()),
                Some(img.layer.clone()),
            ),
            (
                format!("blobs/sha256/{}", img.manifest_digest.hex()),
                Some(img.manifest.clone()),
            ),
            (
                format!("blobs/sha256/{}", Digest::sha256(&img.index).hex()),
                Some(img.index.clone()),
            ),
            (
                format!("blobs/sha256/{}", Digest::sha256(&img.partial_index).hex()),
                Some(img.partial_index.clone()),
            ),
        ],
        Format::Docker => vec![
            (
                format!("{}.json", img.config_digest.hex()),
                Some(img.config.clone()),
            ),
            (
                format!("{}.tar", img.layer_digest.hex()),
                Some(img.layer.clone()),
            ),
            ("manifest.json".into(), Some(top_json.to_vec())),
        ],
    }
}

fn tar_of(members: &[(String, Option<Vec<u8>>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        match data {
            Some(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, &data[..]).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, format!("{path}/"), std::io::empty())
                    .unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

fn junk_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        Just(json!(u64::MAX)),
        proptest::string::string_regex("[\\PC]{0,10}")
            .unwrap()
            .prop_map(Value::String),
        proptest::string::string_regex("sha256:[0-9a-f]{64}")
            .unwrap()
            .prop_map(Value::String),
        Just(json!(image().config_digest.to_string())),
        Just(json!(image().layer_digest.to_string())),
        Just(json!(image().manifest_digest.to_string())),
        Just(json!(format!("{}.json", image().config_digest.hex()))),
        Just(json!(format!("{}.tar", image().layer_digest.hex()))),
        Just(json!(format!(
            "blobs/sha256/{}",
            image().manifest_digest.hex()
        ))),
        Just(json!("../../../etc/passwd")),
        Just(json!("/etc/passwd")),
        Just(json!("index.json")),
        Just(json!("manifest.json")),
        Just(json!(media_type::OCI_MANIFEST)),
        Just(json!(media_type::OCI_INDEX)),
        Just(json!(media_type::OCI_CONFIG)),
        Just(json!(media_type::OCI_LAYER_GZIP)),
        Just(json!(media_type::DOCKER_SCHEMA1)),
        Just(json!("x:1")),
        Just(json!("Invalid Name")),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    "[a-zA-Z.]{0,6}|mediaType|digest|size|manifests|annotations|Config|Layers|RepoTags",
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum JsonEdit {
    Drop,
    Replace(Value),
    Add(String, Value),
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        2 => Just(JsonEdit::Drop),
        3 => junk_json().prop_map(JsonEdit::Replace),
        1 => (
            "[a-zA-Z.]{0,6}|mediaType|digest|size|manifests|platform|Config|Layers|RepoTags",
            junk_json()
        )
            .prop_map(|(k, v)| JsonEdit::Add(k, v)),
    ]
}

fn len_of(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 0,
    }
}

fn child_mut(v: &mut Value, i: usize) -> &mut Value {
    match v {
        Value::Object(m) => m.values_mut().nth(i).expect("index in range"),
        Value::Array(a) => &mut a[i],
        _ => unreachable!("only containers have children"),
    }
}

/// Walks down the document choosing children by `path`, then edits where it stopped.
fn edit_json(root: &mut Value, path: &[usize], edit: JsonEdit) {
    let mut node = root;
    let mut at = None;
    for (depth, &sel) in path.iter().enumerate() {
        let len = len_of(node);
        if len == 0 {
            break;
        }
        let i = sel % len;
        if depth + 1 == path.len() || sel % 3 == 0 || len_of(child_mut(node, i)) == 0 {
            at = Some(i);
            break;
        }
        node = child_mut(node, i);
    }
    match (edit, at) {
        (JsonEdit::Drop, Some(i)) => match node {
            Value::Object(m) => {
                let key = m.keys().nth(i).expect("index in range").clone();
                m.remove(&key);
            }
            Value::Array(a) => {
                a.remove(i);
            }
            _ => {}
        },
        (JsonEdit::Replace(v), Some(i)) => *child_mut(node, i) = v,
        (JsonEdit::Replace(v), None) => *node = v,
        (JsonEdit::Add(k, v), _) => match node {
            Value::Object(m) => {
                m.insert(k, v);
            }
            Value::Array(a) => a.push(v),
            _ => {}
        },
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum TopJson {
    Valid,
    /// The valid document with structural edits.
    Edited(Vec<(Vec<usize>, JsonEdit)>),
    /// A well-formed document listing images chosen from what the archive holds (and doesn't):
    /// (which, name).
    Choose(Vec<(usize, usize)>),
    /// Any JSON at all.
    Random(Value),
    /// Not JSON.
    Bytes(Vec<u8>),
}

fn top_json() -> impl Strategy<Value = TopJson> {
    prop_oneof![
        5 => Just(TopJson::Valid),
        4 => prop::collection::vec(
            (prop::collection::vec(any::<usize>(), 1..5), json_edit()),
            1..3
        )
        .prop_map(TopJson::Edited),
        4 => prop::collection::vec((any::<usize>(), any::<usize>()), 0..4).prop_map(TopJson::Choose),
        2 => junk_json().prop_map(TopJson::Random),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(TopJson::Bytes),
    ]
}

fn render_top(format: Format, top: &TopJson) -> Vec<u8> {
    let valid = match format {
        Format::Oci => oci_index(),
        Format::Docker => docker_manifest(),
    };
    match top {
        TopJson::Valid => serde_json::to_vec(&valid).unwrap(),
        TopJson::Edited(edits) => {
            let mut doc = valid;
            for (path, e) in edits {
                edit_json(&mut doc, path, e.clone());
            }
            serde_json::to_vec(&doc).unwrap()
        }
        TopJson::Choose(picks) => serde_json::to_vec(&chosen(format, picks)).unwrap(),
        TopJson::Random(v) => serde_json::to_vec(v).unwrap(),
        TopJson::Bytes(b) => b.clone(),
    }
}

const NAMES: &[&str] = &[
    "x:1",
    "docker.io/library/x:1",
    "Not A Name",
    "",
    "y@sha256:0",
];

fn chosen(format: Format, picks: &[(usize, usize)]) -> Value {
    let img = image();
    match format {
        Format::Oci => {
            let all = img.descriptors();
            let manifests: Vec<Value> = picks
                .iter()
                .map(|&(which, name)| {
                    let mut d = all[which % all.len()].clone();
                    if name % 3 != 0 {
                        let n = NAMES[name % NAMES.len()];
                        d.set_annotation(berth_oci::descriptor::ANNOTATION_IMAGE_NAME, n);
                        d.set_annotation(berth_oci::descriptor::ANNOTATION_REF_NAME, n);
                    }
                    serde_json::to_value(d).unwrap()
                })
                .collect();
            json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": manifests})
        }
        Format::Docker => {
            let config = format!("{}.json", img.config_digest.hex());
            let layer = format!("{}.tar", img.layer_digest.hex());
            let files = [
                config.as_str(),
                layer.as_str(),
                "missing.tar",
                "manifest.json",
                "./x/../",
            ];
            let entries: Vec<Value> = picks
                .iter()
                .map(|&(which, name)| {
                    let layers: Vec<&str> = (0..which % 3)
                        .map(|i| files[(which / 3 + i) % files.len()])
                        .collect();
                    json!({
                        "Config": if which % 5 == 4 { files[name % files.len()] } else { config.as_str() },
                        "RepoTags": if name % 3 == 0 { Value::Null } else { json!([NAMES[name % NAMES.len()]]) },
                        "Layers": if which % 7 == 0 { json!([layer]) } else { json!(layers) },
                    })
                })
                .collect();
            Value::Array(entries)
        }
    }
}

/// Damage to the members, made before they are put in the tar (the tar stays well formed).
#[derive(Debug, Clone)]
enum MemberDamage {
    None,
    Flip(usize, Vec<(usize, u8)>),
    Truncate(usize, usize),
    Drop(usize),
    Swap(usize, usize),
}

fn member_damage() -> impl Strategy<Value = MemberDamage> {
    prop_oneof![
        4 => Just(MemberDamage::None),
        2 => (any::<usize>(), prop::collection::vec((any::<usize>(), any::<u8>()), 1..4))
            .prop_map(|(m, f)| MemberDamage::Flip(m, f)),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(m, t)| MemberDamage::Truncate(m, t)),
        1 => any::<usize>().prop_map(MemberDamage::Drop),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| MemberDamage::Swap(a, b)),
    ]
}

fn damage_members(members: &mut Vec<(String, Option<Vec<u8>>)>, d: &MemberDamage) {
    let n = members.len();
    match *d {
        MemberDamage::None => {}
        MemberDamage::Flip(m, ref flips) => {
            if let Some(data) = members[m % n].1.as_mut().filter(|d| !d.is_empty()) {
                let len = data.len();
                for &(at, b) in flips {
                    data[at % len] ^= b.max(1);
                }
            }
        }
        MemberDamage::Truncate(m, t) => {
            if let Some(data) = members[m % n].1.as_mut() {
                let keep = t % (data.len() + 1);
                data.truncate(keep);
            }
        }
        MemberDamage::Drop(m) => {
            members.remove(m % n);
        }
        MemberDamage::Swap(a, b) => {
            // Two files' contents change places; names stay.
            let (a, b) = (a % n, b % n);
            if members[a].1.is_some() && members[b].1.is_some() {
                let da = members[a].1.take();
                members[a].1 = std::mem::replace(&mut members[b].1, da);
            }
        }
    }
}

/// Damage to the archive's bytes.
#[derive(Debug, Clone)]
enum ByteDamage {
    None,
    Truncate(usize),
    Flip(Vec<(usize, u8)>),
}

fn byte_damage() -> impl Strategy<Value = ByteDamage> {
    prop_oneof![
        5 => Just(ByteDamage::None),
        1 => any::<usize>().prop_map(ByteDamage::Truncate),
        2 => prop::collection::vec((any::<usize>(), any::<u8>()), 1..4).prop_map(ByteDamage::Flip),
    ]
}

fn damage_bytes(mut bytes: Vec<u8>, d: &ByteDamage) -> Vec<u8> {
    match d {
        ByteDamage::None => {}
        ByteDamage::Truncate(t) => bytes.truncate(t % (bytes.len() + 1)),
        ByteDamage::Flip(flips) => {
            let n = bytes.len();
            if n > 0 {
                for &(at, b) in flips {
                    bytes[at % n] ^= b.max(1);
                }
            }
        }
    }
    bytes
}

#[derive(Debug, Clone)]
struct Case {
    format: Format,
    top: TopJson,
    members: MemberDamage,
    bytes: ByteDamage,
    gzip: bool,
    stream: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(Format::Oci), Just(Format::Docker)],
        top_json(),
        member_damage(),
        byte_damage(),
        proptest::bool::weighted(0.25),
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(format, top, members, bytes, gzip, stream)| Case {
            format,
            top,
            members,
            bytes,
            gzip,
            stream,
        })
}

fn archive_bytes(c: &Case) -> Vec<u8> {
    let top = render_top(c.format, &c.top);
    let mut m = members(c.format, &top);
    damage_members(&mut m, &c.members);
    let tar = tar_of(&m);
    let bytes = if c.gzip { gzip(&tar) } else { tar };
    damage_bytes(bytes, &c.bytes)
}

// ---------------------------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------------------------

/// What loading an archive did.
#[derive(Debug, Default)]
struct Outcome {
    opened: bool,
    roots: usize,
    copied: usize,
}

/// Opens the archive, lists its roots and copies each into a fresh store, checking the store
/// after every copy.
fn load(bytes: &[u8], stream: bool) -> Result<Outcome, TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.tar");
    std::fs::write(&path, bytes).unwrap();
    let temp = dir.path().join("tmp");
    std::fs::create_dir(&temp).unwrap();
    let input = if stream {
        Input::Stream(Box::new(bytes))
    } else {
        Input::Path(&path)
    };
    let mut outcome = Outcome::default();
    let (format, source) = match open_any(input, &temp) {
        Ok(opened) => opened,
        Err(e) => {
            prop_assert!(!e.to_string().is_empty());
            return Ok(outcome);
        }
    };
    outcome.opened = true;
    let roots = match runtime().block_on(source.roots()) {
        Ok(roots) => roots,
        Err(e) => {
            prop_assert!(!e.to_string().is_empty());
            return Ok(outcome);
        }
    };
    outcome.roots = roots.len();
    for (i, root) in roots.into_iter().enumerate() {
        let store = Arc::new(Store::open(&dir.path().join(format!("store{i}"))).unwrap());
        let result = {
            let dest = StoreDestination::new(store.clone(), &source.describe()).unwrap();
            runtime().block_on(copy(
                source.as_ref(),
                &dest,
                vec![root.clone()],
                &CopyOptions::default(),
                Arc::new(NoProgress),
            ))
        };
        let images = store.images().unwrap();
        let fsck = store.fsck(false).unwrap();
        match result {
            Ok(written) => {
                prop_assert!(fsck.is_clean(), "copy of {:?} left {:?}", root, fsck);
                prop_assert_eq!(written.len(), 1);
                prop_assert!(
                    images
                        .iter()
                        .any(|im| im.digest == written[0].descriptor.digest),
                    "copied image {} isn't listed: {:?}",
                    written[0].descriptor.digest,
                    images
                );
                if let Some(why) = inconsistent_layers(&store, &written[0].descriptor.digest) {
                    prop_assert!(false, "loaded an inconsistent {:?} image: {}", format, why);
                }
                outcome.copied += 1;
            }
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                prop_assert!(
                    images.is_empty(),
                    "failed copy ({}) left images {:?}",
                    e,
                    images
                );
                prop_assert!(fsck.is_clean(), "failed copy ({}) left {:?}", e, fsck);
            }
        }
    }
    Ok(outcome)
}

/// Why a stored image's layers don't match the diff IDs its config lists, if they don't.
fn inconsistent_layers(store: &Store, digest: &Digest) -> Option<String> {
    let (_, manifest) = store.manifest(digest).unwrap();
    let berth_oci::Manifest::Image(m) = manifest else {
        return None; // each child was checked as it was written
    };
    let (_, config) = store.config(&m.config).unwrap();
    if config.rootfs.diff_ids.len() != m.layers.len() {
        return Some(format!(
            "{} layers, {} diff IDs",
            m.layers.len(),
            config.rootfs.diff_ids.len()
        ));
    }
    for (layer, want) in m.layers.iter().zip(&config.rootfs.diff_ids) {
        match store.layer_info(layer) {
            Ok(info) if info.diff_id == *want => {}
            Ok(info) => {
                return Some(format!(
                    "layer {} has diff ID {}, config says {want}",
                    layer.digest, info.diff_id
                ));
            }
            Err(e) => return Some(format!("layer {}: {e}", layer.digest)),
        }
    }
    None
}

/// Regression (berth-transport `DockerArchiveSource`): a Docker archive's layers are never
/// checked against the diff IDs in the image config, so an archive whose `Layers` name the
/// wrong file (here the config itself) loads "successfully" as an image whose layer doesn't
/// match its config. `docker load` refuses it ("invalid diffID for layer 0"), and berth's own
/// Docker archive writer refuses to save the result.
#[test]
fn docker_archive_layers_must_match_diff_ids() {
    let img = image();
    let wrong = json!([{
        "Config": format!("{}.json", img.config_digest.hex()),
        "RepoTags": ["x:1"],
        "Layers": [format!("{}.json", img.config_digest.hex())]
    }]);
    let bytes = tar_of(&members(
        Format::Docker,
        &serde_json::to_vec(&wrong).unwrap(),
    ));
    let outcome = load(&bytes, false).unwrap();
    assert_eq!(
        outcome.copied, 0,
        "an image whose layer isn't its diff ID was loaded"
    );
}

#[test]
fn undamaged_archives_load() {
    for format in [Format::Oci, Format::Docker] {
        for gzip in [false, true] {
            for stream in [false, true] {
                let c = Case {
                    format,
                    top: TopJson::Valid,
                    members: MemberDamage::None,
                    bytes: ByteDamage::None,
                    gzip,
                    stream,
                };
                let outcome = load(&archive_bytes(&c), stream).unwrap();
                assert!(
                    outcome.opened && outcome.roots == 1 && outcome.copied == 1,
                    "{c:?}: {outcome:?}"
                );
            }
        }
    }
}

/// Flipping any byte of a blob's content must make the copy fail, never store bad data.
#[test]
fn every_damaged_blob_is_refused() {
    for format in [Format::Oci, Format::Docker] {
        let top = render_top(format, &TopJson::Valid);
        let n = members(format, &top).len();
        for m in 0..n {
            let c = Case {
                format,
                top: TopJson::Valid,
                members: MemberDamage::Flip(m, vec![(m * 7 + 3, 0x20)]),
                bytes: ByteDamage::None,
                gzip: false,
                stream: false,
            };
            let (name, data) = members(format, &top).swap_remove(m);
            // The image's blobs named by their digest; a Docker archive's config is not (its
            // digest is computed from its bytes), so damage there only makes another image.
            let img = image();
            let used = [&img.config_digest, &img.layer_digest, &img.manifest_digest];
            let is_blob = data.is_some()
                && match format {
                    Format::Oci => used
                        .iter()
                        .any(|d| name == format!("blobs/sha256/{}", d.hex())),
                    Format::Docker => name.ends_with(".tar"),
                };
            let outcome = load(&archive_bytes(&c), false).unwrap();
            if is_blob {
                assert_eq!(outcome.copied, 0, "{name}: damaged blob was copied");
            }
        }
    }
}

proptest! {
    #![proptest_config(cases(800))]

    #[test]
    fn damaged_archives_never_panic_and_leave_clean_stores(c in case()) {
        load(&archive_bytes(&c), c.stream)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        stream in any::<bool>(),
    ) {
        load(&bytes, stream)?;
    }
}

/// `Path::is_dir` inputs are read as layout directories; make sure a damaged layout directory
/// (files written from the same mutated members) behaves the same.
fn write_dir(root: &Path, members: &[(String, Option<Vec<u8>>)]) {
    for (path, data) in members {
        let p = root.join(path);
        match data {
            Some(d) => {
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, d).unwrap();
            }
            None => std::fs::create_dir_all(&p).unwrap(),
        }
    }
}

proptest! {
    #![proptest_config(cases(200))]

    #[test]
    fn damaged_layout_dirs_never_panic(top in top_json(), d in member_damage()) {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("layout");
        let json = render_top(Format::Oci, &top);
        let mut m = members(Format::Oci, &json);
        damage_members(&mut m, &d);
        write_dir(&layout, &m);
        let temp = dir.path().join("tmp");
        std::fs::create_dir(&temp).unwrap();
        let Ok((_, source)) = open_any(Input::Path(&layout), &temp) else {
            return Ok(());
        };
        let Ok(roots) = runtime().block_on(source.roots()) else {
            return Ok(());
        };
        for (i, root) in roots.into_iter().enumerate() {
            let store = Arc::new(Store::open(&dir.path().join(format!("store{i}"))).unwrap());
            let result = {
                let dest = StoreDestination::new(store.clone(), &source.describe()).unwrap();
                runtime().block_on(copy(
                    source.as_ref(),
                    &dest,
                    vec![root],
                    &CopyOptions::default(),
                    Arc::new(NoProgress),
                ))
            };
            let fsck = store.fsck(false).unwrap();
            prop_assert!(fsck.is_clean(), "{:?}", fsck);
            if result.is_err() {
                prop_assert!(store.images().unwrap().is_empty());
            }
        }
    }
}
