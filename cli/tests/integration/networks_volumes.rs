//! Environment networks and named volumes against the real engine: deployments find each other by
//! name inside their environment and not across environments, a named volume keeps its data
//! through a recreate and outlives its deployments, and a node's `/status` lists the volumes.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::node::{Node, Origin};
use crate::support::{docker, inspect, test_image, text, Scenario, TEST_PAGE};

/// A deployment of the test image: busybox `httpd` serving `/www` on port 80.
fn web_spec() -> String {
    format!("  image: {}\n", test_image())
}

/// A deployment of the test image serving its named volume `data` on port 80.
fn volume_spec(greeting: &str) -> String {
    format!(
        "  image: {}\n  command: [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/data\"]\n  env:\n    GREETING: {greeting}\n  volumes:\n    - name: data\n      containerPath: /data\n",
        test_image()
    )
}

/// Runs busybox `args` inside `container`; the output on success, else `None`.
pub(crate) fn exec(container: &str, args: &[&str]) -> Option<String> {
    let output = Command::new("docker")
        .args(["exec", container, "/bin/busybox"])
        .args(args)
        .output()
        .unwrap();
    output.status.success().then(|| text(&output.stdout))
}

/// The address `container` resolves `name` to through Docker's DNS, `None` when it cannot. Static
/// busybox resolves names only in `nslookup`, so lookups and fetches are apart.
pub(crate) fn resolve(container: &str, name: &str) -> Option<String> {
    let answer = exec(container, &["nslookup", name])?;
    let (_, after_name) = answer.split_once(&format!("Name:\t{name}"))?;
    after_name
        .lines()
        .find_map(|line| line.strip_prefix("Address: "))
        .map(|address| address.trim().to_string())
}

/// The body of `GET /` on `address` port 80 as `container` fetches it with `nc` (busybox `wget`
/// needs the name services static busybox lacks), `None` when it cannot reach it.
pub(crate) fn fetch_from(container: &str, address: &str) -> Option<String> {
    let request =
        format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 3 {address} 80");
    let response = exec(container, &["sh", "-c", &request])?;
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

/// Whether Docker has the `kind` (`network` or `volume`) called `name`.
fn exists(kind: &str, name: &str) -> bool {
    Command::new("docker")
        .args([kind, "inspect", name])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn deployments_reach_each_other_by_name_only_inside_their_environment() {
    let first = Scenario::new("neta");
    first.deployment("web", &web_spec());
    first.deployment("client", &web_spec());
    let second = Scenario::new("netb");
    second.deployment("client", &web_spec());

    let plan = first.plan();
    let network = format!("orun-{}", first.environment);
    let action = &plan["actions"][0];
    assert_eq!(action["kind"], "network", "{plan:#}");
    assert_eq!(action["network"], network.as_str());
    assert_eq!(action["reason"], "missing");
    for key in ["deployment", "container", "image"] {
        assert_eq!(action[key], Value::Null, "{key} of {action}");
    }
    assert_eq!(plan["summary"]["network"], 1);
    first.apply();
    second.apply();

    let web = inspect(&first.container("web")).unwrap();
    let endpoint = &web["NetworkSettings"]["Networks"][&network];
    assert!(
        endpoint["Aliases"]
            .as_array()
            .is_some_and(|aliases| aliases.iter().any(|alias| alias == "web")),
        "{endpoint:#}"
    );
    let labels = docker(&[
        "network",
        "inspect",
        &network,
        "--format",
        "{{json .Labels}}",
    ]);
    let labels: Value = serde_json::from_str(&labels).unwrap();
    assert_eq!(labels["run.orcra.dev/managed-by"], "orun");
    assert_eq!(
        labels["run.orcra.dev/environment"],
        first.environment.as_str()
    );

    let address = resolve(&first.container("client"), "web").expect("web resolves");
    let web_address = web["NetworkSettings"]["Networks"][&network]["IPAddress"].clone();
    assert_eq!(
        web_address,
        address.as_str(),
        "web resolved to another container"
    );
    assert_eq!(
        fetch_from(&first.container("client"), &address).as_deref(),
        Some(TEST_PAGE)
    );
    let outsider = second.container("client");
    assert_eq!(
        resolve(&outsider, "web"),
        None,
        "another environment resolved web"
    );
    assert_eq!(resolve(&outsider, &first.container("web")), None);
    assert!(
        fetch_from(&outsider, &address).is_none(),
        "another environment reached web at its address"
    );

    let again = first.plan();
    assert_eq!(again["actions"], Value::Array(vec![]), "{again:#}");
}

#[test]
fn a_named_volume_keeps_its_data_and_outlives_its_deployments() {
    let scenario = Scenario::new("vol");
    scenario.deployment("db", &volume_spec("one"));
    scenario.deployment("reader", &volume_spec("reader"));
    let volume = format!("{}.data", scenario.environment);

    let plan = scenario.plan();
    let volumes: Vec<&Value> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|action| action["kind"] == "volume")
        .collect();
    assert_eq!(volumes.len(), 1, "one volume for two deployments: {plan:#}");
    assert_eq!(volumes[0]["volume"], volume.as_str());
    assert_eq!(volumes[0]["deployment"], Value::Null);
    scenario.apply();
    assert!(exec(
        &scenario.container("db"),
        &["sh", "-c", "echo kept > /data/index.html"]
    )
    .is_some());
    assert_eq!(
        exec(&scenario.container("reader"), &["cat", "/data/index.html"]).as_deref(),
        Some("kept\n"),
        "deployments naming one volume share it"
    );

    scenario.deployment("db", &volume_spec("two"));
    let recreate = scenario.plan();
    assert_eq!(recreate["summary"]["recreate"], 1, "{recreate:#}");
    scenario.apply();
    assert_eq!(
        exec(&scenario.container("db"), &["cat", "/data/index.html"]).as_deref(),
        Some("kept\n"),
        "the data did not survive the recreate"
    );

    scenario.remove_deployment("db");
    scenario.apply();
    assert!(inspect(&scenario.container("db")).is_none());
    assert!(
        exists("volume", &volume),
        "removing a deployment removed its volume"
    );

    scenario.remove_deployment("reader");
    let output = scenario.orun(&["apply", "--once", "--allow-empty"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(scenario.containers().is_empty());
    assert!(
        exists("volume", &volume),
        "--allow-empty removed the volume"
    );
    assert!(exists("network", &format!("orun-{}", scenario.environment)));
}

#[test]
fn status_lists_the_environment_volumes() {
    let origin = Origin::new();
    origin.write(
        "deployments/db.yaml",
        &format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: db\nspec:\n{}",
            volume_spec("one")
        ),
    );
    origin.commit("db with a volume");
    let node = Node::start("volstatus", origin.bare().to_str().unwrap());
    let docker_name = format!("{}.data", node.environment);
    let status = node.wait_for("volume listed", Duration::from_secs(60), |status| {
        status["volumes"]["data"]["in_use"] == true
    });
    assert_eq!(
        status["volumes"]["data"],
        serde_json::json!({"name": "data", "docker_name": docker_name, "in_use": true})
    );

    std::fs::remove_file(origin.work().join("deployments/db.yaml")).unwrap();
    origin.write(
        "deployments/other.yaml",
        &format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: other\nspec:\n{}",
            web_spec()
        ),
    );
    origin.commit("remove db");
    node.wait_for("volume unused", Duration::from_secs(60), |status| {
        status["volumes"]["data"]["in_use"] == false
    });
    assert!(exists("volume", &docker_name));
}
