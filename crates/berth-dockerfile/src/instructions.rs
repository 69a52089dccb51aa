//! Typed instructions: each instruction's flags and arguments checked. (Being written.)
