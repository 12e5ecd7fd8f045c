//! `orun fleet status` and `orun fleet plan` over two real node daemons on this host, each on its
//! own status port and named in the repository by `statusAddr`: all in sync, then one stopped;
//! previews with a third node that does not answer, with none, and with a change pending; and
//! `orun plan --observed` with a node's `/observed` URL against the same plan from a file.

use std::fs;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::support::free_port;
use crate::support::node::{Node, Origin};

fn fleet_status(origin: &Origin, output: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orun"))
        .args(["fleet", "status", "--repo"])
        .arg(origin.work())
        .args(["--output", output])
        .env("NO_COLOR", "1")
        .output()
        .expect("orun runs")
}

fn fleet_json(origin: &Origin) -> (Option<i32>, Value) {
    let output = fleet_status(origin, "json");
    let text = String::from_utf8_lossy(&output.stdout);
    let document = serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}: {text}"));
    (output.status.code(), document)
}

/// The node's own settings as a manifest of the repository, with where its status API listens.
pub(crate) fn publish(origin: &Origin, node: &Node, name: &str) {
    let manifest = fs::read_to_string(&node.config).unwrap();
    origin.write(
        &format!("nodes/{name}.yaml"),
        &format!("{manifest}  statusAddr: 127.0.0.1:{}\n", node.status_port),
    );
}

#[test]
fn two_daemons_in_sync_then_one_stopped() {
    let origin = Origin::new();
    origin.write("README.md", "fleet\n");
    origin.commit("empty start");
    let url = origin.bare().to_str().unwrap().to_string();
    let first = Node::start("fleet-a", &url);
    let mut second = Node::start("fleet-b", &url);
    publish(&origin, &first, "fleet-a");
    publish(&origin, &second, "fleet-b");
    let commit = origin.commit("both nodes");
    for node in [&first, &second] {
        node.wait_for("commit applied", Duration::from_secs(30), |status| {
            status["node"]["applied_commit"] == commit.as_str()
        });
    }

    let (code, document) = fleet_json(&origin);
    assert_eq!(code, Some(0), "{document:#}");
    let nodes = document["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{document:#}");
    for (report, node) in nodes.iter().zip([&first, &second]) {
        assert_eq!(report["reachable"], true, "{document:#}");
        assert_eq!(
            report["status_addr"],
            format!("127.0.0.1:{}", node.status_port)
        );
        assert_eq!(report["environment"], node.environment.as_str());
        assert_eq!(report["sync_state"], "synced");
        assert_eq!(report["git_head"], commit.as_str());
        assert_eq!(report["applied_commit"], commit.as_str());
        assert_eq!(report["healthy"], true);
        assert_eq!(report["deployments_ready"], 0);
        assert_eq!(report["deployments_total"], 0);
        assert_eq!(report["error"], Value::Null);
    }
    let human = fleet_status(&origin, "human");
    let text = String::from_utf8_lossy(&human.stdout);
    assert_eq!(human.status.code(), Some(0), "{text}");
    assert!(text.contains(&commit[..12]), "{text}");

    second.kill();
    let (code, document) = fleet_json(&origin);
    assert_eq!(code, Some(1), "{document:#}");
    assert_eq!(document["nodes"][0]["reachable"], true, "{document:#}");
    assert_eq!(document["nodes"][1]["name"], "fleet-b");
    assert_eq!(document["nodes"][1]["reachable"], false, "{document:#}");
    assert!(document["nodes"][1]["error"].is_string(), "{document:#}");
}

