//! The places an image lives, behind one read interface ([`ImageSource`]) and one write
//! interface ([`ImageDestination`]), and [`copy`] between any two of them.
//!
//! As in go-containerregistry, every place (the berth store, an OCI layout directory, an OCI
//! archive, a Docker archive, and later a registry) only has to say what images it holds, hand
//! out manifests and blobs by digest, and take them in. `save`, `load`, `push`, `pull` and `copy`
//! are all the same operation: read from one place, write to another, byte for byte, checking
//! every digest on the way, never holding a layer in memory.

mod copy;
mod detect;
pub mod docker_archive;
mod error;
mod files;
pub mod layout;
pub mod local;
mod locations;
pub mod progress;
mod stream;
mod tar_index;
mod tar_out;

use async_trait::async_trait;
use berth_oci::{Descriptor, Reference};
use bytes::Bytes;

pub use copy::{CopyOptions, Platforms, copy};
pub use detect::{Format, Input, open_any};
pub use error::TransportError;
pub use progress::{Event, NoProgress, Progress};
pub use stream::BlobStream;

/// An image or index a place holds, and the names it goes by there.
#[derive(Debug, Clone, PartialEq)]
pub struct Root {
    pub descriptor: Descriptor,
    pub names: Vec<Reference>,
}

/// Somewhere images can be read from.
#[async_trait]
pub trait ImageSource: Send + Sync {
    /// The place, as the user would write it (`oci:/tmp/layout`), for messages.
    fn describe(&self) -> String;

    /// The images to read: the one the user named, or everything the place holds.
    async fn roots(&self) -> Result<Vec<Root>, TransportError>;

    /// A manifest's exact bytes, checked against the descriptor.
    async fn manifest(&self, desc: &Descriptor) -> Result<Bytes, TransportError>;

    /// A blob's bytes as a stream that fails at its end if they don't match the descriptor.
    async fn blob(&self, desc: &Descriptor) -> Result<BlobStream, TransportError>;

    /// Where in a registry the images come from, if they do: a destination in the same
    /// registry can mount blobs from there instead of copying them.
    fn origin(&self) -> Option<Origin> {
        None
    }
}

/// A repository in a registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The registry as the user names it (`host[:port]`), normalised: lower case, and Docker
    /// Hub's other names as `docker.io`.
    pub registry: String,
    pub repository: String,
}

impl Origin {
    pub fn new(registry: &str, repository: &str) -> Origin {
        let registry = registry.to_ascii_lowercase();
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => berth_oci::reference::DOCKER_HUB.into(),
            _ => registry,
        };
        Origin {
            registry,
            repository: repository.to_string(),
        }
    }
}

/// What a registry did with a request to mount a blob from another repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mount {
    /// The blob is linked into the destination: nothing to upload.
    Mounted,
    /// The registry says the other repository does not hold the blob (it started an upload
    /// instead, or answered 404).
    Missing,
    /// Not done, for a reason that says nothing about the other repository: no right to read
    /// it, or a registry that doesn't mount.
    Declined,
}

/// What a destination can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Whether it can hold image indexes; if not, one platform's image is written instead.
    pub indexes: bool,
    /// Whether blobs must arrive one at a time, in the manifest's order: an archive is one
    /// stream, and writing members in the order copies happen to finish would make the same
    /// image give different archive bytes from run to run.
    pub ordered: bool,
}

/// Somewhere images can be written to. Nothing becomes visible (tagged, listed in an index,
/// renamed into place) until [`ImageDestination::commit`]; a destination dropped before that
/// leaves nothing a reader could mistake for an image.
#[async_trait]
pub trait ImageDestination: Send + Sync {
    fn describe(&self) -> String;

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            indexes: true,
            ordered: false,
        }
    }

    /// Where in a registry the images go, if they do: blobs other repositories of that
    /// registry hold can be mounted instead of uploaded.
    fn origin(&self) -> Option<Origin> {
        None
    }

    /// Whether the blob is already there, so the copy can skip it.
    async fn has_blob(&self, desc: &Descriptor) -> Result<bool, TransportError>;

    /// Links a blob another repository of the same registry has, without moving its bytes.
    async fn mount_blob(
        &self,
        _desc: &Descriptor,
        _from: &Origin,
    ) -> Result<Mount, TransportError> {
        Ok(Mount::Declined)
    }

    /// Writes a blob, checking it against the descriptor as it arrives; on a mismatch nothing
    /// is kept and the error says so.
    async fn put_blob(&self, desc: &Descriptor, data: BlobStream) -> Result<(), TransportError>;

    /// Writes a manifest. Everything it references has been put before.
    async fn put_manifest(&self, desc: &Descriptor, bytes: Bytes) -> Result<(), TransportError>;

    /// Makes the images visible under their names, all at once where the place allows.
    async fn commit(&self, roots: &[Root]) -> Result<(), TransportError>;
}

/// Checks bytes read whole against their descriptor.
pub(crate) fn check_bytes(
    place: &str,
    desc: &Descriptor,
    bytes: &[u8],
) -> Result<(), TransportError> {
    let mut v = berth_oci::Verifier::new(&desc.digest, Some(desc.size));
    v.update(bytes)
        .and_then(|()| v.finish())
        .map_err(|mismatch| TransportError::Damaged {
            place: place.to_string(),
            digest: desc.digest.clone(),
            mismatch,
        })
}

#[cfg(test)]
mod tests {
    use super::Origin;

    #[test]
    fn an_origin_names_its_registry_one_way() {
        for host in ["Localhost:5000", "localhost:5000"] {
            assert_eq!(Origin::new(host, "team/a").registry, "localhost:5000");
        }
        for host in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
            assert_eq!(Origin::new(host, "library/x").registry, "docker.io");
        }
        assert_eq!(Origin::new("a.example:443", "x").registry, "a.example:443");
    }
}
