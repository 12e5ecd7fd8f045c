//! Fixtures for tests that go through a node's Caddy: free loopback ports for its listeners as
//! `orun start` flags (its admin API is a unix socket in the node's data folder), Service
//! manifests with `$ENV` domains, requests sent to Caddy's HTTP port with a `Host` header, and a
//! bounded load thread tallying what answered.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{eventually, free_port};

/// Caddy's HTTP port, and the `orun start` flags that put Caddy on free loopback ports.
pub struct IngressPorts {
    pub http: u16,
    pub args: Vec<String>,
}

impl IngressPorts {
    pub fn new() -> Self {
        let http = free_port();
        IngressPorts {
            http,
            args: vec![
                "--ingress-http-port".into(),
                http.to_string(),
                "--ingress-https-port".into(),
                free_port().to_string(),
            ],
        }
    }
}

/// A Service manifest routing `default` (production) and `template` (other environments) to
/// `deployment`, with extra spec lines (indented by two spaces).
pub fn service_manifest(
    name: &str,
    deployment: &str,
    default: &str,
    template: &str,
    extra: &str,
) -> String {
    format!(
        "apiVersion: run.orcra.dev/v0alpha\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  deployment: {deployment}\n  ingress:\n    domain:\n      default: {default}\n      environment: {template}\n{extra}"
    )
}

/// A GET through Caddy's HTTP port with a `Host` header, on a connection of its own: status code
/// and body, or why no response came.
pub fn request(port: u16, host: &str, path: &str) -> Result<(u16, String), String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))
        .map_err(|error| format!("connect: {error}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|error| format!("set timeout: {error}"))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")
        .map_err(|error| format!("send: {error}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|error| format!("read: {error}"))?;
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status line in {response:?}"))?;
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    Ok((code, body.to_string()))
}

/// [`request`], when a response came.
pub fn through_caddy(port: u16, host: &str, path: &str) -> Option<(u16, String)> {
    request(port, host, path).ok()
}

/// Bounds of the load thread, whatever happens to the test driving it.
const MAX_REQUESTS: usize = 500_000;
const MAX_LOAD_TIME: Duration = Duration::from_secs(300);

/// What the load thread saw: successful requests, failures with when and why, and the versions
/// that answered, in the order they first did.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub ok: usize,
    pub failures: Vec<String>,
    pub versions: Vec<String>,
}

/// A thread sending GET `/version` through Caddy back to back until stopped (or its bounds).
pub struct Load {
    tally: Arc<Mutex<Tally>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Load {
    pub fn start(port: u16, host: &str) -> Self {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (tally, stop, host) = (tally.clone(), stop.clone(), host.to_string());
            std::thread::spawn(move || {
                let started = Instant::now();
                for _ in 0..MAX_REQUESTS {
                    if stop.load(Ordering::SeqCst) || started.elapsed() > MAX_LOAD_TIME {
                        break;
                    }
                    let result = request(port, &host, "/version");
                    let mut tally = tally.lock().unwrap();
                    match result {
                        Ok((200, body)) if !body.trim().is_empty() => {
                            tally.ok += 1;
                            let version = body.trim().to_string();
                            if !tally.versions.contains(&version) {
                                tally.versions.push(version);
                            }
                        }
                        other => {
                            let at = started.elapsed().as_secs_f64();
                            tally.failures.push(format!("at {at:.3}s: {other:?}"));
                        }
                    }
                }
            })
        };
        Load {
            tally,
            stop,
            thread: Some(thread),
        }
    }

    pub fn snapshot(&self) -> Tally {
        self.tally.lock().unwrap().clone()
    }

    /// Waits until `version` has answered through Caddy.
    pub fn wait_for_version(&self, version: &str) {
        assert!(
            eventually(Duration::from_secs(20), || self
                .snapshot()
                .versions
                .iter()
                .any(|seen| seen == version)),
            "{version} never answered through Caddy: {:?}",
            self.snapshot()
        );
    }

    /// Stops the thread and returns what it saw.
    pub fn finish(mut self) -> Tally {
        self.halt();
        self.snapshot()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.halt();
    }
}
