//! Start-first rollouts with real containers and a node's real Caddy: steady load through Caddy
//! across successive rollouts fails no request, a new container that never gets ready leaves the
//! old one serving, a leftover new copy loses its routes before it is removed, and
//! `orun apply --once` replaces a container start-first and resolves the new copy an interrupted
//! rollout left: kept while the deployment's container does not run, removed once it does.

use std::time::Duration;

use serde_json::Value;

use crate::support::ingress::{service_manifest, IngressPorts, Load};
use crate::support::node::{Node, Origin};
use crate::support::{container_names, docker, eventually, inspect, test_image, text, Scenario};

const LIMIT: Duration = Duration::from_secs(60);

/// The test image, publishing no host port (so start-first by default), serving its `VERSION`
/// at `/version`, with a readiness probe on `readiness_path`.
pub fn versioned_spec(version: &str, readiness_path: &str, deadline: &str) -> String {
    format!(
        "  image: {}\n  command: [\"sh\", \"-c\", \"echo $VERSION > /www/version && exec /bin/busybox httpd -f -p 80 -h /www\"]\n  env:\n    VERSION: {version}\n  stopTimeout: 1s\n  health:\n    readiness:\n      http: localhost:80{readiness_path}\n      interval: 200ms\n      deadline: {deadline}\n",
        test_image()
    )
}

