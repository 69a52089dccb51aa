//! How each instruction changes the image config: the frontend's, shared with `berth import`.

pub use berth_dockerfile::config::{
    DEFAULT_PATH, DEFAULT_SHELL, StageConfig, clean_abs, join_workdir,
};
