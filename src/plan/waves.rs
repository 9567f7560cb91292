//! Restart waves (pure): the order in which `apply` writes a plan when an
//! environment limits how many streams restart at once (`rollout:`,
//! `--max-unavailable`). First, in one step, every write of the streams
//! that do not restart (creates, changes the operator applies in place);
//! then the canary streams, in a wave of their own; then the other
//! restarting streams, by name, at most `max_unavailable` per wave. Each
//! wave is written only once the previous one is healthy. Prunes come
//! after the last wave, as without waves.

use super::{Action, Change};
use serde::Serialize;
use std::collections::BTreeSet;

/// One step of a rollout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Wave {
    /// The streams whose objects the step writes.
    pub streams: Vec<String>,
    /// Whether the step restarts them (so `apply` waits for them to be
    /// healthy before the next step).
    pub restarts: bool,
    pub canary: bool,
    /// Indices into the plan's changes.
    #[serde(skip)]
    pub changes: Vec<usize>,
}

/// The steps of a plan's writes; `None` and no canary: one step.
pub fn waves(changes: &[Change], max_unavailable: Option<usize>, canary: &[String]) -> Vec<Wave> {
    let writes = |c: &Change| c.writes() && c.action != Action::Delete;
    let restarting: BTreeSet<&str> = changes
        .iter()
        .filter(|c| writes(c) && c.restarts())
        .map(|c| c.stream.as_str())
        .collect();
    let step = |streams: Vec<&str>, restarts: bool, canary: bool| -> Option<Wave> {
        let indices: Vec<usize> = changes
            .iter()
            .enumerate()
            .filter(|(_, c)| writes(c) && streams.contains(&c.stream.as_str()))
            .map(|(i, _)| i)
            .collect();
        (!indices.is_empty()).then(|| Wave {
            streams: streams.iter().map(|s| (*s).to_owned()).collect(),
            restarts,
            canary,
            changes: indices,
        })
    };
    let calm: BTreeSet<&str> = changes
        .iter()
        .filter(|c| writes(c) && !restarting.contains(c.stream.as_str()))
        .map(|c| c.stream.as_str())
        .collect();
    let mut out: Vec<Wave> = step(calm.into_iter().collect(), false, false)
        .into_iter()
        .collect();
    let canaries: Vec<&str> = canary
        .iter()
        .map(String::as_str)
        .filter(|s| restarting.contains(s))
        .collect();
    out.extend(step(canaries.clone(), true, true));
    let rest: Vec<&str> = restarting
        .iter()
        .copied()
        .filter(|s| !canaries.contains(s))
        .collect();
    let size = max_unavailable.unwrap_or(rest.len()).max(1);
    for chunk in rest.chunks(size) {
        out.extend(step(chunk.to_vec(), true, false));
    }
    out
}

/// How many of the steps restart streams.
pub fn restart_waves(waves: &[Wave]) -> usize {
    waves.iter().filter(|w| w.restarts).count()
}

/// One line per restarting wave, for plans and reports.
pub fn describe(waves: &[Wave]) -> Vec<String> {
    let total = restart_waves(waves);
    waves
        .iter()
        .filter(|w| w.restarts)
        .enumerate()
        .map(|(k, w)| {
            format!(
                "wave {} of {total}{}: {}",
                k + 1,
                if w.canary { " (canary)" } else { "" },
                w.streams.join(", ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Impact;

    fn change(stream: &str, kind: &str, action: Action, impact: Impact) -> Change {
        Change {
            stream: stream.into(),
            api_version: "v1".into(),
            kind: kind.into(),
            name: stream.into(),
            action,
            impact,
            desired: Some(serde_json::json!({})),
            live: None,
        }
    }

    fn update() -> Action {
        Action::Update {
            paths: vec!["spec.image".into()],
            adopt: false,
        }
    }

    fn plan() -> Vec<Change> {
        let mut changes = vec![
            change("new", "SparkApplication", Action::Create, Impact::Start),
            change("calm", "SparkApplication", update(), Impact::None),
            change("gone", "SparkApplication", Action::Delete, Impact::None),
            change("same", "SparkApplication", Action::Unchanged, Impact::None),
        ];
        for s in ["a", "b", "c", "d", "e"] {
            changes.push(change(s, "SparkApplication", update(), Impact::Restart));
            changes.push(change(s, "ConfigMap", update(), Impact::None));
        }
        changes
    }

    fn streams(waves: &[Wave]) -> Vec<(Vec<String>, bool, bool)> {
        waves
            .iter()
            .map(|w| (w.streams.clone(), w.restarts, w.canary))
            .collect()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn calm_writes_first_then_canaries_then_waves_of_at_most_n() {
        let changes = plan();
        let w = waves(&changes, Some(2), &names(&["d", "nowhere"]));
        assert_eq!(
            streams(&w),
            [
                (names(&["calm", "new"]), false, false),
                (names(&["d"]), true, true),
                (names(&["a", "b"]), true, false),
                (names(&["c", "e"]), true, false),
            ]
        );
        // A stream's other objects go with it; deletes and unchanged
        // objects are in no wave.
        assert_eq!(w[1].changes.len(), 2);
        let all: usize = w.iter().map(|w| w.changes.len()).sum();
        assert_eq!(all, 2 + 10);
        assert_eq!(
            describe(&w),
            [
                "wave 1 of 3 (canary): d",
                "wave 2 of 3: a, b",
                "wave 3 of 3: c, e"
            ]
        );
    }

    #[test]
    fn sizes_one_and_all() {
        let changes = plan();
        assert_eq!(restart_waves(&waves(&changes, Some(1), &[])), 5);
        assert_eq!(restart_waves(&waves(&changes, None, &[])), 1);
        assert_eq!(restart_waves(&waves(&changes, Some(50), &[])), 1);
        // A suspended stream is not restarted by a change.
        let mut suspended = plan();
        for c in &mut suspended {
            c.desired =
                Some(serde_json::json!({"kind": "SparkApplication", "spec": {"suspend": true}}));
        }
        assert_eq!(restart_waves(&waves(&suspended, Some(1), &[])), 0);
    }
}
