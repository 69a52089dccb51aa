//! An image's layers as one [`Filesystem`], merged as a container runtime would stack them
//! (upper layers win, `.wh.NAME` deletes NAME below, `DIR/.wh..wh..opq` hides what lower
//! layers had in DIR), without writing a byte to disk.
//!
//! Each layer is streamed once, on as many threads as there are cores: every entry's name and
//! kind is noted (a few dozen bytes each, so that symlinks resolve and deletions apply), and
//! the bytes of the files the catalogers asked for ([`Wanted`]) are kept, each bounded by
//! [`MAX_FILE`]; of an executable, only what the cataloger's extractor returned, the
//! executable itself being held for that call alone. The layers are then merged in order, keeping every version of a wanted
//! file, so a cataloger can tell which layer added a package. A wanted path that only
//! resolves through a symlink to a file nobody asked for (`etc/os-release ->
//! ../usr/lib/os-release` when only the first was wanted) is read by one more pass over the
//! single layer that wrote the target. With a [`LayerCache`] ([`ImageFs::read_cached`]), a
//! layer scanned before is taken from there, its blob only read through its digest check.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufReader, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::paths::{clean, clean_inside, join, split};
use berth_oci::compression::read_head;
use berth_oci::{Compression, Digest};
use berth_rootfs::MAX_LINKS;

use crate::error::{CatalogError, Result};
use crate::fs::{
    ELF_MAGIC, Extract, File, Filesystem, MAX_EXECUTABLE, MAX_FILE, Version, Wanted, extractors,
};
use crate::layer_cache::LayerCache;
use crate::model::LayerRef;

/// Prefix of a whiteout's name in a layer.
const WHITEOUT_PREFIX: &str = ".wh.";
/// The marker that makes its directory opaque.
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// Opens a layer blob's bytes (compressed or not) from the start.
pub type OpenLayer<'a> = Box<dyn Fn() -> io::Result<Box<dyn Read + Send + 'a>> + Send + Sync + 'a>;

/// One layer of an image, bottom first: its diff ID and a way to read its blob.
pub struct Layer<'a> {
    pub diff_id: Digest,
    /// The digest of the blob `open` reads, when the caller checks it: what makes the layer's
    /// scan fit to be cached.
    blob: Option<Digest>,
    /// Whether the blob lives where berth checked it against its digest as it was written
    /// (berth's own store), so that a cached scan of it is trusted without reading it again.
    checked_at_rest: bool,
    open: OpenLayer<'a>,
}

impl<'a> Layer<'a> {
    /// A layer whose blob `open` reads (gzip, zstd or plain; told from its first bytes). It is
    /// called once, and once more only if a symlink leads to a file no cataloger declared.
    pub fn new<R, F>(diff_id: Digest, open: F) -> Layer<'a>
    where
        R: Read + Send + 'a,
        F: Fn() -> io::Result<R> + Send + Sync + 'a,
    {
        Layer {
            diff_id,
            blob: None,
            checked_at_rest: false,
            open: Box::new(move || Ok(Box::new(open()?) as Box<dyn Read + Send + 'a>)),
        }
    }

    /// The same layer, its blob named by `digest`, which `open`'s reader checks the bytes
    /// against (failing the read, or telling the caller, when they differ). Only such a layer's
    /// scan is cached ([`ImageFs::read_cached`]); a cached layer's blob is still read through
    /// once, for that check, but not decompressed or parsed.
    pub fn with_blob(mut self, digest: Digest) -> Layer<'a> {
        self.blob = Some(digest);
        self
    }

    /// The same layer, its blob in berth's own store, which checked it against its digest as
    /// it was written (`berth fsck` checks it again). A cached scan of such a blob is trusted
    /// without reading the blob: the cache lies under the same root as the store, so whoever
    /// could alter the blob could alter the cached scan too, and reading it again would guard
    /// against nothing the store does not. Blobs of other places (an OCI layout, an archive, a
    /// registry) are read through their check on every hit.
    pub fn checked_at_rest(mut self) -> Layer<'a> {
        self.checked_at_rest = true;
        self
    }
}

