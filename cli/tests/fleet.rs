//! `orun fleet status` against fake status APIs on loopback ports (no Docker, no daemon): the
//! table, the JSON document, the exit code for unreachable, unhealthy and behind nodes, the
//! timeout, and the default status address.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

const HEAD: &str = "9f2c6d1e0b7a4c3d2e1f0a9b8c7d6e5f4a3b2c1d";
const OLDER: &str = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b";

fn orun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orun"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("orun runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// `nodes/<name>.yaml` with `extra` spec lines.
fn node(repo: &Path, name: &str, extra: &str) {
    let path = repo.join("nodes").join(format!("{name}.yaml"));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(
        path,
        format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: {name}\nspec:\n  \
             host: 127.0.0.1\n  gitRepo: /srv/git/infra.git\n{extra}"
        ),
    )
    .unwrap();
}

/// A node's `/status` document with the facts the fleet view reads.
fn status_document(environment: &str, head: &str, applied: &str, healthy: bool) -> Value {
    json!({
        "node": {
            "name": "ignored", "environment": environment, "branch": "main",
            "started_at": "2026-11-26T10:00:00Z", "sync_state": "synced",
            "git_head": head, "applied_commit": applied,
            "last_sync_time": null, "last_reconcile_time": null, "sync_error": null,
            "consecutive_failures": 0, "next_poll_at": null, "healthy": healthy
        },
        "deployments": {
            "web": { "name": "web", "ready": true, "state": "running" },
            "api": { "name": "api", "ready": false, "state": "restarting" }
        },
        "services": {}
    })
}

/// A status API on a loopback port that answers every request with `document`; its address.
fn fake_status_api(document: Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let body = document.to_string();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            read_request_head(&mut stream);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

fn read_request_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
}

/// A port that accepts connections and never answers; the listener lives as long as the test.
fn silent_status_api() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    (listener, addr)
}

/// A loopback address where nothing listens.
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

fn fleet_json(repo: &Path) -> (Output, Value) {
    let output = orun(&[
        "fleet",
        "status",
        "--repo",
        repo.to_str().unwrap(),
        "--output",
        "json",
    ]);
    let document = serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|error| panic!("{error}: {}", stdout(&output)));
    (output, document)
}

/// `orun fleet status` in human form: the exit code and the table.
fn fleet_human(repo: &Path) -> (Option<i32>, String) {
    let output = orun(&["fleet", "status", "--repo", repo.to_str().unwrap()]);
    (output.status.code(), stdout(&output))
}

fn by_name<'a>(document: &'a Value, name: &str) -> &'a Value {
    document["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {document}"))
}

#[test]
fn a_healthy_fleet_is_one_table_and_exit_zero() {
    let repo = TempDir::new().unwrap();
    let web = fake_status_api(status_document("production", HEAD, HEAD, true));
    let api = fake_status_api(status_document("staging", HEAD, HEAD, true));
    node(repo.path(), "web-01", &format!("  statusAddr: {web}\n"));
    node(repo.path(), "api-01", &format!("  statusAddr: {api}\n"));
    let (code, text) = fleet_human(repo.path());
    assert_eq!(code, Some(0), "{text}");
    for expected in [
        "web-01",
        "api-01",
        &web,
        "production",
        "staging",
        "synced",
        &HEAD[..12],
        "1/2",
        "2 node(s): all reachable, healthy and up to date",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
    assert!(!text.contains(HEAD), "commits are shortened:\n{text}");
}

#[test]
fn the_json_document_has_exactly_the_documented_keys() {
    let repo = TempDir::new().unwrap();
    let web = fake_status_api(status_document("production", HEAD, HEAD, true));
    node(repo.path(), "web-01", &format!("  statusAddr: {web}\n"));
    let (output, document) = fleet_json(repo.path());
    assert_eq!(output.status.code(), Some(0), "{document}");
    assert_eq!(
        document,
        json!({"nodes": [{
            "name": "web-01", "status_addr": web, "reachable": true,
            "environment": "production", "sync_state": "synced",
            "git_head": HEAD, "applied_commit": HEAD, "healthy": true,
            "deployments_ready": 1, "deployments_total": 2, "error": null
        }]})
    );
}

#[test]
fn an_unreachable_node_fails_the_fleet_and_says_why() {
    let repo = TempDir::new().unwrap();
    let web = fake_status_api(status_document("production", HEAD, HEAD, true));
    let gone = closed_port();
    node(repo.path(), "web-01", &format!("  statusAddr: {web}\n"));
    node(
        repo.path(),
        "web-02",
        &format!("  statusAddr: {gone}\n  gitBranch: staging\n"),
    );
    let (output, document) = fleet_json(repo.path());
    assert_eq!(output.status.code(), Some(1), "{document}");
    let down = by_name(&document, "web-02");
    assert_eq!(down["reachable"], false, "{document}");
    assert_eq!(down["status_addr"], gone.as_str());
    assert_eq!(
        down["environment"], "staging",
        "taken from the manifest: {document}"
    );
    for unknown in [
        "sync_state",
        "git_head",
        "applied_commit",
        "healthy",
        "deployments_ready",
        "deployments_total",
    ] {
        assert_eq!(down[unknown], Value::Null, "{unknown}: {document}");
    }
    let error = down["error"].as_str().unwrap();
    assert!(error.contains(&gone), "{error}");
    assert_eq!(by_name(&document, "web-01")["reachable"], true);

    let (code, text) = fleet_human(repo.path());
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("unreachable"), "{text}");
    assert!(text.contains(&format!("web-02: {error}")), "{text}");
    assert!(text.contains("1 of 2 node(s) need attention"), "{text}");
}

