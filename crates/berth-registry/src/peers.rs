//! How many connections each client address holds, so one client (a slowloris opening
//! thousands of trickling connections) can't take every file descriptor from the others.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The connections open per peer address, with a cap.
#[derive(Clone)]
pub struct Peers {
    cap: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's place in its peer's count, given back when dropped.
pub struct Slot {
    peer: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Peers {
    pub fn new(cap: usize) -> Peers {
        Peers {
            cap,
            open: Arc::default(),
        }
    }

    /// A slot for a new connection from `peer`, or None if it holds the most it may.
    pub fn admit(&self, peer: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(peer).or_default();
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Slot {
            peer,
            open: self.open.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.peer) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_peer_gets_the_cap_and_slots_come_back() {
        let peers = Peers::new(2);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.1".parse().unwrap();
        let first = peers.admit(a).unwrap();
        let _second = peers.admit(a).unwrap();
        assert!(peers.admit(a).is_none(), "a holds its two");
        assert!(peers.admit(b).is_some(), "b is not held up by a");
        drop(first);
        assert!(peers.admit(a).is_some(), "a slot came back");
    }
}
