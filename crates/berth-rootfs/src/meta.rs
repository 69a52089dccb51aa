//! What `stat` says about an entry, read with one call relative to its directory's
//! descriptor.
//!
//! std's `Metadata` can only come from a path or from an open file. By path, an entry of a
//! directory berth holds by descriptor is `/proc/self/fd/N/name`, and the `/proc` magic link
//! takes the kernel off its lockless lookup; by an open file it costs an open and a close
//! around the `fstat`. A walk stats every entry, so berth has its own record, filled by
//! `fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)`, with std's method names so that reading one
//! looks the same.

use rustix::fs::Stat;

/// The type of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileType(rustix::fs::FileType);

impl FileType {
    pub fn is_dir(self) -> bool {
        self.0 == rustix::fs::FileType::Directory
    }
    pub fn is_file(self) -> bool {
        self.0 == rustix::fs::FileType::RegularFile
    }
    pub fn is_symlink(self) -> bool {
        self.0 == rustix::fs::FileType::Symlink
    }
    pub fn is_fifo(self) -> bool {
        self.0 == rustix::fs::FileType::Fifo
    }
    pub fn is_char_device(self) -> bool {
        self.0 == rustix::fs::FileType::CharacterDevice
    }
    pub fn is_block_device(self) -> bool {
        self.0 == rustix::fs::FileType::BlockDevice
    }
    pub fn is_socket(self) -> bool {
        self.0 == rustix::fs::FileType::Socket
    }
}

/// An entry's `stat`, not following it if it is a symlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    ino: u64,
    dev: u64,
    nlink: u64,
    rdev: u64,
    atime: (i64, i64),
    mtime: (i64, i64),
    ctime: (i64, i64),
}

// `len` without `is_empty`: the names are std's, so reading one looks the same.
#[allow(clippy::len_without_is_empty)]
impl Meta {
    // The `stat` field types differ between architectures: some casts are no-ops here.
    #[allow(clippy::unnecessary_cast)]
    pub(crate) fn of(st: &Stat) -> Meta {
        Meta {
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
            size: st.st_size as u64,
            ino: st.st_ino,
            dev: st.st_dev,
            nlink: st.st_nlink as u64,
            rdev: st.st_rdev,
            atime: (st.st_atime as i64, st.st_atime_nsec as i64),
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
        }
    }

    pub fn file_type(&self) -> FileType {
        FileType(rustix::fs::FileType::from_raw_mode(self.mode))
    }
    pub fn is_dir(&self) -> bool {
        self.file_type().is_dir()
    }
    pub fn is_file(&self) -> bool {
        self.file_type().is_file()
    }
    pub fn is_symlink(&self) -> bool {
        self.file_type().is_symlink()
    }
    /// The size in bytes.
    pub fn len(&self) -> u64 {
        self.size
    }
    /// Type and permission bits, as `st_mode`.
    pub fn mode(&self) -> u32 {
        self.mode
    }
    pub fn uid(&self) -> u32 {
        self.uid
    }
    pub fn gid(&self) -> u32 {
        self.gid
    }
    pub fn ino(&self) -> u64 {
        self.ino
    }
    pub fn dev(&self) -> u64 {
        self.dev
    }
    pub fn nlink(&self) -> u64 {
        self.nlink
    }
    /// The device a character or block device node names.
    pub fn rdev(&self) -> u64 {
        self.rdev
    }
    pub fn atime(&self) -> i64 {
        self.atime.0
    }
    pub fn atime_nsec(&self) -> i64 {
        self.atime.1
    }
    pub fn mtime(&self) -> i64 {
        self.mtime.0
    }
    pub fn mtime_nsec(&self) -> i64 {
        self.mtime.1
    }
    pub fn ctime(&self) -> i64 {
        self.ctime.0
    }
    pub fn ctime_nsec(&self) -> i64 {
        self.ctime.1
    }
}

impl From<&std::fs::Metadata> for Meta {
    fn from(m: &std::fs::Metadata) -> Meta {
        use std::os::unix::fs::MetadataExt;
        Meta {
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            size: m.size(),
            ino: m.ino(),
            dev: m.dev(),
            nlink: m.nlink(),
            rdev: m.rdev(),
            atime: (m.atime(), m.atime_nsec()),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}
