//! Commit statuses from a real node: `pending` then `success` for an applied commit and `failure`
//! for a rollout that never gets ready, in the GitHub and the Gitea request shapes. A Git host's
//! API cannot run here, so a recording HTTP server stands in for it and the tests check the
//! paths, token headers and bodies it received; the token stays out of the node's log and status.

use std::time::Duration;

use engine::sops::DataKey;
use tempfile::TempDir;

use crate::health::{manifest, probed};
use crate::support::node::{Node, Origin};
use crate::support::recording::{Recorded, RecordingServer};
use crate::support::sops::{data_key_bytes, identity, sops_file};
use crate::support::{eventually, free_port};

const LIMIT: Duration = Duration::from_secs(60);
const TOKEN: &str = "ghp_statusToken0123456789";

/// Commits `GIT_TOKEN` in `secrets.yaml` beside what `origin` holds and starts a node posting
/// statuses to `host` as `provider`; returns it with the commit.
fn node_with_statuses(
    test: &str,
    origin: &Origin,
    keys: &TempDir,
    provider: &str,
    host: &RecordingServer,
) -> (Node, String) {
    let (key, recipient) = identity(keys.path(), "age.key");
    origin.write(
        "secrets.yaml",
        &sops_file(
            &DataKey::new(data_key_bytes()),
            &recipient,
            &[("GIT_TOKEN", TOKEN)],
        ),
    );
    let commit = origin.commit("v1");
    let node = Node::start_full(
        test,
        origin.bare().to_str().unwrap(),
        "main",
        &format!(
            "  commitStatus:\n    provider: {provider}\n    api: {}\n    tokenFrom: GIT_TOKEN\n",
            host.url("/api/v1/")
        ),
        &["--age-key-path".to_string(), key],
    );
    (node, commit)
}

/// The path statuses of `commit` go to: the remote `<tmp>/origin.git` names `<tmp>/origin`.
fn status_path(origin: &Origin, commit: &str) -> String {
    let owner = origin.dir.path().file_name().unwrap().to_str().unwrap();
    format!("/api/v1/repos/{owner}/origin/statuses/{commit}")
}

/// Waits until `host` has a status `state` for `commit`; returns every status for it so far.
fn wait_for_state(
    host: &RecordingServer,
    origin: &Origin,
    commit: &str,
    state: &str,
    node: &Node,
) -> Vec<Recorded> {
    let path = status_path(origin, commit);
    let of_commit = || -> Vec<Recorded> {
        host.requests()
            .into_iter()
            .filter(|request| request.path == path)
            .collect()
    };
    let arrived = eventually(LIMIT, || {
        of_commit()
            .iter()
            .any(|request| request.body["state"] == state)
    });
    assert!(
        arrived,
        "no {state} status at {path}; got {:#?}\nlog:\n{}",
        host.requests(),
        node.log_text()
    );
    of_commit()
}

fn states(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .map(|request| {
            request.body["state"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// A node running `web` (ready) from its first commit, posting statuses as `provider` to a
/// recording server.
struct Fixture {
    node: Node,
    host: RecordingServer,
    origin: Origin,
    first: String,
    port: u16,
    _keys: TempDir,
}

impl Fixture {
    fn start(test: &str, provider: &str) -> Self {
        let keys = TempDir::new().unwrap();
        let origin = Origin::new();
        let host = RecordingServer::start();
        let port = free_port();
        origin.write(
            "deployments/web.yaml",
            &manifest("web", &probed(port, "v1", "/health", "20s")),
        );
        let (node, first) = node_with_statuses(test, &origin, &keys, provider, &host);
        Fixture {
            node,
            host,
            origin,
            first,
            port,
            _keys: keys,
        }
    }

    /// Checks that the first commit got `pending` then `success`, each with `authorization`,
    /// the node's context and the plan in a few words.
    fn assert_pending_then_success(&self, authorization: &str, context: &str) {
        let statuses = wait_for_state(&self.host, &self.origin, &self.first, "success", &self.node);
        assert_eq!(states(&statuses), ["pending", "success"], "{statuses:#?}");
        for status in &statuses {
            assert_eq!(status.method, "POST");
            assert_eq!(
                status.headers.get("authorization").map(String::as_str),
                Some(authorization)
            );
            assert_eq!(status.body["context"], context);
            assert_eq!(status.body["description"], "1 to create");
            let mut keys: Vec<&String> = status.body.as_object().unwrap().keys().collect();
            keys.sort();
            assert_eq!(keys, ["context", "description", "state"]);
        }
    }
}

#[test]
fn github_statuses_go_pending_then_success_and_failure_for_a_rollout_that_never_gets_ready() {
    let fixture = Fixture::start("status-github", "github");
    fixture.assert_pending_then_success(&format!("Bearer {TOKEN}"), "orun/status-github");
    let Fixture {
        node, host, origin, ..
    } = &fixture;

    origin.write(
        "deployments/web.yaml",
        &manifest("web", &probed(fixture.port, "v2", "/missing", "3s")),
    );
    let broken = origin.commit("v2 never ready");
    let statuses = wait_for_state(host, origin, &broken, "failure", node);
    assert_eq!(states(&statuses), ["pending", "failure"], "{statuses:#?}");
    assert_eq!(statuses[0].body["description"], "1 to recreate");
    let failure = statuses[1].body["description"].as_str().unwrap();
    assert!(
        failure.starts_with("web: recreate failed") && failure.contains("readiness probe"),
        "{failure}"
    );

    assert!(!node.log_text().contains(TOKEN));
    assert!(!node.status().to_string().contains(TOKEN));
    let state = std::fs::read_to_string(node.data_dir().join("state.json")).unwrap_or_default();
    assert!(!state.contains(TOKEN));
}

#[test]
fn gitea_statuses_take_a_token_header_and_the_same_body() {
    let fixture = Fixture::start("status-gitea", "gitea");
    fixture.assert_pending_then_success(&format!("token {TOKEN}"), "orun/status-gitea");
}
