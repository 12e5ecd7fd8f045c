//! What a node remembers across SIGKILL and restarts (`<dataDir>/state.json` and the clone that
//! only ever holds a good revision): a restart while HEAD is invalid, with the remote up or gone,
//! keeps the last good revision in force and repairs drift from it; a quarantine survives; the
//! remembered last good commit wins over a clone whose checkout lags; a corrupt state file is
//! moved aside and the node converges from Git.

use std::fs;
use std::time::Duration;

use serde_json::Value;

use crate::health::{manifest, probed};
use crate::support::node::{web_manifest, Node, Origin};
use crate::support::{
    docker, docker_events, docker_timestamp, env_of, eventually, free_port, http_get, inspect,
    TEST_PAGE,
};

const LIMIT: Duration = Duration::from_secs(40);

/// `<dataDir>/state.json`, parsed, when it is there and whole.
fn remembered(node: &Node) -> Option<Value> {
    let text = fs::read_to_string(node.data_dir().join("state.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Waits until `state.json` satisfies `check`, so a kill cannot come before the save.
fn wait_remembered(node: &Node, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let mut last = None;
    let ok = eventually(LIMIT, || {
        last = remembered(node);
        last.as_ref().is_some_and(&check)
    });
    assert!(
        ok,
        "{what}: state.json is {last:#?}\nlog:\n{}",
        node.log_text()
    );
    last.unwrap()
}

fn greeting(name: &str) -> Option<String> {
    let container = inspect(name)?;
    env_of(&container)
        .iter()
        .find_map(|entry| entry.strip_prefix("GREETING=").map(str::to_string))
}

/// Good commit deployed, invalid commit rejected, node killed, container removed by hand, node
/// started again (with the remote moved away when `remote_gone`): the container comes back from the
/// good revision and the status keeps the good commit as applied.
fn restart_with_an_invalid_head(test: &str, remote_gone: bool) {
    let origin = Origin::new();
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "good"));
    let good = origin.commit("good");
    let mut node = Node::start(test, origin.bare().to_str().unwrap());
    node.wait_for("good commit applied", LIMIT, |s| {
        s["node"]["applied_commit"] == good.as_str()
    });
    origin.write(
        "deployments/web.yaml",
        &web_manifest("web", port, "bad").replace("image:", "imgae:"),
    );
    let bad = origin.commit("typo");
    node.wait_for("invalid revision reported", LIMIT, |s| {
        s["node"]["sync_state"] == "invalid_revision" && s["node"]["git_head"] == bad.as_str()
    });
    wait_remembered(&node, "good commit remembered", |state| {
        state["last_good_commit"] == good.as_str() && state["applied_commit"] == good.as_str()
    });
    let clone_file = node.data_dir().join("repo/deployments/web.yaml");
    assert!(
        fs::read_to_string(&clone_file).unwrap().contains("image:"),
        "the invalid commit was checked out in the clone"
    );

    node.kill();
    let name = node.container("web");
    docker(&["rm", "-f", &name]);
    if remote_gone {
        fs::rename(origin.bare(), origin.dir.path().join("moved-away.git")).unwrap();
    }
    node.spawn();
    let expected_state = if remote_gone {
        "backoff"
    } else {
        "invalid_revision"
    };
    let status = node.wait_for("drift repaired after the restart", LIMIT, |s| {
        s["deployments"]["web"]["state"] == "running" && s["node"]["sync_state"] == expected_state
    });
    assert_eq!(greeting(&name).as_deref(), Some("good"));
    assert_eq!(http_get(port, "/").as_deref(), Some(TEST_PAGE));
    assert_eq!(status["node"]["applied_commit"], good.as_str());
    let error = status["node"]["sync_error"].as_str().unwrap();
    if remote_gone {
        assert!(error.starts_with("fetch "), "{error}");
    } else {
        assert_eq!(status["node"]["git_head"], bad.as_str());
        assert!(
            error.contains("deployments/web.yaml") && error.contains("imgae"),
            "{error}"
        );
    }
}

#[test]
fn a_restart_while_head_is_invalid_keeps_the_last_good_revision_in_force() {
    restart_with_an_invalid_head("restart-invalid", false);
}

#[test]
fn a_restart_while_head_is_invalid_and_the_remote_is_gone_still_repairs_drift() {
    restart_with_an_invalid_head("restart-gone", true);
}

#[test]
fn a_quarantine_survives_sigkill_and_a_restart() {
    let origin = Origin::new();
    let port = free_port();
    origin.write(
        "deployments/web.yaml",
        &manifest("web", &probed(port, "v1", "/health", "20s")),
    );
    let first = origin.commit("v1");
    let mut node = Node::start("quarantine-kill", origin.bare().to_str().unwrap());
    node.wait_for("v1", LIMIT, |s| {
        s["node"]["applied_commit"] == first.as_str()
    });
    let name = node.container("web");
    let id = inspect(&name).unwrap()["Id"].clone();

    origin.write(
        "deployments/web.yaml",
        &manifest("web", &probed(port, "v2", "/missing", "3s")),
    );
    let broken = origin.commit("v2 never ready");
    node.wait_for("rolled back", LIMIT, |s| {
        s["deployments"]["web"]["quarantined"] == true
    });
    let state = wait_remembered(&node, "quarantine remembered", |state| {
        state["quarantined"][0]["commit"] == broken.as_str()
    });
    assert_eq!(state["last_good_commit"], broken.as_str());
    assert_eq!(state["quarantined"][0]["deployment"], "web");

    node.kill();
    let since = docker_timestamp();
    node.spawn();
    let status = node.wait_for("quarantine restored", LIMIT, |s| {
        s["deployments"]["web"]["quarantined"] == true && s["node"]["git_head"] == broken.as_str()
    });
    let web = &status["deployments"]["web"];
    assert_eq!(web["last_action"], "rolled_back");
    let error = web["last_error"].as_str().unwrap();
    assert!(
        error.contains("readiness probe") && error.contains("/missing"),
        "{error}"
    );
    // Several drift-repair passes of the quarantined commit.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        docker_events(&node.environment, &since, &docker_timestamp()),
        "",
        "the quarantined commit was tried again after the restart"
    );
    assert_eq!(inspect(&name).unwrap()["Id"], id);
    assert_eq!(greeting(&name).as_deref(), Some("v1"));
    assert_eq!(node.status()["deployments"]["web"]["quarantined"], true);
}

