//! Desired objects vs live ones → a plan (pure: no requests, no clock).
//!
//! Deciding what to write happens in two steps. [`decide`] picks the
//! candidates without asking the server: an object is a candidate when the
//! digest of what sluice would apply differs from the digest sluice left
//! on the live object when it last applied it (any change at any depth:
//! a key removed from a list item, a map emptied, a null), when sluice
//! does not own it yet, or when the live object no longer holds the
//! desired values (someone else changed them). Everything else is
//! unchanged and costs no request. [`confirm`] then settles each
//! candidate with the server's own dry-run answer: written only if
//! applying changes the live object, and "restarts" only if the server
//! moves `metadata.generation` — so a value the server prunes or
//! normalises is never written, or shown as a restart, on every run.
//!
//! The planner also selects what to prune (members of this environment's
//! ApplySet only, with uid and resourceVersion preconditions) and classes
//! every change by its impact on the stream ([`Impact`]).

pub mod show;
pub mod waves;

pub use show::{masked, sorted, unified_diff, unified_diff_between, without_server_fields};

use crate::engine::Engine;
use crate::render::{LABEL_ENVIRONMENT, LABEL_MANAGED_BY, LABEL_STREAM};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The field manager name sluice applies with.
pub const FIELD_MANAGER: &str = "sluice";

/// The digest of what sluice applied, kept on every object it writes.
pub const DIGEST_ANNOTATION: &str = "sluice.dev/digest";

pub use crate::spark::stream::CHECKPOINT_CONF;

type Path = Vec<String>;

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Create,
    /// `paths` are the fields that differ (dotted); `adopt` when the values
    /// already hold but sluice does not own them yet.
    Update {
        paths: Vec<String>,
        adopt: bool,
    },
    Unchanged,
    /// Live, in the ApplySet, no longer rendered.
    Delete,
}

/// What a change does to the stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Impact {
    /// Nothing the stream notices (metadata, objects other than the
    /// stream's own, what the operator applies without a restart).
    None,
    /// A new stream.
    Start,
    /// Resubmitted (Spark); it resumes from its checkpoint.
    Restart,
    /// Stopped and started again by the Flink operator, with the state its
    /// `upgradeMode` keeps: a savepoint (`savepoint`), the last checkpoint
    /// (`last-state`), or none (`stateless`: `keeps_state` false).
    Upgrade {
        upgrade_mode: String,
        keeps_state: bool,
    },
    /// Rescaled in place, without a restart (Flink's standalone mode).
    Scale,
    /// Redeployed from the savepoint `job.initialSavepointPath` names.
    RedeployFromSavepoint {
        savepoint: Option<String>,
    },
    /// Restarted at another state location (a Spark checkpoint, Flink's
    /// `state.checkpoints.dir`): it starts without its offsets and state
    /// (it reprocesses or skips data).
    StateReset {
        from: Option<String>,
        to: Option<String>,
        /// The stream this one was renamed from, when it was.
        #[serde(skip_serializing_if = "Option::is_none")]
        renamed_from: Option<String>,
    },
    Suspend,
    Resume,
    /// Pruned: the stream stops. Its checkpoint is abandoned; a Flink
    /// stream takes a last savepoint first when `savepoint-on-deletion` is
    /// on (`savepoint`: where), and otherwise the operator deletes its
    /// checkpoints and HA metadata (`deletes_state`).
    Stop {
        checkpoint: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        savepoint: Option<String>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        deletes_state: bool,
    },
}

impl Impact {
    /// A short phrase for tables and plan lines.
    pub fn phrase(&self) -> String {
        match self {
            Impact::None => "no restart".into(),
            Impact::Start => "starts".into(),
            Impact::Restart => "restarts the stream".into(),
            Impact::Upgrade {
                upgrade_mode,
                keeps_state,
            } => match (upgrade_mode.as_str(), keeps_state) {
                ("savepoint", _) => {
                    "restarts the job from a savepoint taken first (upgradeMode savepoint)".into()
                }
                ("last-state", _) => {
                    "restarts the job from its last checkpoint (upgradeMode last-state)".into()
                }
                (mode, true) => format!("restarts the job with its state (upgradeMode {mode})"),
                (mode, false) => format!(
                    "restarts the job WITHOUT its state (upgradeMode {mode}): offsets and aggregations are lost"
                ),
            },
            Impact::Scale => "rescales in place, no restart".into(),
            Impact::RedeployFromSavepoint { savepoint } => match savepoint {
                Some(s) => format!("redeploys the job from the savepoint {s}"),
                None => "redeploys the job from job.initialSavepointPath (not set: without state)"
                    .into(),
            },
            Impact::StateReset {
                from,
                to,
                renamed_from,
            } => {
                let show = |c: &Option<String>| c.clone().unwrap_or_else(|| "(none)".into());
                let renamed = renamed_from
                    .as_ref()
                    .map(|r| format!("renamed from `{r}`; "))
                    .unwrap_or_default();
                format!(
                    "restarts from scratch: {renamed}checkpoint moves from {} to {}",
                    show(from),
                    show(to)
                )
            }
            Impact::Suspend => "suspends the stream".into(),
            Impact::Resume => "resumes the stream".into(),
            Impact::Stop {
                checkpoint,
                savepoint,
                deletes_state,
            } => match (checkpoint, savepoint, deletes_state) {
                (_, Some(s), _) => format!("stops the job after a last savepoint into {s}"),
                (Some(c), None, true) => format!(
                    "stops the job and deletes its state (checkpoints in {c}, HA metadata): no savepoint-on-deletion"
                ),
                (None, None, true) => {
                    "stops the job and deletes its state (no savepoint-on-deletion)".into()
                }
                (Some(c), None, false) => {
                    format!("stops the stream and abandons its checkpoint {c}")
                }
                (None, None, false) => "stops the stream".into(),
            },
        }
    }

    /// Whether the stream is stopped and started again.
    pub fn restarts(&self) -> bool {
        matches!(
            self,
            Impact::Restart
                | Impact::Upgrade { .. }
                | Impact::RedeployFromSavepoint { .. }
                | Impact::StateReset { .. }
                | Impact::Resume
        )
    }

