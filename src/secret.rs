//! Recognising credentials (pure): the one place that decides what is a
//! secret, for every output and for lint.
//!
//! A value is a credential when
//! - it sits under a credential-looking key ([`looks_like_credential`]:
//!   `fs.s3a.secret.key`, `DB_PASSWORD`, `PGPASS`, ...), or is the `value`
//!   of a `{name: DB_PASSWORD, value: ...}` env entry;
//! - it follows a credential flag in a list (`[--password, hunter2]`);
//! - it holds one: `user:pass@` in a URL, `password=...` (JDBC URLs, JAAS
//!   configs, `-Dx.password=...`, `--token=...`), `--password value` in a
//!   command line, an AWS access key id, or a 40-character AWS secret key
//!   next to one ([`find`]).
//!
//! References are not credentials: a complete `${VAR}` placeholder
//! ([`is_reference`]), a `valueFrom`, the `secrets:` values key, volumes
//! and env entries that name a Kubernetes Secret, and Spark's secret-mount
//! confs (`spark.kubernetes.driver.secrets.<name>`,
//! `spark.kubernetes.*.secretKeyRef.*`).
//!
//! Users of this module: `values/repo.rs` (source snippets), `source.rs`
//! (every diagnostic's text, through [`mask_text`]), `values/check.rs`
//! (`values/literal-secret`), `values/print.rs` (`sluice values`),
//! `plan/show.rs` (diffs), `cluster/error.rs` (the API server's answers).

use std::borrow::Cow;
use std::ops::Range;

/// What replaces a hidden part of free text (messages, notes, errors).
pub const MASK: &str = "****";

/// Whether a key names something secret (`fs.s3a.secret.key`,
/// `KAFKA_SASL_JAAS_CONFIG`, `DB_PASSWORD`, `apiToken`, `PGPASS`, ...).
/// Keys that are settings *about* a credential
/// (`fs.s3a.aws.credentials.provider`, `PASSWORD_FILE`, `secretKeyRef`,
/// `imagePullSecrets`) and Spark's confs that name a Secret
/// (`spark.kubernetes.driver.secrets.creds`) are not.
pub fn looks_like_credential(key: &str) -> bool {
    // Every stream's merged values hold the same few hundred keys: a
    // 5000-stream repository asks about each of them 10,000 times.
    remembered(&KEYS, key, classify_key)
}

/// Answers for short texts, per thread: bounded, so hostile input with
/// millions of distinct keys costs memory only up to the bound.
fn remembered(cache: &'static Memo, text: &str, compute: fn(&str) -> bool) -> bool {
    known(cache, text).unwrap_or_else(|| {
        let answer = compute(text);
        remember(cache, text, answer);
        answer
    })
}

/// Keyed with foldhash: SipHash took more time than the scans it
/// saves. The bound keeps a hostile repository's collisions cheap.
type MemoMap = std::collections::HashMap<Box<str>, bool, foldhash::fast::RandomState>;

type Memo = std::thread::LocalKey<std::cell::RefCell<MemoMap>>;

/// Texts longer than this are not remembered.
const MEMO_MAX_TEXT: usize = 256;

fn known(cache: &'static Memo, text: &str) -> Option<bool> {
    if text.len() > MEMO_MAX_TEXT {
        return None;
    }
    cache.with(|c| c.borrow().get(text).copied())
}

fn remember(cache: &'static Memo, text: &str, answer: bool) {
    const MAX_ENTRIES: usize = 1 << 16;
    if text.len() > MEMO_MAX_TEXT {
        return;
    }
    cache.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= MAX_ENTRIES {
            c.clear();
        }
        c.insert(text.into(), answer);
    });
}

thread_local! {
    static KEYS: std::cell::RefCell<MemoMap> = Default::default();
    static CLEAN_TEXTS: std::cell::RefCell<MemoMap> = Default::default();
}

