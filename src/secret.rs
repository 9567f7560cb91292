//! Recognising credentials, so their values are never printed (pure).

/// Whether a key names something secret (`fs.s3a.secret.key`,
/// `kafka.sasl.jaas.config`, `DB_PASSWORD`, `apiToken`, ...).
pub fn looks_like_credential(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "apikey",
        "api.key",
        "api_key",
        "api-key",
        "access.key",
        "accesskey",
        "access_key",
        "private.key",
        "privatekey",
        "private_key",
        "jaas.config",
        "sasl.jaas",
        "auth.key",
        "signature",
    ];
    // Settings *about* credentials are not credentials:
    // `fs.s3a.aws.credentials.provider`, `KAFKA_PASSWORD_FILE`.
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
    ];
    let last = k.rsplit(['.', '_', '-']).next().unwrap_or(&k);
    WORDS.iter().any(|w| k.contains(w)) && !ABOUT.contains(&last)
}

/// Whether any segment of a JSON pointer names a credential.
pub fn pointer_is_secret(pointer: &str) -> bool {
    pointer.split('/').any(looks_like_credential)
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
        ] {
            assert!(!looks_like_credential(k), "{k}");
        }
    }
}
