//! Shell completion that knows the repository: `--env` offers the
//! environments and `--stream` the streams of the repository that `-C`
//! names (default: the current directory), read when the shell asks.

use crate::snapshot::Content;
use crate::values::yaml;
use clap_complete::CompletionCandidate;
use std::path::PathBuf;

/// The `-C DIR` of the command line being completed.
fn root() -> PathBuf {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut dir = None;
    for (i, arg) in args.iter().enumerate() {
        if arg == "-C" {
            dir = args.get(i + 1).cloned();
        } else if let Some(rest) = arg.strip_prefix("-C")
            && !rest.starts_with('-')
            && !rest.is_empty()
        {
            dir = Some(rest.to_owned());
        }
    }
    PathBuf::from(dir.unwrap_or_else(|| ".".to_owned()))
}

/// (environments, streams) of the repository, each sorted; empty outside
/// a streams repository.
fn names() -> (Vec<String>, Vec<String>) {
    let Ok(snapshot) = crate::fs::read_repository(&root()) else {
        return Default::default();
    };
    let stem = |path: &str, dir: &str| -> Option<String> {
        let rest = path.strip_prefix(dir)?;
        let name = rest
            .strip_suffix(".yaml")
            .or_else(|| rest.strip_suffix(".yml"))?;
        (!name.contains('/')).then(|| name.to_owned())
    };
    let (mut environments, mut streams) = (Vec::new(), Vec::new());
    for file in &snapshot.files {
        if let Some(env) = stem(&file.path, "values/environments/") {
            environments.push(env);
        }
        if let Some(stream) = stem(&file.path, "values/streams/") {
            streams.push(stream);
        }
        // Streams of a `streams:` list (common.yaml, environment files).
        let listed =
            file.path == "values/common.yaml" || stem(&file.path, "values/environments/").is_some();
        if let (true, Content::Bytes(bytes)) = (listed, &file.content)
            && let Ok(text) = std::str::from_utf8(bytes)
            && let Ok(root) = yaml::parse(crate::source::FileId(0), text)
            && let Some(yaml::Value::Seq(items)) = root.get("streams").map(|n| &n.value)
        {
            streams.extend(
                items
                    .iter()
                    .filter_map(|i| i.get("name")?.as_str().map(str::to_owned)),
            );
        }
    }
    for list in [&mut environments, &mut streams] {
        list.sort();
        list.dedup();
    }
    (environments, streams)
}

pub fn environments() -> Vec<CompletionCandidate> {
    names()
        .0
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

pub fn streams() -> Vec<CompletionCandidate> {
    names()
        .1
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

/// The script that registers sluice's completions with a shell: it asks
/// `sluice` for the candidates (`COMPLETE=SHELL sluice -- ARGS`) each time.
pub fn registration(
    shell: clap_complete::Shell,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    use clap_complete::env::EnvCompleter;
    let completer: &dyn EnvCompleter = match shell {
        clap_complete::Shell::Bash => &clap_complete::env::Bash,
        clap_complete::Shell::Zsh => &clap_complete::env::Zsh,
        clap_complete::Shell::Fish => &clap_complete::env::Fish,
        clap_complete::Shell::Elvish => &clap_complete::env::Elvish,
        clap_complete::Shell::PowerShell => &clap_complete::env::Powershell,
        _ => &clap_complete::env::Bash,
    };
    completer.write_registration("COMPLETE", "sluice", "sluice", "sluice", out)
}
