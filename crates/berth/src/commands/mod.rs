pub mod build;
pub mod build_attest;
pub mod db;
pub mod gc;
pub mod history;
pub mod images;
pub mod import;
pub mod inspect;
pub mod key;
pub mod lint;
pub mod load;
pub mod login;
pub mod policy;
pub mod registry;
pub mod remote;
pub mod rmi;
pub mod save;
pub mod sbom;
pub mod scan;
pub mod sign;
pub mod tag;
pub mod transfer;
pub mod verify;

use anyhow::Context as _;
use berth_oci::Platform;

/// Parses an optional `--platform`.
pub fn platform(arg: Option<&str>) -> anyhow::Result<Option<Platform>> {
    arg.map(|p| Platform::parse(p).context("--platform"))
        .transpose()
}
