//! Fixtures for tests that go through a node's Caddy: free loopback ports for its listeners as
//! `orun start` flags (its admin API is a unix socket in the node's data folder), Service manifests with `$ENV` domains, and requests sent to
//! Caddy's HTTP port with a `Host` header.

use std::io::{Read, Write};
use std::time::Duration;

use super::free_port;

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
