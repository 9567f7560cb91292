//! What a change of a FlinkDeployment's spec does to the running job
//! (pure), as the Flink Kubernetes Operator 1.15 decides it (its spec
//! diff's `@SpecDiff` annotations):
//! - no restart: `job.upgradeMode`, `job.initialSavepointPath`, the
//!   savepoint and checkpoint trigger nonces, `job.allowNonRestoredState`,
//!   and flinkConfiguration keys starting with `kubernetes.operator.` or
//!   `job.autoscaler`;
//! - scaled in place: `job.parallelism` and `taskManager.replicas`, in
//!   standalone mode only;
//! - redeployed from a savepoint: `job.savepointRedeployNonce`;
//! - suspended or resumed: `job.state`;
//! - upgraded (stopped and started again, with the state `upgradeMode`
//!   keeps, none when stateless): anything else.

use serde_json::Value;

/// The impact of a spec change on the job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Impact {
    /// Nothing changed, or only what the operator applies without a restart.
    None,
    /// Rescaled in place (standalone mode).
    Scale,
    /// Redeployed from the savepoint `job.initialSavepointPath` names.
    RedeployFromSavepoint,
    /// Stopped and started again. `keeps_state`: through a savepoint or
    /// the last checkpoint (`upgrade_mode` savepoint or last-state); false
    /// when stateless, which starts the job without its state.
    Upgrade {
        upgrade_mode: String,
        keeps_state: bool,
    },
    /// `job.state` running → suspended (a savepoint first in savepoint
    /// mode); other changes take effect on resume.
    Suspend,
    /// `job.state` suspended → running, from the state kept at suspend,
    /// with whatever else changed.
    Resume,
}

impl Impact {
    /// Whether the job restarts.
    pub fn restarts(&self) -> bool {
        matches!(
            self,
            Impact::Upgrade { .. } | Impact::RedeployFromSavepoint | Impact::Resume
        )
    }

    /// Whether the job comes back without its state.
    pub fn loses_state(&self) -> bool {
        matches!(
            self,
            Impact::Upgrade {
                keeps_state: false,
                ..
            }
        )
    }
}

/// The fields that differ between two specs, as paths; a flinkConfiguration
/// key is one segment (`["flinkConfiguration", "state.checkpoints.dir"]`).
pub fn changed_paths(old: &Value, new: &Value) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    walk(old, new, &mut Vec::new(), &mut out);
    out
}

fn walk(old: &Value, new: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let null = Value::Null;
                at.push(k.clone());
                walk(
                    a.get(k).unwrap_or(&null),
                    b.get(k).unwrap_or(&null),
                    at,
                    out,
                );
                at.pop();
            }
        }
        (a, b) if a == b => {}
        // An object that appears or goes: each of its fields changes.
        (Value::Object(_), Value::Null) | (Value::Null, Value::Object(_)) => {
            let empty = Value::Object(serde_json::Map::new());
            let (a, b) = if old.is_null() {
                (&empty, new)
            } else {
                (old, &empty)
            };
            walk(a, b, at, out);
        }
        _ => out.push(at.clone()),
    }
}

/// What one changed field does.
fn field_impact(path: &[String], standalone: bool) -> FieldImpact {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        [
            "job",
            "upgradeMode"
            | "initialSavepointPath"
            | "savepointTriggerNonce"
            | "checkpointTriggerNonce"
            | "allowNonRestoredState",
        ] => FieldImpact::None,
        // A key is one segment, or (from a dotted path) several.
        ["flinkConfiguration", key @ ..]
            if {
                let key = key.join(".");
                key.starts_with("kubernetes.operator.") || key.starts_with("job.autoscaler")
            } =>
        {
            FieldImpact::None
        }
        ["job", "parallelism"] | ["taskManager", "replicas"] if standalone => FieldImpact::Scale,
        ["job", "savepointRedeployNonce"] => FieldImpact::Redeploy,
        ["job", "state"] => FieldImpact::None,
        _ => FieldImpact::Upgrade,
    }
}

/// In the operator's `DiffType` order: the strongest change decides, and a
/// savepoint redeploy outranks an upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum FieldImpact {
    None,
    Scale,
    Upgrade,
    Redeploy,
}

