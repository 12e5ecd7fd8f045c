//! Fixtures of the Docker-backed tests: the lab check, the locally built test image and the local
//! Debian base image, a throwaway manifest repository with its own environment name, free ports,
//! a local registry (open, or with a login), a folder on a tmpfs for secret files, and cleanup of
//! every container, network and volume of the test's environment even when the test fails; for
//! the fault tests, a Docker API proxy that can be cut, a `git daemon` that can die mid-fetch, and
//! tripwires on Docker events. The helpers that need no Docker come from the normal targets'
//! `tests/support`, included here by path, not copied.

pub mod browser;
pub mod docker_proxy;
pub mod git_daemon;
pub mod ingress;
pub mod lab;
pub mod node;
pub mod recording;
pub mod tripwire;

#[path = "../../support/mod.rs"]
mod common;
#[path = "../../support/two_tier.rs"]
pub mod two_tier;

pub use common::{secrets, sops, text};

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// The test image: static busybox serving `/www` (with `/www/health`) through `httpd` on port 80.
pub const TEST_IMAGE: &str = "orun-test/web:1";

/// What the test image answers on `/`.
pub const TEST_PAGE: &str = "hello from the orun test image\n";

/// Builds the test image once per test process (`FROM scratch` + Debian's static busybox).
pub fn test_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let context = TempDir::new().unwrap();
        let dir = context.path();
        fs::copy("/bin/busybox", dir.join("busybox"))
            .expect("/bin/busybox (apt-get install busybox-static)");
        fs::create_dir_all(dir.join("www")).unwrap();
        fs::write(dir.join("www/index.html"), TEST_PAGE).unwrap();
        fs::write(dir.join("www/health"), "ok\n").unwrap();
        fs::write(
            dir.join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\n\
             ENTRYPOINT [\"/bin/busybox\"]\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n",
        )
        .unwrap();
        docker(&["build", "-q", "-t", TEST_IMAGE, dir.to_str().unwrap()]);
    });
    TEST_IMAGE
}

/// The local Debian base image made by `scripts/debian-image`, for the tests that run real
/// programs (Python, Redis, PostgreSQL, nginx) on a machine with no registry.
pub const LOCAL_BASE: &str = "localhost/orun-debian:bookworm";

/// [`LOCAL_BASE`], failing the test with what to run when it is missing.
pub fn local_base() -> &'static str {
    let present = Command::new("docker")
        .args(["image", "inspect", LOCAL_BASE])
        .output()
        .expect("docker CLI")
        .status
        .success();
    assert!(present, "{LOCAL_BASE} is missing: run scripts/debian-image");
    LOCAL_BASE
}

/// Runs `docker ARGS`, panicking with its stderr on failure; returns stdout.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        output.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// `docker inspect NAME` as JSON, or `None` when no such container exists.
pub fn inspect(name: &str) -> Option<Value> {
    let output = Command::new("docker")
        .args(["inspect", name])
        .output()
        .unwrap();
    if !output.status.success() {
        return None;
    }
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    Some(list[0].clone())
}

