//! `GET /metrics` of a real node daemon read by the Prometheus tools: `promtool check metrics` on
//! the text format, a real Prometheus server (its own config and data in a temporary folder, on a
//! loopback port) scraping the node with OpenMetrics until the target is up without errors, and
//! `promtool check rules` / `promtool test rules` on the example alerting rules.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::support::node::{web_manifest, Node, Origin};
use crate::support::{eventually, free_port, http_get};

/// A GET of 127.0.0.1:`port``path` with an `Accept` header: the response head and body.
fn get_with_accept(port: u16, path: &str, accept: &str) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\nAccept: {accept}\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_ascii_lowercase(), body.to_string())
}

/// A node with one deployment, its first commit applied.
fn running_node(test: &str) -> (Origin, Node) {
    let origin = Origin::new();
    origin.write("README.md", "metrics\n");
    origin.commit("empty start");
    let node = Node::start(test, origin.bare().to_str().unwrap());
    origin.write(
        "deployments/web.yaml",
        &web_manifest("web", free_port(), "metrics"),
    );
    let commit = origin.commit("add web");
    node.wait_for("commit applied", Duration::from_secs(30), |status| {
        status["node"]["applied_commit"] == commit.as_str()
    });
    (origin, node)
}

fn promtool(args: &[&str], stdin: Option<&str>, dir: &Path) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn promtool_accepts_the_text_format_of_a_running_node() {
    let (_origin, node) = running_node("metrics-text");
    let (head, body) = get_with_accept(node.status_port, "/metrics", "text/plain");
    assert!(
        head.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    assert!(!body.contains("# EOF"), "{body}");
    for series in [
        "orun_git_polls_total",
        "orun_healthy 1",
        "orun_applied_behind_head 0",
    ] {
        assert!(body.contains(series), "{series} missing:\n{body}");
    }
    let dir = TempDir::new().unwrap();
    let (ok, problems) = promtool(&["check", "metrics"], Some(&body), dir.path());
    assert!(ok && problems.trim().is_empty(), "{problems}\n{body}");

    let (head, body) = get_with_accept(
        node.status_port,
        "/metrics",
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
    );
    assert!(
        head.contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
}

/// A Prometheus server started for one test; killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Prometheus {
    fn scraping(job: &str, target_port: u16) -> Self {
        let dir = TempDir::new().unwrap();
        let config = dir.path().join("prometheus.yml");
        fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("prometheus (apt-get install prometheus)");
        Prometheus {
            child,
            port,
            _dir: dir,
        }
    }

    fn api(&self, path: &str) -> Option<Value> {
        let body = http_get(self.port, path)?;
        serde_json::from_str(&body).ok()
    }

    fn log(&self) -> String {
        fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_real_prometheus_scrapes_a_node_without_errors() {
    let (_origin, node) = running_node("metrics-scrape");
    let job = format!("orun-{}", std::process::id());
    let prometheus = Prometheus::scraping(&job, node.status_port);
    let up_query = format!("/api/v1/query?query=up%7Bjob%3D%22{job}%22%7D");
    let mut last = Value::Null;
    let up = eventually(Duration::from_secs(60), || {
        last = prometheus.api(&up_query).unwrap_or_default();
        last["data"]["result"][0]["value"][1] == "1"
    });
    assert!(up, "up is not 1: {last:#}\n{}", prometheus.log());

    let targets = prometheus.api("/api/v1/targets").unwrap();
    let target = &targets["data"]["activeTargets"][0];
    assert_eq!(target["health"], "up", "{targets:#}");
    assert_eq!(target["lastError"], "", "{targets:#}");

    let polls_query = format!("/api/v1/query?query=orun_git_polls_total%7Bjob%3D%22{job}%22%7D");
    let polls = prometheus.api(&polls_query).unwrap();
    let count: f64 = polls["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap_or_else(|| panic!("no orun_git_polls_total: {polls:#}"))
        .parse()
        .unwrap();
    assert!(count >= 1.0, "{polls:#}");
}

#[test]
fn the_example_alerting_rules_load_and_pass_their_tests() {
    crate::support::lab::require();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/prometheus");
    let (ok, output) = promtool(&["check", "rules", "orun-alerts.yml"], None, &examples);
    assert!(ok, "{output}");
    assert!(output.contains("SUCCESS: 4 rules found"), "{output}");
    let (ok, output) = promtool(&["test", "rules", "orun-alerts.test.yml"], None, &examples);
    assert!(ok, "{output}");
}
