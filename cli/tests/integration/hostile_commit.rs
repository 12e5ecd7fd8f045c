//! A node fed a hostile commit: a 400 KB manifest nested `[[[[…]]]]` (minutes of parsing without
//! the input limits) next to a manifest that is a symlink to `/etc/shadow`. The node must reject
//! it promptly, naming both files and showing nothing of `/etc/shadow` in `/status`, keep the last
//! good revision running, and keep repairing drift. A revision whose Node manifest names a FIFO as
//! `webhookSecretFile` and `/dev/zero` as `dockerConfig`'s `config.json` must neither stall nor
//! grow the node: both are refused by field while the node reconciles.

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

#[test]
fn setting_files_that_are_fifos_or_devices_are_refused_by_field_and_the_node_goes_on() {
    lab::require();
    let files = tempfile::TempDir::new().unwrap();
    let fifo = files.path().join("hook");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success());
    let docker_config = files.path().join("docker");
    std::fs::create_dir(&docker_config).unwrap();
    symlink("/dev/zero", docker_config.join("config.json")).unwrap();

    let origin = Origin::new();
    let port = free_port();
    origin.write(
        "nodes/settingfiles.yaml",
        &format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: settingfiles\nspec:\n  host: 127.0.0.1\n  gitRepo: /srv/infra.git\n  pollInterval: 1s\n  webhookSecretFile: {}\n  dockerConfig: {}\n",
            fifo.display(),
            docker_config.display()
        ),
    );
    origin.write("deployments/web.yaml", &web_manifest("web", port, "hello"));
    let first = origin.commit("setting files that block or never end");
    let node = Node::start("settingfiles", origin.bare().to_str().unwrap());
    node.wait_for("the commit applied despite the FIFO", LIMIT, |s| {
        s["node"]["applied_commit"] == first.as_str() && s["deployments"]["web"]["ready"] == true
    });
    let refused = format!(
        "nodes/settingfiles.yaml: spec.webhookSecretFile: {}: not a regular file",
        fifo.display()
    );
    assert!(node.log_text().contains(&refused), "{}", node.log_text());
    assert!(node.get("/healthz").is_some());

    // A pull reads the registry credentials: `/dev/zero` is refused at once, by field.
    origin.write(
        "deployments/pulled.yaml",
        "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: pulled\nspec:\n  image: registry.invalid/orun/pulled:1\n",
    );
    origin.commit("a pull");
    let status = node.wait_for("the pull refused", LIMIT, |s| {
        s["deployments"]["pulled"]["last_error"]
            .as_str()
            .is_some_and(|error| error.contains("spec.dockerConfig"))
    });
    let error = status["deployments"]["pulled"]["last_error"]
        .as_str()
        .unwrap();
    assert!(
        error.contains(&format!(
            "nodes/settingfiles.yaml: spec.dockerConfig: {}: not a regular file",
            docker_config.join("config.json").display()
        )),
        "{error}"
    );
    assert!(node.get("/healthz").is_some());
    assert!(running_with(&node.container("web"), "hello"));
}
