//! berth's image model: references, digests, media types, descriptors, manifests, image
//! configs and platforms, as the OCI image spec and Docker's formats define them.
//!
//! This crate is pure: it parses, validates and serialises, and never touches a file or a socket.
//! Its codecs work on any `std::io` reader or writer they are given: the digest-verifying
//! reader, the hashing reader and writer, and the compressions a layer may have.

pub mod compression;
pub mod config;
pub mod descriptor;
pub mod digest;
pub mod hashing;
pub mod manifest;
pub mod media_type;
pub mod platform;
pub mod reference;
pub mod verify;

pub use compression::{Compression, Unsupported};
pub use config::{ConfigTooLarge, ContainerConfig, History, ImageConfig, MAX_CONFIG_SIZE};
pub use descriptor::Descriptor;
pub use digest::{Algorithm, Digest, DigestError, Hasher};
pub use hashing::{HashingReader, HashingWriter};
pub use manifest::{ImageIndex, ImageManifest, Manifest, ManifestError};
pub use platform::Platform;
pub use reference::{PathError, Reference, ReferenceError, Repository};
pub use verify::{Mismatch, Verifier, VerifyingReader};
