//! Data-driven plan cases: every folder under `testdata/` holds a manifest repository (`repo/`),
//! an observed snapshot (`observed.json`, empty when absent) and options (`case.yaml`); the rendered
//! plan, or the error list, is compared with its snapshot under `snapshots/`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use daemon::revision::{load_revision, read_sources, RevisionError};
use engine::{Environment, Observed, PlanOptions, ResolveInput, Secrets};
use orun::render::{self, Style};
use serde::Deserialize;

/// The commit every case's revision is attributed to.
const CASE_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CaseOptions {
    /// What the case shows; repeated at the top of its snapshot.
    description: String,
    environment: Option<String>,
    node: Option<String>,
    #[serde(default)]
    allow_empty: bool,
    #[serde(default = "yes")]
    new_commit: bool,
    #[serde(default)]
    secrets: CaseSecrets,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSecrets {
    #[serde(default)]
    shared: BTreeMap<String, String>,
    #[serde(default)]
    inline: BTreeMap<String, BTreeMap<String, String>>,
}

fn yes() -> bool {
    true
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run_case(case: &Path, options: &CaseOptions) -> String {
    let repo = case.join("repo");
    let node = options.node.as_ref().map(|name| {
        let sources = read_sources(&repo).expect("readable repo");
        let manifests = engine::load(&sources).expect("the node's repo is valid");
        manifests.nodes[name].spec.clone()
    });
    let code_dir = node
        .as_ref()
        .and_then(|node| node.code_dir.as_ref())
        .map(|dir| repo.join(dir));
    let revision = match load_revision(&repo, CASE_COMMIT, code_dir.as_deref()) {
        Ok(revision) => revision,
        Err(RevisionError::Invalid(errors)) => return format!("error: {errors}\n"),
        Err(RevisionError::Io(error)) => panic!("{}: {error:#}", case.display()),
    };
    let environment = match (&options.environment, &node) {
        (Some(name), _) => Environment::named(name),
        (None, Some(node)) => Environment::for_node(node),
        (None, None) => Ok(Environment::production()),
    }
    .expect("valid case environment");
    let secrets = Secrets {
        shared: options.secrets.shared.clone(),
        inline: options.secrets.inline.clone(),
    };
    let input = ResolveInput {
        environment,
        commit: CASE_COMMIT.to_string(),
        secrets: &secrets,
        build_tags: &revision.build_tags,
    };
    let desired = match engine::resolve(&revision.manifests, &input) {
        Ok(desired) => desired,
        Err(errors) => return format!("error: {errors}\n"),
    };
    let observed_path = case.join("observed.json");
    let observed: Observed = if observed_path.exists() {
        serde_json::from_str(&fs::read_to_string(&observed_path).unwrap())
            .unwrap_or_else(|error| panic!("{}: {error}", observed_path.display()))
    } else {
        Observed::default()
    };
    let plan_options = PlanOptions {
        allow_empty: options.allow_empty,
        new_commit: options.new_commit,
        ..PlanOptions::default()
    };
    match engine::plan(&desired, &observed, &plan_options) {
        Ok(plan) => format!(
            "{}\n--- json ---\n{}\n",
            render::plan::human(&plan, Style::PLAIN),
            render::plan::json(&plan)
        ),
        Err(error) => format!("error: {error}\n"),
    }
}

#[test]
fn plan_cases() {
    let root = workspace_root();
    let mut cases: Vec<PathBuf> = fs::read_dir(root.join("testdata"))
        .expect("testdata folder")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("case.yaml").is_file())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 25,
        "expected at least 25 cases, found {}",
        cases.len()
    );
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let options: CaseOptions =
            serde_yaml::from_str(&fs::read_to_string(case.join("case.yaml")).unwrap())
                .unwrap_or_else(|error| panic!("{name}/case.yaml: {error}"));
        let output = run_case(&case, &options);
        insta::with_settings!({
            snapshot_path => root.join("snapshots"),
            prepend_module_to_snapshot => false,
            description => options.description.trim(),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, output);
        });
    }
}
