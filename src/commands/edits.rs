//! Writing edited values files (promote, suspend, resume): everything a
//! commit needs is checked before any file is written, the files are
//! written all or none, and optionally committed on the current branch or
//! onto a new one (the working tree left as it is).

use super::{Global, Loaded, SetFlags, UsageError};
use crate::git::{Git, Identity};
use crate::promote::edit::{self, Change, Dropped};
use crate::snapshot::{Content, Snapshot};
use std::collections::BTreeMap;

/// Repository-relative path → (the text before, the text after).
pub type Edited = BTreeMap<String, (String, String)>;

/// Edits made in memory, and the repository they give, loaded.
pub struct InMemory {
    pub edited: Edited,
    /// Comments on replaced lines, removed with them.
    pub dropped: Vec<(String, Dropped)>,
    pub loaded: Loaded,
    /// Every path of the repository.
    pub paths: Vec<String>,
}

/// Applies each file's changes to its text in `snapshot`, and loads the
/// repository that gives; refuses when that repository has an error.
pub fn edit_in_memory<'a>(
    global: &Global,
    command: &str,
    snapshot: Snapshot,
    files: impl IntoIterator<Item = (&'a String, &'a [Change])>,
) -> anyhow::Result<InMemory> {
    let mut edited = Edited::new();
    let mut dropped = Vec::new();
    for (path, changes) in files {
        let original = match snapshot.get(path).map(|f| &f.content) {
            Some(Content::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => return Err(UsageError::new(format!("cannot read `{path}`")).into()),
        };
        let result = edit::apply(&original, changes).map_err(|e| {
            UsageError::new(format!("{path}: {e}")).help(format!(
                "edit the file by hand; sluice {command} leaves it as it is"
            ))
        })?;
        dropped.extend(result.dropped.into_iter().map(|d| (path.clone(), d)));
        edited.insert(path.clone(), (original, result.text));
    }
    let paths: Vec<String> = snapshot.files.iter().map(|f| f.path.clone()).collect();
    let mut after = snapshot;
    for file in &mut after.files {
        if let Some((_, text)) = edited.get(&file.path) {
            file.content = Content::Bytes(text.as_bytes().to_vec());
        }
    }
    let loaded = super::load_snapshot(global, after, std::time::Instant::now())?;
    if let Some(d) = loaded.diagnostics.iter().find(|d| d.is_error()) {
        return Err(UsageError::new(format!(
            "the edited values would not pass lint: {}",
            d.message
        ))
        .into());
    }
    Ok(InMemory {
        edited,
        dropped,
        loaded,
        paths,
    })
}

/// The comments removed with replaced lines, one per line under a
/// heading (empty when there are none), masked like any free text.
pub fn dropped_lines(dropped: &[(String, Dropped)]) -> String {
    if dropped.is_empty() {
        return String::new();
    }
    let mut out = "comments on replaced lines, removed with them:\n".to_owned();
    for (path, d) in dropped {
        out.push_str(&format!(
            "  {path}:{}: {}\n",
            d.line,
            crate::secret::mask_text(&d.comment, &[] as &[&str])
        ));
    }
    out
}

/// The diff of every edited file (the values files' own lines: masked
/// like any free text).
pub fn file_diffs(edited: &Edited) -> String {
    edited
        .iter()
        .map(|(path, (old, new))| {
            let diff = crate::promote::file_diff(path, old, new);
            crate::secret::mask_text(&diff, &[] as &[&str]).into_owned()
        })
        .collect()
}

/// The repository as it is, loaded; refuses when it has an error.
pub fn load_clean(global: &Global, command: &str) -> anyhow::Result<(Snapshot, Loaded)> {
    let snapshot = crate::fs::read_repository(&global.root)?;
    let loaded = super::load_snapshot(global, snapshot.clone(), std::time::Instant::now())?;
    if loaded.diagnostics.iter().any(|d| d.is_error()) {
        return Err(UsageError::new(format!(
            "the values have errors: run `sluice lint` and fix them before `sluice {command}`"
        ))
        .into());
    }
    Ok((snapshot, loaded))
}

/// What `environment` renders for `streams` (empty: all), by stream.
pub fn render(
    global: &Global,
    loaded: Loaded,
    environment: &str,
    streams: &[String],
) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
    let (_, objects) = super::render::render_loaded(
        global,
        loaded,
        environment,
        streams,
        &SetFlags::default(),
        |m| m.object.clone(),
    )?;
    Ok(objects.into_iter().map(|(k, o)| (k.stream, o)).collect())
}

