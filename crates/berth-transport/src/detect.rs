//! Opening an image archive or layout whatever its format, as `docker load` does.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use crate::docker_archive::{DockerArchiveSource, MANIFEST_FILE};
use crate::files::{DirFiles, Files};
use crate::layout::{INDEX_FILE, LayoutSource, OCI_LAYOUT_FILE};
use crate::tar_index::TarIndex;
use crate::{ImageSource, TransportError};

/// What `berth save --format` writes and `berth load` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `docker save` format.
    DockerArchive,
    /// A tar of an OCI layout.
    OciArchive,
    /// An OCI layout directory.
    OciDir,
}

/// Where an archive comes from.
pub enum Input<'a> {
    Path(&'a Path),
    /// Standard input or another stream, copied to `temp_dir` first.
    Stream(Box<dyn Read + 'a>),
}

/// Opens a layout directory, an OCI archive or a Docker archive (plain, gzip or zstd),
/// telling them apart by what they hold: an OCI layout has `oci-layout` and `index.json`
/// (Docker 25+ archives have both, and are read as OCI to keep manifest digests); a Docker
/// archive has `manifest.json`.
pub fn open_any(
    input: Input<'_>,
    temp_dir: &Path,
) -> Result<(Format, Box<dyn ImageSource>), TransportError> {
    let (place, files, is_dir): (String, Arc<dyn Files>, bool) = match input {
        Input::Path(p) if p.is_dir() => (p.display().to_string(), Arc::new(DirFiles::new(p)), true),
        Input::Path(p) => {
            let place = p.display().to_string();
            let index = TarIndex::open(p, temp_dir).map_err(|e| TransportError::io(&place, e))?;
            (place, Arc::new(index), false)
        }
        Input::Stream(r) => {
            let place = "standard input".to_string();
            let index =
                TarIndex::from_reader(r, temp_dir).map_err(|e| TransportError::io(&place, e))?;
            (place, Arc::new(index), false)
        }
    };
    let has = |name: &str| files.size(name).ok().flatten().is_some();
    if has(OCI_LAYOUT_FILE) && has(INDEX_FILE) {
        let (format, prefix) = if is_dir {
            (Format::OciDir, "oci")
        } else {
            (Format::OciArchive, "oci-archive")
        };
        let source = LayoutSource::new(format!("{prefix}:{place}"), files, None)?;
        return Ok((format, Box::new(source)));
    }
    if has(MANIFEST_FILE) {
        let source = DockerArchiveSource::new(format!("docker-archive:{place}"), files, None)?;
        return Ok((Format::DockerArchive, Box::new(source)));
    }
    Err(TransportError::invalid(
        &place,
        "not an image archive: it has neither oci-layout and index.json (OCI) nor manifest.json (Docker)",
    ))
}
