//! Command-line definitions (clap). Doc comments here are the `--help`
//! text; nothing below this module sees a clap type.

use crate::commands::{self, Exit, Global, lint::LintFormat};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::ArgValueCandidates;
use std::path::PathBuf;
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  sluice lint                          check every stream in every environment
  sluice lint --env prod               only prod
  sluice -C streams-repo lint --format codequality > gl-code-quality.json
  sluice completions bash > /etc/bash_completion.d/sluice

Exit codes: 0 ok, 1 findings of error severity, 2 bad input or usage, 3 cluster error.
Docs: the README, and `sluice schema` for every values key.";

/// Validate, render and deploy Spark Structured Streaming jobs
/// (spark-operator SparkApplications) from a repository of values files.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// Run as if sluice was started in DIR (the streams repository's root).
    #[arg(short = 'C', global = true, value_name = "DIR", default_value = ".")]
    directory: PathBuf,

    /// When to use colours. `auto` honours NO_COLOR and CLICOLOR_FORCE and
    /// uses colour only on a terminal.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    color: ColorWhen,

    /// Print what each stage does and how long it takes (to stderr);
    /// repeat for more.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate every values file and every stream in every environment.
    #[command(after_help = "\
Examples:
  sluice lint
  sluice lint --env dev --env prod
  sluice lint --set executor.instances=0          see what a change would break
  sluice lint --format junit > lint-report.xml     one test case per stream x environment
  sluice lint --report junit=lint-junit.xml --report codequality=gl-code-quality.json
                                                   the merge request's reports, and the human output

Exit codes: 0 no errors (warnings allowed), 1 errors found, 2 bad usage
(an unknown environment, a malformed --set, no values/ directory).")]
    Lint(LintArgs),

    /// Render the manifests of an environment: multi-document YAML on
    /// stdout, or one file per object with --output-dir.
    #[command(after_help = "\
Examples:
  sluice render --env dev
  sluice render --env prod --stream orders --stream payments
  sluice render --env prod --output-dir rendered/prod      one file per object: <stream>/<kind>.yaml
  sluice render --env dev --set spark.image=registry/spark:1.15.0-rc1 | kubectl diff -f -

Output is byte-for-byte deterministic (ordered by stream, then kind). On
any error nothing is written and stdout stays empty (exit code 2).
--output-dir replaces the directory as a whole, atomically, and only if it
is empty or was written by sluice render.")]
    Render(RenderArgs),

    /// Show what `apply` would change in the cluster, per stream, and
    /// whether it restarts the stream.
    #[command(after_help = "\
Examples:
  sluice diff --env dev
  sluice diff --env prod --context prod-eu-west-1 --exit-code
  sluice diff --env prod --format markdown > diff.md

Reads what is live with one LIST per kind, then asks the API server for a
server-side apply dry run of each object that may change, so defaults,
pruning and admission show. A stream restarts only when the server would
move its generation (a spec change other than `suspend`); a change that
moves its checkpoint location is shown as a restart from scratch (its
offsets and state are lost), and a pruned stream abandons its checkpoint.
Exit codes: 0 (with --exit-code: no changes), 1 changes (--exit-code),
2 bad input or a context the environment does not allow, 3 cluster error.")]
    Diff(DiffArgs),

    /// Apply an environment with server-side apply: only what changed is
    /// written; --prune deletes what is no longer rendered.
    #[command(after_help = "\
Examples:
  sluice apply --env dev --dry-run
  sluice apply --env dev --prune
  sluice apply --env prod --context prod-eu-west-1 --prune
  sluice apply --env prod --max-unavailable 10 --timeout 15m

An object whose desired state already holds is not written at all, so a
no-op apply restarts nothing. All or nothing: every planned write is
dry-run on the server first; if any would be refused (a conflict, an
invalid field, a forbidden verb, an admission webhook), nothing is written
and every refusal is listed. The environment's objects are tracked as a
kubectl ApplySet; --prune deletes only members of that set that carry
sluice's labels for this environment and are no longer rendered (with uid
and resourceVersion preconditions), and refuses to leave the environment
empty unless --allow-empty. A protected environment refuses state resets
unless --allow-state-reset. With --max-unavailable N (or the environment
file's rollout: {maxUnavailable, canary}) at most N streams restart at a
time, each wave once the previous one is healthy. Inside one of the
environment's freeze windows apply refuses unless --ignore-freeze (a dry
run says so). Pruning a Flink stream whose live deployment
takes no savepoint on deletion (kubernetes.operator.job.savepoint-on-
deletion) is refused unless --allow-state-loss.
Exit codes: 0 applied, 2 bad input, wrong context or cluster, a refused
state reset or state loss, or a freeze window, 3 the cluster refused or
could not be reached.")]
    Apply(ApplyArgs),

    /// Show every stream's live state and drift: state, running executors,
    /// submission attempts, whether the live spec still matches the values.
    #[command(after_help = "\
Examples:
  sluice status --env prod
  sluice status --env dev --format json
  sluice status --env prod --exit-code --format junit > drift-prod.xml   a scheduled drift check

