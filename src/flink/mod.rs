//! Flink streams: the Flink Kubernetes Operator's FlinkDeployment
//! (`flink.apache.org/v1beta1`, application mode).

pub mod build;
pub mod health;
pub mod impact;
pub mod resources;
pub mod validate;
