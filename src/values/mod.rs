//! The values stage: load the streams repository, merge its layers per
//! stream and environment, and validate the result.

pub mod check;
pub mod effective;
pub mod events;
pub mod exact;
pub mod keys;
pub mod merge;
pub mod print;
pub mod repo;
pub mod set;
pub mod validate;
pub mod yaml;
