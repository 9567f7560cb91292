//! `sluice diff --env E`: what applying would change in the cluster, per
//! stream, and whether it restarts the stream; or, with `--base REV`, what
//! a change of the values changes in the rendered manifests (offline, for
//! merge requests).

use super::cluster::{self, Planned};
use super::{Exit, Global, SetFlags};
use crate::cluster::{ClusterError, ClusterOptions};
use crate::engine::Engine;
use crate::plan::{self, Action, Change, Impact};
use crate::resources::Requests;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Clone, Debug)]
pub struct DiffOptions {
    pub environment: String,
    pub sets: SetFlags,
    pub cluster: ClusterOptions,
    /// Offline: compare the render at this revision with `head`.
    pub base: Option<String>,
    /// The other side of an offline diff (default: the working tree).
    pub head: Option<String>,
    pub exit_code: bool,
    pub format: DiffFormat,
}

/// One object's entry in the report.
#[derive(Serialize)]
pub struct ObjectDiff {
    pub stream: String,
    pub kind: String,
    pub name: String,
    pub action: &'static str,
    pub restarts: bool,
    pub impact: Impact,
    pub fields: Vec<String>,
    pub diff: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
}

/// One stream's line in the summary.
#[derive(Serialize)]
pub struct StreamSummary {
    pub stream: String,
    pub change: &'static str,
    pub restarts: bool,
    /// The weightiest impact among the stream's objects.
    pub impact: Impact,
    /// What the change adds to (or takes from) the cluster's requests.
    pub requests_delta: Requests,
}

/// What a diff found, whichever way it was made.
pub struct Report {
    pub environment: String,
    pub namespace: String,
    /// `context ...` for a live diff, `base..head` for an offline one.
    pub against: String,
    pub changes: Vec<Change>,
    pub diffs: Vec<ObjectDiff>,
    pub requests: Option<usize>,
    pub budget: Option<crate::resources::Requests>,
    /// Changes that widen what sluice may create (offline diffs): a kind
    /// newly allowed or rendered, a template added or changed.
    pub widening: Vec<String>,
    /// The environment's `rollout:`: how `apply` would restart the streams.
    pub rollout: cluster::Rollout,
    /// Inside a freeze window: the line that says until when.
    pub frozen: Option<String>,
}

impl Report {
    /// The restart waves `apply` would write (none without a `rollout:`,
    /// or when it writes in one step).
    pub fn waves(&self) -> Vec<plan::waves::Wave> {
        self.rollout.restarting(&self.changes, None)
    }
}

/// What one side of an offline diff lets sluice create.
#[derive(Default)]
struct Reach {
    templates: BTreeMap<String, String>,
    allowed: BTreeSet<String>,
    rendered: BTreeSet<String>,
}

/// The lines of the "what sluice may create" section: everything that
/// lets the deploy job create more, or other, objects than before.
fn widening(before: &Reach, after: &Reach) -> Vec<String> {
    let mut out = Vec::new();
    for kind in after.allowed.difference(&before.allowed) {
        out.push(format!("allows a new kind: {kind}"));
    }
    for kind in after.rendered.difference(&before.rendered) {
        out.push(format!("renders a kind it did not before: {kind}"));
    }
    for (name, text) in &after.templates {
        match before.templates.get(name) {
            None => out.push(format!("adds the template templates/{name}")),
            Some(old) if old != text => out.push(format!("changes the template templates/{name}")),
            Some(_) => {}
        }
    }
    out
}

pub fn action_name(action: &Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update { .. } => "changed",
        Action::Unchanged => "unchanged",
        Action::Delete => "pruned",
    }
}