/// What one path is in the merged image.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Dir,
    /// A regular file; its bytes when they were wanted.
    File(Option<Arc<[u8]>>),
    /// A file kept as a [`Wanted::Reduced`] extractor reduced it.
    Reduced(Arc<[u8]>),
    /// An executable, with what each extractor (by its index in the wanted list) kept of it.
    Executable(Vec<(usize, Arc<[u8]>)>),
    Symlink(String),
    /// A hard link to `target`, an earlier entry of the same layer.
    Hardlink(String),
    /// A device, fifo or socket: nothing a cataloger reads.
    Other,
}

#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    layer: usize,
}

/// What one entry of a layer does to the merged image.
#[derive(Debug, PartialEq)]
pub(crate) enum Change {
    Put(String, Kind),
    /// `.wh.NAME`: NAME and everything under it, from lower layers, is gone.
    Whiteout(String),
    /// `DIR/.wh..wh..opq`: what lower layers had in DIR is gone.
    Opaque(String),
    /// A file a [`Wanted::Matching`] test accepted, left out: why.
    Skipped(String),
}

/// Which entries of a layer a scan keeps.
enum Select<'w> {
    /// What the catalogers declared.
    Wanted(&'w [Wanted]),
    /// This one path, read again.
    Path(&'w str),
}

/// How a file asked for by name is kept.
#[derive(Clone, Copy)]
enum Keep {
    /// A package database: whole, refused by name past the limit.
    Whole,
    /// A file found by a test on its name: whole, left out with a warning past the limit.
    Found,
    /// As `Found`, then reduced by the extractor.
    Reduced(Extract),
}

impl Select<'_> {
    fn keep(&self, path: &str) -> Option<Keep> {
        match self {
            Select::Path(p) => (path == *p).then_some(Keep::Whole),
            Select::Wanted(wanted) => {
                let hits: Vec<&Wanted> = wanted.iter().filter(|w| w.matches(path)).collect();
                // Whole wins over reduced: a cataloger that reads the whole file gets it.
                if hits.iter().any(|w| !w.is_found_anywhere()) {
                    Some(Keep::Whole)
                } else if hits.iter().any(|w| matches!(w, Wanted::Matching(_))) {
                    Some(Keep::Found)
                } else {
                    hits.iter().find_map(|w| match w {
                        Wanted::Reduced(_, reduce) => Some(Keep::Reduced(*reduce)),
                        _ => None,
                    })
                }
            }
        }
    }

    /// The extractors of executables, with their index in the wanted list.
    fn extractors(&self) -> Vec<(usize, Extract)> {
        match self {
            Select::Path(_) => Vec::new(),
            Select::Wanted(wanted) => extractors(wanted),
        }
    }
}

/// An image's layers, merged, with the wanted files' bytes in memory.
pub struct ImageFs<'a> {
    layers: Vec<Layer<'a>>,
    nodes: BTreeMap<String, Node>,
    /// Every version of each wanted file, oldest first.
    history: HashMap<String, Vec<Version>>,
    wanted: Vec<Wanted>,
    /// Files a test on their name accepted but left out, and why.
    skipped: Vec<String>,
    limit: u64,
}

impl<'a> ImageFs<'a> {
    /// Reads `layers` (bottom first), keeping the bytes of the files `wanted` names.
    pub fn read(layers: Vec<Layer<'a>>, wanted: &[Wanted]) -> Result<ImageFs<'a>> {
        ImageFs::read_with_limit(layers, wanted, MAX_FILE)
    }

    /// As [`ImageFs::read`], taking each layer's scan from `cache` when it holds one and
    /// staging the scans of the others there. The caller commits them
    /// ([`LayerCache::commit`]) once every blob read has passed its digest check.
    pub fn read_cached(
        layers: Vec<Layer<'a>>,
        wanted: &[Wanted],
        cache: &LayerCache,
    ) -> Result<ImageFs<'a>> {
        ImageFs::read_inner(layers, wanted, MAX_FILE, Some(cache))
    }

