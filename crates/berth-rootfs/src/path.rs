//! Paths inside a root, as words: `/`-separated, absolute or relative (both mean from the
//! root), never touching the file system.

/// The components of `path` that mean something (`.` and empty ones dropped), in order.
pub(crate) fn components(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|p| !p.is_empty() && *p != ".")
}

/// Cleans `path` lexically as if it were absolute and returns it relative: `..` stops at the
/// root, so `../x` and `/x` both become `x`.
pub fn clean(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in components(path) {
        if part == ".." {
            out.pop();
        } else {
            out.push(part);
        }
    }
    out.join("/")
}

/// Cleans `path` lexically; `None` when a `..` would climb above where it starts (an archive
/// entry that leaves its destination).
pub fn clean_inside(path: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for part in components(path) {
        if part == ".." {
            out.pop()?;
        } else {
            out.push(part);
        }
    }
    Some(out.join("/"))
}

/// Joins a relative path to a parent relative path (`""` is the root).
pub fn join(parent: &str, name: &str) -> String {
    match (parent.is_empty(), name.is_empty()) {
        (true, _) => name.to_owned(),
        (_, true) => parent.to_owned(),
        _ => format!("{parent}/{name}"),
    }
}

/// Splits a cleaned relative path into (directory, name); the directory is `""` at the root.
pub fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// Whether `name` is one ordinary directory entry name (not `.`, `..`, empty, nor holding `/`
/// or NUL): the only thing a directory handle acts on, so no name can leave its directory.
pub(crate) fn is_entry_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans() {
        assert_eq!(clean("../x"), "x");
        assert_eq!(clean("/a/../../b/./c/"), "b/c");
        assert_eq!(clean("."), "");
        assert_eq!(clean_inside("./usr//bin/").as_deref(), Some("usr/bin"));
        assert_eq!(clean_inside("/etc/passwd").as_deref(), Some("etc/passwd"));
        assert_eq!(clean_inside("a/../b").as_deref(), Some("b"));
        assert_eq!(clean_inside("../x"), None);
        assert_eq!(clean_inside("a/../../x"), None);
        assert_eq!(clean_inside("./").as_deref(), Some(""));
    }

    #[test]
    fn entry_names() {
        assert!(is_entry_name("a.b"));
        for bad in ["", ".", "..", "a/b", "a\0"] {
            assert!(!is_entry_name(bad), "{bad:?}");
        }
    }
}
