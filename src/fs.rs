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
