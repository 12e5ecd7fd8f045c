//! A node fed a hostile commit: a 400 KB manifest nested `[[[[…]]]]` (minutes of parsing without
//! the input limits) next to a manifest that is a symlink to `/etc/shadow`. The node must reject
//! it promptly, naming both files and showing nothing of `/etc/shadow` in `/status`, keep the last
//! good revision running, and keep repairing drift.

use std::os::unix::fs::symlink;
use std::time::Duration;

use crate::support::node::{web_manifest, Node, Origin};
use crate::support::{docker, env_of, eventually, free_port, inspect, lab};

/// How long the node may take to act; a generous bound for a loaded machine, and far below the
/// minutes the nested file would cost the parser without the limits.
const LIMIT: Duration = Duration::from_secs(30);

fn running_with(name: &str, greeting: &str) -> bool {
    inspect(name).is_some_and(|container| {
        container["State"]["Running"] == true
            && env_of(&container).contains(&format!("GREETING={greeting}"))
    })
}

#[test]
fn a_hostile_commit_is_rejected_by_name_and_drift_repair_goes_on() {
    lab::require();
    let origin = Origin::new();
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "hello"));
    let good = origin.commit("web");
    let node = Node::start("hostile", origin.bare().to_str().unwrap());
    node.wait_for("first commit applied", LIMIT, |s| {
        s["node"]["applied_commit"] == good.as_str()
    });

    let depth = 200_000;
    origin.write(
        "deployments/nested.yaml",
        &format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
    );
    symlink("/etc/shadow", origin.work().join("deployments/shadow.yaml")).unwrap();
    let bad = origin.commit("hostile");
    let status = node.wait_for("hostile revision rejected", LIMIT, |s| {
        s["node"]["sync_state"] == "invalid_revision" && s["node"]["git_head"] == bad.as_str()
    });
    let error = status["node"]["sync_error"].as_str().unwrap();
    assert!(error.contains("deployments/shadow.yaml"), "{error}");
    assert!(!error.contains("root:"), "/etc/shadow leaked: {error}");
    assert_eq!(status["node"]["applied_commit"], good.as_str());

    // Fix the link, keep the nested file: now the nesting is what is refused.
    std::fs::remove_file(origin.work().join("deployments/shadow.yaml")).unwrap();
    let nested = origin.commit("nested only");
    let status = node.wait_for("nested revision rejected", LIMIT, |s| {
        s["node"]["sync_state"] == "invalid_revision" && s["node"]["git_head"] == nested.as_str()
    });
    let error = status["node"]["sync_error"].as_str().unwrap();
    assert!(
        error.contains("deployments/nested.yaml") && error.contains("nested more than 64 levels"),
        "{error}"
    );

    docker(&["stop", "-t", "1", &node.container("web")]);
    assert!(
        eventually(LIMIT, || running_with(&node.container("web"), "hello")),
        "a container stopped by hand was not restarted after a hostile commit\n{}",
        node.log_text()
    );
}