DRIFT: none, changed (someone edited the live object, or the values changed
since the last apply), missing (not deployed), extra (deployed, no longer
in the values: `apply --prune` deletes it).
Exit codes: 0 (with --exit-code: no drift, nothing degraded), 1 drift or a
degraded stream (--exit-code), 2 bad input, 3 cluster error.")]
    Status(StatusArgs),

    /// Show what was applied to an environment: when, from which commit
    /// (and whether the tree had uncommitted changes), by which CI job and
    /// user, and which streams it created, changed, restarted or pruned.
    #[command(after_help = "\
Examples:
  sluice history --env prod
  sluice history --env prod --stream orders --format json

Every apply that writes records an entry in the ConfigMap
sluice-history-<env> beside the ApplySet parent (the last 50 are kept);
no values and no secrets, only names, the revision and the job's URL.
Exit codes: 0 shown, 2 bad input, 3 cluster error.")]
    History(HistoryArgs),

    /// Apply the revision an earlier apply recorded in the environment's
    /// history: the apply before the last, or --to N applies before it.
    #[command(after_help = "\
Examples:
  sluice rollback --env prod --dry-run
  sluice rollback --env prod --to 2 --wait

The revision is read from git objects, as `apply --rev` reads it (the clone
must hold it), and applied with every guard of `apply`; the plan names
every stream it restarts and every checkpoint that moves, and the history
marks the apply as a rollback.
Exit codes: as `apply`; 2 also when the history holds no such apply.")]
    Rollback(RollbackArgs),

    /// Stop a stream in an environment by editing its values
    /// (`suspend: true` in its own layer for the environment), so that
    /// stopping it is a commit, not drift.
    #[command(after_help = "\
Examples:
  sluice suspend --env prod --stream orders --dry-run
  sluice suspend --env prod --stream orders --commit
  sluice suspend --env prod --stream orders --branch suspend/orders   then open a merge request

The edit goes to the stream's `environments: {ENV: ...}` block (or its entry
of the environment file's own `streams:` list), with promote's surgical
edits: comments, key order and every other line stay as they are. The
edited repository is checked before anything is written: the stream is
suspended in ENV, and nothing else changes in any stream in any
environment. The cluster changes when the values are applied (a Spark
stream keeps its SparkApplication, `spec.suspend`; a Flink stream is
suspended with its upgrade mode's savepoint or checkpoint).
Exit codes: 0 edited (or nothing to edit), 2 bad input or a refused edit.")]
    Suspend(SuspendArgs),

    /// Start a suspended stream again by editing its values (the opposite
    /// of `sluice suspend`).
    #[command(after_help = "\
Examples:
  sluice resume --env prod --stream orders --commit

The stream's own `suspend: true` for ENV is removed (or set to false when a
lower layer suspends it), checked as `sluice suspend` checks its edit.
Exit codes: 0 edited (or nothing to edit), 2 bad input or a refused edit.")]
    Resume(SuspendArgs),

    /// Resubmit a stuck stream, keeping its state and what it runs.
    #[command(after_help = "\
Examples:
  sluice restart --env prod --stream orders
  sluice restart --env prod --stream orders --yes --wait

What runs restarts: a Spark stream's SparkApplication (the spark-operator
has no restart nonce) is deleted, with uid and resourceVersion
preconditions, and created again as last applied once it and its driver
pod are gone; the checkpoint location is in the spec, so the new run
resumes from it. Refused before anything is deleted when the values
changed since the last apply (`sluice diff` shows it), when another field
manager set fields, or when the server's dry run of the creation fails. A
Flink stream's spec.restartNonce goes up by one (owned by the field manager
sluice-restart, so apply leaves it alone), and the operator restarts the
job with its upgradeMode. Asks for confirmation unless --yes, refuses
inside a freeze window unless --ignore-freeze, refuses a suspended stream,
and is recorded in the environment's history.
Exit codes: 0 restarted (or not confirmed), 2 bad input, not deployed,
suspended or a freeze window, 3 the cluster refused or could not be reached.")]
    Restart(RestartArgs),

    /// Print the least-privilege Role and RoleBinding a deploy job needs
    /// for an environment.
    #[command(after_help = "\
Examples:
  sluice rbac --env prod > rbac-prod.yaml
  sluice rbac --env prod --service-account gitlab-deployer --service-account-namespace ci

The Role covers exactly the kinds the environment's streams render plus the
ApplySet parent (a ConfigMap), in the environment's namespace, with the verbs
diff, apply, prune, --wait and status use: get, list, create, patch, delete;
and listing pods when a stream runs on Spark (restart waits for the old
driver pod). With a `cluster.uid` pin, a ClusterRole to read the kube-system namespace
(and nothing else) is added. Apply it as a cluster admin; run it again when
a template starts rendering another kind.")]
    Rbac(RbacArgs),

    /// Make one environment run what another runs (dev → prod), by the
    /// smallest edits of the values files that give exactly that.
    #[command(after_help = "\
Examples:
  sluice promote --from dev --to prod --dry-run
  sluice promote --from dev --to prod --stream inventory --commit
  sluice promote --from dev --to prod --branch promote/dev-to-prod
  sluice promote --from dev --to prod --check        # exit 1 if prod lags

For each stream, the keys listed in common.yaml's `promotion.keys` (default:
spark.image, image, spark.version, applicationFile, mainClass, arguments)
get the source environment's effective values in the target, removals
included. A value every promoted stream takes is set once in the target's
environment file, and per-stream pins it makes redundant are removed;
otherwise it goes to each stream's `environments.<to>` block. The edited
repository is checked before anything is written: the promoted keys match
the source, and nothing else changes in any stream in any environment.
Otherwise promote refuses and says why.

