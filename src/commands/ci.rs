//! `sluice ci`: the GitLab child pipeline of a streams repository, made
//! from its environments, so that adding `values/environments/staging.yaml`
//! adds staging's jobs. The parent pipeline (`.gitlab-ci.yml`) runs this
//! and triggers the result (`trigger: include: artifact:`).
//!
//! The jobs, per environment in promotion order (see
//! [`Repository::promotion_order`](crate::values::repo::Repository::promotion_order)):
//! - `lint` once, every report from the same run;
//! - `render-<env>` and, in merge requests, `diff-<env>` (offline, against
//!   the merge request's base) and `diff-live-<env>` (when the project has
//!   the environment's kubeconfig);
//! - `deploy-<env>` on the default branch: the first environment
//!   automatically, each later one manual and after the previous one;
//! - `drift-<env>` in scheduled pipelines;
//! - `promote-<from>-to-<to>`, manual, pushing a promotion branch.
//!
//! A child pipeline's `CI_PIPELINE_SOURCE` is `parent_pipeline`: the parent
//! passes its own as `SLUICE_PIPELINE_SOURCE`, and the merge request's base
//! as `SLUICE_DIFF_BASE`.

use super::{Exit, Global, UsageError};
use crate::values::repo::Environment;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CiFormat {
    Yaml,
    Json,
}

/// The kinds of jobs `sluice ci` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    Lint,
    Render,
    Diff,
    Deploy,
    Drift,
    Promote,
}

#[derive(Clone, Debug)]
pub struct CiOptions {
    /// Only these kinds of jobs (empty: all of them).
    pub jobs: Vec<JobKind>,
    /// The image every job runs in.
    pub image: String,
    /// The command that runs sluice in the jobs.
    pub sluice: String,
    /// A job of the parent pipeline whose artifacts every job needs (the
    /// one that built sluice), through `needs:pipeline:job`.
    pub artifacts_from: Option<String>,
    /// How long a deploy waits for its streams to run.
    pub timeout: String,
    pub output: Option<PathBuf>,
    pub format: CiFormat,
}

/// The file variable that holds an environment's kubeconfig:
/// `prod-eu` → `PROD_EU_KUBECONFIG`.
pub fn kubeconfig_variable(environment: &str) -> String {
    format!(
        "{}_KUBECONFIG",
        environment.to_ascii_uppercase().replace('-', "_")
    )
}

const MR: &str = r#"$SLUICE_PIPELINE_SOURCE == "merge_request_event""#;
const SCHEDULE: &str = r#"$SLUICE_PIPELINE_SOURCE == "schedule""#;
/// A push to (or a run of) the default branch: not a merge request's
/// pipeline, whatever its branch.
const DEFAULT_BRANCH: &str = r#"$SLUICE_PIPELINE_SOURCE != "schedule" && $SLUICE_PIPELINE_SOURCE != "merge_request_event" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"#;

/// Every pipeline but a scheduled one.
fn unless_scheduled() -> Value {
    json!([{"if": SCHEDULE, "when": "never"}, {"when": "on_success"}])
}