fn job_state(spec: &Value) -> &str {
    spec.pointer("/job/state")
        .and_then(Value::as_str)
        .unwrap_or("running")
}

/// The impact of going from the live spec `old` to `new`.
pub fn classify(old: &Value, new: &Value) -> Impact {
    classify_paths(old, new, &changed_paths(old, new))
}

/// [`classify`] with the changed spec paths known (the planner's, from
/// the desired side before the server answers).
pub fn classify_paths(old: &Value, new: &Value, changed: &[Vec<String>]) -> Impact {
    let (was, will) = (job_state(old), job_state(new));
    if was != will {
        return if will == "suspended" {
            Impact::Suspend
        } else {
            Impact::Resume
        };
    }
    if will == "suspended" {
        // Applied when it is resumed.
        return Impact::None;
    }
    let standalone = new.get("mode").and_then(Value::as_str) == Some("standalone");
    // The nonce taken away is ignored (`onNullIgnore`).
    let nonce_removed = |p: &Vec<String>| {
        p.len() == 2
            && p[0] == "job"
            && p[1] == "savepointRedeployNonce"
            && new
                .pointer("/job/savepointRedeployNonce")
                .is_none_or(Value::is_null)
    };
    let strongest = changed
        .iter()
        .filter(|p| !nonce_removed(p))
        .map(|p| field_impact(p, standalone))
        .max()
        .unwrap_or(FieldImpact::None);
    match strongest {
        FieldImpact::None => Impact::None,
        FieldImpact::Scale => Impact::Scale,
        FieldImpact::Redeploy => Impact::RedeployFromSavepoint,
        FieldImpact::Upgrade => {
            let mode = super::validate::upgrade_mode(new).to_owned();
            Impact::Upgrade {
                keeps_state: mode != "stateless",
                upgrade_mode: mode,
            }
        }
    }
}

/// The plan's impact of a FlinkDeployment change (the state location the
/// same on both sides), from the spec paths that change.
pub fn plan_impact(
    before: &Value,
    after: &Value,
    spec_paths: &[Vec<String>],
) -> crate::plan::Impact {
    use crate::plan::Impact as Plan;
    let null = Value::Null;
    let spec = |o: &'_ Value| o.get("spec").unwrap_or(&null).clone();
    let (old, new) = (spec(before), spec(after));
    match classify_paths(&old, &new, spec_paths) {
        Impact::None => Plan::None,
        Impact::Scale => Plan::Scale,
        Impact::RedeployFromSavepoint => Plan::RedeployFromSavepoint {
            savepoint: new
                .pointer("/job/initialSavepointPath")
                .and_then(Value::as_str)
                .map(|s| crate::secret::mask_text(s, &[] as &[&str]).into_owned()),
        },
        Impact::Upgrade {
            upgrade_mode,
            keeps_state,
        } => Plan::Upgrade {
            upgrade_mode,
            keeps_state,
        },
        Impact::Suspend => Plan::Suspend,
        // Suspended statelessly (cancelled, no savepoint): resumed, it
        // starts without its state.
        Impact::Resume if super::validate::upgrade_mode(&new) == "stateless" => Plan::Upgrade {
            upgrade_mode: "stateless".into(),
            keeps_state: false,
        },
        Impact::Resume => Plan::Resume,
    }
}

/// What pruning a live FlinkDeployment does to its state: with
/// `savepoint-on-deletion` the operator takes a last savepoint (into
/// `state.savepoints.dir`); without, deleting the deployment deletes its
/// checkpoints and HA metadata.
pub fn stop_impact(live: &Value, checkpoint: Option<String>) -> crate::plan::Impact {
    let conf = |key: &str| {
        live.pointer("/spec/flinkConfiguration")
            .and_then(|c| c.get(key))
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
    };
    let on_deletion = conf(super::build::SAVEPOINT_ON_DELETION)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let savepoint = on_deletion.then(|| {
        live.pointer("/spec/flinkConfiguration")
            .and_then(Value::as_object)
            .and_then(super::build::savepoint_dir)
            .map(|s| crate::secret::mask_text(s, &[] as &[&str]).into_owned())
            .unwrap_or_else(|| "the default savepoint directory".into())
    });
    crate::plan::Impact::Stop {
        checkpoint,
        deletes_state: savepoint.is_none(),
        savepoint,
    }
}

