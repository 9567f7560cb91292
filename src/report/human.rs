//! Compiler-style diagnostics: `error[code]: message`, ` --> file:line:col`,
//! the source line with a caret under the span, notes and help.

use crate::diag::{Counts, Diagnostic, Severity};
use crate::source::{FileId, Sources};
use annotate_snippets::renderer::DecorStyle;
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use std::ops::Range;

use super::escape;

/// Renders one diagnostic. `styled` adds ANSI colours (the caller's stream
/// strips them when colour is off).
pub fn render(d: &Diagnostic, sources: &Sources, styled: bool) -> String {
    let d = &d.clone().redacted(sources);
    let renderer = if styled {
        Renderer::styled()
    } else {
        Renderer::plain()
    }
    .decor_style(DecorStyle::Ascii);
    let level = level(d.severity);
    // Values and file names are the user's: no control character of
    // theirs reaches the terminal (see `escape`).
    let message = escape::text(&d.message);
    let shown: Vec<(FileId, String, Vec<Shown>)> = files_of(d)
        .into_iter()
        .map(|id| {
            // Masked whole, once per file: whatever an excerpt shows of any
            // file (a schema, a template, a value that is a credential
            // somewhere else) hides credentials, at the same byte length.
            let original = sources.masked_text(id);
            let (text, map) = escape::snippet(original);
            let labels = d
                .primary
                .iter()
                .map(|l| (true, l))
                .chain(d.secondary.iter().map(|l| (false, l)))
                .filter(|(_, l)| l.span.file == id)
                .map(|(primary, l)| {
                    let r = clamp(l.span.range(), original);
                    let r = clamp(map(r.start)..map(r.end), &text);
                    Shown {
                        primary,
                        range: r,
                        label: escape::text(&l.message).into_owned(),
                    }
                })
                .collect();
            (id, text.into_owned(), labels)
        })
        .collect();
    let paths: Vec<String> = shown
        .iter()
        .map(|(id, ..)| escape::line(sources.path(*id)).into_owned())
        .collect();
    let notes: Vec<String> = d
        .notes
        .iter()
        .map(|n| escape::text(n).into_owned())
        .collect();
    let help = d.help.as_deref().map(escape::text);
    let title = level.clone().primary_title(message.as_ref()).id(d.code);
    let mut group = Group::with_title(title);
    let excerpts: Vec<_> = shown
        .iter()
        .map(|(_, text, labels)| excerpts(text, labels))
        .collect();
    for (file, path) in excerpts.iter().zip(&paths) {
        for (source, line_start, labels) in file {
            let mut snippet = Snippet::source(*source)
                .line_start(*line_start)
                .path(path.as_str());
            for l in labels {
                let kind = if l.primary {
                    AnnotationKind::Primary
                } else {
                    AnnotationKind::Context
                };
                snippet = snippet.annotation(kind.span(l.range.clone()).label(l.label.as_str()));
            }
            group = group.element(snippet);
        }
    }
    for note in &notes {
        group = group.element(Level::NOTE.message(note.as_str()));
    }
    if let Some(help) = &help {
        group = group.element(Level::HELP.message(help.as_ref()));
    }
    let mut out = renderer.render(&[group]);
    out.push('\n');
    out
}

/// A label as shown: its range in the shown (escaped) text.
struct Shown {
    primary: bool,
    range: Range<usize>,
    label: String,
}

/// Files up to this size are shown whole to annotate-snippets, which
/// reads every byte it is given.
const WHOLE_FILE_BYTES: usize = 64 * 1024;
/// Context kept either side of a label on a long line, and the most of a
/// label shown, in bytes.
const LINE_CONTEXT_BYTES: usize = 120;
const LABEL_BYTES: usize = 400;

/// The text each snippet of a file shows (its first line number, its
/// labels): the whole file when small, else each label's line on its own,
/// cut to a window around the label. A hostile file can be megabytes on
/// one line; a finding in it still renders in a moment.
fn excerpts<'a>(text: &'a str, labels: &'a [Shown]) -> Vec<(&'a str, usize, Vec<Shown>)> {
    if text.len() <= WHOLE_FILE_BYTES {
        let labels = labels
            .iter()
            .map(|l| Shown {
                primary: l.primary,
                range: l.range.clone(),
                label: l.label.clone(),
            })
            .collect();
        return vec![(text, 1, labels)];
    }
    let floor = |mut i: usize| {
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    labels
        .iter()
        .map(|l| {
            let start = l.range.start;
            let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
            let end = l
                .range
                .end
                .min(line_end)
                .min(floor((start + LABEL_BYTES).min(text.len())));
            // From the line's start where that is near, so the column
            // annotate-snippets prints is the real one; deep into a long
            // line it counts from the window.
            let from = if start - line_start <= 4096 {
                line_start
            } else {
                floor(start - LINE_CONTEXT_BYTES)
            };
            let to = floor((end + LINE_CONTEXT_BYTES).min(line_end));
            let line = 1 + text.as_bytes()[..line_start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            let shown = Shown {
                primary: l.primary,
                range: start - from..end.max(start) - from,
                label: l.label.clone(),
            };
            (&text[from..to], line, vec![shown])
        })
        .collect()
}

fn clamp(range: Range<usize>, text: &str) -> Range<usize> {
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
