//! `git daemon` serving a folder on a loopback port, in a process group of its own so that killing
//! it also kills the `upload-pack` of a fetch in flight: a Git remote that can die in the middle of
//! a fetch and come back on the same port. Killed on drop.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{eventually, free_port};

pub struct GitDaemon {
    base: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl GitDaemon {
    /// Serves every repository under `base` as `git://127.0.0.1:<port>/<path under base>`.
    pub fn start(base: &Path) -> Self {
        let mut daemon = GitDaemon {
            base: base.to_path_buf(),
            port: free_port(),
            child: None,
        };
        daemon.serve();
        daemon
    }

    pub fn url(&self, repository: &str) -> String {
        format!("git://127.0.0.1:{}/{repository}", self.port)
    }

    fn serve(&mut self) {
        let child = Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={}", self.port))
            .arg(format!("--base-path={}", self.base.display()))
            .arg(&self.base)
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon");
        self.child = Some(child);
        let port = self.port;
        assert!(
            eventually(Duration::from_secs(10), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            }),
            "git daemon did not listen on port {port}"
        );
    }

    /// Whether a fetch is being served right now: an `upload-pack` runs in the daemon's group.
    pub fn serving_a_fetch(&self) -> bool {
        let Some(child) = &self.child else {
            return false;
        };
        Command::new("pgrep")
            .args(["-g", &child.id().to_string(), "-f", "upload-pack"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// SIGKILL to the daemon and everything it started, fetches in flight included.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
        }
    }

    /// Serves again on the same port after [`GitDaemon::kill`].
    pub fn restart(&mut self) {
        self.kill();
        self.serve();
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        self.kill();
    }
}
