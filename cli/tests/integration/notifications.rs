//! Notifications from a real node to receivers in the test: `rollout_succeeded`, `rolled_back` and
//! `revision_invalid` with their documented JSON bodies, `rollout_failed`, `liveness_restart` and
//! `flapping` from real containers, `sync_failing` and `sync_recovered` around a remote that goes
//! away, the Slack format, and receivers that never answer or refuse connections, which must not
//! slow convergence down; what a container that never gets ready prints reaches the node's log
//! only, never a notification, the status or the node's state.

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::health::{manifest, probed};
use crate::support::node::{web_manifest, Node, Origin};
use crate::support::recording;
use crate::support::{docker, eventually, free_port, test_image};

pub(crate) const LIMIT: Duration = Duration::from_secs(40);

/// An HTTP server on 127.0.0.1 that answers every request 200 and keeps its JSON bodies.
pub(crate) struct Receiver {
    port: u16,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(body) = read_request(stream) {
                    kept.lock().unwrap().push(body);
                }
            }
        });
        Receiver { port, bodies }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Waits for a body whose `key` is `value` and returns it.
    pub(crate) fn wait_for(&self, key: &str, value: &str, node: &Node) -> Value {
        self.wait_for_all(&[(key, value)], node)
    }

    /// Waits for a body with every `(key, value)` of `facts` and returns it.
    fn wait_for_all(&self, facts: &[(&str, &str)], node: &Node) -> Value {
        let found = |bodies: &[Value]| {
            bodies
                .iter()
                .find(|body| facts.iter().all(|(key, value)| body[*key] == *value))
                .cloned()
        };
        let arrived = eventually(LIMIT, || found(&self.bodies.lock().unwrap()).is_some());
        let bodies = self.bodies.lock().unwrap();
        assert!(
            arrived,
            "no notification with {facts:?}; got {bodies:#?}\nlog:\n{}",
            node.log_text()
        );
        found(&bodies).unwrap()
    }
}

/// Reads one request, answers `200 OK`, and returns its body as JSON.
fn read_request(stream: TcpStream) -> Option<Value> {
    recording::read_request(
        stream,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .map(|request| request.body)
    .filter(|body| !body.is_null())
}

fn assert_rfc3339(text: &Value) {
    let text = text.as_str().expect("time is a string");
    assert!(
        humantime::parse_rfc3339(text).is_ok(),
        "not RFC 3339: {text}"
    );
}

#[test]
fn rollouts_and_rejected_commits_are_reported_with_the_documented_body() {
    let origin = Origin::new();
    let port = free_port();
    let json = Receiver::start();
    let slack = Receiver::start();
    origin.write(
        "deployments/web.yaml",
        &manifest("web", &probed(port, "v1", "/health", "20s")),
    );
    let first = origin.commit("v1");
    let node = Node::start_with(
        "notify",
        origin.bare().to_str().unwrap(),
        &format!(
            "  notifications:\n    - url: {}\n    - url: {}\n      format: slack\n      events: [rolled_back]\n",
            json.url("/orun"),
            slack.url("/services/T0/B0/token"),
        ),
    );
    node.wait_for("v1", LIMIT, |s| {
        s["node"]["applied_commit"] == first.as_str()
    });

    let created = json.wait_for("event", "rollout_succeeded", &node);
    assert_eq!(created["node"], "notify");
    assert_eq!(created["environment"], node.environment.as_str());
    assert_eq!(created["deployment"], "web");
    assert_eq!(created["commit"], first.as_str());
    assert!(created["message"].as_str().unwrap().contains("ready"));
    assert_rfc3339(&created["time"]);
    let mut keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "commit",
            "deployment",
            "environment",
            "event",
            "message",
            "node",
            "time"
        ]
    );

    origin.write(
        "deployments/web.yaml",
        &manifest("web", &probed(port, "v2", "/missing", "3s")),
    );
    let broken = origin.commit("v2 never ready");
    let rolled_back = json.wait_for("event", "rolled_back", &node);
    assert_eq!(rolled_back["deployment"], "web");
    assert_eq!(rolled_back["commit"], broken.as_str());
    assert!(
        rolled_back["message"]
            .as_str()
            .unwrap()
            .contains("/missing"),
        "{rolled_back}"
    );
    assert!(eventually(LIMIT, || !slack
        .bodies
        .lock()
        .unwrap()
        .is_empty()));
    let text = slack.bodies.lock().unwrap()[0]["text"].clone();
    let text = text.as_str().unwrap();
    assert!(
        text.contains("rolled_back") && text.contains("deployment web") && text.contains(&broken),
        "{text}"
    );

    origin.write("deployments/web.yaml", "kind: Deployment\nspec: [\n");
    let invalid = origin.commit("invalid");
    let rejected = json.wait_for("event", "revision_invalid", &node);
    assert_eq!(rejected["commit"], invalid.as_str());
    assert_eq!(rejected["deployment"], Value::Null);
    assert!(
        rejected["message"]
            .as_str()
            .unwrap()
            .contains("deployments/web.yaml"),
        "{rejected}"
    );
}

