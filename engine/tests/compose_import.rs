//! Real compose files from public projects (`testdata/compose/<project>/docker-compose.yml`, with
//! their `env_file`s) through the importer: the printed lines and every written file are compared
//! with `testdata/compose/snapshots/<project>.snap`, and the written repository must load. The
//! translation runs as if the project lived in `/srv/<project>` and were imported in place.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use engine::compose::{translate, ComposeInput, Translation};

fn import(project: &Path, environment: &BTreeMap<String, String>) -> Translation {
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
    translate(&input).unwrap_or_else(|error| panic!("{name}: {error}"))
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
        let translation = import(project, &BTreeMap::new());
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
        if let Err(errors) = load(&import(&project, &BTreeMap::new())) {
            failures.push(format!("{}:\n{errors}", project.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