    /// As [`ImageFs::read`], keeping at most `limit` bytes of one file.
    pub fn read_with_limit(
        layers: Vec<Layer<'a>>,
        wanted: &[Wanted],
        limit: u64,
    ) -> Result<ImageFs<'a>> {
        ImageFs::read_inner(layers, wanted, limit, None)
    }

    fn read_inner(
        layers: Vec<Layer<'a>>,
        wanted: &[Wanted],
        limit: u64,
        cache: Option<&LayerCache>,
    ) -> Result<ImageFs<'a>> {
        let mut fs = ImageFs {
            layers,
            nodes: BTreeMap::new(),
            history: HashMap::new(),
            wanted: wanted.to_vec(),
            skipped: Vec::new(),
            limit,
        };
        let scans = fs.scan_all(wanted, cache)?;
        for (index, changes) in scans.into_iter().enumerate() {
            for change in changes {
                fs.apply(index, change);
            }
        }
        Ok(fs)
    }

    fn layer_ref(&self, index: usize) -> LayerRef {
        LayerRef {
            index,
            diff_id: self.layers[index].diff_id.clone(),
        }
    }

    /// Scans every layer, on up to one thread per core; the changes come back in layer order.
    fn scan_all(&self, wanted: &[Wanted], cache: Option<&LayerCache>) -> Result<Vec<Vec<Change>>> {
        let count = self.layers.len();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(count);
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<Vec<Change>>>>> =
            Mutex::new((0..count).map(|_| None).collect());
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= count {
                            break;
                        }
                        let scanned = self.scan_or_recall(index, wanted, cache);
                        let failed = scanned.is_err();
                        results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(scanned);
                        if failed {
                            // Later layers need not be read once one fails.
                            next.store(count, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        // The first failure in layer order is the one reported; layers skipped after it are
        // `None` and never reached.
        let mut scans = Vec::with_capacity(count);
        for result in results {
            match result {
                Some(Ok(changes)) => scans.push(changes),
                Some(Err(e)) => return Err(e),
                None => unreachable!("every layer before a failure is scanned"),
            }
        }
        Ok(scans)
    }

    /// Layer `index`'s scan: from the cache when it holds it, else read (and staged there).
    fn scan_or_recall(
        &self,
        index: usize,
        wanted: &[Wanted],
        cache: Option<&LayerCache>,
    ) -> Result<Vec<Change>> {
        let layer = &self.layers[index];
        let key = cache
            .zip(layer.blob.as_ref())
            .map(|(cache, blob)| (cache, cache.key(&layer.diff_id, blob, wanted, self.limit)));
        if let Some(changes) = key.as_ref().and_then(|(cache, key)| cache.get(key)) {
            if layer.checked_at_rest {
                return Ok(changes);
            }
            // Anywhere else the blob is still read to its end, neither decompressed nor parsed: its reader
            // checks the digest, so a blob altered since its scan was kept fails as it would
            // uncached, instead of being described by what it used to hold.
            let io_err = |source| CatalogError::Layer {
                layer: self.layer_ref(index),
                source,
            };
            let mut blob = (layer.open)().map_err(io_err)?;
            io::copy(&mut blob, &mut io::sink()).map_err(io_err)?;
            return Ok(changes);
        }
        let changes = self.scan(index, &Select::Wanted(wanted))?;
        if let Some((cache, key)) = key {
            cache.stage(key, &changes);
        }
        Ok(changes)
    }

    /// Streams layer `index` once: every entry's change to the image, with the bytes of the
    /// files `select` keeps.
    fn scan(&self, index: usize, select: &Select) -> Result<Vec<Change>> {
        let extractors = select.extractors();
        let layer = self.layer_ref(index);
        let io_err = |source| CatalogError::Layer {
            layer: layer.clone(),
            source,
        };
        let mut blob = (self.layers[index].open)().map_err(io_err)?;
        let head = read_head(&mut blob).map_err(io_err)?;
        let compression =
            Compression::sniff(&head).map_err(|compression| CatalogError::Compression {
                layer: layer.clone(),
                compression,
            })?;
        let input = BufReader::with_capacity(256 * 1024, io::Cursor::new(head).chain(blob));
        // Decompressed into large buffers: tar reads headers 512 bytes and skipped files' data
        // 8 KiB at a time, and each call into the decoder costs a window update.
        let decoded =
            BufReader::with_capacity(256 * 1024, compression.decoder(input).map_err(io_err)?);
        let mut archive = tar::Archive::new(decoded);
        let mut changes = Vec::new();
        for entry in archive.entries().map_err(io_err)? {
            let mut entry = entry.map_err(io_err)?;
            // A name that is not UTF-8 is no path a cataloger reads, nor a parent of one.
            let Ok(raw) = std::str::from_utf8(&entry.path_bytes()).map(str::to_owned) else {
                continue;
            };
            let path = clean_inside(&raw).ok_or_else(|| CatalogError::Escapes {
                layer: layer.clone(),
                entry: raw.clone(),
            })?;
            if path.is_empty() {
                continue; // the root itself
            }
            let (dir, name) = split(&path);
            if name == OPAQUE_MARKER {
                changes.push(Change::Opaque(dir.to_owned()));
                continue;
            }
            if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
                // `.wh..wh.*` other than the opaque marker is AUFS bookkeeping.
                if !hidden.starts_with(WHITEOUT_PREFIX) && !hidden.is_empty() {
                    changes.push(Change::Whiteout(join(dir, hidden)));
                }
                continue;
            }
            use tar::EntryType as T;
            let kind = match entry.header().entry_type() {
                T::Directory => Kind::Dir,
                T::Regular | T::Continuous | T::GNUSparse => match select.keep(&path) {
                    Some(Keep::Found | Keep::Reduced(_)) if entry.size() > self.limit => {
                        changes.push(Change::Skipped(format!(
                            "/{path} (in {layer}): {} bytes, more than the {} bytes berth reads of one file; left out",
                            entry.size(),
                            self.limit
                        )));
                        Kind::File(None)
                    }
                    Some(Keep::Reduced(reduce)) => {
                        match reduce(&self.read_entry(&mut entry, &path, &layer)?) {
                            Some(kept) => Kind::Reduced(Arc::from(kept)),
                            None => Kind::File(None),
                        }
                    }
                    Some(_) => Kind::File(Some(self.read_entry(&mut entry, &path, &layer)?)),
                    None if extractors.is_empty() => Kind::File(None),
                    None => extract(&mut entry, &extractors).map_err(io_err)?,
                },
                T::Symlink => match entry.link_name_bytes() {
                    Some(target) => Kind::Symlink(String::from_utf8_lossy(&target).into_owned()),
                    None => Kind::Other,
                },
                T::Link => match entry.link_name_bytes() {
                    // A hard link's target is a path in the layer, like an entry's name.
                    Some(target) => {
                        let target = String::from_utf8_lossy(&target).into_owned();
                        let clean = clean_inside(&target).ok_or_else(|| CatalogError::Escapes {
                            layer: layer.clone(),
                            entry: format!("{raw} (a hard link to {target})"),
                        })?;
                        match kept_earlier(&changes, &clean) {
                            Some(bytes) if select.keep(&path).is_some() => Kind::File(Some(bytes)),
                            _ => Kind::Hardlink(clean),
                        }
                    }
                    None => Kind::Other,
                },
                _ => Kind::Other,
            };
            changes.push(Change::Put(path, kind));
        }
        Ok(changes)
    }

    /// The bytes of the current entry, refused past the limit before any is read.
    fn read_entry<R: Read>(
        &self,
        entry: &mut tar::Entry<R>,
        path: &str,
        layer: &LayerRef,
    ) -> Result<Arc<[u8]>> {
        let too_large = |size| CatalogError::TooLarge {
            path: path.to_owned(),
            layer: Some(layer.clone()),
            size,
            limit: self.limit,
        };
        let size = entry.size();
        if size > self.limit {
            return Err(too_large(size));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        // A sparse entry expands to more than its header's size: bounded all the same.
        entry
            .take(self.limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| CatalogError::Layer {
                layer: layer.clone(),
                source,
            })?;
        if bytes.len() as u64 > self.limit {
            return Err(too_large(bytes.len() as u64));
        }
        Ok(Arc::from(bytes))
    }

    /// Applies one change of layer `index` to the merged image.
    fn apply(&mut self, index: usize, change: Change) {
        match change {
            Change::Whiteout(path) => {
                self.remove_below(index, &path, true);
            }
            Change::Opaque(dir) => {
                self.remove_below(index, &dir, false);
            }
            Change::Skipped(why) => self.skipped.push(why),
            Change::Put(path, kind) => {
                let replaces_dir = matches!(
                    self.nodes.get(&path),
                    Some(Node {
                        kind: Kind::Dir,
                        ..
                    })
                );
                if replaces_dir && !matches!(kind, Kind::Dir) {
                    // A non-directory over a directory hides all that was in it.
                    self.remove_below(index, &path, false);
                }
                let bytes = match &kind {
                    Kind::File(Some(bytes)) | Kind::Reduced(bytes) => Some(bytes.clone()),
                    _ => None,
                };
                if bytes.is_some() || self.history.contains_key(&path) {
                    let layer = self.layer_ref(index);
                    self.history
                        .entry(path.clone())
                        .or_default()
                        .push(Version { layer, bytes });
                }
                self.nodes.insert(path, Node { kind, layer: index });
            }
        }
    }

    /// Removes what layers below `index` had under `path` (and `path` itself when `itself`),
    /// noting the deletion of wanted files.
    fn remove_below(&mut self, index: usize, path: &str, itself: bool) {
        let prefix = format!("{path}/");
        let doomed: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .chain(self.nodes.get_key_value(path).filter(|_| itself))
            .filter(|(_, node)| node.layer < index)
            .map(|(p, _)| p.clone())
            .collect();
        let layer = self.layer_ref(index);
        for p in doomed {
            self.nodes.remove(&p);
            if let Some(versions) = self.history.get_mut(&p) {
                versions.push(Version {
                    layer: layer.clone(),
                    bytes: None,
                });
            }
        }
    }

    /// Where `path` lands with every symlink on the way followed inside the image, and what
    /// is there (`None` when nothing is).
    fn resolve(&self, path: &str) -> Result<Option<(String, &Node)>> {
        let mut path = clean(path);
        let mut links = 0;
        'again: loop {
            let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
            let mut here = String::new();
            for (i, part) in parts.iter().enumerate() {
                here = join(&here, part);
                let Some(node) = self.nodes.get(&here) else {
                    // No entry of its own: a directory only if something lies under it.
                    if self.has_children(&here) {
                        continue;
                    }
                    return Ok(None);
                };
                let last = i + 1 == parts.len();
                match &node.kind {
                    Kind::Symlink(target) => {
                        links += 1;
                        if links > MAX_LINKS {
                            return Err(CatalogError::TooManyLinks { path });
                        }
                        // An absolute target starts again at the image's root; `..` stops there.
                        let base = if target.starts_with('/') {
                            ""
                        } else {
                            split(&here).0
                        };
                        let rest = parts[i + 1..].join("/");
                        path = clean(&join(&join(base, target), &rest));
                        continue 'again;
                    }
                    Kind::Dir => {}
                    _ if last => return Ok(Some((here, node))),
                    _ => return Ok(None), // a file in the middle of a path
                }
            }
            return Ok(self.nodes.get(&path).map(|node| (path.clone(), node)));
        }
    }

    fn has_children(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.nodes
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(p, _)| p.starts_with(&prefix))
    }

    /// The bytes of `path` as layer `index` wrote them, read again from that layer.
    fn reread(&self, index: usize, path: &str) -> Result<Option<Arc<[u8]>>> {
        let changes = self.scan(index, &Select::Path(path))?;
        Ok(changes.into_iter().rev().find_map(|change| match change {
            Change::Put(p, Kind::File(bytes)) if p == path => bytes,
            _ => None,
        }))
    }

    /// The bytes of a regular file or hard link node at `path`.
    fn bytes_of(&self, path: &str, node: &Node) -> Result<Option<Arc<[u8]>>> {
        match &node.kind {
            Kind::File(Some(bytes)) => Ok(Some(bytes.clone())),
            Kind::File(None) | Kind::Reduced(_) | Kind::Executable(_) => {
                self.reread(node.layer, path)
            }
            // A hard link shares the bytes its target had in the same layer.
            Kind::Hardlink(target) => self.reread(node.layer, target),
            _ => Ok(None),
        }
    }
}