fn orun(origin: &Origin, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orun"))
        .args(args)
        .args(["--repo", origin.work().to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .expect("orun runs")
}

fn json_of(output: &Output) -> Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&text).unwrap_or_else(|error| {
        panic!(
            "{error}: {text}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn node_entry<'a>(document: &'a Value, name: &str) -> &'a Value {
    document["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {document:#}"))
}

/// `deployments/web.yaml`: the test image with `GREETING`, no published port, so that both
/// nodes of the host can run it.
fn web(origin: &Origin, greeting: &str) {
    origin.write(
        "deployments/web.yaml",
        &format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  \
             image: {}\n  env:\n    GREETING: {greeting}\n  stopTimeout: 1s\n",
            crate::support::test_image()
        ),
    );
}

#[test]
fn fleet_plan_previews_every_live_node_and_names_the_silent_one() {
    let origin = Origin::new();
    origin.write("README.md", "fleet plan\n");
    origin.commit("empty start");
    let url = origin.bare().to_str().unwrap().to_string();
    let first = Node::start("plan-a", &url);
    let second = Node::start("plan-b", &url);
    publish(&origin, &first, "plan-a");
    publish(&origin, &second, "plan-b");
    web(&origin, "hello");
    let gone = free_port();
    origin.write(
        "nodes/plan-c.yaml",
        &format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: plan-c\nspec:\n  \
             host: 127.0.0.1\n  gitRepo: {url}\n  environment: {}-c\n  statusAddr: 127.0.0.1:{gone}\n",
            first.environment
        ),
    );
    let commit = origin.commit("web on every node");
    for node in [&first, &second] {
        node.wait_for("web applied and ready", Duration::from_secs(60), |status| {
            status["node"]["applied_commit"] == commit.as_str()
                && status["deployments"]["web"]["ready"] == true
        });
    }

    // One node does not answer: exit 1, the others' plans are there.
    let output = orun(&origin, &["fleet", "plan", "--output", "json"]);
    let document = json_of(&output);
    assert_eq!(output.status.code(), Some(1), "{document:#}");
    for name in ["plan-a", "plan-b"] {
        let node = node_entry(&document, name);
        assert_eq!(node["reachable"], true, "{document:#}");
        assert_eq!(node["error"], Value::Null, "{document:#}");
        assert_eq!(
            node["plan"]["actions"],
            serde_json::json!([]),
            "{document:#}"
        );
        assert_eq!(node["plan"]["summary"]["unchanged"], 1, "{document:#}");
    }
    let silent = node_entry(&document, "plan-c");
    assert_eq!(silent["reachable"], false, "{document:#}");
    assert_eq!(silent["plan"], Value::Null);
    let error = silent["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("http://127.0.0.1:{gone}/observed")),
        "{error}"
    );
    let human = orun(&origin, &["fleet", "plan"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert_eq!(human.status.code(), Some(1), "{text}");
    assert!(text.contains("No changes. Node is converged."), "{text}");
    assert!(text.contains("  plan-c  unreachable: "), "{text}");

    // Every node answers and nothing would change: exit 0, also with --detailed-exitcode.
    fs::remove_file(origin.work().join("nodes/plan-c.yaml")).unwrap();
    let output = orun(&origin, &["fleet", "plan", "--detailed-exitcode"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("  plan-a  No changes.\n"), "{text}");
    assert!(text.contains("  plan-b  No changes.\n"), "{text}");

    // A change in the working tree: each node would recreate its web, exit 2 when asked.
    web(&origin, "bonjour");
    let output = orun(
        &origin,
        &["fleet", "plan", "--output", "json", "--detailed-exitcode"],
    );
    let document = json_of(&output);
    assert_eq!(output.status.code(), Some(2), "{document:#}");
    for (name, node) in [("plan-a", &first), ("plan-b", &second)] {
        let actions = &node_entry(&document, name)["plan"]["actions"];
        assert_eq!(actions.as_array().unwrap().len(), 1, "{document:#}");
        assert_eq!(actions[0]["kind"], "recreate");
        assert_eq!(actions[0]["container"], node.container("web"));
        assert_eq!(actions[0]["changes"][0]["field"], "env.GREETING");
        assert_eq!(actions[0]["changes"][0]["new"], "bonjour");
    }
    assert_eq!(
        orun(&origin, &["fleet", "plan"]).status.code(),
        Some(0),
        "changes alone do not fail without --detailed-exitcode"
    );

    // A node's /observed plans as the local engine does, and shows what plans read only.
    let snapshot = origin.dir.path().join("snapshot.json");
    let snapshot = snapshot.to_str().unwrap();
    let local = orun(
        &origin,
        &[
            "plan",
            "--node",
            "plan-a",
            "--save-observed",
            snapshot,
            "--output",
            "json",
        ],
    );
    assert_eq!(local.status.code(), Some(0), "{}", json_of(&local));
    let observed_url = format!("http://127.0.0.1:{}/observed", first.status_port);
    let plan_of = |source: &str| {
        let output = orun(
            &origin,
            &[
                "plan",
                "--node",
                "plan-a",
                "--observed",
                source,
                "--output",
                "json",
            ],
        );
        assert_eq!(output.status.code(), Some(0), "{}", json_of(&output));
        json_of(&output)
    };
    let from_url = plan_of(&observed_url);
    assert_eq!(from_url, plan_of(snapshot));
    assert_eq!(from_url, json_of(&local));
    assert_eq!(from_url["summary"]["recreate"], 1, "{from_url:#}");
    let served: Value = serde_json::from_str(&first.get("/observed").unwrap()).unwrap();
    let container = served["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|container| container["name"] == first.container("web").as_str())
        .unwrap_or_else(|| panic!("{served:#}"));
    assert!(container.get("address").is_none(), "{container:#}");
    let labels = container["labels"].as_object().unwrap();
    assert!(
        labels.keys().all(|key| key.starts_with("run.orcra.dev/")),
        "{labels:#?}"
    );
    assert!(labels["run.orcra.dev/spec"]
        .as_str()
        .unwrap()
        .contains("\"GREETING\":\"hello\""));
}
