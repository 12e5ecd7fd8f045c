//! Fixtures for node daemon tests: a bare Git repository as `origin` with a work clone to commit
//! from, and a running `orun start` child with its own environment, data dir and status port.
//! Dropping a `Node` kills the daemon and removes its environment's containers, network and
//! volumes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use super::{docker, eventually, free_port, http_get};

/// `origin.git` (bare) and `work` (a clone on branch `main`) in one temporary folder.
pub struct Origin {
    pub dir: TempDir,
}

impl Origin {
    pub fn new() -> Self {
        super::lab::require();
        let dir = TempDir::new().unwrap();
        git(
            dir.path(),
            &["init", "-q", "--bare", "-b", "main", "origin.git"],
        );
        git(dir.path(), &["init", "-q", "-b", "main", "work"]);
        let origin = Origin { dir };
        git(
            &origin.work(),
            &["remote", "add", "origin", origin.bare().to_str().unwrap()],
        );
        origin
    }

    pub fn bare(&self) -> PathBuf {
        self.dir.path().join("origin.git")
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Writes `path` in the work clone.
    pub fn write(&self, path: &str, text: &str) {
        let path = self.work().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// Commits everything and pushes (forced) to origin; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        self.commit_to("main", message)
    }

    /// Commits everything on `branch` (created from the current commit if new) and force-pushes it.
    pub fn commit_to(&self, branch: &str, message: &str) -> String {
        let work = self.work();
        git(&work, &["checkout", "-q", "-B", branch]);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "--allow-empty", "-m", message]);
        git(&work, &["push", "-q", "-f", "origin", branch]);
        git(&work, &["rev-parse", "HEAD"])
    }
}

/// Runs git in `dir` with a fixed identity; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=orun test",
            "-c",
            "user.email=test@orun.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        output.status.success(),
        "git {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A deployment manifest of the test image on `port` with `GREETING`.
pub fn web_manifest(name: &str, port: u16, greeting: &str) -> String {
    format!(
        "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  image: {}\n  ports:\n    - containerPort: 80\n      port: {port}\n      hostIP: 127.0.0.1\n  env:\n    GREETING: {greeting}\n  stopTimeout: 1s\n",
        super::test_image()
    )
}

/// A running `orun start`.
pub struct Node {
    pub environment: String,
    pub status_port: u16,
    pub data: TempDir,
    pub config: PathBuf,
    args: Vec<String>,
    /// Extra environment variables of the `orun start` process.
    pub env: Vec<(String, String)>,
    /// Soft and hard limit of the process's open files (through `prlimit`); inherited when `None`.
    pub open_files_limit: Option<u32>,
    child: Option<Child>,
    log: PathBuf,
}

impl Node {
    /// Starts a node for `url` with `pollInterval: 1s` in a fresh environment named after `test`.
    pub fn start(test: &str, url: &str) -> Self {
        Self::start_with(test, url, "")
    }

    /// Like `start`, with extra Node spec lines (indented by two spaces).
    pub fn start_with(test: &str, url: &str, extra: &str) -> Self {
        Self::start_full(test, url, "main", extra, &[])
    }

    /// A node tracking `branch`, with extra Node spec lines and extra `orun start` arguments.
    pub fn start_full(test: &str, url: &str, branch: &str, extra: &str, args: &[String]) -> Self {
        let mut node = Self::configure(test, url, branch, extra, args);
        node.spawn();
        node
    }

    /// A node set up like [`Node::start_full`] but not started yet: [`Node::spawn`] starts it.
    pub fn configure(test: &str, url: &str, branch: &str, extra: &str, args: &[String]) -> Self {
        let environment = format!("n{}-{test}", std::process::id());
        assert!(environment.len() <= 40);
        let data = TempDir::new().unwrap();
        let config = data.path().join("node.yaml");
        fs::write(
            &config,
            format!(
                "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: {test}\nspec:\n  host: 127.0.0.1\n  gitRepo: {url}\n  gitBranch: {branch}\n  pollInterval: 1s\n  dataDir: {}\n  environment: {environment}\n{extra}",
                data.path().join("state").display()
            ),
        )
        .unwrap();
        Node {
            environment,
            status_port: free_port(),
            log: data.path().join("orun.log"),
            data,
            config,
            args: args.to_vec(),
            env: Vec::new(),
            open_files_limit: None,
            child: None,
        }
    }

    /// (Re)starts the daemon process with the same settings.
    pub fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        // prlimit sets the limit on itself and then becomes orun: the child's pid is orun's.
        let mut command = match self.open_files_limit {
            Some(limit) => {
                let mut command = Command::new("prlimit");
                command
                    .arg(format!("--nofile={limit}:{limit}"))
                    .arg("--")
                    .arg(env!("CARGO_BIN_EXE_orun"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_orun")),
        };
        let child = command
            .args(["start", "--config", self.config.to_str().unwrap()])
            // The tests serve their remotes over git:// on the loopback interface.
            .arg("--allow-insecure-transport")
            .args([
                "--status-addr",
                "127.0.0.1",
                "--status-port",
                &self.status_port.to_string(),
            ])
            .args(["--log-format", "json"])
            .args(&self.args)
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("orun start");
        self.child = Some(child);
        assert!(
            eventually(Duration::from_secs(20), || self.get("/healthz").is_some()),
            "the status API did not come up; log:\n{}",
            self.log_text()
        );
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit status (up to `limit`).
    pub fn terminate(&mut self, limit: Duration) -> Option<i32> {
        let mut child = self.child.take().expect("running");
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let deadline = std::time::Instant::now() + limit;
        let mut code = None;
        while std::time::Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                code = status.code();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if code.is_none() {
            let _ = child.kill();
        }
        let _ = child.wait();
        code
    }

    /// Kills the daemon with SIGKILL, as a crash or the OOM killer would, and reaps it.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        let _ = child.wait();
    }

    /// The process id of the running daemon, for a test that signals it from another thread.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Whether the daemon process has ended (crashed) since it was spawned.
    pub fn has_exited(&mut self) -> bool {
        let child = self.child.as_mut().expect("spawned");
        child.try_wait().unwrap().is_some()
    }

    /// The node's `dataDir`.
    pub fn data_dir(&self) -> PathBuf {
        self.data.path().join("state")
    }

    pub fn get(&self, path: &str) -> Option<String> {
        http_get(self.status_port, path)
    }

    pub fn status(&self) -> Value {
        let body = self.get("/status").expect("status API answers");
        serde_json::from_str(&body).unwrap()
    }

    /// Polls the status until `check` holds (up to `limit`), panicking with the status and log.
    pub fn wait_for(&self, what: &str, limit: Duration, check: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let ok = eventually(limit, || {
            last = self.status();
            check(&last)
        });
        assert!(
            ok,
            "{what}: not reached in {limit:?}\nstatus: {last:#}\nlog:\n{}",
            self.log_text()
        );
        last
    }

    pub fn container(&self, deployment: &str) -> String {
        format!("{}.{deployment}", self.environment)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.terminate(Duration::from_secs(10));
        }
        let filter = format!("label=run.orcra.dev/environment={}", self.environment);
        let ids = docker(&["ps", "-aq", "--filter", &filter]);
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids.lines());
            let _ = Command::new("docker").args(&args).output();
        }
        super::remove_networks_and_volumes(&self.environment);
    }
}