A stream the target leaves out (`enabled: false`) is only enabled when
named with --stream, or with --include-new. Comments, key order and the
style of every other line stay as they are; a comment on a replaced line
is reported. --commit commits on the current branch, --branch NAME on a
new branch (the working tree is left as it is); the commit identity is
--author, GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL or git's configuration, and is
checked before any file is written.")]
    Promote(PromoteArgs),

    /// Show the effective values of streams in an environment, and which
    /// file and line set each one.
    #[command(after_help = "\
Examples:
  sluice values --env prod --stream orders --provenance
  sluice values --env dev --set executor.instances=4 --format json

Each document is one stream's values after merging, lowest first:
common.yaml < environments/ENV.yaml < streams/STREAM.yaml <
its `environments: {ENV: ...}` block < --set flags.")]
    Values(ValuesArgs),

    /// Print the GitLab child pipeline for the repository's environments:
    /// lint, render and diff for merge requests, deploys in promotion
    /// order, a scheduled drift check and manual promotions.
    #[command(after_help = "\
Examples:
  sluice ci --output sluice-pipeline.yml                  in .gitlab-ci.yml, then trigger it
  sluice ci --image registry.example.com/platform/sluice:0.2.0
  sluice ci --sluice bin/sluice --artifacts-from build    sluice built by the parent's `build` job
  sluice ci --jobs lint,render,diff                       checks only: no deploys, drift checks or promotions

The order: common.yaml's `promotion.order`, then the environments it does
not list, those that are not `protected` first, by name. The first deploys on the default branch by itself; each
later one is manual and waits for the previous one. Each environment's
kubeconfig comes from the file variable <ENV>_KUBECONFIG (protected for a
protected environment). The parent passes SLUICE_PIPELINE_SOURCE (its
CI_PIPELINE_SOURCE) and SLUICE_DIFF_BASE (the merge request's base); the
shipped .gitlab-ci.yml does.")]
    Ci(CiArgs),

    /// Print a shell completion script.
    ///
    /// The completions know the repository: `--env` offers its
    /// environments, `--stream` its streams (sluice is asked each time, so
    /// they are never stale).
    #[command(after_help = "\
Examples:
  sluice completions bash > ~/.local/share/bash-completion/completions/sluice
  sluice completions zsh > \"${fpath[1]}/_sluice\"
  sluice completions fish > ~/.config/fish/completions/sluice.fish
  source <(COMPLETE=bash sluice)       # the same, for this shell only")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Write a new streams repository: common and environment files with
    /// comments, editor schemas and the pipeline.
    #[command(after_help = "\
Examples:
  sluice init streams-repo
  sluice init --env dev --env staging --env prod

The last of several environments is `protected: true`. Nothing is
overwritten: init refuses when any file it would write exists.")]
    Init {
        /// The directory (created if needed; default: -C DIR).
        #[arg(value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
        dir: Option<PathBuf>,

        /// An environment, in promotion order (repeatable; default: dev,
        /// prod).
        #[arg(long = "env", short = 'e', value_name = "ENV")]
        environments: Vec<String>,
    },

    /// Add to the repository: `new stream NAME`.
    #[command(subcommand)]
    New(NewCommand),

    /// Write the man pages: sluice(1) and one per command.
    #[command(after_help = "\
Examples:
  sluice man --output-dir ~/.local/share/man/man1 && man sluice-lint
  sluice man | man -l -                  # sluice(1), without installing")]
    Man {
        /// Write sluice.1 and sluice-COMMAND.1 into DIR (created if
        /// needed). Default: print sluice.1.
        #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
        output_dir: Option<PathBuf>,
    },

    /// Print the built-in values schema (JSON Schema 2020-12), for editors
    /// and for a repository's own schemas/values.schema.json.
    ///
    /// With --for, the self-contained schema of one kind of values file as
    /// written, for an editor's yaml-language-server.
    Schema {
        /// Print the self-contained schema of one kind of file as written:
        /// a stream file, an environment file or common.yaml.
        #[arg(long = "for", value_enum, value_name = "FILE")]
        file: Option<SchemaForArg>,
    },
}

#[derive(Debug, Subcommand)]
enum NewCommand {
    /// A stream file, enabled in the first environment only (of
    /// common.yaml's `promotion.order`; else the unprotected ones come
    /// first, then the protected ones).
    #[command(after_help = "\
Examples:
  sluice new stream clickstream
  sluice new stream refunds --from payments

With --from, the new stream starts as a copy of that one, without its
sink. Refuses a name that is taken.")]
    Stream {
        /// The stream's name (lower-case letters, digits and '-').
        #[arg(value_name = "NAME")]
        name: String,

        /// Start from a copy of this stream.
        #[arg(long, value_name = "STREAM", add = ArgValueCandidates::new(crate::complete::streams))]
        from: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SchemaForArg {
    Stream,
    Environment,
    Common,
}

/// Where the values are read from: the working tree, or a git revision;
/// and which streams (only those changes touch).
#[derive(Debug, Args, Default)]
struct SourceArgs {
    /// Read values, templates and schema from this git revision (a commit,
    /// branch or tag), straight from git objects: no checkout, and the
    /// working tree is never touched.
    #[arg(long, value_name = "REV")]
    rev: Option<String>,

    /// Only the streams that the changes since REV touch: a stream's file
    /// → that stream; common.yaml, a template or the schema → every stream;
    /// an environment file → its streams. `mr` means GitLab's
    /// CI_MERGE_REQUEST_DIFF_BASE_SHA.
    #[arg(long, value_name = "REV")]
    changed_since: Option<String>,
}

#[derive(Debug, Args)]
struct LintArgs {
    /// Check only this environment (repeatable). Default: all of them.
    #[arg(long = "env", short = 'e', value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    environments: Vec<String>,

    #[command(flatten)]
    sets: SetArgs,

    /// Check the rendered objects of a CRD's kinds against this CRD file
    /// (for example the exact version the cluster runs) instead of
    /// sluice's built-in schema or the repository's schemas/crds/
    /// (repeatable).
    #[arg(long, value_name = "FILE")]
    crd: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormatArg::Human)]
    format: LintFormatArg,

