//! Remote commands through the system's OpenSSH client (`ssh`), so the operator's ssh config,
//! agent and known hosts apply. Non-root users run commands through `sudo -n`. It knows nothing
//! about what the commands do.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{anyhow, Context, Result};

/// How to reach one node.
#[derive(Clone, Debug)]
pub struct Ssh {
    pub user: String,
    pub host: String,
    pub port: Option<u16>,
    pub key: PathBuf,
    /// Extra `-o` options for ssh (`--ssh-option`).
    pub options: Vec<String>,
}

impl Ssh {
    /// `host`, `host:port` or `[v6]:port`, as the Node's `host` field may hold.
    pub fn new(host: &str, user: &str, key: PathBuf, options: Vec<String>) -> Self {
        let (host, port) = match host.rsplit_once(':') {
            Some((name, port)) if !name.contains(':') || name.ends_with(']') => {
                match port.parse() {
                    Ok(port) => (
                        name.trim_start_matches('[')
                            .trim_end_matches(']')
                            .to_string(),
                        Some(port),
                    ),
                    Err(_) => (host.to_string(), None),
                }
            }
            _ => (host.to_string(), None),
        };
        Ssh {
            user: user.to_string(),
            host,
            port,
            key,
            options,
        }
    }

    pub fn destination(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }

    fn arguments(&self) -> Vec<String> {
        let mut args = vec![
            "-o".to_string(),
            "BatchMode=yes".to_string(),
            "-o".to_string(),
            "StrictHostKeyChecking=accept-new".to_string(),
            "-i".to_string(),
            self.key.display().to_string(),
        ];
        if let Some(port) = self.port {
            args.extend(["-p".to_string(), port.to_string()]);
        }
        for option in &self.options {
            args.extend(["-o".to_string(), option.clone()]);
        }
        args.push(self.destination());
        args
    }

    fn remote_command(&self, command: &str) -> String {
        if self.user == "root" {
            command.to_string()
        } else {
            format!("sudo -n sh -c '{}'", command.replace('\'', r"'\''"))
        }
    }

    /// The command line that would run `command`, for `--dry-run`.
    pub fn describe(&self, command: &str) -> String {
        format!(
            "ssh {} -- {}",
            self.arguments().join(" "),
            self.remote_command(command)
        )
    }

    /// Runs `command` on the node with `stdin`; its stdout on success, its output in the error.
    pub fn run(&self, command: &str, stdin: Option<&[u8]>) -> Result<String> {
        let mut child = Command::new("ssh")
            .args(self.arguments())
            .arg("--")
            .arg(self.remote_command(command))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run ssh (is the OpenSSH client installed?)")?;
        let mut input = child.stdin.take().expect("piped stdin");
        if let Some(bytes) = stdin {
            input
                .write_all(bytes)
                .with_context(|| format!("sending data to {}", self.destination()))?;
        }
        drop(input);
        let output = child.wait_with_output().context("waiting for ssh")?;
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        if output.status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(anyhow!(
            "`{command}` exited with {}: {}",
            output
                .status
                .code()
                .map_or("a signal".to_string(), |code| code.to_string()),
            format!("{}{}", stdout, stderr).trim()
        ))
    }
}
