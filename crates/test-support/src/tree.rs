//! Snapshots of directory trees and image configurations, and readable differences between
//! two of them: what a build equivalence test needs to hold one builder to another.
//!
//! A snapshot records what a user of the image would notice: each path's type, permission
//! bits (with setuid, setgid and sticky), owner, group, the SHA-256 of a file's bytes, a
//! symlink's target, and which paths are hard links to one another. It leaves out times,
//! which no two builds share. Names and targets are bytes, as on Linux: a name that is not
//! UTF-8 is compared exactly, and shown with `\xNN` escapes.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_rootfs::path::{is_within, join, shown};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What a path is, with the content that tells two of a kind apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file: its size and the hex SHA-256 of its bytes.
    File {
        size: u64,
        sha256: String,
    },
    Dir,
    /// A symbolic link and its target, as written (not resolved).
    Symlink {
        target: OsString,
    },
    Fifo,
    Socket,
    CharDevice {
        rdev: u64,
    },
    BlockDevice {
        rdev: u64,
    },
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::File { size, sha256 } => write!(f, "file {size} B sha256:{}", &sha256[..12]),
            Kind::Dir => write!(f, "dir"),
            Kind::Symlink { target } => write!(f, "symlink -> {}", shown(target)),
            Kind::Fifo => write!(f, "fifo"),
            Kind::Socket => write!(f, "socket"),
            Kind::CharDevice { rdev } => write!(f, "char device {rdev:#x}"),
            Kind::BlockDevice { rdev } => write!(f, "block device {rdev:#x}"),
        }
    }
}

/// One path of a tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits with setuid (0o4000), setgid (0o2000) and sticky (0o1000).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:04o} {}:{}",
            self.kind, self.mode, self.uid, self.gid
        )
    }
}

/// A directory tree: every path below the root (relative, `/`-separated, no leading `/`),
/// and the groups of paths that share an inode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    pub nodes: BTreeMap<OsString, Node>,
    /// Each group holds two or more paths of one inode, sorted; groups are sorted too.
    pub hardlinks: BTreeSet<Vec<OsString>>,
}

/// Reading a tree failed at `path`.
#[derive(Debug)]
pub struct SnapshotError {
    pub path: PathBuf,
    pub source: io::Error,
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for SnapshotError {}

impl Tree {
    /// Walks everything below `root` (not `root` itself, whose mode is the caller's choice).
    /// Files are read for their hash even when their mode forbids it: tests run as root.
    pub fn snapshot(root: &Path) -> Result<Tree, SnapshotError> {
        let mut tree = Tree::default();
        let mut inodes: BTreeMap<(u64, u64), Vec<OsString>> = BTreeMap::new();
        walk(root, OsStr::new(""), &mut tree, &mut inodes)?;
        tree.hardlinks = inodes
            .into_values()
            .filter(|paths| paths.len() > 1)
            .map(|mut paths| {
                paths.sort();
                paths
            })
            .collect();
        Ok(tree)
    }

    pub fn get(&self, path: impl AsRef<OsStr>) -> Option<&Node> {
        self.nodes.get(relative(path.as_ref()))
    }

    /// Removes `path` and everything below it (from the hard-link groups too).
    pub fn remove(&mut self, path: impl AsRef<OsStr>) {
        let path = relative(path.as_ref());
        self.nodes.retain(|p, _| !is_within(p, path));
        self.hardlinks = std::mem::take(&mut self.hardlinks)
            .into_iter()
            .map(|g| {
                g.into_iter()
                    .filter(|p| !is_within(p, path))
                    .collect::<Vec<_>>()
            })
            .filter(|g| g.len() > 1)
            .collect();
    }

    /// Whether `path` is a directory with nothing in it.
    pub fn is_empty_dir(&self, path: impl AsRef<OsStr>) -> bool {
        let path = relative(path.as_ref());
        self.get(path).is_some_and(|n| n.kind == Kind::Dir)
            && !self.nodes.keys().any(|p| p != path && is_within(p, path))
    }

    /// One line per path, `ls -l`-like, for failure messages.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (path, node) in &self.nodes {
            out.push_str(&format!("/{}: {node}\n", shown(path)));
        }
        for group in &self.hardlinks {
            out.push_str(&format!("hard links: {}\n", group_text(group)));
        }
        out
    }
}

