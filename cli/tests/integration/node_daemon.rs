//! `orun start` against a real bare repository as `origin` and the real Docker engine, with a 1 s
//! poll interval: deploy on commit, invalid revisions, revisions the node's policy denies, a dead
//! remote with backoff, force-pushes, SIGTERM, and `git://` and SSH remotes.

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;

use crate::support::git_daemon::GitDaemon;
use crate::support::node::{git, web_manifest, Node, Origin};
use crate::support::{
    docker, docker_events, docker_timestamp, env_of, eventually, free_port, http_get, http_request,
    inspect, lab, TEST_PAGE,
};

const DEPLOY_LIMIT: Duration = Duration::from_secs(30);

fn running_with(name: &str, greeting: &str) -> bool {
    inspect(name).is_some_and(|container| {
        container["State"]["Running"] == true
            && env_of(&container).contains(&format!("GREETING={greeting}"))
    })
}

fn rfc3339_seconds(text: &str) -> u64 {
    humantime::parse_rfc3339(text)
        .unwrap()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Waits until `node` reports `commit` as an invalid revision, checks that `good` stays applied
/// and that the container of `web` (`id`) keeps running, not replaced, and returns the error.
fn rejected(node: &Node, commit: &str, good: &str, id: &Value) -> String {
    let status = node.wait_for("invalid revision reported", DEPLOY_LIMIT, |s| {
        s["node"]["sync_state"] == "invalid_revision" && s["node"]["git_head"] == commit
    });
    assert_eq!(status["node"]["applied_commit"], good);
    std::thread::sleep(Duration::from_secs(3));
    let web = inspect(&node.container("web")).unwrap();
    assert_eq!(
        &web["Id"], id,
        "the container of the last good revision was replaced"
    );
    assert_eq!(web["State"]["Running"], true);
    status["node"]["sync_error"].as_str().unwrap().to_string()
}

#[test]
fn a_commit_is_deployed_and_reported_in_status() {
    let origin = Origin::new();
    origin.write("README.md", "infra\n");
    origin.commit("empty start");
    let node = Node::start("deploy", origin.bare().to_str().unwrap());
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "hello"));
    let commit = origin.commit("add web");

    let status = node.wait_for("commit applied", DEPLOY_LIMIT, |status| {
        status["node"]["applied_commit"] == commit.as_str()
    });
    assert_eq!(status["node"]["git_head"], commit.as_str());
    assert_eq!(status["node"]["sync_state"], "synced");
    assert_eq!(status["node"]["healthy"], true);
    assert_eq!(status["node"]["environment"], node.environment.as_str());
    assert_eq!(status["node"]["consecutive_failures"], 0);
    for key in [
        "started_at",
        "last_sync_time",
        "last_reconcile_time",
        "next_poll_at",
    ] {
        let text = status["node"][key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing"));
        assert!(text.ends_with('Z'), "{key} is not RFC 3339 UTC: {text}");
    }
    let web = &status["deployments"]["web"];
    assert_eq!(web["state"], "running");
    assert_eq!(web["ready"], true);
    assert_eq!(web["last_action"], "create");
    assert_eq!(web["last_reason"], "missing");
    assert!(web["spec_hash"].as_str().unwrap().starts_with("v1:"));
    assert!(running_with(&node.container("web"), "hello"));
    assert_eq!(http_get(port, "/").as_deref(), Some(TEST_PAGE));

    assert_eq!(node.get("/healthz").as_deref(), Some(r#"{"status":"ok"}"#));
    let (code, _) = http_request(node.status_port, "POST", "/status").unwrap();
    assert_eq!(code, 200);
    let (code, body) = http_request(node.status_port, "GET", "/nope").unwrap();
    assert_eq!(code, 404);
    assert!(serde_json::from_str::<Value>(&body).unwrap()["error"].is_string());
    let (code, body) = http_request(node.status_port, "DELETE", "/status").unwrap();
    assert_eq!(code, 405);
    assert!(serde_json::from_str::<Value>(&body).unwrap()["error"].is_string());
    let metrics = node.get("/metrics").unwrap();
    for name in [
        "orun_git_polls_total",
        "orun_git_poll_failures_total",
        "orun_reconciles_total",
        "orun_actions_total{kind=\"create\",result=\"ok\"}",
        "orun_probe_failures_total",
        "orun_last_successful_sync_timestamp_seconds",
        "orun_poll_backoff_seconds",
    ] {
        assert!(metrics.contains(name), "metrics lack {name}:\n{metrics}");
    }

    let output = Command::new(env!("CARGO_BIN_EXE_orun"))
        .args([
            "status",
            "--addr",
            &format!("127.0.0.1:{}", node.status_port),
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains(&commit) && text.contains("running"), "{text}");
}

#[test]
fn an_invalid_revision_is_skipped_and_the_last_good_one_stays() {
    let origin = Origin::new();
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "hello"));
    let good = origin.commit("web");
    let node = Node::start("invalid", origin.bare().to_str().unwrap());
    node.wait_for("first commit applied", DEPLOY_LIMIT, |s| {
        s["node"]["applied_commit"] == good.as_str()
    });
    let id = inspect(&node.container("web")).unwrap()["Id"].clone();

    origin.write(
        "deployments/web.yaml",
        &web_manifest("web", port, "hello").replace("image:", "imgae:"),
    );
    let bad = origin.commit("typo");
    let error = rejected(&node, &bad, &good, &id);
    assert!(
        error.contains("deployments/web.yaml") && error.contains("imgae"),
        "{error}"
    );

    origin.write("deployments/web.yaml", &web_manifest("web", port, "fixed"));
    let fixed = origin.commit("fix");
    let status = node.wait_for("fix applied", DEPLOY_LIMIT, |s| {
        s["node"]["applied_commit"] == fixed.as_str()
    });
    assert_eq!(status["node"]["sync_state"], "synced");
    assert!(status["node"]["sync_error"].is_null());
    assert!(running_with(&node.container("web"), "fixed"));
}

#[test]
fn a_revision_the_node_policy_denies_is_refused_and_the_old_container_keeps_running() {
    let origin = Origin::new();
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "hello"));
    let good = origin.commit("web");
    let policy = "  policy:\n    dockerSocket: deny\n    hostNetwork: deny\n";
    let node = Node::start_with("policy", origin.bare().to_str().unwrap(), policy);
    node.wait_for("first commit applied", DEPLOY_LIMIT, |s| {
        s["node"]["applied_commit"] == good.as_str()
    });
    let id = inspect(&node.container("web")).unwrap()["Id"].clone();

    // The revision asks for Docker's socket and, through its own Node manifest, for a policy that
    // allows it: only the --config file's policy counts.
    let socket = format!(
        "{}  volumes:\n    - hostPath: /var/run/docker.sock\n      containerPath: /var/run/docker.sock\n",
        web_manifest("web", port, "pwned")
    );
    origin.write("deployments/web.yaml", &socket);
    origin.write(
        "nodes/policy.yaml",
        "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: policy\nspec:\n  host: 127.0.0.1\n  gitRepo: /srv/infra.git\n  pollInterval: 1s\n  policy:\n    dockerSocket: allow\n",
    );
    let denied = origin.commit("mount the docker socket");
    let error = rejected(&node, &denied, &good, &id);
    assert!(
        error.contains("deployments/web.yaml: spec.volumes[0].hostPath: /var/run/docker.sock is denied by the node policy (dockerSocket: deny)"),
        "{error}"
    );
    assert!(running_with(&node.container("web"), "hello"));
}

