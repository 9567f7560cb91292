//! One module per verb: each calls the edges (file system, later git and
//! the cluster), runs the pure stages, and reports.

pub mod apply;
pub mod ci;
pub mod cluster;
pub mod diff;
pub mod edits;
pub mod history;
pub mod lint;
pub mod load;
pub mod promote;
pub mod rbac;
pub mod render;
pub mod restart;
pub mod rollback;
pub mod scaffold;
pub mod status;
pub mod submit;
pub mod suspend;
pub mod values;
pub mod wait;

pub use load::{Loaded, load, load_from, load_snapshot, select};

use crate::diag::Diagnostic;
use crate::source::Sources;
use crate::values::{set, yaml::Node};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    /// Findings of error severity (or differences, with `--exit-code`).
    Findings = 1,
    /// Bad input or usage.
    Usage = 2,
    /// The cluster refused or could not be reached.
    Cluster = 3,
}

/// Options every command takes.
#[derive(Clone, Debug)]
pub struct Global {
    pub root: PathBuf,
    pub color: anstream::ColorChoice,
    pub verbose: u8,
    /// Read the repository at this git revision instead of the working tree.
    pub rev: Option<String>,
    /// Only the streams that changes since this revision touch.
    pub changed_since: Option<String>,
}

impl Global {
    /// Whether to colour what goes to stdout (or stderr).
    pub fn styled(&self, stderr: bool) -> bool {
        let choice = match self.color {
            anstream::ColorChoice::Auto if stderr => {
                anstream::AutoStream::choice(&std::io::stderr())
            }
            anstream::ColorChoice::Auto => anstream::AutoStream::choice(&std::io::stdout()),
            other => other,
        };
        !matches!(choice, anstream::ColorChoice::Never)
    }

    pub fn trace(&self, what: impl FnOnce() -> String) {
        if self.verbose > 0 {
            eprintln!("sluice: {}", what());
        }
    }
}

/// A failure that is the user's to fix (exit 2), already explained.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    pub message: String,
    pub help: Option<String>,
    /// Rendered diagnostics to print instead of the message.
    pub rendered: Option<String>,
}

impl UsageError {
    pub fn new(message: impl Into<String>) -> UsageError {
        UsageError {
            message: message.into(),
            help: None,
            rendered: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> UsageError {
        self.help = Some(help.into());
        self
    }
}

/// The cluster refused, or went away during, a multi-object step (exit 3):
/// one headline and the objects it concerns, already worded.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ClusterFailure {
    pub message: String,
}

impl ClusterFailure {
    pub fn new(message: impl Into<String>) -> ClusterFailure {
        ClusterFailure {
            message: message.into(),
        }
    }
}

/// The `--set` family of flags, each kind in the order given.
#[derive(Clone, Debug, Default)]
pub struct SetFlags {
    pub typed: Vec<String>,
    pub strings: Vec<String>,
    /// `--set-file key=path`: the path is read relative to the working
    /// directory, as Helm reads it (`-` is standard input).
    pub files: Vec<String>,
    pub literals: Vec<String>,
}

impl SetFlags {
    /// Checks every flag and reads the files of `--set-file`, giving the
    /// flags in Helm's order; a malformed flag, a key sluice ignores and an
    /// unreadable file are usage errors showing the flag with a caret.
    #[allow(clippy::result_large_err)] // the reader's error, as in values::set
    pub fn parse(
        &self,
        sources: &mut Sources,
        global: &Global,
    ) -> Result<Vec<set::Flag>, UsageError> {
        let mut flags = Vec::new();
        let mut bad: Vec<Diagnostic> = Vec::new();
        for kind in set::ORDER {
            let texts = match kind {
                set::Kind::Typed => &self.typed,
                set::Kind::String => &self.strings,
                set::Kind::File => &self.files,
                set::Kind::Literal => &self.literals,
            };
            for text in texts {
                let id = sources.add(kind.flag(), text.as_str());
                let mut paths: Vec<(usize, String, crate::source::Span)> = Vec::new();
                let (layer, error) = set::parse_partial(id, text, kind, &mut |raw, span| {
                    if kind == set::Kind::File {
                        paths.push((span.range().start, raw.to_owned(), span));
                        return Ok(crate::values::yaml::Value::String(String::new()));
                    }
                    Ok(set::typed(raw, kind))
                });
                // What was read before an error is masked as if well formed.
                crate::values::repo::redact_credentials(&layer, id, sources);
                if let Some(d) = error {
                    crate::values::repo::redact_scanned(id, sources);
                    bad.push(d);
                    continue;
                }
                if let Some(d) = set::check_reached(&layer, kind) {
                    bad.push(d);
                    continue;
                }
                let mut contents = Vec::new();
                for (at, path, span) in paths {
                    match read_set_file(&path) {
                        Ok(text) => contents.push((at, text)),
                        Err(why) => bad.push(
                            Diagnostic::error("set/file", format!("cannot read this --set-file file: {why}"))
                                .at(span, "here")
                                .help("--set-file key=path reads the file at path, relative to the working directory"),
                        ),
                    }
                }
                let flag = set::Flag {
                    kind,
                    file: id,
                    text: text.clone(),
                    contents,
                };
                if kind == set::Kind::File && !flag.contents.is_empty() {
                    // A credential read from a file is masked like one written in the flag.
                    let mut with_contents = Node::empty_map(crate::source::Span::new(id, 0..0));
                    if set::apply(&mut with_contents, std::slice::from_ref(&flag)).is_ok() {
                        crate::values::repo::redact_credentials(&with_contents, id, sources);
                    }
                }
                flags.push(flag);
            }
        }
        if bad.is_empty() {
            return Ok(flags);
        }
        let styled = global.styled(true);
        let rendered = bad
            .iter()
            .map(|d| crate::report::human::render(d, sources, styled))
            .collect();
        Err(UsageError {
            message: "malformed --set".to_owned(),
            help: None,
            rendered: Some(rendered),
        })
    }
}

/// A `--set-file` file's text: Helm reads `-` as standard input.
fn read_set_file(path: &str) -> Result<String, String> {
    let bytes = if path.trim() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map_err(|e| e.to_string())?;
        bytes
    } else {
        std::fs::read(path).map_err(|e| e.to_string())?
    };
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_owned())
}

