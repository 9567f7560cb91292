//! One value of one stream in one environment, given by the smallest edit
//! of the stream's own layer for that environment (pure): what `sluice
//! suspend` and `sluice resume` write. The layer is the one a promotion
//! edits per stream (see `plan`): the stream's `environments: {E: ...}`
//! block, or the entry of an environment file's own `streams:` list.

use super::edit::Change;
use super::plan::{
    Layers, Refusal, effective, merged_at, own_edit, own_layer, pointer_get, segs, strip, touches,
};
use crate::source::Sources;
use crate::values::repo::{Environment, Repository, StreamDef};
use serde_json::Value;

/// The edit of one file that gives a stream its new value.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamEdit {
    /// Repository-relative path of the file to edit.
    pub file: String,
    pub change: Change,
    /// The effective value before and after (`None`: not set).
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// The stream's definition that `environment` reads.
pub fn definition<'r>(
    repo: &'r Repository,
    stream: &str,
    environment: &Environment,
) -> Result<&'r StreamDef, Refusal> {
    let def = repo
        .streams
        .iter()
        .find(|d| d.name == stream && d.applies_to(&environment.name))
        .ok_or_else(|| {
            Refusal(if repo.streams.iter().any(|d| d.name == stream) {
                format!("stream `{stream}` is not in {}", environment.name)
            } else {
                format!("no stream `{stream}`")
            })
        })?;
    Ok(def)
}

/// The edit that makes `path` of `stream` in `environment` what `want`
/// says, given the value the lower layers give it (`None`: nothing to
/// edit, the stream has it already). `want` answers the wanted effective
/// value (`None`: not set).
pub fn edit(
    repo: &Repository,
    sources: &Sources,
    stream: &str,
    environment: &Environment,
    path: &[String],
    want: impl Fn(Option<&Value>) -> Option<Value>,
) -> Result<Option<StreamEdit>, Refusal> {
    let def = definition(repo, stream, environment)?;
    let layers = Layers::of(repo, sources, def, environment);
    let values = effective(repo, sources, def, environment);
    if values.get("enabled").and_then(Value::as_bool) == Some(false) {
        return Err(Refusal(format!(
            "stream `{stream}` is left out of {} (`enabled: false`)",
            environment.name
        )));
    }
    let old = pointer_get(&values, path).cloned();
    let (prefix, is_block) = own_layer(def, &environment.name, path, &layers);
    let (below, has) = if is_block {
        (
            merged_at(&[&layers.common, &layers.env, &layers.def], path),
            touches(&layers.block, path),
        )
    } else {
        (
            merged_at(&[&layers.common, &layers.env], path),
            touches(&layers.def, path),
        )
    };
    let new = want(below.as_ref());
    if old == new {
        return Ok(None);
    }
    let Some(op) = own_edit(below.as_ref(), has, new.as_ref()) else {
        return Ok(None);
    };
    Ok(Some(StreamEdit {
        file: def.path.clone(),
        change: Change {
            path: segs(&prefix, path),
            op,
        },
        old,
        new,
    }))
}

/// The promise, checked on the edited repository: each of `streams` in
/// `environment` has its new value at `path`, and nothing else changes
/// in any stream in any environment.
pub fn verify(
    before: (&Repository, &Sources),
    after: (&Repository, &Sources),
    environment: &str,
    path: &[String],
    streams: &[(String, Option<Value>)],
) -> Result<(), Refusal> {
    for env in &before.0.environments {
        let env_after = after
            .0
            .environment(&env.name)
            .ok_or_else(|| Refusal(format!("the edit would remove environment `{}`", env.name)))?;
        let names = |repo: &Repository| -> Vec<String> {
            repo.streams
                .iter()
                .filter(|d| d.applies_to(&env.name))
                .map(|d| d.name.clone())
                .collect()
        };
        if names(before.0) != names(after.0) {
            return Err(Refusal(format!(
                "the edit would change which streams {} has",
                env.name
            )));
        }
        for def in before.0.streams.iter().filter(|d| d.applies_to(&env.name)) {
            let def_after = definition(after.0, &def.name, env_after)?;
            let mut old = effective(before.0, before.1, def, env);
            let mut is = effective(after.0, after.1, def_after, env_after);
            let asked = streams.iter().find(|(s, _)| *s == def.name);
            if let Some((stream, new)) = asked.filter(|_| env.name == environment) {
                if pointer_get(&is, path) != new.as_ref() {
                    return Err(Refusal(format!(
                        "stream `{stream}` in {environment}: `{}` would not be what was asked",
                        path.join(".")
                    )));
                }
                strip(&mut old, path);
                strip(&mut is, path);
            }
            if old != is {
                return Err(Refusal(format!(
                    "the edit would also change stream `{}` in {}",
                    def.name, env.name
                )));
            }
        }
    }
    Ok(())
}
