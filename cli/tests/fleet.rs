//! `orun fleet status`, `orun fleet plan` and `orun plan --observed URL` against fake status APIs
//! on loopback ports (no Docker, no daemon): the tables, the JSON documents, the exit codes for
//! unreachable, unhealthy and behind nodes and for pending changes, the timeout, and the default
//! status address; `orun fleet dashboard` refusing to start without nodes or on an address in
//! use. The fake `/observed` serves snapshots that `orun plan` itself derived.

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

#[test]
fn the_dashboard_refuses_a_repository_without_nodes_or_an_address_in_use() {
    let repo = TempDir::new().unwrap();
    let path = repo.path().to_str().unwrap();
    let output = orun(&[
        "fleet",
        "dashboard",
        "--repo",
        path,
        "--listen",
        "127.0.0.1:0",
    ]);
    let error = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{error}");
    assert!(error.contains("no Node manifests in nodes/"), "{error}");

    node(repo.path(), "web-01", "  statusAddr: 127.0.0.1:1\n");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = orun(&["fleet", "dashboard", "--repo", path, "--listen", &addr]);
    let error = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{error}");
    assert!(
        error.contains(&format!("cannot listen for the fleet dashboard on {addr}")),
        "{error}"
    );
}

/// `deployments/web.yaml` running `image`.
fn web(repo: &Path, image: &str) {
    let path = repo.join("deployments/web.yaml");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(
        path,
        format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  \
             image: {image}\n  network: none\n"
        ),
    )
    .unwrap();
}

