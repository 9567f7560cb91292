//! `sluice promote --from dev --to prod`: make prod run what dev runs, by
//! surgical edits of the streams' files, optionally committed.

use super::select;
use super::{Exit, Global, SetFlags, UsageError};
use crate::snapshot::Content;
use crate::spark::derive;
use crate::values::effective::values_of;
use crate::values::repo::Origin;
use serde_json::Value;
use std::collections::BTreeMap;

/// What `promotion.keys` defaults to.
pub const DEFAULT_KEYS: &[&str] = &[
    "spark.image",
    "image",
    "spark.version",
    "applicationFile",
    "mainClass",
    "arguments",
];

#[derive(Clone, Debug)]
pub struct PromoteOptions {
    pub from: String,
    pub to: String,
    pub streams: Vec<String>,
    pub commit: bool,
    pub dry_run: bool,
}

/// One stream's promotion.
struct Promotion {
    stream: String,
    path: String,
    /// (key path, new value)
    sets: Vec<(Vec<String>, Value)>,
    image: (Option<String>, Option<String>),
}

pub fn run(global: &Global, options: &PromoteOptions) -> anyhow::Result<Exit> {
    if global.rev.is_some() {
        return Err(
            UsageError::new("promote edits the working tree; it does not take --rev").into(),
        );
    }
    let git = options
        .commit
        .then(|| crate::git::Git::open(&global.root))
        .transpose()
        .map_err(|e| UsageError::new(e.to_string()))?;
    if let Some(git) = &git
        && !git.is_clean().map_err(|e| UsageError::new(e.to_string()))?
    {
        return Err(UsageError::new("the working tree has uncommitted changes: refusing to --commit a promotion on top of them")
                .help("commit or stash them first, or promote without --commit")
                .into());
    }
    let snapshot = crate::fs::read_repository(&global.root)?;
    let loaded = super::load_snapshot(global, snapshot.clone(), std::time::Instant::now())?;
    if loaded.diagnostics.iter().any(|d| d.is_error()) {
        return Err(UsageError::new(
            "the values have errors: run `sluice lint` and fix them before promoting",
        )
        .into());
    }
    let envs = select(&loaded.repo, &[options.from.clone(), options.to.clone()])?;
    let (from, to) = (envs[0], envs[envs.len() - 1]);
    if from.name == to.name {
        return Err(UsageError::new("--from and --to name the same environment").into());
    }
    let keys: Vec<String> = loaded
        .repo
        .common
        .as_ref()
        .and_then(|c| c.root.get("promotion"))
        .and_then(|p| p.get("keys"))
        .map(|k| k.to_json())
        .and_then(|k| serde_json::from_value(k).ok())
        .unwrap_or_else(|| DEFAULT_KEYS.iter().map(|k| (*k).to_owned()).collect());

    let mut promotions = Vec::new();
    for def in &loaded.repo.streams {
        let named = options.streams.iter().any(|s| s == &def.name);
        if !options.streams.is_empty() && !named {
            continue;
        }
        if !def.applies_to(&from.name) || !def.applies_to(&to.name) {
            continue;
        }
        if def.origin != Origin::File {
            if named {
                return Err(UsageError::new(format!("stream `{}` is defined in a `streams:` list in {}; promote edits stream files only", def.name, def.path)).into());
            }
            continue;
        }
        // As rendering sees them: a tag written `4.10` is promoted as "4.10".
        let exact = |env| {
            let mut values = values_of(&loaded.repo, def, env, &[]);
            crate::values::exact::keep_written_text(&mut values, &loaded.sources);
            values.to_json()
        };
        let (source, target) = (exact(from), exact(to));
        let enabled = |v: &Value| v.get("enabled").and_then(Value::as_bool) != Some(false);
        if !enabled(&source) {
            continue;
        }
        let mut sets = Vec::new();
        for key in &keys {
            let path: Vec<String> = key.split('.').map(str::to_owned).collect();
            let pointer: String = path.iter().map(|p| format!("/{p}")).collect();
            match (source.pointer(&pointer), target.pointer(&pointer)) {
                (Some(new), old) if old != Some(new) => sets.push((path, new.clone())),
                _ => {}
            }
        }
        if !enabled(&target) {
            sets.push((vec!["enabled".to_owned()], Value::Bool(true)));
        }
        if !sets.is_empty() {
            promotions.push(Promotion {
                stream: def.name.clone(),
                path: def.path.clone(),
                sets,
                image: (derive::image(&target), derive::image(&source)),
            });
        }
    }
    for name in &options.streams {
        if !loaded.repo.streams.iter().any(|d| &d.name == name) {
            return Err(UsageError::new(format!("no stream `{name}`")).into());
        }
    }
    if promotions.is_empty() {
        println!(
            "nothing to promote: {} already runs what {} runs",
            to.name, from.name
        );
        return Ok(Exit::Success);
    }

    // Edit each file in memory, one key at a time.
    let mut edited: BTreeMap<String, (String, String)> = BTreeMap::new();
    for p in &promotions {
        let original = match snapshot.get(&p.path).map(|f| &f.content) {
            Some(Content::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => return Err(UsageError::new(format!("cannot read `{}`", p.path)).into()),
        };
        let entry = edited
            .entry(p.path.clone())
            .or_insert((original.clone(), original));
        for (key, value) in &p.sets {
            let mut path: Vec<&str> = vec!["environments", &to.name];
            path.extend(key.iter().map(String::as_str));
            entry.1 = crate::promote::set(&entry.1, &path, value)
                .map_err(|e| UsageError::new(format!("{}: {e}", p.path)))?;
        }
    }

    // The repository with the edits, in memory.
    let mut after_snapshot = snapshot;
    for file in &mut after_snapshot.files {
        if let Some((_, text)) = edited.get(&file.path) {
            file.content = Content::Bytes(text.as_bytes().to_vec());
        }
    }
    // Only the target environment may change. A file that shares values
    // through YAML anchors and aliases could make an edit reach further.
    let edited_loaded = super::load_snapshot(global, after_snapshot, std::time::Instant::now())?;
    for env in loaded
        .repo
        .environments
        .iter()
        .filter(|e| e.name != to.name)
    {
        let Some(env_after) = edited_loaded.repo.environment(&env.name) else {
            continue;
        };
        for def in loaded
            .repo
            .streams
            .iter()
            .filter(|d| edited.contains_key(&d.path) && d.applies_to(&env.name))
        {
            let Some(def_after) = edited_loaded
                .repo
                .streams
                .iter()
                .find(|d| d.name == def.name)
            else {
                continue;
            };
            let before = values_of(&loaded.repo, def, env, &[]).to_json();
            let after = values_of(&edited_loaded.repo, def_after, env_after, &[]).to_json();
            if before != after {
                return Err(UsageError::new(format!(
                    "editing {} would also change stream `{}` in environment `{}` (the file shares values through YAML anchors and aliases)",
                    def.path, def.name, env.name
                ))
                .help(format!("edit the file by hand, or give `environments.{}` its own values", to.name))
                .into());
            }
        }
    }
    // What the target renders before and after: the two repositories
    // already loaded.
    let (from, to) = (from.name.clone(), to.name.clone());
    let render = |loaded: super::Loaded| -> anyhow::Result<Vec<(String, Value)>> {
        let (_, objects) =
            super::render::render_loaded(global, loaded, &to, &[], &SetFlags::default(), |m| {
                m.object.clone()
            })?;
        Ok(objects.into_iter().map(|(k, o)| (k.stream, o)).collect())
    };
    let before = render(loaded)?;
    let after = render(edited_loaded)?;
    let report = super::diff::compare_renders(
        &to,
        &before,
        &after,
        format!("promotion from {}", from),
        None,
        ("before", "after"),
    );

    let styled = global.styled(false);
    let mut out = String::new();
    for (path, (old, new)) in &edited {
        // The values files' own lines: masked like any free text.
        let diff = crate::promote::file_diff(path, old, new);
        out.push_str(&crate::secret::mask_text(&diff, &[] as &[&str]));
    }
    out.push('\n');
    out.push_str(&super::diff::human(&report, styled));
    if options.dry_run {
        out.push_str("\ndry run: nothing was written\n");
        super::print(&out)?;
        return Ok(Exit::Success);
    }
    for path in edited.keys() {
        // Replacing a symlink with a file would quietly fork it.
        if std::fs::symlink_metadata(global.root.join(path))
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            return Err(UsageError::new(format!(
                "{path} is a symlink: promote edits regular files only"
            ))
            .into());
        }
    }
    for (path, (_, text)) in &edited {
        write_atomically(&global.root.join(path), text)?;
    }
    if let Some(git) = &git {
        let names: Vec<&str> = promotions.iter().map(|p| p.stream.as_str()).collect();
        let mut message = format!("Promote {} to {}: {}\n\n", from, to, names.join(", "));
        for p in &promotions {
            match &p.image {
                (Some(old), Some(new)) if old != new => {
                    message.push_str(&format!("- {}: {old} → {new}\n", p.stream))
                }
                _ => message.push_str(&format!("- {}\n", p.stream)),
            }
        }
        message.push_str(&format!(
            "\nEdited by `sluice promote --from {} --to {}`.\n",
            from, to
        ));
        let paths: Vec<String> = edited.keys().cloned().collect();
        let id = git
            .commit(&paths, &message)
            .map_err(|e| UsageError::new(e.to_string()))?;
        out.push_str(&format!("\ncommitted {}\n", &id[..12]));
    }
    super::print(&out)?;
    Ok(Exit::Success)
}

fn write_atomically(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    let permissions = std::fs::metadata(path).map(|m| m.permissions()).ok();
    tmp.persist(path)?;
    if let Some(p) = permissions {
        std::fs::set_permissions(path, p)?;
    }
    Ok(())
}
