//! What the values keys mean beyond their types (pure): which keys say the
//! same thing (a sluice convenience and the SparkApplication field it
//! fills), which keys a stream cannot do without, where labels,
//! tolerations and containers sit, and Kubernetes' own syntax for names,
//! label keys and values and environment variables.
//!
//! The checks in `values/check.rs` and the rules use these; so can anything
//! else that needs to know, say, where a stream's Spark version is set.

use super::yaml::{Node, Value};
use crate::source::Span;

/// A value that is set: present and not `null` (a layer's `null` deletes
/// the key, so a `null` left in the merged values means "not set").
pub fn set<'a>(values: &'a Node, pointer: &str) -> Option<&'a Node> {
    let walk = values.walk(pointer);
    (walk.complete && !matches!(walk.node.value, Value::Null)).then_some(walk.node)
}

/// Where a caret for the key at `pointer` goes: the key for a mapping or a
/// list, the value for a scalar, `fallback` if the key is not there.
pub fn caret(values: &Node, pointer: &str, fallback: Span) -> Span {
    let walk = values.walk(pointer);
    if walk.complete {
        walk.caret()
    } else {
        fallback
    }
}

/// The span of the key at `pointer` (the value's, if it has no key).
pub fn key_span(values: &Node, pointer: &str) -> Option<Span> {
    let walk = values.walk(pointer);
    walk.complete
        .then(|| walk.key_span.unwrap_or(walk.node.span))
}

/// `/driver/template` → `driver.template`.
pub fn dotted(pointer: &str) -> String {
    super::validate::dotted(pointer)
}

/// A scalar as the text the manifest carries (`4.10` stays `4.10`).
pub fn scalar_text(node: &Node) -> Option<String> {
    match &node.value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A convenience and the SparkApplication field it fills: setting both is
/// `values/conflicting-keys`, since one would silently win.
#[derive(Clone, Copy, Debug)]
pub struct Conflict {
    /// Any of these is the convenience.
    pub convenience: &'static [&'static str],
    /// The CRD-named field.
    pub field: &'static str,
    /// The field conflicts only in its string form (`image: "repo:tag"`,
    /// not `image: {repository, tag}`, which is itself a convenience).
    pub string_only: bool,
}

pub const CONFLICTS: &[Conflict] = &[
    Conflict {
        convenience: &["/spark/version"],
        field: "/sparkVersion",
        string_only: false,
    },
    Conflict {
        convenience: &["/spark/image"],
        field: "/image",
        string_only: true,
    },
    Conflict {
        convenience: &["/applicationFile"],
        field: "/mainApplicationFile",
        string_only: false,
    },
    Conflict {
        convenience: &["/podTemplate/driver"],
        field: "/driver/template",
        string_only: false,
    },
    Conflict {
        convenience: &["/podTemplate/executor"],
        field: "/executor/template",
        string_only: false,
    },
    Conflict {
        convenience: &["/maxRetries"],
        field: "/restartPolicy/onFailureRetries",
        string_only: false,
    },
    Conflict {
        convenience: &["/retryInterval"],
        field: "/restartPolicy/onFailureRetryInterval",
        string_only: false,
    },
    Conflict {
        convenience: &["/maxSubmissionRetries"],
        field: "/restartPolicy/onSubmissionFailureRetries",
        string_only: false,
    },
    Conflict {
        convenience: &["/submissionRetryInterval"],
        field: "/restartPolicy/onSubmissionFailureRetryInterval",
        string_only: false,
    },
];

/// A Flink stream's conveniences and the FlinkDeployment fields they fill.
pub const FLINK_CONFLICTS: &[Conflict] = &[
    Conflict {
        convenience: &["/flink/version"],
        field: "/flinkVersion",
        string_only: false,
    },
    Conflict {
        convenience: &["/flink/image"],
        field: "/image",
        string_only: true,
    },
    Conflict {
        convenience: &["/applicationFile"],
        field: "/job/jarURI",
        string_only: false,
    },
    Conflict {
        convenience: &["/mainClass"],
        field: "/job/entryClass",
        string_only: false,
    },
    Conflict {
        convenience: &["/arguments"],
        field: "/job/args",
        string_only: false,
    },
    Conflict {
        convenience: &["/suspend"],
        field: "/job/state",
        string_only: false,
    },
];

