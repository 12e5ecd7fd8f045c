//! Swarm nodes on a real single-node swarm: `orun apply --once --node` creates one service per
//! deployment on the environment's overlay network (a host-mode port answers), updates it with
//! new tasks carrying the new env, scales it, repairs a service scaled or deleted by hand, lets
//! Swarm roll back a version whose readiness fails and removes a deployment's service; a node
//! daemon on the manager reports `role: leader` and its services' tasks, and repairs drift. The
//! swarm is made by the first test that needs it (`docker swarm init --advertise-addr
//! 127.0.0.1`) and left by the last one, unless it existed before, so the other tests run on a
//! plain engine. This machine's routing mesh does not answer on published ports, so the tests
//! publish in host mode.
//!
//! A test binary of its own, behind the `docker-tests` feature like `integration`: making and
//! leaving a swarm breaks the name resolution and the published ports of standalone containers
//! that run beside it (moby/moby#45144 and #42877, seen on Engine 20.10: a container created
//! after `docker swarm leave` no longer resolves its neighbours on a bridge network). Cargo runs
//! test binaries one after another, so no other Docker-backed test runs while these hold a swarm.

// The Docker-backed tests' shared support; this binary uses only part of it.
#[allow(dead_code, unused_imports)]
#[path = "../integration/support/mod.rs"]
mod support;

use std::process::Output;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use crate::support::node::{Node, Origin};
use crate::support::{docker, eventually, free_port, http_get, test_image, Scenario};

const LIMIT: Duration = Duration::from_secs(120);

/// How many tests use the swarm now, and whether the tests made it.
static SWARM: Mutex<(usize, bool)> = Mutex::new((0, false));

/// The swarm while a test holds it: made by the first holder when the engine has none, left by
/// the last holder when the tests made it.
struct SwarmLab;

impl SwarmLab {
    fn join() -> Self {
        let mut swarm = SWARM.lock().unwrap();
        if swarm.0 == 0 {
            let state = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
            if state != "active" {
                docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
                swarm.1 = true;
            }
        }
        swarm.0 += 1;
        SwarmLab
    }
}

impl Drop for SwarmLab {
    fn drop(&mut self) {
        let mut swarm = SWARM.lock().unwrap();
        swarm.0 -= 1;
        if swarm.0 == 0 && swarm.1 {
            docker(&["swarm", "leave", "--force"]);
            swarm.1 = false;
        }
    }
}

/// Removes the environment's services, then its network, when the test ends.
struct Services(String);

impl Drop for Services {
    fn drop(&mut self) {
        let filter = format!("label=run.orcra.dev/environment={}", self.0);
        let ids = docker(&["service", "ls", "-q", "--filter", &filter]);
        for id in ids.lines() {
            let _ = std::process::Command::new("docker")
                .args(["service", "rm", id])
                .output();
        }
        // The tasks' containers go shortly after their service; the network only once they did.
        eventually(Duration::from_secs(30), || {
            std::process::Command::new("docker")
                .args(["network", "rm", &format!("orun-{}", self.0)])
                .output()
                .is_ok_and(|output| {
                    output.status.success()
                        || String::from_utf8_lossy(&output.stderr).contains("not found")
                })
        });
    }
}

/// `nodes/manager.yaml`: a swarm node of `environment`.
fn manager(environment: &str) -> String {
    format!(
        "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: manager\nspec:\n  \
         host: 127.0.0.1\n  gitRepo: https://git.example.com/infra.git\n  engine: swarm\n  \
         environment: {environment}\n"
    )
}

/// The test image serving on 80, published in host mode on `port`, with an exec readiness probe.
fn web(port: u16) -> String {
    format!(
        "  image: {}\n  ports:\n    - containerPort: 80\n      port: {port}\n      mode: host\n  \
         stopTimeout: 1s\n  health:\n    readiness:\n      exec: [/bin/busybox, \"true\"]\n      \
         interval: 1s\n      deadline: 5s\n",
        test_image()
    )
}

