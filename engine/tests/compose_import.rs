//! Real compose files from public projects (`testdata/compose/<project>/docker-compose.yml`, with
//! their `env_file`s) through the importer: the printed lines and every written file are compared
//! with `testdata/compose/snapshots/<project>.snap`, and the written repository must load. The
//! translation runs as if the project lived in `/srv/<project>` and were imported in place by an
//! operator whose home is `/home/operator`.
//! `snapshots/corpus.snap` sums every file up in one line: the exit code of the import, whether
//! what `--force` writes passes `orun validate`, and what cannot be translated.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use engine::build::ContextFile;
use engine::compose::{translate, ComposeError, ComposeInput, Translation};
use engine::manifest::{BuildSpec, InnerPath, NodeSpec};
use engine::revision::{self, NodeAndEnvironment, RevisionSource};
use engine::secret_env::{self, NodeKeys};
use engine::{Finding, Manifests, MissingKeys, Secrets, SourceFile};

/// The process environment of the import: an operator's `HOME`, which `~` in a bind mount names.
fn environment() -> BTreeMap<String, String> {
    BTreeMap::from([("HOME".to_string(), "/home/operator".to_string())])
}

fn import(project: &Path, environment: &BTreeMap<String, String>) -> Translation {
    try_import(project, environment).unwrap_or_else(|error| {
        panic!("{}: {error}", project.display());
    })
}

fn try_import(
    project: &Path,
    environment: &BTreeMap<String, String>,
) -> Result<Translation, ComposeError> {
    let name = project.file_name().unwrap().to_string_lossy().to_string();
    let text = fs::read_to_string(project.join("docker-compose.yml")).unwrap();
    let dotenv = fs::read_to_string(project.join(".env")).ok();
    let read_env_file = |file: &str| Ok(fs::read_to_string(project.join(file)).ok());
    let compose_dir = format!("/srv/{name}");
    let input = ComposeInput {
        text: &text,
        environment,
        dotenv: dotenv.as_deref(),
        read_env_file: &read_env_file,
        compose_dir: &compose_dir,
        compose_dir_from_out: Some(""),
        node_host: Some("10.0.0.5"),
        git_repo: &compose_dir,
    };
    translate(&input)
}

fn render(translation: &Translation) -> String {
    let mut out = String::new();
    for line in translation.lines() {
        out.push_str(&line);
        out.push('\n');
    }
    for (path, text) in &translation.files {
        out.push_str(&format!("\n--- {path}\n{text}"));
    }
    out
}

fn load(translation: &Translation) -> Result<(), String> {
    engine::load(&translation.sources())
        .map(|_| ())
        .map_err(|errors| errors.to_string())
}

#[test]
fn real_compose_files_translate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/compose");
    insta::glob!("../../testdata/compose", "*/docker-compose.yml", |path| {
        let project = path.parent().unwrap();
        let name = project.file_name().unwrap().to_string_lossy().to_string();
        let translation = import(project, &environment());
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(root.join("snapshots"));
        settings.set_prepend_module_to_snapshot(false);
        settings.remove_snapshot_suffix();
        settings.set_omit_expression(true);
        settings.bind(|| insta::assert_snapshot!(name, render(&translation)));
    });
}

