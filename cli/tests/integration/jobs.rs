//! Jobs against the real engine: a change job writes into a named volume before the deployment it
//! precedes starts, runs once per spec (a commit that changes only another deployment runs
//! nothing), a failing run keeps the deployment on its old version until a fixed job runs, and
//! only the last 3 finished runs stay; on a node, a scheduled job runs within its minute and shows
//! in `/status` with its last run and next time, and change runs notify `job_succeeded` and
//! `job_failed`.

use std::time::Duration;

use serde_json::Value;

use crate::notifications::{Receiver, LIMIT};
use crate::support::node::{Node, Origin};
use crate::support::{docker, env_of, inspect, test_image, text, Scenario};

/// A change job that writes `schema` into the volume `data` (or exits 3 for `fail`).
fn migrate_job(scenario: &Scenario, schema: &str) {
    let script = if schema == "fail" {
        "exit 3".to_string()
    } else {
        format!("echo {schema} > /data/schema")
    };
    let path = scenario.repo().join("jobs/migrate.yaml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Job\nmetadata:\n  name: migrate\nspec:\n  image: {}\n  command: [\"sh\", \"-c\", \"{script}\"]\n  volumes:\n    - name: data\n      containerPath: /data\n  runOn: change\n  before: [web]\n",
            test_image()
        ),
    )
    .unwrap();
}

/// A deployment that notes the schema the job wrote when it starts (it fails to start without
/// one; the image has busybox alone, so shell builtins do it) and serves the test page.
fn web_spec(release: &str) -> String {
    format!(
        "  image: {}\n  command: [\"sh\", \"-c\", \"read schema < /data/schema && echo $schema > /data/seen && exec /bin/busybox httpd -f -p 80 -h /www\"]\n  env:\n    RELEASE: \"{release}\"\n  volumes:\n    - name: data\n      containerPath: /data\n",
        test_image()
    )
}

/// What web saw in the volume when it started.
fn seen(scenario: &Scenario) -> String {
    docker(&[
        "exec",
        &scenario.container("web"),
        "/bin/busybox",
        "cat",
        "/data/seen",
    ])
    .trim()
    .to_string()
}

fn release(scenario: &Scenario) -> Vec<String> {
    env_of(&inspect(&scenario.container("web")).unwrap())
        .into_iter()
        .filter(|entry| entry.starts_with("RELEASE="))
        .collect()
}

/// The run containers of the job, sorted.
fn runs(scenario: &Scenario) -> Vec<String> {
    scenario
        .containers()
        .into_iter()
        .filter(|name| name.contains(".migrate.job-"))
        .collect()
}

/// The kind and subject (`run migrate`, `create web`) and the reason of each action of `plan`.
pub(crate) fn kinds(plan: &Value) -> Vec<(String, String)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| {
            let subject = action["job"].as_str().or(action["deployment"].as_str());
            (
                format!(
                    "{} {}",
                    action["kind"].as_str().unwrap(),
                    subject.unwrap_or("")
                ),
                action["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_change_job_runs_before_web_once_per_spec_and_a_failed_run_keeps_the_old_web() {
    let scenario = Scenario::new("jobs");
    migrate_job(&scenario, "v1");
    scenario.deployment("web", &web_spec("1"));

    let plan = scenario.plan();
    let steps = kinds(&plan);
    let run = steps
        .iter()
        .position(|(kind, _)| kind == "run migrate")
        .unwrap();
    let create = steps
        .iter()
        .position(|(kind, _)| kind == "create web")
        .unwrap();
    assert!(run < create, "{steps:?}");
    assert_eq!(steps[run].1, "never_run");
    scenario.apply();
    assert_eq!(seen(&scenario), "v1", "the job wrote before web started");
    let first_runs = runs(&scenario);
    assert_eq!(first_runs.len(), 1, "{first_runs:?}");
    let run = inspect(&first_runs[0]).unwrap();
    assert_eq!(run["Config"]["Labels"]["run.orcra.dev/job"], "migrate");
    assert_eq!(run["State"]["ExitCode"], 0);

    // A commit that changes only another deployment runs nothing, and the exited run is no drift.
    scenario.deployment("other", &format!("  image: {}\n", test_image()));
    let plan = scenario.plan();
    assert_eq!(
        kinds(&plan),
        [("create other".to_string(), "missing".to_string())]
    );
    scenario.apply();
    assert_eq!(runs(&scenario), first_runs);

    // A failing run blocks the new web: the old one keeps serving.
    migrate_job(&scenario, "fail");
    scenario.deployment("web", &web_spec("2"));
    let output = scenario.orun(&["apply", "--once"]);
    assert!(!output.status.success(), "{}", text(&output.stdout));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("exited with code 3"), "{stdout}");
    assert_eq!(release(&scenario), ["RELEASE=1"]);
    assert_eq!(
        inspect(&scenario.container("web")).unwrap()["State"]["Running"],
        true
    );
    let plan = scenario.plan();
    assert_eq!(
        kinds(&plan),
        [("blocked web".to_string(), "job_failed".to_string())],
        "a failed run is not retried while the job is unchanged"
    );

    // The fixed job runs and unblocks web.
    migrate_job(&scenario, "v2");
    let plan = scenario.plan();
    assert_eq!(
        kinds(&plan)[0],
        ("run migrate".to_string(), "job_changed".to_string())
    );
    scenario.apply();
    assert_eq!(release(&scenario), ["RELEASE=2"]);
    assert_eq!(seen(&scenario), "v2");
    assert_eq!(runs(&scenario).len(), 3);

    // A fourth run leaves the last 3 finished ones: the first is pruned.
    migrate_job(&scenario, "v3");
    scenario.deployment("web", &web_spec("3"));
    scenario.apply();
    let kept = runs(&scenario);
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(!kept.contains(&first_runs[0]), "{kept:?}");
    assert_eq!(seen(&scenario), "v3");
    assert_eq!(scenario.plan()["actions"], Value::Array(Vec::new()));
}

/// A Job manifest with `spec` lines (indented by two spaces).
fn job_manifest(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: run.orcra.dev/v0alpha\nkind: Job\nmetadata:\n  name: {name}\nspec:\n  image: {}\n{spec}",
        test_image()
    )
}

