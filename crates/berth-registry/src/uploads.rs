//! Blob upload sessions: bytes land in `<root>/uploads/<id>`, hashed as they arrive; the
//! session row in the database records how far it got. A session outlives a restart: its
//! hash is rebuilt from the file.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use berth_oci::{Algorithm, Hasher};

/// One session's live state: its file, its hash so far, its length.
pub struct Session {
    pub file: Arc<File>,
    pub hasher: Hasher,
    pub offset: u64,
}

type Slot = Arc<tokio::sync::Mutex<Option<Session>>>;

pub struct Sessions {
    dir: PathBuf,
    live: Mutex<HashMap<String, Slot>>,
}

impl Sessions {
    pub fn new(dir: PathBuf) -> Sessions {
        Sessions {
            dir,
            live: Mutex::new(HashMap::new()),
        }
    }

    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Creates an empty session file.
    pub fn create_file(&self, id: &str) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        File::create(self.path(id)).map(|_| ())
    }

    /// The slot holding a session's state; lock it for the length of a request, so requests
    /// on one session take turns.
    pub fn slot(&self, id: &str) -> Slot {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_string())
            .or_default()
            .clone()
    }

    /// Drops the state of sessions `keep` says are over (expired, say): their open files
    /// would otherwise hold on to the disk space of files already removed.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|id, _| keep(id));
    }

    pub fn forget(&self, id: &str) {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Removes a session's file and state.
    pub fn discard(&self, id: &str) {
        self.forget(id);
        let _ = fs::remove_file(self.path(id));
    }

    /// Rebuilds a session's state from its file after a restart: the file is cut back to the
    /// length the database acknowledged, then hashed.
    pub fn reopen(&self, id: &str, algorithm: Algorithm, offset: u64) -> io::Result<Session> {
        let path = self.path(id);
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let len = file.metadata()?.len();
        let offset = offset.min(len);
        file.set_len(offset)?;
        let (hasher, pos) = hash_prefix(&file, algorithm, offset)?;
        Ok(Session {
            file: Arc::new(file),
            hasher,
            offset: pos,
        })
    }
}

/// Hashes the first `len` bytes of a session file; returns the hash and how many bytes there
/// were (fewer than `len` if the file is shorter).
pub fn hash_prefix(file: &File, algorithm: Algorithm, len: u64) -> io::Result<(Hasher, u64)> {
    let mut hasher = algorithm.hasher();
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0;
    while pos < len {
        let want = buf.len().min((len - pos) as usize);
        let n = file.read_at(&mut buf[..want], pos)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        pos += n as u64;
    }
    Ok((hasher, pos))
}

/// Writes `bytes` at `offset` on a blocking thread.
pub async fn write_at(file: Arc<File>, bytes: Vec<u8>, offset: u64) -> io::Result<()> {
    tokio::task::spawn_blocking(move || file.write_all_at(&bytes, offset))
        .await
        .map_err(io::Error::other)?
}
