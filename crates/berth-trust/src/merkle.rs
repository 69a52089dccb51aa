//! RFC 6962 Merkle inclusion proofs, as RFC 9162 (section 2.1.3.2) gives the verification:
//! the leaf hash is SHA-256 of 0x00 and the entry, an inner node SHA-256 of 0x01 and its two
//! children, and the audit path climbs from the leaf to the root of a tree of `tree_size`.

use sha2::{Digest as _, Sha256};

pub type Hash = [u8; 32];

/// The RFC 6962 hash of a leaf holding `entry`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(entry)
        .finalize()
        .into()
}

fn node_hash(left: &[u8], right: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("leaf index {index} is outside a tree of {size} entries")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("a proof hash is {0} bytes, not 32")]
    HashLength(usize),
    #[error("the audit path has {0} hashes, not as many as the tree's shape needs")]
    PathLength(usize),
    #[error("the audit path leads to root {computed}, not the proof's {expected}")]
    RootMismatch { computed: String, expected: String },
}

/// Checks that the leaf `leaf` at `index` is in the tree of `size` entries whose root is
/// `root`, by the audit path `path` (lowest level first).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    path: &[Vec<u8>],
    root: &[u8],
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if p.len() != 32 {
            return Err(ProofError::HashLength(p.len()));
        }
        if sn == 0 {
            return Err(ProofError::PathLength(path.len()));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            // A right-border node: skip the levels where it has no sibling.
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::PathLength(path.len()));
    }
    if r.as_slice() != root {
        return Err(ProofError::RootMismatch {
            computed: hex::encode(r),
            expected: hex::encode(root),
        });
    }
    Ok(())
}
