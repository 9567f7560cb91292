//! JSON helpers (pure).

use serde_json::Value;

/// The value a JSON pointer (RFC 6901) names, as `Value::pointer` finds
/// it, without allocating: `Value::pointer` unescapes every segment into a
/// new string, and the derived fields and object checks look up a few
/// fixed pointers for every stream.
pub fn at<'a>(value: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() {
        return Some(value);
    }
    let rest = pointer.strip_prefix('/')?;
    rest.split('/').try_fold(value, |target, raw| {
        let token = token(raw);
        match target {
            Value::Object(map) => map.get(&*token),
            Value::Array(list) => index(&token).and_then(|i| list.get(i)),
            _ => None,
        }
    })
}

/// One segment of a JSON pointer unescaped (`~1` is `/`, `~0` is `~`),
/// borrowed when there is nothing to unescape.
pub fn token(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.as_bytes().contains(&b'~') {
        raw.replace("~1", "/").replace("~0", "~").into()
    } else {
        raw.into()
    }
}

/// An array index as RFC 6901 spells it: no sign, no leading zero.
fn index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_what_value_pointer_finds() {
        let v = json!({
            "a": {"b": [10, {"c~d": 1, "e/f": 2, "": 3}]},
            "sparkConf": {"spark.sql.streaming.checkpointLocation": "s3a://x"},
            "n": null,
        });
        for p in [
            "",
            "/",
            "/a",
            "/a/b",
            "/a/b/0",
            "/a/b/1",
            "/a/b/01",
            "/a/b/+1",
            "/a/b/2",
            "/a/b/-",
            "/a/b/1/c~0d",
            "/a/b/1/e~1f",
            "/a/b/1/",
            "/a/b/1/c~d",
            "/a/x",
            "a",
            "/n",
            "/n/x",
            "/sparkConf/spark.sql.streaming.checkpointLocation",
            "/a/b/0/x",
            "//",
        ] {
            assert_eq!(at(&v, p), v.pointer(p), "{p}");
        }
    }
}
