//! Operating a running node: `orun pin` puts an older commit back and holds it through new commits,
//! SIGTERM and SIGKILL until `orun unpin`; `orun suspend` holds every action, drift repair and new
//! commits included, while `/status` shows what is pending, until `orun resume`; `/history` and
//! `orun history` list the applies newest first; a control command with no node running names the
//! socket it tried.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::support::node::{web_manifest, Node, Origin};
use crate::support::{docker, env_of, eventually, free_port, inspect};

const LIMIT: Duration = Duration::from_secs(60);

fn orun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orun"))
        .args(args)
        .output()
        .expect("orun")
}

/// `orun <command> --data-dir <the node's> <extra>`, which must succeed; its stdout.
fn control(node: &Node, command: &[&str]) -> String {
    let data_dir = node.data_dir();
    let mut args = command.to_vec();
    args.extend(["--data-dir", data_dir.to_str().unwrap()]);
    let output = orun(&args);
    assert!(
        output.status.success(),
        "orun {}: {}\nlog:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr),
        node.log_text()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn greeting(name: &str) -> Option<String> {
    let container = inspect(name)?;
    env_of(&container)
        .iter()
        .find_map(|entry| entry.strip_prefix("GREETING=").map(str::to_string))
}

/// Waits until the node has finished a pass that began after this call, so that what it did with
/// the last fetch shows.
fn wait_for_a_later_pass(node: &Node) {
    let before = node.status()["node"]["last_reconcile_time"].clone();
    node.wait_for("a later pass", LIMIT, |s| {
        s["node"]["last_reconcile_time"] != before
    });
    let before = node.status()["node"]["last_reconcile_time"].clone();
    node.wait_for("another later pass", LIMIT, |s| {
        s["node"]["last_reconcile_time"] != before
    });
}

fn history(node: &Node) -> Vec<Value> {
    let body = node.get("/history?limit=200").expect("/history answers");
    let document: Value = serde_json::from_str(&body).unwrap();
    document["entries"].as_array().unwrap().clone()
}

#[test]
fn a_pin_puts_an_older_commit_back_and_holds_it_until_unpin() {
    let origin = Origin::new();
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "one"));
    let v1 = origin.commit("v1");
    let mut node = Node::start("pin", origin.bare().to_str().unwrap());
    let web = node.container("web");
    node.wait_for("v1 applied", LIMIT, |s| {
        s["node"]["applied_commit"] == v1.as_str()
    });
    origin.write("deployments/web.yaml", &web_manifest("web", port, "two"));
    let v2 = origin.commit("v2: a bad greeting");
    node.wait_for("v2 applied", LIMIT, |s| {
        s["node"]["applied_commit"] == v2.as_str()
    });
    assert_eq!(greeting(&web).as_deref(), Some("two"));

    let answer = control(&node, &["pin", &v1, "--reason", "v2 greets badly"]);
    assert!(answer.contains(&format!("pinned to {v1}")), "{answer}");
    let status = node.wait_for("v1 applied again", LIMIT, |s| {
        s["node"]["applied_commit"] == v1.as_str() && s["node"]["pinned"]["commit"] == v1.as_str()
    });
    assert_eq!(status["node"]["pinned"]["reason"], "v2 greets badly");
    assert_eq!(greeting(&web).as_deref(), Some("one"));

    origin.write("deployments/web.yaml", &web_manifest("web", port, "three"));
    let v3 = origin.commit("v3");
    node.wait_for("v3 fetched", LIMIT, |s| {
        s["node"]["git_head"] == v3.as_str()
    });
    wait_for_a_later_pass(&node);
    assert_eq!(node.status()["node"]["applied_commit"], v1.as_str());
    assert_eq!(greeting(&web).as_deref(), Some("one"), "v3 is not applied");

    node.terminate(Duration::from_secs(20));
    node.spawn();
    node.wait_for("the pin after SIGTERM", LIMIT, |s| {
        s["node"]["pinned"]["commit"] == v1.as_str() && s["node"]["git_head"] == v3.as_str()
    });
    wait_for_a_later_pass(&node);
    assert_eq!(greeting(&web).as_deref(), Some("one"));
    node.kill();
    node.spawn();
    node.wait_for("the pin after SIGKILL", LIMIT, |s| {
        s["node"]["pinned"]["commit"] == v1.as_str() && s["node"]["git_head"] == v3.as_str()
    });
    wait_for_a_later_pass(&node);
    assert_eq!(node.status()["node"]["applied_commit"], v1.as_str());
    assert_eq!(greeting(&web).as_deref(), Some("one"));

    let unknown = "0123456789abcdef0123456789abcdef01234567";
    let data_dir = node.data_dir();
    let refused = orun(&["pin", unknown, "--data-dir", data_dir.to_str().unwrap()]);
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(error.contains(&format!("cannot pin {unknown}")), "{error}");
    let status = node.status();
    assert_eq!(
        status["node"]["pinned"]["commit"],
        v1.as_str(),
        "nothing changed"
    );
    assert_eq!(status["node"]["applied_commit"], v1.as_str());

    let entries = history(&node);
    let outcomes: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["commit"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes[..3],
        [
            (v1.as_str(), "pinned"),
            (v2.as_str(), "applied"),
            (v1.as_str(), "applied")
        ],
        "newest first: {entries:#?}"
    );
    for entry in &entries {
        let web = &entry["deployments"][0];
        assert_eq!(web["deployment"], "web");
        assert!(
            web["image_id"].as_str().unwrap().starts_with("sha256:"),
            "{entry}"
        );
    }
    let addr = format!("127.0.0.1:{}", node.status_port);
    let printed = orun(&["history", "--addr", &addr, "--output", "json"]);
    assert!(printed.status.success());
    let printed: Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(printed["entries"][0]["outcome"], "pinned");
    assert_eq!(printed["entries"][0]["commit"], v1.as_str());

    let answer = control(&node, &["unpin"]);
    assert!(answer.contains("unpinned"), "{answer}");
    node.wait_for("v3 applied after unpin", LIMIT, |s| {
        s["node"]["applied_commit"] == v3.as_str() && s["node"].get("pinned").is_none()
    });
    assert_eq!(greeting(&web).as_deref(), Some("three"));
}

