//! Which streams a set of changed files touches (pure), for
//! `--changed-since`: a stream's file → that stream; `common.yaml`, a
//! template, the schema or a CRD → every stream everywhere; an environment file →
//! every stream of that environment.

use crate::values::repo::Repository;
use std::collections::BTreeSet;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Affected {
    /// Every stream of every environment.
    pub everything: bool,
    /// Every stream of these environments.
    pub environments: BTreeSet<String>,
    /// These streams, wherever they are deployed.
    pub streams: BTreeSet<String>,
}

impl Affected {
    pub fn of(repo: &Repository, changed: &[String]) -> Affected {
        let mut out = Affected::default();
        for path in changed {
            let name = path.rsplit('/').next().unwrap_or(path);
            let stem = name.trim_end_matches(".yaml").trim_end_matches(".yml");
            if path == "values/common.yaml"
                || path == "values/common.yml"
                || path.starts_with("templates/")
                || path == "schemas/values.schema.json"
                || path.starts_with("schemas/crds/")
            {
                out.everything = true;
            } else if path.starts_with("values/environments/") {
                out.environments.insert(stem.to_owned());
            } else if path.starts_with("values/streams/") {
                // Its definition now, or (deleted) the name its file gave it.
                let defined: Vec<&str> = repo
                    .streams
                    .iter()
                    .filter(|d| &d.path == path)
                    .map(|d| d.name.as_str())
                    .collect();
                if defined.is_empty() {
                    out.streams.insert(stem.to_owned());
                }
                out.streams.extend(defined.into_iter().map(str::to_owned));
            }
        }
        out
    }

    pub fn includes(&self, environment: &str, stream: &str) -> bool {
        self.everything || self.environments.contains(environment) || self.streams.contains(stream)
    }

    pub fn describe(&self) -> String {
        if self.everything {
            return "every stream (a shared file changed)".to_owned();
        }
        let mut parts = Vec::new();
        if !self.environments.is_empty() {
            parts.push(format!(
                "every stream of {}",
                self.environments
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.streams.is_empty() {
            parts.push(self.streams.iter().cloned().collect::<Vec<_>>().join(", "));
        }
        if parts.is_empty() {
            "no stream".to_owned()
        } else {
            parts.join("; ")
        }
    }
}
