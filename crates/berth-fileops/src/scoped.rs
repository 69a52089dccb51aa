//! Paths relative to a root, as the copy sides spell them: cleaned lexically as if the root
//! were `/` (so `..` never climbs above it) and joined with `/`. Resolving them (symlinks
//! followed inside the root) is berth-rootfs' job. Paths are bytes, as names are on Linux.

use std::ffi::{OsStr, OsString};

/// Cleans a path lexically as if it were absolute and returns it relative: `../x` and `/x` both
/// become `x`. This is how BuildKit keeps `COPY ../x` inside the context.
pub fn clean_rel(path: impl AsRef<OsStr>) -> OsString {
    berth_rootfs::path::clean(path)
}

/// Joins a relative `/`-separated path to a parent relative path.
pub(crate) fn join_rel(parent: impl AsRef<OsStr>, name: impl AsRef<OsStr>) -> OsString {
    berth_rootfs::path::join(parent, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_rel_stays_inside() {
        assert_eq!(clean_rel("../x"), "x");
        assert_eq!(clean_rel("/a/../../b/./c/"), "b/c");
        assert_eq!(clean_rel("."), "");
    }
}
