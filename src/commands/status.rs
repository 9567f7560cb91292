//! `sluice status --env E`: every stream's live state, and whether the
//! cluster still holds what the values say (drift).

use super::cluster;
use super::{Exit, Global, SetFlags};
use crate::cluster::ClusterOptions;
use crate::engine::Engine;
use crate::health::{Expect, Verdict};
use crate::plan::Action;
use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFormat {
    Human,
    Json,
    /// JUnit XML: one test case per stream, failing on drift or a
    /// degraded stream (a scheduled pipeline's drift check).
    Junit,
}

#[derive(Clone, Debug)]
pub struct StatusOptions {
    pub environment: String,
    pub sets: SetFlags,
    pub cluster: ClusterOptions,
    pub format: StatusFormat,
    /// Exit 1 when a stream drifted or is degraded.
    pub exit_code: bool,
}

#[derive(Serialize)]
struct Row {
    stream: String,
    name: String,
    engine: Engine,
    /// `status.applicationState.state`: `NEW` before the operator wrote
    /// one, `-` when not deployed.
    state: String,
    /// `Healthy`, `Progressing`, `Degraded`, `Suspended` or `Missing`: the
    /// assessment `apply --wait` waits on (`health::assess`).
    health: &'static str,
    /// The assessment in one line: why the stream is (not) healthy.
    detail: String,
    executors_running: usize,
    /// What the spec asks for: `executor.instances`, or with dynamic
    /// allocation its `minExecutors`.
    executors_wanted: usize,
    submission_attempts: Option<i64>,
    /// `none`, `changed` (the live spec differs from the render),
    /// `missing` (not deployed) or `extra` (deployed, no longer rendered).
    drift: &'static str,
    /// The stream's other objects that drifted, as `Kind/name: changed`
    /// (a ConfigMap edited by hand, a Service deleted).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    other_drift: Vec<String>,
    last_submission: Option<String>,
    error: Option<String>,
    /// A Flink stream's `status.lifecycleState`.
    #[serde(skip_serializing_if = "Option::is_none")]
    lifecycle: Option<String>,
    /// A Flink stream's last savepoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_savepoint: Option<String>,
    /// The commit the stream was last applied from (`sluice history`).
    last_applied_revision: Option<String>,
    #[serde(skip)]
    verdict: Verdict,
}