/// What the extractors keep of the current entry, read whole if it is an ELF executable no
/// larger than [`MAX_EXECUTABLE`] (a larger one is passed over: no extractor reads it).
fn extract<R: Read>(
    entry: &mut tar::Entry<R>,
    extractors: &[(usize, Extract)],
) -> io::Result<Kind> {
    let size = entry.size();
    if size < ELF_MAGIC.len() as u64 || size > MAX_EXECUTABLE {
        return Ok(Kind::File(None));
    }
    let mut bytes = vec![0; ELF_MAGIC.len()];
    entry.read_exact(&mut bytes)?;
    if bytes != ELF_MAGIC {
        return Ok(Kind::File(None));
    }
    bytes.reserve_exact(size as usize - ELF_MAGIC.len());
    entry.take(MAX_EXECUTABLE).read_to_end(&mut bytes)?;
    let kept: Vec<(usize, Arc<[u8]>)> = extractors
        .iter()
        .filter_map(|(i, extract)| extract(&bytes).map(|b| (*i, Arc::from(b))))
        .collect();
    Ok(if kept.is_empty() {
        Kind::File(None)
    } else {
        Kind::Executable(kept)
    })
}

/// The bytes an earlier entry of the same layer kept for `path`, if it did.
fn kept_earlier(changes: &[Change], path: &str) -> Option<Arc<[u8]>> {
    changes.iter().rev().find_map(|change| match change {
        Change::Put(p, Kind::File(Some(bytes))) if p == path => Some(bytes.clone()),
        _ => None,
    })
}

