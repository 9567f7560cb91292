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
    /// The edge could not read the file; the reason is the OS error.
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
/// `templates/*.j2` and `schemas/values.schema.json`.
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

/// Whether a path names a YAML values file.
pub fn is_yaml(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml")
}
