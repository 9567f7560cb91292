//! `--format json`: the diagnostics as one JSON document.

use crate::diag::{Counts, Diagnostic, Subject};
use crate::source::{Sources, Span};
use serde::Serialize;

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    diagnostics: Vec<Item<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct Summary {
    #[serde(flatten)]
    counts: Counts,
    checked: usize,
}

#[derive(Serialize)]
struct Item<'a> {
    code: &'a str,
    severity: &'a str,
    message: &'a str,
    location: Option<Loc<'a>>,
    labels: Vec<Loc<'a>>,
    notes: &'a [String],
    help: Option<&'a str>,
    subjects: &'a [Subject],
}

#[derive(Serialize)]
struct Loc<'a> {
    path: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

fn loc<'a>(sources: &'a Sources, span: Span, message: Option<&'a str>) -> Loc<'a> {
    let file = sources.get(span.file);
    let (line, column) = file.line_col(span.start as usize);
    let (end_line, end_column) = file.line_col(span.end as usize);
    Loc {
        path: &file.path,
        line,
        column,
        end_line,
        end_column,
        message,
    }
}

pub fn report(diagnostics: &[Diagnostic], sources: &Sources, checked: usize) -> String {
    let diagnostics: &[Diagnostic] = &diagnostics
        .iter()
        .map(|d| d.clone().redacted(sources))
        .collect::<Vec<_>>();
    let report = Report {
        version: 1,
        diagnostics: diagnostics
            .iter()
            .map(|d| Item {
                code: d.code,
                severity: d.severity.as_str(),
                message: &d.message,
                location: d
                    .primary
                    .as_ref()
                    .map(|l| loc(sources, l.span, Some(&l.message))),
                labels: d
                    .secondary
                    .iter()
                    .map(|l| loc(sources, l.span, Some(&l.message)))
                    .collect(),
                notes: &d.notes,
                help: d.help.as_deref(),
                subjects: &d.subjects,
            })
            .collect(),
        summary: Summary {
            counts: Counts::of(diagnostics),
            checked,
        },
    };
    let mut out = serde_json::to_string_pretty(&report).expect("diagnostics serialize");
    out.push('\n');
    out
}
