//! Image updates against the local `docker-registry`: a deployment following its tag sees a new
//! image pushed under the same tag when its registry check runs — at the node's start, so the
//! tests restart the node instead of waiting out the one-minute interval. `notify` sends exactly
//! one `image_available` (to a recording receiver), also across a further restart, and
//! recreates nothing; `apply` pulls the new image and recreates the container on it.

use std::fs;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::support::node::{Node, Origin};
use crate::support::recording::RecordingServer;
use crate::support::{docker, eventually, free_port, inspect, test_image, Registry};

const LIMIT: Duration = Duration::from_secs(60);

/// Builds an image other than the test image, pushes it as `reference` and removes it here, so
/// the node only gets it by pulling; returns its registry digest.
fn push_new_image(reference: &str) -> String {
    let context = TempDir::new().unwrap();
    fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {}\nLABEL run.orcra.test.version=2\n", test_image()),
    )
    .unwrap();
    docker(&[
        "build",
        "-q",
        "-t",
        reference,
        context.path().to_str().unwrap(),
    ]);
    docker(&["push", "-q", reference]);
    let digests = docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        reference,
    ]);
    let digest = digests
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a repository digest")
        .to_string();
    docker(&["rmi", reference]);
    digest
}

fn deployment(reference: &str, port: u16, mode: &str) -> String {
    format!(
        "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  image: {reference}\n  ports:\n    - containerPort: 80\n      port: {port}\n      hostIP: 127.0.0.1\n  stopTimeout: 1s\n  imageUpdates:\n    mode: {mode}\n    interval: 1m\n"
    )
}

/// The image id the deployment's container runs.
fn running_image(node: &Node) -> Option<String> {
    inspect(&node.container("web"))
        .map(|container| container["Image"].as_str().unwrap_or_default().to_string())
}

/// Starts a node running `web` from `reference` with `imageUpdates` in `mode`, notifying
/// `receiver`, and waits until the first check shows the running digest.
fn started(
    test: &str,
    origin: &Origin,
    reference: &str,
    mode: &str,
    receiver: &RecordingServer,
) -> Node {
    origin.write(
        "deployments/web.yaml",
        &deployment(reference, free_port(), mode),
    );
    let commit = origin.commit("web follows its tag");
    let node = Node::start_with(
        test,
        origin.bare().to_str().unwrap(),
        &format!("  notifications:\n    - url: {}\n", receiver.url("/hook")),
    );
    node.wait_for("applied", LIMIT, |s| {
        s["node"]["applied_commit"] == commit.as_str()
    });
    node
}

/// Restarts `node` and waits until its first registry check after the start shows `available`.
fn restart_until_checked(node: &mut Node, available: &str) -> Value {
    node.terminate(Duration::from_secs(20));
    node.spawn();
    node.wait_for("the registry check", LIMIT, |s| {
        s["deployments"]["web"]["image_update"]["available_digest"] == available
    })
}

fn image_available(receiver: &RecordingServer) -> Vec<Value> {
    receiver
        .requests()
        .into_iter()
        .map(|request| request.body)
        .filter(|body| body["event"] == "image_available")
        .collect()
}

#[test]
fn notify_tells_once_about_a_new_image_and_recreates_nothing() {
    let registry = Registry::start();
    let reference = registry.push_test_image("notified:1");
    let receiver = RecordingServer::start();
    let origin = Origin::new();
    let mut node = started("img-notify", &origin, &reference, "notify", &receiver);
    let before = running_image(&node).expect("web runs");

    let new = push_new_image(&reference);
    let status = restart_until_checked(&mut node, &new);
    let update = &status["deployments"]["web"]["image_update"];
    assert_ne!(update["running_digest"], new.as_str(), "{update}");
    assert!(update["checked_at"].is_string(), "{update}");
    assert!(
        eventually(LIMIT, || image_available(&receiver).len() == 1),
        "no image_available; got {:#?}\nlog:\n{}",
        receiver.requests(),
        node.log_text()
    );
    let notice = &image_available(&receiver)[0];
    assert_eq!(notice["deployment"], "web");
    assert!(
        notice["message"].as_str().unwrap().contains(&new),
        "{notice}"
    );

    // The notified digest is remembered: a restart checks again and tells nothing new.
    restart_until_checked(&mut node, &new);
    node.wait_for("a pass after the restart", LIMIT, |s| {
        s["node"]["healthy"] == true
    });
    assert_eq!(image_available(&receiver).len(), 1);
    assert_eq!(running_image(&node).as_deref(), Some(before.as_str()));
}

#[test]
fn apply_pulls_the_new_image_and_recreates_the_container_on_it() {
    let registry = Registry::start();
    let reference = registry.push_test_image("applied:1");
    let receiver = RecordingServer::start();
    let origin = Origin::new();
    let mut node = started("img-apply", &origin, &reference, "apply", &receiver);
    let before = running_image(&node).expect("web runs");

    let new = push_new_image(&reference);
    restart_until_checked(&mut node, &new);
    let status = node.wait_for("running the new image", LIMIT, |s| {
        s["deployments"]["web"]["last_reason"] == "image_updated"
            && s["deployments"]["web"]["ready"] == true
    });
    let after = running_image(&node).expect("web runs");
    assert_ne!(after, before, "{status:#}");
    let repo_digests = docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        &after,
    ]);
    assert!(repo_digests.contains(&new), "{repo_digests}");
    assert!(image_available(&receiver).is_empty());
}