    /// Fail (exit 1) on warnings too, not only on errors.
    #[arg(long)]
    strict: bool,

    /// Also write the findings as FORMAT to FILE (repeatable), from the
    /// same run: `--report junit=lint-junit.xml --report
    /// codequality=gl-code-quality.json`. Reports are written whatever
    /// the findings; only a file that cannot be written fails the run.
    #[arg(long = "report", value_name = "FORMAT=FILE", value_parser = parse_report)]
    reports: Vec<(LintFormatArg, PathBuf)>,

    #[command(flatten)]
    source: SourceArgs,
}

/// `--report FORMAT=FILE`.
fn parse_report(text: &str) -> Result<(LintFormatArg, PathBuf), String> {
    let (format, file) = text.split_once('=').ok_or_else(|| {
        format!("expected FORMAT=FILE, for example junit=lint-junit.xml, not `{text}`")
    })?;
    let format = LintFormatArg::from_str(format, false).map_err(|_| {
        let names: Vec<String> = LintFormatArg::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_owned()))
            .collect();
        format!(
            "unknown report format `{format}` (expected one of {})",
            names.join(", ")
        )
    })?;
    if file.is_empty() {
        return Err(format!("`{text}` names no file"));
    }
    Ok((format, PathBuf::from(file)))
}

/// How to reach the cluster, as kubectl does.
#[derive(Debug, Args)]
struct ClusterArgs {
    /// The kubeconfig file (default: KUBECONFIG, which may list several
    /// files, else ~/.kube/config, else the in-cluster service account).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,

    /// The kubeconfig context (default: its current context). An
    /// environment with `kubeContext` refuses any other.
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
}

impl From<ClusterArgs> for crate::cluster::ClusterOptions {
    fn from(args: ClusterArgs) -> crate::cluster::ClusterOptions {
        crate::cluster::ClusterOptions {
            kubeconfig: args.kubeconfig,
            context: args.context,
        }
    }
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// The environment.
    #[arg(long = "env", short = 'e', value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    environment: String,

    #[command(flatten)]
    sets: SetArgs,

    #[command(flatten)]
    cluster: ClusterArgs,

    /// Compare the values at this git revision with the working tree (or
    /// --head) instead of the cluster: an offline diff for merge requests.
    /// `mr` means GitLab's CI_MERGE_REQUEST_DIFF_BASE_SHA.
    #[arg(long, value_name = "REV")]
    base: Option<String>,

    /// With --base: the other side (default: the working tree).
    #[arg(long, value_name = "REV", requires = "base")]
    head: Option<String>,