/// The `Config.Env` entries of an inspected container.
pub fn env_of(container: &Value) -> Vec<String> {
    container["Config"]["Env"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .filter_map(|value| value.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Now as Docker's `--since`/`--until` take it: seconds with nanoseconds.
pub fn docker_timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

/// Docker events (`action container`) of `environment`'s containers between two timestamps:
/// empty when nothing changed them.
pub fn docker_events(environment: &str, since: &str, until: &str) -> String {
    docker(&[
        "events",
        "--since",
        since,
        "--until",
        until,
        "--filter",
        &format!("label=run.orcra.dev/environment={environment}"),
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ])
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP request to 127.0.0.1:`port``path`: the status code and the body.
pub fn http_request(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let head = format!("{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
    exchange(port, &head, b"")
}

/// A POST to 127.0.0.1:`port``path` with `headers` and `body` (its `Content-Length` taken from
/// `declared_length` when given, so a test can announce more than it sends): the status code and
/// the body of the answer.
pub fn http_post(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    declared_length: Option<usize>,
) -> Option<(u16, String)> {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        declared_length.unwrap_or(body.len())
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    exchange(port, &head, body)
}

/// Sends `head` and `body` on a new connection and reads the answer to its end.
fn exchange(port: u16, head: &str, body: &[u8]) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(2),
    )
    .ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(head.as_bytes()).ok()?;
    // The server may answer and close before it has read a body it refuses.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    // A read that fails after a refused body may still hold the answer sent before the reset.
    if stream.read_to_end(&mut response).is_err() && (body.is_empty() || response.is_empty()) {
        return None;
    }
    let response = String::from_utf8_lossy(&response);
    let code = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    Some((code, body))
}

/// The body of a GET to 127.0.0.1:`port``path` when it answers 2xx.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    http_request(port, "GET", path)
        .filter(|(code, _)| (200..300).contains(code))
        .map(|(_, body)| body)
}

/// Polls `check` until it holds or `limit` passes.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    check()
}

/// A manifest repository for one test, with an environment name no other test uses. Dropping it
/// removes every container of that environment.
pub struct Scenario {
    pub dir: TempDir,
    pub environment: String,
    /// Image references (`orun.local/<deployment>`) removed with the scenario.
    images: std::sync::Mutex<Vec<String>>,
}

impl Scenario {
    pub fn new(test: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        lab::require();
        let environment = format!(
            "t{}-{}-{test}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        assert!(
            environment.len() <= 40,
            "environment name too long: {environment}"
        );
        Scenario {
            dir: TempDir::new().unwrap(),
            environment,
            images: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub fn repo(&self) -> &Path {
        self.dir.path()
    }

    /// The container name of `deployment` in this scenario's environment.
    pub fn container(&self, deployment: &str) -> String {
        format!("{}.{deployment}", self.environment)
    }

    /// Writes `deployments/NAME.yaml` with `spec` (YAML, indented by the caller at two spaces).
    pub fn deployment(&self, name: &str, spec: &str) {
        let path = self.repo().join(format!("deployments/{name}.yaml"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            path,
            format!("apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n{spec}"),
        )
        .unwrap();
    }

    /// Removes every image of `reference` (e.g. `orun.local/web`) when the scenario ends.
    pub fn own_images(&self, reference: &str) {
        self.images.lock().unwrap().push(reference.to_string());
    }

    pub fn remove_deployment(&self, name: &str) {
        fs::remove_file(self.repo().join(format!("deployments/{name}.yaml"))).unwrap();
    }

    /// Runs `orun ARGS --repo REPO --environment ENV`.
    pub fn orun(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("orun runs")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_orun"));
        command
            .args(args)
            .args([
                "--repo",
                self.repo().to_str().unwrap(),
                "--environment",
                &self.environment,
            ])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        command
    }

    /// `orun apply --once`, asserting success; returns stdout.
    pub fn apply(&self) -> String {
        self.apply_with(&[])
    }

    /// `orun apply --once ARGS`, asserting success; returns stdout.
    pub fn apply_with(&self, args: &[&str]) -> String {
        let mut all = vec!["apply", "--once"];
        all.extend(args);
        succeeded(&self.orun(&all), "apply")
    }

    /// `orun plan --output json`.
    pub fn plan(&self) -> Value {
        let output = self.orun(&["plan", "--output", "json"]);
        assert!(
            output.status.success(),
            "plan failed: {}",
            text(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// Names of this environment's containers, sorted.
    pub fn containers(&self) -> Vec<String> {
        container_names(&self.environment)
    }
}

/// The stdout of `output`, failing the test with both streams when the `what` it ran failed.
pub fn succeeded(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Names of the containers labelled with `environment`, sorted.
pub fn container_names(environment: &str) -> Vec<String> {
    let filter = format!("label=run.orcra.dev/environment={environment}");
    let mut names: Vec<String> =
        docker(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"])
            .lines()
            .map(str::to_string)
            .collect();
    names.sort();
    names
}

/// Removes the networks and volumes labelled with `environment`, which orun itself never removes;
/// call it after the environment's containers are gone.
pub fn remove_networks_and_volumes(environment: &str) {
    let filter = format!("label=run.orcra.dev/environment={environment}");
    for kind in ["network", "volume"] {
        let names = docker(&[kind, "ls", "-q", "--filter", &filter]);
        if !names.is_empty() {
            let mut args = vec![kind, "rm"];
            args.extend(names.lines());
            let _ = Command::new("docker").args(&args).output();
        }
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let filter = format!("label=run.orcra.dev/environment={}", self.environment);
        let ids = docker(&["ps", "-aq", "--filter", &filter]);
        let names = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("name=^{}\\.", self.environment),
        ]);
        let all: Vec<&str> = ids.lines().chain(names.lines()).collect();
        if !all.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(all);
            let _ = Command::new("docker").args(&args).output();
        }
        remove_networks_and_volumes(&self.environment);
        for reference in self.images.lock().unwrap().iter() {
            let ids = docker(&[
                "images",
                "-q",
                "--filter",
                &format!("reference={reference}"),
            ]);
            if !ids.is_empty() {
                let mut args = vec!["rmi", "-f"];
                args.extend(ids.lines());
                let _ = Command::new("docker").args(&args).output();
            }
        }
    }
}

/// Debian's `docker-registry` serving on a free loopback port with its own storage; stopped on drop.
pub struct Registry {
    pub address: String,
    child: Option<Child>,
    storage: TempDir,
    /// The user the registry requires, if it requires one.
    login: Option<Login>,
}

/// A user of a registry with htpasswd authentication.
#[derive(Clone, Debug)]
pub struct Login {
    pub username: String,
    pub password: String,
}

impl Registry {
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// A registry that serves only `login` (htpasswd with bcrypt, over plain HTTP: the engine
    /// treats registries on 127.0.0.0/8 as insecure, and the registry allows basic auth without
    /// TLS there).
    pub fn with_login(login: Login) -> Self {
        Self::start_with(Some(login))
    }

    fn start_with(login: Option<Login>) -> Self {
        lab::require();
        let storage = TempDir::new().unwrap();
        let address = format!("127.0.0.1:{}", free_port());
        let auth = match &login {
            Some(login) => {
                let htpasswd = storage.path().join("htpasswd");
                let output = Command::new("htpasswd")
                    .args(["-Bbn", &login.username, &login.password])
                    .output()
                    .expect("htpasswd (apt-get install apache2-utils)");
                assert!(
                    output.status.success(),
                    "htpasswd: {}",
                    text(&output.stderr)
                );
                fs::write(&htpasswd, &output.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: orun-test\n    path: {}\n",
                    htpasswd.display()
                )
            }
            None => String::new(),
        };
        fs::write(
            storage.path().join("config.yml"),
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n{auth}",
                storage.path().join("data").display()
            ),
        )
        .unwrap();
        let mut registry = Registry {
            address,
            child: None,
            storage,
            login,
        };
        registry.serve();
        registry
    }

    /// Starts the registry process on its address and storage.
    fn serve(&mut self) {
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(self.storage.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (apt-get install docker-registry)");
        self.child = Some(child);
        let port: u16 = self.address.rsplit(':').next().unwrap().parse().unwrap();
        // A registry requiring a login answers 401 once it is up.
        assert!(
            eventually(Duration::from_secs(20), || http_request(
                port, "GET", "/v2/"
            )
            .is_some_and(|(code, _)| code == 200 || code == 401)),
            "registry on {} did not start",
            self.address
        );
    }

    /// Kills the registry: an outage. Its images stay in its storage for [`Registry::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Brings the registry back after [`Registry::stop`], on the same address with the same images.
    pub fn restart(&mut self) {
        self.stop();
        self.serve();
    }

    /// Pushes the test image as `<registry>/<name>` and removes the local tag, so using it means pulling.
    pub fn push_test_image(&self, name: &str) -> String {
        let reference = format!("{}/{name}", self.address);
        docker(&["tag", test_image(), &reference]);
        match &self.login {
            Some(login) => {
                let client = self.client_config(login);
                docker(&["--config", &client, "push", "-q", &reference]);
            }
            None => {
                docker(&["push", "-q", &reference]);
            }
        }
        docker(&["rmi", &reference]);
        reference
    }

    /// A throwaway Docker client configuration logged in to this registry with `docker login`.
    fn client_config(&self, login: &Login) -> String {
        let client = self.storage.path().join("client");
        let mut child = Command::new("docker")
            .args(["--config", client.to_str().unwrap(), "login"])
            .args([
                "--username",
                &login.username,
                "--password-stdin",
                &self.address,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker CLI");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(login.password.as_bytes()).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "docker login: {}",
            text(&output.stderr)
        );
        client.display().to_string()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The path of a scratch directory under the scenario for bind mounts.
pub fn scratch_dir(scenario: &Scenario, name: &str) -> PathBuf {
    scenario.repo().join("volumes").join(name)
}

/// A folder on a tmpfs for one test's secret files, removed when dropped.
pub struct SecretDir(PathBuf);

impl SecretDir {
    pub fn new(test: &str) -> Self {
        let dir = PathBuf::from(format!("/dev/shm/orun-test-{}-{test}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        SecretDir(dir)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for SecretDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Every regular file under `dir`.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            files.extend(walk(&entry.path()));
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    files
}