/// Per stream: pruned if all its objects go, created if its
/// SparkApplication is new, changed if anything changes, else unchanged.
pub fn summarize(changes: &[Change]) -> Vec<StreamSummary> {
    let mut sorted: Vec<&Change> = changes.iter().collect();
    sorted.sort_by(|a, b| a.stream.cmp(&b.stream));
    let mut out: Vec<StreamSummary> = Vec::new();
    for group in sorted.chunk_by(|a, b| a.stream == b.stream) {
        let all = |f: fn(&Action) -> bool| group.iter().all(|c| f(&c.action));
        let any = |f: fn(&Action) -> bool| group.iter().any(|c| f(&c.action));
        let change = if all(|a| matches!(a, Action::Delete)) {
            "pruned"
        } else if group
            .iter()
            .any(|c| plan::is_stream_object(&c.kind) && c.action == Action::Create)
        {
            "created"
        } else if any(|a| !matches!(a, Action::Unchanged)) {
            "changed"
        } else {
            "unchanged"
        };
        let delta = group.iter().fold(Requests::default(), |acc, c| {
            acc + requests_after(c) - requests_before(c)
        });
        out.push(StreamSummary {
            stream: group[0].stream.clone(),
            change,
            restarts: group.iter().any(|c| c.restarts()),
            impact: group
                .iter()
                .map(|c| c.impact.clone())
                .max_by_key(Impact::severity)
                .unwrap_or(Impact::None),
            requests_delta: delta,
        });
    }
    out
}

fn requests_before(c: &Change) -> Requests {
    c.live
        .as_ref()
        .map(crate::resources::of)
        .unwrap_or_default()
}

fn requests_after(c: &Change) -> Requests {
    match c.action {
        Action::Delete => Requests::default(),
        _ => c
            .desired
            .as_ref()
            .map(crate::resources::of)
            .unwrap_or_default(),
    }
}

/// The environment's total requests before and after.
fn totals_requests(changes: &[Change]) -> (Requests, Requests) {
    changes
        .iter()
        .fold((Requests::default(), Requests::default()), |(b, a), c| {
            (b + requests_before(c), a + requests_after(c))
        })
}

fn over_budget(after: Requests, budget: Option<Requests>) -> Option<String> {
    let budget = budget?;
    let mut over = Vec::new();
    if after.cores > budget.cores {
        over.push(format!(
            "{:.1} cores requested, {} budgeted",
            after.cores, budget.cores
        ));
    }
    if after.memory_mib > budget.memory_mib {
        over.push(format!(
            "{} memory requested, {} budgeted",
            crate::resources::show_memory(after.memory_mib),
            crate::resources::show_memory(budget.memory_mib)
        ));
    }
    (!over.is_empty()).then(|| over.join("; "))
}

fn object_diff(
    c: &Change,
    after: Option<&Value>,
    conflict: Option<String>,
    sides: (&str, &str),
) -> ObjectDiff {
    let fields = match &c.action {
        Action::Update { paths, .. } => paths.clone(),
        _ => Vec::new(),
    };
    let label = format!("{}/{}", c.kind, c.name);
    // An "after" the server did not produce is in the template's key
    // order: sort both sides, or a one-field change shows as every line.
    let diff = if conflict.is_some() {
        plan::show::sorted_diff_between(c.live.as_ref(), after, &label, sides)
    } else {
        plan::unified_diff_between(c.live.as_ref(), after, &label, sides)
    };
    ObjectDiff {
        stream: c.stream.clone(),
        kind: c.kind.clone(),
        name: c.name.clone(),
        action: action_name(&c.action),
        restarts: c.restarts(),
        impact: c.impact.clone(),
        fields,
        diff,
        conflict,
    }
}

