//! Random access into a tar archive: one pass records where each member's bytes are, and
//! members are then read in place with positioned reads. Compressed archives (and standard
//! input) are first copied, decompressed, to an unnamed temporary file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use berth_oci::Compression;
use berth_oci::compression::read_head;

/// Where a regular member's bytes lie in the archive.
#[derive(Debug, Clone, Copy)]
struct Member {
    offset: u64,
    size: u64,
}

pub struct TarIndex {
    file: Arc<File>,
    members: HashMap<String, Member>,
    /// Symbolic links inside the archive (`docker save` links repeated layers).
    links: HashMap<String, String>,
}

impl TarIndex {
    /// Indexes the archive at `path`, decompressing it into `temp_dir` first if it's compressed.
    pub fn open(path: &Path, temp_dir: &Path) -> io::Result<TarIndex> {
        let mut file = File::open(path)?;
        let head = read_head(&mut file)?;
        file.rewind()?;
        match Compression::sniff(&head) {
            Ok(Compression::None) => TarIndex::scan(file),
            _ => TarIndex::from_reader(file, temp_dir),
        }
    }

    /// Indexes an archive read from a stream (standard input), copying it to `temp_dir`.
    pub fn from_reader(reader: impl Read, temp_dir: &Path) -> io::Result<TarIndex> {
        let mut input = BufReader::with_capacity(256 * 1024, reader);
        let compression = Compression::sniff(input.fill_buf()?).map_err(|unsupported| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a tar archive ({unsupported} archives must be decompressed first)"),
            )
        })?;
        let mut decoded = compression.decoder(input)?;
        let mut temp = tempfile::tempfile_in(temp_dir)?;
        io::copy(&mut decoded, &mut temp)?;
        temp.rewind()?;
        TarIndex::scan(temp)
    }

    fn scan(file: File) -> io::Result<TarIndex> {
        TarIndex::scan_entries(file).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a tar archive, or a damaged one: {e}"),
            )
        })
    }

    fn scan_entries(file: File) -> io::Result<TarIndex> {
        let mut members = HashMap::new();
        let mut links = HashMap::new();
        {
            let mut archive = tar::Archive::new(&file);
            for entry in archive.entries_with_seek()? {
                let entry = entry?;
                let name = clean(&String::from_utf8_lossy(&entry.path_bytes()));
                match entry.header().entry_type() {
                    tar::EntryType::Regular | tar::EntryType::Continuous => {
                        members.insert(
                            name,
                            Member {
                                offset: entry.raw_file_position(),
                                size: entry.size(),
                            },
                        );
                    }
                    tar::EntryType::Symlink | tar::EntryType::Link => {
                        if let Some(target) = entry.link_name_bytes() {
                            let target = String::from_utf8_lossy(&target).into_owned();
                            let resolved = if entry.header().entry_type() == tar::EntryType::Link
                                || target.starts_with('/')
                            {
                                clean(&target)
                            } else {
                                let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                                clean(&format!("{dir}/{target}"))
                            };
                            links.insert(name, resolved);
                        }
                    }
                    _ => {}
                }
            }
        }
        if members.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a tar archive, or an empty one",
            ));
        }
        Ok(TarIndex {
            file: Arc::new(file),
            members,
            links,
        })
    }

    fn member(&self, name: &str) -> Option<Member> {
        let mut name = clean(name);
        for _ in 0..16 {
            if let Some(m) = self.members.get(&name) {
                return Some(*m);
            }
            name = self.links.get(&name)?.clone();
        }
        None
    }

    pub fn member_size(&self, name: &str) -> Option<u64> {
        self.member(name).map(|m| m.size)
    }

    /// A reader over one member, or `None` if the archive has no such file.
    pub fn open_member(&self, name: &str) -> Option<MemberReader> {
        self.member(name).map(|m| MemberReader {
            file: self.file.clone(),
            offset: m.offset,
            remaining: m.size,
        })
    }
}

/// Reads one archive member with positioned reads, so many can be read at once.
pub struct MemberReader {
    file: Arc<File>,
    offset: u64,
    remaining: u64,
}

impl Read for MemberReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.offset)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive is truncated",
            ));
        }
        self.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// `./a//b/../c/` → `a/c`.
fn clean(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_compressions_are_refused_by_name() {
        let temp = tempfile::tempdir().unwrap();
        for (bytes, name) in [
            (&b"BZh91AY&SY rest of the stream"[..], "bzip2"),
            (&b"\xfd7zXZ\0 rest of the stream"[..], "xz"),
        ] {
            let Err(err) = TarIndex::from_reader(bytes, temp.path()) else {
                panic!("a {name} archive was indexed");
            };
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert_eq!(
                err.to_string(),
                format!("not a tar archive ({name} archives must be decompressed first)")
            );
        }
    }
}