fn classify_key(key: &str) -> bool {
    if names_secret(key) {
        return false;
    }
    let last_segment = key.rsplit('.').next().unwrap_or(key);
    if env_name_is_credential(last_segment) {
        return true;
    }
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
        "passphrase",
        "pwd",
        "auth.pass",
        "redis.auth",
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

/// Spark confs whose value names a Kubernetes Secret (a mount path, or
/// `secret:key`), not a credential.
fn names_secret(key: &str) -> bool {
    // Kubernetes' own field names (exact, camelCase) that are about a
    // credential but hold none: a Secret volume source, a projected
    // service-account token, a reference map, a switch.
    const KUBERNETES_FIELDS: &[&str] = &[
        "secretName",
        "secretRef",
        "secretKeyRef",
        "serviceAccountToken",
        "automountServiceAccountToken",
        "gmsaCredentialSpec",
        "gmsaCredentialSpecName",
        "envSecretKeyRefs",
    ];
    if KUBERNETES_FIELDS.contains(&key) {
        return true;
    }
    let k = key.to_ascii_lowercase();
    k.starts_with("spark.kubernetes.")
        && (k.contains(".secrets.")
            || k.contains(".secretkeyref.")
            || k.contains(".kerberos.tokensecret."))
}

/// Whether an environment variable's name (`DB_PASSWORD`, `PGPASS`,
/// `GITHUB_TOKEN`, `API_KEY`) says it holds a credential: an upper-case
/// name ending in PASSWORD, PASSWD, PASS, TOKEN, SECRET or KEY, but not a
/// word that merely ends so (`BYPASS`) or a key that is no secret
/// (`PUBLIC_KEY`, `PARTITION_KEY`).
pub fn env_name_is_credential(name: &str) -> bool {
    let env_style = name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !env_style {
        return false;
    }
    const ENDINGS: &[&str] = &["PASSWORD", "PASSWD", "PASS", "TOKEN", "SECRET", "KEY"];
    const NOT: &[&str] = &[
        "BYPASS",
        "COMPASS",
        "SURPASS",
        "TRESPASS",
        "MONKEY",
        "TURKEY",
        "HOCKEY",
        "JOCKEY",
        "WHISKEY",
        "DONKEY",
        "PUBLIC_KEY",
        "PARTITION_KEY",
        "SORT_KEY",
        "ROUTING_KEY",
        "PRIMARY_KEY",
        "SHARD_KEY",
        "HASH_KEY",
        "RANGE_KEY",
    ];
    ENDINGS.iter().any(|e| name.ends_with(e)) && !NOT.iter().any(|n| name.ends_with(n))
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

/// Whether a value only refers to a credential kept elsewhere: one
/// complete `${VAR}` placeholder (`${env:VAR}` too). `${x`, `${A}${B}` and
/// `pw-${A}` are literals.
pub fn is_reference(value: &str) -> bool {
    value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .is_some_and(|inner| {
            !inner.is_empty()
                && inner
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
        })
}

/// Whether a command-line argument is a flag whose next argument is a
/// credential: `--password`, `--secret`, `--token`, `--api-key`, ...
/// (`--password=x` carries its value itself: see [`find`]).
pub fn is_credential_flag(arg: &str) -> bool {
    let Some(name) = arg.strip_prefix('-') else {
        return false;
    };
    let name = name.strip_prefix('-').unwrap_or(name);
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && looks_like_credential(name)
}

/// A credential inside a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub range: Range<usize>,
    /// What it is, for a finding's label ("a password in a URL").
    pub what: &'static str,
}

/// Credentials embedded in one string value (a URL, a JDBC URL, a JAAS
/// config, JVM options, a command line), with the byte range of each.
/// References (`${VAR}`) are not reported.
pub fn find(text: &str) -> Vec<Found> {
    if text.len() < 4 || known(&CLEAN_TEXTS, text) == Some(true) {
        return Vec::new();
    }
    let found = find_uncached(text);
    remember(&CLEAN_TEXTS, text, found.is_empty());
    found
}

fn find_uncached(text: &str) -> Vec<Found> {
    let mut out = Vec::new();
    url_passwords(text, &mut out);
    assignments(text, &mut out);
    flag_values(text, &mut out);
    aws_keys(text, &mut out);
    out.retain(|f| !f.range.is_empty() && !is_reference(&text[f.range.clone()]));
    out.sort_by_key(|f| (f.range.start, std::cmp::Reverse(f.range.end)));
    let mut merged: Vec<Found> = Vec::with_capacity(out.len());
    for f in out {
        match merged.last_mut() {
            Some(last) if f.range.start < last.range.end => {
                last.range.end = last.range.end.max(f.range.end);
            }
            _ => merged.push(f),
        }
    }
    merged
}

/// `scheme://user:password@host`, and Oracle's `jdbc:oracle:thin:user/password@host`.
fn url_passwords(text: &str, out: &mut Vec<Found>) {
    let ends =
        |c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '`') || c.is_whitespace();
    let mut seen = 0;
    for (i, _) in text.match_indices("://") {
        let start = i + 3;
        if start < seen {
            continue;
        }
        let end = text[start..].find(ends).map_or(text.len(), |j| start + j);
        seen = end;
        let authority = &text[start..end];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            out.push(Found {
                range: start + colon + 1..start + at,
                what: "a password in a URL",
            });
        }
    }
    for (i, m) in text.match_indices("jdbc:oracle:thin:") {
        let start = i + m.len();
        let rest = &text[start..];
        if let Some(at) = rest.find('@')
            && let Some(slash) = rest[..at].find('/')
            && !rest[..at].contains(char::is_whitespace)
        {
            out.push(Found {
                range: start + slash + 1..start + at,
                what: "a password in a JDBC URL",
            });
        }
    }
}

/// The longest key looked at left of a `=` or `:`.
const MAX_KEY: usize = 256;

/// Characters that end a key to the left of `=`, or a value to its right.
fn key_delimiter(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ';' | '&' | '?' | ',' | '(' | '{' | '[' | '"' | '\'' | '`' | '|'
        )
}

fn value_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, ';' | '&' | '"' | '\'' | '`')
}

/// The key to the left of byte `at` (`-Dx.password`, `--token`,
/// `password`), without its dashes and a JVM `-D`.
fn key_before(text: &str, at: usize) -> &str {
    // Keys are short; a bound keeps hostile text linear.
    let mut from = at.saturating_sub(MAX_KEY);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let start = text[from..at]
        .char_indices()
        .rev()
        .find(|(_, c)| key_delimiter(*c))
        .map_or(from, |(i, c)| from + i + c.len_utf8());
    let raw = &text[start..at];
    match raw.strip_prefix("-D") {
        Some(rest) if !rest.starts_with('-') => rest,
        _ => raw.trim_start_matches('-'),
    }
}

