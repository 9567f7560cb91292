//! Source files and spans: the text every diagnostic points into (pure data).
//!
//! Every file sluice reads (values files, `--set` flags, templates) is kept
//! here once, with its repository-relative path, so a [`Span`] is just a file
//! id and a byte range, and line/column are computed only when reported.

use std::ops::Range;
use std::sync::Arc;

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Span {
        Span {
            file,
            start: range.start as u32,
            end: range.end as u32,
        }
    }

    /// The empty span at the start of a file, for findings about a whole file.
    pub fn file_start(file: FileId) -> Span {
        Span::new(file, 0..0)
    }

    pub fn range(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// One file's text, with its line starts indexed for line/column lookups.
#[derive(Debug)]
pub struct SourceFile {
    /// Path relative to the repository root, with `/` separators, or a
    /// pseudo-path such as `--set` for text from the command line.
    pub path: String,
    pub text: Arc<str>,
    line_starts: Vec<usize>,
    /// Byte ranges never to be shown (values of credential-looking keys).
    redactions: Vec<Range<usize>>,
    /// [`Sources::masked_text`], computed once per file.
    masked: std::sync::OnceLock<String>,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, text: impl Into<Arc<str>>) -> SourceFile {
        let text: Arc<str> = text.into();
        // `\n`, `\r\n` and a lone `\r` (old Mac files) all end a line, as
        // they do for the YAML parser.
        let bytes = text.as_bytes();
        let mut line_starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                line_starts.push(i + 1);
            }
        }
        SourceFile {
            path: path.into(),
            text,
            line_starts,
            redactions: Vec::new(),
            masked: std::sync::OnceLock::new(),
        }
    }

    /// The text to show in a snippet: redacted ranges become `*`, one per
    /// character, so columns stay aligned; a lone `\r` line end becomes
    /// `\n` (same length) so the snippet's line numbers match ours.
    pub fn shown_text(&self) -> std::borrow::Cow<'_, str> {
        let lone_cr = self
            .text
            .as_bytes()
            .windows(2)
            .any(|w| w[0] == b'\r' && w[1] != b'\n')
            || self.text.ends_with('\r');
        if self.redactions.is_empty() && !lone_cr {
            return std::borrow::Cow::Borrowed(&self.text);
        }
        let mut out = String::with_capacity(self.text.len());
        let mut last = 0;
        let mut ranges = self.redactions.clone();
        ranges.sort_by_key(|r| r.start);
        for r in ranges {
            if r.start < last
                || r.end > self.text.len()
                || !self.text.is_char_boundary(r.start)
                || !self.text.is_char_boundary(r.end)
            {
                continue;
            }
            out.push_str(&self.text[last..r.start]);
            // Keep line breaks so line numbers stay right.
            for c in self.text[r.clone()].chars() {
                out.push(if c == '\n' || c == '\r' { c } else { '*' });
            }
            last = r.end;
        }
        out.push_str(&self.text[last..]);
        // Byte offsets must stay valid for spans: pad multi-byte characters.
        let mut out = pad_to(&self.text, out);
        if lone_cr {
            let bytes: Vec<u8> = out
                .as_bytes()
                .iter()
                .enumerate()
                .map(|(i, &b)| {
                    if b == b'\r' && out.as_bytes().get(i + 1) != Some(&b'\n') {
                        b'\n'
                    } else {
                        b
                    }
                })
                .collect();
            out = String::from_utf8(bytes).expect("ASCII for ASCII keeps UTF-8 valid");
        }
        std::borrow::Cow::Owned(out)
    }

    /// 1-based line and 1-based column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, column + 1)
    }

    /// The text of 1-based line `line`, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// Byte offset of 1-based `line` and 1-based character `column`.
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        rest.char_indices()
            .nth(column.saturating_sub(1))
            .map_or(self.text.len(), |(i, _)| start + i)
    }
}

