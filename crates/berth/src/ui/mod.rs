//! How results and progress are shown.

pub mod format;
pub mod progress;
pub mod table;