/// The value starting at byte `start`: inside quotes up to the closing one
/// (or the end), otherwise up to a delimiter.
fn value_at(text: &str, start: usize, delimiter: impl Fn(char) -> bool) -> Range<usize> {
    let rest = &text[start..];
    match rest.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let from = start + 1;
            from..closing_quote(text, from, q)
        }
        _ => start..rest.find(delimiter).map_or(text.len(), |j| start + j),
    }
}

/// The byte offset of the quote `q` closing a value that starts at `from`
/// (a backslash escapes it), or the end of the text.
fn closing_quote(text: &str, from: usize, q: char) -> usize {
    let mut escaped = false;
    for (i, c) in text[from..].char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == q {
            return from + i;
        }
    }
    text.len()
}

/// `password=...`, `;password=...`, `password="..."` (JAAS),
/// `-Dx.password=...`, `--token=...`.
fn assignments(text: &str, out: &mut Vec<Found>) {
    let bytes = text.as_bytes();
    let mut seen = 0;
    for (i, _) in text.match_indices('=') {
        if i < seen {
            continue;
        }
        let prev = i.checked_sub(1).map(|p| bytes[p]);
        if matches!(prev, Some(b'=' | b'!' | b'<' | b'>')) || bytes.get(i + 1) == Some(&b'=') {
            continue;
        }
        let key = key_before(text, i);
        if key.is_empty() || !looks_like_credential(key) {
            continue;
        }
        let range = value_at(text, i + 1, value_delimiter);
        seen = range.end;
        out.push(Found {
            range,
            what: "a credential in a `key=value` setting",
        });
    }
}

/// `--password value` in a command line held in one string.
fn flag_values(text: &str, out: &mut Vec<Found>) {
    // Words of a command line, or of a list written as text (`{a,b}`,
    // `[a, b]`).
    let tokens: Vec<(usize, &str)> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '`'))
        .filter(|t| !t.is_empty())
        .map(|t| (t.as_ptr() as usize - text.as_ptr() as usize, t))
        .collect();
    // Quotes and flow-list punctuation around a word; the braces of a
    // `${VAR}` stay.
    fn trim(t: &str) -> &str {
        let t = t.trim_matches(|c: char| matches!(c, '"' | '\'' | ',' | '[' | ']'));
        if t.contains("${") {
            t
        } else {
            t.trim_matches(['{', '}'])
        }
    }
    for pair in tokens.windows(2) {
        let ((_, flag), (at, value)) = (pair[0], pair[1]);
        let v = trim(value);
        if is_credential_flag(trim(flag)) && !v.is_empty() && !v.starts_with('-') {
            let start = at + value.find(v).unwrap_or(0);
            out.push(Found {
                range: start..start + v.len(),
                what: "the value of a credential flag",
            });
        }
    }
}

/// AWS access key ids (`AKIA...`, `ASIA...`), and a 40-character secret
/// key beside one. Alone, a 40-character string is no evidence: it could be
/// a git commit or a checksum.
fn aws_keys(text: &str, out: &mut Vec<Found>) {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric();
    let mut ids = 0;
    for prefix in ["AKIA", "ASIA"] {
        for (i, _) in text.match_indices(prefix) {
            let end = i + 20;
            if end <= bytes.len()
                && (i == 0 || !word(bytes[i - 1]))
                && bytes.get(end).is_none_or(|b| !word(*b))
                && bytes[i + 4..end]
                    .iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                ids += 1;
                out.push(Found {
                    range: i..end,
                    what: "an AWS access key id",
                });
            }
        }
    }
    if ids == 0 {
        return;
    }
    let base64 = |b: u8| b.is_ascii_alphanumeric() || b == b'/' || b == b'+';
    let mut i = 0;
    while i < bytes.len() {
        if !base64(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && base64(bytes[i]) {
            i += 1;
        }
        let run = &bytes[start..i];
        if run.len() == 40
            && bytes.get(i) != Some(&b'=')
            && run.iter().any(u8::is_ascii_lowercase)
            && run.iter().any(u8::is_ascii_uppercase)
        {
            out.push(Found {
                range: start..i,
                what: "an AWS secret access key",
            });
        }
    }
}