    /// Whether the stream runs again without its state.
    pub fn resets_state(&self) -> bool {
        matches!(
            self,
            Impact::StateReset { .. }
                | Impact::Upgrade {
                    keeps_state: false,
                    ..
                }
                | Impact::RedeployFromSavepoint { savepoint: None }
        )
    }

    /// Whether a prune loses the stream's state for good (a Spark
    /// checkpoint abandoned, a Flink stream's deleted without a savepoint).
    pub fn loses_state_on_stop(&self) -> bool {
        matches!(
            self,
            Impact::Stop {
                checkpoint: Some(_),
                savepoint: None,
                ..
            } | Impact::Stop {
                deletes_state: true,
                savepoint: None,
                ..
            }
        )
    }

    /// How much a reviewer must care, for picking a stream's headline
    /// impact among its objects' impacts.
    pub fn severity(&self) -> u8 {
        match self {
            Impact::None => 0,
            Impact::Suspend | Impact::Resume | Impact::Scale => 1,
            Impact::Start => 2,
            Impact::Restart | Impact::Upgrade { .. } | Impact::RedeployFromSavepoint { .. } => {
                if self.resets_state() {
                    5
                } else {
                    3
                }
            }
            Impact::Stop { .. } => 4,
            Impact::StateReset { .. } => 5,
        }
    }
}

/// Preconditions of a delete: the object the plan saw, not one that was
/// re-created since with the same name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Precondition {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// One object's part of the plan.
#[derive(Clone, Debug)]
pub struct Change {
    pub stream: String,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub action: Action,
    pub impact: Impact,
    pub desired: Option<Value>,
    pub live: Option<Value>,
}

impl Change {
    /// Whether the stream is resubmitted: never while it stays suspended
    /// (a moved checkpoint then shows as a state reset that takes effect
    /// on resume).
    pub fn restarts(&self) -> bool {
        self.impact.restarts() && !self.desired.as_ref().is_some_and(suspended)
    }

    pub fn writes(&self) -> bool {
        !matches!(self.action, Action::Unchanged)
    }

