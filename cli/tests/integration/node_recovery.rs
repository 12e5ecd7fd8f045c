//! A node through what it must shrug off: a registry outage (failed pulls never mark a deployment
//! flapping, and the image runs within a poll interval of the registry coming back), and a first
//! fetch that hangs (systemd hears `READY=1` only once the first reconcile has finished).

use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use tempfile::TempDir;

use crate::support::node::{web_manifest, Node, Origin};
use crate::support::{docker, free_port, http_get, inspect, Registry};

const LIMIT: Duration = Duration::from_secs(30);

/// `web_manifest`'s deployment, running `image` instead of the local test image.
fn manifest_with_image(name: &str, image: &str, port: u16) -> String {
    web_manifest(name, port, "pulled").replace(crate::support::test_image(), image)
}

#[test]
fn a_registry_outage_never_marks_a_deployment_flapping_and_the_image_runs_once_it_is_back() {
    let mut registry = Registry::start();
    let reference = registry.push_test_image(&format!("orun-test/outage-{}:1", std::process::id()));
    registry.stop();
    let origin = Origin::new();
    let port = free_port();
    origin.write(
        "deployments/web.yaml",
        &manifest_with_image("web", &reference, port),
    );
    origin.commit("web from a registry that is down");
    let node = Node::start("outage", origin.bare().to_str().unwrap());

    node.wait_for("a failed pull", LIMIT, |status| {
        status["deployments"]["web"]["last_action"] == "pull"
            && status["deployments"]["web"]["last_error"].is_string()
    });
    // With a 1 s poll interval this is well over the five actions that would mark it flapping.
    std::thread::sleep(Duration::from_secs(8));
    let status = node.status();
    assert_eq!(
        status["deployments"]["web"]["flapping"], false,
        "{status:#}"
    );

    registry.restart();
    let status = node.wait_for("running once the registry is back", LIMIT, |status| {
        status["deployments"]["web"]["state"] == "running"
    });
    assert_eq!(
        status["deployments"]["web"]["flapping"], false,
        "{status:#}"
    );
    assert_eq!(http_get(port, "/health").as_deref(), Some("ok\n"));
    drop(node);
    docker(&["rmi", &reference]);
}

/// A `NOTIFY_SOCKET` for a node, as systemd gives one.
fn notify_socket(node: &mut Node, dir: &TempDir) -> UnixDatagram {
    let path = dir.path().join(format!("notify-{}", node.environment));
    let socket = UnixDatagram::bind(&path).unwrap();
    node.env
        .push(("NOTIFY_SOCKET".into(), path.display().to_string()));
    socket
}

fn received(socket: &UnixDatagram, wait: Duration) -> Option<String> {
    socket.set_read_timeout(Some(wait)).unwrap();
    let mut buffer = [0u8; 512];
    let length = socket.recv(&mut buffer).ok()?;
    Some(String::from_utf8_lossy(&buffer[..length]).to_string())
}

#[test]
fn systemd_hears_ready_only_once_the_first_reconcile_has_finished() {
    let sockets = TempDir::new().unwrap();

    // A remote that accepts connections and never answers: the first fetch hangs, nothing can be
    // reconciled, and the node must not claim to be ready meanwhile.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "git://127.0.0.1:{}/infra.git",
        silent.local_addr().unwrap().port()
    );
    let mut stalled = Node::configure("readyhang", &url, "main", "", &[]);
    let stalled_socket = notify_socket(&mut stalled, &sockets);
    stalled.spawn();
    let early = received(&stalled_socket, Duration::from_secs(4));
    assert_eq!(early, None, "READY before any reconcile");

    // A remote that answers: READY comes once the first commit's container runs.
    let origin = Origin::new();
    origin.write(
        "deployments/web.yaml",
        &web_manifest("web", free_port(), "ready"),
    );
    origin.commit("add web");
    let mut node = Node::configure("ready", origin.bare().to_str().unwrap(), "main", "", &[]);
    let socket = notify_socket(&mut node, &sockets);
    node.spawn();
    let message = received(&socket, LIMIT).expect("READY=1 within the limit");
    assert!(message.contains("READY=1"), "{message}");
    let container = inspect(&node.container("web")).expect("created before READY");
    assert_eq!(container["State"]["Running"], true);
}
