//! Where an image is, as users write it (skopeo's spelling): `docker://REF`, `oci:PATH[:REF]`,
//! `oci-archive:PATH[:REF]`, `docker-archive:PATH[:REF]`, and `local:REF` or a bare `REF` for
//! the berth store.

use std::fmt;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use berth_oci::Reference;
use berth_remote::{RemoteDestination, RemoteSource};
use berth_transport::docker_archive::{self, DockerArchiveDestination};
use berth_transport::layout::{self, OciArchiveDestination, OciDirDestination};
use berth_transport::local::{StoreDestination, StoreSource};
use berth_transport::{ImageDestination, ImageSource, Root};

use crate::Context;

#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    Store(String),
    Registry(Reference),
    OciDir { path: PathBuf, name: Option<String> },
    OciArchive { path: PathBuf, name: Option<String> },
    DockerArchive { path: PathBuf, name: Option<String> },
}

impl Location {
    pub fn parse(s: &str) -> anyhow::Result<Location> {
        let path_and_name = |rest: &str| -> anyhow::Result<(PathBuf, Option<String>)> {
            let (path, name) = match rest.split_once(':') {
                Some((p, n)) => (p, Some(n.to_string()).filter(|n| !n.is_empty())),
                None => (rest, None),
            };
            if path.is_empty() {
                bail!("{s:?} names no path");
            }
            Ok((PathBuf::from(path), name))
        };
        if let Some(r) = s.strip_prefix("docker://") {
            return Ok(Location::Registry(Reference::parse(r)?));
        }
        if let Some(rest) = s.strip_prefix("oci:") {
            let (path, name) = path_and_name(rest)?;
            return Ok(Location::OciDir { path, name });
        }
        if let Some(rest) = s.strip_prefix("oci-archive:") {
            let (path, name) = path_and_name(rest)?;
            return Ok(Location::OciArchive { path, name });
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            let (path, name) = path_and_name(rest)?;
            return Ok(Location::DockerArchive { path, name });
        }
        if let Some(r) = s.strip_prefix("local:") {
            return Ok(Location::Store(r.to_string()));
        }
        if let Some((transport, _)) = s.split_once(':') {
            if matches!(
                transport,
                "docker" | "containers-storage" | "dir" | "docker-daemon" | "ostree" | "sif"
            ) {
                bail!(
                    "{s:?}: berth reads docker://, oci:, oci-archive:, docker-archive: and local: (or a bare name for its store)"
                );
            }
        }
        Ok(Location::Store(s.to_string()))
    }

    pub fn is_registry(&self) -> bool {
        matches!(self, Location::Registry(_))
    }

    /// Opens the location to read images from.
    pub async fn source(&self, ctx: &Context) -> anyhow::Result<Box<dyn ImageSource>> {
        Ok(match self {
            Location::Store(name) => {
                Box::new(StoreSource::new(ctx.store()?, std::slice::from_ref(name))?)
            }
            Location::Registry(r) => {
                let registry = ctx.client()?.registry(r.registry())?;
                Box::new(RemoteSource::open(registry, r).await?)
            }
            Location::OciDir { path, name } => Box::new(layout::open_dir(path, name.clone())?),
            Location::OciArchive { path, name } => {
                Box::new(layout::open_archive(path, name.clone(), &ctx.temp_dir()?)?)
            }
            Location::DockerArchive { path, name } => Box::new(docker_archive::open(
                path,
                name.as_deref(),
                &ctx.temp_dir()?,
            )?),
        })
    }

    /// Opens the location to write images to; `source` names the place data comes from.
    pub fn destination(
        &self,
        ctx: &Context,
        source: &str,
    ) -> anyhow::Result<Box<dyn ImageDestination>> {
        Ok(match self {
            Location::Store(_) => Box::new(StoreDestination::new(ctx.store()?, source)?),
            Location::Registry(r) => Box::new(RemoteDestination::new(
                ctx.client()?.registry(r.registry())?,
                r,
            )),
            Location::OciDir { path, .. } => Box::new(OciDirDestination::new(path)?),
            Location::OciArchive { path, .. } => Box::new(OciArchiveDestination::new(path)?),
            Location::DockerArchive { path, .. } => Box::new(DockerArchiveDestination::new(path)?),
        })
    }

    /// The name this location gives what is copied to it, if it gives one.
    fn name(&self, roots: &[Root]) -> anyhow::Result<Option<Reference>> {
        let raw = match self {
            Location::Store(name) => Some(name.as_str()),
            Location::Registry(r) => return Ok(Some(r.clone())),
            Location::OciDir { name, .. }
            | Location::OciArchive { name, .. }
            | Location::DockerArchive { name, .. } => name.as_deref(),
        };
        let Some(raw) = raw else { return Ok(None) };
        // A bare tag in a layout names the source's repository with that tag.
        if !raw.contains(['/', ':', '@']) {
            if let Some(repo) = roots
                .first()
                .and_then(|r| r.names.first())
                .map(|n| n.repository().clone())
            {
                return Ok(Some(Reference::with_tag(repo, raw)?));
            }
        }
        Ok(Some(
            Reference::parse(raw).with_context(|| format!("naming the copy {raw:?}"))?,
        ))
    }

    /// The roots as they are to be written here: renamed when this location names them.
    pub fn rename(&self, mut roots: Vec<Root>) -> anyhow::Result<Vec<Root>> {
        if let Some(name) = self.name(&roots)? {
            if roots.len() > 1 {
                bail!(
                    "the source holds {} images and {self} names one; pick one image in the source (PATH:NAME)",
                    roots.len()
                );
            }
            if let Some(root) = roots.first_mut() {
                root.names = vec![name];
            }
        }
        Ok(roots)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let named = |f: &mut fmt::Formatter<'_>, t: &str, p: &PathBuf, n: &Option<String>| {
            write!(f, "{t}:{}", p.display())?;
            if let Some(n) = n {
                write!(f, ":{n}")?;
            }
            Ok(())
        };
        match self {
            Location::Store(n) => write!(f, "local:{n}"),
            Location::Registry(r) => write!(f, "docker://{}", r.familiar()),
            Location::OciDir { path, name } => named(f, "oci", path, name),
            Location::OciArchive { path, name } => named(f, "oci-archive", path, name),
            Location::DockerArchive { path, name } => named(f, "docker-archive", path, name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_skopeo_spellings() {
        assert!(
            matches!(Location::parse("docker://localhost:5000/a:1").unwrap(), Location::Registry(r) if r.registry() == "localhost:5000")
        );
        assert_eq!(
            Location::parse("oci:/tmp/l:v1").unwrap(),
            Location::OciDir {
                path: "/tmp/l".into(),
                name: Some("v1".into())
            }
        );
        assert_eq!(
            Location::parse("oci-archive:a.tar").unwrap(),
            Location::OciArchive {
                path: "a.tar".into(),
                name: None
            }
        );
        assert!(
            matches!(Location::parse("docker-archive:x.tar:busybox:1").unwrap(), Location::DockerArchive { name: Some(n), .. } if n == "busybox:1")
        );
        assert_eq!(
            Location::parse("local:busybox").unwrap(),
            Location::Store("busybox".into())
        );
        assert_eq!(
            Location::parse("busybox:1").unwrap(),
            Location::Store("busybox:1".into())
        );
        assert!(Location::parse("containers-storage:x").is_err());
        assert!(Location::parse("docker://UPPER/X").is_err());
        assert!(Location::parse("oci:").is_err());
    }
}
