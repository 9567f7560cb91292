//! `sluice promote --from dev --to prod`: make the target run what the
//! source runs for the promotion keys, by the smallest edits of the values
//! files that give exactly that, checked on the edited repository before
//! anything is written; optionally committed, or put on a new branch.

use super::select;
use super::{Exit, Global, SetFlags, UsageError};
use crate::promote::edit::{self, Dropped};
use crate::promote::plan::{self, Plan, Request};
use crate::snapshot::Content;
use serde_json::{Value, json};
use std::collections::BTreeMap;

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
    let commits = options.commit || options.branch.is_some();
    if options.author.is_some() && !commits {
        return Err(UsageError::new("--author is for --commit or --branch").into());
    }
    if options.format == PromoteFormat::Json && !options.check {
        return Err(UsageError::new("--format json is for --check").into());
    }
    let git = commits
        .then(|| crate::git::Git::open(&global.root))
        .transpose()
        .map_err(|e| UsageError::new(e.to_string()))?;
    // Everything a commit needs is known before anything is written.
    let identity = match &git {
        Some(git) => {
            if !git.is_clean().map_err(|e| UsageError::new(e.to_string()))? {
                return Err(UsageError::new("the working tree has uncommitted changes: refusing to commit a promotion on top of them")
                    .help("commit or stash them first, or promote without --commit/--branch")
                    .into());
            }
            if options.branch.is_none() && !git.head_is_branch() {
                return Err(UsageError::new(
                    "HEAD is detached: --commit needs a branch to commit on",
                )
                .help("check out a branch, or use --branch NAME")
                .into());
            }
            Some(
                git.identity(options.author.as_deref())
                    .map_err(|e| UsageError::new(e.to_string()))?,
            )
        }
        None => None,
    };
    let snapshot = crate::fs::read_repository(&global.root)?;
    let loaded = super::load_snapshot(global, snapshot.clone(), std::time::Instant::now())?;
    if loaded.diagnostics.iter().any(|d| d.is_error()) {
        return Err(UsageError::new(
            "the values have errors: run `sluice lint` and fix them before promoting",
        )
        .into());
    }
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

    // Edit each file in memory.
    let mut edited: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut dropped: Vec<(String, Dropped)> = Vec::new();
    for (path, file) in &plan.files {
        let original = match snapshot.get(path).map(|f| &f.content) {
            Some(Content::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => return Err(UsageError::new(format!("cannot read `{path}`")).into()),
        };
        let result = edit::apply(&original, &file.changes).map_err(|e| {
            UsageError::new(format!("{path}: {e}"))
                .help("edit the file by hand; sluice promote leaves it as it is")
        })?;
        dropped.extend(result.dropped.into_iter().map(|d| (path.clone(), d)));
        edited.insert(path.clone(), (original, result.text));
    }

    // The repository with the edits, in memory, checked against the promise.
    let after_snapshot_paths: Vec<String> = snapshot.files.iter().map(|f| f.path.clone()).collect();
    let mut after_snapshot = snapshot;
    for file in &mut after_snapshot.files {
        if let Some((_, text)) = edited.get(&file.path) {
            file.content = Content::Bytes(text.as_bytes().to_vec());
        }
    }
    let edited_loaded = super::load_snapshot(global, after_snapshot, std::time::Instant::now())?;
    if let Some(d) = edited_loaded.diagnostics.iter().find(|d| d.is_error()) {
        return Err(UsageError::new(format!(
            "the edited values would not pass lint: {}",
            d.message
        ))
        .into());
    }
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
    let render = |loaded: super::Loaded| -> anyhow::Result<Vec<(String, Value)>> {
        let (_, objects) =
            super::render::render_loaded(global, loaded, &to, &[], &SetFlags::default(), |m| {
                m.object.clone()
            })?;
        Ok(objects.into_iter().map(|(k, o)| (k.stream, o)).collect())
    };
    let before = render(loaded)?;
    let after = render(edited_loaded)?;
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

    files_may_be_edited(global, &edited, &after_snapshot_paths)?;
    let styled = global.styled(false);
    let mut out = format!("promote {from} → {to}:\n{}", stream_lines(&plan));
    for note in &plan.notes {
        out.push_str(&format!("  {note}\n"));
    }
    out.push_str(&others(&plan, &from, &to, true));
    if !dropped.is_empty() {
        out.push_str("\ncomments on replaced lines, removed with them:\n");
        for (path, d) in &dropped {
            out.push_str(&format!(
                "  {path}:{}: {}\n",
                d.line,
                crate::secret::mask_text(&d.comment, &[] as &[&str])
            ));
        }
    }
    out.push('\n');
    for (path, (old, new)) in &edited {
        // The values files' own lines: masked like any free text.
        let diff = crate::promote::file_diff(path, old, new);
        out.push_str(&crate::secret::mask_text(&diff, &[] as &[&str]));
    }
    out.push('\n');
    out.push_str(&super::diff::human(&report, styled));
    if options.dry_run {
        out.push_str("\ndry run: nothing was written\n");
        super::print(&out)?;
        return Ok(Exit::Success);
    }
    let files: Vec<(String, Vec<u8>)> = edited
        .iter()
        .map(|(p, (_, t))| (p.clone(), t.as_bytes().to_vec()))
        .collect();
    match (&git, &identity) {
        (Some(git), Some(identity)) => {
            let message = commit_message(&plan, &from, &to, &restarts);
            let prepared = git
                .prepare_commit(&files, &message, identity)
                .map_err(|e| UsageError::new(e.to_string()))?;
            if let Some(branch) = &options.branch {
                if let Some(path) = edited.keys().find(|p| git.filters(p)) {
                    return Err(UsageError::new(format!(
                        "{path}: git applies filters or line-ending conversion to it, which --branch cannot (it never writes the working tree)"
                    ))
                    .help("use --commit on a branch of your own")
                    .into());
                }
                git.create_branch(branch, &prepared)
                    .map_err(|e| UsageError::new(format!("--branch {branch}: {e}")))?;
                out.push_str(&format!(
                    "\ncommitted {} on new branch `{branch}` (the working tree is unchanged)\n  push it and open a merge request: git push -o merge_request.create origin {branch}\n",
                    prepared.short()
                ));
            } else {
                write_all(global, &edited)?;
                match git.commit_worktree(&prepared, identity, &message) {
                    Ok(id) => out.push_str(&format!("\ncommitted {}\n", &id[..12])),
                    Err(e) => {
                        put_back(global, &edited, edited.keys());
                        return Err(UsageError::new(format!(
                            "committing failed; the files, the index and the branch are as they were: {e}"
                        ))
                        .into());
                    }
                }
            }
        }
        _ => write_all(global, &edited)?,
    }
    super::print(&out)?;
    Ok(Exit::Success)
}

