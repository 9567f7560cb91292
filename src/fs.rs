//! Edge: read a streams repository from the working tree into a
//! [`Snapshot`]. The only module of the values pipeline that touches the
//! file system.

use crate::snapshot::{Content, File, MAX_FILE_BYTES, Snapshot, is_yaml, too_big};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open the repository at `{path}`: {source}")]
    Root { path: PathBuf, source: io::Error },
    #[error("cannot list `{path}`: {source}")]
    List { path: PathBuf, source: io::Error },
}

/// Reads `values/`, `templates/`, `schemas/values.schema.json` and
/// `schemas/crds/` below
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
            &mut Walked::new(root, "values"),
            &|p| is_yaml(p),
        )?;
    }
    if root.join("templates").is_dir() {
        walk(
            &canonical_root,
            root,
            Path::new("templates"),
            &mut files,
            &mut Walked::new(root, "templates"),
            &|p| p.ends_with(".j2"),
        )?;
    }
    if root.join(crate::snapshot::CRDS_DIR).is_dir() {
        walk(
            &canonical_root,
            root,
            Path::new(crate::snapshot::CRDS_DIR),
            &mut files,
            &mut Walked::new(root, crate::snapshot::CRDS_DIR),
            &|p| is_yaml(p),
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

/// The real directories one walk has entered, each with the path it was
/// first entered by.
struct Walked(HashMap<PathBuf, String>);

impl Walked {
    fn new(root: &Path, top: &str) -> Walked {
        let mut seen = HashMap::new();
        if let Ok(real) = root.join(top).canonicalize() {
            seen.insert(real, top.to_owned());
        }
        Walked(seen)
    }
}

fn walk(
    canonical_root: &Path,
    root: &Path,
    dir: &Path,
    files: &mut Vec<File>,
    walked: &mut Walked,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<(), Error> {
    let full = root.join(dir);
    let entries = std::fs::read_dir(&full).map_err(|source| Error::List {
        path: full.clone(),
        source,
    })?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::List {
            path: full.clone(),
            source,
        })?;
        names.push(entry.file_name());
    }
    // In order, so that of two names for one directory the same one is
    // read on every run.
    names.sort();
    for name in &names {
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let rel = dir.join(name);
        let path = root.join(&rel);
        // Follow symlinks for the type (a stat, which opens nothing), but
        // never out of the repository, and into each real directory once:
        // a symlink back up would make the walk endless.
        if path.is_dir() {
            match path.canonicalize() {
                Ok(real) if real.starts_with(canonical_root) => {
                    let rel_str = rel_string(&rel);
                    match walked.0.get(&real) {
                        Some(first) => files.push(File {
                            content: Content::Unreadable {
                                reason: walked_already(&rel_str, first),
                            },
                            path: rel_str,
                        }),
                        None => {
                            walked.0.insert(real, rel_str);
                            walk(canonical_root, root, &rel, files, walked, wanted)?;
                        }
                    }
                }
                _ => {
                    if let Some(rel) = rel.to_str() {
                        files.push(outside(canonical_root, &path, rel));
                    }
                }
            }
        } else if rel.to_str().is_some_and(wanted) {
            files.push(read_one(canonical_root, root, &rel));
        }
    }
    Ok(())
}

fn rel_string(rel: &Path) -> String {
    rel.to_string_lossy().replace('\\', "/")
}

/// Why a directory reached a second time is not read again.
fn walked_already(rel: &str, first: &str) -> String {
    if rel.starts_with(&format!("{first}/")) {
        format!("it leads back to `{first}`, which contains it (a symlink loop)")
    } else {
        format!("it is another name for `{first}`, which is read already")
    }
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
            content: read_regular(&path),
        },
    }
}

