//! `sluice promote`, the pure part: which values a promotion changes, in
//! which layer, and the text edits that make them.

pub mod edit;
pub mod plan;
pub mod set;

pub use edit::file_diff;