#[test]
fn a_suspended_node_acts_on_nothing_until_resumed() {
    let origin = Origin::new();
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "one"));
    let v1 = origin.commit("v1");
    let node = Node::start("suspend", origin.bare().to_str().unwrap());
    let web = node.container("web");
    node.wait_for("v1 applied", LIMIT, |s| {
        s["node"]["applied_commit"] == v1.as_str()
    });

    let answer = control(&node, &["suspend", "--reason", "maintenance"]);
    assert!(answer.contains("suspended"), "{answer}");
    node.wait_for("suspended shown", LIMIT, |s| {
        s["node"]["suspended"]["reason"] == "maintenance"
    });
    docker(&["rm", "-f", &web]);
    node.wait_for("the create of web pending", LIMIT, |s| {
        s["pending_actions"].as_array().is_some_and(|actions| {
            actions
                .iter()
                .any(|a| a["action"] == "create" && a["deployment"] == "web")
        })
    });
    wait_for_a_later_pass(&node);
    assert!(inspect(&web).is_none(), "drift repair is held");

    origin.write("deployments/web.yaml", &web_manifest("web", port, "two"));
    let v2 = origin.commit("v2");
    node.wait_for("v2 fetched", LIMIT, |s| {
        s["node"]["git_head"] == v2.as_str()
    });
    wait_for_a_later_pass(&node);
    assert!(inspect(&web).is_none(), "the new commit waits for resume");
    assert_eq!(node.status()["node"]["applied_commit"], v1.as_str());

    let answer = control(&node, &["resume"]);
    assert!(answer.contains("resumed"), "{answer}");
    let status = node.wait_for("v2 applied after resume", LIMIT, |s| {
        s["node"]["applied_commit"] == v2.as_str()
    });
    assert!(status["node"].get("suspended").is_none());
    assert!(status.get("pending_actions").is_none());
    assert!(eventually(LIMIT, || greeting(&web).as_deref() == Some("two")));
    let refused = orun(&["resume", "--data-dir", node.data_dir().to_str().unwrap()]);
    assert!(!refused.status.success(), "not suspended any more");
}

#[test]
fn a_control_command_without_a_node_names_the_socket() {
    let dir = tempfile::TempDir::new().unwrap();
    let data_dir = dir.path().join("orun");
    let output = orun(&["pin", "abc", "--data-dir", data_dir.to_str().unwrap()]);
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    let socket = Path::new(&data_dir).join("control.sock");
    assert!(error.contains(&socket.display().to_string()), "{error}");
    assert!(error.contains("orun start --data-dir"), "{error}");
}