pub fn deployment_manifest(name: &str, spec: &str) -> String {
    format!("apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

/// A node with Caddy serving deployment `web` (version v1) at `$ENV.rollout.example.com`, and
/// the Host header that reaches it.
fn node_with_service(test: &str, origin: &Origin, ingress: &IngressPorts) -> (Node, String) {
    let web = deployment_manifest("web", &versioned_spec("v1", "/version", "20s"));
    node_serving(test, origin, ingress, &web, "rollout")
}

/// A node with Caddy serving deployment `web` (`manifest`) at `$ENV.<domain>.example.com` once
/// its first commit is applied and routed, and the Host header that reaches it.
pub fn node_serving(
    test: &str,
    origin: &Origin,
    ingress: &IngressPorts,
    manifest: &str,
    domain: &str,
) -> (Node, String) {
    origin.write("deployments/web.yaml", manifest);
    origin.write(
        "services/web.yaml",
        &service_manifest(
            "web",
            "web",
            &format!("{domain}.example.com"),
            &format!("$ENV.{domain}.example.com"),
            "  port: 80\n",
        ),
    );
    let first = origin.commit("v1");
    let node = Node::start_full(
        test,
        origin.bare().to_str().unwrap(),
        "main",
        "",
        &ingress.args,
    );
    node.wait_for("v1 routed", LIMIT, |s| {
        s["node"]["applied_commit"] == first.as_str() && s["services"]["web"]["active"] == true
    });
    let host = format!("{}.{domain}.example.com", node.environment);
    (node, host)
}

#[test]
fn start_first_rollouts_under_steady_load_fail_no_request() {
    let origin = Origin::new();
    let ingress = IngressPorts::new();
    let (node, host) = node_with_service("rollload", &origin, &ingress);
    let name = node.container("web");
    let load = Load::start(ingress.http, &host);
    load.wait_for_version("v1");

    for version in ["v2", "v3", "v4"] {
        let before = inspect(&name).unwrap()["Id"].clone();
        origin.write(
            "deployments/web.yaml",
            &deployment_manifest("web", &versioned_spec(version, "/version", "20s")),
        );
        let commit = origin.commit(version);
        node.wait_for(&format!("{version} applied"), LIMIT, |s| {
            s["node"]["applied_commit"] == commit.as_str()
                && s["deployments"]["web"]["last_action"] == "recreate"
        });
        load.wait_for_version(version);
        assert_ne!(
            inspect(&name).unwrap()["Id"],
            before,
            "{name} was not replaced"
        );
    }
    let tally = load.finish();

    assert!(
        tally.failures.is_empty(),
        "{} of {} requests failed during the rollouts:\n{}",
        tally.failures.len(),
        tally.ok + tally.failures.len(),
        tally.failures.join("\n")
    );
    assert_eq!(tally.versions, ["v1", "v2", "v3", "v4"]);
    assert_eq!(
        container_names(&node.environment),
        [name],
        "one container is left, under its own name"
    );
}

#[test]
fn a_start_first_rollout_that_never_gets_ready_leaves_the_old_container_serving() {
    let origin = Origin::new();
    let ingress = IngressPorts::new();
    let (node, host) = node_with_service("rollnotready", &origin, &ingress);
    let name = node.container("web");
    let id = inspect(&name).unwrap()["Id"].clone();
    let load = Load::start(ingress.http, &host);
    load.wait_for_version("v1");

    origin.write(
        "deployments/web.yaml",
        &deployment_manifest("web", &versioned_spec("v2", "/missing", "3s")),
    );
    let broken = origin.commit("v2 never ready");
    let status = node.wait_for("rolled back", LIMIT, |s| {
        s["node"]["git_head"] == broken.as_str() && s["deployments"]["web"]["quarantined"] == true
    });
    // Requests keep flowing for a while after the rollback settled.
    let settled = load.snapshot().ok;
    assert!(
        eventually(Duration::from_secs(10), || load.snapshot().ok
            > settled + 50),
        "the load stalled: {:?}",
        load.snapshot()
    );
    let tally = load.finish();

    let web = &status["deployments"]["web"];
    assert_eq!(web["last_action"], "rolled_back");
    let error = web["last_error"].as_str().unwrap();
    assert!(
        error.contains("never stopped") && error.contains("/missing"),
        "{error}"
    );
    assert!(
        tally.failures.is_empty(),
        "{} requests failed while the new container was not ready:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    assert_eq!(tally.versions, ["v1"], "only the old version answered");
    assert_eq!(
        inspect(&name).unwrap()["Id"],
        id,
        "the old container served throughout"
    );
    assert!(
        inspect(&format!("{name}.orun-next")).is_none(),
        "the new container was not removed"
    );
}

#[test]
fn a_node_moves_the_routes_off_a_leftover_new_copy_before_removing_it() {
    let origin = Origin::new();
    let ingress = IngressPorts::new();
    let (node, host) = node_with_service("rollleft", &origin, &ingress);
    let name = node.container("web");
    let next = format!("{name}.orun-next");
    let load = Load::start(ingress.http, &host);
    load.wait_for_version("v1");

    // What a rollout whose rename failed leaves while the node keeps running: the new copy serves
    // under its temporary name, and the routes already point at it.
    docker(&["rename", &name, &next]);
    let copy = inspect(&next).unwrap()["Id"].clone();
    assert!(
        eventually(LIMIT, || inspect(&next).is_none()
            && inspect(&name)
                .is_some_and(|web| web["State"]["Running"] == true)),
        "drift repair did not replace the copy: {:#}",
        node.status()
    );
    let status = node.wait_for("routed to the new container", LIMIT, |s| {
        s["services"]["web"]["active"] == true
    });
    // Requests keep flowing for a while after the copy went.
    let settled = load.snapshot().ok;
    assert!(
        eventually(Duration::from_secs(10), || load.snapshot().ok
            > settled + 50),
        "the load stalled: {:?}",
        load.snapshot()
    );
    let tally = load.finish();

    assert!(
        tally.failures.is_empty(),
        "{} of {} requests failed while the copy was replaced:\n{}",
        tally.failures.len(),
        tally.ok + tally.failures.len(),
        tally.failures.join("\n")
    );
    let web = inspect(&name).unwrap();
    assert_ne!(web["Id"], copy, "{name} is a new container");
    let network = format!("orun-{}", node.environment);
    let ip = web["NetworkSettings"]["Networks"][&network]["IPAddress"]
        .as_str()
        .unwrap();
    assert_eq!(
        status["services"]["web"]["upstream"],
        format!("{ip}:80"),
        "the route points at {name}"
    );
    assert_eq!(
        container_names(&node.environment),
        [name],
        "one container is left, under its own name"
    );
}

#[test]
fn apply_once_replaces_a_container_start_first() {
    let scenario = Scenario::new("startfirst");
    scenario.deployment("web", &versioned_spec("v1", "/version", "20s"));
    scenario.apply();
    let name = scenario.container("web");
    let old = inspect(&name).unwrap()["Id"].clone();

    scenario.deployment("web", &versioned_spec("v2", "/version", "20s"));
    let output = scenario.apply();
    assert!(output.contains("recreate"), "{output}");
    assert_eq!(scenario.containers(), vec![name.clone()]);
    let web = inspect(&name).unwrap();
    assert_ne!(web["Id"], old);
    assert_eq!(web["State"]["Running"], true);
    assert!(crate::support::env_of(&web).contains(&"VERSION=v2".to_string()));
    assert!(scenario.apply().contains("No changes. Node is converged."));
}

#[test]
fn apply_once_with_a_new_container_that_never_gets_ready_keeps_the_old_one_running() {
    let scenario = Scenario::new("startnotready");
    scenario.deployment("web", &versioned_spec("v1", "/version", "20s"));
    scenario.apply();
    let name = scenario.container("web");
    let id = inspect(&name).unwrap()["Id"].clone();
    let started_at = inspect(&name).unwrap()["State"]["StartedAt"].clone();

    scenario.deployment("web", &versioned_spec("v2", "/missing", "2s"));
    let output = scenario.orun(&["apply", "--once"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("previous container was never stopped"),
        "{stdout}"
    );
    assert_eq!(scenario.containers(), vec![name.clone()]);
    let web = inspect(&name).unwrap();
    assert_eq!(web["Id"], id);
    assert_eq!(
        web["State"]["StartedAt"], started_at,
        "the old container was not restarted"
    );
}

/// `(kind, container)` of every action of a JSON plan.
fn kinds_and_containers(plan: &Value) -> Vec<(String, String)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_string(),
                a["container"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The scenario ends with one container, `name`, running and other than `copy`, the leftover
/// new copy, which is gone; and a further apply has nothing to do.
fn assert_resolved(scenario: &Scenario, name: &str, copy: &Value) {
    assert_eq!(scenario.containers(), vec![name.to_string()]);
    let web = inspect(name).unwrap();
    assert_eq!(web["State"]["Running"], true);
    assert_ne!(&web["Id"], copy, "{name} is a new container");
    assert!(inspect(&format!("{name}.orun-next")).is_none());
    assert!(scenario.apply().contains("No changes. Node is converged."));
}

#[test]
fn a_new_copy_left_as_the_only_running_container_serves_until_the_container_is_back() {
    let scenario = Scenario::new("nextleft");
    scenario.deployment("web", &versioned_spec("v1", "/version", "20s"));
    scenario.apply();
    // What an apply killed after removing the old container, before the rename, leaves.
    let name = scenario.container("web");
    let next = format!("{name}.orun-next");
    docker(&["rename", &name, &next]);
    let copy = inspect(&next).unwrap()["Id"].clone();

    let plan = scenario.plan();
    assert_eq!(
        kinds_and_containers(&plan),
        [("create".to_string(), name.clone())],
        "the copy is kept while {name} is missing: {plan:#}"
    );
    let output = scenario.apply();
    assert!(
        output.contains("remove") && output.contains(&next),
        "the follow-up removes the copy once {name} runs: {output}"
    );
    assert_resolved(&scenario, &name, &copy);
}

#[test]
fn a_new_copy_left_beside_a_stopped_outdated_container_serves_until_it_is_replaced() {
    let scenario = Scenario::new("nextstale");
    scenario.deployment("web", &versioned_spec("v1", "/version", "20s"));
    scenario.apply();
    // What an apply killed after stopping the old container leaves: the new copy runs, and the
    // old container, stopped, still has the outdated spec.
    let name = scenario.container("web");
    let next = format!("{name}.orun-next");
    docker(&["rename", &name, &next]);
    let copy = inspect(&next).unwrap();
    let mut create = vec!["create".to_string(), "--name".to_string(), name.clone()];
    for (key, value) in copy["Config"]["Labels"].as_object().unwrap() {
        let value = match key.as_str() {
            "run.orcra.dev/spec-hash" => "v1:outdated",
            _ => value.as_str().unwrap(),
        };
        create.extend(["--label".to_string(), format!("{key}={value}")]);
    }
    create.push(test_image().to_string());
    docker(&create.iter().map(String::as_str).collect::<Vec<_>>());

    let plan = scenario.plan();
    assert_eq!(
        kinds_and_containers(&plan),
        [("recreate".to_string(), name.clone())],
        "the copy is kept while {name} does not run: {plan:#}"
    );
    let output = scenario.apply();
    assert!(
        output.contains("remove") && output.contains(&next),
        "the follow-up removes the copy once {name} runs: {output}"
    );
    assert_resolved(&scenario, &name, &copy["Id"]);
}
