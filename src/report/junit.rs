//! `--format junit`: JUnit XML with one test case per stream ×
//! environment (GitLab shows failing ones in the merge request's test tab),
//! plus one per file for findings that belong to no single stream.

use super::Coverage;
use super::escape::{xml_line, xml_text};
use crate::diag::{Diagnostic, Severity};
use crate::source::Sources;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use std::collections::BTreeMap;

struct Case<'a> {
    name: String,
    file: String,
    findings: Vec<&'a Diagnostic>,
}

pub fn report(diagnostics: &[Diagnostic], sources: &Sources, coverage: &Coverage) -> String {
    // suite name → cases
    let mut suites: BTreeMap<String, BTreeMap<String, Case>> = BTreeMap::new();
    for env in &coverage.environments {
        suites.entry(env.clone()).or_default();
    }
    for (subject, file) in &coverage.cases {
        suites
            .entry(subject.environment.clone())
            .or_default()
            .insert(
                subject.stream.clone(),
                Case {
                    name: subject.stream.clone(),
                    file: file.clone(),
                    findings: Vec::new(),
                },
            );
    }
    for d in diagnostics {
        if d.subjects.is_empty() {
            let path = d.primary.as_ref().map_or("values".to_owned(), |l| {
                sources.path(l.span.file).to_owned()
            });
            suites
                .entry("files".to_owned())
                .or_default()
                .entry(path.clone())
                .or_insert_with(|| Case {
                    name: path.clone(),
                    file: path,
                    findings: Vec::new(),
                })
                .findings
                .push(d);
        }
        for s in &d.subjects {
            let suite = suites.entry(s.environment.clone()).or_default();
            let case = suite.entry(s.stream.clone()).or_insert_with(|| Case {
                name: s.stream.clone(),
                file: String::new(),
                findings: Vec::new(),
            });
            case.findings.push(d);
        }
    }

    let total: usize = suites.values().map(BTreeMap::len).sum();
    let failed = |c: &Case| c.findings.iter().any(|d| d.severity == Severity::Error);
    let total_failures: usize = suites
        .values()
        .flat_map(|s| s.values())
        .filter(|c| failed(c))
        .count();

    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let write = |w: &mut Writer<Vec<u8>>, e: Event| w.write_event(e).expect("writing to memory");
    write(
        &mut w,
        Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)),
    );
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "sluice lint"));
    root.push_attribute(("tests", total.to_string().as_str()));
    root.push_attribute(("failures", total_failures.to_string().as_str()));
    root.push_attribute(("errors", "0"));
    write(&mut w, Event::Start(root));
    for (suite_name, cases) in &suites {
        let failures = cases.values().filter(|c| failed(c)).count();
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", xml_line(suite_name).as_ref()));
        suite.push_attribute(("tests", cases.len().to_string().as_str()));
        suite.push_attribute(("failures", failures.to_string().as_str()));
        suite.push_attribute(("errors", "0"));
        suite.push_attribute(("skipped", "0"));
        write(&mut w, Event::Start(suite));
        for case in cases.values() {
            let mut tc = BytesStart::new("testcase");
            // Names, messages and bodies come from the user's files: XML
            // 1.0 has no way to carry most control characters, so they are
            // written escaped (`\x1b`), as in the human output.
            let classname = format!("sluice.{suite_name}");
            tc.push_attribute(("classname", xml_line(&classname).as_ref()));
            tc.push_attribute(("name", xml_line(&case.name).as_ref()));
            if !case.file.is_empty() {
                tc.push_attribute(("file", xml_line(&case.file).as_ref()));
            }
            let errors: Vec<&&Diagnostic> = case
                .findings
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            let others: Vec<&&Diagnostic> = case
                .findings
                .iter()
                .filter(|d| d.severity != Severity::Error)
                .collect();
            if errors.is_empty() && others.is_empty() {
                write(&mut w, Event::Empty(tc));
                continue;
            }
            write(&mut w, Event::Start(tc));
            if let Some(first) = errors.first() {
                let mut failure = BytesStart::new("failure");
                let message = if errors.len() == 1 {
                    first.message.clone()
                } else {
                    format!("{} (and {} more)", first.message, errors.len() - 1)
                };
                failure.push_attribute(("message", xml_line(&message).as_ref()));
                failure.push_attribute(("type", first.code));
                write(&mut w, Event::Start(failure));
                let body: String = errors
                    .iter()
                    .map(|d| super::human::render(d, sources, false))
                    .collect();
                write(&mut w, Event::Text(BytesText::new(&xml_text(&body))));
                write(&mut w, Event::End(BytesEnd::new("failure")));
            }
            if !others.is_empty() {
                let body: String = others
                    .iter()
                    .map(|d| super::human::render(d, sources, false))
                    .collect();
                write(&mut w, Event::Start(BytesStart::new("system-out")));
                write(&mut w, Event::Text(BytesText::new(&xml_text(&body))));
                write(&mut w, Event::End(BytesEnd::new("system-out")));
            }
            write(&mut w, Event::End(BytesEnd::new("testcase")));
        }
        write(&mut w, Event::End(BytesEnd::new("testsuite")));
    }
    write(&mut w, Event::End(BytesEnd::new("testsuites")));
    let mut out = String::from_utf8(w.into_inner()).expect("XML is UTF-8");
    out.push('\n');
    out
}