#[test]
fn the_remembered_last_good_commit_wins_over_a_lagging_checkout() {
    let origin = Origin::new();
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "first"));
    let first = origin.commit("first");
    let mut node = Node::start("lagging", origin.bare().to_str().unwrap());
    node.wait_for("first applied", LIMIT, |s| {
        s["node"]["applied_commit"] == first.as_str()
    });
    let first_state = wait_remembered(&node, "first remembered", |state| {
        state["applied_commit"] == first.as_str()
    });
    origin.write("deployments/web.yaml", &web_manifest("web", port, "second"));
    let second = origin.commit("second");
    node.wait_for("second applied", LIMIT, |s| {
        s["node"]["applied_commit"] == second.as_str()
    });
    wait_remembered(&node, "second remembered", |state| {
        state["applied_commit"] == second.as_str()
    });

    // As if orun had been killed after checking `second` out but before remembering it.
    node.kill();
    fs::write(node.data_dir().join("state.json"), first_state.to_string()).unwrap();
    fs::rename(origin.bare(), origin.dir.path().join("moved-away.git")).unwrap();
    node.spawn();
    let name = node.container("web");
    let status = node.wait_for("the remembered commit is in force", LIMIT, |s| {
        s["node"]["last_reconcile_time"].is_string()
            && s["deployments"]["web"]["state"] == "running"
    });
    assert_eq!(status["node"]["applied_commit"], first.as_str());
    assert_eq!(greeting(&name).as_deref(), Some("first"));
    assert!(
        fs::read_to_string(node.data_dir().join("repo/deployments/web.yaml"))
            .unwrap()
            .contains("GREETING: first")
    );
}

#[test]
fn a_corrupt_state_file_is_moved_aside_and_the_node_converges_from_git() {
    let origin = Origin::new();
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "hello"));
    let commit = origin.commit("web");
    let mut node = Node::start("corrupt-state", origin.bare().to_str().unwrap());
    node.wait_for("applied", LIMIT, |s| {
        s["node"]["applied_commit"] == commit.as_str()
    });
    wait_remembered(&node, "applied commit remembered", |state| {
        state["applied_commit"] == commit.as_str()
    });

    node.kill();
    let garbage = "{\"last_good_commit\": \u{0}garbage";
    fs::write(node.data_dir().join("state.json"), garbage).unwrap();
    let name = node.container("web");
    docker(&["rm", "-f", &name]);
    node.spawn();
    let status = node.wait_for("converged from Git", LIMIT, |s| {
        s["node"]["applied_commit"] == commit.as_str()
            && s["deployments"]["web"]["state"] == "running"
    });
    assert_eq!(status["node"]["sync_state"], "synced");
    assert_eq!(greeting(&name).as_deref(), Some("hello"));

    let moved: Vec<_> = fs::read_dir(node.data_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("state.json.corrupt-")
        })
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(fs::read_to_string(&moved[0]).unwrap(), garbage);
    assert!(
        node.log_text().contains("moved aside"),
        "the corrupt state file was not logged"
    );
    wait_remembered(&node, "a new state file", |state| {
        state["last_good_commit"] == commit.as_str() && state["applied_commit"] == commit.as_str()
    });
}