/// A deployed stream is judged by what is deployed (its own `suspend` and
/// runs-to-completion annotation): the values' side of a difference is
/// what `drift` shows.
fn row(
    stream: &str,
    name: &str,
    engine: Engine,
    live: Option<&Value>,
    desired: Option<&Value>,
    drift: &'static str,
) -> Row {
    let expect = live
        .or(desired)
        .map_or_else(Expect::default, |o| Expect::of(o, None));
    let a = engine.assess(live, &expect);
    Row {
        stream: stream.to_owned(),
        name: name.to_owned(),
        engine,
        state: if live.is_none() { "-".into() } else { a.state },
        health: a.health.as_str(),
        detail: a.detail,
        executors_running: a.executors_running,
        executors_wanted: a.executors_wanted,
        submission_attempts: live
            .and_then(|o| o.pointer("/status/submissionAttempts"))
            .and_then(Value::as_i64),
        drift,
        other_drift: Vec::new(),
        last_submission: live
            .and_then(|o| o.pointer("/status/lastSubmissionAttemptTime"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        error: a.error,
        lifecycle: a.lifecycle,
        last_savepoint: a.last_savepoint,
        last_applied_revision: None,
        verdict: a.verdict,
    }
}

pub fn run(global: &Global, options: &StatusOptions) -> anyhow::Result<Exit> {
    let desired = cluster::desired(global, &options.environment, &[], &options.sets)?;
    cluster::runtime().block_on(async {
        let cluster = cluster::connect(&options.cluster, &desired).await?;
        let mut planned = cluster::plan(&cluster, &desired).await?;
        // Drift as the server sees it: a candidate the dry run settles as
        // unchanged (a value the server prunes or normalises) is no drift.
        // A refused dry run leaves the candidate as it is: still drift.
        let _ = cluster::dry_run(&cluster, &desired, &mut planned, false).await;
        let drift_of = |action: &Action| match action {
            Action::Unchanged => "none",
            Action::Create => "missing",
            Action::Delete => "extra",
            Action::Update { .. } => "changed",
        };
        let mut rows: Vec<Row> = planned
            .changes
            .iter()
            .filter_map(|c| Some((c, Engine::of_kind(&c.kind)?)))
            .map(|(c, engine)| {
                row(
                    &c.stream,
                    &c.name,
                    engine,
                    c.live.as_ref(),
                    c.desired.as_ref(),
                    drift_of(&c.action),
                )
            })
            .collect();
        // Where each stream was last applied from: the history, if any
        // (one GET; a history that cannot be read leaves it blank).
        match super::history::entries(&cluster, &desired).await {
            Ok(entries) => {
                for r in &mut rows {
                    r.last_applied_revision = crate::history::last_revision(&entries, &r.stream)
                        .and_then(|e| {
                            let rev = e.revision.as_deref()?;
                            let dirty = if e.dirty { "+dirty" } else { "" };
                            let rev = crate::history::short(rev);
                            Some(format!("{}{dirty}", crate::report::escape::line(&rev)))
                        });
                }
            }
            Err(e) => eprintln!("warning: the history could not be read: {e}"),
        }
        // A stream's other objects drift with it.
        for c in planned
            .changes
            .iter()
            .filter(|c| !crate::plan::is_stream_object(&c.kind) && c.writes())
        {
            if let Some(r) = rows.iter_mut().find(|r| r.stream == c.stream) {
                r.other_drift
                    .push(format!("{}/{}: {}", c.kind, c.name, drift_of(&c.action)));
            }
        }
        let text = match options.format {
            StatusFormat::Json => format!(
                "{}\n",
                serde_json::to_string_pretty(&serde_json::json!({
                    "environment": desired.environment,
                    "namespace": desired.namespace,
                    "context": cluster.context,
                    "streams": rows,
                }))?
            ),
            StatusFormat::Human => human(&desired.environment, &desired.namespace, &rows),
            StatusFormat::Junit => junit(&desired.environment, &rows),
        };
        super::print(&text)?;
        global.trace(|| format!("status: {} API requests", cluster.requests()));
        Ok(
            if options.exit_code && rows.iter().any(|r| problem(r).is_some()) {
                Exit::Findings
            } else {
                Exit::Success
            },
        )
    })
}

/// What a drift check fails a stream for: drift, or a degraded stream.
/// (A progressing stream is still starting; a suspended one is as asked.)
fn problem(r: &Row) -> Option<String> {
    let mut drift = match r.drift {
        "none" => None,
        "missing" => Some("not deployed".to_owned()),
        "extra" => Some("deployed but no longer in the values (`apply --prune` deletes it)".to_owned()),
        _ => Some("the live spec differs from the values (`sluice diff` shows how, `sluice apply` restores them)".to_owned()),
    };
    if !r.other_drift.is_empty() {
        let others = r.other_drift.join(", ");
        drift = Some(match drift {
            None => others,
            Some(d) => format!("{d}; {others}"),
        });
    }
    let degraded = (r.verdict == Verdict::Failed).then(|| {
        r.error
            .as_deref()
            .map_or_else(|| r.detail.clone(), |e| format!("{}: {e}", r.detail))
    });
    match (drift, degraded) {
        (None, None) => None,
        (Some(d), None) => Some(format!("drift: {d}")),
        (None, Some(h)) => Some(format!("degraded: {h}")),
        (Some(d), Some(h)) => Some(format!("drift: {d}; degraded: {h}")),
    }
}

/// `--format junit`: one suite for the environment, one case per stream.
fn junit(environment: &str, rows: &[Row]) -> String {
    use crate::report::escape::{xml_line, xml_text};
    use quick_xml::Writer;
    use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
    let failures = rows.iter().filter(|r| problem(r).is_some()).count();
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let write = |w: &mut Writer<Vec<u8>>, e: Event| w.write_event(e).expect("writing to memory");
    write(
        &mut w,
        Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)),
    );
    let counts = |e: &mut BytesStart| {
        e.push_attribute(("tests", rows.len().to_string().as_str()));
        e.push_attribute(("failures", failures.to_string().as_str()));
        e.push_attribute(("errors", "0"));
    };
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "sluice status"));
    counts(&mut root);
    write(&mut w, Event::Start(root));
    let mut suite = BytesStart::new("testsuite");
    suite.push_attribute(("name", xml_line(environment).as_ref()));
    counts(&mut suite);
    write(&mut w, Event::Start(suite));
    let classname = format!("sluice.status.{environment}");
    for r in rows {
        let mut case = BytesStart::new("testcase");
        case.push_attribute(("classname", xml_line(&classname).as_ref()));
        case.push_attribute(("name", xml_line(&r.stream).as_ref()));
        let Some(problem) = problem(r) else {
            write(&mut w, Event::Empty(case));
            continue;
        };
        write(&mut w, Event::Start(case));
        let mut failure = BytesStart::new("failure");
        failure.push_attribute(("message", xml_line(&problem).as_ref()));
        let drifted = r.drift != "none" || !r.other_drift.is_empty();
        failure.push_attribute(("type", if drifted { "drift" } else { "degraded" }));
        write(&mut w, Event::Start(failure));
        let body = format!(
            "stream `{}` (object `{}`): state {}, health {}, drift {}\n{problem}\n",
            r.stream, r.name, r.state, r.health, r.drift
        );
        write(&mut w, Event::Text(BytesText::new(&xml_text(&body))));
        write(&mut w, Event::End(BytesEnd::new("failure")));
        write(&mut w, Event::End(BytesEnd::new("testcase")));
    }
    write(&mut w, Event::End(BytesEnd::new("testsuite")));
    write(&mut w, Event::End(BytesEnd::new("testsuites")));
    let mut out = String::from_utf8(w.into_inner()).expect("XML is UTF-8");
    out.push('\n');
    out
}