#[test]
fn a_dead_remote_backs_off_while_drift_is_still_repaired() {
    let origin = Origin::new();
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "hello"));
    let commit = origin.commit("web");
    let node = Node::start("backoff", origin.bare().to_str().unwrap());
    node.wait_for("applied", DEPLOY_LIMIT, |s| {
        s["node"]["applied_commit"] == commit.as_str()
    });
    let id = inspect(&node.container("web")).unwrap()["Id"].clone();

    let moved = origin.dir.path().join("moved.git");
    fs::rename(origin.bare(), &moved).unwrap();
    // Record next_poll_at as the failures add up: the spacing must double.
    let mut next_poll: Vec<(u64, u64)> = Vec::new();
    let reached = eventually(Duration::from_secs(40), || {
        let status = node.status();
        let failures = status["node"]["consecutive_failures"].as_u64().unwrap();
        if failures > 0 && next_poll.last().map(|(f, _)| *f) != Some(failures) {
            let at = rfc3339_seconds(status["node"]["next_poll_at"].as_str().unwrap());
            next_poll.push((failures, at));
        }
        failures >= 4
    });
    assert!(
        reached,
        "failures did not reach 4: {next_poll:?}\n{}",
        node.log_text()
    );
    let status = node.status();
    assert_eq!(status["node"]["sync_state"], "backoff");
    assert_eq!(status["node"]["healthy"], false);
    assert!(status["node"]["sync_error"]
        .as_str()
        .unwrap()
        .contains("origin.git"));
    let gaps: Vec<i64> = next_poll
        .windows(2)
        .filter(|pair| pair[1].0 == pair[0].0 + 1)
        .map(|pair| pair[1].1 as i64 - pair[0].1 as i64)
        .collect();
    assert!(
        gaps.len() >= 2,
        "too few consecutive observations: {next_poll:?}"
    );
    for pair in gaps.windows(2) {
        assert!(
            (pair[1] - 2 * pair[0]).abs() <= 2,
            "poll spacing does not double: gaps {gaps:?} from {next_poll:?}"
        );
    }

    // Drift repair keeps working while Git is down.
    docker(&["stop", "-t", "1", &node.container("web")]);
    assert!(
        eventually(Duration::from_secs(15), || running_with(
            &node.container("web"),
            "hello"
        )),
        "a container stopped by hand was not restarted during backoff"
    );
    assert_eq!(inspect(&node.container("web")).unwrap()["Id"], id);

    fs::rename(&moved, origin.bare()).unwrap();
    let status = node.wait_for("recovered", Duration::from_secs(60), |s| {
        s["node"]["consecutive_failures"] == 0 && s["node"]["sync_state"] == "synced"
    });
    assert_eq!(status["node"]["healthy"], true);
    let spacing = rfc3339_seconds(status["node"]["next_poll_at"].as_str().unwrap()) as i64
        - rfc3339_seconds(status["node"]["last_sync_time"].as_str().unwrap()) as i64;
    assert!(
        spacing <= 2,
        "poll interval not reset after recovery: {spacing}s"
    );
}

