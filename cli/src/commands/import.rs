//! `orun import compose`: reads a compose file, its `.env` and `env_file`s, hands them to the
//! engine's translation, prints every line of the result, checks the manifests it would write
//! with the ordinary loader, and writes them unless something could not be translated (or they
//! would not load, which even `--force` does not override). `.env`, `env_file`s and the files of
//! `configs` (copied into the repository) are read like a revision's files: regular files inside
//! the compose file's folder, at most 1 MiB. Files are
//! written without following a symlink under `--out`, and only new ones: a file that already holds
//! what the import writes is left alone, one that holds anything else stops the import before it
//! writes anything. The translation itself lives in `engine::compose`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use adapters::files::{self, Refusal};
use adapters::write::{self, Existing};
use anyhow::{anyhow, bail, Context, Result};
use engine::compose::{self, ComposeInput, Translation};
use engine::limits::MAX_FILE_BYTES;

use crate::args::{ImportCommand, ImportComposeArgs};
use crate::render::escaped;

pub fn run(command: &ImportCommand) -> Result<ExitCode> {
    match command {
        ImportCommand::Compose(args) => compose(args),
    }
}

fn compose(args: &ImportComposeArgs) -> Result<ExitCode> {
    let file = &args.file;
    let text = read_compose_file(file)?;
    let compose_dir = absolute(
        file.parent()
            .filter(|parent| !parent.as_os_str().is_empty()),
    )?;
    let out = match &args.out {
        Some(out) => absolute(Some(out))?,
        None => compose_dir.clone(),
    };
    let dotenv = read_beside(&compose_dir, ".env").map_err(|error| anyhow!(error))?;
    let environment: BTreeMap<String, String> = std::env::vars().collect();
    let read_env_file = |name: &str| read_beside(&compose_dir, name);
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
    let copies = read_copies(&compose_dir, &translation)?;
    write(&out, &translation, &copies)?;
    println!(
        "wrote {} file(s) to {}",
        translation.files.len() + copies.len(),
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

/// The compose file's text, at most 1 MiB read (the limit the translation enforces).
fn read_compose_file(file: &Path) -> Result<String> {
    let context = || format!("cannot read compose file {}", file.display());
    let opened = fs::File::open(file).with_context(context)?;
    let mut bytes = Vec::new();
    opened
        .take(u64::try_from(MAX_FILE_BYTES).unwrap_or(u64::MAX) + 1)
        .read_to_end(&mut bytes)
        .with_context(context)?;
    String::from_utf8(bytes).with_context(context)
}

/// The text of `name` (relative to the compose folder): `None` when nothing is there; an error
/// naming it when it is outside the compose folder, not a regular file (a FIFO, a device, a
/// folder), larger than 1 MiB or not UTF-8.
fn read_beside(compose_dir: &Path, name: &str) -> Result<Option<String>, String> {
    let Some(bytes) = read_bytes_beside(compose_dir, name)? else {
        return Ok(None);
    };
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| format!("{name}: not valid UTF-8"))
}

/// The content of every config file the translation copies into the repository, read like
/// `env_file`s: inside the compose file's folder, regular, at most 1 MiB (the limit of a
/// mounted file).
fn read_copies(compose_dir: &Path, translation: &Translation) -> Result<Vec<(String, Vec<u8>)>> {
    translation
        .copies
        .iter()
        .map(|(name, source)| {
            let bytes = read_bytes_beside(compose_dir, source)
                .map_err(|error| anyhow!(error))?
                .with_context(|| {
                    format!(
                        "{}: no such config file",
                        compose_dir.join(source).display()
                    )
                })?;
            Ok((name.clone(), bytes))
        })
        .collect()
}

/// [`read_beside`] as bytes.
fn read_bytes_beside(compose_dir: &Path, name: &str) -> Result<Option<Vec<u8>>, String> {
    let path = compose_dir.join(name);
    let outside = || {
        format!(
            "{}: outside the compose file's folder {}: refusing to read it",
            path.display(),
            compose_dir.display()
        )
    };
    if !stays_inside(Path::new(name)) {
        return Err(outside());
    }
    let found = files::file_inside(&path, compose_dir, name).map_err(|refusal| match refusal {
        Refusal::Outside { .. } => outside(),
        refusal => refusal.to_string(),
    })?;
    let Some(found) = found else {
        return match fs::symlink_metadata(&path) {
            Ok(_) => Err(format!(
                "{}: not a regular file: refusing to read it",
                path.display()
            )),
            Err(_) => Ok(None),
        };
    };
    files::read_regular(&found, name, Some(MAX_FILE_BYTES))
        .map(Some)
        .map_err(|refusal| refusal.to_string())
}

/// Whether the relative path `name` stays inside its folder as written: not absolute, and no
/// `..` leading above where it starts. Symlinks are checked when the file is opened.
fn stays_inside(name: &Path) -> bool {
    let mut depth = 0usize;
    name.components().all(|component| match component {
        Component::Normal(_) => {
            depth += 1;
            true
        }
        Component::CurDir => true,
        Component::ParentDir => depth.checked_sub(1).map(|up| depth = up).is_some(),
        Component::RootDir | Component::Prefix(_) => false,
    })
}

/// Writes every new file: nothing is written if any file exists with other content or cannot be
/// written without following a symlink.
fn write(out: &Path, translation: &Translation, copies: &[(String, Vec<u8>)]) -> Result<()> {
    let mut new = Vec::new();
    let texts = translation
        .files
        .iter()
        .map(|(name, text)| (name, text.as_bytes()));
    let copied = copies.iter().map(|(name, bytes)| (name, bytes.as_slice()));
    for (name, text) in texts.chain(copied) {
        match write::compare(out, name, text)? {
            Existing::Absent => new.push((name, text)),
            Existing::Same => {}
            Existing::Different => bail!(
                "{} already exists with other content; remove it or choose another --out",
                out.join(name).display()
            ),
        }
    }
    for (name, text) in new {
        write::create_new(out, name, text)?;
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
