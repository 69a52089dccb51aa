//! berth's registry for tests (the `registry` feature): started in this process on a free
//! loopback port, random images to push to it, and plain HTTP helpers that assert what the
//! distribution spec says, and a hostile registry that answers as a test scripts it.
//! `use test_support::registry::*` brings them all.

pub mod hostile;
pub mod http;
pub mod images;
pub mod server;

pub use hostile::{Answer, HostileRegistry, Received};
pub use http::*;
pub use images::*;
pub use server::*;
