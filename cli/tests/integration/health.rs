//! Health-gated rollouts with real containers: readiness gating and rollback, quarantine of a
//! failed commit, liveness restarts, flapping, and an interrupted rollout resolved on restart.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::support::node::{Node, Origin};
use crate::support::{
    docker, docker_events, docker_timestamp, eventually, free_port, http_get, inspect, test_image,
    text, Scenario, TEST_PAGE,
};

const LIMIT: Duration = Duration::from_secs(40);

/// The test image on `port` with GREETING and a readiness probe on `path`.
pub(crate) fn probed(port: u16, greeting: &str, path: &str, deadline: &str) -> String {
    format!(
        "  image: {}\n  ports:\n    - containerPort: 80\n      port: {port}\n      hostIP: 127.0.0.1\n  env:\n    GREETING: {greeting}\n  stopTimeout: 1s\n  health:\n    readiness:\n      http: localhost:80{path}\n      interval: 500ms\n      deadline: {deadline}\n",
        test_image()
    )
}

/// A Deployment manifest named `name` with `spec` lines (two-space indented).
pub(crate) fn manifest(name: &str, spec: &str) -> String {
    format!("apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

fn greeting_of(name: &str) -> Option<String> {
    let container = inspect(name)?;
    container["Config"]["Env"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|entry| entry.strip_prefix("GREETING=").map(str::to_string))
}

#[test]
fn a_ready_new_version_replaces_the_old_one() {
    let scenario = Scenario::new("ready");
    let port = free_port();
    scenario.deployment("web", &probed(port, "v1", "/health", "20s"));
    scenario.apply();
    scenario.deployment("web", &probed(port, "v2", "/health", "20s"));
    let output = scenario.apply();
    assert!(output.contains("recreate"), "{output}");
    assert_eq!(scenario.containers(), vec![scenario.container("web")]);
    assert_eq!(
        greeting_of(&scenario.container("web")).as_deref(),
        Some("v2")
    );
    assert_eq!(http_get(port, "/health").as_deref(), Some("ok\n"));
}

#[test]
fn apply_with_a_failing_readiness_probe_exits_1_and_keeps_the_old_container() {
    let scenario = Scenario::new("notready");
    let port = free_port();
    scenario.deployment("web", &probed(port, "v1", "/health", "20s"));
    scenario.apply();
    let id = inspect(&scenario.container("web")).unwrap()["Id"].clone();

    scenario.deployment("web", &probed(port, "v2", "/missing", "3s"));
    let output = scenario.orun(&["apply", "--once"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("readiness probe of"), "{stdout}");
    assert!(
        stdout.contains("/missing") && stdout.contains("status 404"),
        "{stdout}"
    );
    assert!(stdout.contains("deadline 3s"), "{stdout}");
    assert!(
        stdout.contains("previous container was restored"),
        "{stdout}"
    );
    let web = inspect(&scenario.container("web")).unwrap();
    assert_eq!(web["Id"], id);
    assert_eq!(web["State"]["Running"], true);
    assert_eq!(scenario.containers(), vec![scenario.container("web")]);
    assert_eq!(http_get(port, "/").as_deref(), Some(TEST_PAGE));
}

#[test]
fn a_rollout_that_never_gets_ready_is_rolled_back_and_quarantined_until_a_new_commit() {
    let origin = Origin::new();
    let port = free_port();
    origin.write(
        "deployments/web.yaml",
        &manifest("web", &probed(port, "v1", "/health", "20s")),
    );
    let first = origin.commit("v1");
    let node = Node::start("quarantine", origin.bare().to_str().unwrap());
    node.wait_for("v1", LIMIT, |s| {
        s["node"]["applied_commit"] == first.as_str()
    });
    let name = node.container("web");
    let id = inspect(&name).unwrap()["Id"].clone();

    origin.write(
        "deployments/web.yaml",
        &manifest("web", &probed(port, "v2", "/missing", "3s")),
    );
    let broken = origin.commit("v2 never ready");
    let status = node.wait_for("rolled back", LIMIT, |s| {
        s["deployments"]["web"]["quarantined"] == true
    });
    let web = &status["deployments"]["web"];
    assert_eq!(web["last_action"], "rolled_back");
    let error = web["last_error"].as_str().unwrap();
    assert!(
        error.contains("readiness probe") && error.contains("/missing"),
        "{error}"
    );
    assert_eq!(status["node"]["git_head"], broken.as_str());
    assert_eq!(
        inspect(&name).unwrap()["Id"],
        id,
        "the previous container is back"
    );
    assert!(
        eventually(Duration::from_secs(5), || http_get(port, "/").is_some()),
        "the previous container does not answer on its port"
    );

    // The same commit is not retried on later polls.
    let since = docker_timestamp();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        docker_events(&node.environment, &since, &docker_timestamp()),
        ""
    );
    assert_eq!(node.status()["deployments"]["web"]["quarantined"], true);

    origin.write(
        "deployments/web.yaml",
        &manifest("web", &probed(port, "v3", "/health", "20s")),
    );
    let fixed = origin.commit("v3");
    let status = node.wait_for("new commit tried", LIMIT, |s| {
        s["node"]["applied_commit"] == fixed.as_str()
    });
    assert_eq!(status["deployments"]["web"]["quarantined"], false);
    assert_eq!(greeting_of(&name).as_deref(), Some("v3"));
}

#[test]
fn a_failing_liveness_probe_restarts_the_container() {
    let origin = Origin::new();
    let port = free_port();
    let spec = format!(
        "  image: {}\n  ports:\n    - containerPort: 80\n      port: {port}\n      hostIP: 127.0.0.1\n  stopTimeout: 1s\n  health:\n    liveness:\n      http: localhost:80/health\n      interval: 1s\n      timeout: 1s\n      failureThreshold: 2\n",
        test_image()
    );
    origin.write("deployments/web.yaml", &manifest("web", &spec));
    let commit = origin.commit("web");
    let node = Node::start("liveness", origin.bare().to_str().unwrap());
    node.wait_for("applied", LIMIT, |s| {
        s["node"]["applied_commit"] == commit.as_str()
    });
    let name = node.container("web");
    let started = inspect(&name).unwrap()["State"]["StartedAt"].clone();

    docker(&["exec", &name, "/bin/busybox", "rm", "/www/health"]);
    let status = node.wait_for("restarted", LIMIT, |s| {
        s["deployments"]["web"]["restarts"].as_u64() >= Some(1)
    });
    let web = &status["deployments"]["web"];
    assert_eq!(web["last_action"], "restart");
    let error = web["last_error"].as_str().unwrap();
    assert!(
        error.contains("liveness probe") && error.contains("status 404"),
        "{error}"
    );
    assert_ne!(
        inspect(&name).unwrap()["State"]["StartedAt"],
        started,
        "the container was not restarted"
    );
    let metrics = node.get("/metrics").unwrap();
    assert!(
        metrics.contains("orun_container_restarts_total{deployment=\"web\"}"),
        "{metrics}"
    );
    let failures = metrics
        .lines()
        .find(|line| line.starts_with("orun_probe_failures_total"))
        .and_then(|line| line.split_whitespace().last())
        .and_then(|value| value.parse::<f64>().ok())
        .unwrap();
    assert!(failures >= 2.0, "{metrics}");
}

#[test]
fn a_crash_looping_deployment_is_marked_flapping_and_left_alone_until_a_new_commit() {
    let origin = Origin::new();
    let port = free_port();
    let crashing = format!(
        "  image: {}\n  command: [\"false\"]\n  ports:\n    - containerPort: 80\n      port: {port}\n      hostIP: 127.0.0.1\n",
        test_image()
    );
    origin.write("deployments/web.yaml", &manifest("web", &crashing));
    origin.commit("crashing");
    let node = Node::start("flapping", origin.bare().to_str().unwrap());
    let status = node.wait_for("flapping", LIMIT, |s| {
        s["deployments"]["web"]["flapping"] == true
    });
    assert!(status["deployments"]["web"]["last_error"]
        .as_str()
        .unwrap()
        .contains("did not stay running"));
    assert!(
        node.log_text().contains("flapping"),
        "the log does not say flapping"
    );

    std::thread::sleep(Duration::from_secs(1));
    let since = docker_timestamp();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        docker_events(&node.environment, &since, &docker_timestamp()),
        "",
        "a flapping deployment was acted on"
    );

    origin.write(
        "deployments/web.yaml",
        &manifest("web", &probed(port, "fixed", "/health", "20s")),
    );
    let fixed = origin.commit("fixed");
    let status = node.wait_for("fixed", LIMIT, |s| {
        s["node"]["applied_commit"] == fixed.as_str()
    });
    assert_eq!(status["deployments"]["web"]["flapping"], false);
    assert_eq!(status["deployments"]["web"]["state"], "running");
}

#[test]
fn sigkill_while_waiting_for_readiness_then_apply_again_keeps_a_ready_container() {
    let scenario = Scenario::new("killready");
    let port = free_port();
    scenario.deployment("web", &probed(port, "v1", "/health", "20s"));
    scenario.apply();
    let id = inspect(&scenario.container("web")).unwrap()["Id"].clone();

    // v2 never becomes ready; kill orun while it waits, after the old one was stopped and renamed.
    scenario.deployment("web", &probed(port, "v2", "/missing", "30s"));
    let mut child = scenario
        .command(&["apply", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rollback = format!("{}.orun-old", scenario.container("web"));
    assert!(
        eventually(Duration::from_secs(20), || inspect(&rollback).is_some()
            && greeting_of(&scenario.container("web")).as_deref() == Some("v2")),
        "the rollout did not reach the readiness wait"
    );
    std::thread::sleep(Duration::from_secs(1));
    child.kill().unwrap();
    child.wait().unwrap();

    scenario.deployment("web", &probed(port, "v2", "/missing", "3s"));
    let output = scenario.orun(&["apply", "--once"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    assert_eq!(
        scenario.containers(),
        vec![scenario.container("web")],
        "one container is left"
    );
    let web = inspect(&scenario.container("web")).unwrap();
    assert_eq!(
        web["Id"], id,
        "the ready previous container is back in service"
    );
    assert_eq!(web["State"]["Running"], true);
    assert_eq!(http_get(port, "/health").as_deref(), Some("ok\n"));
}
