//! `--format codequality`: a GitLab Code Quality report (a JSON array of
//! issues), shown inline in merge requests.

use crate::diag::{Diagnostic, Severity};
use crate::source::Sources;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

#[derive(Serialize)]
struct Issue<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    description: String,
    check_name: &'a str,
    fingerprint: String,
    severity: &'static str,
    categories: [&'static str; 1],
    location: Location<'a>,
}

#[derive(Serialize)]
struct Location<'a> {
    path: &'a str,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: usize,
}

pub fn report(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let diagnostics: &[Diagnostic] = &diagnostics
        .iter()
        .map(|d| d.clone().redacted(sources))
        .collect::<Vec<_>>();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let issues: Vec<Issue> = diagnostics
        .iter()
        .map(|d| {
            let (path, line) = d.primary.as_ref().map_or(("values", 1), |l| {
                let loc = sources.location(l.span);
                (loc.path, loc.line)
            });
            // Stable across runs and unaffected by lines moving: what and
            // where (file), plus an occurrence counter for repeats.
            let base = format!("{}\0{}\0{}", d.code, path, d.message);
            let n = seen.entry(base.clone()).or_default();
            *n += 1;
            let digest = Sha256::digest(format!("{base}\0{n}").as_bytes());
            let fingerprint: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
            let mut description = d.message.clone();
            if let Some(help) = &d.help {
                description.push_str(" (help: ");
                description.push_str(help);
                description.push(')');
            }
            Issue {
                kind: "issue",
                description,
                check_name: d.code,
                fingerprint,
                severity: match d.severity {
                    Severity::Error => "major",
                    Severity::Warning => "minor",
                    Severity::Info => "info",
                },
                categories: ["Bug Risk"],
                location: Location {
                    path,
                    lines: Lines { begin: line },
                },
            }
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&issues).expect("issues serialize");
    out.push('\n');
    out
}
