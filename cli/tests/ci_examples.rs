//! The CI workflows of `examples/ci/` read as YAML with the structure their README promises: run
//! on pull requests, run `orun validate` and `orun fleet plan`, and post a comment with a token
//! allowed to write one. They need a forge, a runner and reachable nodes, so they cannot run
//! here; this checks their shape only.

use std::fs;
use std::path::Path;

use serde_yaml::Value;

fn workflow(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/ci")
        .join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|error| panic!("{name}: {error}"));
    serde_yaml::from_str(&text).unwrap_or_else(|error| panic!("{name}: {error}"))
}

/// Every step of every job.
fn steps(workflow: &Value) -> Vec<&Value> {
    workflow["jobs"]
        .as_mapping()
        .expect("jobs")
        .values()
        .flat_map(|job| job["steps"].as_sequence().expect("steps"))
        .collect()
}

/// The `run` scripts of every step, in order.
fn scripts(workflow: &Value) -> Vec<&str> {
    steps(workflow)
        .into_iter()
        .filter_map(|step| step["run"].as_str())
        .collect()
}

/// Checks what both workflows share; returns the workflow for the forge-specific checks.
fn check_common(name: &str) -> Value {
    let workflow = workflow(name);
    // `on` is a plain key in YAML 1.2, as forges read it, not the boolean of YAML 1.1.
    let triggers = &workflow["on"];
    assert!(
        triggers.get("pull_request").is_some(),
        "{name}: not triggered by pull_request: {triggers:?}"
    );
    assert_eq!(
        workflow["permissions"]["pull-requests"].as_str(),
        Some("write"),
        "{name}: the token cannot comment"
    );
    let scripts = scripts(&workflow);
    let position = |command: &str| {
        scripts
            .iter()
            .position(|script| script.contains(command))
            .unwrap_or_else(|| panic!("{name}: no step runs {command:?}"))
    };
    let validate = position("orun validate --repo .");
    let plan = position("orun fleet plan --repo . --detailed-exitcode");
    assert!(validate <= plan, "{name}: validates after planning");
    assert!(
        steps(&workflow)
            .iter()
            .any(|step| step["uses"].as_str() == Some("actions/checkout@v4")),
        "{name}: the repository is not checked out"
    );
    assert!(
        scripts
            .iter()
            .any(|script| script.contains("SOPS_AGE_KEY_FILE")),
        "{name}: the age key is not handed to orun"
    );
    workflow
}

#[test]
fn the_github_workflow_plans_every_pull_request_and_comments() {
    let workflow = check_common("github-actions.yml");
    let comment = steps(&workflow)
        .into_iter()
        .find(|step| step["uses"].as_str() == Some("actions/github-script@v7"))
        .expect("a step posts the comment with actions/github-script");
    let script = comment["with"]["script"].as_str().unwrap();
    assert!(script.contains("comment.md"), "{script}");
    assert!(script.contains("createComment"), "{script}");
}

#[test]
fn the_forgejo_workflow_plans_every_pull_request_and_comments_through_the_api() {
    let workflow = check_common("forgejo-actions.yml");
    let comment = steps(&workflow)
        .into_iter()
        .find(|step| {
            step["run"]
                .as_str()
                .is_some_and(|run| run.contains("/issues/${PULL}/comments"))
        })
        .expect("a step posts the comment through the forge's API");
    assert_eq!(
        comment["env"]["TOKEN"].as_str(),
        Some("${{ secrets.GITHUB_TOKEN }}"),
        "the job's own token"
    );
    assert_eq!(
        comment["env"]["PULL"].as_str(),
        Some("${{ github.event.pull_request.number }}")
    );
}