/// The diff of every object that changes, from the server's dry-run
/// answers ([`cluster::dry_run`] ran): exact where the server answered;
/// where it refused, the refusal and the desired values laid over the
/// live object.
pub fn object_diffs(planned: &Planned, refusals: &[cluster::Refusal]) -> Vec<ObjectDiff> {
    planned
        .changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.writes())
        .map(|(i, c)| {
            let object = format!("{}/{}", c.kind, c.name);
            let refused = refusals
                .iter()
                .find(|r| r.object == object && r.stream == c.stream);
            let (after, conflict) = match (&c.action, &c.desired, refused) {
                (Action::Delete, _, r) | (_, None, r) => (None, r.map(|r| refusal_text(&r.error))),
                (_, Some(object), Some(r)) => (
                    Some(overlay(c.live.as_ref(), object)),
                    Some(refusal_text(&r.error)),
                ),
                (_, Some(object), None) => (
                    Some(
                        planned
                            .answers
                            .get(i)
                            .cloned()
                            .flatten()
                            .unwrap_or_else(|| object.clone()),
                    ),
                    None,
                ),
            };
            let after = after.map(|a| plan::without_server_fields(&a));
            object_diff(c, after.as_ref(), conflict, ("live", "rendered"))
        })
        .collect()
}

fn refusal_text(e: &ClusterError) -> String {
    match e {
        ClusterError::Conflict { fields, .. } => format!(
            "fields another manager owns (409 Conflict):\n{fields}\n  rerun with --force-conflicts to take them over"
        ),
        e => e.to_string(),
    }
}