/// Where the edits go: the working tree, a commit on the current branch,
/// or a commit on a new branch.
pub struct Committer {
    command: &'static str,
    git: Option<(Git, Identity)>,
    branch: Option<String>,
}

impl Committer {
    /// Checks, before anything is edited, that a commit can be made: a git
    /// checkout with a clean tree, a branch (or `--branch`), an identity.
    pub fn prepare(
        global: &Global,
        command: &'static str,
        commit: bool,
        branch: Option<String>,
        author: Option<&str>,
    ) -> anyhow::Result<Committer> {
        let commits = commit || branch.is_some();
        if author.is_some() && !commits {
            return Err(UsageError::new("--author is for --commit or --branch").into());
        }
        if !commits {
            return Ok(Committer {
                command,
                git: None,
                branch,
            });
        }
        let git = Git::open(&global.root).map_err(|e| UsageError::new(e.to_string()))?;
        if !git.is_clean().map_err(|e| UsageError::new(e.to_string()))? {
            return Err(UsageError::new(format!(
                "the working tree has uncommitted changes: refusing to commit the {command} edits on top of them"
            ))
            .help(format!(
                "commit or stash them first, or run `sluice {command}` without --commit/--branch"
            ))
            .into());
        }
        if branch.is_none() && !git.head_is_branch() {
            return Err(
                UsageError::new("HEAD is detached: --commit needs a branch to commit on")
                    .help("check out a branch, or use --branch NAME")
                    .into(),
            );
        }
        let identity = git
            .identity(author)
            .map_err(|e| UsageError::new(e.to_string()))?;
        Ok(Committer {
            command,
            git: Some((git, identity)),
            branch,
        })
    }

    /// Writes (and commits) the edits, saying what was done in `out`.
    pub fn write(
        &self,
        global: &Global,
        edited: &Edited,
        message: &str,
        out: &mut String,
    ) -> anyhow::Result<()> {
        let Some((git, identity)) = &self.git else {
            return write_all(global, edited);
        };
        let files: Vec<(String, Vec<u8>)> = edited
            .iter()
            .map(|(p, (_, t))| (p.clone(), t.as_bytes().to_vec()))
            .collect();
        let prepared = git
            .prepare_commit(&files, message, identity)
            .map_err(|e| UsageError::new(e.to_string()))?;
        if let Some(branch) = &self.branch {
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
            return Ok(());
        }
        write_all(global, edited)?;
        match git.commit_worktree(&prepared, identity, message) {
            Ok(id) => {
                out.push_str(&format!("\ncommitted {}\n", &id[..12]));
                Ok(())
            }
            Err(e) => {
                put_back(global, edited, edited.keys());
                Err(UsageError::new(format!(
                    "committing failed; the files, the index and the branch are as they were: {e}"
                ))
                .into())
            }
        }
    }

    /// Every edited file is a regular, writable file that no other path
    /// of the repository reaches through a symlink (an edit made through
    /// one name would change the streams of the other unchecked).
    pub fn files_may_be_edited(
        &self,
        global: &Global,
        edited: &Edited,
        paths: &[String],
    ) -> anyhow::Result<()> {
        let command = self.command;
        for path in edited.keys() {
            let full = global.root.join(path);
            let meta = std::fs::symlink_metadata(&full)?;
            if meta.file_type().is_symlink() {
                return Err(UsageError::new(format!(
                    "{path} is a symlink: {command} edits regular files only"
                ))
                .help("edit the file it points to by hand, or replace the symlink with the file")
                .into());
            }
            if meta.permissions().readonly() {
                return Err(UsageError::new(format!(
                    "{path} is read-only: {command} leaves it as it is"
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
}

/// Writes every edited file, or none: a failure puts back the ones
/// already written.
fn write_all(global: &Global, edited: &Edited) -> anyhow::Result<()> {
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
fn put_back<'a>(global: &Global, edited: &Edited, paths: impl IntoIterator<Item = &'a String>) {
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
