//! `sluice init` and `sluice new stream`: a new streams repository, and a
//! new stream in one. Both write only files that do not exist yet, and
//! what they write lints clean.

use super::{Exit, Global, UsageError};
use crate::promote::edit::{self, Change, Op, Seg};
use crate::values::repo::{Origin, is_dns1035};
use std::path::{Path, PathBuf};

/// The pipeline of a streams repository, as this project ships it.
const PIPELINE: &str = include_str!("../../ci/streams.gitlab-ci.yml");

fn common_yaml(environments: &[String]) -> String {
    let text = "# yaml-language-server: $schema=../.sluice/common.schema.json
# Defaults for every stream in every environment.
# Layers, lowest first: this file < environments/<env>.yaml < streams/<stream>.yaml
# < the stream's `environments: {<env>: ...}` block < --set flags.
# Maps merge, scalars and lists replace, `null` deletes a key.

spark:
  version: \"3.5.1\"
  # The image every stream runs; `sluice promote` moves it from one
  # environment to the next.
  image: registry.example.com/streams/spark-streams:0.1.0

type: Scala
# The application, inside the image.
applicationFile: local:///opt/spark/jars/streams-assembly.jar

# Streams run forever: restart them whenever they stop.
restartPolicy: Always

driver:
  cores: 1
  coreLimit: \"1\"
  memory: 2g
executor:
  cores: 2
  coreLimit: \"2\"
  instances: 2
  memory: 4g

# The environments in promotion order (deploys go through them in this
# order, `sluice new stream` enables a stream in the first), and what
# `sluice promote` makes the next one take from the last.
promotion:
  order: [ORDER]
  keys: [spark.image, spark.version, applicationFile, mainClass, arguments]
";
    text.replace("ORDER", &environments.join(", "))
}

fn environment_yaml(name: &str, last: bool) -> String {
    let mut text = format!(
        "# yaml-language-server: $schema=../../.sluice/environment.schema.json
# The {name} environment: where its streams run, and what differs there.
namespace: streams-{name}
# The kubeconfig context to deploy {name} with (sluice refuses any other):
# kubeContext: {name}-cluster
"
    );
    if last {
        text.push_str(
            "# The last environment: stricter rules (no `:latest` images, no
# state reset without asking).
protected: true
",
        );
    } else {
        text.push_str(
            "
# Overrides for every stream here, for example fewer executors:
executor:
  instances: 1
",
        );
    }
    text
}

/// The files of a new repository, in writing order.
fn repository(environments: &[String]) -> Vec<(String, String)> {
    use crate::values::repo::FileKind;
    let schema = crate::values::validate::file_schema;
    let mut files = vec![
        (
            ".sluice/stream.schema.json".to_owned(),
            schema(FileKind::Stream),
        ),
        (
            ".sluice/environment.schema.json".to_owned(),
            schema(FileKind::Environment),
        ),
        (
            ".sluice/common.schema.json".to_owned(),
            schema(FileKind::Common),
        ),
        ("values/common.yaml".to_owned(), common_yaml(environments)),
    ];
    for (i, env) in environments.iter().enumerate() {
        files.push((
            format!("values/environments/{env}.yaml"),
            environment_yaml(env, i + 1 == environments.len() && environments.len() > 1),
        ));
    }
    files.push((".gitlab-ci.yml".to_owned(), PIPELINE.to_owned()));
    files.push((".gitignore".to_owned(), "rendered/\n".to_owned()));
    files
}

/// Writes `files` under `root`, refusing (before writing anything) when
/// any of them exists.
fn write_new(root: &Path, files: &[(String, String)]) -> anyhow::Result<()> {
    let existing: Vec<&str> = files
        .iter()
        .filter(|(p, _)| root.join(p).symlink_metadata().is_ok())
        .map(|(p, _)| p.as_str())
        .collect();
    if !existing.is_empty() {
        return Err(UsageError::new(format!(
            "{} already exist{} in {}: nothing was written",
            existing.join(", "),
            if existing.len() == 1 { "s" } else { "" },
            root.display()
        ))
        .help("sluice never overwrites a file; move it away first")
        .into());
    }
    for (path, text) in files {
        let full = root.join(path);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // `create_new`: a file that appeared meanwhile is not overwritten.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&full)
            .map_err(|e| UsageError::new(format!("cannot write {}: {e}", full.display())))?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
    }
    Ok(())
}

