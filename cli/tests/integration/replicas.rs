//! Replicas with real containers and a node's real Caddy: Docker's DNS answers the deployment's
//! name with every replica, scaling up recreates nothing and scaling down removes the highest
//! replicas; under steady load through Caddy, a rolling replacement of three replicas (start-first,
//! then stop-first) fails no request and never leaves fewer than two replicas in the route, and a
//! new version that never gets ready is rolled back on the first replica while the others keep
//! the old one; a replica failing liveness leaves the route until it passes again.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::rollout::{deployment_manifest, node_serving, versioned_spec};
use crate::support::ingress::{IngressPorts, Load, Tally};
use crate::support::node::{Node, Origin};
use crate::support::{docker, env_of, inspect, test_image, Scenario};

const LIMIT: Duration = Duration::from_secs(90);

/// Deployment `web` at `version` with `replicas`, ready on `/version`, and `extra` spec lines.
fn web(version: &str, replicas: u32, extra: &str) -> String {
    let spec = versioned_spec(version, "/version", "20s");
    deployment_manifest("web", &format!("{spec}  replicas: {replicas}\n{extra}"))
}

/// The addresses Docker's DNS gives for `name` inside the network `network`, asked from a
/// throwaway busybox container there.
fn resolve(network: &str, name: &str) -> BTreeSet<String> {
    let output = docker(&[
        "run",
        "--rm",
        "--network",
        network,
        test_image(),
        "nslookup",
        name,
    ]);
    // busybox prints the server first (`Server:` and its `Address:`), then the answers.
    output
        .split(&format!("Name:\t{name}"))
        .skip(1)
        .flat_map(|answer| answer.lines())
        .filter_map(|line| line.trim().strip_prefix("Address:"))
        .map(|address| address.trim().to_string())
        .collect()
}

/// The containers of the three replicas of the deployment whose container is `first`.
fn replica_names(first: &str) -> [String; 3] {
    [
        first.to_string(),
        format!("{first}.2"),
        format!("{first}.3"),
    ]
}

/// The scenario's plan is one `kind` action for each of `containers`, for `reason`.
fn assert_plan(scenario: &Scenario, kind: &str, containers: &[String], reason: &str) {
    let plan = scenario.plan();
    let actions: Vec<(&str, &str, &str)> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| {
            let field = |key: &str| action[key].as_str().unwrap_or_default();
            (field("kind"), field("container"), field("reason"))
        })
        .collect();
    let expected: Vec<(&str, &str, &str)> = containers
        .iter()
        .map(|container| (kind, container.as_str(), reason))
        .collect();
    assert_eq!(actions, expected, "{plan:#}");
}