/// The pipeline for these environments, in promotion order.
pub fn pipeline(environments: &[&Environment], options: &CiOptions) -> Value {
    let needs = |jobs: &[String]| -> Value {
        let mut list: Vec<Value> = Vec::new();
        if let Some(job) = &options.artifacts_from {
            list.push(json!({"pipeline": "$PARENT_PIPELINE_ID", "job": job}));
        }
        list.extend(jobs.iter().map(|j| json!(j)));
        Value::Array(list)
    };
    let want = |kind: JobKind| options.jobs.is_empty() || options.jobs.contains(&kind);
    let mut jobs = serde_json::Map::new();
    jobs.insert(
        "stages".into(),
        json!(["lint", "render", "diff", "deploy", "drift", "promote"]),
    );
    jobs.insert(
        "variables".into(),
        json!({"SLUICE": options.sluice, "NO_COLOR": "1"}),
    );
    jobs.insert("default".into(), json!({"image": options.image}));
    if want(JobKind::Lint) {
        jobs.insert(
        "lint".into(),
        json!({
            "stage": "lint",
            "needs": needs(&[]),
            "rules": unless_scheduled(),
            "script": ["$SLUICE lint --report codequality=gl-code-quality.json --report junit=lint-junit.xml"],
            "artifacts": {
                "when": "always",
                "paths": ["gl-code-quality.json", "lint-junit.xml"],
                "reports": {"codequality": "gl-code-quality.json", "junit": "lint-junit.xml"},
            },
        }),
    );
    }
    for env in environments.iter().filter(|_| want(JobKind::Render)) {
        let e = &env.name;
        jobs.insert(
            format!("render-{e}"),
            json!({
                "stage": "render",
                "needs": needs(&[]),
                "rules": unless_scheduled(),
                "script": [format!("$SLUICE render --env {e} --output-dir rendered/{e}")],
                "artifacts": {"paths": [format!("rendered/{e}/")], "expire_in": "30 days"},
            }),
        );
    }
    for env in environments.iter().filter(|_| want(JobKind::Diff)) {
        let e = &env.name;
        let report = format!("sluice-diff-{e}.md");
        jobs.insert(
            format!("diff-{e}"),
            json!({
                "stage": "diff",
                "needs": needs(&[]),
                "rules": [{"if": MR}],
                "script": [
                    // GitLab clones 20 or 50 commits deep: the base may be
                    // older. sluice reads its tree only.
                    r#"git cat-file -e "${SLUICE_DIFF_BASE}^{commit}" 2>/dev/null || git fetch --depth=1 origin "$SLUICE_DIFF_BASE""#,
                    format!(r#"$SLUICE diff --env {e} --base "$SLUICE_DIFF_BASE" --format markdown > {report}"#),
                    format!("cat {report}"),
                ],
                // (`expose_as` does not reach a merge request from a child
                // pipeline: the report is the job's artifact and its log.)
                "artifacts": {"paths": [report]},
            }),
        );
    }
    for env in environments.iter().filter(|_| want(JobKind::Diff)) {
        let e = &env.name;
        let kubeconfig = kubeconfig_variable(e);
        let report = format!("sluice-live-diff-{e}.md");
        jobs.insert(
            format!("diff-live-{e}"),
            json!({
                "stage": "diff",
                "needs": needs(&[]),
                "rules": [{"if": format!("{MR} && ${kubeconfig}")}],
                "script": [format!(r#"$SLUICE diff --env {e} --kubeconfig "${kubeconfig}" --format markdown | tee {report}"#)],
                "artifacts": {"paths": [report]},
            }),
        );
    }
    let check_kubeconfig = |env: &Environment| {
        let v = kubeconfig_variable(&env.name);
        format!(
            r#"test -n "${v}" || {{ echo "the file variable {v} is not set: add {e}'s kubeconfig in Settings > CI/CD > Variables (type File{p})"; exit 1; }}"#,
            e = env.name,
            p = if env.protected { ", protected" } else { "" },
        )
    };
    for (i, env) in environments
        .iter()
        .enumerate()
        .filter(|_| want(JobKind::Deploy))
    {
        let e = &env.name;
        let kubeconfig = kubeconfig_variable(e);
        let mut after = Vec::new();
        if want(JobKind::Lint) {
            after.push("lint".to_owned());
        }
        if want(JobKind::Render) {
            after.push(format!("render-{e}"));
        }
        let mut rule = json!({"if": DEFAULT_BRANCH});
        if i > 0 {
            after.push(format!("deploy-{}", environments[i - 1].name));
            rule["when"] = json!("manual");
        }
        let tier = if env.protected {
            "production"
        } else if i == 0 {
            "development"
        } else {
            "staging"
        };
        jobs.insert(
            format!("deploy-{e}"),
            json!({
                "stage": "deploy",
                "needs": needs(&after),
                "rules": [rule],
                "environment": {"name": e, "deployment_tier": tier},
                // Two pipelines never apply to an environment at once.
                "resource_group": format!("sluice-{e}"),
                "script": [
                    check_kubeconfig(env),
                    format!(r#"$SLUICE diff --env {e} --kubeconfig "${kubeconfig}""#),
                    format!(r#"$SLUICE apply --env {e} --kubeconfig "${kubeconfig}" --prune --wait --timeout {}"#, options.timeout),
                ],
            }),
        );
    }
    for env in environments.iter().filter(|_| want(JobKind::Drift)) {
        let e = &env.name;
        let kubeconfig = kubeconfig_variable(e);
        let report = format!("drift-{e}.xml");
        jobs.insert(
            format!("drift-{e}"),
            json!({
                "stage": "drift",
                "needs": needs(&[]),
                "rules": [{"if": SCHEDULE}],
                "script": [
                    check_kubeconfig(env),
                    format!(r#"$SLUICE status --env {e} --kubeconfig "${kubeconfig}""#),
                    format!(r#"$SLUICE status --env {e} --kubeconfig "${kubeconfig}" --exit-code --format junit > {report}"#),
                ],
                "artifacts": {"when": "always", "paths": [report], "reports": {"junit": report}},
            }),
        );
    }
    for pair in environments.windows(2).filter(|_| want(JobKind::Promote)) {
        let (from, to) = (&pair[0].name, &pair[1].name);
        let after: Vec<String> = if want(JobKind::Deploy) {
            vec![format!("deploy-{from}")]
        } else {
            Vec::new()
        };
        jobs.insert(
            format!("promote-{from}-to-{to}"),
            json!({
                "stage": "promote",
                "needs": needs(&after),
                "rules": [{"if": DEFAULT_BRANCH, "when": "manual"}],
                // A promotion nobody asked for does not block the pipeline.
                "allow_failure": true,
                "script": [
                    // One branch per run of the job: a retry pushes a new one.
                    format!("branch=sluice/promote-{from}-to-{to}-${{CI_JOB_ID:-0}}"),
                    format!(r#"$SLUICE promote --from {from} --to {to} --branch "$branch" --author "${{GITLAB_USER_NAME:-sluice}} <${{GITLAB_USER_EMAIL:-sluice@localhost}}>""#),
                    r#"git rev-parse -q --verify "refs/heads/$branch" >/dev/null || exit 0"#,
                    // The token goes in a header from the environment: never
                    // in a URL git may print, nor in a command line.
                    r#"export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.extraHeader GIT_CONFIG_VALUE_0="Authorization: Basic $(printf 'gitlab-ci-token:%s' "${SLUICE_PUSH_TOKEN:-$CI_JOB_TOKEN}" | base64 | tr -d '\n')""#,
                    format!(r#"git push "${{SLUICE_PUSH_URL:-$CI_SERVER_URL/$CI_PROJECT_PATH.git}}" "$branch:refs/heads/$branch" -o merge_request.create -o "merge_request.target=$CI_DEFAULT_BRANCH" -o "merge_request.title=Promote {from} to {to}""#),
                ],
            }),
        );
    }
    Value::Object(jobs)
}

fn header(environments: &[&Environment], options: &CiOptions) -> String {
    let names: Vec<&str> = environments.iter().map(|e| e.name.as_str()).collect();
    let mut out = format!(
        "# The streams pipeline for {}, made by `sluice ci` from values/environments/\n# in every pipeline: do not edit it, and do not commit it.\n#\n# The project's CI/CD variables (Settings > CI/CD > Variables, type File):\n",
        names.join(" → ")
    );
    const PUSH_TOKEN: &str = "SLUICE_PUSH_TOKEN";
    let width = environments
        .iter()
        .map(|e| kubeconfig_variable(&e.name).len())
        .chain([PUSH_TOKEN.len()])
        .max()
        .unwrap_or(0);
    for env in environments {
        out.push_str(&format!(
            "#   {:<width$}  {}'s kubeconfig{}\n",
            kubeconfig_variable(&env.name),
            env.name,
            if env.protected {
                ", protected (deploys from protected branches only)"
            } else {
                ""
            }
        ));
    }
    out.push_str(&format!(
        "#   {PUSH_TOKEN:<width$}  optional, masked: a project access token (write_repository)\n#   {:<width$}  for the promote jobs, when the job token may not push\n",
        ""
    ));
    if let Some(job) = &options.artifacts_from {
        out.push_str(&format!(
            "# Every job takes `{job}`'s artifacts from the parent pipeline ($PARENT_PIPELINE_ID).\n"
        ));
    }
    out.push('\n');
    out
}

pub fn run(global: &Global, options: &CiOptions) -> anyhow::Result<Exit> {
    let loaded = super::load(global)?;
    let environments = loaded.repo.promotion_order();
    if environments.is_empty() {
        return Err(
            UsageError::new("the repository has no environments: no pipeline to make")
                .help("add values/environments/<name>.yaml, or start with `sluice init`")
                .into(),
        );
    }
    if let Some(job) = &options.artifacts_from
        && (job.trim().is_empty() || job.contains(['\n', '\r']))
    {
        return Err(UsageError::new(format!("--artifacts-from `{job}` is not a job name")).into());
    }
    let pipeline = pipeline(&environments, options);
    let text = match options.format {
        CiFormat::Yaml => format!(
            "{}{}",
            header(&environments, options),
            // One line per command, as a person writes a pipeline.
            serde_saphyr::to_string_with_options(
                &pipeline,
                serde_saphyr::ser_options! { prefer_block_scalars: false }
            )?
        ),
        CiFormat::Json => format!("{}\n", serde_json::to_string_pretty(&pipeline)?),
    };
    match &options.output {
        None => super::print(&text)?,
        Some(path) => {
            std::fs::write(path, &text)
                .map_err(|e| UsageError::new(format!("cannot write {}: {e}", path.display())))?;
            let jobs = pipeline
                .as_object()
                .map_or(0, |o| o.len().saturating_sub(3));
            eprintln!(
                "wrote {} ({jobs} jobs for {})",
                path.display(),
                environments
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" → ")
            );
        }
    }
    Ok(Exit::Success)
}
