//! A node facing a hostile network: a flood of slow clients on the status API while the node keeps
//! answering `/healthz` and deploying, and a Git remote whose URL carries a token that must reach
//! neither `/status` nor the log.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::node::{web_manifest, Node, Origin};
use crate::support::{eventually, free_port};

const DEPLOY_LIMIT: Duration = Duration::from_secs(60);

/// Loopback connections to a status API that each sent part of a request's headers and then
/// nothing; closed when dropped.
struct SlowClients {
    streams: Vec<TcpStream>,
}

impl SlowClients {
    fn open(port: u16, count: usize) -> Self {
        let address = format!("127.0.0.1:{port}").parse().unwrap();
        let streams = (0..count)
            .map(|index| {
                let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
                    .unwrap_or_else(|error| panic!("slow client {index} cannot connect: {error}"));
                // Written into the socket buffer whether or not the server accepted yet.
                stream
                    .write_all(b"GET /status HTTP/1.1\r\nHost: node\r\nX-Slow: ")
                    .unwrap();
                stream.set_nonblocking(true).unwrap();
                stream
            })
            .collect();
        SlowClients { streams }
    }

    /// How many connections the server has not closed yet.
    fn still_open(&self) -> usize {
        self.streams
            .iter()
            .filter(|stream| !closed_by_server(stream))
            .count()
    }
}

/// Whether the server closed `stream`: end of file or a reset once whatever it sent is read.
fn closed_by_server(mut stream: &TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(error) if error.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

#[test]
fn slow_clients_neither_silence_the_status_api_nor_stop_deploys() {
    let origin = Origin::new();
    origin.write("README.md", "infra\n");
    origin.commit("empty start");
    let mut node = Node::configure(
        "slowloris",
        origin.bare().to_str().unwrap(),
        "main",
        "",
        &[],
    );
    // The default limit of a process started outside systemd: fewer files than slow clients.
    node.open_files_limit = Some(1024);
    node.spawn();

    let slow = SlowClients::open(node.status_port, 1100);
    assert!(
        eventually(Duration::from_secs(20), || node.get("/healthz").is_some()),
        "/healthz does not answer while 1100 slow clients are connected; log:\n{}",
        node.log_text()
    );
    let port = free_port();
    origin.write(
        "deployments/web.yaml",
        &web_manifest("web", port, "flooded"),
    );
    let commit = origin.commit("deploy under a flood");
    node.wait_for("commit applied under a flood", DEPLOY_LIMIT, |status| {
        status["node"]["applied_commit"] == commit.as_str()
    });
    assert!(node.get("/healthz").is_some());
    assert!(
        eventually(Duration::from_secs(60), || slow.still_open() == 0),
        "the server left {} slow clients open",
        slow.still_open()
    );
    assert!(!node.log_text().contains("Too many open files"));
}

#[test]
fn a_token_in_the_remote_url_reaches_neither_status_nor_log() {
    const TOKEN: &str = "s3cr3t-t0ken-Qx7";
    // Nothing listens on this loopback port: every fetch is refused.
    let port = free_port();
    let url = format!("https://deploy:{TOKEN}@127.0.0.1:{port}/infra.git");
    let node = Node::start("credleak", &url);
    let status = node.wait_for("fetch refused", DEPLOY_LIMIT, |status| {
        status["node"]["consecutive_failures"].as_u64().unwrap_or(0) >= 2
    });
    let error = status["node"]["sync_error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "fetch https://***@127.0.0.1:{port}/infra.git (branch main): "
        )),
        "{error}"
    );
    for (what, text) in [
        ("/status", node.get("/status").unwrap()),
        ("/metrics", node.get("/metrics").unwrap()),
        ("the log", node.log_text()),
    ] {
        assert!(!text.contains(TOKEN), "{what} shows the token:\n{text}");
    }
    assert!(
        node.log_text().contains("git poll failed"),
        "{}",
        node.log_text()
    );
}
