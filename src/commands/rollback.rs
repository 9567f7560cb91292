//! `sluice rollback --env E [--to N]`: apply the revision an earlier apply
//! recorded in the environment's history (`crate::history`), as `apply
//! --rev` would; the history marks it as a rollback.

use super::apply::ApplyOptions;
use super::{Exit, Global, UsageError, cluster};

/// The entry `to` applies before the newest one.
fn pick(
    entries: &[crate::history::Entry],
    to: usize,
) -> Result<&crate::history::Entry, UsageError> {
    // Applies only: a restart wrote what was live, not a revision.
    let applies: Vec<&crate::history::Entry> =
        entries.iter().filter(|e| e.command.is_none()).collect();
    applies
        .len()
        .checked_sub(1 + to)
        .and_then(|i| applies.get(i).copied())
        .ok_or_else(|| {
            UsageError::new(format!(
                "the history holds {} appl{}: there is none {to} before the last",
                applies.len(),
                if applies.len() == 1 { "y" } else { "ies" }
            ))
            .help("see `sluice history --env ENV`; --to 1 is the apply before the last")
        })
}

pub fn run(global: &Global, options: &ApplyOptions, to: usize) -> anyhow::Result<Exit> {
    if global.rev.is_some() || global.changed_since.is_some() {
        return Err(UsageError::new(
            "rollback picks the revision from the environment's history: it takes no --rev or --changed-since",
        )
        .help("to apply a revision of your choice, use `sluice apply --env ENV --rev REV`")
        .into());
    }
    let desired = cluster::desired(global, &options.environment, &[], &options.sets)?;
    let entries = cluster::runtime().block_on(async {
        let cluster = cluster::connect(&options.cluster, &desired).await?;
        super::history::entries(&cluster, &desired).await
    })?;
    let entry = pick(&entries, to)?;
    let Some(revision) = entry.revision.clone() else {
        return Err(UsageError::new(format!(
            "the apply of {} was not made from a git checkout: there is no revision to go back to",
            crate::report::escape::line(&entry.time)
        ))
        .into());
    };
    let git = crate::git::Git::open(&global.root).map_err(|e| UsageError::new(e.to_string()))?;
    git.resolve(&revision).map_err(|e| {
        UsageError::new(format!(
            "revision {} is not in this clone: {e}",
            crate::report::escape::line(&crate::history::short(&revision))
        ))
        .help("fetch it (`git fetch --unshallow`, or GIT_DEPTH: 0 in CI)")
    })?;
    eprintln!(
        "rolling back environment `{}` to {} (applied {}{}{})",
        desired.environment,
        crate::report::escape::line(&crate::history::short(&revision)),
        crate::report::escape::line(&entry.time),
        entry
            .user
            .as_deref()
            .map(|u| format!(" by {}", crate::report::escape::line(u)))
            .unwrap_or_default(),
        if entry.dirty {
            "; that apply had uncommitted changes, which the rollback does not have"
        } else {
            ""
        }
    );
    let at = Global {
        rev: Some(revision),
        ..global.clone()
    };
    super::apply::run(&at, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Entry;

    #[test]
    fn to_counts_back_from_the_last_apply() {
        let entries: Vec<Entry> = (0..3)
            .map(|n| Entry {
                revision: Some(format!("rev{n}")),
                ..Entry::default()
            })
            .collect();
        assert_eq!(pick(&entries, 1).unwrap().revision.as_deref(), Some("rev1"));
        assert_eq!(pick(&entries, 2).unwrap().revision.as_deref(), Some("rev0"));
        assert!(pick(&entries, 3).is_err());
    }
}
