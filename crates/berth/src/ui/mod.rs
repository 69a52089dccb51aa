//! How results and progress are shown.

pub mod build_progress;
pub mod format;
pub mod progress;
pub mod table;