/// Something every stream needs, and the keys that give it (any one will do).
#[derive(Clone, Copy, Debug)]
pub struct Requirement {
    pub what: &'static str,
    pub any_of: &'static [&'static str],
    pub help: &'static str,
}

pub const VERSION: Requirement = Requirement {
    what: "Spark version",
    any_of: &["/spark/version", "/sparkVersion"],
    help: "set `spark.version: \"3.5.1\"` (or `sparkVersion`) in common.yaml, the environment file or the stream's file",
};

pub const IMAGE: Requirement = Requirement {
    what: "container image",
    any_of: &["/spark/image", "/image/repository", "/image"],
    help: "set `spark.image: registry/image:tag` (or `image.repository` and `image.tag`, or `image` as a string)",
};

pub const APPLICATION_FILE: Requirement = Requirement {
    what: "application file",
    any_of: &["/applicationFile", "/mainApplicationFile"],
    help: "set `applicationFile: local:///path/in/the/image.jar` (or `mainApplicationFile`)",
};

pub const MAIN_CLASS: Requirement = Requirement {
    what: "main class",
    any_of: &["/mainClass"],
    help: "set `mainClass` (Scala and Java streams), or `type: Python`",
};

pub const FLINK_VERSION: Requirement = Requirement {
    what: "Flink version",
    any_of: &["/flink/version", "/flinkVersion"],
    help: "set `flink.version: \"1.20\"` (or `flinkVersion: v1_20`) in the stream's file, or for every Flink stream in common.yaml",
};

pub const FLINK_IMAGE: Requirement = Requirement {
    what: "container image",
    any_of: &["/flink/image", "/image/repository", "/image"],
    help: "set `flink.image: registry/image:tag` (or `image.repository` and `image.tag`, or `image` as a string)",
};

pub const JAR: Requirement = Requirement {
    what: "job jar",
    any_of: &["/applicationFile", "/job/jarURI"],
    help: "set `applicationFile: local:///opt/flink/usrlib/job.jar` (or `job.jarURI`)",
};

/// The application type, Scala unless set.
pub fn app_type(values: &Node) -> &str {
    values
        .get("type")
        .and_then(Node::as_str)
        .unwrap_or(crate::spark::derive::DEFAULT_TYPE)
}

/// Whether `r` is met by the values, and by which key.
pub fn satisfied<'a>(values: &'a Node, r: &Requirement) -> Option<(&'static str, &'a Node)> {
    r.any_of.iter().find_map(|p| {
        let node = set(values, p)?;
        // `image` gives an image only as a string (the mapping form is
        // `image.repository`); an empty string is no image.
        match &node.value {
            Value::Map(_) if *p == "/image" => None,
            Value::String(s) if s.is_empty() => None,
            _ => Some((*p, node)),
        }
    })
}

/// The Spark version and where it is set.
pub fn spark_version(values: &Node) -> Option<(&'static str, &Node)> {
    satisfied(values, &VERSION)
}

/// Both roles, in the order findings name them.
pub const ROLES: &[&str] = &["driver", "executor"];

/// A map of labels or of annotations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metadata {
    Labels,
    Annotations,
}

/// Every map of labels or annotations sluice passes to Kubernetes.
pub const METADATA_MAPS: &[(&str, Metadata)] = &[
    ("/labels", Metadata::Labels),
    ("/annotations", Metadata::Annotations),
    ("/driver/labels", Metadata::Labels),
    ("/driver/annotations", Metadata::Annotations),
    ("/driver/serviceLabels", Metadata::Labels),
    ("/driver/serviceAnnotations", Metadata::Annotations),
    ("/executor/labels", Metadata::Labels),
    ("/executor/annotations", Metadata::Annotations),
    ("/executor/serviceLabels", Metadata::Labels),
    ("/executor/serviceAnnotations", Metadata::Annotations),
    ("/driver/template/metadata/labels", Metadata::Labels),
    (
        "/driver/template/metadata/annotations",
        Metadata::Annotations,
    ),
    ("/executor/template/metadata/labels", Metadata::Labels),
    (
        "/executor/template/metadata/annotations",
        Metadata::Annotations,
    ),
    ("/podTemplate/driver/metadata/labels", Metadata::Labels),
    (
        "/podTemplate/driver/metadata/annotations",
        Metadata::Annotations,
    ),
    ("/podTemplate/executor/metadata/labels", Metadata::Labels),
    (
        "/podTemplate/executor/metadata/annotations",
        Metadata::Annotations,
    ),
];