#[test]
fn a_force_push_is_followed() {
    let origin = Origin::new();
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "first"));
    let first = origin.commit("first");
    let node = Node::start("force", origin.bare().to_str().unwrap());
    node.wait_for("first", DEPLOY_LIMIT, |s| {
        s["node"]["applied_commit"] == first.as_str()
    });
    origin.write("deployments/web.yaml", &web_manifest("web", port, "second"));
    let second = origin.commit("second");
    node.wait_for("second", DEPLOY_LIMIT, |s| {
        s["node"]["applied_commit"] == second.as_str()
    });

    git(&origin.work(), &["reset", "-q", "--hard", &first]);
    origin.write(
        "deployments/web.yaml",
        &web_manifest("web", port, "rewritten"),
    );
    let rewritten = origin.commit("rewritten history");
    let status = node.wait_for("rewritten", DEPLOY_LIMIT, |s| {
        s["node"]["applied_commit"] == rewritten.as_str()
    });
    assert_eq!(status["node"]["git_head"], rewritten.as_str());
    assert!(running_with(&node.container("web"), "rewritten"));
}

#[test]
fn sigterm_exits_zero_and_a_restart_changes_nothing() {
    let origin = Origin::new();
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "hello"));
    let commit = origin.commit("web");
    let mut node = Node::start("sigterm", origin.bare().to_str().unwrap());
    node.wait_for("applied", DEPLOY_LIMIT, |s| {
        s["node"]["applied_commit"] == commit.as_str()
    });
    let id = inspect(&node.container("web")).unwrap()["Id"].clone();

    assert_eq!(
        node.terminate(Duration::from_secs(15)),
        Some(0),
        "log:\n{}",
        node.log_text()
    );
    let web = inspect(&node.container("web")).unwrap();
    assert_eq!(
        web["State"]["Running"], true,
        "a managed container stopped with orun"
    );

    let since = docker_timestamp();
    node.spawn();
    node.wait_for("reconciled after restart", DEPLOY_LIMIT, |s| {
        s["node"]["applied_commit"] == commit.as_str()
            && !s["node"]["last_reconcile_time"].is_null()
    });
    std::thread::sleep(Duration::from_secs(2));
    let until = docker_timestamp();
    let events = docker_events(&node.environment, &since, &until);
    assert_eq!(events, "", "the restarted node changed containers");
    assert_eq!(inspect(&node.container("web")).unwrap()["Id"], id);
}

