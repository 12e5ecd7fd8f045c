//! TCP and exec probes against the real engine: each gates readiness, an exec liveness probe
//! restarts its container, and a new container that never gets ready is stopped and kept, its last
//! log lines on the terminal (never in the error, which names `docker logs`); the node quarantines
//! it for the commit instead of starting it again.

use std::time::Duration;

use crate::health::manifest;
use crate::support::node::{Node, Origin};
use crate::support::{
    docker, docker_events, docker_timestamp, free_port, http_get, inspect, test_image, text,
    Scenario,
};

const LIMIT: Duration = Duration::from_secs(40);

/// The test image running `script` in its shell, with `probe` (YAML under `readiness:`).
fn scripted(script: &str, probe: &str) -> String {
    format!(
        "  image: {}\n  command: [sh, -c, \"{script}\"]\n  stopTimeout: 1s\n  health:\n    readiness:\n{probe}      interval: 300ms\n",
        test_image()
    )
}

#[test]
fn an_exec_probe_holds_the_apply_until_the_command_succeeds() {
    let scenario = Scenario::new("probe-exec");
    scenario.deployment(
        "worker",
        &scripted(
            "/bin/busybox sleep 2; /bin/busybox touch /www/ready; exec /bin/busybox httpd -f -p 80 -h /www",
            "      exec: [/bin/busybox, test, -f, /www/ready]\n      deadline: 20s\n",
        ),
    );
    scenario.apply();
    // Had apply not waited for the probe, the file would not exist yet.
    docker(&[
        "exec",
        &scenario.container("worker"),
        "/bin/busybox",
        "test",
        "-f",
        "/www/ready",
    ]);
}

#[test]
fn a_tcp_probe_holds_the_apply_until_the_port_accepts_connections() {
    let scenario = Scenario::new("probe-tcp");
    let port = free_port();
    let spec = scripted(
        "/bin/busybox sleep 2; exec /bin/busybox httpd -f -p 8080 -h /www",
        "      tcp: localhost:8080\n      deadline: 20s\n",
    );
    scenario.deployment(
        "web",
        &format!("{spec}  ports:\n    - containerPort: 8080\n      port: {port}\n      hostIP: 127.0.0.1\n"),
    );
    scenario.apply();
    assert!(
        http_get(port, "/").is_some(),
        "apply returned before the port accepted connections"
    );
}

#[test]
fn a_new_container_that_never_gets_ready_is_stopped_and_kept_with_its_logs_on_the_terminal() {
    let scenario = Scenario::new("probe-never");
    scenario.deployment(
        "web",
        &scripted(
            "echo listening nowhere today; exec /bin/busybox httpd -f -p 80 -h /www",
            "      tcp: localhost:9\n      deadline: 2s\n",
        ),
    );
    let output = scenario.orun(&["apply", "--once"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("readiness probe of"), "{stdout}");
    assert!(stdout.contains(":9 last answered"), "{stdout}");
    let web = scenario.container("web");
    assert!(
        stdout.contains(&format!("stopped and kept: see docker logs {web}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("logs {web} | listening nowhere today")),
        "{stdout}"
    );
    let web = inspect(&web).expect("the container is kept");
    assert_eq!(web["State"]["Running"], false);
}

#[test]
fn the_node_quarantines_a_never_ready_new_container_and_leaves_it_stopped() {
    let origin = Origin::new();
    origin.write(
        "deployments/web.yaml",
        &manifest(
            "web",
            &scripted(
                "echo exec probe will fail; exec /bin/busybox httpd -f -p 80 -h /www",
                "      exec: [/bin/busybox, test, -f, /www/never]\n      deadline: 2s\n",
            ),
        ),
    );
    origin.commit("never ready");
    let node = Node::start("never-ready", origin.bare().to_str().unwrap());
    let status = node.wait_for("quarantined", LIMIT, |s| {
        s["deployments"]["web"]["quarantined"] == true
    });
    let error = status["deployments"]["web"]["last_error"].as_str().unwrap();
    let name = node.container("web");
    assert!(
        error.contains("exec /bin/busybox test -f /www/never")
            && error.contains(&format!("see docker logs {name}"))
            && !error.contains("exec probe will fail"),
        "{error}"
    );
    assert_eq!(inspect(&name).unwrap()["State"]["Running"], false);

    // Later passes of the same commit leave the kept container alone.
    let since = docker_timestamp();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        docker_events(&node.environment, &since, &docker_timestamp()),
        ""
    );
    assert_eq!(inspect(&name).unwrap()["State"]["Running"], false);
}

#[test]
fn a_failing_exec_liveness_probe_restarts_the_container_and_names_the_command() {
    let origin = Origin::new();
    let spec = format!(
        "  image: {}\n  stopTimeout: 1s\n  health:\n    liveness:\n      exec: [/bin/busybox, test, -f, /www/health]\n      interval: 1s\n      timeout: 1s\n      failureThreshold: 2\n",
        test_image()
    );
    origin.write("deployments/web.yaml", &manifest("web", &spec));
    let commit = origin.commit("web");
    let node = Node::start("exec-liveness", origin.bare().to_str().unwrap());
    node.wait_for("applied", LIMIT, |s| {
        s["node"]["applied_commit"] == commit.as_str()
    });
    let name = node.container("web");
    docker(&["exec", &name, "/bin/busybox", "rm", "/www/health"]);
    let status = node.wait_for("restarted", LIMIT, |s| {
        s["deployments"]["web"]["restarts"].as_u64() >= Some(1)
    });
    let error = status["deployments"]["web"]["last_error"].as_str().unwrap();
    assert!(
        error.contains("liveness probe")
            && error.contains("exec /bin/busybox test -f /www/health")
            && error.contains("exit code 1"),
        "{error}"
    );
}
