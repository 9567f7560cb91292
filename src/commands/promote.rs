//! `sluice promote --from dev --to prod`: make the target run what the
//! source runs for the promotion keys, by the smallest edits of the values
//! files that give exactly that, checked on the edited repository before
//! anything is written; optionally committed, or put on a new branch.

use super::select;
use super::{Exit, Global, UsageError};
use crate::promote::plan::{self, Plan, Request};
use serde_json::{Value, json};

pub use crate::promote::plan::DEFAULT_KEYS;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PromoteFormat {
    #[default]
    Human,
    Json,
}

#[derive(Clone, Debug, Default)]
pub struct PromoteOptions {
    pub from: String,
    pub to: String,
    pub streams: Vec<String>,
    pub commit: bool,
    pub dry_run: bool,
    /// Commit onto this new branch; the working tree stays as it is.
    pub branch: Option<String>,
    /// `Name <email>` for the commit.
    pub author: Option<String>,
    /// Also enable streams the target leaves out.
    pub include_new: bool,
    /// Only report whether the target lags the source (exit 1 if it does).
    pub check: bool,
    pub format: PromoteFormat,
}

/// A value as the plan and the commit message show it: credentials masked.
fn shown(path: &str, value: Option<&Value>) -> String {
    let pointer: String = path.split('.').map(|p| format!("/{p}")).collect();
    match value {
        None => "(not set)".to_owned(),
        Some(_) if crate::secret::pointer_is_secret(&pointer) => "<hidden>".to_owned(),
        Some(Value::String(s)) => crate::secret::mask_text(s, &[] as &[&str]).into_owned(),
        Some(v) => crate::secret::mask_text(&v.to_string(), &[] as &[&str]).into_owned(),
    }
}

/// `promotion.keys` of common.yaml (default: [`DEFAULT_KEYS`]), checked,
/// with the CRD's names of the same keys.
fn keys_of(loaded: &super::Loaded) -> anyhow::Result<Vec<String>> {
    let written: Vec<String> = match loaded
        .repo
        .common
        .as_ref()
        .and_then(|c| c.root.get("promotion"))
        .and_then(|p| p.get("keys"))
    {
        None => DEFAULT_KEYS.iter().map(|k| (*k).to_owned()).collect(),
        Some(node) => serde_json::from_value(node.to_json()).map_err(|_| {
            UsageError::new("promotion.keys in common.yaml must be a list of key paths, like [spark.image, mainClass]")
        })?,
    };
    Ok(plan::promotion_keys(&written).map_err(|r| UsageError::new(r.0))?)
}

/// Each stream's changed values, one line per value.
fn stream_lines(plan: &Plan) -> String {
    let mut out = String::new();
    for s in &plan.streams {
        out.push_str(&format!(
            "- {}{}\n",
            s.name,
            if s.enables {
                " (enabled by this promotion)"
            } else {
                ""
            }
        ));
        for leaf in s.leaves.iter().filter(|l| l.path != ["enabled"]) {
            let key = leaf.dotted();
            out.push_str(&format!(
                "    {key}: {} → {}\n",
                shown(&key, leaf.old.as_ref()),
                shown(&key, leaf.new.as_ref())
            ));
        }
    }
    out
}