/// Every edited file is a regular, writable file that no other path of
/// the repository reaches through a symlink (an edit made through one name
/// would change the streams of the other unchecked).
fn files_may_be_edited(
    global: &Global,
    edited: &BTreeMap<String, (String, String)>,
    paths: &[String],
) -> anyhow::Result<()> {
    for path in edited.keys() {
        let full = global.root.join(path);
        let meta = std::fs::symlink_metadata(&full)?;
        if meta.file_type().is_symlink() {
            return Err(UsageError::new(format!(
                "{path} is a symlink: promote edits regular files only"
            ))
            .help("edit the file it points to by hand, or replace the symlink with the file")
            .into());
        }
        if meta.permissions().readonly() {
            return Err(UsageError::new(format!(
                "{path} is read-only: promote leaves it as it is"
            ))
            .into());
        }
        let real = full.canonicalize()?;
        for other in paths.iter().filter(|p| *p != path) {
            if global
                .root
                .join(other)
                .canonicalize()
                .is_ok_and(|o| o == real)
            {
                return Err(UsageError::new(format!(
                    "{other} is a symlink to {path}: editing {path} would change the streams of both"
                ))
                .help("replace the symlink with a copy, or edit by hand")
                .into());
            }
        }
    }
    Ok(())
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

/// Writes every edited file, or none: a failure puts back the ones
/// already written.
fn write_all(global: &Global, edited: &BTreeMap<String, (String, String)>) -> anyhow::Result<()> {
    let mut written = Vec::new();
    for (path, (_, text)) in edited {
        if let Err(e) = write_atomically(&global.root.join(path), text) {
            put_back(global, edited, written);
            return Err(UsageError::new(format!(
                "writing {path} failed, nothing was changed: {e}"
            ))
            .into());
        }
        written.push(path);
    }
    Ok(())
}

/// Writes the old text of these edited files back.
fn put_back<'a>(
    global: &Global,
    edited: &BTreeMap<String, (String, String)>,
    paths: impl IntoIterator<Item = &'a String>,
) {
    for path in paths {
        let _ = write_atomically(&global.root.join(path), &edited[path].0);
    }
}

fn write_atomically(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    let permissions = std::fs::metadata(path).map(|m| m.permissions()).ok();
    tmp.persist(path)?;
    if let Some(p) = permissions {
        std::fs::set_permissions(path, p)?;
    }
    Ok(())
}