#[test]
fn a_never_ready_containers_output_stays_out_of_notifications_status_and_state() {
    const SECRET: &str = "DB_PASSWORD=hunter2-never-published";
    let origin = Origin::new();
    let receiver = Receiver::start();
    origin.write(
        "deployments/leaky.yaml",
        &manifest(
            "leaky",
            &format!(
                "  image: {}\n  command: [sh, -c, \"echo starting with {SECRET}; exec /bin/busybox httpd -f -p 80 -h /www\"]\n  stopTimeout: 1s\n  health:\n    readiness:\n      http: localhost:80/missing\n      interval: 500ms\n      deadline: 3s\n",
                test_image()
            ),
        ),
    );
    let commit = origin.commit("prints a secret");
    let node = Node::start_with(
        "leaky",
        origin.bare().to_str().unwrap(),
        &format!("  notifications:\n    - url: {}\n", receiver.url("/orun")),
    );
    let failed = receiver.wait_for_all(
        &[("event", "rollout_failed"), ("deployment", "leaky")],
        &node,
    );
    let container = node.container("leaky");
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("see docker logs {container}")),
        "{failed}"
    );
    let status = node.wait_for("leaky quarantined", LIMIT, |s| {
        s["deployments"]["leaky"]["quarantined"] == true
    });
    assert!(
        status["deployments"]["leaky"]["last_error"]
            .as_str()
            .unwrap()
            .contains(&format!("see docker logs {container}")),
        "{status}"
    );
    let state = node.data_dir().join("state.json");
    assert!(
        eventually(LIMIT, || std::fs::read_to_string(&state)
            .is_ok_and(|text| text.contains(&commit) && text.contains("leaky"))),
        "the quarantine was not saved"
    );

    let published = [
        serde_json::to_string(&*receiver.bodies.lock().unwrap()).unwrap(),
        node.get("/status").unwrap(),
        std::fs::read_to_string(&state).unwrap(),
    ];
    for text in published {
        assert!(!text.contains("hunter2"), "{text}");
    }
    // The node's log and docker logs keep it.
    assert!(node.log_text().contains(SECRET), "{}", node.log_text());
    let logs = std::process::Command::new("docker")
        .args(["logs", &container])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&logs.stdout).contains(SECRET));
}

#[test]
fn failed_creates_liveness_restarts_and_flapping_are_reported() {
    let origin = Origin::new();
    let receiver = Receiver::start();
    let image = test_image();
    origin.write(
        "deployments/never.yaml",
        &manifest(
            "never",
            &format!("  image: {image}\n  stopTimeout: 1s\n  health:\n    readiness:\n      http: localhost:80/missing\n      interval: 500ms\n      deadline: 3s\n"),
        ),
    );
    origin.write(
        "deployments/lively.yaml",
        &manifest(
            "lively",
            &format!("  image: {image}\n  stopTimeout: 1s\n  health:\n    liveness:\n      http: localhost:80/health\n      interval: 1s\n      timeout: 1s\n      failureThreshold: 2\n"),
        ),
    );
    origin.write(
        "deployments/crashing.yaml",
        &manifest(
            "crashing",
            &format!("  image: {image}\n  command: [\"false\"]\n"),
        ),
    );
    let commit = origin.commit("three deployments");
    let node = Node::start_with(
        "notifyhealth",
        origin.bare().to_str().unwrap(),
        &format!("  notifications:\n    - url: {}\n", receiver.url("/orun")),
    );

    let failed = receiver.wait_for_all(
        &[("event", "rollout_failed"), ("deployment", "never")],
        &node,
    );
    assert_eq!(failed["commit"], commit.as_str());
    assert!(
        failed["message"].as_str().unwrap().contains("/missing"),
        "{failed}"
    );

    node.wait_for("lively running", LIMIT, |s| {
        s["deployments"]["lively"]["state"] == "running"
    });
    docker(&[
        "exec",
        &node.container("lively"),
        "/bin/busybox",
        "rm",
        "/www/health",
    ]);
    let restarted = receiver.wait_for_all(
        &[("event", "liveness_restart"), ("deployment", "lively")],
        &node,
    );
    assert_eq!(restarted["commit"], commit.as_str());
    assert!(
        restarted["message"].as_str().unwrap().contains("/health"),
        "{restarted}"
    );

    let flapping =
        receiver.wait_for_all(&[("event", "flapping"), ("deployment", "crashing")], &node);
    assert_eq!(flapping["commit"], commit.as_str());
    assert_eq!(flapping["node"], "notifyhealth");
}

