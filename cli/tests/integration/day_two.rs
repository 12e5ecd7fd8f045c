//! Operating a running node: `orun pin` puts an older commit back and holds it through new commits,
//! SIGTERM and SIGKILL until `orun unpin`; `orun suspend` holds every action, drift repair and new
//! commits included, while `/status` shows what is pending, until `orun resume`; `/history` and
//! `orun history` list the applies newest first; a pin runs the image id its commit ran although
//! the tag moved on; a control command with no node running names the socket it tried.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::support::node::{web_manifest, Node, Origin};
use crate::support::{docker, env_of, eventually, free_port, inspect, test_image};

const LIMIT: Duration = Duration::from_secs(60);

fn orun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orun"))
        .args(args)
        .output()
        .expect("orun")
}

/// `orun <command> --data-dir <the node's> <extra>`, which must succeed; its stdout.
pub(crate) fn control(node: &Node, command: &[&str]) -> String {
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

/// A local tag of this test, and the images built under it, removed when dropped.
struct LocalTag {
    tag: String,
    built: Vec<String>,
}

impl LocalTag {
    fn new(test: &str) -> Self {
        let tag = format!("orun-test/{test}-{}:stable", std::process::id());
        docker(&["tag", test_image(), &tag]);
        LocalTag {
            tag,
            built: Vec::new(),
        }
    }

    /// Moves the tag to a new image (the test image with a label); its id.
    fn move_on(&mut self) -> String {
        let context = tempfile::TempDir::new().unwrap();
        std::fs::write(
            context.path().join("Dockerfile"),
            format!(
                "FROM {}\nLABEL orun-test-moved={}\n",
                test_image(),
                self.tag
            ),
        )
        .unwrap();
        docker(&[
            "build",
            "-q",
            "-t",
            &self.tag,
            context.path().to_str().unwrap(),
        ]);
        let id = image_id(&self.tag);
        self.built.push(id.clone());
        id
    }
}

impl Drop for LocalTag {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", &self.tag]).output();
        for id in &self.built {
            let _ = Command::new("docker").args(["rmi", "-f", id]).output();
        }
    }
}

fn image_id(reference: &str) -> String {
    docker(&["image", "inspect", "-f", "{{.Id}}", reference])
}

fn container_image(name: &str) -> Option<String> {
    Some(inspect(name)?["Image"].as_str()?.to_string())
}

#[test]
fn a_pin_runs_the_image_id_its_commit_ran_though_the_tag_moved_on() {
    let mut tag = LocalTag::new("pin-image");
    let first = image_id(&tag.tag);
    let reference = tag.tag.clone();
    let origin = Origin::new();
    let port = free_port();
    let manifest =
        |greeting: &str| web_manifest("web", port, greeting).replace(test_image(), &reference);
    origin.write("deployments/web.yaml", &manifest("one"));
    let v1 = origin.commit("v1");
    let node = Node::start("pin-image", origin.bare().to_str().unwrap());
    let web = node.container("web");
    node.wait_for("v1 applied", LIMIT, |s| {
        s["node"]["applied_commit"] == v1.as_str()
    });
    assert_eq!(container_image(&web), Some(first.clone()));

    // Held, so that drift repair does not run v1 with the moved tag before v2 arrives.
    control(&node, &["suspend"]);
    let moved = tag.move_on();
    origin.write("deployments/web.yaml", &manifest("two"));
    let v2 = origin.commit("v2");
    node.wait_for("v2 fetched", LIMIT, |s| {
        s["node"]["git_head"] == v2.as_str()
    });
    control(&node, &["resume"]);
    node.wait_for("v2 applied", LIMIT, |s| {
        s["node"]["applied_commit"] == v2.as_str()
    });
    assert_eq!(
        container_image(&web),
        Some(moved),
        "v2 runs what the tag names now"
    );

    control(&node, &["pin", &v1]);
    node.wait_for("v1 applied again", LIMIT, |s| {
        s["node"]["applied_commit"] == v1.as_str() && s["node"]["pinned"]["commit"] == v1.as_str()
    });
    assert_eq!(
        container_image(&web),
        Some(first),
        "the image v1 ran; history: {:#?}\nlog:\n{}",
        history(&node),
        node.log_text()
    );
    assert_eq!(greeting(&web).as_deref(), Some("one"));
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
