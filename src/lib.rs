//! sluice: values files → validated, rendered spark-operator manifests.

pub mod applyset;
pub mod changes;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod crd;
pub mod diag;
pub mod fs;
pub mod git;
pub mod health;
pub mod kinds;
pub mod pipeline;
pub mod plan;
pub mod promote;
pub mod render;
pub mod report;
pub mod resources;
pub mod rules;
pub mod secret;
pub mod snapshot;
pub mod source;
pub mod spark;
pub mod stats;
pub mod suggest;
pub mod values;