#[test]
fn the_slack_format_sends_one_text_with_the_facts() {
    let origin = Origin::new();
    let port = free_port();
    let slack = Receiver::start();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "hello"));
    let first = origin.commit("v1");
    let node = Node::start_with(
        "notifyslack",
        origin.bare().to_str().unwrap(),
        &format!(
            "  notifications:\n    - url: {}\n      format: slack\n      events: [rollout_succeeded]\n",
            slack.url("/services/T0/B0/token")
        ),
    );
    node.wait_for("v1", LIMIT, |s| {
        s["node"]["applied_commit"] == first.as_str()
    });
    assert!(eventually(LIMIT, || !slack
        .bodies
        .lock()
        .unwrap()
        .is_empty()));
    let body = slack.bodies.lock().unwrap()[0].clone();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["text"]);
    let text = body["text"].as_str().unwrap();
    for fact in [
        "rollout_succeeded",
        "notifyslack",
        node.environment.as_str(),
        "deployment web",
        first.as_str(),
    ] {
        assert!(text.contains(fact), "{fact} missing from {text}");
    }
    assert!(
        !node.log_text().contains("/services/T0/B0/token"),
        "the receiver's URL reached the log"
    );
}

#[test]
fn receivers_that_never_answer_or_refuse_do_not_slow_convergence() {
    // Accepts connections and holds them without a word.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<TcpStream> = silent.incoming().flatten().collect();
        drop(held);
    });
    let closed_port = free_port();
    let origin = Origin::new();
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "v0"));
    let first = origin.commit("v0");
    let node = Node::start_with(
        "notifydead",
        origin.bare().to_str().unwrap(),
        &format!(
            "  notifications:\n    - url: http://127.0.0.1:{silent_port}/hook\n    - url: http://127.0.0.1:{closed_port}/hook\n"
        ),
    );
    node.wait_for("v0", LIMIT, |s| {
        s["node"]["applied_commit"] == first.as_str()
    });
    // Each commit makes notifications that cannot be delivered (each try of the silent receiver
    // waits out its timeout); a commit still deploys as fast as a poll and a recreate take.
    for greeting in ["v1", "v2", "v3"] {
        origin.write("deployments/web.yaml", &web_manifest("web", port, greeting));
        let commit = origin.commit(greeting);
        let pushed = Instant::now();
        node.wait_for(greeting, Duration::from_secs(10), |s| {
            s["node"]["applied_commit"] == commit.as_str()
        });
        assert!(pushed.elapsed() < Duration::from_secs(10));
    }
}

#[test]
fn a_remote_that_fails_three_times_and_comes_back_is_reported() {
    let origin = Origin::new();
    let receiver = Receiver::start();
    origin.write("README.md", "infra\n");
    let first = origin.commit("start");
    let node = Node::start_with(
        "notifysync",
        origin.bare().to_str().unwrap(),
        &format!(
            "  notifications:\n    - url: {}\n      events: [sync_failing, sync_recovered]\n",
            receiver.url("/orun")
        ),
    );
    node.wait_for("first fetch", LIMIT, |s| {
        s["node"]["git_head"] == first.as_str()
    });
    let moved = origin.dir.path().join("origin.git.away");
    std::fs::rename(origin.bare(), &moved).unwrap();
    let failing = receiver.wait_for("event", "sync_failing", &node);
    assert_eq!(failing["deployment"], Value::Null);
    assert!(
        failing["message"]
            .as_str()
            .unwrap()
            .starts_with("3 fetches in a row failed"),
        "{failing}"
    );
    std::fs::rename(&moved, origin.bare()).unwrap();
    let recovered = receiver.wait_for("event", "sync_recovered", &node);
    assert_eq!(recovered["node"], "notifysync");
    let events: Vec<Value> = receiver
        .bodies
        .lock()
        .unwrap()
        .iter()
        .map(|body| body["event"].clone())
        .collect();
    assert_eq!(events, ["sync_failing", "sync_recovered"]);
}