pub fn init(
    global: &Global,
    dir: Option<PathBuf>,
    environments: &[String],
) -> anyhow::Result<Exit> {
    let root = dir.unwrap_or_else(|| global.root.clone());
    let environments: Vec<String> = if environments.is_empty() {
        vec!["dev".into(), "prod".into()]
    } else {
        environments.to_vec()
    };
    for env in &environments {
        if !is_dns1035(env) {
            return Err(UsageError::new(format!(
                "`{env}` cannot name an environment: lower-case letters, digits and '-', starting with a letter"
            ))
            .into());
        }
    }
    let files = repository(&environments);
    write_new(&root, &files)?;
    let mut out = format!("wrote a streams repository in {}:\n", root.display());
    for (path, _) in &files {
        out.push_str(&format!("  {path}\n"));
    }
    let c = if root == Path::new(".") {
        String::new()
    } else {
        format!("-C {} ", root.display())
    };
    out.push_str(&format!(
        "\nnext:\n  sluice {c}new stream NAME      a stream, enabled in {} only\n  sluice {c}lint\n",
        environments[0]
    ));
    super::print(&out)?;
    Ok(Exit::Success)
}

fn class_name(stream: &str) -> String {
    stream
        .split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

pub fn new_stream(global: &Global, name: &str, from: Option<&str>) -> anyhow::Result<Exit> {
    if !is_dns1035(name) {
        return Err(UsageError::new(format!(
            "`{name}` cannot name a stream: lower-case letters, digits and '-', starting with a letter, at most 63 characters"
        ))
        .into());
    }
    let loaded = super::load(global)?;
    if let Some(def) = loaded.repo.streams.iter().find(|d| d.name == name) {
        return Err(
            UsageError::new(format!("stream `{name}` already exists ({})", def.path)).into(),
        );
    }
    let order = loaded.repo.promotion_order();
    let Some(first) = order.first() else {
        return Err(UsageError::new(
            "the repository has no environments (values/environments/*.yaml)",
        )
        .help("sluice init writes one")
        .into());
    };
    let path = format!("values/streams/{name}.yaml");
    let modeline = if global.root.join(".sluice/stream.schema.json").exists() {
        "# yaml-language-server: $schema=../../.sluice/stream.schema.json\n"
    } else {
        ""
    };
    let mut text = match from {
        None => format!(
            "{modeline}# {name}: what it reads, and where it writes.\nmainClass: com.example.streams.{}\narguments: [--topic, {name}]\n",
            class_name(name)
        ),
        Some(source) => {
            let def = loaded
                .repo
                .streams
                .iter()
                .find(|d| d.name == source)
                .ok_or_else(|| UsageError::new(format!("--from: no stream `{source}`")))?;
            match def.origin {
                Origin::File => std::fs::read_to_string(global.root.join(&def.path))
                    .map_err(|e| UsageError::new(format!("cannot read {}: {e}", def.path)))?,
                _ => {
                    let mut json = def.node().to_json();
                    if let Some(map) = json.as_object_mut() {
                        map.shift_remove("name");
                    }
                    format!(
                        "{modeline}# {name}: copied from {source} ({}).\n{}",
                        def.path,
                        serde_saphyr::to_string(&json).unwrap_or_default()
                    )
                }
            }
        }
    };
    // Enabled in the first environment only; a copy keeps no other
    // stream's sink (two streams writing one place collide).
    let root = crate::values::yaml::parse(crate::source::FileId(0), &text)
        .map(|n| n.to_json())
        .unwrap_or_default();
    let mut changes = Vec::new();
    let key = |k: &str| Seg::Key(k.to_owned());
    if root.get("sink").is_some() {
        changes.push(Change {
            path: vec![key("sink")],
            op: Op::Remove,
        });
    }
    for env in &loaded.repo.environments {
        let block = root.pointer(&format!("/environments/{}", env.name));
        if block.and_then(|b| b.get("sink")).is_some() {
            changes.push(Change {
                path: vec![key("environments"), key(&env.name), key("sink")],
                op: Op::Remove,
            });
        }
        let enabled = if env.name == first.name {
            None
        } else {
            Some(false)
        };
        match enabled {
            Some(v) => changes.push(Change {
                path: vec![key("environments"), key(&env.name), key("enabled")],
                op: Op::Set(serde_json::Value::Bool(v)),
            }),
            None if block.and_then(|b| b.get("enabled")).is_some() => changes.push(Change {
                path: vec![key("environments"), key(&env.name), key("enabled")],
                op: Op::Remove,
            }),
            None => {}
        }
    }
    text = edit::apply(&text, &changes)
        .map_err(|e| UsageError::new(format!("cannot write the new stream: {e}")))?
        .text;
    write_new(&global.root, &[(path.clone(), text)])?;
    let others: Vec<&str> = order[1..].iter().map(|e| e.name.as_str()).collect();
    let mut out = format!("wrote {path}: enabled in {}", first.name);
    if !others.is_empty() {
        out.push_str(&format!(", left out of {}", others.join(", ")));
    }
    out.push_str(&format!(
        "\nnext: edit it, `sluice lint`, and later `sluice promote --from {} --to {} --stream {name}`\n",
        first.name,
        others.first().copied().unwrap_or("ENV")
    ));
    super::print(&out)?;
    Ok(Exit::Success)
}