/// The bytes of a regular file of at most [`MAX_FILE_BYTES`]. Anything
/// else is refused without being opened: opening a FIFO waits for a
/// writer that never comes, and a device such as `/dev/zero` never ends.
fn read_regular(path: &Path) -> Content {
    let unreadable = |reason: String| Content::Unreadable { reason };
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() > MAX_FILE_BYTES => return unreadable(too_big(m.len())),
        Ok(m) if m.is_file() => {}
        Ok(m) => {
            return unreadable(format!(
                "it is {}, not a regular file",
                special_kind(&m.file_type())
            ));
        }
        Err(e) => return unreadable(e.to_string()),
    }
    let mut bytes = Vec::new();
    // The length is checked again as read: the file may have grown.
    let read = std::fs::File::open(path).and_then(|f| {
        io::Read::read_to_end(&mut io::Read::take(f, MAX_FILE_BYTES + 1), &mut bytes)
    });
    match read {
        Ok(_) if bytes.len() as u64 > MAX_FILE_BYTES => unreadable(too_big(bytes.len() as u64)),
        Ok(_) => Content::Bytes(bytes),
        Err(e) => unreadable(e.to_string()),
    }
}

fn special_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// The marker file that makes a directory sluice's to replace.
pub const OUTPUT_MARKER: &str = ".sluice-render";

/// Siblings of an output directory `D` that a run works in are named
/// `.D.sluice-tmp-XXXXXX`: the new content while it is written, then the
/// old content while it is removed. Only a killed run leaves one behind.
const STAGING_INFIX: &str = ".sluice-tmp-";

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(
        "`{0}` exists and was not written by `sluice render` (no {OUTPUT_MARKER} file in it); refusing to replace it"
    )]
    Foreign(PathBuf),
    #[error(
        "`{dir}` {} the repository's `{}/`: refusing to write rendered manifests there",
        if *.contains { "contains" } else { "is inside" },
        .protected.file_name().unwrap_or_default().to_string_lossy()
    )]
    Protected {
        dir: PathBuf,
        protected: PathBuf,
        contains: bool,
    },
    #[error("`{0}` is not a relative path inside the output directory")]
    OutsideDir(String),
    #[error("cannot write `{path}`: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// `path` made absolute, with symlinks and `..` resolved, also when its
/// last components do not exist yet (those are resolved as written).
pub fn resolve(path: &Path) -> io::Result<PathBuf> {
    use std::path::Component;
    let absolute = std::path::absolute(path)?;
    let components: Vec<Component> = absolute.components().collect();
    for known in (1..=components.len()).rev() {
        let Ok(mut real) = components[..known]
            .iter()
            .collect::<PathBuf>()
            .canonicalize()
        else {
            continue;
        };
        for c in &components[known..] {
            match c {
                Component::ParentDir => {
                    real.pop();
                }
                Component::Normal(name) => real.push(name),
                _ => {}
            }
        }
        return Ok(real);
    }
    Ok(absolute)
}

/// Writes `files` (relative path, content) as the whole content of `dir`,
/// atomically: everything goes to a fresh sibling directory first, which
/// then takes the place of `dir` in one step (on Linux, `dir` is at every
/// instant either the old or the new directory). On any error `dir` is
/// left as it was. `dir` may not be inside, nor contain, any of
/// `protected` (symlinks and `..` resolved).
pub fn write_output_dir(
    dir: &Path,
    files: &[(String, String)],
    protected: &[PathBuf],
) -> Result<(), OutputError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| OutputError::Write { path, source }
    };
    let real = resolve(dir).map_err(io(dir))?;
    for p in protected {
        let p_real = resolve(p).map_err(io(p))?;
        if real.starts_with(&p_real) || p_real.starts_with(&real) {
            return Err(OutputError::Protected {
                dir: dir.to_owned(),
                protected: p.to_owned(),
                contains: real != p_real && p_real.starts_with(&real),
            });
        }
    }
    // The caller checked the names; this keeps any slip inside `dir`.
    if let Some((rel, _)) = files.iter().find(|(rel, _)| {
        rel.is_empty()
            || !Path::new(rel)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
    }) {
        return Err(OutputError::OutsideDir(rel.clone()));
    }
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
    // While the lock is held no other run works beside `dir`, so every
    // staging directory found is a killed run's.
    let held = lock(&parent);
    if held.is_some() {
        remove_stale(&parent, &name);
    }
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}{STAGING_INFIX}"))
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    std::fs::write(
        staging.path().join(OUTPUT_MARKER),
        "written by `sluice render`; the whole directory is replaced on the next run\n",
    )
    .map_err(io(staging.path()))?;
    for (rel, content) in files {
        let path = staging.path().join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(io(p))?;
        }
        std::fs::write(&path, content).map_err(io(&path))?;
    }
    let staged = staging.keep();
    let placed = if dir.symlink_metadata().is_ok() {
        swap(&staged, dir)
    } else {
        std::fs::rename(&staged, dir)
    };
    if let Err(source) = placed {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(OutputError::Write {
            path: dir.to_owned(),
            source,
        });
    }
    // `staged` now holds the old content (or nothing).
    let _ = std::fs::remove_dir_all(&staged);
    Ok(())
}

