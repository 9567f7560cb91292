//! `sluice values`: the effective values of streams in an environment, with
//! the file and line that set each one ("why is this 8g?").

use super::lint::select;
use super::{Exit, Global, SetFlags};
use crate::diag::{self, Diagnostic};
use crate::values::check::check;
use crate::values::print;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValuesFormat {
    Yaml,
    Json,
}

#[derive(Clone, Debug)]
pub struct ValuesOptions {
    pub environment: String,
    pub streams: Vec<String>,
    pub sets: SetFlags,
    pub provenance: bool,
    pub format: ValuesFormat,
}

pub fn run(global: &Global, options: &ValuesOptions) -> anyhow::Result<Exit> {
    let mut loaded = super::load(global)?;
    let environments = select(&loaded.repo, std::slice::from_ref(&options.environment))?;
    let sets = options.sets.parse(&mut loaded.sources, global)?;
    super::require_streams(&loaded.repo, &options.environment, &options.streams)?;
    let named = |name: &str| options.streams.iter().any(|s| s == name);
    let (found, outcomes) = check(
        &loaded.repo,
        &environments,
        &sets,
        &loaded.schema,
        &loaded.sources,
        |e, _| {
            let shown = if options.streams.is_empty() {
                e.enabled()
            } else {
                named(e.name())
            };
            if !shown {
                return None;
            }
            Some(match options.format {
                ValuesFormat::Yaml => {
                    let mut out = format!(
                        "---\n# stream `{}` in environment `{}`",
                        e.name(),
                        e.environment.name
                    );
                    if !e.enabled() {
                        out.push_str(" (disabled: `enabled: false`)");
                    }
                    out.push('\n');
                    out.push_str(&print::to_yaml(
                        &e.values,
                        options.provenance.then_some(&loaded.sources),
                    ));
                    Shown::Text(out)
                }
                ValuesFormat::Json => {
                    Shown::Json(e.name().to_owned(), print::redacted_json(&e.values))
                }
            })
        },
    );
    loaded.diagnostics.extend(found);
    let shown: Vec<Shown> = outcomes.into_iter().filter_map(|o| o.result).collect();
    let out = match options.format {
        ValuesFormat::Yaml => shown
            .into_iter()
            .map(|s| {
                if let Shown::Text(t) = s {
                    t
                } else {
                    String::new()
                }
            })
            .collect(),
        ValuesFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> = shown
                .into_iter()
                .filter_map(|s| {
                    if let Shown::Json(k, v) = s {
                        Some((k, v))
                    } else {
                        None
                    }
                })
                .collect();
            format!("{}\n", serde_json::to_string_pretty(&map)?)
        }
    };
    // Findings go to stderr, so stdout stays a clean document.
    let diagnostics = diag::normalize(loaded.diagnostics, &loaded.sources);
    let styled = global.styled(true);
    for d in diagnostics.iter().filter(|d| d.is_error()) {
        eprint!(
            "{}",
            crate::report::human::render(d, &loaded.sources, styled)
        );
    }
    super::print(&out)?;
    Ok(if diagnostics.iter().any(Diagnostic::is_error) {
        Exit::Findings
    } else {
        Exit::Success
    })
}

enum Shown {
    Text(String),
    Json(String, serde_json::Value),
}