/// `mr` stands for the base of the merge request GitLab runs the pipeline
/// for (`CI_MERGE_REQUEST_DIFF_BASE_SHA`).
pub fn resolve_mr(rev: &str) -> Result<String, UsageError> {
    if rev != "mr" {
        return Ok(rev.to_owned());
    }
    std::env::var("CI_MERGE_REQUEST_DIFF_BASE_SHA").ok().filter(|s| !s.is_empty()).ok_or_else(|| {
        UsageError::new("`mr` needs CI_MERGE_REQUEST_DIFF_BASE_SHA, which GitLab sets only in merge request pipelines")
            .help("pass a revision instead, e.g. --base origin/main")
    })
}

/// With `--changed-since`, the streams the changes touch (from git: the
/// revision to `--rev`, or to the working tree).
pub fn affected(
    global: &Global,
    repo: &crate::values::repo::Repository,
) -> anyhow::Result<Option<crate::changes::Affected>> {
    let Some(since) = &global.changed_since else {
        return Ok(None);
    };
    let since = resolve_mr(since)?;
    let git = crate::git::Git::open(&global.root).map_err(|e| UsageError::new(e.to_string()))?;
    let paths = git
        .changed_paths(&since, global.rev.as_deref())
        .map_err(|e| UsageError::new(e.to_string()))?;
    let affected = crate::changes::Affected::of(repo, &paths);
    global.trace(|| {
        format!(
            "changed since {since}: {} files; checking {}",
            paths.len(),
            affected.describe()
        )
    });
    Ok(Some(affected))
}

/// Every stream named with `--stream` must exist in the environment.
pub fn require_streams(
    repo: &crate::values::repo::Repository,
    environment: &str,
    names: &[String],
) -> Result<(), UsageError> {
    let known: Vec<&str> = repo
        .streams
        .iter()
        .filter(|d| d.applies_to(environment))
        .map(|d| d.name.as_str())
        .collect();
    for name in names {
        if !known.contains(&name.as_str()) {
            let mut err = UsageError::new(format!(
                "no stream `{name}` in environment `{environment}`; its streams are: {}",
                known.join(", ")
            ));
            if let Some(s) = crate::suggest::closest(name, known.iter().copied()) {
                err = err.help(format!("did you mean `{s}`?"));
            }
            return Err(err);
        }
    }
    Ok(())
}