#[test]
fn an_unhealthy_node_fails_the_fleet() {
    let repo = TempDir::new().unwrap();
    let sick = fake_status_api(status_document("production", HEAD, HEAD, false));
    node(repo.path(), "web-01", &format!("  statusAddr: {sick}\n"));
    let (output, document) = fleet_json(repo.path());
    assert_eq!(output.status.code(), Some(1), "{document}");
    assert_eq!(by_name(&document, "web-01")["healthy"], false);
    let (_, text) = fleet_human(repo.path());
    assert!(text.contains("unhealthy"), "{text}");
}

#[test]
fn a_node_behind_its_branch_fails_the_fleet() {
    let repo = TempDir::new().unwrap();
    let behind = fake_status_api(status_document("production", HEAD, OLDER, true));
    node(repo.path(), "web-01", &format!("  statusAddr: {behind}\n"));
    let (output, document) = fleet_json(repo.path());
    assert_eq!(output.status.code(), Some(1), "{document}");
    let node = by_name(&document, "web-01");
    assert_eq!(node["git_head"], HEAD);
    assert_eq!(node["applied_commit"], OLDER);
    let (_, text) = fleet_human(repo.path());
    assert!(text.contains("behind"), "{text}");
    assert!(text.contains(&OLDER[..12]), "{text}");
}

#[test]
fn silent_nodes_time_out_together_after_three_seconds() {
    let repo = TempDir::new().unwrap();
    let (_first, first) = silent_status_api();
    let (_second, second) = silent_status_api();
    node(repo.path(), "web-01", &format!("  statusAddr: {first}\n"));
    node(repo.path(), "web-02", &format!("  statusAddr: {second}\n"));
    let started = Instant::now();
    let (output, document) = fleet_json(repo.path());
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(1), "{document}");
    for name in ["web-01", "web-02"] {
        assert_eq!(by_name(&document, name)["reachable"], false, "{document}");
    }
    // Asked at once: two silent nodes cost one timeout, not two.
    assert!(took >= Duration::from_secs(3), "{took:?}");
    assert!(took < Duration::from_secs(6), "{took:?}");
}

#[test]
fn the_status_address_defaults_to_the_host_without_its_ssh_port() {
    let repo = TempDir::new().unwrap();
    for (name, host) in [
        ("plain", "127.0.0.1"),
        ("ssh-port", "127.0.0.1:2222"),
        ("v6", "[::1]:22"),
    ] {
        let path = repo.path().join("nodes").join(format!("{name}.yaml"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            path,
            format!(
                "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: {name}\nspec:\n  \
                 host: \"{host}\"\n  gitRepo: /srv/git/infra.git\n"
            ),
        )
        .unwrap();
    }
    let (_, document) = fleet_json(repo.path());
    assert_eq!(by_name(&document, "plain")["status_addr"], "127.0.0.1:9100");
    assert_eq!(
        by_name(&document, "ssh-port")["status_addr"],
        "127.0.0.1:9100"
    );
    assert_eq!(by_name(&document, "v6")["status_addr"], "[::1]:9100");
}

#[test]
fn a_status_address_without_a_port_is_refused_with_its_place() {
    let repo = TempDir::new().unwrap();
    node(repo.path(), "web-01", "  statusAddr: 10.0.0.5\n");
    let output = orun(&["fleet", "status", "--repo", repo.path().to_str().unwrap()]);
    let error = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{error}");
    assert!(error.contains("nodes/web-01.yaml:"), "{error}");
    assert!(error.contains("spec.statusAddr"), "{error}");
    assert!(error.contains("expected host:port"), "{error}");
}

#[test]
fn a_repository_without_nodes_is_an_error() {
    let repo = TempDir::new().unwrap();
    let output = orun(&["fleet", "status", "--repo", repo.path().to_str().unwrap()]);
    let error = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{error}");
    assert!(error.contains("no Node manifests in nodes/"), "{error}");
}