/// What identifies a Flink stream across a rename: its jar, entry class
/// and arguments.
pub fn identity(object: &Value) -> Option<String> {
    let job = object.pointer("/spec/job")?;
    Some(format!(
        "{}|{}|{}",
        job.get("jarURI")?,
        job.get("entryClass").unwrap_or(&Value::Null),
        job.get("args").unwrap_or(&Value::Null)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(mode: &str, upgrade: &str) -> Value {
        json!({
            "image": "flink:1.20",
            "flinkVersion": "v1_20",
            "mode": mode,
            "flinkConfiguration": {"state.checkpoints.dir": "s3://x/cp", "taskmanager.numberOfTaskSlots": "2"},
            "jobManager": {"resource": {"memory": "2048m", "cpu": 1}},
            "taskManager": {"resource": {"memory": "2048m", "cpu": 1}},
            "job": {"jarURI": "local:///job.jar", "parallelism": 2, "upgradeMode": upgrade, "state": "running"}
        })
    }

    fn set(mut v: Value, pointer: &str, value: Value) -> Value {
        let mut node = &mut v;
        for segment in pointer.split('/').skip(1) {
            node = &mut node[segment];
        }
        *node = value;
        v
    }

    fn upgrade(mode: &str) -> Impact {
        Impact::Upgrade {
            upgrade_mode: mode.into(),
            keeps_state: mode != "stateless",
        }
    }

    /// One case per `@SpecDiff` class, and the upgrade per upgrade mode.
    #[test]
    fn impact_table() {
        let native = spec("native", "savepoint");
        let standalone = spec("standalone", "savepoint");
        let cases: Vec<(&str, Value, Value, Impact)> = vec![
            ("nothing", native.clone(), native.clone(), Impact::None),
            // No restart.
            (
                "upgradeMode",
                native.clone(),
                set(native.clone(), "/job/upgradeMode", json!("last-state")),
                Impact::None,
            ),
            (
                "initialSavepointPath",
                native.clone(),
                set(
                    native.clone(),
                    "/job/initialSavepointPath",
                    json!("s3://x/sp-1"),
                ),
                Impact::None,
            ),
            (
                "savepointTriggerNonce",
                native.clone(),
                set(native.clone(), "/job/savepointTriggerNonce", json!(7)),
                Impact::None,
            ),
            (
                "checkpointTriggerNonce",
                native.clone(),
                set(native.clone(), "/job/checkpointTriggerNonce", json!(7)),
                Impact::None,
            ),
            (
                "allowNonRestoredState",
                native.clone(),
                set(native.clone(), "/job/allowNonRestoredState", json!(true)),
                Impact::None,
            ),
            (
                "kubernetes.operator.* key",
                native.clone(),
                set(
                    native.clone(),
                    "/flinkConfiguration/kubernetes.operator.savepoint.history.max.count",
                    json!("5"),
                ),
                Impact::None,
            ),
            (
                "job.autoscaler.* key",
                native.clone(),
                set(
                    native.clone(),
                    "/flinkConfiguration/job.autoscaler.enabled",
                    json!("true"),
                ),
                Impact::None,
            ),
            // Scale in place: standalone only.
            (
                "parallelism, standalone",
                standalone.clone(),
                set(standalone.clone(), "/job/parallelism", json!(4)),
                Impact::Scale,
            ),
            (
                "TM replicas, standalone",
                standalone.clone(),
                set(standalone.clone(), "/taskManager/replicas", json!(3)),
                Impact::Scale,
            ),
            (
                "parallelism, native",
                native.clone(),
                set(native.clone(), "/job/parallelism", json!(4)),
                upgrade("savepoint"),
            ),
            // Redeploy from a savepoint.
            (
                "savepointRedeployNonce",
                native.clone(),
                set(native.clone(), "/job/savepointRedeployNonce", json!(1)),
                Impact::RedeployFromSavepoint,
            ),
            (
                "savepointRedeployNonce and the image: the redeploy wins",
                native.clone(),
                set(
                    set(native.clone(), "/job/savepointRedeployNonce", json!(1)),
                    "/image",
                    json!("flink:1.20.1"),
                ),
                Impact::RedeployFromSavepoint,
            ),
            (
                "savepointRedeployNonce removed: ignored",
                set(native.clone(), "/job/savepointRedeployNonce", json!(1)),
                native.clone(),
                Impact::None,
            ),
            // Upgrade, per upgrade mode.
            (
                "image, savepoint",
                native.clone(),
                set(native.clone(), "/image", json!("flink:1.20.1")),
                upgrade("savepoint"),
            ),
            (
                "image, last-state",
                spec("native", "last-state"),
                set(
                    spec("native", "last-state"),
                    "/image",
                    json!("flink:1.20.1"),
                ),
                upgrade("last-state"),
            ),
            (
                "image, stateless",
                spec("native", "stateless"),
                set(spec("native", "stateless"), "/image", json!("flink:1.20.1")),
                upgrade("stateless"),
            ),
            (
                "resources",
                native.clone(),
                set(
                    native.clone(),
                    "/taskManager/resource/memory",
                    json!("4096m"),
                ),
                upgrade("savepoint"),
            ),
            (
                "a pod template appears",
                native.clone(),
                set(
                    native.clone(),
                    "/podTemplate",
                    json!({"spec": {"nodeSelector": {"pool": "flink"}}}),
                ),
                upgrade("savepoint"),
            ),
            (
                "another flinkConfiguration key",
                native.clone(),
                set(
                    native.clone(),
                    "/flinkConfiguration/taskmanager.numberOfTaskSlots",
                    json!("4"),
                ),
                upgrade("savepoint"),
            ),
            (
                "a no-restart change beside an upgrade",
                native.clone(),
                set(
                    set(native.clone(), "/job/savepointTriggerNonce", json!(1)),
                    "/image",
                    json!("flink:2"),
                ),
                upgrade("savepoint"),
            ),
            // Suspend and resume.
            (
                "suspend",
                native.clone(),
                set(native.clone(), "/job/state", json!("suspended")),
                Impact::Suspend,
            ),
            (
                "resume, with a new image",
                set(native.clone(), "/job/state", json!("suspended")),
                set(native.clone(), "/image", json!("flink:2")),
                Impact::Resume,
            ),
            (
                "a change while suspended",
                set(native.clone(), "/job/state", json!("suspended")),
                set(
                    set(native.clone(), "/job/state", json!("suspended")),
                    "/image",
                    json!("flink:2"),
                ),
                Impact::None,
            ),
        ];
        for (name, old, new, expected) in cases {
            assert_eq!(classify(&old, &new), expected, "{name}");
        }
        assert!(upgrade("stateless").loses_state());
        assert!(!upgrade("last-state").loses_state() && upgrade("last-state").restarts());
        assert!(!Impact::Scale.restarts() && !Impact::Suspend.restarts());
    }

    #[test]
    fn flink_configuration_keys_are_one_segment() {
        let old = json!({"flinkConfiguration": {"a.b": "1"}});
        let new = json!({"flinkConfiguration": {"a.b": "2", "c": "3"}});
        assert_eq!(
            changed_paths(&old, &new),
            [
                vec!["flinkConfiguration".to_owned(), "a.b".to_owned()],
                vec!["flinkConfiguration".to_owned(), "c".to_owned()]
            ]
        );
    }

    /// The plan's words: a stateless resume loses the state a stateless
    /// suspend never saved; a stateful one keeps it.
    #[test]
    fn a_stateless_resume_starts_without_state() {
        use crate::plan::Impact as Plan;
        let object = |mode: &str, state: &str| json!({"spec": set(spec("native", mode), "/job/state", json!(state))});
        let resume = |mode: &str| {
            let paths = vec![vec!["job".to_owned(), "state".to_owned()]];
            plan_impact(&object(mode, "suspended"), &object(mode, "running"), &paths)
        };
        assert_eq!(resume("savepoint"), Plan::Resume);
        assert!(
            resume("stateless").resets_state(),
            "{:?}",
            resume("stateless")
        );
    }
}