#[test]
fn a_git_protocol_remote_is_followed() {
    let origin = Origin::new();
    origin.write(
        "deployments/web.yaml",
        &web_manifest("web", free_port(), "over-git"),
    );
    let commit = origin.commit("web");
    let daemon = GitDaemon::start(origin.dir.path());
    let node = Node::start("gitproto", &daemon.url("origin.git"));
    node.wait_for("applied over git://", DEPLOY_LIMIT, |s| {
        s["node"]["applied_commit"] == commit.as_str()
    });
    assert!(running_with(&node.container("web"), "over-git"));
}

/// Debian's sshd on a loopback port, accepting one generated client key; killed on drop.
struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sshd {
    fn start() -> Self {
        lab::require();
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path();
        for key in ["host_key", "client_key", "other_host_key"] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(path.join(key))
                .status()
                .unwrap();
            assert!(status.success());
        }
        fs::copy(path.join("client_key.pub"), path.join("authorized_keys")).unwrap();
        let port = free_port();
        fs::write(
            path.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nAuthorizedKeysFile {dir}/authorized_keys\n\
                 PidFile {dir}/sshd.pid\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n",
                dir = path.display()
            ),
        )
        .unwrap();
        fs::create_dir_all("/run/sshd").unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(path.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd (apt-get install openssh-server)");
        assert!(eventually(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }));
        Sshd { child, port, dir }
    }

    /// A known_hosts line for this server with the public key in `key_file`.
    fn known_hosts_line(&self, key_file: &str) -> String {
        let public = fs::read_to_string(self.dir.path().join(key_file)).unwrap();
        let mut fields = public.split_whitespace();
        format!(
            "[127.0.0.1]:{} {} {}\n",
            self.port,
            fields.next().unwrap(),
            fields.next().unwrap()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_ssh_remote_uses_the_deploy_key_and_refuses_a_wrong_host_key() {
    let sshd = Sshd::start();
    let origin = Origin::new();
    origin.write(
        "deployments/web.yaml",
        &web_manifest("web", free_port(), "over-ssh"),
    );
    let commit = origin.commit("web");
    let url = format!(
        "ssh://root@127.0.0.1:{}{}",
        sshd.port,
        origin.bare().display()
    );
    let keys = sshd.dir.path();
    let known_good = keys.join("known_hosts_good");
    let known_bad = keys.join("known_hosts_bad");
    fs::write(&known_good, sshd.known_hosts_line("host_key.pub")).unwrap();
    fs::write(&known_bad, sshd.known_hosts_line("other_host_key.pub")).unwrap();
    let key_lines = |key: &str, known_hosts: &std::path::Path| {
        format!(
            "  deployKeyPath: {}\n  knownHostsPath: {}\n",
            keys.join(key).display(),
            known_hosts.display()
        )
    };

    let refused = Node::start_with("sshbad", &url, &key_lines("client_key", &known_bad));
    let status = refused.wait_for("wrong host key refused", DEPLOY_LIMIT, |s| {
        s["node"]["consecutive_failures"].as_u64().unwrap_or(0) >= 1
    });
    let error = status["node"]["sync_error"].as_str().unwrap();
    assert!(
        error.contains("host key") && error.contains("does not match"),
        "{error}"
    );
    // The status API names the setting, not the node's files; the log keeps the path.
    assert!(error.contains("<knownHostsPath>"), "{error}");
    assert!(!error.contains(&known_bad.display().to_string()), "{error}");
    assert!(refused
        .log_text()
        .contains(&known_bad.display().to_string()));
    assert!(inspect(&refused.container("web")).is_none());
    drop(refused);

    // A key the server does not accept is reported, not retried in a loop.
    let rejected = Node::start_with("sshkey", &url, &key_lines("other_host_key", &known_good));
    let status = rejected.wait_for("deploy key rejected", DEPLOY_LIMIT, |s| {
        s["node"]["consecutive_failures"].as_u64().unwrap_or(0) >= 1
    });
    let error = status["node"]["sync_error"].as_str().unwrap();
    assert!(
        error.contains("rejected the deploy key <deployKeyPath>"),
        "{error}"
    );
    assert!(!error.contains(&keys.display().to_string()), "{error}");
    drop(rejected);

    let node = Node::start_with("sshgood", &url, &key_lines("client_key", &known_good));
    node.wait_for("applied over ssh", DEPLOY_LIMIT, |s| {
        s["node"]["applied_commit"] == commit.as_str()
    });
    assert!(running_with(&node.container("web"), "over-ssh"));
}
