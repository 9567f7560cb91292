//! `sluice history --env E [--stream S]`: what was applied to an
//! environment, when, from which commit, by which job (see
//! `crate::history`).

use super::cluster;
use super::{Exit, Global, SetFlags};
use crate::cluster::ClusterOptions;
use crate::history::Entry;
use crate::report::escape::line;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryFormat {
    Human,
    Json,
}

#[derive(Clone, Debug)]
pub struct HistoryOptions {
    pub environment: String,
    pub stream: Option<String>,
    pub cluster: ClusterOptions,
    pub format: HistoryFormat,
}

/// The environment's recorded applies, oldest first.
pub async fn entries(
    cluster: &crate::cluster::Cluster,
    desired: &cluster::Desired,
) -> anyhow::Result<Vec<Entry>> {
    let configmaps = crate::cluster::known_resource("v1", "ConfigMap").expect("known");
    let name = crate::history::configmap_name(&desired.environment);
    let live = cluster.get(&configmaps, &desired.namespace, &name).await?;
    Ok(crate::history::read(live.as_ref()))
}

pub fn run(global: &Global, options: &HistoryOptions) -> anyhow::Result<Exit> {
    let desired = cluster::desired(global, &options.environment, &[], &SetFlags::default())?;
    cluster::runtime().block_on(async {
        let cluster = cluster::connect(&options.cluster, &desired).await?;
        let mut entries = entries(&cluster, &desired).await?;
        if let Some(stream) = &options.stream {
            entries.retain(|e| e.touches(stream));
        }
        let text = match options.format {
            HistoryFormat::Json => format!(
                "{}\n",
                serde_json::to_string_pretty(&serde_json::json!({
                    "environment": desired.environment,
                    "namespace": desired.namespace,
                    "entries": entries,
                }))?
            ),
            HistoryFormat::Human => human(&desired.environment, &entries),
        };
        super::print(&text)?;
        Ok(Exit::Success)
    })
}

fn list(label: &str, streams: &[String]) -> Option<String> {
    (!streams.is_empty()).then(|| format!("{label} {}", line(&streams.join(", "))))
}

/// Newest first, one paragraph per apply. The entries are the cluster's
/// (anyone who may edit the ConfigMap wrote them): every text is shown on
/// one line, control characters escaped.
pub fn human(environment: &str, entries: &[Entry]) -> String {
    if entries.is_empty() {
        return format!("environment `{environment}`: no apply recorded yet\n");
    }
    let mut out = format!(
        "environment `{environment}`: the last {} appl{}, newest first\n",
        entries.len(),
        if entries.len() == 1 { "y" } else { "ies" }
    );
    for (n, e) in entries.iter().rev().enumerate() {
        let revision = e
            .revision
            .as_deref()
            .map_or("(not a git checkout)".to_owned(), crate::history::short);
        let mut notes = Vec::new();
        if e.dirty {
            notes.push("with uncommitted changes");
        }
        if e.rollback {
            notes.push("rollback");
        }
        if let Some(command) = &e.command {
            notes.push(if command == "restart" {
                "sluice restart"
            } else {
                "another command"
            });
        }
        if !e.complete {
            notes.push("incomplete: a write or a wave failed");
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        out.push_str(&format!(
            "\n{}  {}  {}{notes}  sluice {}\n",
            n + 1,
            line(&e.time),
            line(&revision),
            line(&e.sluice_version)
        ));
        if e.job_url.is_some() || e.user.is_some() {
            out.push_str(&format!(
                "   by {} {}\n",
                line(e.user.as_deref().unwrap_or("?")),
                line(e.job_url.as_deref().unwrap_or(""))
            ));
        }
        let lines: Vec<String> = [
            list("created", &e.created),
            list("changed", &e.changed),
            list("restarted", &e.restarted),
            list("pruned", &e.pruned),
        ]
        .into_iter()
        .flatten()
        .collect();
        for line in lines {
            out.push_str(&format!("   {line}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_with_what_and_who() {
        let old = Entry {
            time: "2026-12-01T17:00:00Z".into(),
            revision: Some("0123456789abcdef0123".into()),
            sluice_version: "0.1.0".into(),
            created: vec!["orders".into()],
            complete: true,
            ..Entry::default()
        };
        let new = Entry {
            time: "2026-12-01T18:00:00Z".into(),
            revision: Some("fedcba9876543210fedc".into()),
            dirty: true,
            sluice_version: "0.1.0".into(),
            job_url: Some("https://gitlab.example.com/bi/streams/-/jobs/42".into()),
            user: Some("jdoe".into()),
            changed: vec!["orders".into()],
            restarted: vec!["orders".into()],
            complete: true,
            ..Entry::default()
        };
        let text = human("prod", &[old, new]);
        let first = text.find("fedcba987654").unwrap();
        assert!(first < text.find("0123456789ab").unwrap(), "{text}");
        assert!(text.contains("(with uncommitted changes)"), "{text}");
        assert!(
            text.contains("by jdoe https://gitlab.example.com/bi/streams/-/jobs/42"),
            "{text}"
        );
        assert!(text.contains("restarted orders"), "{text}");
    }
}