/// A worker without published ports, so Swarm may run several tasks on one node.
fn worker(version: &str, replicas: u32) -> String {
    format!(
        "  image: {}\n  replicas: {replicas}\n  env:\n    VERSION: \"{version}\"\n  stopTimeout: 1s\n",
        test_image()
    )
}

/// The worker at `version` with an exec readiness probe that never passes.
fn failing_worker(version: &str, replicas: u32) -> String {
    format!(
        "{}  health:\n    readiness:\n      exec: [/bin/busybox, \"false\"]\n      interval: 1s\n      \
         deadline: 3s\n",
        worker(version, replicas)
    )
}

fn orun(scenario: &Scenario, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_orun"))
        .args(args)
        .args([
            "--repo",
            scenario.repo().to_str().unwrap(),
            "--node",
            "manager",
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("orun runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `orun apply --once --node manager`; returns (success, stdout).
fn apply(scenario: &Scenario) -> (bool, String) {
    let output = orun(scenario, &["apply", "--once"]);
    (
        output.status.success(),
        format!("{}{}", text(&output.stdout), text(&output.stderr)),
    )
}

fn applied(scenario: &Scenario) -> String {
    let (ok, out) = apply(scenario);
    assert!(ok, "apply failed:\n{out}");
    out
}

/// `(kind, service, reason)` of each action of the plan.
fn plan(scenario: &Scenario) -> Vec<(String, String, String)> {
    let output = orun(scenario, &["plan", "--output", "json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["engine"], "swarm");
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| {
            let field = |key: &str| action[key].as_str().unwrap_or_default().to_string();
            (field("kind"), field("container"), field("reason"))
        })
        .collect()
}

fn triple(kind: &str, service: &str, reason: &str) -> (String, String, String) {
    (kind.to_string(), service.to_string(), reason.to_string())
}

/// The replicas the service asks for.
fn replicas(service: &str) -> u64 {
    docker(&[
        "service",
        "inspect",
        service,
        "--format",
        "{{.Spec.Mode.Replicated.Replicas}}",
    ])
    .parse()
    .unwrap()
}

/// The env of the service's running tasks' containers, one list per task.
fn running_task_envs(service: &str) -> Vec<String> {
    let filter = format!("label=com.docker.swarm.service.name={service}");
    docker(&["ps", "-q", "--filter", &filter])
        .lines()
        .map(|id| {
            docker(&[
                "inspect",
                id,
                "--format",
                "{{range .Config.Env}}{{println .}}{{end}}",
            ])
        })
        .collect()
}

#[test]
fn a_swarm_node_creates_updates_scales_repairs_rolls_back_and_removes_services() {
    let _swarm = SwarmLab::join();
    let scenario = Scenario::new("swarm");
    let _services = Services(scenario.environment.clone());
    let environment = scenario.environment.clone();
    std::fs::create_dir_all(scenario.repo().join("nodes")).unwrap();
    std::fs::write(
        scenario.repo().join("nodes/manager.yaml"),
        manager(&environment),
    )
    .unwrap();
    let port = free_port();
    let web_service = format!("{environment}_web");
    let worker_service = format!("{environment}_worker");

    // Create: the overlay network and both services; the host-mode port answers.
    scenario.deployment("web", &web(port));
    scenario.deployment("worker", &worker("1", 1));
    assert_eq!(
        plan(&scenario),
        [
            triple("network", "", "missing"),
            triple("create", &web_service, "missing"),
            triple("create", &worker_service, "missing"),
        ]
    );
    applied(&scenario);
    let network = format!("orun-{environment}");
    assert_eq!(
        docker(&["network", "inspect", &network, "--format", "{{.Driver}}"]),
        "overlay"
    );
    assert!(
        eventually(LIMIT, || http_get(port, "/").is_some()),
        "the host-mode port {port} does not answer"
    );
    assert!(plan(&scenario).is_empty(), "converged after the apply");

    // Update: the new tasks carry the new env, and the plan named the field.
    scenario.deployment("worker", &worker("2", 1));
    assert_eq!(
        plan(&scenario),
        [triple("update", &worker_service, "spec_changed")]
    );
    applied(&scenario);
    // The replaced task's container may take a moment to stop after Swarm calls the update done.
    assert!(
        eventually(LIMIT, || {
            let envs = running_task_envs(&worker_service);
            envs.len() == 1 && envs[0].contains("VERSION=2")
        }),
        "{:?}",
        running_task_envs(&worker_service)
    );

    // Scale: only the replica count changed.
    scenario.deployment("worker", &worker("2", 3));
    assert_eq!(
        plan(&scenario),
        [triple("scale", &worker_service, "replicas_changed")]
    );
    applied(&scenario);
    assert_eq!(replicas(&worker_service), 3);
    assert!(eventually(LIMIT, || running_task_envs(&worker_service)
        .len()
        == 3));

    // Drift: a service scaled by hand is scaled back, one deleted by hand is created again.
    docker(&[
        "service",
        "scale",
        "--detach",
        &format!("{worker_service}=1"),
    ]);
    docker(&["service", "rm", &web_service]);
    assert_eq!(
        plan(&scenario),
        [
            triple("scale", &worker_service, "replicas_changed"),
            triple("create", &web_service, "missing"),
        ]
    );
    applied(&scenario);
    assert_eq!(replicas(&worker_service), 3);
    assert!(eventually(LIMIT, || http_get(port, "/").is_some()));

    // A version whose readiness never passes: Swarm rolls the service back, the old tasks serve.
    scenario.deployment("worker", &failing_worker("3", 3));
    let (ok, out) = apply(&scenario);
    assert!(!ok, "a failing readiness must fail the apply:\n{out}");
    assert!(out.contains("rolled the service back"), "{out}");
    assert!(
        eventually(LIMIT, || {
            let envs = running_task_envs(&worker_service);
            envs.len() == 3 && envs.iter().all(|env| env.contains("VERSION=2"))
        }),
        "{:?}",
        running_task_envs(&worker_service)
    );

    // Remove: a deployment gone from the revision takes its service with it.
    scenario.remove_deployment("worker");
    assert_eq!(
        plan(&scenario),
        [triple("remove", &worker_service, "orphaned")]
    );
    applied(&scenario);
    let filter = format!("name={worker_service}");
    assert_eq!(
        docker(&["service", "ls", "-q", "--filter", &filter]),
        "",
        "the worker service is gone"
    );
}

#[test]
fn a_swarm_node_daemon_leads_reports_tasks_and_repairs_a_deleted_service() {
    let _swarm = SwarmLab::join();
    let origin = Origin::new();
    let mut node = Node::start_with(
        "swarm-node",
        origin.bare().to_str().unwrap(),
        "  engine: swarm\n",
    );
    let _services = Services(node.environment.clone());
    let service = format!("{}_worker", node.environment);
    origin.write(
        "deployments/worker.yaml",
        &format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: worker\nspec:\n{}",
            worker("1", 2)
        ),
    );
    origin.commit("worker on the swarm");
    let status = node.wait_for("the service's tasks run", LIMIT, |status| {
        status["deployments"]["worker"]["tasks_running"] == 2
    });
    assert_eq!(status["node"]["role"], "leader", "{status:#}");
    assert_eq!(status["deployments"]["worker"]["tasks_desired"], 2);
    assert_eq!(status["deployments"]["worker"]["ready"], true);

    docker(&["service", "rm", &service]);
    let filter = format!("name={service}");
    assert!(
        eventually(LIMIT, || !docker(&[
            "service", "ls", "-q", "--filter", &filter
        ])
        .is_empty()),
        "the daemon did not create the deleted service again"
    );
    node.wait_for("the repaired service's tasks run", LIMIT, |status| {
        status["deployments"]["worker"]["tasks_running"] == 2
    });
    assert_eq!(replicas(&service), 2);
    node.terminate(Duration::from_secs(20));
}