/// Every list of tolerations.
pub const TOLERATION_LISTS: &[&str] = &[
    "/tolerations",
    "/driver/tolerations",
    "/executor/tolerations",
];

/// Lists of containers that sluice passes on as they are. `spark_first`:
/// a pod template's `containers`, whose first entry is the Spark container
/// itself (Spark gives it its image), unless
/// `spark.kubernetes.<role>.podTemplateContainerName` names another.
pub const CONTAINER_LISTS: &[(&str, &str, bool)] = &[
    ("/driver/sidecars", "driver", false),
    ("/driver/initContainers", "driver", false),
    ("/executor/sidecars", "executor", false),
    ("/executor/initContainers", "executor", false),
    ("/driver/template/spec/containers", "driver", true),
    ("/driver/template/spec/initContainers", "driver", false),
    ("/executor/template/spec/containers", "executor", true),
    ("/executor/template/spec/initContainers", "executor", false),
    ("/podTemplate/driver/spec/containers", "driver", true),
    ("/podTemplate/driver/spec/initContainers", "driver", false),
    ("/podTemplate/executor/spec/containers", "executor", true),
    (
        "/podTemplate/executor/spec/initContainers",
        "executor",
        false,
    ),
];

/// Every key that gives a role a pod template.
pub const POD_TEMPLATES: &[&str] = &[
    "/driver/template",
    "/executor/template",
    "/podTemplate/driver",
    "/podTemplate/executor",
];

/// Kubernetes' `IsDNS1123Subdomain`: at most 253 characters of lower-case
/// letters, digits, `-` and `.`, starting and ending with a letter or digit
/// (each dot-separated part likewise).
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if s.len() > 253 {
        return Err(format!("must be at most 253 characters, not {}", s.len()));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if s.split('.').all(label_ok) {
        Ok(())
    } else {
        Err("must be lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit".to_owned())
    }
}

/// The name part of a qualified name, and label values: `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn name_chars_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

const NAME_RULE: &str =
    "letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit";

/// Kubernetes' `IsQualifiedName`, for label and annotation keys: an
/// optional DNS-1123 subdomain prefix and `/`, then a name of at most 63
/// characters.
pub fn qualified_name(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(prefix) = prefix
        && let Err(e) = dns1123_subdomain(prefix)
    {
        return Err(format!("its prefix `{prefix}` {e}"));
    }
    if name.is_empty() {
        return Err("the name (after any `prefix/`) must not be empty".to_owned());
    }
    if name.len() > 63 {
        return Err(format!(
            "the name (after any `prefix/`) must be at most 63 characters, not {}",
            name.len()
        ));
    }
    if !name_chars_ok(name) {
        return Err(format!(
            "the name (after any `prefix/`) must be {NAME_RULE}"
        ));
    }
    Ok(())
}

/// Kubernetes' `IsValidLabelValue`: empty, or at most 63 characters of the
/// name's alphabet.
pub fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    if s.len() > 63 {
        return Err(format!("must be at most 63 characters, not {}", s.len()));
    }
    if name_chars_ok(s) {
        Ok(())
    } else {
        Err(format!("must be empty or {NAME_RULE}"))
    }
}

/// The most bytes Kubernetes accepts in one object's annotations (keys and
/// values together).
pub const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