    /// Exit with 1 when anything would change.
    #[arg(long)]
    exit_code: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormatArg::Human)]
    format: DiffFormatArg,

    #[command(flatten)]
    source: SourceArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DiffFormatArg {
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
struct PromoteArgs {
    /// The environment to promote from.
    #[arg(long, value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    from: String,

    /// The environment to promote to.
    #[arg(long, value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    to: String,

    /// Only this stream (repeatable). Default: every stream whose
    /// promotable values differ, or that the target leaves out.
    #[arg(long = "stream", short = 's', value_name = "STREAM", add = ArgValueCandidates::new(crate::complete::streams))]
    streams: Vec<String>,

    /// Commit the edits on the current branch, listing every stream with
    /// old → new for each changed value and the streams that restart.
    #[arg(long, conflicts_with_all = ["dry_run", "check"])]
    commit: bool,

    /// Commit the edits onto this new branch (for a merge request); the
    /// working tree and the current branch stay as they are.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["dry_run", "check", "commit"])]
    branch: Option<String>,

    /// The commit's author, as "Name <email>".
    #[arg(long, value_name = "NAME <EMAIL>")]
    author: Option<String>,

    /// Also enable the streams the target leaves out (`enabled: false`).
    #[arg(long)]
    include_new: bool,

    /// Show the edits and write nothing.
    #[arg(long)]
    dry_run: bool,

    /// Only check: exit 1 when the target lags the source for any
    /// promotion key, listing the streams; write nothing.
    #[arg(long, conflicts_with = "dry_run")]
    check: bool,

    /// Output format of --check.
    #[arg(long, value_enum, default_value_t = StatusFormatArg::Human)]
    format: StatusFormatArg,
}

#[derive(Debug, Args)]
struct RollbackArgs {
    /// How many applies before the last to go back to.
    #[arg(long, value_name = "N", default_value_t = 1)]
    to: usize,

    #[command(flatten)]
    apply: ApplyArgs,
}

#[derive(Debug, Args)]
struct SuspendArgs {
    /// The environment.
    #[arg(long = "env", short = 'e', value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    environment: String,

    /// The stream (repeatable).
    #[arg(long = "stream", short = 's', value_name = "STREAM", required = true, add = ArgValueCandidates::new(crate::complete::streams))]
    streams: Vec<String>,

    /// Commit the edit on the current branch.
    #[arg(long, conflicts_with = "dry_run")]
    commit: bool,

    /// Commit the edit onto this new branch (for a merge request); the
    /// working tree and the current branch stay as they are.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["dry_run", "commit"])]
    branch: Option<String>,

    /// The commit's author, as "Name <email>".
    #[arg(long, value_name = "NAME <EMAIL>")]
    author: Option<String>,

    /// Show the edit and write nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct RestartArgs {
    /// The environment.
    #[arg(long = "env", short = 'e', value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    environment: String,

    /// The stream.
    #[arg(long, short = 's', value_name = "STREAM", add = ArgValueCandidates::new(crate::complete::streams))]
    stream: String,

    #[command(flatten)]
    cluster: ClusterArgs,

    /// Restart without asking.
    #[arg(long, short = 'y')]
    yes: bool,

    /// Restart inside a freeze window.
    #[arg(long)]
    ignore_freeze: bool,

    /// Wait until the stream runs again.
    #[arg(long)]
    wait: bool,

    /// How long --wait waits: 90s, 10m, 1h.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    timeout: std::time::Duration,

    /// Output format of the result (the plan goes to standard error).
    #[arg(long, value_enum, default_value_t = StatusFormatArg::Human)]
    format: StatusFormatArg,
}

impl SuspendArgs {
    fn options(self, toggle: commands::suspend::Toggle) -> commands::suspend::SuspendOptions {
        commands::suspend::SuspendOptions {
            toggle,
            environment: self.environment,
            streams: self.streams,
            commit: self.commit,
            branch: self.branch,
            author: self.author,
            dry_run: self.dry_run,
        }
    }
}

#[derive(Debug, Args)]
struct HistoryArgs {
    /// The environment.
    #[arg(long = "env", short = 'e', value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    environment: String,

    /// Only the applies that touched this stream.
    #[arg(long, value_name = "STREAM", add = ArgValueCandidates::new(crate::complete::streams))]
    stream: Option<String>,

    #[command(flatten)]
    cluster: ClusterArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormatArg::Human)]
    format: StatusFormatArg,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// The environment.
    #[arg(long = "env", short = 'e', value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    environment: String,

    #[command(flatten)]
    sets: SetArgs,

    #[command(flatten)]
    cluster: ClusterArgs,

    /// Output format. `junit`: one test case per stream, failing on drift
    /// or a degraded stream.
    #[arg(long, value_enum, default_value_t = StatusReportArg::Human)]
    format: StatusReportArg,

    /// Exit 1 when a stream drifted (changed, missing or extra) or is
    /// degraded: a scheduled drift check.
    #[arg(long)]
    exit_code: bool,

    #[command(flatten)]
    source: SourceArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatusReportArg {
    Human,
    Json,
    Junit,
}

#[derive(Debug, Args)]
struct RbacArgs {
    /// The environment.
    #[arg(long = "env", short = 'e', value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    environment: String,

    #[command(flatten)]
    sets: SetArgs,

    /// The deploy job's service account.
    #[arg(long, value_name = "NAME", default_value = "sluice-deployer")]
    service_account: String,

    /// Its namespace (default: the environment's).
    #[arg(long, value_name = "NAMESPACE")]
    service_account_namespace: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ValuesFormatArg::Yaml)]
    format: ValuesFormatArg,

    #[command(flatten)]
    source: SourceArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatusFormatArg {
    Human,
    Json,
}

#[derive(Debug, Args)]
struct ApplyArgs {
    /// The environment.
    #[arg(long = "env", short = 'e', value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    environment: String,

    #[command(flatten)]
    sets: SetArgs,

    #[command(flatten)]
    cluster: ClusterArgs,

    /// Take over fields another field manager owns instead of failing.
    #[arg(long)]
    force_conflicts: bool,

    /// Print the plan and write nothing.
    #[arg(long)]
    dry_run: bool,

    /// Delete the environment's objects that are no longer rendered.
    #[arg(long)]
    prune: bool,

    /// With --prune, allow deleting every object when nothing is rendered.
    #[arg(long, requires = "prune")]
    allow_empty: bool,

    /// In a `protected: true` environment, allow changes that restart a
    /// stream without its state (a moved checkpoint, a renamed stream).
    #[arg(long)]
    allow_state_reset: bool,

    /// With --prune, allow deleting a Flink stream whose live deployment
    /// takes no savepoint on deletion (its checkpoints and HA metadata are
    /// deleted with it).
    #[arg(long, requires = "prune")]
    allow_state_loss: bool,

    /// Output format of the result (the plan and progress go to stderr).
    #[arg(long, value_enum, default_value_t = StatusFormatArg::Human)]
    format: StatusFormatArg,

