//! `sluice values`: the effective values of streams in an environment, with
//! the file and line that set each one ("why is this 8g?").

use super::select;
use super::{Exit, Global, SetFlags, UsageError};
use crate::diag::{self, Diagnostic};
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
    super::require_readable_streams(global, &loaded, &options.environment, &options.streams)?;
    let named = |name: &str| options.streams.iter().any(|s| s == name);
    // With provenance, what rendering adds is shown too, as "sluice default".
    let defaults = options
        .provenance
        .then(|| print::add_defaults_source(&mut loaded.sources));
    let (found, outcomes) = crate::pipeline::values(&loaded.input(&environments, &sets), |e, _| {
        let shown = if options.streams.is_empty() {
            e.enabled()
        } else {
            named(e.name())
        };
        if !shown {
            return None;
        }
        let values = match defaults {
            Some(file) => print::with_defaults(&e.values, file, &loaded.sources),
            None => e.values.clone(),
        };
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
                    &values,
                    options.provenance.then_some(&loaded.sources),
                ));
                Shown::Text(out)
            }
            ValuesFormat::Json if options.provenance => Shown::Json(
                e.name().to_owned(),
                serde_json::json!({
                    "values": print::redacted_json(&values),
                    "provenance": print::provenance_json(&values, &loaded.sources),
                }),
            ),
            ValuesFormat::Json => Shown::Json(e.name().to_owned(), print::redacted_json(&values)),
        })
    });
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
    // Bad input prints nothing on stdout (exit 2), as `render` does:
    // merged values of files with errors would be a guess.
    let diagnostics = diag::normalize(loaded.diagnostics, &loaded.sources);
    let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        let mut text = super::shown(global, &loaded.sources, errors.iter().copied());
        text.push_str(&format!(
            "error: nothing shown: {} error{} in the values (`sluice lint --env {}` shows every finding)\n",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            options.environment,
        ));
        return Err(UsageError {
            message: String::new(),
            help: None,
            rendered: Some(text),
        }
        .into());
    }
    super::print(&out)?;
    Ok(Exit::Success)
}

enum Shown {
    Text(String),
    Json(String, serde_json::Value),
}