/// Best-effort ranges of credential values in text that could not be
/// parsed (a broken values file, a malformed `--set`) or that is free text
/// (a diagnostic's message, a template's rendered output, the API server's
/// answer): `key: value`, `"key": "value"` and `key=value` whose key looks
/// like a credential, the `value` after a `name:` that does, the line after
/// a lone credential flag, and whatever [`find`] finds. A value runs to the
/// end of the line, or to its closing quote: without a parser, a `,` or `}`
/// may just as well be part of the secret.
pub fn scan(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut offset = 0;
    // Lines left in which a `value:` belongs to a credential-named entry.
    let mut named = 0u8;
    let mut flag_before = false;
    for line in text.split_inclusive(['\n', '\r']) {
        let content = line.trim_end_matches(['\n', '\r']);
        if content.trim().is_empty() {
            // Blank, or the `\n` of a `\r\n`: no line of its own.
            offset += line.len();
            continue;
        }
        if std::mem::take(&mut flag_before) {
            let item = content.trim_start().trim_start_matches("- ").trim_start();
            let start = content.len() - item.len();
            let end = content.trim_end().len().max(start);
            if end > start {
                out.push(offset + start..offset + end);
            }
        }
        let mut named_here = false;
        let mut seen = 0;
        for (at, sep) in content.match_indices([':', '=']) {
            if at < seen {
                continue;
            }
            let after = at + sep.len();
            let next = content[after..].chars().next();
            let quoted_key = content[..at].ends_with(['"', '\'']);
            if sep == ":" && !quoted_key && !next.is_none_or(|c| c == ' ' || c == '\t') {
                continue;
            }
            let key = key_before(content, at.saturating_sub(usize::from(quoted_key)))
                .trim_matches(['"', '\'', ' '])
                .replace("\\.", ".");
            let value_start = after + content[after..].len() - content[after..].trim_start().len();
            if key == "name" {
                let v = value_at(content, value_start, |c| {
                    matches!(c, ',' | '}' | ']') || c.is_whitespace()
                });
                if looks_like_credential(&content[v]) {
                    named_here = true;
                    named = 4;
                }
                continue;
            }
            if looks_like_credential(&key) || (key == "value" && named > 0) {
                let r = match content[value_start..].chars().next() {
                    Some(q @ ('"' | '\'')) => {
                        let close = closing_quote(content, value_start + 1, q);
                        // Text glued to the closing quote (`"abc"def`) is
                        // why the parser failed: it may be the secret's rest.
                        let glued = content[close..].chars().nth(1).is_some_and(|c| {
                            !(c.is_whitespace() || matches!(c, ',' | '}' | ']' | '#'))
                        });
                        let end = if glued {
                            content.trim_end().len()
                        } else {
                            close
                        };
                        value_start + 1..end.max(value_start + 1)
                    }
                    _ => value_start..content.trim_end().len().max(value_start),
                };
                seen = r.end;
                if !r.is_empty() {
                    out.push(offset + r.start..offset + r.end);
                }
            }
        }
        out.extend(
            find(content)
                .into_iter()
                .map(|f| offset + f.range.start..offset + f.range.end),
        );
        let last = content
            .trim()
            .trim_start_matches("- ")
            .trim_matches(|c: char| matches!(c, '"' | '\'' | ',' | '[' | ']'));
        let last = last
            .rsplit([' ', ',', '['])
            .next()
            .unwrap_or(last)
            .trim_matches(['"', '\'']);
        flag_before = is_credential_flag(last);
        if !named_here {
            named = named.saturating_sub(1);
        }
        offset += line.len();
    }
    out
}

/// Free text with every credential replaced by [`MASK`]: the values in
/// `known` (credentials already seen in the input, at least four
/// characters long: shorter ones would mask ordinary words), and whatever
/// [`scan`] finds.
pub fn mask_text<'a, S: AsRef<str>>(text: &'a str, known: &[S]) -> Cow<'a, str> {
    let mut ranges: Vec<Range<usize>> = Vec::new();
    for k in known {
        let k = k.as_ref();
        if k.len() >= 4 {
            ranges.extend(text.match_indices(k).map(|(i, m)| i..i + m.len()));
        }
    }
    ranges.extend(scan(text));
    replace(text, ranges, |_| MASK.to_owned())
}

/// `text` with `ranges` (in any order, maybe overlapping) replaced by what
/// `with` makes of each.
pub fn replace<'a>(
    text: &'a str,
    mut ranges: Vec<Range<usize>>,
    with: impl Fn(&str) -> String,
) -> Cow<'a, str> {
    ranges.retain(|r| {
        !r.is_empty()
            && r.end <= text.len()
            && text.is_char_boundary(r.start)
            && text.is_char_boundary(r.end)
    });
    if ranges.is_empty() {
        return Cow::Borrowed(text);
    }
    ranges.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut i = 0;
    while i < ranges.len() {
        let start = ranges[i].start.max(last);
        let mut end = ranges[i].end;
        while i + 1 < ranges.len() && ranges[i + 1].start <= end {
            i += 1;
            end = end.max(ranges[i].end);
        }
        if end > start {
            out.push_str(&text[last..start]);
            out.push_str(&with(&text[start..end]));
            last = end;
        }
        i += 1;
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// Whether a field path the API server names (`spec.driver.env[0].value`,
/// `spec.sparkConf[spark.password]`, `spec.arguments[3]`) may hold a
/// credential: a credential-looking key on the way, an env entry's `value`
/// (the server does not say whose), or a program argument (which may
/// follow `--password`).
pub fn field_may_be_secret(field: &str) -> bool {
    let brackets = field.split('[').skip(1).filter_map(|b| b.split(']').next());
    field.split(['.', '[', ']']).any(looks_like_credential)
        || brackets.clone().any(looks_like_credential)
        || field.ends_with(".value")
        || field
            .split(['.', '['])
            .any(|s| s == "arguments" || s == "args")
}

/// Text from the API server (a refusal's message, one cause of a 422):
/// the value it quotes after `Invalid value:` is masked when its field
/// (`field`, or the one named just before) may be secret, and so is
/// whatever [`mask_text`] finds.
pub fn mask_server_text(field: Option<&str>, message: &str) -> String {
    const INVALID: &str = "Invalid value: ";
    let mut ranges = Vec::new();
    for (i, _) in message.match_indices(INVALID) {
        let secret = match field {
            Some(f) => field_may_be_secret(f),
            None => {
                let before = message[..i].trim_end().trim_end_matches(':');
                let named = before
                    .rsplit(char::is_whitespace)
                    .next()
                    .unwrap_or(before)
                    .trim_start_matches('[');
                field_may_be_secret(named)
            }
        };
        if !secret {
            continue;
        }
        let start = i + INVALID.len();
        let range = match message[start..].chars().next() {
            Some('"') => start + 1..closing_quote(message, start + 1, '"'),
            // An unquoted value (a number, a Go map) up to the detail.
            _ => {
                start
                    ..message[start..]
                        .find(": ")
                        .map_or(message.len(), |j| start + j)
            }
        };
        ranges.push(range);
    }
    let masked = replace(message, ranges, |_| MASK.to_owned());
    mask_text(&masked, &[] as &[&str]).into_owned()
}

/// A step of the path to a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The JSON pointer of a path (`/sparkConf/fs.s3a.secret.key`).
pub fn pointer(path: &[Seg<'_>]) -> String {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => format!("/{}", k.replace('~', "~0").replace('/', "~1")),
            Seg::Index(i) => format!("/{i}"),
        })
        .collect()
}

