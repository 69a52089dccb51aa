//! What a build reports as it goes. The library never prints: the CLI renders these.

use std::time::Duration;

/// One event of a build. `step` numbers vertices from 1 in the order they start, as
/// BuildKit's `#N` does.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A step begins: `name` reads like BuildKit's (`[build 2/5] RUN make`).
    Started { step: usize, name: String },
    /// Its result came from the cache.
    Cached { step: usize },
    /// Output of a running command, as it comes (not split into lines).
    Output { step: usize, bytes: Vec<u8> },
    /// It finished.
    Done { step: usize, elapsed: Duration },
    /// It failed (the build error says why).
    Failed { step: usize, elapsed: Duration },
    /// Something the user should know that does not stop the build.
    Warning { message: String },
}

/// Where events go. `Sync` because independent stages report from their own threads.
pub trait Events: Sync {
    fn emit(&self, event: Event);
}

impl<F: Fn(Event) + Sync> Events for F {
    fn emit(&self, event: Event) {
        self(event)
    }
}
