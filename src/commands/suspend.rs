//! `sluice suspend|resume --env E --stream S`: stop a stream, or start it
//! again, by editing its values (`suspend: true` in its own layer for the
//! environment, with promote's surgical edits), so that stopping a broken
//! stream at night is a commit, not drift. Checked on the edited
//! repository before anything is written: the stream's `suspend` is what
//! was asked, and nothing else changes in any stream in any environment.

use super::{Exit, Global, UsageError};
use crate::promote::edit;
use crate::promote::set::{self, StreamEdit};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toggle {
    Suspend,
    Resume,
}

impl Toggle {
    fn command(self) -> &'static str {
        match self {
            Toggle::Suspend => "suspend",
            Toggle::Resume => "resume",
        }
    }

    /// The effective `suspend` wanted, given what the lower layers give.
    fn want(self, below: Option<&Value>) -> Option<Value> {
        match self {
            Toggle::Suspend => Some(Value::Bool(true)),
            // Unset where nothing below suspends it, else `false`.
            Toggle::Resume if below == Some(&Value::Bool(true)) => Some(Value::Bool(false)),
            Toggle::Resume => below.cloned(),
        }
    }

    fn done(self) -> &'static str {
        match self {
            Toggle::Suspend => "suspended",
            Toggle::Resume => "running (not suspended)",
        }
    }
}

#[derive(Clone, Debug)]
pub struct SuspendOptions {
    pub toggle: Toggle,
    pub environment: String,
    pub streams: Vec<String>,
    pub commit: bool,
    pub branch: Option<String>,
    pub author: Option<String>,
    pub dry_run: bool,
}

fn suspended(value: Option<&Value>) -> bool {
    value == Some(&Value::Bool(true))
}

pub fn run(global: &Global, options: &SuspendOptions) -> anyhow::Result<Exit> {
    let toggle = options.toggle;
    let command = toggle.command();
    if options.streams.is_empty() {
        return Err(UsageError::new(format!("{command} needs --stream NAME")).into());
    }
    let committer = super::edits::Committer::prepare(
        global,
        command,
        options.commit,
        options.branch.clone(),
        options.author.as_deref(),
    )?;
    let (snapshot, loaded) = super::edits::load_clean(global, command)?;
    let env = super::select(&loaded.repo, std::slice::from_ref(&options.environment))?[0];
    let path = ["suspend".to_owned()];
    let mut edits: Vec<(String, StreamEdit)> = Vec::new();
    let mut already = Vec::new();
    let mut streams = options.streams.clone();
    streams.sort();
    streams.dedup();
    for stream in &streams {
        let found = set::edit(&loaded.repo, &loaded.sources, stream, env, &path, |below| {
            toggle.want(below)
        })
        .map_err(|r| UsageError::new(r.0))?;
        match found {
            Some(e) if suspended(e.old.as_ref()) != suspended(e.new.as_ref()) => {
                edits.push((stream.clone(), e))
            }
            _ => already.push(stream.clone()),
        }
    }
    let env_name = env.name.clone();
    let mut out = String::new();
    for stream in &already {
        out.push_str(&format!(
            "{stream} is already {} in {env_name}: nothing to edit\n",
            toggle.done()
        ));
    }
    if edits.is_empty() {
        super::print(&out)?;
        return Ok(Exit::Success);
    }

    // Each file edited in memory, its changes in one pass; the repository
    // they give, checked against the promise.
    let mut changes: std::collections::BTreeMap<String, Vec<edit::Change>> = Default::default();
    for (_, e) in &edits {
        changes
            .entry(e.file.clone())
            .or_default()
            .push(e.change.clone());
    }
    let super::edits::InMemory {
        edited,
        dropped,
        loaded: edited_loaded,
        paths,
    } = super::edits::edit_in_memory(
        global,
        command,
        snapshot,
        changes.iter().map(|(p, c)| (p, c.as_slice())),
    )?;
    let wanted: Vec<(String, Option<Value>)> = edits
        .iter()
        .map(|(s, e)| (s.clone(), e.new.clone()))
        .collect();
    set::verify(
        (&loaded.repo, &loaded.sources),
        (&edited_loaded.repo, &edited_loaded.sources),
        &env_name,
        &path,
        &wanted,
    )
    .map_err(|r| UsageError::new(format!("refusing to {command}: {}", r.0)))?;

    // What the environment renders before and after, for these streams.
    let names: Vec<String> = edits.iter().map(|(s, _)| s.clone()).collect();
    let before = super::edits::render(global, loaded, &env_name, &names)?;
    let after = super::edits::render(global, edited_loaded, &env_name, &names)?;
    let report = super::diff::compare_renders(
        &env_name,
        &before,
        &after,
        "the values before the edit".to_owned(),
        None,
        ("before", "after"),
    );
    committer.files_may_be_edited(global, &edited, &paths)?;
    out.push_str(&format!(
        "{command} in {env_name}: {}\n\n",
        names.join(", ")
    ));
    let dropped = super::edits::dropped_lines(&dropped);
    if !dropped.is_empty() {
        out.push_str(&dropped);
        out.push('\n');
    }
    out.push_str(&super::edits::file_diffs(&edited));
    out.push('\n');
    out.push_str(&super::diff::human(&report, global.styled(false)));
    if options.dry_run {
        out.push_str("\ndry run: nothing was written\n");
        super::print(&out)?;
        return Ok(Exit::Success);
    }
    let title = match toggle {
        Toggle::Suspend => "Suspend",
        Toggle::Resume => "Resume",
    };
    let mut message = format!("{title} {} in {env_name}\n\n", names.join(", "));
    for (stream, e) in &edits {
        message.push_str(&format!(
            "- {stream}: {}\n",
            if suspended(e.new.as_ref()) {
                "suspend: true"
            } else {
                "no longer suspended"
            }
        ));
    }
    message.push_str(&format!(
        "\nEdited by `sluice {command} --env {env_name} --stream {}`.\n",
        names.join(" --stream ")
    ));
    committer.write(global, &edited, &message, &mut out)?;
    out.push_str(&format!(
        "the cluster changes when the values are applied: sluice apply --env {env_name}\n"
    ));
    super::print(&out)?;
    Ok(Exit::Success)
}
