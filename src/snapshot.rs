//! The files of a streams repository, as read by an edge (the working tree
//! in `fs.rs`, later a git revision), and nothing else: the stages after it
//! never touch the file system.

/// What an edge found at one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    Bytes(Vec<u8>),
    /// A symlink (or a path through one) that resolves outside the repository.
    OutsideRoot {
        target: String,
    },
    /// The edge could not or would not read the file: the reason is the
    /// OS error, or why it was refused unopened (not a regular file, over
    /// [`MAX_FILE_BYTES`], a directory reached again through a symlink).
    Unreadable {
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Relative to the repository root, `/`-separated.
    pub path: String,
    pub content: Content,
}

/// Every file sluice reads from a repository: `values/**/*.y(a)ml`,
/// `templates/*.j2`, `schemas/values.schema.json` and
/// `schemas/crds/*.y(a)ml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Sorted by path.
    pub files: Vec<File>,
    /// Whether `values/` exists at all (an empty checkout reads differently
    /// from a repository without environments).
    pub has_values_dir: bool,
}

impl Snapshot {
    pub fn get(&self, path: &str) -> Option<&File> {
        self.files
            .binary_search_by(|f| f.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.files[i])
    }

    pub fn under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a File> + 'a {
        self.files.iter().filter(move |f| {
            f.path
                .strip_prefix(dir)
                .is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

/// Whether a repository-relative path is hidden: a component starts with
/// `.` (`.wip/`, `.orders.yaml.swp`, `.#orders.yaml`). Hidden files are
/// editor and tool state, and every edge skips them, so the working tree
/// and a git revision read the same files.
pub fn is_hidden(path: &str) -> bool {
    path.split('/').any(|c| c.starts_with('.'))
}

/// The largest file an edge reads (values, template or schema). A values
/// file has a few kilobytes, and what it sets ends up in objects the API
/// server refuses over 1.5 MB; every later stage reads its files whole.
pub const MAX_FILE_BYTES: u64 = 4_000_000;

/// Why a file of `len` bytes, over [`MAX_FILE_BYTES`], is not read.
pub fn too_big(len: u64) -> String {
    format!(
        "it is {:.1} MB; sluice reads files of at most {} MB",
        len as f64 / 1e6,
        MAX_FILE_BYTES / 1_000_000
    )
}

/// The repository's CRDs: objects of their kinds are checked against them.
pub const CRDS_DIR: &str = "schemas/crds";

/// Whether a path names a YAML values file.
pub fn is_yaml(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml")
}
