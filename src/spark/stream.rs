//! What sluice reads of a rendered or live SparkApplication (pure): where
//! its state is, whether it is suspended, what a spec change does to it,
//! and what tells two renders of one stream apart from two streams.

use crate::plan::Impact;
use serde_json::Value;

/// The Spark conf that holds a stream's checkpoint location.
pub const CHECKPOINT_CONF: &str = "spark.sql.streaming.checkpointLocation";

/// Spec fields whose change spark-operator applies without a resubmission.
const NO_RESTART_SPEC_FIELDS: &[&str] = &["suspend", "timeToLiveSeconds"];

/// The checkpoint location (unmasked).
pub fn checkpoint(object: &Value) -> Option<&str> {
    object
        .get("spec")?
        .get("sparkConf")?
        .get(CHECKPOINT_CONF)?
        .as_str()
}

pub fn suspended(object: &Value) -> bool {
    object.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true)
}

/// What a spec change (the changed spec paths, the checkpoint the same on
/// both sides) does: spark-operator resubmits on any spec change but the
/// few it applies in place.
pub fn change_impact(before: &Value, after: &Value, spec_paths: &[Vec<String>]) -> Impact {
    let resubmits = spec_paths.iter().any(|p| {
        !p.first()
            .is_some_and(|f| NO_RESTART_SPEC_FIELDS.contains(&f.as_str()))
    });
    let (was, is) = (suspended(before), suspended(after));
    if is && !was {
        return Impact::Suspend;
    }
    if was && !is {
        return Impact::Resume;
    }
    if resubmits && !is {
        return Impact::Restart;
    }
    Impact::None
}

/// What identifies the stream across a rename: its sink, or without one
/// the application, its main class and arguments.
pub fn identity(object: &Value) -> Option<String> {
    let spec = object.get("spec")?;
    if let Some(sink) = spec
        .get("sparkConf")
        .and_then(|c| c.get("spark.sluice.sink"))
        .and_then(Value::as_str)
    {
        return Some(format!("sink {sink}"));
    }
    Some(format!(
        "{}|{}|{}",
        spec.get("mainApplicationFile")?,
        spec.get("mainClass").unwrap_or(&Value::Null),
        spec.get("arguments").unwrap_or(&Value::Null)
    ))
}