    /// For a delete: the uid and resourceVersion of the object planned.
    pub fn precondition(&self) -> Precondition {
        let get = |p: &str| {
            self.live
                .as_ref()
                .and_then(|l| l.pointer(p))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Precondition {
            uid: get("/metadata/uid"),
            resource_version: get("/metadata/resourceVersion"),
        }
    }
}

/// The digest of an object as sluice applies it: SHA-256 over its JSON
/// with every map's keys sorted, without the digest annotation itself.
pub fn digest(object: &Value) -> String {
    use sha2::{Digest, Sha256};
    let mut object = object.clone();
    if let Some(Value::Object(meta)) = object.get_mut("metadata") {
        // Without the digest, and with no annotations the same as empty ones.
        if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
            annotations.remove(DIGEST_ANNOTATION);
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    let text = serde_json::to_string(&sorted(&object)).expect("JSON serializes");
    let hash = Sha256::digest(text.as_bytes());
    let hex: String = hash.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Adds the digest annotation to an object sluice is about to apply.
pub fn add_digest(object: &mut Value) {
    let value = Value::String(digest(object));
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(a) = annotations {
        a.insert(DIGEST_ANNOTATION.into(), value);
    }
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .get("metadata")?
        .get("annotations")?
        .get(key)?
        .as_str()
}

/// Step one: whether an object is a candidate for a write, without asking
/// the server. `Unchanged` is final; the others are confirmed by
/// [`confirm`] against a dry run.
pub fn decide(desired: &Value, live: Option<&Value>) -> Action {
    let Some(live) = live else {
        return Action::Create;
    };
    let owned = owned_fields(live);
    let wanted = digest(desired);
    let same_digest = annotation(live, DIGEST_ANNOTATION) == Some(wanted.as_str())
        && annotation(desired, DIGEST_ANNOTATION).is_none_or(|d| d == wanted);
    let kind = desired.get("kind").and_then(Value::as_str).unwrap_or("");
    let wanted_leaves = leaves(desired);
    let paths = differing(kind, &wanted_leaves, live, owned.as_ref());
    let Some(owned) = owned else {
        return Action::Update { paths, adopt: true };
    };
    // A field sluice applied but no longer owns was changed by another
    // manager (an edit inside a list, which is replaced whole, may keep
    // every value sluice set and add one): ask the server.
    if same_digest && paths.is_empty() && !any_unowned(kind, &wanted_leaves, &owned) {
        return Action::Unchanged;
    }
    Action::Update {
        paths,
        adopt: false,
    }
}

/// Whether a desired leaf is not covered by sluice's managed fields.
fn any_unowned(kind: &str, wanted: &BTreeMap<Path, &Value>, owned: &BTreeSet<Path>) -> bool {
    if kind == "Secret" {
        // `stringData` is write-only: the server keeps `data`.
        return false;
    }
    wanted.iter().any(|(path, value)| {
        !value.is_null()
            && !matches!(path.as_slice(), [m, n] if m == "metadata" && (n == "name" || n == "namespace"))
            // The leaf itself: a field set that ends higher up (`f:driver`
            // alone) is what is left when another manager took the rest.
            && !owned.contains(path)
    })
}

/// The fields where the live object does not hold the desired values (as
/// the server stores them, see [`holds`]), and fields sluice owns that the
/// values no longer set.
fn differing(
    kind: &str,
    wanted: &BTreeMap<Path, &Value>,
    live: &Value,
    owned: Option<&BTreeSet<Path>>,
) -> Vec<String> {
    let mut out: BTreeSet<Path> = BTreeSet::new();
    for (path, value) in wanted {
        if path.len() == 3 && path[2] == DIGEST_ANNOTATION {
            continue;
        }
        if !holds(live, path, value, kind == "Secret") {
            out.insert(path.clone());
        }
    }
    for path in owned.into_iter().flatten() {
        let still_wanted = wanted
            .keys()
            .any(|w| w.starts_with(path) || path.starts_with(w));
        if !still_wanted {
            out.insert(path.clone());
        }
    }
    out.iter().map(|p| p.join(".")).collect()
}

/// Step two: settles a candidate with the server's dry-run answer (what
/// the object would be after the apply). Returns the confirmed action and
/// impact: `Unchanged` when applying changes nothing on the live object,
/// neither a value nor what sluice owns.
pub fn confirm(change: &Change, answer: &Value) -> (Action, Impact) {
    let Some(live) = &change.live else {
        return (Action::Create, impact_of_create(&change.kind));
    };
    // The digest counts: a change of the values that changes nothing else
    // (`1` → `1.0`, an added null) is still written once, or the object
    // would be a candidate, and cost a dry run, on every run after.
    let before = show::without_server_state(live);
    let after = show::without_server_state(answer);
    let paths = exact_differences(&before, &after);
    let ownership_moves = owned_fields(live) != owned_fields(answer);
    if paths.is_empty() && !ownership_moves {
        return (Action::Unchanged, Impact::None);
    }
    let generation = |o: &Value| o.pointer("/metadata/generation").and_then(Value::as_i64);
    let moved = generation(live) != generation(answer);
    let impact = impact(&change.kind, live, answer, Some(moved));
    (
        Action::Update {
            paths: paths.iter().map(|p| p.join(".")).collect(),
            adopt: paths.is_empty(),
        },
        impact,
    )
}

/// Every leaf that differs between two objects, both ways (lists whole).
fn exact_differences(a: &Value, b: &Value) -> BTreeSet<Path> {
    let (la, lb) = (leaves(a), leaves(b));
    let mut out = BTreeSet::new();
    for (path, value) in &lb {
        if la.get(path) != Some(value) {
            out.insert(path.clone());
        }
    }
    for path in la.keys() {
        if !lb.contains_key(path) {
            out.insert(path.clone());
        }
    }
    out
}

/// The state location a rendered or live stream object uses (its
/// engine's: the Spark checkpoint, Flink's `state.checkpoints.dir`), with
/// any credential in it masked: plans are shown.
pub fn checkpoint(object: &Value) -> Option<String> {
    Engine::of_object(object)?.state_location(object)
}

fn suspended(object: &Value) -> bool {
    Engine::of_object(object).is_some_and(|e| e.suspended(object))
}

/// What changing `before` into `after` does to the stream. `generation_moved`
/// is the server's word when there is one (a dry run or a write): without a
/// kept spec change nothing restarts.
pub fn impact(kind: &str, before: &Value, after: &Value, generation_moved: Option<bool>) -> Impact {
    let spec =
        |o: &Value| serde_json::json!({"spec": o.get("spec").cloned().unwrap_or(Value::Null)});
    let changed = exact_differences(&spec(before), &spec(after));
    impact_of_paths(kind, before, after, &changed, generation_moved)
}

/// [`impact`] from the spec paths known to change. Before the server has
/// answered, those are the desired side's (see [`decide`]): comparing
/// with the live spec both ways would count every defaulted field.
fn impact_of_paths(
    kind: &str,
    before: &Value,
    after: &Value,
    changed: &BTreeSet<Path>,
    generation_moved: Option<bool>,
) -> Impact {
    let Some(engine) = Engine::of_kind(kind) else {
        return Impact::None;
    };
    if generation_moved == Some(false) {
        return Impact::None;
    }
    let (from, to) = (engine.state_location(before), engine.state_location(after));
    // First: whatever else changes (a suspend too), a moved state location
    // means the stream runs again without its state.
    if from != to {
        return Impact::StateReset {
            from,
            to,
            renamed_from: None,
        };
    }
    let spec_paths: Vec<Path> = changed
        .iter()
        .filter(|p| p.first().is_some_and(|f| f == "spec"))
        .map(|p| p[1..].to_vec())
        .collect();
    engine.change_impact(before, after, &spec_paths)
}

fn impact_of_create(kind: &str) -> Impact {
    if Engine::of_kind(kind).is_some() {
        Impact::Start
    } else {
        Impact::None
    }
}

fn impact_of_delete(kind: &str, live: &Value) -> Impact {
    match Engine::of_kind(kind) {
        Some(engine) => engine.stop_impact(live),
        None => Impact::None,
    }
}

/// Whether an object is a stream's own (its engine's kind), which sorts
/// first and carries the stream's impact.
pub fn is_stream_object(kind: &str) -> bool {
    Engine::of_kind(kind).is_some()
}

/// Output order: by stream, the stream's own object first, then kind and
/// name.
pub fn sort(changes: &mut [Change]) {
    changes.sort_by(|a, b| {
        (&a.stream, !is_stream_object(&a.kind), &a.kind, &a.name).cmp(&(
            &b.stream,
            !is_stream_object(&b.kind),
            &b.kind,
            &b.name,
        ))
    });
}

/// Compares two renders of one object (offline, between git revisions):
/// every leaf counts, and the impact is predicted from the spec (there is
/// no server to ask).
pub fn compare(kind: &str, old: Option<&Value>, new: Option<&Value>) -> (Action, Impact) {
    match (old, new) {
        (None, None) => (Action::Unchanged, Impact::None),
        (None, Some(_)) => (Action::Create, impact_of_create(kind)),
        (Some(o), None) => (Action::Delete, impact_of_delete(kind, o)),
        (Some(o), Some(n)) => {
            let paths = exact_differences(o, n);
            if paths.is_empty() {
                return (Action::Unchanged, Impact::None);
            }
            (
                Action::Update {
                    paths: paths.iter().map(|p| p.join(".")).collect(),
                    adopt: false,
                },
                impact(kind, o, n, None),
            )
        }
    }
}

/// A stream renamed in one change: a SparkApplication created and one
/// pruned that write to the same sink (or, without one, run the same
/// application with the same arguments). The new one restarts from scratch
/// at its own checkpoint; this names it so.
pub fn name_renames(changes: &mut [Change]) {
    let identity = |o: &Value| Engine::of_object(o)?.identity(o);
    let pruned: Vec<(String, String, Option<String>)> = changes
        .iter()
        .filter(|c| is_stream_object(&c.kind) && c.action == Action::Delete)
        .filter_map(|c| {
            let live = c.live.as_ref()?;
            Some((identity(live)?, c.name.clone(), checkpoint(live)))
        })
        .collect();
    for c in changes
        .iter_mut()
        .filter(|c| is_stream_object(&c.kind) && c.action == Action::Create)
    {
        let Some(id) = c.desired.as_ref().and_then(identity) else {
            continue;
        };
        let same: Vec<&(String, String, Option<String>)> =
            pruned.iter().filter(|(i, _, _)| *i == id).collect();
        let to = c.desired.as_ref().and_then(checkpoint);
        if let [(_, old, from)] = same.as_slice()
            && *from != to
        {
            c.impact = Impact::StateReset {
                from: from.clone(),
                to,
                renamed_from: Some(old.clone()),
            };
        }
    }
}

/// Whether `now`, the object a planned delete finds when its
/// resourceVersion has moved, is still the one to delete: the same uid,
/// still carrying the labels that made it a prune candidate, and no spec
/// change since the plan (a status update moves the resourceVersion too).
pub fn still_prunable(planned: &Change, now: &Value) -> bool {
    let Some(then) = &planned.live else {
        return false;
    };
    let uid = |o: &Value| o.pointer("/metadata/uid").cloned();
    let labels = |o: &Value| o.pointer("/metadata/labels").cloned();
    uid(then) == uid(now)
        && labels(then) == labels(now)
        && then.get("spec") == now.get("spec")
        && now.pointer("/metadata/deletionTimestamp").is_none()
}

/// What the planner is given: the environment's render and what is live.
pub struct Input<'a> {
    pub environment: &'a str,
    pub namespace: &'a str,
    /// The ApplySet id members carry.
    pub applyset_id: &'a str,
    /// (stream, object) as sluice would apply them.
    pub desired: &'a [(String, Value)],
    /// Live objects by (apiVersion, kind), then name.
    pub live: &'a BTreeMap<(String, String), Map<String, Value>>,
    /// With `--changed-since`: whether a stream is in the selection.
    pub selected: &'a dyn Fn(&str) -> bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "{kind} `{name}` in namespace `{namespace}` belongs to environment `{owner}`, not `{environment}`: two environments must not deploy the same object (do they share a namespace?)"
    )]
    Owned {
        kind: String,
        name: String,
        namespace: String,
        owner: String,
        environment: String,
    },
}

fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get("metadata")?.get("labels")?.get(key)?.as_str()
}

/// Every rendered object against its live counterpart, plus the prune
/// candidates: members of this environment's set, with sluice's labels for
/// this environment, no longer rendered. Nothing else is ever deleted.
/// Candidates only: writes still go through [`confirm`].
pub fn plan(input: &Input<'_>) -> Result<Vec<Change>, PlanError> {
    let kind_of = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let mut changes = Vec::new();
    let mut wanted: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (stream, object) in input.desired {
        let (api_version, kind) = (kind_of(object, "apiVersion"), kind_of(object, "kind"));
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        wanted.insert((api_version.clone(), kind.clone(), name.clone()));
        if !(input.selected)(stream) {
            continue;
        }
        let current = input
            .live
            .get(&(api_version.clone(), kind.clone()))
            .and_then(|m| m.get(&name));
        // An object another environment deploys is never taken over, even
        // in a shared namespace: all environments apply as `sluice`, so the
        // server would not report a conflict.
        if let Some(owner) = current
            .and_then(|o| label(o, LABEL_ENVIRONMENT))
            .filter(|owner| *owner != input.environment)
        {
            return Err(PlanError::Owned {
                kind,
                name,
                namespace: input.namespace.to_owned(),
                owner: owner.to_owned(),
                environment: input.environment.to_owned(),
            });
        }
        let action = decide(object, current);
        let impact = match (&action, current) {
            (Action::Create, _) => impact_of_create(&kind),
            (Action::Update { paths, .. }, Some(live)) => {
                let changed: BTreeSet<Path> = paths
                    .iter()
                    .map(|p| p.split('.').map(str::to_owned).collect())
                    .collect();
                impact_of_paths(&kind, live, object, &changed, None)
            }
            _ => Impact::None,
        };
        changes.push(Change {
            stream: stream.clone(),
            api_version,
            kind,
            name,
            action,
            impact,
            desired: Some(object.clone()),
            live: current.cloned(),
        });
    }
    for ((api_version, kind), objects) in input.live {
        for (name, object) in objects {
            let member = label(object, crate::applyset::LABEL_PART_OF) == Some(input.applyset_id)
                && label(object, LABEL_MANAGED_BY) == Some("sluice")
                && label(object, LABEL_ENVIRONMENT) == Some(input.environment);
            let stream = label(object, LABEL_STREAM).unwrap_or("?");
            // With --changed-since, an untouched stream is not "no longer
            // rendered": only the selection is pruned.
            if member
                && (input.selected)(stream)
                && !wanted.contains(&(api_version.clone(), kind.clone(), name.clone()))
            {
                changes.push(Change {
                    stream: stream.to_owned(),
                    api_version: api_version.clone(),
                    kind: kind.clone(),
                    name: name.clone(),
                    action: Action::Delete,
                    impact: impact_of_delete(kind, object),
                    desired: None,
                    live: Some(object.clone()),
                });
            }
        }
    }
    name_renames(&mut changes);
    sort(&mut changes);
    Ok(changes)
}

/// How many live members of the environment would be left after the plan
/// (for the refusal to prune everything, which looks at the whole
/// environment, not a `--changed-since` selection).
pub fn members_left(input: &Input<'_>, changes: &[Change]) -> usize {
    let pruned = changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .count();
    let members = input
        .live
        .values()
        .flat_map(|m| m.values())
        .filter(|o| label(o, LABEL_ENVIRONMENT) == Some(input.environment))
        .filter(|o| label(o, crate::applyset::LABEL_PART_OF) == Some(input.applyset_id))
        .count();
    let created = changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .count();
    members + created - pruned.min(members)
}

