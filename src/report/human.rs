//! Compiler-style diagnostics: `error[code]: message`, ` --> file:line:col`,
//! the source line with a caret under the span, notes and help.

use crate::diag::{Counts, Diagnostic, Severity};
use crate::source::{FileId, Sources};
use annotate_snippets::renderer::DecorStyle;
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// Renders one diagnostic. `styled` adds ANSI colours (the caller's stream
/// strips them when colour is off).
pub fn render(d: &Diagnostic, sources: &Sources, styled: bool) -> String {
    let renderer = if styled {
        Renderer::styled()
    } else {
        Renderer::plain()
    }
    .decor_style(DecorStyle::Ascii);
    let level = level(d.severity);
    let shown: Vec<(FileId, String)> = files_of(d)
        .into_iter()
        .map(|id| (id, sources.get(id).shown_text().into_owned()))
        .collect();
    let mut title = level.clone().primary_title(d.message.as_str()).id(d.code);
    let _ = &mut title;
    let mut group = Group::with_title(title);
    for (id, text) in &shown {
        let file = sources.get(*id);
        let mut snippet = Snippet::source(text.as_str()).path(file.path.as_str());
        if let Some(p) = d.primary.as_ref().filter(|p| p.span.file == *id) {
            snippet = snippet.annotation(
                AnnotationKind::Primary
                    .span(clamp(p.span.range(), text))
                    .label(p.message.as_str()),
            );
        }
        for s in d.secondary.iter().filter(|s| s.span.file == *id) {
            snippet = snippet.annotation(
                AnnotationKind::Context
                    .span(clamp(s.span.range(), text))
                    .label(s.message.as_str()),
            );
        }
        group = group.element(snippet);
    }
    for note in &d.notes {
        group = group.element(Level::NOTE.message(note.as_str()));
    }
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    let mut out = renderer.render(&[group]);
    out.push('\n');
    out
}

fn clamp(range: std::ops::Range<usize>, text: &str) -> std::ops::Range<usize> {
    let start = range.start.min(text.len());
    start..range.end.clamp(start, text.len())
}

/// Files a diagnostic shows, primary first.
fn files_of(d: &Diagnostic) -> Vec<FileId> {
    let mut ids: Vec<FileId> = d
        .primary
        .iter()
        .chain(&d.secondary)
        .map(|l| l.span.file)
        .collect();
    let mut seen = Vec::new();
    ids.retain(|id| {
        let new = !seen.contains(id);
        seen.push(*id);
        new
    });
    ids
}

fn level(severity: Severity) -> Level<'static> {
    match severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Info => Level::INFO,
    }
}

/// Every diagnostic, then a one-line summary.
pub fn report(
    diagnostics: &[Diagnostic],
    sources: &Sources,
    styled: bool,
    checked: &str,
) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&render(d, sources, styled));
        out.push('\n');
    }
    out.push_str(&summary(Counts::of(diagnostics), checked, styled));
    out
}

pub fn summary(counts: Counts, checked: &str, styled: bool) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    if counts.errors > 0 {
        parts.push(plural(counts.errors, "error"));
    }
    if counts.warnings > 0 {
        parts.push(plural(counts.warnings, "warning"));
    }
    if counts.infos > 0 {
        parts.push(plural(counts.infos, "info"));
    }
    let (style, word) = if counts.errors > 0 {
        (anstyle::AnsiColor::Red.on_default().bold(), "failed")
    } else {
        (anstyle::AnsiColor::Green.on_default().bold(), "ok")
    };
    let findings = if parts.is_empty() {
        "no findings".to_owned()
    } else {
        parts.join(", ")
    };
    if styled {
        format!("{style}{word}{style:#}: {findings} ({checked})\n")
    } else {
        format!("{word}: {findings} ({checked})\n")
    }
}
