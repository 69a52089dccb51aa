//! A layer's entries, independent of where they came from, and the canonical order they are
//! written in.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::PathBuf;

/// One file system object in a layer.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Relative, `/`-separated, no leading `/` or `./`, no trailing `/`, never `..`.
    pub path: String,
    pub kind: Kind,
    /// Permission bits plus setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// Extended attributes, sorted by name.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Dir,
    File {
        size: u64,
        data: Data,
    },
    Symlink {
        target: String,
    },
    /// A second name for the regular file at `target` (a path in the same layer).
    Hardlink {
        target: String,
    },
    CharDevice {
        major: u32,
        minor: u32,
    },
    BlockDevice {
        major: u32,
        minor: u32,
    },
    Fifo,
}

/// Where a regular file's bytes are.
#[derive(Debug, Clone)]
pub enum Data {
    /// A file on disk, read when the layer is written.
    Path(PathBuf),
    /// A range of the spool file a tarball's contents were copied to.
    Spool { offset: u64 },
}

/// Orders entries as a depth-first walk with each directory's children sorted bytewise, so a
/// directory always comes before what it holds and the same tree always gives the same stream.
pub fn canonical_order(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Sorts entries canonically and settles hard links: within each set of names for one file, the
/// first name in canonical order carries the data and the others link to it, so a link never
/// comes before its target whatever order the source listed them in.
///
/// `groups` maps a path to a key shared by every name of the same file.
pub fn settle(mut entries: Vec<Entry>, groups: &HashMap<String, u64>) -> Vec<Entry> {
    entries.sort_by(|a, b| canonical_order(&a.path, &b.path));
    let mut holder: HashMap<u64, usize> = HashMap::new();
    for i in 0..entries.len() {
        let Some(&group) = groups.get(&entries[i].path) else {
            continue;
        };
        match holder.get(&group) {
            None => {
                holder.insert(group, i);
            }
            Some(&first) => {
                // This name comes later: make it a link to the first one. If the data was here
                // (the source listed the names in another order), move the file to the first.
                if matches!(entries[i].kind, Kind::File { .. })
                    && matches!(entries[first].kind, Kind::Hardlink { .. })
                {
                    let path = std::mem::take(&mut entries[first].path);
                    entries[first] = Entry {
                        path,
                        ..entries[i].clone()
                    };
                }
                entries[i].kind = Kind::Hardlink {
                    target: entries[first].path.clone(),
                };
            }
        }
    }
    entries
}

/// Cleans a path from a tarball or walk: strips `./` and `/` prefixes and trailing `/`, folds
/// `.` and empty components, and refuses `..` (it could point outside the layer).
pub fn clean_path(raw: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("path {raw:?} climbs out of the layer with '..'")),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::File {
                size: 1,
                data: Data::Spool { offset: 0 },
            },
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: vec![],
        }
    }

    #[test]
    fn orders_depth_first() {
        let mut paths = vec!["a-b", "a/c", "a", "a/b/z", "a/b", "b", "a.txt"];
        paths.sort_by(|a, b| canonical_order(a, b));
        assert_eq!(paths, ["a", "a/b", "a/b/z", "a/c", "a-b", "a.txt", "b"]);
    }

    #[test]
    fn first_name_in_order_holds_the_data() {
        let mut link = file("a/link");
        link.kind = Kind::Hardlink {
            target: "z/data".into(),
        };
        let entries = vec![file("z/data"), link];
        let groups = HashMap::from([("z/data".to_string(), 1), ("a/link".to_string(), 1)]);
        let out = settle(entries, &groups);
        assert_eq!(out[0].path, "a/link");
        assert!(matches!(out[0].kind, Kind::File { .. }));
        assert!(matches!(&out[1].kind, Kind::Hardlink { target } if target == "a/link"));
    }

    #[test]
    fn cleans_paths() {
        assert_eq!(clean_path("./usr/bin/").unwrap(), "usr/bin");
        assert_eq!(clean_path("/etc//passwd").unwrap(), "etc/passwd");
        assert_eq!(clean_path("./").unwrap(), "");
        assert!(clean_path("a/../../etc").is_err());
    }
}