#[test]
fn a_node_runs_a_scheduled_job_in_its_minute_and_notifies_change_runs() {
    let origin = Origin::new();
    let receiver = Receiver::start();
    origin.write(
        "jobs/tick.yaml",
        &job_manifest(
            "tick",
            "  command: [\"sh\", \"-c\", \"echo tick\"]\n  schedule: \"* * * * *\"\n",
        ),
    );
    origin.write(
        "jobs/migrate.yaml",
        &job_manifest(
            "migrate",
            "  command: [\"sh\", \"-c\", \"exit 0\"]\n  runOn: change\n",
        ),
    );
    origin.commit("jobs");
    let node = Node::start_with(
        "jobsnode",
        origin.bare().to_str().unwrap(),
        &format!(
            "  notifications:\n    - url: {}\n      events: [job_succeeded, job_failed]\n",
            receiver.url("/orun")
        ),
    );
    let succeeded = receiver.wait_for("event", "job_succeeded", &node);
    assert_eq!(succeeded["deployment"], Value::Null);
    assert!(
        succeeded["message"]
            .as_str()
            .unwrap()
            .starts_with("job migrate ran (never_run)"),
        "{succeeded:#}"
    );

    // `* * * * *` comes within a minute; the run then shows with its end and exit code.
    let status = node.wait_for("a scheduled run", Duration::from_secs(90), |status| {
        status["jobs"]["tick"]["last_run"]["exit_code"] == 0
    });
    let tick = &status["jobs"]["tick"];
    assert_eq!(tick["schedule"], "* * * * *");
    assert_eq!(tick["run_on"], Value::Null);
    let container = tick["last_run"]["container"].as_str().unwrap();
    assert!(
        container.starts_with(&format!("{}.tick.job-20", node.environment)),
        "{tick:#}"
    );
    assert!(tick["last_run"]["finished_at"].is_string(), "{tick:#}");
    assert!(
        tick["next_run_at"].as_str().unwrap().ends_with(":00Z"),
        "{tick:#}"
    );
    let migrate = &status["jobs"]["migrate"];
    assert_eq!(migrate["run_on"], "change");
    assert_eq!(migrate["last_run"]["exit_code"], 0);

    origin.write(
        "jobs/migrate.yaml",
        &job_manifest(
            "migrate",
            "  command: [\"sh\", \"-c\", \"exit 4\"]\n  runOn: change\n",
        ),
    );
    origin.commit("failing migration");
    let failed = receiver.wait_for("event", "job_failed", &node);
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("exited with code 4"),
        "{failed:#}"
    );
    node.wait_for("the failed run", LIMIT, |status| {
        status["jobs"]["migrate"]["last_run"]["exit_code"] == 4
    });
}
