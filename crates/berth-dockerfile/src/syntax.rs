//! The parser: text to [`crate::ast::Dockerfile`]. (To be written.)
