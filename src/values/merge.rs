//! Merge values layers with Helm's rules, keeping provenance (pure).
//!
//! Maps merge key by key; scalars and lists replace; an explicit `null`
//! removes the key. The merged tree keeps, on every node, the span of the
//! layer that set it and the spans of the values it replaced, so a finding
//! about `executor.memory` can say "set in streams/orders.yaml:7, overriding
//! common.yaml:12".

use super::yaml::{Entry, Node, Value};
use std::collections::HashMap;

/// Merges `over` onto `base`.
pub fn merge(base: Node, over: &Node) -> Node {
    merge_skipping(base, over, &[])
}

/// Merges `over` onto `base`, leaving out `over`'s top-level keys in
/// `skip` (a stream definition's `name` and `environments`).
pub fn merge_skipping(base: Node, over: &Node, skip: &[&str]) -> Node {
    match (base.value, &over.value) {
        (Value::Map(entries), Value::Map(over_entries)) => {
            let mut slots: Vec<Option<Entry>> = entries.into_iter().map(Some).collect();
            // A linear search is fastest for the small maps values hold; an
            // index keeps a pathological 100,000-key map from going quadratic.
            let mut index: Option<HashMap<String, usize>> =
                (slots.len().max(over_entries.len()) > 64).then(|| {
                    slots
                        .iter()
                        .enumerate()
                        .filter_map(|(i, e)| Some((e.as_ref()?.key.clone(), i)))
                        .collect()
                });
            for over_entry in over_entries {
                if skip.contains(&over_entry.key.as_str()) {
                    continue;
                }
                let existing = match &index {
                    Some(ix) => ix.get(&over_entry.key).copied(),
                    None => slots
                        .iter()
                        .position(|e| e.as_ref().is_some_and(|e| e.key == over_entry.key)),
                };
                match (existing, &over_entry.value.value) {
                    (Some(i), Value::Null) => {
                        slots[i] = None;
                        if let Some(ix) = &mut index {
                            ix.remove(&over_entry.key);
                        }
                    }
                    (None, Value::Null) => {}
                    (Some(i), _) => {
                        let old = slots[i].take().expect("indexed slots are filled");
                        slots[i] = Some(Entry {
                            key: old.key,
                            key_span: over_entry.key_span,
                            value: merge(old.value, &over_entry.value),
                        });
                    }
                    (None, _) => {
                        if let Some(ix) = &mut index {
                            ix.insert(over_entry.key.clone(), slots.len());
                        }
                        slots.push(Some(Entry {
                            key: over_entry.key.clone(),
                            key_span: over_entry.key_span,
                            value: without_nulls(&over_entry.value),
                        }));
                    }
                }
            }
            Node {
                span: over.span,
                value: Value::Map(slots.into_iter().flatten().collect()),
                overrides: base.overrides,
            }
        }
        (old, _) => {
            let mut node = without_nulls(over);
            if !matches!(old, Value::Null) || !base.overrides.is_empty() {
                node.overrides.push(base.span);
                node.overrides.extend(base.overrides);
            }
            node
        }
    }
}

/// A copy of `node` with `null`-valued map entries dropped, as Helm does for
/// keys that have nothing to delete.
fn without_nulls(node: &Node) -> Node {
    match &node.value {
        Value::Map(entries) => Node {
            span: node.span,
            value: Value::Map(
                entries
                    .iter()
                    .filter(|e| !matches!(e.value.value, Value::Null))
                    .map(|e| Entry {
                        key: e.key.clone(),
                        key_span: e.key_span,
                        value: without_nulls(&e.value),
                    })
                    .collect(),
            ),
            overrides: node.overrides.clone(),
        },
        _ => node.clone(),
    }
}

/// Merges layers lowest first onto an empty mapping.
pub fn merge_all<'a>(empty: Node, layers: impl IntoIterator<Item = &'a Node>) -> Node {
    layers.into_iter().fold(empty, merge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, Span};
    use crate::values::yaml::parse;
    use serde_json::json;

    fn layer(file: u32, text: &str) -> Node {
        parse(FileId(file), text).unwrap()
    }

    fn merged(layers: &[&str]) -> Node {
        let nodes: Vec<Node> = layers
            .iter()
            .enumerate()
            .map(|(i, t)| layer(i as u32, t))
            .collect();
        merge_all(Node::empty_map(Span::file_start(FileId(99))), &nodes)
    }

    #[test]
    fn table() {
        let cases: &[(&[&str], serde_json::Value)] = &[
            // Maps merge key by key.
            (
                &["a: {x: 1, y: 2}", "a: {y: 3, z: 4}"],
                json!({"a": {"x": 1, "y": 3, "z": 4}}),
            ),
            // Lists replace, they do not append.
            (&["l: [1, 2, 3]", "l: [9]"], json!({"l": [9]})),
            // An explicit null deletes the key.
            (&["a: {x: 1, y: 2}", "a: {x: null}"], json!({"a": {"y": 2}})),
            (&["a: {x: 1}", "a: null"], json!({})),
            // A null with nothing to delete leaves no trace.
            (&["a: 1", "b: null"], json!({"a": 1})),
            (
                &["a: 1", "b: {c: null, d: 2}"],
                json!({"a": 1, "b": {"d": 2}}),
            ),
            // Scalars replace maps and maps replace scalars.
            (&["a: {x: 1}", "a: 5"], json!({"a": 5})),
            (&["a: 5", "a: {x: 1}"], json!({"a": {"x": 1}})),
            // Later layers win; untouched keys keep their order.
            (
                &["a: 1\nb: 2", "b: 3", "a: 4\nc: 5"],
                json!({"a": 4, "b": 3, "c": 5}),
            ),
            // Nulls inside lists are data, not deletions.
            (&["l: [1, null]"], json!({"l": [1, null]})),
        ];
        for (layers, expected) in cases {
            assert_eq!(&merged(layers).to_json(), expected, "layers: {layers:?}");
        }
    }

    #[test]
    fn huge_maps_merge_in_linear_time() {
        let big = |n: usize, v: &str| (0..n).map(|i| format!("k{i}: {v}\n")).collect::<String>();
        let started = std::time::Instant::now();
        let m = merged(&[&big(50_000, "1"), &big(50_000, "2")]);
        assert_eq!(m.as_map().unwrap().len(), 50_000);
        assert_eq!(m.walk("/k49999").node.to_json(), 2);
        // A hang guard, not a benchmark: quadratic merging took minutes.
        assert!(started.elapsed().as_secs() < 30);
    }

    #[test]
    fn provenance_names_the_setting_layer_and_what_it_overrode() {
        let m = merged(&["executor:\n  memory: 2g\n", "", "executor:\n  memory: 4g\n"]);
        let memory = m.walk("/executor/memory").node;
        assert_eq!(memory.span.file, FileId(2));
        assert_eq!(memory.overrides.len(), 1);
        assert_eq!(memory.overrides[0].file, FileId(0));
        // A key set once overrides nothing.
        let m = merged(&["a: 1", "b: 2"]);
        assert!(m.walk("/b").node.overrides.is_empty());
        // Overrides accumulate across three layers, nearest first.
        let m = merged(&["a: 1", "a: 2", "a: 3"]);
        let files: Vec<u32> = m
            .walk("/a")
            .node
            .overrides
            .iter()
            .map(|s| s.file.0)
            .collect();
        assert_eq!(files, [1, 0]);
    }
}
