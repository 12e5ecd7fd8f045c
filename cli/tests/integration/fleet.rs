//! `orun fleet status` over two real node daemons on this host, each on its own status port and
//! named in the repository by `statusAddr`: all in sync, then one stopped.

use std::fs;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

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
fn publish(origin: &Origin, node: &Node, name: &str) {
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
