//! Attribution: which instruction brought each package of an image in, and so what to change
//! to be rid of a finding.
//!
//! [`attribute`] maps each package's layer (berth-catalog says which layer added it) to the
//! history entry that made the layer, as Docker pairs them (the n-th entry that is not an
//! `empty_layer` made the n-th layer), and, for images berth built, to the Dockerfile lines
//! and stage the build record names for that entry; a package a later layer upgraded says
//! from which version and which entry brought that. [`explain`] words it per finding as the
//! change to make; [`diff`] compares two scans' findings (what a rebuild fixed and introduced).

mod attribute;
mod diff;
mod explain;

pub use attribute::{Attribution, Located, Step, Upgrade, attribute};
pub use diff::{Change, Diff, Scan, diff};
pub use explain::{explain, explain_all};
