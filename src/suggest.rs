//! "Did you mean" suggestions (pure).

/// The candidate closest to `input`, if it is close enough to be a typo:
/// same letters in another case, or a small edit distance relative to length.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = input.to_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        if candidate.to_lowercase() == lower {
            return Some(candidate);
        }
        let score = strsim::jaro_winkler(&lower, &candidate.to_lowercase());
        let distance = strsim::damerau_levenshtein(&lower, &candidate.to_lowercase());
        let close = distance <= 2.max(input.chars().count() / 4) || score >= 0.88;
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::closest;

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
    }
}