/// The plan document of `orun plan --node NODE --observed SOURCE --output json`.
fn plan_json(repo: &Path, node: &str, source: &str) -> Value {
    let output = orun(&[
        "plan",
        "--repo",
        repo.to_str().unwrap(),
        "--node",
        node,
        "--observed",
        source,
        "--output",
        "json",
    ]);
    let text = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

/// The snapshot of a node on which `node`'s plan for `repo` was applied: every created container
/// running with the labels the plan gives it, its image present.
fn converged_snapshot(repo: &Path, node: &str) -> Value {
    let empty = repo.join("empty.json");
    fs::write(&empty, "{}").unwrap();
    let plan = plan_json(repo, node, empty.to_str().unwrap());
    let mut containers = Vec::new();
    let mut images = Vec::new();
    for (index, action) in plan["actions"].as_array().unwrap().iter().enumerate() {
        if action["kind"] != "create" {
            continue;
        }
        let image_id = format!("sha256:{index:064x}");
        containers.push(json!({
            "id": format!("{index:012x}"), "name": action["container"],
            "image": action["image"], "image_id": image_id, "state": "running",
            "labels": action["labels"],
        }));
        images.push(json!({ "id": image_id, "tags": [action["image"]] }));
    }
    json!({ "containers": containers, "images": images })
}

fn fleet_plan(repo: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["fleet", "plan", "--repo", repo.to_str().unwrap()];
    args.extend(extra);
    orun(&args)
}

fn fleet_plan_json(repo: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["--output", "json"];
    args.extend(extra);
    let output = fleet_plan(repo, &args);
    let text = stdout(&output);
    let document = serde_json::from_str(&text).unwrap_or_else(|error| {
        panic!("{error}: {text}{}", String::from_utf8_lossy(&output.stderr))
    });
    (output.status.code(), document)
}

#[test]
fn fleet_plan_reports_every_node_and_fails_for_an_unreachable_one() {
    let repo = TempDir::new().unwrap();
    web(repo.path(), "busybox:1.36");
    node(repo.path(), "web-01", "");
    let converged = fake_status_api(converged_snapshot(repo.path(), "web-01"));
    let empty = fake_status_api(json!({}));
    let gone = closed_port();
    node(
        repo.path(),
        "web-01",
        &format!("  statusAddr: {converged}\n"),
    );
    node(repo.path(), "web-02", &format!("  statusAddr: {empty}\n"));
    node(repo.path(), "web-03", &format!("  statusAddr: {gone}\n"));

    let (code, document) = fleet_plan_json(repo.path(), &[]);
    assert_eq!(code, Some(1), "{document:#}");
    let nodes = document["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{document:#}");
    for entry in nodes {
        let mut keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["error", "name", "plan", "reachable", "status_addr"],
            "{entry:#}"
        );
    }
    let first = by_name(&document, "web-01");
    assert_eq!(first["reachable"], true);
    assert_eq!(first["error"], Value::Null);
    assert_eq!(first["status_addr"], converged.as_str());
    assert_eq!(first["plan"]["actions"], json!([]), "{document:#}");
    // Each node's plan is the document `orun plan` makes from the same snapshot.
    let second = by_name(&document, "web-02");
    let url = format!("http://{empty}/observed");
    assert_eq!(second["plan"], plan_json(repo.path(), "web-02", &url));
    assert_eq!(second["plan"]["summary"]["create"], 1, "{document:#}");
    let third = by_name(&document, "web-03");
    assert_eq!(third["reachable"], false);
    assert_eq!(third["plan"], Value::Null);
    let error = third["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("http://{gone}/observed")),
        "{error}"
    );

    let output = fleet_plan(repo.path(), &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    for expected in [
        format!("=== node web-01 ({converged}) ==="),
        "No changes. Node is converged.".to_string(),
        format!("=== node web-02 ({empty}) ==="),
        "┆ create ".to_string(),
        format!("unreachable: {error}"),
        "Fleet plan:".to_string(),
        "  web-01  No changes.".to_string(),
        "  web-02  Plan: 1 to create, 0 to recreate, 0 to remove, 0 unchanged.".to_string(),
        format!("  web-03  unreachable: {error}"),
    ] {
        assert!(text.contains(&expected), "{expected:?} missing:\n{text}");
    }
}

#[test]
fn fleet_plan_exits_0_when_converged_and_2_for_changes_only_when_asked() {
    let repo = TempDir::new().unwrap();
    web(repo.path(), "busybox:1.36");
    node(repo.path(), "web-01", "");
    let converged = fake_status_api(converged_snapshot(repo.path(), "web-01"));
    node(
        repo.path(),
        "web-01",
        &format!("  statusAddr: {converged}\n"),
    );
    node(
        repo.path(),
        "web-02",
        &format!("  statusAddr: {converged}\n"),
    );
    assert_eq!(
        fleet_plan(repo.path(), &["--detailed-exitcode"])
            .status
            .code(),
        Some(0)
    );

    web(repo.path(), "busybox:1.37");
    let (code, document) = fleet_plan_json(repo.path(), &["--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{document:#}");
    let recreate = &by_name(&document, "web-02")["plan"]["actions"][1];
    assert_eq!(recreate["kind"], "recreate", "{document:#}");
    assert_eq!(
        recreate["changes"][0]["new"], "busybox:1.37",
        "{document:#}"
    );
    assert_eq!(fleet_plan(repo.path(), &[]).status.code(), Some(0));
}

#[test]
fn fleet_plan_reports_a_refused_plan_as_a_failed_node() {
    let repo = TempDir::new().unwrap();
    web(repo.path(), "busybox:1.36");
    node(repo.path(), "web-01", "");
    let running = fake_status_api(converged_snapshot(repo.path(), "web-01"));
    node(repo.path(), "web-01", &format!("  statusAddr: {running}\n"));
    fs::remove_file(repo.path().join("deployments/web.yaml")).unwrap();

    let (code, document) = fleet_plan_json(repo.path(), &[]);
    assert_eq!(code, Some(1), "{document:#}");
    let node = by_name(&document, "web-01");
    assert_eq!(node["reachable"], true);
    assert_eq!(node["plan"], Value::Null);
    assert!(node["error"].is_string(), "{document:#}");
    let (code, document) = fleet_plan_json(repo.path(), &["--allow-empty"]);
    assert_eq!(code, Some(0), "{document:#}");
    assert_eq!(by_name(&document, "web-01")["plan"]["summary"]["remove"], 1);
}

#[test]
fn fleet_plan_of_an_invalid_repository_fails_like_plan_without_asking_the_nodes() {
    let repo = TempDir::new().unwrap();
    let (_silent, silent) = silent_status_api();
    node(repo.path(), "web-01", &format!("  statusAddr: {silent}\n"));
    fs::create_dir_all(repo.path().join("deployments")).unwrap();
    fs::write(
        repo.path().join("deployments/web.yaml"),
        "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  imgae: busybox\n",
    )
    .unwrap();
    let started = Instant::now();
    let fleet = fleet_plan(repo.path(), &[]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a node was asked"
    );
    let plan = orun(&[
        "plan",
        "--repo",
        repo.path().to_str().unwrap(),
        "--node",
        "web-01",
    ]);
    assert_eq!(fleet.status.code(), Some(1));
    assert_eq!(plan.status.code(), Some(1));
    let error = String::from_utf8_lossy(&fleet.stderr);
    assert_eq!(error, String::from_utf8_lossy(&plan.stderr));
    assert!(
        error.contains("deployments/web.yaml:6:3: spec.imgae"),
        "{error}"
    );
    assert!(fleet.stdout.is_empty());
}

#[test]
fn plan_reads_a_snapshot_from_a_url_as_from_a_file() {
    let repo = TempDir::new().unwrap();
    web(repo.path(), "busybox:1.37");
    node(repo.path(), "web-01", "");
    let snapshot = converged_snapshot(repo.path(), "web-01");
    web(repo.path(), "busybox:1.38");
    let file = repo.path().join("snapshot.json");
    fs::write(&file, snapshot.to_string()).unwrap();
    let url = format!("http://{}/observed", fake_status_api(snapshot));
    let from_url = plan_json(repo.path(), "web-01", &url);
    assert_eq!(
        from_url,
        plan_json(repo.path(), "web-01", file.to_str().unwrap())
    );
    assert_eq!(from_url["summary"]["recreate"], 1, "{from_url:#}");
}

#[test]
fn plan_names_an_unreachable_or_silent_url_and_fails() {
    let repo = TempDir::new().unwrap();
    web(repo.path(), "busybox:1.36");
    let (_silent, silent) = silent_status_api();
    for (addr, limit) in [(closed_port(), 3), (silent, 6)] {
        let url = format!("http://{addr}/observed");
        let started = Instant::now();
        let output = orun(&[
            "plan",
            "--repo",
            repo.path().to_str().unwrap(),
            "--observed",
            &url,
        ]);
        let took = started.elapsed();
        let error = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{error}");
        assert!(error.contains(&url), "{error}");
        assert!(took < Duration::from_secs(limit), "{took:?}");
    }
}