/// [`require_streams`], where a stream that is missing because the file
/// that would define it is broken shows that file's errors (`values
/// --stream X` with a broken `X.yaml` is about the YAML error, not about
/// a stream that does not exist).
pub fn require_readable_streams(
    global: &Global,
    loaded: &Loaded,
    environment: &str,
    names: &[String],
) -> Result<(), UsageError> {
    let Err(missing) = require_streams(&loaded.repo, environment, names) else {
        return Ok(());
    };
    let known = |name: &str| {
        loaded
            .repo
            .streams
            .iter()
            .any(|d| d.name == name && d.applies_to(environment))
    };
    // A stream file is named after its stream; a Helm-style list can be in
    // common.yaml or the environment's file.
    let defines = |path: &str, name: &str| {
        let stem = |p: &str| {
            let file = p.rsplit('/').next().unwrap_or(p);
            file.strip_suffix(".yaml")
                .or_else(|| file.strip_suffix(".yml"))
                .map(str::to_owned)
        };
        (path.starts_with("values/streams/") && stem(path).as_deref() == Some(name))
            || [
                "values/common",
                &format!("values/environments/{environment}"),
            ]
            .iter()
            .any(|p| {
                path.strip_prefix(p)
                    .is_some_and(|e| e == ".yaml" || e == ".yml")
            })
    };
    let broken: Vec<&Diagnostic> = loaded
        .diagnostics
        .iter()
        .filter(|d| {
            d.is_error()
                && (d.code.starts_with("yaml/")
                    || d.code.starts_with("repo/")
                    || d.code == "values/stream-name")
        })
        .filter(|d| {
            d.primary.as_ref().is_some_and(|l| {
                let path = loaded.sources.path(l.span.file);
                names.iter().any(|n| !known(n) && defines(path, n))
            })
        })
        .collect();
    if broken.is_empty() {
        return Err(missing);
    }
    let mut text = shown(global, &loaded.sources, broken.iter().copied());
    let unread: Vec<String> = names
        .iter()
        .filter(|n| !known(n))
        .map(|n| format!("`{n}`"))
        .collect();
    let mut files: Vec<String> = broken
        .iter()
        .filter_map(|d| d.primary.as_ref())
        .map(|l| {
            format!(
                "`{}`",
                crate::report::escape::line(loaded.sources.path(l.span.file))
            )
        })
        .collect();
    files.sort();
    files.dedup();
    text.push_str(&format!(
        "error: cannot read stream {}: {} {} errors (above)\n",
        unread.join(", "),
        files.join(", "),
        if files.len() == 1 { "has" } else { "have" },
    ));
    Err(UsageError {
        message: String::new(),
        help: None,
        rendered: Some(text),
    })
}

/// Prints a failure and maps the outcome to the process exit code.
pub fn finish(result: anyhow::Result<Exit>, global: &Global) -> ExitCode {
    match result {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(err) => {
            let styled = global.styled(true);
            let mut stderr = anstream::AutoStream::new(
                std::io::stderr(),
                if styled {
                    anstream::ColorChoice::Always
                } else {
                    anstream::ColorChoice::Never
                },
            );
            let red = anstyle::AnsiColor::Red.on_default().bold();
            let cyan = anstyle::AnsiColor::Cyan.on_default().bold();
            if let Some(usage) = err.downcast_ref::<UsageError>() {
                if let Some(rendered) = &usage.rendered {
                    let _ = write!(stderr, "{rendered}");
                } else {
                    let _ = writeln!(stderr, "{red}error{red:#}: {}", usage.message);
                }
                if let Some(help) = &usage.help {
                    let _ = writeln!(stderr, "  {cyan}help{cyan:#}: {help}");
                }
                return ExitCode::from(Exit::Usage as u8);
            }
            if let Some(wait) = err.downcast_ref::<wait::WaitError>() {
                let _ = writeln!(stderr, "{red}error{red:#}: {wait}");
                return ExitCode::from(Exit::Cluster as u8);
            }
            if let Some(failure) = err.downcast_ref::<ClusterFailure>() {
                let _ = writeln!(stderr, "{red}error{red:#}: {failure}");
                return ExitCode::from(Exit::Cluster as u8);
            }
            if let Some(cluster) = err.downcast_ref::<crate::cluster::ClusterError>() {
                let _ = writeln!(stderr, "{red}error{red:#}: {cluster}");
                return ExitCode::from(Exit::Cluster as u8);
            }
            // A closed pipe (`sluice render | head`) is not an error.
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(stderr, "{red}error{red:#}: {err}");
            for cause in err.chain().skip(1) {
                let _ = writeln!(stderr, "  caused by: {cause}");
            }
            ExitCode::from(Exit::Usage as u8)
        }
    }
}

/// Findings in their human form, one after another: the text of a
/// refusal (exit 2) that shows every reason.
pub fn shown<'a>(
    global: &Global,
    sources: &crate::source::Sources,
    findings: impl IntoIterator<Item = &'a Diagnostic>,
) -> String {
    let styled = global.styled(true);
    findings
        .into_iter()
        .map(|d| format!("{}\n", crate::report::human::render(d, sources, styled)))
        .collect()
}

/// What a command read, left for the process's exit to reclaim: the
/// command has printed its result and the process ends right after, and
/// freeing the trees of a 5000-stream repository one allocation at a time
/// takes longer than the exit does.
pub fn leave<T>(what: T) {
    std::mem::forget(what);
}

/// Writes to stdout, reporting a closed pipe as an error `finish` ignores.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