/// The leaf fields of a desired object (lists are atomic, as in a CRD
/// without list-type markers), without the object's identity.
pub fn leaves(object: &Value) -> BTreeMap<Path, &Value> {
    let mut out = BTreeMap::new();
    let mut path = Vec::new();
    if let Value::Object(map) = object {
        for (k, v) in map {
            if k == "apiVersion" || k == "kind" || k == "status" {
                continue;
            }
            if k == "metadata" {
                for key in ["labels", "annotations"] {
                    if let Some(v) = v.get(key) {
                        path.push("metadata".to_owned());
                        path.push(key.to_owned());
                        collect(v, &mut path, &mut out);
                        path.clear();
                    }
                }
                continue;
            }
            path.push(k.clone());
            collect(v, &mut path, &mut out);
            path.pop();
        }
    }
    out
}

fn collect<'a>(value: &'a Value, path: &mut Path, out: &mut BTreeMap<Path, &'a Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                path.push(k.clone());
                collect(v, path, out);
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone(), value);
        }
    }
}

/// Whether the live object holds the desired value at `path`, as the API
/// server stores it: numbers compare by value (`1.0` is stored as `1`),
/// fields the server defaulted inside objects and list items are allowed,
/// an empty map or list may be dropped, and a Secret's write-only
/// `stringData` is compared with its `data`.
fn holds(live: &Value, path: &[String], desired: &Value, secret: bool) -> bool {
    if secret && path.first().is_some_and(|p| p == "stringData") {
        use base64::Engine;
        let encoded = desired
            .as_str()
            .map(|s| base64::engine::general_purpose::STANDARD.encode(s));
        let data: Vec<String> = std::iter::once("data".to_owned())
            .chain(path[1..].iter().cloned())
            .collect();
        return pointer(live, &data).and_then(Value::as_str) == encoded.as_deref();
    }
    match pointer(live, path) {
        Some(found) => matches(desired, found),
        // An explicit null is stored as no field at all.
        None => {
            desired.is_null()
                || matches!(desired, Value::Object(m) if m.is_empty())
                || matches!(desired, Value::Array(a) if a.is_empty())
        }
    }
}

fn matches(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
        (Value::Object(a), Value::Object(b)) => a.iter().all(|(k, v)| {
            b.get(k).is_some_and(|l| matches(v, l)) || (v.is_null() && !b.contains_key(k))
        }),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| matches(x, y))
        }
        (a, b) => a == b,
    }
}

fn pointer<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, k| v.get(k))
}

/// The leaf fields the `sluice` manager owns through apply, from the live
/// object's `managedFields`; `None` if it owns none.
pub fn owned_fields(live: &Value) -> Option<BTreeSet<Path>> {
    let entries = live.pointer("/metadata/managedFields")?.as_array()?;
    let entry = entries.iter().find(|e| {
        e.get("manager").and_then(Value::as_str) == Some(FIELD_MANAGER)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
    })?;
    let mut out = BTreeSet::new();
    if let Some(fields) = entry.get("fieldsV1") {
        walk_fields(fields, &mut Vec::new(), &mut out);
    }
    // Identity fields are not ours to remove.
    out.retain(
        |p| !matches!(p.as_slice(), [m, n] if m == "metadata" && (n == "name" || n == "namespace")),
    );
    Some(out)
}

fn walk_fields(fields: &Value, path: &mut Path, out: &mut BTreeSet<Path>) {
    let Some(map) = fields.as_object() else {
        return;
    };
    let named: Vec<(&String, &Value)> = map.iter().filter(|(k, _)| k.starts_with("f:")).collect();
    // List elements (`k:`, `v:`, `i:`) make the list itself the leaf: sluice
    // writes lists whole.
    let element = map
        .keys()
        .any(|k| k.starts_with("k:") || k.starts_with("v:") || k.starts_with("i:"));
    if (named.is_empty() || element) && !path.is_empty() {
        out.insert(path.clone());
        return;
    }
    for (k, child) in named {
        path.push(k[2..].to_owned());
        walk_fields(child, path, out);
        path.pop();
    }
}

