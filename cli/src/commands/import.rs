//! `orun import compose`: reads a compose file, its `.env` and `env_file`s, hands them to the
//! engine's translation, prints every line of the result, checks the manifests it would write
//! with the ordinary loader, and writes them unless something could not be translated (or they
//! would not load, which even `--force` does not override). The translation itself lives in
//! `engine::compose`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use engine::compose::{self, ComposeInput, Translation};

use crate::args::{ImportCommand, ImportComposeArgs};
use crate::render::escaped;

pub fn run(command: &ImportCommand) -> Result<ExitCode> {
    match command {
        ImportCommand::Compose(args) => compose(args),
    }
}

fn compose(args: &ImportComposeArgs) -> Result<ExitCode> {
    let file = &args.file;
    let text = fs::read_to_string(file)
        .with_context(|| format!("cannot read compose file {}", file.display()))?;
    let compose_dir = absolute(
        file.parent()
            .filter(|parent| !parent.as_os_str().is_empty()),
    )?;
    let out = match &args.out {
        Some(out) => absolute(Some(out))?,
        None => compose_dir.clone(),
    };
    let dotenv_path = compose_dir.join(".env");
    let dotenv = match fs::read_to_string(&dotenv_path) {
        Ok(text) => Some(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", dotenv_path.display()))
        }
    };
    let environment: BTreeMap<String, String> = std::env::vars().collect();
    let read_env_file =
        |name: &str| fs::read_to_string(compose_dir.join(name)).map_err(|error| error.to_string());
    let compose_dir_text = text_of(&compose_dir)?;
    let from_out = compose_dir
        .strip_prefix(&out)
        .ok()
        .map(text_of)
        .transpose()?;
    let git_repo = text_of(&out)?;
    let input = ComposeInput {
        text: &text,
        environment: &environment,
        dotenv: dotenv.as_deref(),
        read_env_file: &read_env_file,
        compose_dir: &compose_dir_text,
        compose_dir_from_out: from_out.as_deref(),
        node_host: args.node_host.as_deref(),
        git_repo: &git_repo,
    };
    let translation = compose::translate(&input).with_context(|| format!("{}", file.display()))?;
    for line in translation.lines() {
        println!("{}", escaped(&line));
    }
    let problems = check(&translation);
    for problem in &problems {
        println!("{}", escaped(problem));
    }
    if !problems.is_empty() {
        eprintln!(
            "error: {}: {} problem(s) in the manifests it would write; nothing written",
            file.display(),
            problems.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    let untranslatable = translation.untranslatable.len();
    if untranslatable > 0 && !args.force {
        eprintln!(
            "error: {}: {untranslatable} setting(s) cannot be translated; nothing written (--force writes the rest)",
            file.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    write(&out, &translation)?;
    println!(
        "wrote {} file(s) to {}",
        translation.files.len(),
        escaped(&out.display().to_string())
    );
    Ok(ExitCode::SUCCESS)
}

/// The translated manifests through the ordinary loader: every problem, one line each.
fn check(translation: &Translation) -> Vec<String> {
    match engine::load(&translation.sources()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .0
            .iter()
            .map(|error| format!("{error}: the written manifest would not load"))
            .collect(),
    }
}

/// Writes every file, refusing to replace one that already holds something else.
fn write(out: &Path, translation: &Translation) -> Result<()> {
    for (name, text) in &translation.files {
        let path = out.join(name);
        if let Ok(existing) = fs::read_to_string(&path) {
            if existing != *text {
                bail!(
                    "{} already exists with other content; remove it or choose another --out",
                    path.display()
                );
            }
        }
    }
    for (name, text) in &translation.files {
        let path = out.join(name);
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
        }
        fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// `path` made absolute (the current folder for `None`), with symbolic links resolved where it
/// exists, so that the compose folder and `--out` compare reliably.
fn absolute(path: Option<&Path>) -> Result<PathBuf> {
    let path = path.unwrap_or(Path::new("."));
    match fs::canonicalize(path) {
        Ok(resolved) => Ok(resolved),
        Err(_) => {
            std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
        }
    }
}

fn text_of(path: &Path) -> Result<String> {
    path.to_str()
        .map(ToString::to_string)
        .with_context(|| format!("{} is not UTF-8", path.display()))
}
