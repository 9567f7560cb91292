//! Numbers written where the manifest wants text keep the text that was
//! written (pure).
//!
//! YAML reads `4.10` as the number 4.1 and `1e3` as 1000; printed back
//! they become `4.1` and `1000.0`: a different image tag, a Spark time
//! Spark cannot read. Where the SparkApplication wants a string (an image
//! tag, arguments, confs, env values, labels, ...), sluice takes the
//! number's source text from the span every node keeps. Where that text is
//! not there to read (a value built from a flag list) and printing the
//! number could change it, the stream is refused with a hint to quote it.

use super::yaml::{Node, Value};
use crate::diag::Diagnostic;
use crate::source::Sources;

pub const INEXACT_NUMBER: &str = "values/inexact-number";

/// Where the manifest wants text, as pointer segments (`*`: any key or index).
const TEXT_AT: &[&[&str]] = &[
    &["image", "tag"],
    &["spark", "version"],
    &["sparkVersion"],
    &["pythonVersion"],
    &["memoryOverheadFactor"],
    &["arguments", "*"],
    &["sparkConf", "*"],
    &["hadoopConf", "*"],
    &["labels", "*"],
    &["annotations", "*"],
    &["nodeSelector", "*"],
    &["tolerations", "*", "value"],
    &["secrets", "*", "env", "*"],
    &["localDirs", "size"],
    &["deps", "*", "*"],
    &["*", "labels", "*"],
    &["*", "annotations", "*"],
    &["*", "serviceLabels", "*"],
    &["*", "serviceAnnotations", "*"],
    &["*", "nodeSelector", "*"],
    &["*", "envVars", "*"],
    &["*", "env", "*"],
    &["*", "env", "*", "value"],
    &["*", "tolerations", "*", "value"],
    &["*", "coreRequest"],
    &["*", "coreLimit"],
    &["*", "memory"],
    &["*", "memoryOverhead"],
    &["*", "memoryLimit"],
    &["*", "javaOptions"],
];

/// The roles the `*`-first patterns apply to.
const ROLES: &[&str] = &["driver", "executor"];

/// Replaces every number at a text position of one stream's merged values
/// by the text that was written; returns a finding for each number whose
/// text cannot be known.
pub fn keep_written_text(values: &mut Node, sources: &Sources) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for pattern in TEXT_AT {
        if pattern[0] == "*" {
            for role in ROLES {
                if let Some(node) = child_mut(values, role) {
                    visit(node, &pattern[1..], sources, &mut found);
                }
            }
        } else {
            visit(values, pattern, sources, &mut found);
        }
    }
    found
}

fn child_mut<'a>(node: &'a mut Node, key: &str) -> Option<&'a mut Node> {
    match &mut node.value {
        Value::Map(entries) => entries
            .iter_mut()
            .find(|e| e.key == key)
            .map(|e| &mut e.value),
        _ => None,
    }
}

fn visit(node: &mut Node, pattern: &[&str], sources: &Sources, found: &mut Vec<Diagnostic>) {
    let Some((first, rest)) = pattern.split_first() else {
        if let Value::Number(n) = &node.value {
            match written(node, n, sources) {
                Some(text) => node.value = Value::String(text),
                None => {
                    // A quoted scalar made a number by a tag (`!!float "1.50"`).
                    let raw = source_text(node, sources);
                    let help = if raw.len() >= 2 && raw.starts_with(['"', '\'']) {
                        format!("drop the tag: {raw} is then the text as written")
                    } else {
                        format!("quote it as the text you mean, e.g. \"{n}\"")
                    };
                    found.push(
                        Diagnostic::error(
                            INEXACT_NUMBER,
                            format!("the number `{n}` may not be the text that was meant"),
                        )
                        .at(node.span, "a number where the manifest wants text")
                        .note("YAML reads it as a number, and the text it was written as cannot be recovered here")
                        .help(help),
                    );
                }
            }
        }
        return;
    };
    match &mut node.value {
        Value::Map(entries) => {
            for entry in entries.iter_mut() {
                if *first == "*" || entry.key == *first {
                    visit(&mut entry.value, rest, sources, found);
                }
            }
        }
        Value::Seq(items) if *first == "*" || first.parse::<usize>().is_ok() => {
            for (i, item) in items.iter_mut().enumerate() {
                if *first == "*" || first.parse() == Ok(i) {
                    visit(item, rest, sources, found);
                }
            }
        }
        _ => {}
    }
}

