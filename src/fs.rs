//! Edge: read a streams repository from the working tree into a
//! [`Snapshot`]. The only module of the values pipeline that touches the
//! file system.

use crate::snapshot::{Content, File, Snapshot, is_yaml};
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open the repository at `{path}`: {source}")]
    Root { path: PathBuf, source: io::Error },
    #[error("cannot list `{path}`: {source}")]
    List { path: PathBuf, source: io::Error },
}

/// Reads `values/`, `templates/` and `schemas/values.schema.json` below
/// `root`. Files that cannot be read, or that resolve outside `root`
/// through a symlink, are recorded as such rather than failing the run, so
/// that every problem is reported at once.
pub fn read_repository(root: &Path) -> Result<Snapshot, Error> {
    let canonical_root = root.canonicalize().map_err(|source| Error::Root {
        path: root.to_owned(),
        source,
    })?;
    let mut snapshot = Snapshot::default();
    let values = root.join("values");
    snapshot.has_values_dir = values.is_dir();
    let mut files = Vec::new();
    if snapshot.has_values_dir {
        walk(
            &canonical_root,
            root,
            Path::new("values"),
            &mut files,
            &|p| is_yaml(p),
        )?;
    }
    if root.join("templates").is_dir() {
        walk(
            &canonical_root,
            root,
            Path::new("templates"),
            &mut files,
            &|p| p.ends_with(".j2"),
        )?;
    }
    let schema = Path::new("schemas/values.schema.json");
    if root.join(schema).exists() || root.join(schema).is_symlink() {
        files.push(read_one(&canonical_root, root, schema));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    snapshot.files = files;
    Ok(snapshot)
}

fn walk(
    canonical_root: &Path,
    root: &Path,
    dir: &Path,
    files: &mut Vec<File>,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<(), Error> {
    let full = root.join(dir);
    let entries = std::fs::read_dir(&full).map_err(|source| Error::List {
        path: full.clone(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::List {
            path: full.clone(),
            source,
        })?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let rel = dir.join(name);
        let path = root.join(&rel);
        // Follow symlinks for the type, but never out of the repository.
        if path.is_dir() {
            if inside(canonical_root, &path) {
                walk(canonical_root, root, &rel, files, wanted)?;
            } else if let Some(rel) = rel.to_str() {
                files.push(outside(canonical_root, &path, rel));
            }
        } else if rel.to_str().is_some_and(wanted) {
            files.push(read_one(canonical_root, root, &rel));
        }
    }
    Ok(())
}

fn inside(canonical_root: &Path, path: &Path) -> bool {
    path.canonicalize()
        .is_ok_and(|p| p.starts_with(canonical_root))
}

fn outside(canonical_root: &Path, path: &Path, rel: &str) -> File {
    let target = match path.canonicalize() {
        Ok(p) => p.display().to_string(),
        Err(_) => std::fs::read_link(path)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "?".to_owned()),
    };
    let _ = canonical_root;
    File {
        path: rel.replace('\\', "/"),
        content: Content::OutsideRoot { target },
    }
}

fn read_one(canonical_root: &Path, root: &Path, rel: &Path) -> File {
    let path = root.join(rel);
    let rel_str = rel.to_string_lossy().replace('\\', "/");
    match path.canonicalize() {
        Ok(real) if !real.starts_with(canonical_root) => outside(canonical_root, &path, &rel_str),
        Err(e) if path.is_symlink() => File {
            path: rel_str,
            content: Content::Unreadable {
                reason: format!("broken symlink ({e})"),
            },
        },
        _ => File {
            path: rel_str,
            content: match std::fs::read(&path) {
                Ok(bytes) => Content::Bytes(bytes),
                Err(e) => Content::Unreadable {
                    reason: e.to_string(),
                },
            },
        },
    }
}

/// The marker file that makes a directory sluice's to replace.
pub const OUTPUT_MARKER: &str = ".sluice-render";

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(
        "`{0}` exists and was not written by `sluice render` (no {OUTPUT_MARKER} file in it); refusing to replace it"
    )]
    Foreign(PathBuf),
    #[error("cannot write `{path}`: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// Writes `files` (relative path, content) as the whole content of `dir`,
/// atomically: everything goes to a fresh sibling directory first, which
/// then replaces `dir` by rename. On any error `dir` is left as it was.
pub fn write_output_dir(dir: &Path, files: &[(String, String)]) -> Result<(), OutputError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| OutputError::Write { path, source }
    };
    if dir.exists() {
        let empty = std::fs::read_dir(dir).map_err(io(dir))?.next().is_none();
        if !empty && !dir.join(OUTPUT_MARKER).exists() {
            return Err(OutputError::Foreign(dir.to_owned()));
        }
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_owned());
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    for (rel, content) in files {
        let path = staging.path().join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(io(p))?;
        }
        std::fs::write(&path, content).map_err(io(&path))?;
    }
    std::fs::write(
        staging.path().join(OUTPUT_MARKER),
        "written by `sluice render`; the whole directory is replaced on the next run\n",
    )
    .map_err(io(staging.path()))?;
    let staged = staging.keep();
    if dir.exists() {
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        std::fs::rename(dir, &old).map_err(io(dir))?;
        if let Err(source) = std::fs::rename(&staged, dir) {
            let _ = std::fs::rename(&old, dir);
            let _ = std::fs::remove_dir_all(&staged);
            return Err(OutputError::Write {
                path: dir.to_owned(),
                source,
            });
        }
        let _ = std::fs::remove_dir_all(&old);
    } else if let Err(source) = std::fs::rename(&staged, dir) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(OutputError::Write {
            path: dir.to_owned(),
            source,
        });
    }
    Ok(())
}