/// A path as a user writes it: `driver.env.DB_PASSWORD`, `arguments[3]`.
pub fn dotted(path: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Why a value is never shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hidden {
    /// All of it (and everything beneath it).
    Whole(Why),
    /// The credentials inside a string.
    Parts(Vec<Found>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Under a credential-looking key, or the `value` of a credential env entry.
    Key,
    /// The list item after a credential flag.
    Flag,
}

/// The shape of a tree of values: sluice's YAML nodes and plain JSON.
pub enum Shape<'a, T> {
    Map(Vec<(&'a str, &'a T)>),
    Seq(&'a [T]),
    Str(&'a str),
    Other,
}

pub trait Tree: Sized {
    fn shape(&self) -> Shape<'_, Self>;
}

impl Tree for serde_json::Value {
    fn shape(&self) -> Shape<'_, Self> {
        match self {
            serde_json::Value::Object(m) => {
                Shape::Map(m.iter().map(|(k, v)| (k.as_str(), v)).collect())
            }
            serde_json::Value::Array(items) => Shape::Seq(items),
            serde_json::Value::String(s) => Shape::Str(s),
            _ => Shape::Other,
        }
    }
}

impl Tree for crate::values::yaml::Node {
    fn shape(&self) -> Shape<'_, Self> {
        use crate::values::yaml::Value;
        match &self.value {
            Value::Map(entries) => {
                Shape::Map(entries.iter().map(|e| (e.key.as_str(), &e.value)).collect())
            }
            Value::Seq(items) => Shape::Seq(items),
            Value::String(s) => Shape::Str(s),
            _ => Shape::Other,
        }
    }
}

/// Subtrees that only refer to Secrets kept in the cluster: the `secrets:`
/// values key (and the SparkApplication's list of mounted Secrets), env
/// entries' `valueFrom`, `envFrom` and the operator's `envSecretKeyRefs`,
/// and a volume's `secret: {secretName: ...}`.
fn refers_only<T: Tree>(key: &str, value: &T) -> bool {
    match key {
        "valueFrom" | "envFrom" | "envSecretKeyRefs" | "secretKeyRef" | "imagePullSecrets" => true,
        "secrets" => matches!(value.shape(), Shape::Seq(_)),
        "secret" => match value.shape() {
            Shape::Map(entries) => entries
                .iter()
                .any(|(k, _)| matches!(*k, "secretName" | "name" | "items")),
            _ => false,
        },
        _ => false,
    }
}

/// Calls `f` with the path of every value in `root` that is never shown,
/// and why. A `Whole` value is not looked into further.
pub fn visit<'a, T: Tree>(root: &'a T, f: &mut impl FnMut(&[Seg<'a>], &'a T, Hidden)) {
    let mut path = Vec::new();
    walk(root, &mut path, f);
}

/// Every node [`visit`] reports, in its order, with a long list of
/// mappings at the top level (a common.yaml's `streams:`) walked item by
/// item in parallel: an item of such a list is walked on its own anyway
/// (only text items carry anything, a credential flag, to the next).
pub fn hidden_nodes<T: Tree + Sync>(root: &T) -> Vec<(&T, Hidden)> {
    use rayon::prelude::*;
    let mut out = Vec::new();
    let Shape::Map(entries) = root.shape() else {
        visit(root, &mut |_, n, h| out.push((n, h)));
        return out;
    };
    // As `walk` does for a mapping, entry by entry.
    let name = name_of(&entries);
    for (k, v) in &entries {
        match step(k, *v, name) {
            Step::Skip => continue,
            Step::Hide => {
                out.push((*v, Hidden::Whole(Why::Key)));
                continue;
            }
            Step::Descend => {}
        }
        let long_list = match v.shape() {
            Shape::Seq(items) if items.len() > 64 => items
                .iter()
                .all(|i| matches!(i.shape(), Shape::Map(_)))
                .then_some(items),
            _ => None,
        };
        match long_list {
            Some(items) => {
                let found: Vec<Vec<(&T, Hidden)>> = items
                    .par_iter()
                    .map(|item| {
                        let mut found = Vec::new();
                        visit(item, &mut |_, n, h| found.push((n, h)));
                        found
                    })
                    .collect();
                out.extend(found.into_iter().flatten());
            }
            None => {
                let mut path = vec![Seg::Key(k)];
                walk(*v, &mut path, &mut |_, n, h| out.push((n, h)));
            }
        }
    }
    out
}

/// A mapping's `name`, which says what some of its keys hold.
fn name_of<'a, T: Tree>(entries: &[(&'a str, &'a T)]) -> Option<&'a str> {
    entries
        .iter()
        .find(|(k, _)| *k == "name")
        .and_then(|(_, v)| match v.shape() {
            Shape::Str(s) => Some(s),
            _ => None,
        })
}

/// What a walk does with one entry of a mapping.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    /// It only refers to a credential (a Secret's name): nothing to hide.
    Skip,
    /// Its key says it holds one: hide all of it.
    Hide,
    /// Look inside.
    Descend,
}

