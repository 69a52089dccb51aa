//! What the caller asks of a build.

use std::collections::BTreeMap;

use berth_fileops::Context;
use berth_oci::Platform;
use berth_store::ResolvedImage;

use crate::error::BaseError;

/// A build request, everything decided (the CLI reads flags and files into it).
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The Dockerfile's name for messages (`Dockerfile`, `app/Dockerfile.prod`, `-`).
    pub dockerfile_name: String,
    /// Its text.
    pub dockerfile: String,
    /// The build context, opened once by the caller with the `.dockerignore` that applies
    /// (see [`Context::open_for_dockerfile`]).
    pub context: Context,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    /// The platform to build for; the host's when absent.
    pub platform: Option<Platform>,
    /// `--no-cache`: run every step (results are still cached for later builds).
    pub no_cache: bool,
    /// `--pull`: ask the registry for base images even if the store has them.
    pub pull: bool,
    /// `--label`: added to the final image's config.
    pub labels: BTreeMap<String, String>,
    /// `--secret`: values by id. Never written into a layer, the config or the history.
    pub secrets: BTreeMap<String, Secret>,
    /// `--network`: the default for `RUN` steps that don't say.
    pub network: NetworkDefault,
    /// `SOURCE_DATE_EPOCH`: clamps file times and sets every timestamp, for reproducible images.
    pub source_date_epoch: Option<i64>,
    /// zstd instead of gzip for new layers.
    pub zstd: bool,
}

/// A secret's value. `Debug` never shows it.
#[derive(Clone, Default)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// `--network`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NetworkDefault {
    /// A network namespace of each RUN's own with outbound access (through pasta), as
    /// `docker build` gives: the host's loopback services and abstract sockets are out of
    /// reach.
    #[default]
    Default,
    /// Loopback only.
    None,
    /// The host's network, on request (and only then may a `RUN --network=host` have it).
    Host,
}

/// Where base images come from. The CLI implements it: the store first, else a pull.
pub trait Bases: Sync {
    /// The image `reference` names for `platform`, present in the store (with every blob)
    /// once this returns. `pull` asks for the registry's current image even if the store has
    /// one.
    fn resolve(
        &self,
        reference: &str,
        platform: &Platform,
        pull: bool,
    ) -> Result<ResolvedImage, BaseError>;
}

impl BuildRequest {
    /// A request to build `dockerfile` (named `dockerfile_name` in messages) in `context`,
    /// with every option at its default.
    pub fn new(dockerfile_name: &str, dockerfile: &str, context: Context) -> BuildRequest {
        BuildRequest {
            dockerfile_name: dockerfile_name.to_string(),
            dockerfile: dockerfile.to_string(),
            context,
            build_args: BTreeMap::new(),
            target: None,
            platform: None,
            no_cache: false,
            pull: false,
            labels: BTreeMap::new(),
            secrets: BTreeMap::new(),
            network: NetworkDefault::default(),
            source_date_epoch: None,
            zstd: false,
        }
    }
}
