//! The Spark engine (pure): what a stream's effective values mean for its
//! SparkApplication. `derive` computes what the values imply (the image,
//! the restart policy, the checkpoint, string-typed confs, the driver and
//! executor specs, the defaults sluice applies); `build` makes the object
//! the built-in template describes. Rendering, the rules, `values
//! --provenance` and `promote` all read the values through here, so none
//! of them reaches into another stage for it.

pub mod build;
pub mod derive;
pub mod stream;
pub mod submit;
