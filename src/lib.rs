//! sluice: values files → validated, rendered spark-operator manifests.

pub mod check;
pub mod cli;
pub mod commands;
pub mod crd;
pub mod diag;
pub mod fs;
pub mod render;
pub mod report;
pub mod rules;
pub mod secret;
pub mod snapshot;
pub mod source;
pub mod stats;
pub mod suggest;
pub mod values;