fn step<T: Tree>(key: &str, value: &T, name: Option<&str>) -> Step {
    if refers_only(key, value) {
        return Step::Skip;
    }
    // `secret:` as a mapping is Kubernetes' Secret volume source
    // ({secretName, items}): look inside it instead.
    let volume_source = key == "secret" && matches!(value.shape(), Shape::Map(_));
    if hides(key, name) && !volume_source {
        Step::Hide
    } else {
        Step::Descend
    }
}

fn walk<'a, T: Tree>(
    node: &'a T,
    path: &mut Vec<Seg<'a>>,
    f: &mut impl FnMut(&[Seg<'a>], &'a T, Hidden),
) {
    match node.shape() {
        Shape::Map(entries) => {
            let name = name_of(&entries);
            for (k, v) in &entries {
                let step = step(k, *v, name);
                if step == Step::Skip {
                    continue;
                }
                path.push(Seg::Key(k));
                if step == Step::Hide {
                    f(path, v, Hidden::Whole(Why::Key));
                } else {
                    walk(*v, path, f);
                }
                path.pop();
            }
        }
        Shape::Seq(items) => {
            let mut after_flag = false;
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                let text = match item.shape() {
                    Shape::Str(s) => Some(s),
                    _ => None,
                };
                if after_flag && text.is_some_and(|t| !t.starts_with('-')) {
                    f(path, item, Hidden::Whole(Why::Flag));
                } else {
                    walk(item, path, f);
                }
                after_flag = text.is_some_and(is_credential_flag);
                path.pop();
            }
        }
        Shape::Str(s) => {
            let found = find(s);
            if !found.is_empty() {
                f(path, node, Hidden::Parts(found));
            }
        }
        Shape::Other => {}
    }
}