/// Puts the directory `new` at `dir` and the old `dir` at `new`. On Linux
/// one `renameat2(RENAME_EXCHANGE)`; where the file system or the system
/// cannot exchange, two renames (with a moment where `dir` is missing).
fn swap(new: &Path, dir: &Path) -> io::Result<()> {
    match exchange(new, dir) {
        Err(e) if cannot_exchange(&e) => {}
        done => return done,
    }
    let mut old = new.as_os_str().to_owned();
    old.push("-old");
    let old = PathBuf::from(old);
    std::fs::rename(dir, &old)?;
    if let Err(e) = std::fs::rename(new, dir) {
        let _ = std::fs::rename(&old, dir);
        return Err(e);
    }
    std::fs::rename(&old, new)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The kernel or the file system has no atomic exchange (as opposed to a
/// failure that renaming would hit too).
fn cannot_exchange(e: &io::Error) -> bool {
    const EINVAL: i32 = 22;
    const ENOSYS: i32 = 38;
    const EOPNOTSUPP: i32 = 95;
    e.kind() == io::ErrorKind::Unsupported
        || (cfg!(any(target_os = "linux", target_os = "android"))
            && matches!(e.raw_os_error(), Some(EINVAL | ENOSYS | EOPNOTSUPP)))
}

/// An exclusive lock on the directory `dir` (held until dropped), or
/// `None` where there is none to take (then no cleanup is safe).
#[cfg(unix)]
fn lock(dir: &Path) -> Option<std::fs::File> {
    let handle = std::fs::File::open(dir).ok()?;
    rustix::fs::flock(&handle, rustix::fs::FlockOperation::LockExclusive).ok()?;
    Some(handle)
}

#[cfg(not(unix))]
fn lock(_: &Path) -> Option<()> {
    None
}

/// Removes the staging directories killed runs left beside `parent/name`:
/// `.name.sluice-tmp-*`, and those of earlier versions of sluice
/// (`.name.XXXXXX`, `.name.old-<pid>`) when they hold the marker.
fn remove_stale(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let ours = format!(".{name}{STAGING_INFIX}");
    let legacy = format!(".{name}.");
    for entry in entries.flatten() {
        // A symlink is never followed, nor removed.
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let file_name = entry.file_name();
        let Some(found) = file_name.to_str() else {
            continue;
        };
        let stale = found.starts_with(&ours)
            || found.strip_prefix(&legacy).is_some_and(|rest| {
                let random = rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_alphanumeric());
                let old = rest
                    .strip_prefix("old-")
                    .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
                (random || old) && entry.path().join(OUTPUT_MARKER).is_file()
            });
        if stale {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_output_dir_is_always_the_old_or_the_new_one() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("out");
        let content = |n: usize| format!("{}\n", n.to_string().repeat(10_000));
        write_output_dir(&dir, &[("a/x.yaml".into(), content(0))], &[]).unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let (mut seen, mut missing) = (0, 0);
        std::thread::scope(|s| {
            s.spawn(|| {
                for n in 1..=100 {
                    write_output_dir(&dir, &[("a/x.yaml".into(), content(n % 2))], &[]).unwrap();
                }
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if !dir.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                    missing += 1;
                }
                // A read may find the old directory already being removed;
                // what it reads is never a mix or a half-written file.
                if let Ok(text) = std::fs::read_to_string(dir.join("a/x.yaml")) {
                    assert!(text == content(0) || text == content(1));
                    seen += 1;
                }
            }
        });
        assert_eq!(missing, 0, "the output directory went missing");
        assert!(seen > 0);
        assert_eq!(listing(parent.path()), ["out"], "nothing left beside it");
        assert_eq!(
            std::fs::read_to_string(dir.join("a/x.yaml")).unwrap(),
            content(0)
        );
    }

    #[test]
    fn swap_by_renames_leaves_the_new_content() {
        let parent = tempfile::tempdir().unwrap();
        let (new, dir) = (parent.path().join("new"), parent.path().join("dir"));
        std::fs::create_dir(&new).unwrap();
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(new.join("n"), "").unwrap();
        std::fs::write(dir.join("o"), "").unwrap();
        swap(&new, &dir).unwrap();
        assert_eq!(listing(&dir), ["n"]);
        assert_eq!(listing(&new), ["o"]);
    }

    #[test]
    fn stale_staging_directories_are_removed_and_nothing_else() {
        let parent = tempfile::tempdir().unwrap();
        let p = parent.path();
        for stale in [".out.sluice-tmp-Ab12Cd", ".out.sluice-tmp-Ab12Cd-old"] {
            std::fs::create_dir(p.join(stale)).unwrap();
        }
        for legacy in [".out.Xy12Zw", ".out.old-4242"] {
            std::fs::create_dir(p.join(legacy)).unwrap();
            std::fs::write(p.join(legacy).join(OUTPUT_MARKER), "").unwrap();
        }
        // Not sluice's: no marker, another directory's, not a directory.
        std::fs::create_dir(p.join(".out.backup")).unwrap();
        std::fs::create_dir(p.join(".other.sluice-tmp-Ab12Cd")).unwrap();
        std::fs::write(p.join(".out.sluice-tmp-file"), "").unwrap();
        write_output_dir(&p.join("out"), &[("s/k.yaml".into(), "k: 1\n".into())], &[]).unwrap();
        assert_eq!(
            listing(p),
            [
                ".other.sluice-tmp-Ab12Cd",
                ".out.backup",
                ".out.sluice-tmp-file",
                "out"
            ]
        );
    }

    #[test]
    fn protected_directories_are_refused_through_symlinks_and_dot_dots() {
        let root = tempfile::tempdir().unwrap();
        let values = root.path().join("values");
        std::fs::create_dir_all(values.join("streams")).unwrap();
        let protected = [values.clone()];
        let files = [("s/k.yaml".to_owned(), "k: 1\n".to_owned())];
        let refused = |dir: &Path| {
            matches!(
                write_output_dir(dir, &files, &protected),
                Err(OutputError::Protected { .. })
            )
        };
        assert!(refused(&values.join("streams/out")));
        assert!(refused(&root.path().join("x/../values/new/out")));
        assert!(refused(root.path()), "contains values/");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&values, root.path().join("link")).unwrap();
            assert!(refused(&root.path().join("link/out")));
        }
        assert!(!values.join("streams/out").exists());
        assert!(!values.join("new").exists());
        write_output_dir(&root.path().join("rendered"), &files, &protected).unwrap();
        assert!(matches!(
            write_output_dir(
                &root.path().join("rendered"),
                &[("../x".into(), String::new())],
                &[]
            ),
            Err(OutputError::OutsideDir(_))
        ));
    }
}