fn lag_json(plan: &Plan, from: &str, to: &str) -> Value {
    json!({
        "from": from,
        "to": to,
        "behind": plan.streams.iter().map(|s| json!({
            "stream": s.name,
            "enables": s.enables,
            "changes": s.leaves.iter().map(|l| json!({
                "key": l.dotted(),
                "old": shown(&l.dotted(), l.old.as_ref()),
                "new": shown(&l.dotted(), l.new.as_ref()),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "leftOut": plan.left_out,
        "onlyInSource": plan.only_in_source,
    })
}

/// The streams not promoted, and why; `editing`: what the edits reach.
fn others(plan: &Plan, from: &str, to: &str, editing: bool) -> String {
    let mut out = String::new();
    if !plan.left_out.is_empty() {
        out.push_str(&format!(
            "\nleft out of {to} (`enabled: false`), not promoted: {}\n",
            plan.left_out.join(", ")
        ));
        if editing {
            out.push_str(&format!(
                "  to bring them to {to}: name them with --stream, or pass --include-new\n"
            ));
        }
    }
    if !plan.reached_left_out.is_empty() && editing {
        out.push_str(&format!(
            "the {to} edit also gives these left-out streams {from}'s values (they stay off): {}\n",
            plan.reached_left_out.join(", ")
        ));
    }
    if !plan.only_in_source.is_empty() {
        out.push_str(&format!(
            "only in {from} (its own `streams:` list), not promoted: {}\n",
            plan.only_in_source.join(", ")
        ));
    }
    out
}

pub fn run(global: &Global, options: &PromoteOptions) -> anyhow::Result<Exit> {
    if options.format == PromoteFormat::Json && !options.check {
        return Err(UsageError::new("--format json is for --check").into());
    }
    // Everything a commit needs is known before anything is written.
    let committer = super::edits::Committer::prepare(
        global,
        "promote",
        options.commit,
        options.branch.clone(),
        options.author.as_deref(),
    )?;
    let (snapshot, loaded) = super::edits::load_clean(global, "promote")?;
    let envs = select(&loaded.repo, &[options.from.clone(), options.to.clone()])?;
    let (from, to) = (envs[0], envs[envs.len() - 1]);
    if from.name == to.name {
        return Err(UsageError::new("--from and --to name the same environment").into());
    }
    let keys = keys_of(&loaded)?;
    let plan = plan::plan(&Request {
        repo: &loaded.repo,
        sources: &loaded.sources,
        from,
        to,
        streams: &options.streams,
        keys: &keys,
        include_new: options.include_new,
    })
    .map_err(|r| UsageError::new(r.0))?;
    let (from, to) = (from.name.clone(), to.name.clone());

    if options.check {
        if options.format == PromoteFormat::Json {
            super::print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&lag_json(&plan, &from, &to))?
            ))?;
        } else {
            let mut out = if plan.streams.is_empty() {
                format!("{to} runs what {from} runs for the promotion keys\n")
            } else {
                let n = plan.streams.len();
                format!(
                    "{to} is {n} stream{} behind {from}:\n{}",
                    if n == 1 { "" } else { "s" },
                    stream_lines(&plan)
                )
            };
            out.push_str(&others(&plan, &from, &to, false));
            super::print(&out)?;
        }
        return Ok(if plan.streams.is_empty() {
            Exit::Success
        } else {
            Exit::Findings
        });
    }

    if plan.files.is_empty() {
        let mut out = format!("nothing to promote: {to} already runs what {from} runs\n");
        out.push_str(&others(&plan, &from, &to, true));
        super::print(&out)?;
        return Ok(Exit::Success);
    }

    // Each file edited in memory; the repository they give, checked
    // against the promise.
    let super::edits::InMemory {
        edited,
        dropped,
        loaded: edited_loaded,
        paths: after_snapshot_paths,
    } = super::edits::edit_in_memory(
        global,
        "promote",
        snapshot,
        plan.files.iter().map(|(p, f)| (p, f.changes.as_slice())),
    )?;
    plan::verify(
        (&loaded.repo, &loaded.sources),
        (&edited_loaded.repo, &edited_loaded.sources),
        &from,
        &to,
        &keys,
        &plan,
    )
    .map_err(|r| UsageError::new(format!("refusing to promote: {}", r.0)))?;

    // What the target renders before and after.
    let before = super::edits::render(global, loaded, &to, &[])?;
    let after = super::edits::render(global, edited_loaded, &to, &[])?;
    let report = super::diff::compare_renders(
        &to,
        &before,
        &after,
        format!("promotion from {}", from),
        None,
        ("before", "after"),
    );
    let restarts: Vec<String> = report
        .changes
        .iter()
        .filter(|c| c.restarts())
        .map(|c| c.stream.clone())
        .collect();

    committer.files_may_be_edited(global, &edited, &after_snapshot_paths)?;
    let styled = global.styled(false);
    let mut out = format!("promote {from} → {to}:\n{}", stream_lines(&plan));
    for note in &plan.notes {
        out.push_str(&format!("  {note}\n"));
    }
    out.push_str(&others(&plan, &from, &to, true));
    let dropped = super::edits::dropped_lines(&dropped);
    if !dropped.is_empty() {
        out.push('\n');
        out.push_str(&dropped);
    }
    out.push('\n');
    out.push_str(&super::edits::file_diffs(&edited));
    out.push('\n');
    out.push_str(&super::diff::human(&report, styled));
    if options.dry_run {
        out.push_str("\ndry run: nothing was written\n");
        super::print(&out)?;
        return Ok(Exit::Success);
    }
    let message = commit_message(&plan, &from, &to, &restarts);
    committer.write(global, &edited, &message, &mut out)?;
    super::print(&out)?;
    Ok(Exit::Success)
}

/// The commit's message: each stream with old → new for every changed
/// value (credentials masked), and the streams that restart.
pub fn commit_message(plan: &Plan, from: &str, to: &str, restarts: &[String]) -> String {
    let names: Vec<&str> = plan.streams.iter().map(|s| s.name.as_str()).collect();
    let mut message = format!("Promote {from} to {to}: {}\n\n", names.join(", "));
    message.push_str(&stream_lines(plan));
    if !restarts.is_empty() {
        message.push_str(&format!("\nRestarts in {to}: {}\n", restarts.join(", ")));
    }
    message.push_str(&format!(
        "\nEdited by `sluice promote --from {from} --to {to}`.\n"
    ));
    message
}