    /// Wait until every stream is healthy: running with the executors it
    /// asks for, suspended when suspended; fail fast on FAILED,
    /// SUBMISSION_FAILED, or COMPLETED unless `runsToCompletion: true`.
    #[arg(long)]
    wait: bool,

    /// How long --wait waits (and each restart wave): 90s, 10m, 1h.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    timeout: std::time::Duration,

    /// Restart at most N streams at a time: each wave is written once the
    /// previous one is healthy (as --wait judges it), the environment's
    /// `rollout.canary` streams first; stop at the first failure. Overrides
    /// the environment's `rollout.maxUnavailable`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_unavailable: Option<u32>,

    /// Apply inside one of the environment's freeze windows.
    #[arg(long)]
    ignore_freeze: bool,

    #[command(flatten)]
    source: SourceArgs,
}

/// `90s`, `10m`, `1h`, or plain seconds.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 90s, 10m or 1h"))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{text}` is not a duration like 90s, 10m or 1h")),
    };
    Ok(std::time::Duration::from_secs(seconds))
}

/// The `--set` family, shared by every command that reads values.
#[derive(Debug, Args)]
struct SetArgs {
    /// Override a value in every stream, in Helm's syntax: key.path=value,
    /// a=1,b=2, list={x,y}, list[0].key=v (repeatable; edits the merged
    /// values, so an index edits the merged list).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    typed: Vec<String>,

    /// Like --set, but every value stays a string (applied after --set).
    #[arg(long = "set-string", value_name = "KEY=VALUE")]
    strings: Vec<String>,

    /// Like --set-string, but each value is a file's path (relative to the
    /// working directory) and the key gets the file's text (applied after
    /// --set-string).
    #[arg(long = "set-file", value_name = "KEY=PATH")]
    files: Vec<String>,

    /// One key, set to the rest of the text as it is: no `,` lists, no
    /// escapes, no typing (applied last).
    #[arg(long = "set-literal", value_name = "KEY=VALUE")]
    literals: Vec<String>,
}

impl From<SetArgs> for commands::SetFlags {
    fn from(args: SetArgs) -> commands::SetFlags {
        commands::SetFlags {
            typed: args.typed,
            strings: args.strings,
            files: args.files,
            literals: args.literals,
        }
    }
}

#[derive(Debug, Args)]
struct RenderArgs {
    /// The environment.
    #[arg(long = "env", short = 'e', value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    environment: String,

    /// Only this stream (repeatable). Default: every enabled stream.
    #[arg(long = "stream", short = 's', value_name = "STREAM", add = ArgValueCandidates::new(crate::complete::streams))]
    streams: Vec<String>,

    #[command(flatten)]
    sets: SetArgs,

    /// Write one file per object under DIR (`<stream>/<kind>.yaml`)
    /// instead of printing.
    #[arg(long, short = 'o', value_name = "DIR")]
    output_dir: Option<PathBuf>,

    /// Output format. `spark-submit`: each Spark stream as the
    /// spark-submit command of Spark's native Kubernetes mode (with
    /// --output-dir: a script, its properties and pod templates per stream).
    #[arg(long, value_enum, default_value_t = RenderFormatArg::Yaml)]
    format: RenderFormatArg,

    /// With --format spark-submit: the Kubernetes master
    /// (k8s://https://HOST:PORT; default: the server of the environment's
    /// kubeContext, or of the kubeconfig's current context).
    #[arg(long, value_name = "URL")]
    master: Option<String>,

    #[command(flatten)]
    source: SourceArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RenderFormatArg {
    Yaml,
    Json,
    SparkSubmit,
}

#[derive(Debug, Args)]
struct CiArgs {
    /// Only these kinds of jobs (comma-separated; default: all). The deploy
    /// jobs need lint and render when those are made too.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KINDS")]
    jobs: Vec<CiJobArg>,

    /// The image the jobs run in (default: the parent's SLUICE_IMAGE).
    #[arg(long, value_name = "IMAGE", default_value = "$SLUICE_IMAGE")]
    image: String,

    /// The command the jobs run sluice with.
    #[arg(long, value_name = "COMMAND", default_value = "sluice")]
    sluice: String,

    /// Every job downloads this parent-pipeline job's artifacts (for
    /// example a `build` job that compiled sluice).
    #[arg(long, value_name = "JOB")]
    artifacts_from: Option<String>,

    /// How long a deploy waits for its streams to run: 90s, 10m, 1h.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = |s: &str| parse_duration(s).map(|_| s.to_owned()))]
    timeout: String,

    /// Write the pipeline to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,

    /// Output format (GitLab reads either).
    #[arg(long, value_enum, default_value_t = ValuesFormatArg::Yaml)]
    format: ValuesFormatArg,
}

#[derive(Debug, Args)]
struct ValuesArgs {
    /// The environment.
    #[arg(long = "env", short = 'e', value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    environment: String,

    /// Only this stream (repeatable); named streams are shown even when
    /// disabled. Default: every enabled stream.
    #[arg(long = "stream", short = 's', value_name = "STREAM", add = ArgValueCandidates::new(crate::complete::streams))]
    streams: Vec<String>,

    #[command(flatten)]
    sets: SetArgs,