/// Every object of a kind that a plan covers, keyed by name.
pub fn by_name(objects: Vec<Value>) -> Map<String, Value> {
    objects
        .into_iter()
        .filter_map(|o| Some((o.pointer("/metadata/name")?.as_str()?.to_owned(), o)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(spec: Value, labels: Value) -> Value {
        let mut o = json!({"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication",
               "metadata": {"name": "orders", "namespace": "ns", "labels": labels}, "spec": spec});
        add_digest(&mut o);
        o
    }

    /// A live object as the server returns it after sluice applied `applied`.
    fn live_after(applied: &Value, extra_spec: Value) -> Value {
        let mut live = applied.clone();
        let mut fields = json!({});
        for path in leaves(applied).keys() {
            let mut node = &mut fields;
            for seg in path {
                node = node
                    .as_object_mut()
                    .unwrap()
                    .entry(format!("f:{seg}"))
                    .or_insert(json!({}));
            }
        }
        live["metadata"]["managedFields"] = json!([{"manager": "sluice", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": fields}]);
        live["metadata"]["resourceVersion"] = json!("42");
        live["metadata"]["uid"] = json!("u-1");
        live["metadata"]["generation"] = json!(1);
        if let Value::Object(extra) = extra_spec {
            for (k, v) in extra {
                live["spec"][k] = v;
            }
        }
        live
    }

    fn is_update(a: &Action) -> bool {
        matches!(a, Action::Update { adopt: false, .. })
    }

    #[test]
    fn candidates() {
        let desired = app(
            json!({"type": "Scala", "arguments": ["--a", "1"], "driver": {"cores": 1}}),
            json!({"team": "bi"}),
        );
        assert_eq!(decide(&desired, None), Action::Create);
        // The same, plus fields a webhook defaulted: unchanged.
        let live = live_after(&desired, json!({"mode": "cluster"}));
        assert_eq!(decide(&desired, Some(&live)), Action::Unchanged);
        // A spec value changes.
        let changed = app(
            json!({"type": "Scala", "arguments": ["--a", "2"], "driver": {"cores": 1}}),
            json!({"team": "bi"}),
        );
        assert_eq!(
            decide(&changed, Some(&live)),
            Action::Update {
                paths: vec!["spec.arguments".into()],
                adopt: false
            }
        );
        // A field removed from the values: sluice owns it, so it must go.
        let removed = app(
            json!({"type": "Scala", "arguments": ["--a", "1"]}),
            json!({"team": "bi"}),
        );
        assert_eq!(
            decide(&removed, Some(&live)),
            Action::Update {
                paths: vec!["spec.driver.cores".into()],
                adopt: false
            }
        );
        // Right values, not owned by sluice: adopt.
        let mut foreign = desired.clone();
        foreign["metadata"]["managedFields"] =
            json!([{"manager": "kubectl", "operation": "Apply", "fieldsV1": {}}]);
        assert_eq!(
            decide(&desired, Some(&foreign)),
            Action::Update {
                paths: vec![],
                adopt: true
            }
        );
    }

    /// The changes the issue found planned as Unchanged: each is now a
    /// candidate, because the digest of what sluice applies moved.
    #[test]
    fn removals_inside_lists_and_emptied_maps_are_candidates() {
        let base = app(
            json!({"driver": {"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                              "sidecars": [{"name": "s", "image": "i", "command": ["a"]}]}}),
            json!({"team": "bi"}),
        );
        let live = live_after(&base, json!({}));
        assert_eq!(decide(&base, Some(&live)), Action::Unchanged);
        let cases = [
            json!({"driver": {"tolerations": [{"key": "k", "operator": "Exists"}],
                              "sidecars": [{"name": "s", "image": "i", "command": ["a"]}]}}),
            json!({"driver": {"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                              "sidecars": [{"name": "s", "image": "i"}]}}),
            json!({"driver": {"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                              "sidecars": [{"name": "s", "image": "i", "command": ["a"]}], "labels": {}}}),
            json!({"driver": {"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                              "sidecars": [{"name": "s", "image": "i", "command": ["a"]}], "x": null}}),
        ];
        for spec in cases {
            let desired = app(spec.clone(), json!({"team": "bi"}));
            assert!(
                is_update(&decide(&desired, Some(&live))),
                "not a candidate: {spec}"
            );
        }
    }

    #[test]
    fn values_as_the_server_stores_them_are_unchanged() {
        let desired = app(
            json!({"driver": {"cores": 1.0}, "driver2": {"ports": [{"containerPort": 80}]}, "empty": {}, "gone": null}),
            json!({"a": "b"}),
        );
        let mut live = live_after(&desired, json!({}));
        live["spec"]["driver"]["cores"] = json!(1);
        live["spec"]["driver2"]["ports"] = json!([{"containerPort": 80, "protocol": "TCP"}]);
        live["spec"].as_object_mut().unwrap().remove("empty");
        live["spec"].as_object_mut().unwrap().remove("gone");
        assert_eq!(decide(&desired, Some(&live)), Action::Unchanged);
        // Someone else changed a value: the digest still matches, the
        // value does not.
        live["spec"]["driver"]["cores"] = json!(2);
        assert!(is_update(&decide(&desired, Some(&live))));
        let mut secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "labels": {"a": "b"}}, "stringData": {"k": "v"}});
        add_digest(&mut secret);
        let mut live = live_after(&secret, json!({}));
        live.as_object_mut().unwrap().remove("stringData");
        live["data"] = json!({"k": "dg=="});
        assert_eq!(decide(&secret, Some(&live)), Action::Unchanged);
        live["data"]["k"] = json!("eA==");
        assert!(is_update(&decide(&secret, Some(&live))));
    }

    #[test]
    fn digests_ignore_key_order_and_themselves() {
        let a = json!({"kind": "X", "metadata": {"name": "a"}, "spec": {"b": 1, "a": [1, {"y": 1, "x": 2}]}});
        let b = json!({"metadata": {"name": "a"}, "kind": "X", "spec": {"a": [1, {"x": 2, "y": 1}], "b": 1}});
        assert_eq!(digest(&a), digest(&b));
        let mut c = a.clone();
        add_digest(&mut c);
        assert_eq!(digest(&c), digest(&a));
        let d =
            json!({"kind": "X", "metadata": {"name": "a"}, "spec": {"b": 1, "a": [1, {"y": 1}]}});
        assert_ne!(digest(&a), digest(&d));
    }

    #[test]
    fn the_dry_run_answer_settles_a_candidate() {
        let desired = app(json!({"arguments": ["1"], "x": null}), json!({}));
        let live = live_after(&desired, json!({}));
        let change = Change {
            stream: "orders".into(),
            api_version: "sparkoperator.k8s.io/v1beta2".into(),
            kind: "SparkApplication".into(),
            name: "orders".into(),
            action: Action::Update {
                paths: vec![],
                adopt: false,
            },
            impact: Impact::Restart,
            desired: Some(desired.clone()),
            live: Some(live.clone()),
        };
        // The server would store exactly what is live: nothing to write.
        let mut answer = live.clone();
        answer["metadata"]["resourceVersion"] = json!("43");
        assert_eq!(confirm(&change, &answer), (Action::Unchanged, Impact::None));
        // A label only: written, no restart (generation stays).
        answer["metadata"]["labels"]["team"] = json!("bi");
        let (action, impact) = confirm(&change, &answer);
        assert!(is_update(&action));
        assert_eq!(impact, Impact::None);
        // A spec change the server keeps: the generation moves.
        answer["spec"]["arguments"] = json!(["2"]);
        answer["metadata"]["generation"] = json!(2);
        assert_eq!(confirm(&change, &answer).1, Impact::Restart);
        // The spec differs but the server kept no change (pruned it): no restart.
        answer["metadata"]["generation"] = json!(1);
        assert_eq!(confirm(&change, &answer).1, Impact::None);
    }

    #[test]
    fn impacts() {
        let s = |spec: Value| json!({"spec": spec});
        let cp = |c: &str| json!({"spark.sql.streaming.checkpointLocation": c});
        let kind = "SparkApplication";
        let a = s(json!({"image": "a", "sparkConf": cp("s3a://x/_checkpoints/o")}));
        let b = s(json!({"image": "b", "sparkConf": cp("s3a://x/_checkpoints/o")}));
        let moved = s(json!({"image": "a", "sparkConf": cp("s3a://y/_checkpoints/o")}));
        assert_eq!(impact(kind, &a, &b, None), Impact::Restart);
        assert_eq!(impact(kind, &a, &b, Some(true)), Impact::Restart);
        assert_eq!(impact(kind, &a, &b, Some(false)), Impact::None);
        assert_eq!(impact("ConfigMap", &a, &b, Some(true)), Impact::None);
        assert_eq!(
            impact(kind, &a, &moved, None),
            Impact::StateReset {
                from: Some("s3a://x/_checkpoints/o".into()),
                to: Some("s3a://y/_checkpoints/o".into()),
                renamed_from: None
            }
        );
        let mut suspended = a.clone();
        suspended["spec"]["suspend"] = json!(true);
        assert_eq!(impact(kind, &a, &suspended, Some(true)), Impact::Suspend);
        assert_eq!(impact(kind, &suspended, &a, Some(true)), Impact::Resume);
        let mut ttl = a.clone();
        ttl["spec"]["timeToLiveSeconds"] = json!(60);
        assert_eq!(impact(kind, &a, &ttl, Some(true)), Impact::None);
        assert!(
            impact(kind, &a, &moved, None)
                .phrase()
                .contains("checkpoint moves from s3a://x/_checkpoints/o to s3a://y/_checkpoints/o")
        );
    }

    fn member(name: &str, env: &str, stream: &str) -> Value {
        let mut o = app(
            json!({"mainApplicationFile": "local:///a.jar", "sparkConf": {"spark.sluice.sink": format!("s3a://l/{stream}"), CHECKPOINT_CONF: format!("s3a://l/{stream}/_checkpoints/{name}")}}),
            json!({
            crate::applyset::LABEL_PART_OF: "set-1", LABEL_MANAGED_BY: "sluice", LABEL_ENVIRONMENT: env, LABEL_STREAM: stream}),
        );
        o["metadata"]["name"] = json!(name);
        live_after(&o, json!({}))
    }

    /// The plan of environment `dev`, every stream selected.
    fn plan_dev(
        desired: &[(String, Value)],
        live: &BTreeMap<(String, String), Map<String, Value>>,
    ) -> Vec<Change> {
        let all = |_: &str| true;
        plan(&Input {
            environment: "dev",
            namespace: "ns",
            applyset_id: "set-1",
            desired,
            live,
            selected: &all,
        })
        .unwrap()
    }

    fn live_set(objects: &[Value]) -> BTreeMap<(String, String), Map<String, Value>> {
        let mut m = BTreeMap::new();
        m.insert(
            (
                "sparkoperator.k8s.io/v1beta2".to_owned(),
                "SparkApplication".to_owned(),
            ),
            by_name(objects.to_vec()),
        );
        m
    }

    #[test]
    fn prune_selection_ownership_and_preconditions() {
        let live = live_set(&[
            member("a", "dev", "a"),
            member("b", "dev", "b"),
            member("c", "prod", "c"),
            {
                let mut foreign = member("d", "dev", "d");
                foreign["metadata"]["labels"]
                    .as_object_mut()
                    .unwrap()
                    .remove(crate::applyset::LABEL_PART_OF);
                foreign
            },
        ]);
        let mut a = member("a", "dev", "a");
        a["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        let desired = vec![("a".to_owned(), a)];
        let all = |_: &str| true;
        let input = Input {
            environment: "dev",
            namespace: "ns",
            applyset_id: "set-1",
            desired: &desired,
            live: &live,
            selected: &all,
        };
        let changes = plan(&input).unwrap();
        let deletes: Vec<&Change> = changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .collect();
        // Only b: c is prod's, d is not in the set.
        assert_eq!(deletes.len(), 1, "{changes:?}");
        assert_eq!(deletes[0].name, "b");
        assert_eq!(
            deletes[0].precondition(),
            Precondition {
                uid: Some("u-1".into()),
                resource_version: Some("42".into())
            }
        );
        assert_eq!(
            deletes[0].impact,
            Impact::Stop {
                checkpoint: Some("s3a://l/b/_checkpoints/b".into()),
                savepoint: None,
                deletes_state: false,
            }
        );
        assert_eq!(members_left(&input, &changes), 1);
        // With a selection, only selected streams are pruned, and the
        // guard still counts the whole environment.
        let only_b = |s: &str| s == "b";
        let none: Vec<(String, Value)> = Vec::new();
        let input = Input {
            desired: &none,
            selected: &only_b,
            ..input
        };
        let changes = plan(&input).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(members_left(&input, &changes), 1);
        // Another environment's object is never taken over.
        let theirs = vec![("c".to_owned(), member("c", "dev", "c"))];
        let input = Input {
            desired: &theirs,
            selected: &all,
            ..input
        };
        assert!(matches!(plan(&input), Err(PlanError::Owned { .. })));
    }

    #[test]
    fn a_renamed_stream_restarts_from_scratch() {
        let live = live_set(&[member("orders", "dev", "orders")]);
        let mut renamed = member("orders-v2", "dev", "orders");
        renamed["spec"]["sparkConf"][CHECKPOINT_CONF] =
            json!("s3a://l/orders/_checkpoints/orders-v2");
        renamed["metadata"]["labels"][LABEL_STREAM] = json!("orders-v2");
        let desired = vec![("orders-v2".to_owned(), renamed)];
        let changes = plan_dev(&desired, &live);
        let created = changes.iter().find(|c| c.action == Action::Create).unwrap();
        assert_eq!(
            created.impact,
            Impact::StateReset {
                from: Some("s3a://l/orders/_checkpoints/orders".into()),
                to: Some("s3a://l/orders/_checkpoints/orders-v2".into()),
                renamed_from: Some("orders".into())
            }
        );
    }

    /// Review findings, each a regression test.
    #[test]
    fn an_edit_inside_a_list_by_another_manager_is_a_candidate() {
        let desired = app(
            json!({"driver": {"tolerations": [{"key": "k", "operator": "Exists"}]}}),
            json!({}),
        );
        let mut live = live_after(&desired, json!({}));
        assert_eq!(decide(&desired, Some(&live)), Action::Unchanged);
        // kubectl edit adds tolerationSeconds: the values still hold, but
        // the list (atomic) now belongs to kubectl-edit.
        live["spec"]["driver"]["tolerations"][0]["tolerationSeconds"] = json!(30);
        let fields = &mut live["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:driver"];
        fields.as_object_mut().unwrap().remove("f:tolerations");
        assert!(is_update(&decide(&desired, Some(&live))));
    }

    #[test]
    fn a_suspend_never_hides_a_moved_checkpoint() {
        let cp = |c: &str| json!({"spec": {"sparkConf": {CHECKPOINT_CONF: c}}});
        let before = cp("s3a://a");
        let mut after = cp("s3a://b");
        after["spec"]["suspend"] = json!(true);
        assert!(impact("SparkApplication", &before, &after, Some(true)).resets_state());
        // The same checkpoint under a new name is no reset.
        let live = live_set(&[member("orders", "dev", "orders")]);
        let mut renamed = member("orders-v2", "dev", "orders");
        renamed["metadata"]["labels"][LABEL_STREAM] = json!("orders-v2");
        renamed["spec"]["sparkConf"][CHECKPOINT_CONF] = json!("s3a://l/orders/_checkpoints/orders");
        let desired = vec![("orders-v2".to_owned(), renamed)];
        let changes = plan_dev(&desired, &live);
        let created = changes.iter().find(|c| c.action == Action::Create).unwrap();
        assert_eq!(created.impact, Impact::Start);
    }

    #[test]
    fn a_change_of_the_digest_alone_is_written_once() {
        let desired = app(json!({"driver": {"cores": 1}}), json!({}));
        let live = live_after(&desired, json!({}));
        let mut newer = app(json!({"driver": {"cores": 1.0}}), json!({}));
        add_digest(&mut newer);
        let change = Change {
            stream: "orders".into(),
            api_version: "v".into(),
            kind: "SparkApplication".into(),
            name: "orders".into(),
            action: decide(&newer, Some(&live)),
            impact: Impact::None,
            desired: Some(newer.clone()),
            live: Some(live.clone()),
        };
        assert!(is_update(&change.action));
        let mut answer = live.clone();
        answer["metadata"]["annotations"][DIGEST_ANNOTATION] =
            newer["metadata"]["annotations"][DIGEST_ANNOTATION].clone();
        let (action, impact) = confirm(&change, &answer);
        assert!(is_update(&action), "{action:?}");
        assert_eq!(impact, Impact::None);
    }

    #[test]
    fn without_an_answer_defaulted_fields_do_not_predict_a_restart() {
        let mut object = member("orders", "dev", "orders");
        object["metadata"]["labels"]["team"] = json!("bi");
        let mut live = member("orders", "dev", "orders");
        live["spec"]["mode"] = json!("cluster");
        let live = live_set(&[live]);
        let desired = vec![("orders".to_owned(), object)];
        let changes = plan_dev(&desired, &live);
        assert!(is_update(&changes[0].action));
        assert_eq!(changes[0].impact, Impact::None);
    }

    #[test]
    fn owned_lists_are_leaves() {
        let live = json!({"metadata": {"managedFields": [{"manager": "sluice", "operation": "Apply", "fieldsV1": {
            "f:metadata": {"f:labels": {"f:a": {}}},
            "f:spec": {"f:arguments": {}, "f:driver": {"f:env": {"k:{\"name\":\"X\"}": {".": {}, "f:value": {}}}}}
        }}]}});
        let owned: Vec<String> = owned_fields(&live)
            .unwrap()
            .iter()
            .map(|p| p.join("."))
            .collect();
        assert_eq!(
            owned,
            ["metadata.labels.a", "spec.arguments", "spec.driver.env"]
        );
    }

    #[test]
    fn diffs_hide_secrets_but_show_that_they_changed() {
        let a = json!({"kind": "SparkApplication", "metadata": {"name": "x"}, "spec": {"sparkConf": {"spark.password": "one"}}});
        let b = json!({"kind": "SparkApplication", "metadata": {"name": "x"}, "spec": {"sparkConf": {"spark.password": "two"}}});
        let diff = unified_diff(Some(&a), Some(&b), "x");
        assert!(!diff.contains("one") && !diff.contains("two"), "{diff}");
        assert!(diff.contains("-    spark.password: <hidden"), "{diff}");
        let s = json!({"kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "c2VjcmV0"}});
        assert!(!unified_diff(None, Some(&s), "s").contains("c2VjcmV0"));
        let env = json!({"kind": "SparkApplication", "metadata": {"name": "x"}, "spec": {"driver": {"env": [{"name": "DB_PASSWORD", "value": "hunter2"}]}}});
        assert!(!unified_diff(None, Some(&env), "x").contains("hunter2"));
    }

    #[test]
    fn a_refused_dry_run_diffs_in_one_key_order() {
        let live = json!({"kind": "K", "metadata": {"name": "x"}, "spec": {"a": 1, "b": 2, "c": 3, "d": 4}});
        let after = json!({"kind": "K", "metadata": {"name": "x"}, "spec": {"d": 4, "c": 3, "b": 20, "a": 1}});
        let diff = show::sorted_diff_between(Some(&live), Some(&after), "x", ("live", "rendered"));
        let changed: Vec<&str> = diff
            .lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .collect();
        assert_eq!(changed, ["-  b: 2", "+  b: 20"], "{diff}");
    }
}
