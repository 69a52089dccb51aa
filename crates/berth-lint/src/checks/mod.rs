//! The rules, by where they come from.

pub(crate) mod berth;
pub(crate) mod buildkit;
pub(crate) mod hadolint;