/// `path` without its leading and trailing `/`.
fn relative(path: &OsStr) -> &OsStr {
    let bytes = path.as_bytes();
    let start = bytes.iter().take_while(|&&b| b == b'/').count();
    let end = bytes.len()
        - bytes[start..]
            .iter()
            .rev()
            .take_while(|&&b| b == b'/')
            .count();
    OsStr::from_bytes(&bytes[start..end])
}

/// A hard-link group as `a = b = c`.
fn group_text(group: &[OsString]) -> String {
    let names: Vec<String> = group.iter().map(|p| shown(p).to_string()).collect();
    names.join(" = ")
}

fn walk(
    dir: &Path,
    prefix: &OsStr,
    tree: &mut Tree,
    inodes: &mut BTreeMap<(u64, u64), Vec<OsString>>,
) -> Result<(), SnapshotError> {
    let error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SnapshotError { path, source }
    };
    let mut entries = fs::read_dir(dir)
        .map_err(error(dir))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(error(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = join(prefix, entry.file_name());
        let meta = fs::symlink_metadata(&path).map_err(error(&path))?;
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(error(&path))?;
            Kind::Symlink {
                target: target.into_os_string(),
            }
        } else if ft.is_file() {
            let bytes = fs::read(&path).map_err(error(&path))?;
            Kind::File {
                size: meta.len(),
                sha256: hex(&Sha256::digest(&bytes)),
            }
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_socket() {
            Kind::Socket
        } else if ft.is_char_device() {
            Kind::CharDevice { rdev: meta.rdev() }
        } else {
            Kind::BlockDevice { rdev: meta.rdev() }
        };
        if !ft.is_dir() && meta.nlink() > 1 {
            inodes
                .entry((meta.dev(), meta.ino()))
                .or_default()
                .push(rel.clone());
        }
        tree.nodes.insert(
            rel.clone(),
            Node {
                kind,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
            },
        );
        if ft.is_dir() {
            walk(&path, &rel, tree, inodes)?;
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The differences between two trees, one readable line each; empty when they are equal.
/// `expected` and `actual` name the two sides in the lines (e.g. "buildkit", "berth").
pub fn diff(expected_name: &str, expected: &Tree, actual_name: &str, actual: &Tree) -> Vec<String> {
    let mut lines = Vec::new();
    let paths: BTreeSet<&OsString> = expected.nodes.keys().chain(actual.nodes.keys()).collect();
    for path in paths {
        let shown_path = shown(path);
        match (expected.nodes.get(path), actual.nodes.get(path)) {
            (Some(e), None) => lines.push(format!("/{shown_path}: only in {expected_name} ({e})")),
            (None, Some(a)) => lines.push(format!("/{shown_path}: only in {actual_name} ({a})")),
            (Some(e), Some(a)) if e != a => {
                let mut what = Vec::new();
                if e.kind != a.kind {
                    what.push(format!("{} vs {}", e.kind, a.kind));
                }
                if e.mode != a.mode {
                    what.push(format!("mode {:04o} vs {:04o}", e.mode, a.mode));
                }
                if (e.uid, e.gid) != (a.uid, a.gid) {
                    what.push(format!("owner {}:{} vs {}:{}", e.uid, e.gid, a.uid, a.gid));
                }
                lines.push(format!(
                    "/{shown_path}: {} ({expected_name} vs {actual_name})",
                    what.join(", ")
                ));
            }
            _ => {}
        }
    }
    for group in expected.hardlinks.difference(&actual.hardlinks) {
        lines.push(format!(
            "hard links {} in {expected_name}, not in {actual_name}",
            group_text(group)
        ));
    }
    for group in actual.hardlinks.difference(&expected.hardlinks) {
        lines.push(format!(
            "hard links {} in {actual_name}, not in {expected_name}",
            group_text(group)
        ));
    }
    lines
}

/// The fields of an image's `Config` (as `docker inspect` prints it) that a build sets.
pub const CONFIG_FIELDS: &[&str] = &[
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "Labels",
    "ExposedPorts",
    "Volumes",
    "StopSignal",
    "Healthcheck",
    "Shell",
    "OnBuild",
    "ArgsEscaped",
];

/// The differences between two `Config` objects over [`CONFIG_FIELDS`], one line each.
/// A missing field, `null`, `false`, `""`, `[]` and `{}` all mean "not set" and compare equal.
pub fn config_diff(
    expected_name: &str,
    expected: &Value,
    actual_name: &str,
    actual: &Value,
) -> Vec<String> {
    CONFIG_FIELDS
        .iter()
        .filter_map(|field| {
            let e = unset_as_null(expected.get(*field));
            let a = unset_as_null(actual.get(*field));
            (e != a).then(|| format!("Config.{field}: {expected_name} {e} vs {actual_name} {a}"))
        })
        .collect()
}

fn unset_as_null(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) if s.is_empty() => Value::Null,
        Some(Value::Array(a)) if a.is_empty() => Value::Null,
        Some(Value::Object(o)) if o.is_empty() => Value::Null,
        Some(Value::Bool(false)) => Value::Null,
        Some(v) => v.clone(),
    }
}

/// The differences between two images' `history` arrays (from their config blobs), entry by
/// entry: its `created_by`, its `comment` and whether it is an `empty_layer` (made no layer).
/// One message with both histories, the entries that differ marked, when any does.
pub fn history_diff(
    expected_name: &str,
    expected: &[Value],
    actual_name: &str,
    actual: &[Value],
) -> Vec<String> {
    let entry = |e: &Value| -> String {
        let empty = e.get("empty_layer").and_then(Value::as_bool) == Some(true);
        let text = |key: &str| e.get(key).and_then(Value::as_str).unwrap_or("").to_string();
        format!(
            "{} {:?} (comment {:?})",
            if empty { "E" } else { "L" },
            text("created_by"),
            text("comment")
        )
    };
    let e: Vec<String> = expected.iter().map(entry).collect();
    let a: Vec<String> = actual.iter().map(entry).collect();
    if e == a {
        return Vec::new();
    }
    let mut lines = vec![format!(
        "history: {expected_name} has {} entries, {actual_name} has {} (L = layer, E = empty_layer):",
        e.len(),
        a.len()
    )];
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => lines.push(format!("    = {x}")),
            (x, y) => {
                let none = "(none)".to_string();
                lines.push(format!("    {expected_name}: {}", x.unwrap_or(&none)));
                lines.push(format!("    {actual_name}: {}", y.unwrap_or(&none)));
            }
        }
    }
    vec![lines.join("\n")]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn sample(dir: &Path) {
        fs::create_dir_all(dir.join("d/empty")).unwrap();
        fs::write(dir.join("d/a"), "alpha").unwrap();
        fs::hard_link(dir.join("d/a"), dir.join("a-link")).unwrap();
        symlink("d/a", dir.join("sym")).unwrap();
        fs::write(dir.join("suid"), "x").unwrap();
        fs::set_permissions(dir.join("suid"), fs::Permissions::from_mode(0o4755)).unwrap();
        fs::set_permissions(dir.join("d/empty"), fs::Permissions::from_mode(0o1777)).unwrap();
    }

    #[test]
    fn snapshot_records_modes_links_and_hashes() {
        let dir = tempfile::tempdir().unwrap();
        sample(dir.path());
        let t = Tree::snapshot(dir.path()).unwrap();
        assert_eq!(t.get("/suid").unwrap().mode, 0o4755);
        assert_eq!(t.get("d/empty").unwrap().mode, 0o1777);
        assert!(t.is_empty_dir("d/empty"));
        assert!(!t.is_empty_dir("d"));
        assert_eq!(
            t.get("sym").unwrap().kind,
            Kind::Symlink {
                target: "d/a".into()
            }
        );
        // sha256("alpha")
        assert_eq!(
            t.get("d/a").unwrap().kind,
            Kind::File {
                size: 5,
                sha256: "8ed3f6ad685b959ead7022518e1af76cd816f8e8ec7ccdda1ed4018e8f2223f8".into()
            }
        );
        assert_eq!(
            t.hardlinks,
            BTreeSet::from([vec![OsString::from("a-link"), OsString::from("d/a")]])
        );
        assert!(diff("x", &t, "y", &t).is_empty());
    }

    /// Names and targets are bytes: two trees whose names differ only in bytes that are not
    /// UTF-8 are told apart, and the difference is shown with escapes.
    #[test]
    fn names_that_are_not_utf8_are_compared_as_bytes() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let name = |dir: &Path, bytes: &[u8]| dir.join(OsStr::from_bytes(bytes));
        fs::write(name(one.path(), b"bad\xff"), "x").unwrap();
        fs::write(name(two.path(), b"bad\xfe"), "x").unwrap();
        symlink(OsStr::from_bytes(b"to\xff"), one.path().join("link")).unwrap();
        symlink(OsStr::from_bytes(b"to\xfe"), two.path().join("link")).unwrap();
        let (a, b) = (
            Tree::snapshot(one.path()).unwrap(),
            Tree::snapshot(two.path()).unwrap(),
        );
        assert!(a.get(OsStr::from_bytes(b"/bad\xff")).is_some());
        let lines = diff("one", &a, "two", &b);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].starts_with("/bad\\xfe: only in two (file 1 B"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("/bad\\xff: only in one (file 1 B"),
            "{lines:?}"
        );
        assert_eq!(
            lines[2],
            "/link: symlink -> to\\xff vs symlink -> to\\xfe (one vs two)"
        );
    }

    #[test]
    fn diff_names_every_difference() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        sample(one.path());
        sample(two.path());
        fs::remove_file(two.path().join("a-link")).unwrap();
        fs::write(two.path().join("a-link"), "alpha").unwrap();
        fs::set_permissions(two.path().join("suid"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(two.path().join("d/a"), "beta").unwrap();
        fs::write(two.path().join("new"), "").unwrap();
        let (a, b) = (
            Tree::snapshot(one.path()).unwrap(),
            Tree::snapshot(two.path()).unwrap(),
        );
        let lines = diff("one", &a, "two", &b);
        let text = lines.join("\n");
        assert!(text.contains("/new: only in two"), "{text}");
        assert!(text.contains("/suid: mode 4755 vs 0755"), "{text}");
        assert!(text.contains("/d/a: file 5 B"), "{text}");
        assert!(
            text.contains("hard links a-link = d/a in one, not in two"),
            "{text}"
        );
        assert_eq!(lines.len(), 4, "{text}");

        let mut pruned = b.clone();
        pruned.remove("d");
        assert!(pruned.get("d/a").is_none() && pruned.get("d").is_none());
    }

    #[test]
    fn config_and_history_differences() {
        let e = serde_json::json!({"Env": ["A=1"], "Cmd": null, "Labels": {}, "User": "1"});
        let a = serde_json::json!({"Env": ["A=1"], "Cmd": [], "User": "2", "Shell": ["sh"]});
        let lines = config_diff("bk", &e, "berth", &a);
        assert_eq!(
            lines,
            vec![
                "Config.User: bk \"1\" vs berth \"2\"".to_string(),
                "Config.Shell: bk null vs berth [\"sh\"]".to_string()
            ]
        );
        let h1 = vec![
            serde_json::json!({"created_by": "import"}),
            serde_json::json!({"created_by": "ENV", "empty_layer": true}),
        ];
        let h2 = vec![
            serde_json::json!({"created_by": "import"}),
            serde_json::json!({}),
        ];
        assert!(history_diff("bk", &h1, "berth", &h1).is_empty());
        let d = history_diff("bk", &h1, "berth", &h2);
        assert!(
            d[0].contains("bk: E \"ENV\"") && d[0].contains("berth: L \"\""),
            "{d:?}"
        );
        // The same shape with other words, or another comment, differs too.
        let mut h3 = h1.clone();
        h3[1]["created_by"] = "ENV A=1".into();
        assert_eq!(history_diff("bk", &h1, "berth", &h3).len(), 1);
        let mut h4 = h1.clone();
        h4[0]["comment"] = "buildkit.dockerfile.v0".into();
        assert_eq!(history_diff("bk", &h1, "berth", &h4).len(), 1);
    }
}