    /// Comment every value with the file and line that set it, and what it
    /// overrode.
    #[arg(long)]
    provenance: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ValuesFormatArg::Yaml)]
    format: ValuesFormatArg,

    #[command(flatten)]
    source: SourceArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CiJobArg {
    Lint,
    Render,
    Diff,
    Deploy,
    Drift,
    Promote,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ValuesFormatArg {
    Yaml,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LintFormatArg {
    /// Compiler-style messages with the source line and a caret.
    Human,
    /// One JSON document with every finding.
    Json,
    /// JUnit XML: one test case per stream x environment.
    Junit,
    /// GitLab Code Quality report.
    Codequality,
}

impl From<LintFormatArg> for LintFormat {
    fn from(format: LintFormatArg) -> Self {
        match format {
            LintFormatArg::Human => LintFormat::Human,
            LintFormatArg::Json => LintFormat::Json,
            LintFormatArg::Junit => LintFormat::Junit,
            LintFormatArg::Codequality => LintFormat::CodeQuality,
        }
    }
}

impl From<ApplyArgs> for commands::apply::ApplyOptions {
    fn from(args: ApplyArgs) -> commands::apply::ApplyOptions {
        commands::apply::ApplyOptions {
            environment: args.environment,
            sets: args.sets.into(),
            cluster: args.cluster.into(),
            force_conflicts: args.force_conflicts,
            dry_run: args.dry_run,
            prune: args.prune,
            allow_empty: args.allow_empty,
            allow_state_reset: args.allow_state_reset,
            allow_state_loss: args.allow_state_loss,
            wait: args.wait,
            timeout: args.timeout,
            max_unavailable: args.max_unavailable.map(|n| n as usize),
            ignore_freeze: args.ignore_freeze,
            format: match args.format {
                StatusFormatArg::Human => commands::apply::ApplyFormat::Human,
                StatusFormatArg::Json => commands::apply::ApplyFormat::Json,
            },
        }
    }
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    // `COMPLETE=SHELL sluice -- ARGS`: the shell asks for candidates.
    clap_complete::CompleteEnv::with_factory(Cli::command).complete();
    let mut cli = Cli::parse();
    let source = match &mut cli.command {
        Command::Lint(a) => std::mem::take(&mut a.source),
        Command::Render(a) => std::mem::take(&mut a.source),
        Command::Diff(a) => std::mem::take(&mut a.source),
        Command::Apply(a) => std::mem::take(&mut a.source),
        Command::Rollback(a) => std::mem::take(&mut a.apply.source),
        Command::Status(a) => std::mem::take(&mut a.source),
        Command::Rbac(a) => std::mem::take(&mut a.source),
        Command::Values(a) => std::mem::take(&mut a.source),
        _ => SourceArgs::default(),
    };
    let global = Global {
        root: cli.directory,
        color: match cli.color {
            ColorWhen::Always => anstream::ColorChoice::Always,
            ColorWhen::Never => anstream::ColorChoice::Never,
            ColorWhen::Auto => anstream::ColorChoice::Auto,
        },
        verbose: cli.verbose,
        rev: source.rev,
        changed_since: source.changed_since,
    };
    let result = match cli.command {
        Command::Lint(args) => commands::lint::run(
            &global,
            &commands::lint::LintOptions {
                environments: args.environments,
                crd: args.crd,
                sets: args.sets.into(),
                format: args.format.into(),
                reports: args
                    .reports
                    .into_iter()
                    .map(|(format, file)| (format.into(), file))
                    .collect(),
                strict: args.strict,
            },
        ),
        Command::Render(args) if matches!(args.format, RenderFormatArg::SparkSubmit) => {
            commands::submit::run(
                &global,
                &commands::submit::SubmitOptions {
                    environment: args.environment,
                    streams: args.streams,
                    sets: args.sets.into(),
                    output_dir: args.output_dir,
                    master: args.master,
                },
            )
        }
        Command::Render(args) if args.master.is_some() => {
            Err(commands::UsageError::new("--master is for --format spark-submit").into())
        }
        Command::Render(args) => commands::render::run(
            &global,
            &commands::render::RenderOptions {
                environment: args.environment,
                streams: args.streams,
                sets: args.sets.into(),
                output_dir: args.output_dir,
                format: match args.format {
                    RenderFormatArg::Json => commands::render::RenderFormat::Json,
                    _ => commands::render::RenderFormat::Yaml,
                },
            },
        ),
        Command::Diff(args) => commands::diff::run(
            &global,
            &commands::diff::DiffOptions {
                environment: args.environment,
                sets: args.sets.into(),
                cluster: args.cluster.into(),
                base: args.base,
                head: args.head,
                exit_code: args.exit_code,
                format: match args.format {
                    DiffFormatArg::Human => commands::diff::DiffFormat::Human,
                    DiffFormatArg::Json => commands::diff::DiffFormat::Json,
                    DiffFormatArg::Markdown => commands::diff::DiffFormat::Markdown,
                },
            },
        ),
        Command::Apply(args) => commands::apply::run(&global, &args.into()),
        Command::Rollback(args) => commands::rollback::run(&global, &args.apply.into(), args.to),
        Command::Suspend(args) => {
            commands::suspend::run(&global, &args.options(commands::suspend::Toggle::Suspend))
        }
        Command::Resume(args) => {
            commands::suspend::run(&global, &args.options(commands::suspend::Toggle::Resume))
        }
        Command::Restart(args) => commands::restart::run(
            &global,
            &commands::restart::RestartOptions {
                environment: args.environment,
                stream: args.stream,
                cluster: args.cluster.into(),
                yes: args.yes,
                ignore_freeze: args.ignore_freeze,
                wait: args.wait,
                timeout: args.timeout,
                format: match args.format {
                    StatusFormatArg::Human => commands::restart::RestartFormat::Human,
                    StatusFormatArg::Json => commands::restart::RestartFormat::Json,
                },
            },
        ),
        Command::Status(args) => commands::status::run(
            &global,
            &commands::status::StatusOptions {
                environment: args.environment,
                sets: args.sets.into(),
                cluster: args.cluster.into(),
                format: match args.format {
                    StatusReportArg::Human => commands::status::StatusFormat::Human,
                    StatusReportArg::Json => commands::status::StatusFormat::Json,
                    StatusReportArg::Junit => commands::status::StatusFormat::Junit,
                },
                exit_code: args.exit_code,
            },
        ),
        Command::History(args) => commands::history::run(
            &global,
            &commands::history::HistoryOptions {
                environment: args.environment,
                stream: args.stream,
                cluster: args.cluster.into(),
                format: match args.format {
                    StatusFormatArg::Human => commands::history::HistoryFormat::Human,
                    StatusFormatArg::Json => commands::history::HistoryFormat::Json,
                },
            },
        ),
        Command::Rbac(args) => commands::rbac::run(
            &global,
            &commands::rbac::RbacOptions {
                environment: args.environment,
                sets: args.sets.into(),
                service_account: args.service_account,
                service_account_namespace: args.service_account_namespace,
                json: matches!(args.format, ValuesFormatArg::Json),
            },
        ),
        Command::Promote(args) => commands::promote::run(
            &global,
            &commands::promote::PromoteOptions {
                from: args.from,
                to: args.to,
                streams: args.streams,
                commit: args.commit,
                dry_run: args.dry_run,
                branch: args.branch,
                author: args.author,
                include_new: args.include_new,
                check: args.check,
                format: match args.format {
                    StatusFormatArg::Human => commands::promote::PromoteFormat::Human,
                    StatusFormatArg::Json => commands::promote::PromoteFormat::Json,
                },
            },
        ),
        Command::Values(args) => commands::values::run(
            &global,
            &commands::values::ValuesOptions {
                environment: args.environment,
                streams: args.streams,
                sets: args.sets.into(),
                provenance: args.provenance,
                format: match args.format {
                    ValuesFormatArg::Yaml => commands::values::ValuesFormat::Yaml,
                    ValuesFormatArg::Json => commands::values::ValuesFormat::Json,
                },
            },
        ),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            crate::complete::registration(shell, &mut script)
                .map_err(anyhow::Error::from)
                .and_then(|()| commands::print(&String::from_utf8_lossy(&script)))
                .map(|()| Exit::Success)
        }
        Command::Man { output_dir } => man(output_dir),
        Command::Ci(args) => commands::ci::run(
            &global,
            &commands::ci::CiOptions {
                jobs: args
                    .jobs
                    .into_iter()
                    .map(|j| match j {
                        CiJobArg::Lint => commands::ci::JobKind::Lint,
                        CiJobArg::Render => commands::ci::JobKind::Render,
                        CiJobArg::Diff => commands::ci::JobKind::Diff,
                        CiJobArg::Deploy => commands::ci::JobKind::Deploy,
                        CiJobArg::Drift => commands::ci::JobKind::Drift,
                        CiJobArg::Promote => commands::ci::JobKind::Promote,
                    })
                    .collect(),
                image: args.image,
                sluice: args.sluice,
                artifacts_from: args.artifacts_from,
                timeout: args.timeout,
                output: args.output,
                format: match args.format {
                    ValuesFormatArg::Yaml => commands::ci::CiFormat::Yaml,
                    ValuesFormatArg::Json => commands::ci::CiFormat::Json,
                },
            },
        ),
        Command::Init { dir, environments } => {
            commands::scaffold::init(&global, dir, &environments)
        }
        Command::New(NewCommand::Stream { name, from }) => {
            commands::scaffold::new_stream(&global, &name, from.as_deref())
        }
        Command::Schema { file: None } => {
            commands::print(crate::values::validate::BUILTIN_SCHEMA).map(|()| Exit::Success)
        }
        Command::Schema { file: Some(file) } => {
            use crate::values::repo::FileKind;
            let kind = match file {
                SchemaForArg::Stream => FileKind::Stream,
                SchemaForArg::Environment => FileKind::Environment,
                SchemaForArg::Common => FileKind::Common,
            };
            commands::print(&crate::values::validate::file_schema(kind)).map(|()| Exit::Success)
        }
    };
    commands::finish(result, &global)
}

/// `sluice man`: sluice(1) to stdout, or every page into a directory.
fn man(output_dir: Option<PathBuf>) -> anyhow::Result<Exit> {
    let command = Cli::command();
    match output_dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            commands::print(&String::from_utf8_lossy(&page))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| {
                commands::UsageError::new(format!("cannot create {}: {e}", dir.display()))
            })?;
            clap_mangen::generate_to(command, &dir).map_err(|e| {
                commands::UsageError::new(format!("cannot write to {}: {e}", dir.display()))
            })?;
        }
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
