//! What ran in an environment, and from which commit (pure): every apply
//! that writes records one entry in the ConfigMap `sluice-history-<env>`
//! beside the ApplySet parent: the git revision (and whether the tree had
//! uncommitted changes), the time, sluice's version, the GitLab job and
//! user when in CI, and the streams created, changed, restarted and
//! pruned. Never values, and never secrets: names, a revision and a URL.
//! The last [`KEEP`] entries are kept.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Entries kept, newest last.
pub const KEEP: usize = 50;

/// The key of the ConfigMap's data that holds the entries (JSON).
pub const DATA_KEY: &str = "history.json";

pub fn configmap_name(environment: &str) -> String {
    format!("sluice-history-{environment}")
}

/// One apply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339, UTC.
    pub time: String,
    /// The commit the values were read from (`None`: not a git checkout).
    pub revision: Option<String>,
    /// The working tree had changes the commit does not hold.
    #[serde(default)]
    pub dirty: bool,
    /// Deployed with `--rev` (an older revision) or `sluice rollback`.
    #[serde(default)]
    pub rollback: bool,
    /// The command, when not an apply (`restart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub sluice_version: String,
    /// `CI_JOB_URL`, in GitLab CI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_url: Option<String>,
    /// `GITLAB_USER_LOGIN`, in GitLab CI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default)]
    pub created: Vec<String>,
    #[serde(default)]
    pub changed: Vec<String>,
    #[serde(default)]
    pub restarted: Vec<String>,
    #[serde(default)]
    pub pruned: Vec<String>,
    /// Whether every write succeeded.
    #[serde(default = "yes")]
    pub complete: bool,
}

fn yes() -> bool {
    true
}

impl Entry {
    /// Whether the entry concerns a stream.
    pub fn touches(&self, stream: &str) -> bool {
        [&self.created, &self.changed, &self.restarted, &self.pruned]
            .iter()
            .any(|l| l.iter().any(|s| s == stream))
    }

    /// Whether the stream was written from this entry's revision (a
    /// restart writes what was live, from whichever revision that was).
    pub fn applied(&self, stream: &str) -> bool {
        self.command.is_none()
            && [&self.created, &self.changed]
                .iter()
                .any(|l| l.iter().any(|s| s == stream))
    }
}

/// The entries a history ConfigMap holds (none when it holds no readable
/// list: a history is never a reason to refuse an apply).
pub fn read(configmap: Option<&Value>) -> Vec<Entry> {
    configmap
        .and_then(|c| c.get("data")?.get(DATA_KEY))
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// The entries with `entry` added, the oldest dropped past [`KEEP`].
pub fn append(mut entries: Vec<Entry>, entry: Entry) -> Vec<Entry> {
    entries.push(entry);
    let excess = entries.len().saturating_sub(KEEP);
    entries.drain(..excess);
    entries
}

/// The ConfigMap that holds `entries` (applied by sluice; not a member of
/// the ApplySet, so never pruned).
pub fn configmap(environment: &str, namespace: &str, entries: &[Entry]) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": configmap_name(environment),
            "namespace": namespace,
            "labels": {
                crate::render::LABEL_MANAGED_BY: "sluice",
                crate::render::LABEL_ENVIRONMENT: environment,
            },
        },
        "data": {DATA_KEY: serde_json::to_string(entries).expect("entries serialize")},
    })
}

/// A revision as shown: its first 12 characters (the ConfigMap is the
/// cluster's, and may hold anything).
pub fn short(revision: &str) -> String {
    revision.chars().take(12).collect()
}

/// The revision each stream was last written from, newest entry first.
pub fn last_revision<'e>(entries: &'e [Entry], stream: &str) -> Option<&'e Entry> {
    entries.iter().rev().find(|e| e.applied(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize, changed: &[&str]) -> Entry {
        Entry {
            time: format!("2026-12-01T00:00:{n:02}Z"),
            revision: Some(format!("{n:040}")),
            sluice_version: "0.1.0".into(),
            changed: changed.iter().map(|s| (*s).to_owned()).collect(),
            complete: true,
            ..Entry::default()
        }
    }

    #[test]
    fn bounded_newest_last_and_read_back() {
        let mut entries = Vec::new();
        for n in 0..60 {
            entries = append(entries, entry(n, &["orders"]));
        }
        assert_eq!(entries.len(), KEEP);
        assert_eq!(entries[0].time, "2026-12-01T00:00:10Z");
        let map = configmap("prod", "bi-prod", &entries);
        assert_eq!(read(Some(&map)), entries);
        assert_eq!(map["metadata"]["name"], "sluice-history-prod");
        // Unreadable data is no history, not an error.
        assert!(read(Some(&json!({"data": {DATA_KEY: "not json"}}))).is_empty());
        assert!(read(None).is_empty());
    }

    #[test]
    fn a_streams_last_revision_is_the_last_entry_that_wrote_it() {
        let entries = vec![entry(1, &["orders"]), entry(2, &["payments"])];
        assert_eq!(
            last_revision(&entries, "orders").and_then(|e| e.revision.clone()),
            Some(format!("{:040}", 1))
        );
        assert!(last_revision(&entries, "refunds").is_none());
        assert!(entries[1].touches("payments") && !entries[1].touches("orders"));
    }
}
