//! Edge: a streams repository at a git revision, read straight from the
//! object database (no checkout, the working tree untouched), and the
//! paths that changed between revisions.

use crate::snapshot::{Content, File, MAX_FILE_BYTES, Snapshot, is_hidden, is_yaml, too_big};
use git2::{ObjectType, Oid, Repository, Tree};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{path}` is not inside a git repository: {message}")]
    Open { path: String, message: String },
    #[error("unknown revision `{rev}`: {message}")]
    Revision { rev: String, message: String },
    #[error("reading git objects failed: {0}")]
    Git(String),
    #[error("the streams repository `{0}` is not inside the git work tree")]
    Outside(String),
    #[error(
        "unknown revision `{rev}`: this is a shallow clone, and the commit is not in it (GitLab clones 20 or 50 commits deep by default); fetch it with `git fetch --depth=1 origin {rev}`, or set `GIT_DEPTH: 0` for the job"
    )]
    Shallow { rev: String },
}

fn revision_error(rev: &str, e: &git2::Error) -> Error {
    Error::Revision {
        rev: rev.to_owned(),
        message: e.message().to_owned(),
    }
}

/// A git repository and where the streams repository sits in it.
pub struct Git {
    repo: Repository,
    /// The streams repository's path relative to the git root ("" at the root).
    prefix: String,
}

impl Git {
    pub fn open(root: &Path) -> Result<Git, Error> {
        let repo = Repository::discover(root).map_err(|e| Error::Open {
            path: root.display().to_string(),
            message: e.message().to_owned(),
        })?;
        let workdir = repo
            .workdir()
            .ok_or_else(|| Error::Outside(root.display().to_string()))?;
        let workdir = workdir
            .canonicalize()
            .map_err(|e| Error::Git(e.to_string()))?;
        let root = root.canonicalize().map_err(|e| Error::Git(e.to_string()))?;
        let prefix = root
            .strip_prefix(&workdir)
            .map_err(|_| Error::Outside(root.display().to_string()))?
            .to_string_lossy()
            .replace('\\', "/");
        Ok(Git { repo, prefix })
    }

    /// The object a revision names.
    fn revision(&self, rev: &str) -> Result<git2::Object<'_>, Error> {
        self.repo.revparse_single(rev).map_err(|e| {
            if self.repo.is_shallow() {
                Error::Shallow {
                    rev: rev.to_owned(),
                }
            } else {
                revision_error(rev, &e)
            }
        })
    }

    fn tree(&self, rev: &str) -> Result<Tree<'_>, Error> {
        self.revision(rev)?
            .peel_to_tree()
            .map_err(|e| revision_error(rev, &e))
    }

    /// The commit a revision names, in full.
    pub fn resolve(&self, rev: &str) -> Result<String, Error> {
        let commit = self
            .revision(rev)?
            .peel_to_commit()
            .map_err(|e| revision_error(rev, &e))?;
        Ok(commit.id().to_string())
    }

    /// The files sluice reads, as they are at `rev`.
    pub fn snapshot(&self, rev: &str) -> Result<Snapshot, Error> {
        let tree = self.tree(rev)?;
        let mut files = Vec::new();
        let mut has_values_dir = false;
        let prefix = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut failure = None;
        let odb = self.repo.odb().ok();
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            // As in the working tree (fs.rs): names that are not UTF-8 and
            // hidden files and directories are not read.
            let Ok(name) = entry.name() else {
                return git2::TreeWalkResult::Skip;
            };
            let full = format!("{dir}{name}");
            let Some(rel) = full.strip_prefix(&prefix) else {
                return git2::TreeWalkResult::Ok;
            };
            if is_hidden(rel) {
                return git2::TreeWalkResult::Skip;
            }
            if rel == "values" && entry.kind() == Some(ObjectType::Tree) {
                has_values_dir = true;
            }
            let wanted = (rel.starts_with("values/") && is_yaml(rel))
                || (rel.starts_with("templates/") && rel.ends_with(".j2"))
                || rel == "schemas/values.schema.json"
                || (rel.starts_with("schemas/crds/") && is_yaml(rel));
            if !wanted || entry.kind() != Some(ObjectType::Blob) {
                return git2::TreeWalkResult::Ok;
            }
            // A symlink is a blob holding its target: followed, as in the
            // working tree, when it stays inside the streams repository.
            let content = if entry.filemode() == 0o120000 {
                match self.follow(&tree, &prefix, &full, entry.id()) {
                    Some(bytes) => Content::Bytes(bytes),
                    None => Content::OutsideRoot {
                        target: "a symlink in git that leads outside the repository, to a symlink, or to nothing"
                            .to_owned(),
                    },
                }
            } else if let Some(len) = odb
                .as_ref()
                .and_then(|odb| odb.read_header(entry.id()).ok())
                .map(|(len, _)| len as u64)
                .filter(|&len| len > MAX_FILE_BYTES)
            {
                // Known from the header: the blob is never inflated.
                Content::Unreadable {
                    reason: too_big(len),
                }
            } else {
                match self.repo.find_blob(entry.id()) {
                    Ok(blob) => Content::Bytes(blob.content().to_vec()),
                    Err(e) => {
                        failure = Some(e.message().to_owned());
                        return git2::TreeWalkResult::Abort;
                    }
                }
            };
            files.push(File {
                path: rel.to_owned(),
                content,
            });
            git2::TreeWalkResult::Ok
        })
        .map_err(|e| Error::Git(failure.clone().unwrap_or_else(|| e.message().to_owned())))?;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Snapshot {
            files,
            has_values_dir,
        })
    }

    /// The blob a symlink (stored at `path`, a blob holding its target)
    /// points to, when the target is a file inside the streams repository
    /// (under `prefix`) that is not itself a symlink.
    fn follow(
        &self,
        tree: &git2::Tree<'_>,
        prefix: &str,
        path: &str,
        id: git2::Oid,
    ) -> Option<Vec<u8>> {
        let blob = self.repo.find_blob(id).ok()?;
        let target = std::str::from_utf8(blob.content()).ok()?;
        if target.starts_with('/') {
            return None;
        }
        let mut parts: Vec<&str> = path.split('/').collect();
        parts.pop();
        for seg in target.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    parts.pop()?;
                }
                s => parts.push(s),
            }
        }
        let resolved = parts.join("/");
        if !resolved.starts_with(prefix) {
            return None;
        }
        let entry = tree.get_path(std::path::Path::new(&resolved)).ok()?;
        if entry.filemode() == 0o120000 || entry.kind() != Some(ObjectType::Blob) {
            return None;
        }
        let len = self.repo.odb().ok()?.read_header(entry.id()).ok()?.0 as u64;
        if len > MAX_FILE_BYTES {
            return None;
        }
        Some(self.repo.find_blob(entry.id()).ok()?.content().to_vec())
    }

    /// Paths (relative to the streams repository) that differ between
    /// `base` and `head` (`None`: the working tree, including uncommitted
    /// and untracked files).
    pub fn changed_paths(&self, base: &str, head: Option<&str>) -> Result<Vec<String>, Error> {
        let base_tree = self.tree(base)?;
        let git = |e: git2::Error| Error::Git(e.message().to_owned());
        let diff = match head {
            Some(head) => {
                let head_tree = self.tree(head)?;
                self.repo
                    .diff_tree_to_tree(Some(&base_tree), Some(&head_tree), None)
                    .map_err(git)?
            }
            None => {
                let mut options = git2::DiffOptions::new();
                options.include_untracked(true).recurse_untracked_dirs(true);
                self.repo
                    .diff_tree_to_workdir_with_index(Some(&base_tree), Some(&mut options))
                    .map_err(git)?
            }
        };
        let prefix = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut paths: Vec<String> = Vec::new();
        for delta in diff.deltas() {
            for file in [delta.old_file(), delta.new_file()] {
                if let Some(p) = file.path().and_then(|p| p.to_str())
                    && let Some(rel) = p.strip_prefix(&prefix)
                {
                    paths.push(rel.to_owned());
                }
            }
        }
        paths.sort();
        paths.dedup();
        Ok(paths)
    }

    /// The merge base of two revisions (what an MR is compared against).
    pub fn merge_base(&self, a: &str, b: &str) -> Result<String, Error> {
        let git = |e: git2::Error| Error::Git(e.message().to_owned());
        let (a, b) = (
            Oid::from_str(&self.resolve(a)?).map_err(git)?,
            Oid::from_str(&self.resolve(b)?).map_err(git)?,
        );
        self.repo
            .merge_base(a, b)
            .map(|o| o.to_string())
            .map_err(git)
    }

    /// Whether tracked files have uncommitted changes (untracked files do
    /// not count).
    pub fn is_clean(&self) -> Result<bool, Error> {
        let mut options = git2::StatusOptions::new();
        options.include_untracked(false).include_ignored(false);
        let statuses = self
            .repo
            .statuses(Some(&mut options))
            .map_err(|e| Error::Git(e.message().to_owned()))?;
        Ok(statuses.is_empty())
    }

    /// Whether the working tree is exactly the commit: no change to a
    /// tracked file, and no untracked file (one that is not ignored).
    pub fn is_pristine(&self) -> Result<bool, Error> {
        let mut options = git2::StatusOptions::new();
        options.include_untracked(true).include_ignored(false);
        let statuses = self
            .repo
            .statuses(Some(&mut options))
            .map_err(|e| Error::Git(e.message().to_owned()))?;
        Ok(statuses.is_empty())
    }

    /// Who a commit is by: `--author "Name <email>"`, else
    /// `GIT_AUTHOR_NAME`/`GIT_AUTHOR_EMAIL`, else git's configuration; the
    /// committer likewise from `GIT_COMMITTER_*`, else the author. Known
    /// before anything is written.
    pub fn identity(&self, author: Option<&str>) -> Result<Identity, Error> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let configured = || {
            self.repo.signature().map_err(|e| {
                Error::Git(format!(
                    "no commit identity: {} (set `git config user.name` and `git config user.email`, GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL, or pass --author \"Name <email>\")",
                    e.message()
                ))
            })
        };
        let make = |name: &str, email: &str| {
            git2::Signature::now(name, email)
                .map_err(|e| Error::Git(format!("bad commit identity: {}", e.message())))
        };
        let author = match author {
            Some(text) => {
                let (name, email) = text
                    .trim()
                    .strip_suffix('>')
                    .and_then(|t| t.split_once('<'))
                    .map(|(n, e)| (n.trim(), e.trim()))
                    .filter(|(n, e)| !n.is_empty() && e.contains('@'))
                    .ok_or_else(|| {
                        Error::Git(format!(
                            "--author `{text}` is not of the form \"Name <email>\""
                        ))
                    })?;
                make(name, email)?
            }
            None => match (env("GIT_AUTHOR_NAME"), env("GIT_AUTHOR_EMAIL")) {
                (Some(n), Some(e)) => make(&n, &e)?,
                _ => configured()?,
            },
        };
        let committer = match (env("GIT_COMMITTER_NAME"), env("GIT_COMMITTER_EMAIL")) {
            (Some(n), Some(e)) => make(&n, &e)?,
            _ => configured().unwrap_or_else(|_| author.clone()),
        };
        Ok(Identity {
            author: author.to_owned(),
            committer: committer.to_owned(),
        })
    }

    fn full_path(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{path}", self.prefix)
        }
    }

    /// A commit on top of HEAD with `files` (paths relative to the streams
    /// repository) holding the given bytes, written to the object database
    /// only: the working tree, the index and every ref stay as they are.
    pub fn prepare_commit(
        &self,
        files: &[(String, Vec<u8>)],
        message: &str,
        identity: &Identity,
    ) -> Result<Prepared, Error> {
        let git = |e: git2::Error| Error::Git(e.message().to_owned());
        let parent = self
            .repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .map_err(git)?;
        let parent_tree = parent.tree().map_err(git)?;
        let mut index = git2::Index::new().map_err(git)?;
        index.read_tree(&parent_tree).map_err(git)?;
        for (path, bytes) in files {
            let full = self.full_path(path);
            // An untracked or ignored file is someone's work in progress.
            if parent_tree.get_path(Path::new(&full)).is_err() {
                return Err(Error::Git(format!(
                    "{path} is not tracked by git: commit it first, or promote without --commit/--branch"
                )));
            }
            let mode = index
                .get_path(Path::new(&full), 0)
                .map_or(0o100644, |e| e.mode);
            let entry = git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode,
                uid: 0,
                gid: 0,
                file_size: bytes.len() as u32,
                id: self.repo.blob(bytes).map_err(git)?,
                flags: 0,
                flags_extended: 0,
                path: full.into_bytes(),
            };
            index.add(&entry).map_err(git)?;
        }
        let tree_id = index.write_tree_to(&self.repo).map_err(git)?;
        let tree = self.repo.find_tree(tree_id).map_err(git)?;
        let id = self
            .repo
            .commit(
                None,
                &identity.author,
                &identity.committer,
                message,
                &tree,
                &[&parent],
            )
            .map_err(git)?;
        Ok(Prepared {
            id,
            parent: parent.id(),
            paths: files.iter().map(|(p, _)| self.full_path(p)).collect(),
        })
    }

    /// Whether git would change a file's bytes on the way in (a `filter`,
    /// `text` or `eol` attribute): then a commit must be made from the
    /// working tree, where git applies them.
    pub fn filters(&self, path: &str) -> bool {
        let full = self.full_path(path);
        ["filter", "text", "eol", "crlf", "ident"]
            .iter()
            .any(|attr| {
                self.repo
                    .get_attr(
                        Path::new(&full),
                        attr,
                        git2::AttrCheckFlags::FILE_THEN_INDEX,
                    )
                    .is_ok_and(|v| v.is_some())
            })
            || self
                .repo
                .config()
                .and_then(|c| c.get_string("core.autocrlf"))
                .is_ok_and(|v| v != "false")
    }

    /// Commits the prepared files, now written to the working tree, on the
    /// current branch: staged through git (so its filters apply), then the
    /// branch moves, and only if HEAD is still the prepared commit's parent.
    /// On failure, the index and the branch are as they were.
    pub fn commit_worktree(
        &self,
        prepared: &Prepared,
        identity: &Identity,
        message: &str,
    ) -> Result<String, Error> {
        let git = |e: git2::Error| Error::Git(e.message().to_owned());
        let parent = self.repo.find_commit(prepared.parent).map_err(git)?;
        let mut index = self.repo.index().map_err(git)?;
        for path in &prepared.paths {
            index.add_path(Path::new(path)).map_err(git)?;
        }
        let tree_id = index.write_tree().map_err(git)?;
        // The index file first: a lock held by another git process fails
        // here, before any ref moves.
        index.write().map_err(git)?;
        let tree = self.repo.find_tree(tree_id).map_err(git)?;
        match self.repo.commit(
            Some("HEAD"),
            &identity.author,
            &identity.committer,
            message,
            &tree,
            &[&parent],
        ) {
            Ok(id) => Ok(id.to_string()),
            Err(e) => {
                // The tree was clean: the index was HEAD's tree.
                if let Ok(head_tree) = parent.tree() {
                    let _ = index.read_tree(&head_tree);
                    let _ = index.write();
                }
                Err(git(e))
            }
        }
    }

    /// Creates branch `name` at a prepared commit; refuses an existing one.
    pub fn create_branch(&self, name: &str, prepared: &Prepared) -> Result<(), Error> {
        let git = |e: git2::Error| Error::Git(e.message().to_owned());
        if name.starts_with("refs/")
            || !git2::Reference::is_valid_name(&format!("refs/heads/{name}"))
            || name == "HEAD"
            || name.contains('@')
        {
            return Err(Error::Git(format!(
                "`{name}` is not a valid branch name (see `git check-ref-format --branch`)"
            )));
        }
        let commit = self.repo.find_commit(prepared.id).map_err(git)?;
        self.repo.branch(name, &commit, false).map_err(git)?;
        Ok(())
    }

    /// Whether HEAD is a branch (not detached).
    pub fn head_is_branch(&self) -> bool {
        self.repo.head().is_ok_and(|h| h.is_branch())
    }
}

/// Who a commit is by.
pub struct Identity {
    pub author: git2::Signature<'static>,
    pub committer: git2::Signature<'static>,
}

/// A commit in the object database that no ref points to yet.
pub struct Prepared {
    pub id: Oid,
    parent: Oid,
    paths: Vec<String>,
}

impl Prepared {
    pub fn short(&self) -> String {
        self.id.to_string()[..12].to_owned()
    }
}