fn address(container: &Value, network: &str) -> String {
    container["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn every_replica_answers_to_the_deployment_name_and_scaling_recreates_nothing() {
    let scenario = Scenario::new("replicas");
    scenario.deployment("web", &versioned_spec("v1", "/version", "20s"));
    scenario.apply();
    let first = scenario.container("web");
    let id = inspect(&first).unwrap()["Id"].clone();

    scenario.deployment(
        "web",
        &format!("{}  replicas: 3\n", versioned_spec("v1", "/version", "20s")),
    );
    let names = replica_names(&first);
    assert_plan(&scenario, "create", &names[1..], "missing");
    scenario.apply();
    assert_eq!(scenario.containers(), names);
    assert_eq!(
        inspect(&first).unwrap()["Id"],
        id,
        "scaling up recreated {first}"
    );
    let third = inspect(&names[2]).unwrap();
    assert_eq!(third["Config"]["Labels"]["run.orcra.dev/replica"], "3");
    assert!(env_of(&third).contains(&"ORUN_REPLICA=3".to_string()));

    let network = format!("orun-{}", scenario.environment);
    let addresses: BTreeSet<String> = names
        .iter()
        .map(|name| address(&inspect(name).unwrap(), &network))
        .collect();
    assert_eq!(addresses.len(), 3, "{addresses:?}");
    assert_eq!(resolve(&network, "web"), addresses);

    scenario.deployment("web", &versioned_spec("v1", "/version", "20s"));
    assert_plan(&scenario, "remove", &names[1..], "scaled_down");
    scenario.apply();
    assert_eq!(scenario.containers(), [first.as_str()]);
    assert_eq!(inspect(&first).unwrap()["Id"], id);
}

/// A node with Caddy serving deployment `web` (three replicas, `manifest`) at
/// `$ENV.replicas.example.com` through all three, under steady load once v1 answered.
struct Serving {
    origin: Origin,
    node: Node,
    host: String,
    /// The replicas' containers.
    names: [String; 3],
    load: Load,
}

impl Serving {
    fn start(test: &str, manifest: &str) -> Self {
        let origin = Origin::new();
        let ingress = IngressPorts::new();
        let (node, host) = node_serving(test, &origin, &ingress, manifest, "replicas");
        node.wait_for("three upstreams", LIMIT, |s| upstream_count(s) == 3);
        let names = replica_names(&node.container("web"));
        let load = Load::start(ingress.http, &host);
        load.wait_for_version("v1");
        Serving {
            origin,
            node,
            host,
            names,
            load,
        }
    }

    /// Waits until requests kept flowing for a while.
    fn keeps_serving(&self) {
        let settled = self.load.snapshot().ok;
        assert!(
            crate::support::eventually(Duration::from_secs(10), || self.load.snapshot().ok
                > settled + 50),
            "the load stalled: {:?}",
            self.load.snapshot()
        );
    }
}

/// How many upstreams the status shows for Service `web`.
fn upstream_count(status: &Value) -> usize {
    status["services"]["web"]["upstreams"]
        .as_array()
        .map_or(0, Vec::len)
}

/// A thread reading the config orun last gave Caddy, every 20 ms, and keeping the fewest
/// upstreams the route of `host` had.
struct Upstreams {
    fewest: Arc<Mutex<Option<usize>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Upstreams {
    fn watch(node: &Node, host: &str) -> Self {
        let config = node.data_dir().join("caddy").join("orun-caddy.json");
        let fewest = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (fewest, stop, host) = (fewest.clone(), stop.clone(), host.to_string());
            std::thread::spawn(move || {
                let started = Instant::now();
                while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(300) {
                    if let Some(count) = upstreams_of(&config, &host) {
                        let mut fewest = fewest.lock().unwrap();
                        *fewest = Some(fewest.map_or(count, |fewest: usize| fewest.min(count)));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Upstreams {
            fewest,
            stop,
            thread: Some(thread),
        }
    }

    /// The fewest upstreams seen since the last call, and starts over.
    fn take(&self) -> Option<usize> {
        self.fewest.lock().unwrap().take()
    }
}

impl Drop for Upstreams {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How many upstreams the route of `host` has in Caddy's config file; `None` while the file is
/// being written.
fn upstreams_of(config: &Path, host: &str) -> Option<usize> {
    let config: Value = serde_json::from_str(&std::fs::read_to_string(config).ok()?).ok()?;
    let routes = config["apps"]["http"]["servers"]["orun-http"]["routes"].as_array()?;
    let route = routes
        .iter()
        .find(|route| route["match"][0]["host"][0] == host)?;
    route["handle"][0]["upstreams"].as_array().map(Vec::len)
}

fn assert_no_failures(tally: &Tally, during: &str) {
    assert!(
        tally.failures.is_empty(),
        "{} of {} requests failed {during}:\n{}",
        tally.failures.len(),
        tally.ok + tally.failures.len(),
        tally.failures.join("\n")
    );
}

#[test]
fn a_rolling_replacement_of_three_replicas_under_steady_load_fails_no_request() {
    let Serving {
        origin,
        node,
        host,
        names,
        load,
    } = Serving::start("replroll", &web("v1", 3, ""));
    let upstreams = Upstreams::watch(&node, &host);

    // v2 start-first (the default), v3 stop-first: each replaces the three replicas in turn.
    for (version, extra, fewest) in [("v2", "", 3), ("v3", "  rollout: stopFirst\n", 2)] {
        upstreams.take();
        let before: Vec<Value> = names.iter().map(|name| inspect(name).unwrap()).collect();
        origin.write("deployments/web.yaml", &web(version, 3, extra));
        let commit = origin.commit(version);
        node.wait_for(&format!("{version} applied"), LIMIT, |s| {
            s["node"]["applied_commit"] == commit.as_str()
                && s["deployments"]["web"]["replicas_ready"] == 3
                && upstream_count(s) == 3
        });
        load.wait_for_version(version);
        for (name, old) in names.iter().zip(&before) {
            let now = inspect(name).unwrap();
            assert_ne!(now["Id"], old["Id"], "{name} was not replaced");
            assert!(env_of(&now).contains(&format!("VERSION={version}")));
        }
        assert_eq!(
            upstreams.take(),
            Some(fewest),
            "{version}: the fewest upstreams Caddy had during the rollout"
        );
    }
    let tally = load.finish();
    assert_no_failures(&tally, "during the rolling replacements");
    assert_eq!(tally.versions, ["v1", "v2", "v3"]);
    let status = node.status();
    assert_eq!(status["deployments"]["web"]["replicas"], 3);
}

#[test]
fn a_version_that_never_gets_ready_is_rolled_back_on_the_first_replica_only() {
    let serving = Serving::start("replbroken", &web("v1", 3, ""));
    let ids: Vec<Value> = serving
        .names
        .iter()
        .map(|name| inspect(name).unwrap()["Id"].clone())
        .collect();

    let spec = versioned_spec("v2", "/missing", "3s");
    serving.origin.write(
        "deployments/web.yaml",
        &deployment_manifest("web", &format!("{spec}  replicas: 3\n")),
    );
    let broken = serving.origin.commit("v2 never ready");
    let status = serving.node.wait_for("quarantined", LIMIT, |s| {
        s["node"]["git_head"] == broken.as_str() && s["deployments"]["web"]["quarantined"] == true
    });
    // Requests keep flowing for a while after the rollback settled.
    serving.keeps_serving();
    let tally = serving.load.finish();

    let web = &status["deployments"]["web"];
    assert_eq!(web["last_action"], "rolled_back", "{status:#}");
    let error = web["last_error"].as_str().unwrap();
    assert!(error.contains("/missing"), "{error}");
    assert_no_failures(&tally, "while the new version was not ready");
    assert_eq!(tally.versions, ["v1"], "only the old version answered");
    for (name, id) in serving.names.iter().zip(&ids) {
        let container = inspect(name).unwrap();
        assert_eq!(&container["Id"], id, "{name} kept the old version");
        assert!(env_of(&container).contains(&"VERSION=v1".to_string()));
        assert!(inspect(&format!("{name}.orun-next")).is_none());
    }
}

#[test]
fn a_replica_failing_liveness_gets_no_traffic_while_the_others_serve() {
    // A failureThreshold high enough that the failing replica is never restarted here.
    let liveness = "    liveness:\n      http: localhost:80/version\n      interval: 1s\n      timeout: 1s\n      failureThreshold: 100\n";
    let spec = versioned_spec("v1", "/version", "20s");
    let manifest = deployment_manifest("web", &format!("{spec}{liveness}  replicas: 3\n"));
    let serving = Serving::start("replalive", &manifest);
    let (node, failing) = (&serving.node, &serving.names[1]);
    let network = format!("orun-{}", node.environment);
    let address = address(&inspect(failing).unwrap(), &network);

    docker(&["exec", failing, "/bin/busybox", "rm", "/www/version"]);
    let status = node.wait_for("web.2 out of the route", LIMIT, |s| {
        upstream_count(s) == 2 && s["deployments"]["web"]["replicas_ready"] == 2
    });
    let upstreams = status["services"]["web"]["upstreams"].to_string();
    assert!(!upstreams.contains(&address), "{upstreams}");
    serving.keeps_serving();

    docker(&[
        "exec",
        failing,
        "/bin/busybox",
        "sh",
        "-c",
        "echo v1 > /www/version",
    ]);
    node.wait_for("web.2 back in the route", LIMIT, |s| {
        upstream_count(s) == 3 && s["deployments"]["web"]["replicas_ready"] == 3
    });
    assert_eq!(
        inspect(failing).unwrap()["RestartCount"],
        0,
        "web.2 was not restarted"
    );
    let tally = serving.load.finish();
    // The requests Caddy sent to web.2 between its file going and the next probe got a 404 from
    // it, as they would have from any replica serving that answer; only those may fail.
    assert!(
        tally
            .failures
            .iter()
            .all(|failure| failure.contains("Ok((404")),
        "{:#?}",
        tally.failures
    );
}