/// All source files of one run.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
    /// Every credential value seen in the input, so that no message, note
    /// or quoted text (a template's rendered output) can show it.
    secrets: std::collections::BTreeSet<String>,
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    pub fn add(&mut self, path: impl Into<String>, text: impl Into<Arc<str>>) -> FileId {
        self.files.push(SourceFile::new(path, text));
        FileId(self.files.len() as u32 - 1)
    }

    /// Marks a range of a file as never to be shown.
    pub fn redact(&mut self, id: FileId, range: Range<usize>) {
        self.files[id.0 as usize].redactions.push(range);
    }

    /// Remembers a credential value (as parsed, and as JSON writes it into a
    /// rendered manifest) to mask wherever it appears.
    pub fn remember(&mut self, secret: &str) {
        if secret.len() < 4 {
            return;
        }
        let json = serde_json::to_string(secret).unwrap_or_default();
        let json = json.trim_matches('"');
        if json != secret {
            self.secrets.insert(json.to_owned());
        }
        self.secrets.insert(secret.to_owned());
    }

    /// Free text (a message, a note) with every credential masked: the
    /// values seen in the input and whatever looks like one.
    pub fn mask<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let known: Vec<&str> = self.secrets.iter().rev().map(String::as_str).collect();
        crate::secret::mask_text(text, &known)
    }

    /// A file's [`SourceFile::shown_text`] with every credential
    /// [`crate::secret::scan`] finds and every remembered secret value
    /// replaced by as many `*` as it has bytes, so offsets and carets stay:
    /// what a snippet of any file (a schema, a template) may show. Computed
    /// once per file, when the first report shows it (after loading, when
    /// every secret is remembered).
    pub fn masked_text(&self, id: FileId) -> &str {
        let file = self.get(id);
        file.masked.get_or_init(|| {
            let text = file.shown_text();
            let mut ranges = crate::secret::scan(&text);
            for secret in &self.secrets {
                ranges.extend(
                    text.match_indices(secret.as_str())
                        .map(|(i, m)| i..i + m.len()),
                );
            }
            if ranges.is_empty() {
                return text.into_owned();
            }
            let mut bytes = text.as_bytes().to_vec();
            for r in ranges {
                for b in &mut bytes[r.start.min(text.len())..r.end.min(text.len())] {
                    if *b != b'\n' && *b != b'\r' {
                        *b = b'*';
                    }
                }
            }
            // Every byte of a masked character became `*`: still UTF-8.
            String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        })
    }

    /// The credential values remembered so far.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.secrets.iter().map(String::as_str)
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn path(&self, id: FileId) -> &str {
        &self.get(id).path
    }

    /// `path:line:column` of the start of a span.
    pub fn location(&self, span: Span) -> Location<'_> {
        let file = self.get(span.file);
        let (line, column) = file.line_col(span.start as usize);
        Location {
            path: &file.path,
            line,
            column,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }
}

/// Redaction replaces characters, not bytes; pad each `*` that replaced a
/// multi-byte character so byte offsets into the original still line up.
fn pad_to(original: &str, redacted: String) -> String {
    if original.len() == redacted.len() {
        return redacted;
    }
    let mut out = String::with_capacity(original.len());
    for (o, r) in original.chars().zip(redacted.chars()) {
        out.push(r);
        for _ in r.len_utf8()..o.len_utf8() {
            out.push('*');
        }
    }
    out
}

/// A resolved, printable position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location<'a> {
    pub path: &'a str,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.path, self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let file = SourceFile::new("a.yaml", "a: 1\nbé: 2\n\nc: 3");
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(5), (2, 1));
        // `é` is two bytes but one column.
        assert_eq!(file.line_col(9), (2, 4));
        assert_eq!(file.line_col(13), (4, 1));
        assert_eq!(file.line_text(2), "bé: 2");
        assert_eq!(file.line_text(3), "");
        assert_eq!(file.offset_of(2, 4), 9);
    }

    #[test]
    fn redaction_hides_values_and_keeps_offsets() {
        let mut sources = Sources::new();
        let id = sources.add("a.yaml", "password: hünter2\nuser: bob\n");
        sources.redact(id, 10..18);
        let shown = sources.get(id).shown_text();
        assert_eq!(shown.len(), sources.get(id).text.len());
        assert!(!shown.contains("nter2"));
        assert!(shown.ends_with("user: bob\n"));
    }
}
