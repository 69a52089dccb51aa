//! One root-confined file system: every file operation berth does inside a directory it
//! does not trust (a layer being applied, an image's root file system, a build context, a
//! container's root) goes through a [`Root`], so that nothing written in that directory — a
//! `..` entry, a symlink to `/etc`, a symlink planted by an earlier tar entry, or one swapped
//! in while berth works — can make berth read or write outside it.
//!
//! Why one crate: berth had three ways of doing this (openat2 in the sandbox, a descriptor
//! walk in layer application, path strings in COPY) and two tar extractors; a fix to one
//! never reached the others. Here a path is resolved in one place, by one of two strategies
//! chosen once per process ([`Resolver::detect`]): the kernel's `openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS)` where it exists, else a walk from the root's descriptor one
//! component at a time (`O_PATH|O_NOFOLLOW`, symlinks read from the opened link and
//! followed by hand, 40 at most, `..` clamped at the root). Both end on a directory
//! descriptor and one entry name ([`Dir`]); every operation then acts on that name with the
//! `*at` call that does not follow it, so what was checked is what is touched. Creating
//! missing directories always walks (`openat2` cannot create them). A root can also refuse
//! symlinks on the way altogether ([`Links::Refuse`]), as layer application does. Device
//! nodes are never created ([`Error::DeviceRefused`]; overlayfs whiteouts, inert 0:0
//! character devices, have their own call). [`extract`] is the one tar extractor, with
//! hooks for what differs between its users (whiteouts, owners, which links are allowed).

mod dir;
mod error;
pub mod extract;
pub mod path;
mod reader;
mod resolver;
mod root;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

pub use dir::{Dir, Node, Time, xattrs_of};
pub use error::{DeviceKind, Error, Result};
pub use reader::Reader;
pub use resolver::{RESOLVE_ENV, Resolver};
pub use root::{Last, Links, Located, MAX_LINKS, NewDir, Resolved, Root, Until};
pub use rustix::fs::OFlags;