/// Kubernetes' `IsEnvVarName`: `[-._a-zA-Z][-._a-zA-Z0-9]*`, and not `.`,
/// `..` or starting with `..`.
pub fn env_var_name(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && (b[0].is_ascii_alphabetic() || matches!(b[0], b'-' | b'.' | b'_'))
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    if !ok {
        return Err(
            "must be letters, digits, `_`, `-` and `.`, not starting with a digit".to_owned(),
        );
    }
    if s.starts_with("..") || s == "." {
        return Err("must not be `.` or start with `..`".to_owned());
    }
    Ok(())
}

/// A Spark version as Go's `semver.Compare` reads it after the operator
/// prefixes a `v` (`3`, `3.5`, `3.5.1`, `3.5.1-rc1`; no leading zeros):
/// (major, minor, patch, prerelease?). `None` is a version semver calls
/// invalid, which compares lower than every valid one.
pub fn semver(version: &str) -> Option<(u64, u64, u64, bool)> {
    let v = version.strip_prefix('v').unwrap_or(version);
    let (v, build) = match v.split_once('+') {
        Some((core, b)) => (core, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let ident_ok = |s: &str| {
        !s.is_empty()
            && s.split('.')
                .all(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    if pre.is_some_and(|p| !ident_ok(p)) || build.is_some_and(|b| !ident_ok(b)) {
        return None;
    }
    let parts: Vec<&str> = core.split('.').collect();
    // `v3` and `v3.5` are shorthands, but only without a suffix.
    let shorthand = parts.len() < 3;
    if parts.len() > 3 || (shorthand && (pre.is_some() || build.is_some())) {
        return None;
    }
    let mut n = [0u64; 3];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty()
            || !p.bytes().all(|b| b.is_ascii_digit())
            || (p.len() > 1 && p.starts_with('0'))
        {
            return None;
        }
        n[i] = p.parse().ok()?;
    }
    Some((n[0], n[1], n[2], pre.is_some()))
}

/// Whether the operator's webhook takes `version` as Spark 3.0.0 or later
/// (what pod templates need): a pre-release of 3.0.0 is not.
pub fn at_least_3(version: &str) -> bool {
    semver(version).is_some_and(|(major, minor, patch, pre)| {
        major > 3 || (major == 3 && (minor > 0 || patch > 0 || !pre))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys() {
        for ok in [
            "team",
            "app.kubernetes.io/name",
            "a",
            "A_b.c-d",
            "example.com/X",
        ] {
            assert_eq!(qualified_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "owner email",
            "",
            "/name",
            "Example.com/name",
            "a/b/c",
            "-team",
            "team-",
            &"x".repeat(64),
            &format!("{}/n", "a".repeat(254)),
        ] {
            assert!(qualified_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_values() {
        for ok in ["", "bi", "bi-data_eng.1", &"x".repeat(63), "4.10"] {
            assert_eq!(label_value(ok), Ok(()), "{ok}");
        }
        for bad in [
            "bi data eng",
            "-x",
            "x-",
            "a/b",
            &"x".repeat(64),
            "bi@example.com",
        ] {
            assert!(label_value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subdomains() {
        for ok in ["spark", "spark-sa", "spark.sa", "a1"] {
            assert_eq!(dns1123_subdomain(ok), Ok(()), "{ok}");
        }
        for bad in ["Spark_SA", "", "-a", "a-", "a..b", ".a", &"a".repeat(254)] {
            assert!(dns1123_subdomain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_names() {
        for ok in ["DB_HOST", "my.env-name", "MyEnvName1", "_X", "-x", ".x"] {
            assert_eq!(env_var_name(ok), Ok(()), "{ok}");
        }
        for bad in ["1X", "MY VAR", "", "A=B", ".", "..", "..x", "É"] {
            assert!(env_var_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_as_the_webhook_compares_them() {
        for yes in [
            "3.0.0",
            "3.5.1",
            "3.5",
            "3",
            "4.0.0-preview2",
            "v3.1.2",
            "3.5.1+build",
        ] {
            assert!(at_least_3(yes), "{yes}");
        }
        for no in [
            "2.4.8",
            "3.0.0-rc1",
            "2.4",
            "3.5.1.2",
            "03.5.1",
            "",
            "three",
        ] {
            assert!(!at_least_3(no), "{no}");
        }
    }
}
