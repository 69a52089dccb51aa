//! berth lint. (To be written.)