/// A copy of `value` with every hidden value replaced by what `hide`
/// makes of it (the whole value, or each credential inside a string).
pub fn masked_json(
    value: &serde_json::Value,
    hide: impl Fn(&serde_json::Value) -> String,
) -> serde_json::Value {
    let mut found: Vec<(String, Hidden)> = Vec::new();
    visit(value, &mut |path, _, why| found.push((pointer(path), why)));
    let mut out = value.clone();
    for (p, why) in found {
        let Some(v) = out.pointer_mut(&p) else {
            continue;
        };
        *v = match (&why, &*v) {
            (Hidden::Parts(parts), serde_json::Value::String(s)) => serde_json::Value::String(
                replace(s, parts.iter().map(|f| f.range.clone()).collect(), |part| {
                    hide(&serde_json::Value::String(part.to_owned()))
                })
                .into_owned(),
            ),
            _ => serde_json::Value::String(hide(v)),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parallel walk reports what the plain one does, in its order.
    #[test]
    fn hidden_nodes_is_visit_in_parallel() {
        let mut items: Vec<serde_json::Value> = (0..200)
            .map(|i| serde_json::json!({"name": format!("s{i}"), "arguments": ["--x", "1"], "sparkConf": {"spark.a": "b"}}))
            .collect();
        items[3] = serde_json::json!({"name": "s3", "arguments": ["--password", "hunter2hunter2"]});
        items[150] = serde_json::json!({"name": "s150", "password": "p4ssw0rd!", "env": {"DB_URL": "postgres://u:sekret99@db/x"}});
        let root = serde_json::json!({
            "token": "abcd1234efgh",
            "streams": items,
            "sparkConf": {"spark.hadoop.fs.s3a.secret.key": "AKIAsomething"},
            "tail": ["--token", "zzzzzzzzzz"],
        });
        let mut plain = Vec::new();
        visit(&root, &mut |_, n: &serde_json::Value, h| {
            plain.push((n as *const _, h))
        });
        let parallel: Vec<_> = hidden_nodes(&root)
            .into_iter()
            .map(|(n, h)| (n as *const _, h))
            .collect();
        assert!(plain.len() >= 5, "{plain:?}");
        assert_eq!(plain, parallel);
    }

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
            "PGPASS",
            "GITHUB_TOKEN",
            "API_KEY",
            "AWS_SECRET",
            "DB_PASSWD",
            "spark.executorEnv.PGPASS",
            "spark.kubernetes.authenticate.driver.oauthToken",
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
            "spark.kubernetes.driver.secrets.kafka-creds",
            "spark.kubernetes.executor.secrets.kafka-creds",
            "spark.kubernetes.driver.secretKeyRef.DB_PASSWORD",
            "spark.kubernetes.executor.secretKeyRef.API_TOKEN",
            "BYPASS",
            "PUBLIC_KEY",
            "PARTITION_KEY",
            "key",
            "passthrough",
        ] {
            assert!(!looks_like_credential(k), "{k}");
        }
    }

    /// Lint looks for credential keys everywhere in the values: no key of
    /// sluice's own may look like one.
    #[test]
    fn no_key_of_the_values_schema_looks_like_a_credential() {
        fn keys<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(serde_json::Value::Object(p)) = m.get("properties") {
                        out.extend(p.keys().map(String::as_str));
                    }
                    m.values().for_each(|v| keys(v, out));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
                _ => {}
            }
        }
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../schemas/values.schema.json")).unwrap();
        let mut found = Vec::new();
        keys(&schema, &mut found);
        assert!(found.contains(&"imagePullSecrets"));
        // `secret` is Kubernetes' Secret volume source, a mapping the scan
        // looks inside (see `walk`); as a flag (`--secret x`) it is one.
        let credential: Vec<&&str> = found
            .iter()
            .filter(|k| **k != "secret" && looks_like_credential(k))
            .collect();
        assert!(credential.is_empty(), "{credential:?}");
    }

    #[test]
    fn references() {
        for r in ["${DB_PASSWORD}", "${env:DB_PASSWORD}", "${x}"] {
            assert!(is_reference(r), "{r}");
        }
        for r in [
            "${x", "${}", "pw-${X}", "${A}${B}", "${A} ", "$X", "hunter2",
        ] {
            assert!(!is_reference(r), "{r}");
        }
    }

    /// Detected: (value, the credential it holds). Not detected: (value, "").
    const STRINGS: &[(&str, &str)] = &[
        ("jdbc:postgresql://u:S3CR3T@h:5432/db", "S3CR3T"),
        ("https://user:S3CR3T@repo.example.com/maven", "S3CR3T"),
        (
            "s3a://AKIAIOSFODNN7EXAMPLE:S3CR3T@bucket/x",
            "AKIAIOSFODNN7EXAMPLE:S3CR3T",
        ),
        (
            "jdbc:postgresql://h/db?user=u&password=S3CR3T&ssl=true",
            "S3CR3T",
        ),
        (
            "jdbc:sqlserver://h;user=u;password=S3CR3T;encrypt=true",
            "S3CR3T",
        ),
        ("jdbc:oracle:thin:scott/S3CR3T@db:1521/orcl", "S3CR3T"),
        (
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"S3 CR3T\";",
            "S3 CR3T",
        ),
        ("-XX:+UseG1GC -Dx.password=S3CR3T -Dy=z", "S3CR3T"),
        ("-Djavax.net.ssl.trustStorePassword=S3CR3T", "S3CR3T"),
        ("--password=S3CR3T", "S3CR3T"),
        ("--api-key=S3CR3T", "S3CR3T"),
        ("--token S3CR3T --verbose", "S3CR3T"),
        ("--secret 'S3CR3T'", "S3CR3T"),
        ("{--password,S3CR3T}", "S3CR3T"),
        ("key id AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
        ("ASIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPLE"),
        (
            "AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        // References and look-alikes.
        ("jdbc:postgresql://u:${DB_PASSWORD}@h/db", ""),
        ("jdbc:postgresql://h/db?user=u&password=${DB_PASSWORD}", ""),
        ("--password=${DB_PASSWORD}", ""),
        ("--password ${DB_PASSWORD}", ""),
        ("jdbc:postgresql://u@h/db", ""),
        ("https://repo.example.com:8443/maven", ""),
        ("s3a://bucket/_checkpoints/orders", ""),
        ("--password-file=/etc/pw", ""),
        ("--secret-name kafka-creds", ""),
        ("--topic orders", ""),
        (
            "registry.example.com/spark@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "",
        ),
        // A 40-character string alone: a commit, a checksum.
        ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
        ("da39a3ee5e6b4b0d3255bfef95601890afd80709", ""),
        ("AKIA-not-a-key", ""),
        ("spark.sql.shuffle.partitions=200", ""),
        ("a == b", ""),
    ];

    #[test]
    fn finds_credentials_in_strings() {
        for (text, secret) in STRINGS {
            let found: Vec<&str> = find(text).iter().map(|f| &text[f.range.clone()]).collect();
            if secret.is_empty() {
                assert!(found.is_empty(), "{text}: {found:?}");
            } else {
                let shown = replace(
                    text,
                    find(text).into_iter().map(|f| f.range).collect(),
                    |_| MASK.into(),
                );
                for part in secret.split([' ', ':']) {
                    assert!(!shown.contains(part), "{text}: shown as {shown}");
                }
            }
        }
    }

    #[test]
    fn scan_finds_values_of_credential_keys() {
        let text = "a: 1\n  spark.password: HUNTER2: x\nset: fs.s3a.secret.key=HUNTER9,b=2\n";
        let found: Vec<&str> = scan(text).into_iter().map(|r| &text[r]).collect();
        assert!(found.iter().any(|f| f.contains("HUNTER2")), "{found:?}");
        assert!(found.iter().any(|f| f.starts_with("HUNTER9")), "{found:?}");
        assert!(
            !found
                .iter()
                .any(|f| f.contains('1') && !f.contains("HUNTER")),
            "{found:?}"
        );
    }

    /// Unparsed text: (text, the secret that must not show).
    const UNPARSED: &[(&str, &str)] = &[
        ("password=abc\\,SECRET", "SECRET"),
        ("password=abc}SECRET,b=2", "SECRET"),
        ("spark.password: \"abc,}SECRET\" # note", "SECRET"),
        ("spark.password: \"abc\"SECRET", "SECRET"),
        ("sparkConf: {spark.password: abc, SECRET}", "SECRET"),
        ("env:\n  - name: DB_PASSWORD\n    value: SECRET\n", "SECRET"),
        ("env: [{name: DB_PASSWORD, value: SECRET}]", "SECRET"),
        ("{\"name\":\"DB_PASSWORD\",\"value\":\"SECRET\"}", "SECRET"),
        ("{\"spark.password\":\"SECRET\"}", "SECRET"),
        ("arguments:\n  - --password\n  - SECRET\n", "SECRET"),
        ("arguments: [--password, SECRET]", "SECRET"),
        (
            "arguments:\r\n  - --password\r\n\r\n  - SECRET\r\n",
            "SECRET",
        ),
        (
            "env:\r\n  - name: DB_PASSWORD\r\n\r\n\r\n    value: SECRET\r\n",
            "SECRET",
        ),
        ("url: jdbc:postgresql://u:SECRET@h/db\n[", "SECRET"),
        ("  12 |   DB_PASSWORD: \"SECRET\"", "SECRET"),
        (
            "spec.sparkConf[spark.password]: Invalid value: \"SECRET\"",
            "SECRET",
        ),
    ];

    #[test]
    fn masking_unparsed_text_runs_to_the_end_of_the_value() {
        for (text, secret) in UNPARSED {
            let shown = mask_text(text, &[] as &[&str]);
            assert!(!shown.contains(secret), "{text:?} shown as {shown:?}");
        }
        let shown = mask_text("name: orders\nvalue: 3\nsink: s3a://x/y", &[] as &[&str]);
        assert_eq!(shown, "name: orders\nvalue: 3\nsink: s3a://x/y");
    }

    #[test]
    fn server_text_hides_the_values_it_quotes() {
        for (field, message) in [
            (
                Some("spec.driver.env[0].value"),
                "Invalid value: \"S3CR3T\": must be no more than 63 characters",
            ),
            (
                Some("spec.sparkConf[spark.password]"),
                "Invalid value: \"S3CR3T\": bad",
            ),
            (
                Some("spec.hadoopConf[fs.s3a.access.key]"),
                "Invalid value: \"S3CR3T\": bad",
            ),
            (Some("spec.arguments[4]"), "Invalid value: \"S3CR3T\": bad"),
            (
                Some("spec.driver.javaOptions"),
                "Invalid value: \"-Dx.password=S3CR3T\": bad",
            ),
            (
                Some("spec.x"),
                "Invalid value: \"jdbc:postgresql://u:S3CR3T@h/db\": bad",
            ),
            (
                None,
                "SparkApplication.sparkoperator.k8s.io \"orders\" is invalid: [spec.driver.env[0].value: Invalid value: \"S3CR3T\": bad, spec.x: Invalid value: 3: bad]",
            ),
            (
                None,
                "admission webhook denied: spec.sparkConf[spark.password]: Invalid value: S3CR3T",
            ),
        ] {
            let shown = mask_server_text(field, message);
            assert!(!shown.contains("S3CR3T"), "{message} -> {shown}");
            assert!(shown.contains(MASK), "{message} -> {shown}");
        }
        let plain = "Invalid value: \"4Gi\": must match the memory format";
        assert_eq!(mask_server_text(Some("spec.executor.memory"), plain), plain);
    }

    #[test]
    fn known_secrets_are_masked_wherever_they_appear() {
        let shown = mask_text(
            "rendered: {\"x\": \"S3CR3T-1\"} and S3CR3T-1",
            &["S3CR3T-1", "ab"],
        );
        assert_eq!(shown, "rendered: {\"x\": \"****\"} and ****");
    }

    #[test]
    fn visit_finds_keys_flags_and_parts_but_not_references() {
        let v = serde_json::json!({
            "arguments": ["--topic", "orders", "--password", "S3CR3T-1", "--token", "--verbose"],
            "sparkConf": {"spark.datasource.jdbc.url": "jdbc:postgresql://h/db?password=S3CR3T-2",
                          "spark.kubernetes.driver.secrets.creds": "/mnt/creds"},
            "driver": {"env": {"PGPASS": "S3CR3T-3", "KAFKA": "k:9092"}},
            "secrets": [{"name": "creds", "env": {"DB_PASSWORD": "password"}}],
            "podTemplate": {"driver": {"spec": {"containers": [{"name": "c", "env": [
                {"name": "DB_PASSWORD", "value": "S3CR3T-4"},
                {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
            ]}], "volumes": [{"name": "v", "secret": {"secretName": "creds"}}]}}}
        });
        let mut found = Vec::new();
        visit(&v, &mut |path, _, why| found.push((dotted(path), why)));
        let mut paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "arguments[3]",
                "driver.env.PGPASS",
                "podTemplate.driver.spec.containers[0].env[0].value",
                "sparkConf.spark.datasource.jdbc.url",
            ]
        );
        let masked = masked_json(&v, |_| "<hidden>".into()).to_string();
        for n in 1..=4 {
            assert!(!masked.contains(&format!("S3CR3T-{n}")), "{masked}");
        }
        assert!(
            masked.contains("/mnt/creds") && masked.contains("secretName"),
            "{masked}"
        );
    }
}