/// The desired values laid over the live object (maps merged, everything
/// else replaced): what the object would look like, for a diff when the
/// server would not say.
fn overlay(live: Option<&Value>, desired: &Value) -> Value {
    fn merge(base: &mut Value, top: &Value) {
        match (base, top) {
            (Value::Object(b), Value::Object(t)) => {
                for (k, v) in t {
                    match b.get_mut(k) {
                        Some(existing) if v.is_object() => merge(existing, v),
                        _ if v.is_null() => {
                            b.remove(k);
                        }
                        _ => {
                            b.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            (base, top) => *base = top.clone(),
        }
    }
    let mut out = live.cloned().unwrap_or(Value::Null);
    if out.is_null() {
        return desired.clone();
    }
    merge(&mut out, desired);
    out
}

pub fn run(global: &Global, options: &DiffOptions) -> anyhow::Result<Exit> {
    let report = match &options.base {
        Some(base) => offline(global, options, base)?,
        None => live(global, options)?,
    };
    let text = match options.format {
        DiffFormat::Human => human(&report, global.styled(false)),
        DiffFormat::Json => json(&report),
        DiffFormat::Markdown => markdown(&report),
    };
    super::print(&text)?;
    let changed = report.changes.iter().any(Change::writes);
    Ok(if options.exit_code && changed {
        Exit::Findings
    } else {
        Exit::Success
    })
}

fn live(global: &Global, options: &DiffOptions) -> anyhow::Result<Report> {
    let desired = cluster::desired(global, &options.environment, &[], &options.sets)?;
    cluster::runtime().block_on(async {
        let cluster = cluster::connect(&options.cluster, &desired).await?;
        let mut planned = cluster::plan(&cluster, &desired).await?;
        for w in &planned.warnings {
            eprintln!("warning: {w}");
        }
        let refusals = cluster::dry_run(&cluster, &desired, &mut planned, false).await;
        let diffs = object_diffs(&planned, &refusals);
        global.trace(|| format!("diff: {} API requests", cluster.requests()));
        Ok(Report {
            environment: desired.environment.clone(),
            namespace: desired.namespace.clone(),
            against: format!("the cluster (context `{}`)", cluster.context),
            changes: planned.changes,
            diffs,
            requests: Some(cluster.requests()),
            budget: desired.budget,
            widening: Vec::new(),
            rollout: desired.rollout.clone(),
            frozen: cluster::frozen_now(desired.freeze.as_ref())?,
        })
    })
}

/// Renders `base` (from git objects) and `head` (git or the working tree)
/// and compares them object by object. No cluster is needed.
fn offline(global: &Global, options: &DiffOptions, base: &str) -> anyhow::Result<Report> {
    let base = &super::resolve_mr(base)?;
    let git =
        crate::git::Git::open(&global.root).map_err(|e| super::UsageError::new(e.to_string()))?;
    let base_commit = git
        .resolve(base)
        .map_err(|e| super::UsageError::new(e.to_string()))?;
    let budget = std::cell::Cell::new(None);
    let rollout = std::cell::RefCell::new(cluster::Rollout::default());
    let freeze = std::cell::RefCell::new(None);
    let reach = std::cell::RefCell::new(Reach::default());
    let side = |rev: Option<&str>| -> anyhow::Result<Vec<(String, Value)>> {
        let (loaded, objects) = super::render::render_environment_at(
            global,
            rev,
            &options.environment,
            &[],
            &options.sets,
            |m| m.object.clone(),
        )?;
        let env = loaded.repo.environment(&options.environment);
        budget.set(env.and_then(|e| crate::resources::budget(&e.root.to_json())));
        *rollout.borrow_mut() = env
            .map(|e| cluster::Rollout::of(&e.root.to_json()))
            .unwrap_or_default();
        *freeze.borrow_mut() = match env {
            Some(e) => cluster::freeze_of(&options.environment, &e.root.to_json())?,
            None => None,
        };
        *reach.borrow_mut() = Reach {
            templates: loaded
                .templates
                .texts(&loaded.sources)
                .map(|(n, t)| (n.to_owned(), t.to_owned()))
                .collect(),
            allowed: env.map(|e| e.allowed.extra().clone()).unwrap_or_default(),
            rendered: objects
                .iter()
                .map(|(_, o)| {
                    let get = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or_default();
                    crate::kinds::group_kind(get("apiVersion"), get("kind"))
                })
                .collect(),
        };
        Ok(objects.into_iter().map(|(k, o)| (k.stream, o)).collect())
    };
    // The environment may not exist at the base (a new environment).
    let before = match side(Some(&base_commit)) {
        Ok(objects) => objects,
        Err(e)
            if e.downcast_ref::<super::UsageError>()
                .is_some_and(|u| u.message.contains("unknown environment")) =>
        {
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let reach_before = reach.replace(Reach::default());
    let after = side(options.head.as_deref())?;
    let widening = widening(&reach_before, &reach.borrow());
    let head = options
        .head
        .clone()
        .unwrap_or_else(|| "the working tree".to_owned());
    let against = format!("{} → {head}", &base_commit[..12.min(base_commit.len())]);
    let mut report = compare_renders(
        &options.environment,
        &before,
        &after,
        against,
        budget.get(),
        ("base", "head"),
    );
    report.widening = widening;
    report.rollout = rollout.take();
    report.frozen = cluster::frozen_now(freeze.take().as_ref())?;
    Ok(report)
}

/// Compares two renders of an environment, object by object: what a merge
/// request (or a promotion) changes, without a cluster.
pub fn compare_renders(
    environment: &str,
    before: &[(String, Value)],
    after: &[(String, Value)],
    against: String,
    budget: Option<Requests>,
    sides: (&str, &str),
) -> Report {
    let namespace = after
        .first()
        .or(before.first())
        .and_then(|(_, o)| o.pointer("/metadata/namespace"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let key = |o: &Value| {
        let get = |p: &str| {
            o.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        // The namespace is part of an object's identity: moving an
        // environment to another namespace creates new objects there.
        (
            get("/apiVersion"),
            get("/kind"),
            format!("{}/{}", get("/metadata/namespace"), get("/metadata/name")),
        )
    };
    // Each side indexed by identity: thousands of streams are compared in
    // linear time.
    let index = |side: &[(String, Value)]| -> HashMap<(String, String, String), usize> {
        let mut map = HashMap::with_capacity(side.len());
        for (i, (_, o)) in side.iter().enumerate() {
            map.entry(key(o)).or_insert(i);
        }
        map
    };
    let (before_at, after_at) = (index(before), index(after));
    let mut changes: Vec<Change> = Vec::new();
    for (stream, new) in after {
        let old = before_at.get(&key(new)).map(|&i| &before[i].1);
        let (api_version, kind, qualified) = key(new);
        let name = qualified.rsplit('/').next().unwrap_or_default().to_owned();
        let (action, impact) = plan::compare(&kind, old, Some(new));
        changes.push(Change {
            stream: stream.clone(),
            api_version,
            kind,
            name,
            action,
            impact,
            desired: Some(new.clone()),
            live: old.cloned(),
        });
    }
    for (stream, old) in before {
        if !after_at.contains_key(&key(old)) {
            let (api_version, kind, qualified) = key(old);
            let name = qualified.rsplit('/').next().unwrap_or_default().to_owned();
            let (action, impact) = plan::compare(&kind, Some(old), None);
            changes.push(Change {
                stream: stream.clone(),
                api_version,
                kind,
                name,
                action,
                impact,
                desired: None,
                live: Some(old.clone()),
            });
        }
    }
    plan::name_renames(&mut changes);
    plan::sort(&mut changes);
    let diffs = changes
        .iter()
        .filter(|c| c.writes())
        .map(|c| object_diff(c, c.desired.as_ref(), None, sides))
        .collect();
    Report {
        environment: environment.to_owned(),
        namespace,
        against,
        changes,
        diffs,
        requests: None,
        budget,
        widening: Vec::new(),
        rollout: cluster::Rollout::default(),
        frozen: None,
    }
}

/// How many changes do what `f` asks.
pub fn count(changes: &[Change], f: impl Fn(&Action) -> bool) -> usize {
    changes.iter().filter(|c| f(&c.action)).count()
}

pub fn totals(changes: &[Change]) -> String {
    let restarts = changes.iter().filter(|c| c.restarts()).count();
    let resets = state_resets(changes);
    let resets = if resets > 0 {
        format!(", {resets} from scratch")
    } else {
        String::new()
    };
    format!(
        "{} created, {} changed ({} restart{}{resets}), {} pruned, {} unchanged",
        count(changes, |a| matches!(a, Action::Create)),
        count(changes, |a| matches!(a, Action::Update { .. })),
        restarts,
        if restarts == 1 { "" } else { "s" },
        count(changes, |a| matches!(a, Action::Delete)),
        count(changes, |a| matches!(a, Action::Unchanged)),
    )
}

/// Changes that restart a stream without its state.
pub fn state_resets(changes: &[Change]) -> usize {
    changes.iter().filter(|c| c.impact.resets_state()).count()
}

/// The counts of a plan, for JSON reports.
pub fn summary_counts(changes: &[Change]) -> Value {
    serde_json::json!({
        "created": count(changes, |a| matches!(a, Action::Create)),
        "changed": count(changes, |a| matches!(a, Action::Update { .. })),
        "restarts": changes.iter().filter(|c| c.restarts()).count(),
        "state_resets": state_resets(changes),
        "pruned": count(changes, |a| matches!(a, Action::Delete)),
        "unchanged": count(changes, |a| matches!(a, Action::Unchanged)),
    })
}

fn colored_diff(diff: &str, styled: bool) -> String {
    if !styled {
        return diff.to_owned();
    }
    let (red, green, cyan) = (
        anstyle::AnsiColor::Red.on_default(),
        anstyle::AnsiColor::Green.on_default(),
        anstyle::AnsiColor::Cyan.on_default(),
    );
    diff.lines()
        .map(|l| {
            let style = if l.starts_with("+++") || l.starts_with("---") {
                anstyle::Style::new().bold()
            } else if l.starts_with('+') {
                green
            } else if l.starts_with('-') {
                red
            } else if l.starts_with("@@") {
                cyan
            } else {
                anstyle::Style::new()
            };
            format!("{style}{l}{style:#}\n")
        })
        .collect()
}

fn restarts_cell(s: &StreamSummary) -> &'static str {
    match (&s.impact, s.change) {
        (Impact::StateReset { .. }, _) => "from scratch",
        (impact, _) if impact.resets_state() => "without state",
        (Impact::Upgrade { .. }, _) => "yes, keeps state",
        (Impact::RedeployFromSavepoint { .. }, _) => "from savepoint",
        (Impact::Scale, _) => "scales",
        (Impact::Stop { .. }, _) => "stops",
        (Impact::Suspend, _) => "suspends",
        (Impact::Resume, _) => "resumes",
        (_, "changed") if s.restarts => "yes",
        (_, "changed") => "no",
        _ => "-",
    }
}

/// The lines that name every state a change loses: a reviewer must see
/// them before approving.
fn state_lines(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .filter(|c| {
            plan::is_stream_object(&c.kind)
                && (c.impact.resets_state() || c.impact.loses_state_on_stop())
        })
        .map(|c| format!("{}: {}", c.stream, c.impact.phrase()))
        .collect()
}

/// The human form of a report.
pub fn human(report: &Report, styled: bool) -> String {
    let mut out = format!(
        "environment `{}` (namespace `{}`) against {}\n",
        report.environment, report.namespace, report.against
    );
    if let Some(frozen) = &report.frozen {
        out.push_str(&format!("{frozen}\n"));
    }
    for d in &report.diffs {
        let restarts = match (&d.impact, d.action) {
            (Impact::None, "changed") => ", no restart".to_owned(),
            (Impact::None | Impact::Start, _) => String::new(),
            (impact, _) => format!(", {}", impact.phrase()),
        };
        out.push_str(&format!(
            "\n{} {}/{} (stream {}){restarts}\n",
            d.action, d.kind, d.name, d.stream
        ));
        if let Some(conflict) = &d.conflict {
            out.push_str(&format!("  apply would fail: {conflict}\n"));
        }
        if d.diff.is_empty() {
            out.push_str(&format!(
                "  {}\n",
                if d.fields
                    .iter()
                    .any(|f| f.ends_with(plan::DIGEST_ANNOTATION))
                {
                    "the values changed but not the object: only sluice's digest of them is written"
                } else {
                    "no change of values: sluice takes ownership of the fields it applies"
                }
            ));
        }
        out.push_str(&colored_diff(&d.diff, styled));
    }
    out.push('\n');
    let streams = summarize(&report.changes);
    let width = streams
        .iter()
        .map(|s| s.stream.len())
        .max()
        .unwrap_or(6)
        .max(6);
    out.push_str(&format!(
        "{:<width$}  {:<9}  restarts\n",
        "stream", "change"
    ));
    for s in &streams {
        out.push_str(&format!(
            "{:<width$}  {:<9}  {}\n",
            s.stream,
            s.change,
            restarts_cell(s)
        ));
    }
    let waves = report.waves();
    if !waves.is_empty() {
        out.push_str(&format!("\n{}:\n", waves_headline(report, &waves)));
        for line in plan::waves::describe(&waves) {
            out.push_str(&format!("  {line}\n"));
        }
    }
    if !report.widening.is_empty() {
        out.push_str("\nwhat sluice may create changes (review with the platform team):\n");
        for line in &report.widening {
            out.push_str(&format!("  {line}\n"));
        }
    }
    let lost = state_lines(&report.changes);
    if !lost.is_empty() {
        out.push_str("\nstate lost:\n");
        for line in lost {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out.push_str(&format!("\n{}\n", totals(&report.changes)));
    out
}

/// `apply restarts them in 3 waves of at most 10 (rollout.maxUnavailable),
/// each once the previous one is healthy`.
fn waves_headline(report: &Report, waves: &[plan::waves::Wave]) -> String {
    format!(
        "apply restarts the restarting streams in {} wave{}{}, each once the previous one is healthy",
        waves.len(),
        if waves.len() == 1 { "" } else { "s" },
        report
            .rollout
            .max_unavailable
            .map(|n| format!(" of at most {n} (rollout.maxUnavailable)"))
            .unwrap_or_default()
    )
}

fn json(report: &Report) -> String {
    let changes = &report.changes;
    let (before, after) = totals_requests(changes);
    let doc = serde_json::json!({
        "environment": report.environment,
        "namespace": report.namespace,
        "against": report.against,
        "requests": {"before": before, "after": after, "budget": report.budget, "over_budget": over_budget(after, report.budget)},
        "streams": summarize(changes),
        "objects": report.diffs,
        "summary": summary_counts(changes),
        "widening": report.widening,
        "waves": report.waves(),
        "frozen": report.frozen,
        "api_requests": report.requests,
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).expect("the report serializes")
    )
}

fn markdown(report: &Report) -> String {
    let restarts = report.changes.iter().filter(|c| c.restarts()).count();
    let mut out = format!(
        "### `{}` (namespace `{}`): {}\n\n",
        report.environment,
        report.namespace,
        totals(&report.changes)
    );
    if let Some(frozen) = &report.frozen {
        out.push_str(&format!("> **Freeze:** the environment is {frozen}.\n\n"));
    }
    if restarts > 0 {
        out.push_str(&format!(
            "**This restarts {restarts} stream{}.**\n\n",
            if restarts == 1 { "" } else { "s" }
        ));
    }
    if !report.widening.is_empty() {
        out.push_str("#### What sluice may create changes\n\nThis merge request widens what the deploy job creates in the cluster; the platform team should review it:\n\n");
        for line in &report.widening {
            out.push_str(&format!("- {line}\n"));
        }
        out.push('\n');
    }
    let lost = state_lines(&report.changes);
    if !lost.is_empty() {
        out.push_str(&format!(
            "> **Warning:** {} stream{} lose{} state (offsets and aggregations; data is reprocessed or skipped):\n",
            lost.len(),
            if lost.len() == 1 { "" } else { "s" },
            if lost.len() == 1 { "s its" } else { " their" }
        ));
        for line in lost {
            out.push_str(&format!("> - {line}\n"));
        }
        out.push('\n');
    }
    out.push_str("| stream | change | restarts? | cores, memory |\n|---|---|---|---|\n");
    for s in summarize(&report.changes)
        .iter()
        .filter(|s| s.change != "unchanged")
    {
        let r = match restarts_cell(s) {
            "yes" => "**yes**",
            "from scratch" => "**from scratch**",
            "without state" => "**without state**",
            other => other,
        };
        out.push_str(&format!(
            "| `{}` | {} | {r} | {} |\n",
            s.stream,
            s.change,
            crate::resources::show_delta(s.requests_delta)
        ));
    }
    let waves = report.waves();
    if !waves.is_empty() {
        let headline = waves_headline(report, &waves);
        out.push_str(&format!(
            "\n{}{}:\n\n",
            headline[..1].to_uppercase(),
            &headline[1..]
        ));
        for line in plan::waves::describe(&waves) {
            out.push_str(&format!("- {line}\n"));
        }
    }
    let (before, after) = totals_requests(&report.changes);
    let engines: BTreeSet<Engine> = report
        .changes
        .iter()
        .filter_map(|c| Engine::of_kind(&c.kind))
        .collect();
    let counted: Vec<&str> = engines.iter().map(|e| e.requests_basis()).collect();
    out.push_str(&format!(
        "\nRequested by the environment's streams ({}): {} → **{}**",
        if counted.is_empty() {
            Engine::Spark.requests_basis().to_owned()
        } else {
            counted.join("; ")
        },
        crate::resources::show(before),
        crate::resources::show(after)
    ));
    match (report.budget, over_budget(after, report.budget)) {
        (_, Some(over)) => out.push_str(&format!(
            "\n\n> **Warning:** over the environment's budget: {over}.\n"
        )),
        (Some(b), None) => out.push_str(&format!(" (budget: {}).\n", crate::resources::show(b))),
        (None, None) => out.push_str(".\n"),
    }
    for d in &report.diffs {
        out.push_str(&format!("\n<details><summary>{} {}/{} (stream <code>{}</code>)</summary>\n\n```diff\n{}```\n\n</details>\n", d.action, d.kind, d.name, d.stream, d.diff));
    }
    out
}
