//! Control characters made visible (pure): a value or a file name from the
//! repository must not move the cursor, recolour or clear a terminal, nor
//! make an XML report unparsable. Escapes are those of a YAML double-quoted
//! string (`\x1b`, `\x9b`, `\uFFFE`), so what is shown can be pasted back.

use std::borrow::Cow;

/// C0 controls, DEL and C1 controls: what a terminal may act on.
fn is_control(c: char) -> bool {
    // Also what reorders or breaks lines on a terminal or a review page:
    // bidirectional overrides and isolates, and the Unicode line and
    // paragraph separators.
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Noncharacters XML 1.0 forbids even as character references.
fn is_xml_forbidden(c: char) -> bool {
    matches!(c, '\u{fffe}' | '\u{ffff}')
}

fn escape_if(s: &str, escaped: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&escaped) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !escaped(c) {
            out.push(c);
        } else if (c as u32) <= 0xff {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{:04X}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// Text that may span lines (a message, a note): every control character
/// but `\n` and `\t` escaped.
pub fn text(s: &str) -> Cow<'_, str> {
    escape_if(s, |c| is_control(c) && c != '\n' && c != '\t')
}

/// A file name or anything shown on one line: every control character,
/// `\n` and `\t` included, escaped.
pub fn line(s: &str) -> Cow<'_, str> {
    escape_if(s, is_control)
}

/// [`text`] that is also valid XML 1.0 character data.
pub fn xml_text(s: &str) -> Cow<'_, str> {
    escape_if(s, |c| {
        (is_control(c) && c != '\n' && c != '\t') || is_xml_forbidden(c)
    })
}

/// [`line`] that is also valid in an XML 1.0 attribute (where a raw line
/// break would be read back as a space).
pub fn xml_line(s: &str) -> Cow<'_, str> {
    escape_if(s, |c| is_control(c) || is_xml_forbidden(c))
}

/// A source excerpt for a snippet: C1 controls become U+FFFD (one column,
/// like the control pictures the snippet renderer shows for C0 and DEL,
/// so carets and columns stay right). Returns the text and a map from byte
/// offsets in `s` to byte offsets in the text.
pub fn snippet(s: &str) -> (Cow<'_, str>, impl Fn(usize) -> usize + '_) {
    let is_c1 = |c: char| matches!(c, '\u{80}'..='\u{9f}');
    // Byte offsets of each C1 character (two bytes, replaced by three).
    let at: Vec<usize> = s
        .char_indices()
        .filter(|(_, c)| is_c1(*c))
        .map(|(i, _)| i)
        .collect();
    // Bidirectional controls and line separators: three bytes each, as
    // their replacement is, so offsets stay.
    let reorders = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    let text = if at.is_empty() && !s.chars().any(reorders) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(
            s.chars()
                .map(|c| {
                    if is_c1(c) || reorders(c) {
                        '\u{fffd}'
                    } else {
                        c
                    }
                })
                .collect(),
        )
    };
    let map = move |offset: usize| {
        // An offset inside a replaced character maps to its start.
        let before = at.partition_point(|&p| p < offset);
        match before.checked_sub(1).map(|i| at[i]) {
            Some(p) if offset < p + 2 => p + (before - 1),
            _ => offset + before,
        }
    };
    (text, map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_lines_kept_where_asked() {
        assert_eq!(text("a\u{1b}[2Jb\n\tc\r"), "a\\x1b[2Jb\n\tc\\x0d");
        assert_eq!(line("a\nb\u{0}\u{7f}\u{9b}"), "a\\x0ab\\x00\\x7f\\x9b");
        assert_eq!(text("plain, ünïcode ✓"), "plain, ünïcode ✓");
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
        assert_eq!(xml_text("a\u{fffe}\u{1}"), "a\\uFFFE\\x01");
        assert_eq!(xml_line("a\nb"), "a\\x0ab");
    }

    #[test]
    fn snippet_offsets_follow_the_replacement() {
        let s = "a\u{9b}b\u{85}c";
        let (text, map) = snippet(s);
        assert_eq!(text, "a\u{fffd}b\u{fffd}c");
        assert_eq!(&text[map(0)..map(1)], "a");
        assert_eq!(&text[map(3)..map(4)], "b");
        assert_eq!(&text[map(6)..map(7)], "c");
        assert_eq!(map(2), map(1), "inside a replaced character");
        assert_eq!(map(s.len()), text.len());
    }
}
