//! Recognising credentials, so their values are never printed (pure).

use std::ops::Range;

/// Whether a key names something secret (`fs.s3a.secret.key`,
/// `KAFKA_SASL_JAAS_CONFIG`, `DB_PASSWORD`, `apiToken`, ...). Keys that
/// are settings *about* a credential (`fs.s3a.aws.credentials.provider`,
/// `PASSWORD_FILE`, `secretKeyRef`, `imagePullSecrets`) are not.
pub fn looks_like_credential(key: &str) -> bool {
    let k: String = key
        .chars()
        .map(|c| {
            if c == '_' || c == '-' {
                '.'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "apikey",
        "api.key",
        "access.key",
        "accesskey",
        "private.key",
        "privatekey",
        "jaas.config",
        "sasl.jaas",
        "auth.key",
        "signature",
        "account.key",
        "connection.string",
        "connectionstring",
        "client.key",
    ];
    const ABOUT: &[&str] = &[
        "provider",
        "class",
        "type",
        "file",
        "path",
        "location",
        "enabled",
        "mechanism",
        "protocol",
        "name",
        "ref",
        "expiry",
        "ttl",
        "timeout",
        "interval",
        "renewal",
        "principal",
        "keytab",
        "store",
        "manager",
        "policy",
        "version",
        "mode",
        "format",
        "secrets",
        "url",
        "uri",
        "endpoint",
    ];
    let last = k.rsplit('.').next().unwrap_or(&k);
    WORDS.iter().any(|w| k.contains(w)) && !ABOUT.iter().any(|a| last.ends_with(a))
}

/// Whether the value under `key` is never shown, in a mapping whose `name`
/// entry is `name`: a credential-looking key, or the `value` of a
/// Kubernetes-style `{name: DB_PASSWORD, value: ...}` entry.
pub fn hides(key: &str, name: Option<&str>) -> bool {
    looks_like_credential(key) || (key == "value" && name.is_some_and(looks_like_credential))
}

/// Whether any segment of a JSON pointer names a credential.
pub fn pointer_is_secret(pointer: &str) -> bool {
    pointer.split('/').any(looks_like_credential)
}

/// Best-effort ranges of credential values in text that could not be
/// parsed: `key: value` lines (YAML) and `key=value` items (`--set`) whose
/// key looks like a credential.
pub fn scan(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive(['\n', '\r']) {
        let content = line.trim_end_matches(['\n', '\r']);
        for (sep, skip) in [(": ", 2), (":\t", 2), ("=", 1)] {
            let mut start = 0;
            while let Some(i) = content[start..].find(sep) {
                let at = start + i;
                let key = content[..at]
                    .rsplit([' ', ',', '{', '[', '\t'])
                    .next()
                    .unwrap_or("")
                    .trim_matches(['"', '\'', '-', ' ']);
                let value_start = at + skip;
                if looks_like_credential(&key.replace("\\.", ".")) {
                    let end = content[value_start..]
                        .find([',', '}'])
                        .map_or(content.len(), |j| value_start + j);
                    if end > value_start {
                        out.push(offset + value_start..offset + end);
                    }
                }
                start = value_start.min(content.len());
                if start >= content.len() {
                    break;
                }
            }
        }
        offset += line.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_keys() {
        for k in [
            "fs.s3a.secret.key",
            "fs.s3a.access.key",
            "DB_PASSWORD",
            "apiToken",
            "spark.kafka.sasl.jaas.config",
            "KAFKA_SASL_JAAS_CONFIG",
            "spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net",
            "keyPassword",
        ] {
            assert!(looks_like_credential(k), "{k}");
        }
        for k in [
            "memory",
            "spark.sql.shuffle.partitions",
            "fs.s3a.endpoint",
            "KAFKA_BOOTSTRAP",
            "fs.s3a.aws.credentials.provider",
            "KAFKA_PASSWORD_FILE",
            "secretKeyRef",
            "imagePullSecrets",
            "secrets",
            "secretName",
        ] {
            assert!(!looks_like_credential(k), "{k}");
        }
    }

    #[test]
    fn scan_finds_values_of_credential_keys() {
        let text = "a: 1\n  spark.password: HUNTER2: x\nset: fs.s3a.secret.key=HUNTER9,b=2\n";
        let found: Vec<&str> = scan(text).into_iter().map(|r| &text[r]).collect();
        assert!(found.iter().any(|f| f.contains("HUNTER2")), "{found:?}");
        assert!(found.contains(&"HUNTER9"), "{found:?}");
        assert!(
            !found
                .iter()
                .any(|f| f.contains('1') && !f.contains("HUNTER")),
            "{found:?}"
        );
    }
}
