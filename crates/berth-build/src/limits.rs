//! The process limits a build needs raised.

use rustix::process::{Resource, getrlimit, setrlimit};

/// Raises this process's soft limit on open files to its hard limit, as the Go runtime does
/// for every Go program (Docker and BuildKit included).
///
/// Tree walks hold one descriptor per level of the directory they are in (they work by
/// descriptors, so no path longer than a name reaches the kernel): a 2,000-level tree, which
/// BuildKit builds, needs a few thousand at once, above the 1,024 many systems start
/// processes with. Nothing is lost if the limit can't be raised: a walk that then runs out
/// fails with "too many open files" naming its directory.
pub fn raise_open_files() {
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!(error = %e, "could not raise the open-file limit");
        }
    }
}
