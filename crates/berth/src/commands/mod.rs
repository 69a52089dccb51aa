pub mod build;
pub mod gc;
pub mod history;
pub mod images;
pub mod import;
pub mod inspect;
pub mod key;
pub mod lint;
pub mod load;
pub mod login;
pub mod registry;
pub mod remote;
pub mod rmi;
pub mod save;
pub mod sbom;
pub mod tag;
pub mod transfer;

use anyhow::Context as _;
use berth_oci::Platform;

/// Parses an optional `--platform`.
pub fn platform(arg: Option<&str>) -> anyhow::Result<Option<Platform>> {
    arg.map(|p| Platform::parse(p).context("--platform"))
        .transpose()
}
