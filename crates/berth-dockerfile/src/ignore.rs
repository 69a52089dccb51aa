//! `.dockerignore`, matched as moby's pattern matcher does. (Being written.)