#[test]
fn written_repositories_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/compose");
    let mut failures = Vec::new();
    for entry in fs::read_dir(&root).unwrap() {
        let project = entry.unwrap().path();
        if !project.join("docker-compose.yml").exists() {
            continue;
        }
        if let Err(errors) = load(&import(&project, &environment())) {
            failures.push(format!("{}:\n{errors}", project.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The files that use what orun refuses to translate, and what: a container runtime, a platform,
/// a fixed address on a network.
const REFUSED: &[(&str, &str)] = &[
    ("pihole-cloudflared-DoH", "ipv4_address"),
    ("wasmedge-kafka-mysql", "runtime, platform"),
    ("wasmedge-mysql-nginx", "runtime, platform"),
];

/// A written repository as a revision: its manifests, the config files the import copies from
/// the compose folder, empty build contexts, no secrets.
struct Written<'a> {
    project: &'a Path,
    translation: &'a Translation,
}

impl RevisionSource for Written<'_> {
    type Error = io::Error;

    fn manifest_files(&self) -> io::Result<Vec<SourceFile>> {
        Ok(self.translation.sources())
    }

    fn repository_file(&self, path: &InnerPath) -> io::Result<Vec<u8>> {
        match self.translation.copies.get(path.as_str()) {
            Some(source) => fs::read(self.project.join(source)),
            None => Err(io::Error::new(io::ErrorKind::NotFound, path.as_str())),
        }
    }

    fn build_context(&self, _: Option<&NodeSpec>, _: &BuildSpec) -> io::Result<Vec<ContextFile>> {
        Ok(Vec::new())
    }

    fn secrets(&self, _: &Manifests, _: Option<&NodeSpec>) -> io::Result<Secrets> {
        Ok(Secrets::default())
    }
}

/// What `orun validate` checks: the manifests load, and resolve for production and for every
/// node of the repository. The written repository has no `secrets.yaml`, so the keys it names
/// are awaited as `orun validate` awaits them: the warnings, which do not fail it, are returned.
fn validate(project: &Path, translation: &Translation) -> Result<Vec<Finding>, String> {
    let written = Written {
        project,
        translation,
    };
    let manifests = revision::manifests(&written).map_err(|error| error.to_string())?;
    let awaiting = NodeAndEnvironment {
        missing_keys: MissingKeys::Awaited,
        ..NodeAndEnvironment::default()
    };
    let mut selections = vec![awaiting.clone()];
    selections.extend(manifests.nodes.keys().map(|node| NodeAndEnvironment {
        node: Some(node.clone()),
        require_node: true,
        ..awaiting.clone()
    }));
    for selection in &selections {
        revision::desired_state(&written, "uncommitted", selection)
            .map_err(|error| error.to_string())?;
    }
    Ok(secret_env::awaited(&manifests, &NodeKeys::of(&manifests)))
}

/// One file's line (and the lines of what it could not translate): the exit code the import
/// gives without `--force`, whether what it writes with `--force` validates and with how many
/// warnings (each a key to add to `secrets.yaml`), how many notes; `refused` names the files
/// expected to fail and why. With it, whether the file did as expected: imported with exit 0 and
/// validated, or not if it is listed.
fn corpus_entry(project: &Path, refused: &[(&str, &str)]) -> (String, bool) {
    let name = project.file_name().unwrap().to_string_lossy().to_string();
    let (expected, expected_ok) = match refused.iter().find(|(refused, _)| *refused == name) {
        Some((_, why)) => (format!("expected: refused ({why})"), false),
        None => ("expected: imports".to_string(), true),
    };
    let translation = match try_import(project, &environment()) {
        Ok(translation) => translation,
        Err(error) => {
            return (
                format!("{name}: exit 1, {expected}\n  {error}\n"),
                !expected_ok,
            )
        }
    };
    let loads = load(&translation).is_ok();
    let exit = if loads && translation.untranslatable.is_empty() {
        0
    } else {
        1
    };
    let validation = validate(project, &translation);
    let validates = match &validation {
        Ok(warnings) if warnings.is_empty() => "validates".to_string(),
        Ok(warnings) => format!("validates with {} warning(s)", warnings.len()),
        Err(error) => format!("does not validate: {error}"),
    };
    let mut entry = format!(
        "{name}: exit {exit}, {validates}, {} notes, {expected}\n",
        translation.notes.len()
    );
    for finding in &translation.untranslatable {
        entry.push_str(&format!("  {finding}\n"));
    }
    let as_expected = expected_ok == (exit == 0 && validation.is_ok());
    (entry, as_expected)
}

/// Sums up every project under `folder` into the snapshot `snapshot`.
fn summarize(folder: &str, snapshot: &str, refused: &[(&str, &str)]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/compose");
    let mut projects: Vec<_> = fs::read_dir(root.join(folder))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|project| project.join("docker-compose.yml").exists())
        .collect();
    projects.sort();
    let entries: Vec<(String, bool)> = projects
        .iter()
        .map(|project| corpus_entry(project, refused))
        .collect();
    let summary: String = entries.iter().map(|(entry, _)| entry.as_str()).collect();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root.join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(snapshot, summary));
    let unexpected: Vec<&str> = entries
        .iter()
        .filter(|(_, as_expected)| !as_expected)
        .map(|(entry, _)| entry.as_str())
        .collect();
    assert!(
        unexpected.is_empty(),
        "every file not listed as refused imports with exit 0 and validates, and every listed one is refused:\n{}",
        unexpected.join("")
    );
}

#[test]
fn corpus_results() {
    summarize(".", "corpus", REFUSED);
}

/// The files of `testdata/compose/real` expected to fail, and why: what orun refuses by design,
/// and what the import does not translate yet.
const REFUSED_REAL: &[(&str, &str)] = &[
    ("loki-production", "platform"),
    (
        "vaultwarden-playwright",
        "a build context outside the project's folder",
    ),
];

/// The compose files of well-known self-hosted applications, as their projects publish them.
#[test]
fn real_application_results() {
    summarize("real", "real-apps", REFUSED_REAL);
}
