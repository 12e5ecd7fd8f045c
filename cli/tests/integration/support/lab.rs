//! The check behind the `docker-tests` opt-in: before the first fixture of a test touches the
//! lab, it verifies once per test process that a Docker engine answers and that every tool the
//! tests run or copy into images is installed, and fails naming each missing piece with how to get
//! it. It installs and starts nothing itself; `scripts/test-all` does.

use std::env;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

/// Commands the tests run through `PATH`, with how to install each.
const COMMANDS: &[(&str, &str)] = &[
    ("docker", "apt-get install docker.io"),
    ("docker-registry", "apt-get install docker-registry"),
    ("htpasswd", "apt-get install apache2-utils"),
    ("git", "apt-get install git"),
    ("ssh", "apt-get install openssh-client"),
    ("caddy", "apt-get install caddy"),
    ("pgrep", "apt-get install procps"),
    ("kill", "apt-get install procps"),
    ("prlimit", "apt-get install util-linux"),
    ("promtool", "apt-get install prometheus"),
    ("prometheus", "apt-get install prometheus"),
    ("chromedriver", "apt-get install chromium-driver"),
];

/// Files the tests use at fixed paths (copied into test images, or started by path).
const FILES: &[(&str, &str)] = &[
    ("/bin/busybox", "apt-get install busybox-static"),
    ("/usr/sbin/sshd", "apt-get install openssh-server"),
    ("/usr/bin/ssh-keygen", "apt-get install openssh-client"),
    ("/usr/bin/ssh-keyscan", "apt-get install openssh-client"),
    ("/usr/bin/docker", "apt-get install docker.io"),
    ("/usr/bin/chromium", "apt-get install chromium"),
];

/// Panics, listing what is missing and how to install it, unless the whole lab is present.
pub fn require() {
    static MISSING: OnceLock<Vec<String>> = OnceLock::new();
    let missing = MISSING.get_or_init(missing);
    assert!(
        missing.is_empty(),
        "the Docker-backed tests (feature docker-tests) cannot run on this machine:\n  - {}\n\
         scripts/test-all installs the packages, starts dockerd and runs every test",
        missing.join("\n  - ")
    );
}

fn missing() -> Vec<String> {
    let mut missing = Vec::new();
    let (endpoint, fix) = match env::var("DOCKER_HOST") {
        Ok(host) => (host, "start dockerd there, or unset DOCKER_HOST"),
        Err(_) => (
            "unix:///var/run/docker.sock".to_string(),
            "start dockerd (apt-get install docker.io if it is not installed)",
        ),
    };
    match engine_ping(&endpoint) {
        Ok(true) => {}
        Ok(false) => missing.push(format!(
            "no Docker engine answers at {}: {fix}",
            endpoint.trim_start_matches("unix://")
        )),
        Err(unsupported) => missing.push(unsupported),
    }
    for (command, install) in COMMANDS {
        if !on_path(command) {
            missing.push(format!("{command} not found on PATH: {install}"));
        }
    }
    for (file, install) in FILES {
        if !Path::new(file).is_file() {
            missing.push(format!("{file} not found: {install}"));
        }
    }
    missing
}

/// Whether the engine at `endpoint` (`unix://PATH` or `tcp://HOST:PORT`) answers `GET /_ping`.
fn engine_ping(endpoint: &str) -> Result<bool, String> {
    let timeout = Some(Duration::from_secs(5));
    let answered = if let Some(path) = endpoint.strip_prefix("unix://") {
        UnixStream::connect(path).and_then(|stream| {
            stream.set_read_timeout(timeout)?;
            ping(stream)
        })
    } else if let Some(address) = endpoint.strip_prefix("tcp://") {
        TcpStream::connect(address).and_then(|stream| {
            stream.set_read_timeout(timeout)?;
            ping(stream)
        })
    } else {
        return Err(format!(
            "DOCKER_HOST={endpoint} is neither unix:// nor tcp://: unset it or point it at a local engine"
        ));
    };
    Ok(answered.unwrap_or(false))
}

fn ping(mut stream: impl Read + Write) -> std::io::Result<bool> {
    stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response.split_whitespace().nth(1) == Some("200"))
}

fn on_path(command: &str) -> bool {
    env::var_os("PATH")
        .is_some_and(|path| env::split_paths(&path).any(|dir| dir.join(command).is_file()))
}