fn human(environment: &str, namespace: &str, rows: &[Row]) -> String {
    // A Flink stream's workers are TaskManagers, and its lifecycle and
    // last savepoint are columns of their own.
    let flink = rows.iter().any(|r| r.engine.reports_lifecycle());
    let mut header: Vec<String> = ["STREAM", "STATE", "HEALTH"].map(String::from).into();
    header.push(if flink { "EXECUTORS/TMS" } else { "EXECUTORS" }.into());
    header.extend(["ATTEMPTS", "DRIFT", "LAST SUBMISSION"].map(String::from));
    if flink {
        header.extend(["LIFECYCLE", "LAST SAVEPOINT"].map(String::from));
    }
    let revisions = rows.iter().any(|r| r.last_applied_revision.is_some());
    if revisions {
        header.push("APPLIED FROM".into());
    }
    let mut table = vec![header];
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    for r in rows {
        let mut cells = vec![
            r.stream.clone(),
            r.state.clone(),
            r.health.to_owned(),
            if r.drift == "missing" {
                "-".into()
            } else {
                format!("{}/{}", r.executors_running, r.executors_wanted)
            },
            r.submission_attempts.map_or("-".into(), |a| a.to_string()),
            r.drift.to_owned(),
            dash(&r.last_submission),
        ];
        if flink {
            cells.push(dash(&r.lifecycle));
            cells.push(dash(&r.last_savepoint));
        }
        if revisions {
            cells.push(dash(&r.last_applied_revision));
        }
        table.push(cells);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|i| {
            table
                .iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!("environment `{environment}` (namespace `{namespace}`)\n");
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    // Why each unhealthy stream is so: the operator's message, or sluice's
    // reason when there is none (a stopped streaming query).
    for r in rows {
        let why = match (&r.error, r.verdict) {
            (_, Verdict::Failed) => Some(r.detail.as_str()),
            (Some(error), _) => Some(error.as_str()),
            _ => None,
        };
        if let Some(why) = why {
            out.push_str(&format!("\n{}: {why}\n", r.stream));
        }
        if !r.other_drift.is_empty() {
            out.push_str(&format!(
                "\n{}: also drifted: {}\n",
                r.stream,
                r.other_drift.join(", ")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spark_row(
        stream: &str,
        name: &str,
        live: Option<&Value>,
        desired: Option<&Value>,
        drift: &'static str,
    ) -> Row {
        row(stream, name, Engine::Spark, live, desired, drift)
    }

    #[test]
    fn the_table_shows_health_and_wanted_executors_and_why() {
        let running = json!({"spec": {"executor": {"instances": 4}},
            "status": {"applicationState": {"state": "RUNNING"}, "executorState": {"e-1": "RUNNING", "e-2": "PENDING"}}});
        let completed = json!({"spec": {}, "status": {"applicationState": {"state": "COMPLETED"}}});
        let desired = json!({"spec": {}});
        let rows = [
            spark_row("orders", "orders", Some(&running), Some(&desired), "none"),
            spark_row(
                "payments",
                "payments",
                Some(&completed),
                Some(&desired),
                "none",
            ),
            spark_row("refunds", "refunds", None, Some(&desired), "missing"),
        ];
        assert_eq!(
            human("dev", "bi-dev", &rows),
            "environment `dev` (namespace `bi-dev`)
STREAM    STATE      HEALTH       EXECUTORS  ATTEMPTS  DRIFT    LAST SUBMISSION
orders    RUNNING    Progressing  1/4        -         none     -
payments  COMPLETED  Degraded     0/1        -         none     -
refunds   -          Missing      -          -         missing  -

payments: COMPLETED: the streaming query stopped (set runsToCompletion: true for a stream that is meant to finish)
"
        );
        let json = serde_json::to_value(&rows[0]).unwrap();
        assert_eq!(json["health"], "Progressing");
        assert_eq!(
            (
                json["executors_running"].as_u64(),
                json["executors_wanted"].as_u64()
            ),
            (Some(1), Some(4))
        );
        assert_eq!(
            json["detail"],
            "RUNNING (waiting for executors: 1/4 running)"
        );
        assert!(json.get("verdict").is_none());

        let report = junit("dev", &rows);
        let parsed = cases_of(&report);
        let parsed: Vec<(&str, Option<&str>)> = parsed
            .iter()
            .map(|(n, f)| (n.as_str(), f.as_deref()))
            .collect();
        assert_eq!(
            parsed,
            [
                ("orders", None),
                ("payments", Some("degraded")),
                ("refunds", Some("drift"))
            ]
        );
        assert!(
            report
                .contains(r#"<testsuites name="sluice status" tests="3" failures="2" errors="0">"#),
            "{report}"
        );
        assert!(report.contains("drift: not deployed"), "{report}");
        assert!(problem(&rows[0]).is_none());
        let mut edited = spark_row("orders", "orders", Some(&running), Some(&desired), "none");
        edited
            .other_drift
            .push("ConfigMap/orders-conf: changed".into());
        assert_eq!(
            problem(&edited).as_deref(),
            Some("drift: ConfigMap/orders-conf: changed")
        );
        assert!(junit("dev", &[edited]).contains(r#"type="drift""#));
    }

    /// (case name, failure type) of each test case, read back with an XML
    /// reader.
    fn cases_of(xml: &str) -> Vec<(String, Option<String>)> {
        use quick_xml::events::Event;
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut cases: Vec<(String, Option<String>)> = Vec::new();
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) | Event::Empty(e) => {
                    let attr = |name: &str| {
                        e.attributes()
                            .flatten()
                            .find(|a| a.key.as_ref() == name.as_bytes())
                            .map(|a| a.unescape_value().unwrap().into_owned())
                    };
                    match e.name().as_ref() {
                        b"testcase" => cases.push((attr("name").unwrap(), None)),
                        b"failure" => cases.last_mut().unwrap().1 = attr("type"),
                        _ => {}
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        cases
    }
}
