//! "Did you mean" suggestions (pure).

/// Inputs and candidates longer than this (in characters) are only
/// matched up to case: the edit distance costs the product of the two
/// lengths, a key of the user's can be megabytes long, and no typo of a
/// known key or value is that long.
pub const MAX_FUZZY_CHARS: usize = 64;

/// The candidate closest to `input`, if it is close enough to be a typo:
/// same letters in another case, or a small edit distance relative to length.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // A byte count bounds the character count from above: most long
    // inputs are turned away without counting.
    let fuzzy = input.len() <= MAX_FUZZY_CHARS || input.chars().count() <= MAX_FUZZY_CHARS;
    if !fuzzy {
        return candidates.into_iter().find(|c| same_up_to_case(input, c));
    }
    let lower = input.to_lowercase();
    let n = lower.chars().count();
    let allowed = 2.max(input.chars().count() / 4);
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        if candidate.len() > 4 * MAX_FUZZY_CHARS {
            if same_up_to_case(input, candidate) {
                return Some(candidate);
            }
            continue;
        }
        let candidate_lower = candidate.to_lowercase();
        if candidate_lower == lower {
            return Some(candidate);
        }
        let m = candidate_lower.chars().count();
        if m > MAX_FUZZY_CHARS || !may_be_close(n, m, allowed) {
            continue;
        }
        let score = strsim::jaro_winkler(&lower, &candidate_lower);
        let distance = strsim::damerau_levenshtein(&lower, &candidate_lower);
        let close = distance <= allowed || score >= 0.88;
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Whether strings of `n` and `m` characters can be close at all: the
/// edit distance is at least the difference in length, and a Jaro-Winkler
/// score of 0.88 needs a Jaro score of 0.8 (the prefix bonus adds at most
/// 0.4 of what is missing), which needs the shorter to be at least 0.4 of
/// the longer (Jaro ≤ (shorter/longer + 2) / 3).
fn may_be_close(n: usize, m: usize, allowed: usize) -> bool {
    n.abs_diff(m) <= allowed || 5 * n.min(m) >= 2 * n.max(m)
}

/// `a` and `b` are the same text up to case, compared lazily: it stops at
/// the first difference, however long either is.
fn same_up_to_case(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::{MAX_FUZZY_CHARS, closest};

    #[test]
    fn typos_and_case() {
        let keys = [
            "memory",
            "memoryOverhead",
            "cores",
            "coreRequest",
            "instances",
        ];
        assert_eq!(closest("memroy", keys), Some("memory"));
        assert_eq!(closest("Memory", keys), Some("memory"));
        assert_eq!(closest("instance", keys), Some("instances"));
        assert_eq!(closest("memoryOverHead", keys), Some("memoryOverhead"));
        assert_eq!(closest("replicas", keys), None);
        assert_eq!(closest("prdo", ["dev", "prod"]), Some("prod"));
        // Jaro-Winkler's prefix bonus reaches across a length difference
        // larger than the edit distance allows.
        assert_eq!(closest("memoryOverhead", ["memory"]), Some("memory"));
    }

    #[test]
    fn the_length_filter_keeps_every_match_the_full_search_finds() {
        let words = [
            "a",
            "ab",
            "abc",
            "memory",
            "memoryOverhead",
            "mem",
            "m",
            "executor",
            "executorMemory",
            "sparkConf",
            "spark",
            "x",
            "instances",
            "instance",
            "coreLimit",
            "cores",
            "core",
            "restartPolicy",
            "restart",
            "policy",
        ];
        for input in words {
            for candidate in words {
                let lower = input.to_lowercase();
                let other = candidate.to_lowercase();
                let allowed = 2.max(input.chars().count() / 4);
                let close = strsim::damerau_levenshtein(&lower, &other) <= allowed
                    || strsim::jaro_winkler(&lower, &other) >= 0.88;
                if close {
                    assert!(
                        super::may_be_close(lower.chars().count(), other.chars().count(), allowed),
                        "{input} ~ {candidate} was filtered out"
                    );
                }
            }
        }
    }

    #[test]
    fn messages_quote_the_start_of_long_text() {
        assert_eq!(crate::diag::quote("memroy"), "memroy");
        let long = "k".repeat(10_000);
        let quoted = crate::diag::quote(&long);
        assert!(quoted.ends_with("… (10000 characters)"), "{quoted}");
        assert_eq!(
            quoted.chars().filter(|&c| c == 'k').count(),
            crate::diag::QUOTE_CHARS
        );
    }

    #[test]
    fn long_inputs_are_matched_up_to_case_only_and_at_once() {
        let huge = "x".repeat(10_000_000);
        let started = std::time::Instant::now();
        assert_eq!(closest(&huge, ["memory", "cores"]), None);
        let long_key = "k".repeat(100_000);
        let upper = "K".repeat(100_000);
        assert_eq!(
            closest(&upper, ["k", long_key.as_str()]),
            Some(long_key.as_str())
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        let long = "a".repeat(MAX_FUZZY_CHARS + 1);
        let near = format!("{long}b");
        assert_eq!(closest(&long, [near.as_str()]), None);
    }
}