/// The number's text: what the span holds when it reads as this number,
/// else the number itself when printing it cannot change it (an integer).
fn written(node: &Node, n: &serde_json::Number, sources: &Sources) -> Option<String> {
    let raw = Some(source_text(node, sources)).filter(|raw| same_number(raw, n));
    match raw {
        Some(raw) => Some(raw.strip_prefix('+').unwrap_or(raw).to_owned()),
        None if n.is_i64() || n.is_u64() => Some(n.to_string()),
        None => None,
    }
}

/// The text a node's span covers (empty where it covers none).
fn source_text<'s>(node: &Node, sources: &'s Sources) -> &'s str {
    sources
        .get(node.span.file)
        .text
        .get(node.span.range())
        .map_or("", str::trim)
}

/// Whether `raw` is a YAML 1.2 number equal to `n`.
fn same_number(raw: &str, n: &serde_json::Number) -> bool {
    if raw.is_empty() || raw.starts_with(['"', '\'']) {
        return false;
    }
    let unsigned = raw.strip_prefix(['+', '-']).unwrap_or(raw);
    let negative = raw.starts_with('-');
    let radix = |digits: &str, radix: u32| {
        i64::from_str_radix(digits, radix)
            .ok()
            .map(|v| if negative { -v } else { v })
    };
    if let Some(hex) = unsigned.strip_prefix("0x") {
        return radix(hex, 16).is_some_and(|v| n.as_i64() == Some(v));
    }
    if let Some(oct) = unsigned.strip_prefix("0o") {
        return radix(oct, 8).is_some_and(|v| n.as_i64() == Some(v));
    }
    let is_special = matches!(
        unsigned.to_ascii_lowercase().as_str(),
        ".inf" | ".nan" | "inf" | "nan" | "infinity"
    );
    if is_special {
        return false;
    }
    match (raw.parse::<f64>(), n.as_f64()) {
        (Ok(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::yaml;

    fn exact(text: &str) -> (serde_json::Value, Vec<Diagnostic>) {
        let mut sources = Sources::new();
        let id = sources.add("values/streams/s.yaml", text);
        let mut node = yaml::parse(id, text).unwrap();
        let found = keep_written_text(&mut node, &sources);
        (node.to_json(), found)
    }

    #[test]
    fn numbers_where_text_is_wanted_keep_their_text() {
        let (v, found) = exact(
            "image: {repository: r, tag: 4.10}\n\
             arguments: [1.10, 1e3, 7, -2.50]\n\
             sparkConf:\n  spark.network.timeout: 1e3   # seconds\n  spark.x: 0x1F\n\
             executor:\n  coreRequest: 0.50\n  env: {RATIO: 1.0}\n  instances: 2\n\
             driver:\n  env:\n  - {name: A, value: 3.0}\n\
             spark: {version: 3.5}\n",
        );
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(v["image"]["tag"], "4.10");
        assert_eq!(
            v["arguments"],
            serde_json::json!(["1.10", "1e3", "7", "-2.50"])
        );
        assert_eq!(v["sparkConf"]["spark.network.timeout"], "1e3");
        assert_eq!(v["sparkConf"]["spark.x"], "0x1F");
        assert_eq!(v["executor"]["coreRequest"], "0.50");
        assert_eq!(v["executor"]["env"]["RATIO"], "1.0");
        assert_eq!(v["driver"]["env"][0]["value"], "3.0");
        assert_eq!(v["spark"]["version"], "3.5");
        // Where the CRD wants a number, it stays one.
        assert_eq!(v["executor"]["instances"], 2);
    }

    #[test]
    fn a_float_whose_text_is_gone_is_refused() {
        let mut sources = Sources::new();
        let id = sources.add("--set", "sparkConf.x=1");
        let mut node = Node::from_json(
            &serde_json::json!({"sparkConf": {"x": 1.5, "y": 10}}),
            crate::source::Span::new(id, 0..0),
        );
        let found = keep_written_text(&mut node, &sources);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, INEXACT_NUMBER);
        // An integer prints as it was written.
        assert_eq!(node.to_json()["sparkConf"]["y"], "10");
    }
}