impl Filesystem for ImageFs<'_> {
    fn read(&self, path: &str) -> Result<Option<File>> {
        let Some((real, node)) = self.resolve(path)? else {
            return Ok(None);
        };
        let Some(bytes) = self.bytes_of(&real, node)? else {
            return Ok(None);
        };
        Ok(Some(File {
            layer: Some(self.layer_ref(node.layer)),
            path: real,
            bytes,
        }))
    }

    fn list(&self, dir: &str) -> Result<Vec<String>> {
        let real = match self.resolve(dir)? {
            Some((
                real,
                Node {
                    kind: Kind::Dir, ..
                },
            )) => real,
            Some(_) => return Ok(Vec::new()),
            // A directory with no entry of its own, only entries under it.
            None if self.has_children(&clean(dir)) => clean(dir),
            None => return Ok(Vec::new()),
        };
        let prefix = if real.is_empty() {
            String::new()
        } else {
            format!("{real}/")
        };
        let mut names: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter_map(|(p, _)| p[prefix.len()..].split('/').next().map(str::to_owned))
            .collect();
        // Entries deeper down give their first component again, not always next to it.
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn versions(&self, file: &File) -> Vec<Version> {
        self.history.get(&file.path).cloned().unwrap_or_default()
    }

    fn found(&self, wanted: &Wanted) -> Result<Vec<File>> {
        let file = |path: &String, node: &Node, bytes: &Arc<[u8]>| File {
            path: path.clone(),
            bytes: bytes.clone(),
            layer: Some(self.layer_ref(node.layer)),
        };
        let found = match wanted {
            Wanted::Matching(accepts) => self
                .nodes
                .iter()
                .filter_map(|(path, node)| match &node.kind {
                    Kind::File(Some(bytes)) if accepts(path) => Some(file(path, node, bytes)),
                    _ => None,
                })
                .collect(),
            Wanted::Reduced(accepts, _) => self
                .nodes
                .iter()
                .filter_map(|(path, node)| match &node.kind {
                    Kind::Reduced(bytes) if accepts(path) => Some(file(path, node, bytes)),
                    _ => None,
                })
                .collect(),
            Wanted::Executables(_) => {
                let Some(index) = self.wanted.iter().position(|w| w.same(wanted)) else {
                    return Ok(Vec::new());
                };
                self.nodes
                    .iter()
                    .filter_map(|(path, node)| match &node.kind {
                        Kind::Executable(kept) => kept
                            .iter()
                            .find(|(i, _)| *i == index)
                            .map(|(_, bytes)| file(path, node, bytes)),
                        _ => None,
                    })
                    .collect()
            }
            Wanted::File(_) | Wanted::Children(_) => Vec::new(),
        };
        Ok(found)
    }

    fn skipped(&self) -> Vec<String> {
        self.skipped.clone()
    }
}
