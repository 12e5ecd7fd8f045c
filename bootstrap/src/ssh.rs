//! Remote commands through the system's OpenSSH client (`ssh`), so the operator's ssh config,
//! agent and known hosts apply, and quoting for the remote shell. Non-root users run commands
//! through `sudo -n`. `--` ends ssh's options before the destination, so neither the user nor the
//! host can be read as an option. A command line shown for `--dry-run` is quoted for the
//! operator's shell word by word, so pasting it runs exactly what bootstrap would run. It knows
//! nothing about what the commands do.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Why a remote command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("cannot run ssh (is the OpenSSH client installed?): {0}")]
    Start(io::Error),
    #[error("sending data to {destination}: {error}")]
    Send {
        destination: String,
        error: io::Error,
    },
    #[error("waiting for ssh: {0}")]
    Wait(io::Error),
    #[error("cannot show the ssh command line: {0}")]
    Quote(shlex::QuoteError),
    /// The command ran and failed; `exit` is its exit code or `a signal`, `output` what it wrote.
    #[error("`{command}` exited with {exit}: {output}")]
    Failed {
        command: String,
        exit: String,
        output: String,
    },
}

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
        let (host, port) = engine::manifest::fields::split_host_port(host);
        Ssh {
            user: user.to_string(),
            host: host.to_string(),
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
        // After `--` ssh reads no more options, also none after the destination.
        args.push("--".to_string());
        args.push(self.destination());
        args
    }

    fn remote_command(&self, command: &str) -> String {
        if self.user == "root" {
            command.to_string()
        } else {
            format!("sudo -n sh -c {}", quote(command))
        }
    }

    /// The command line that would run `command`, for `--dry-run`: every word quoted for a POSIX
    /// shell, so that a path or option holding shell syntax stays one word when pasted.
    pub fn describe(&self, command: &str) -> Result<String, SshError> {
        let mut words = vec!["ssh".to_string()];
        words.extend(self.arguments());
        words.push(self.remote_command(command));
        shlex::try_join(words.iter().map(String::as_str)).map_err(SshError::Quote)
    }

    /// Runs `command` on the node with `stdin`; its stdout on success, its output in the error.
    pub fn run(&self, command: &str, stdin: Option<&[u8]>) -> Result<String, SshError> {
        let mut child = Command::new("ssh")
            .args(self.arguments())
            .arg(self.remote_command(command))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(SshError::Start)?;
        let mut input = child.stdin.take().expect("piped stdin");
        if let Some(bytes) = stdin {
            input.write_all(bytes).map_err(|error| SshError::Send {
                destination: self.destination(),
                error,
            })?;
        }
        drop(input);
        let output = child.wait_with_output().map_err(SshError::Wait)?;
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        if output.status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(SshError::Failed {
            command: command.to_string(),
            exit: output
                .status
                .code()
                .map_or("a signal".to_string(), |code| code.to_string()),
            output: format!("{stdout}{stderr}").trim().to_string(),
        })
    }
}

/// `value` as one word for a POSIX shell: unchanged when it holds only characters no shell treats
/// specially, else in single quotes, inside which nothing but `'` itself is special.
pub fn quote(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        return value.to_string();
    }
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// What `sh` makes of `text` as a command line's arguments.
    fn shell_words(text: &str) -> Vec<String> {
        let output = Command::new("sh")
            .args(["-c", &format!("printf '%s\\0' {text}")])
            .output()
            .unwrap();
        assert!(output.status.success(), "{text}");
        String::from_utf8(output.stdout)
            .unwrap()
            .split_terminator('\0')
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn quoted_values_stay_one_word_whatever_they_hold() {
        for value in [
            "/opt/orun/keys",
            "/srv/my orun/",
            "it's",
            "$(touch /tmp/orun-pwned)",
            "`id`; rm -rf /",
            "a\nb",
            "\\'\"",
            "",
            "-flag",
        ] {
            assert_eq!(
                shell_words(&quote(value)),
                vec![value.to_string()],
                "{value}"
            );
        }
        assert_eq!(quote("/opt/orun/keys"), "/opt/orun/keys");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_destination_follows_the_end_of_options() {
        let ssh = Ssh::new(
            "10.0.0.5:2222",
            "-oProxyCommand=x",
            PathBuf::from("/k"),
            vec![],
        );
        let args = ssh.arguments();
        let end = args.iter().position(|arg| arg == "--").unwrap();
        assert_eq!(args[end + 1..], ["-oProxyCommand=x@10.0.0.5".to_string()]);
        let words = shell_words(&ssh.describe("id").unwrap());
        assert_eq!(
            words[words.len() - 3..],
            ["--", "-oProxyCommand=x@10.0.0.5", "sudo -n sh -c id"]
        );
    }

    #[test]
    fn a_described_command_line_is_the_words_ssh_would_get() {
        let ssh = Ssh::new(
            "10.0.0.5",
            "deploy",
            PathBuf::from("/keys/id; touch /tmp/orun-pwned $(id) `id`"),
            vec!["ProxyCommand=nc %h %p; id".to_string()],
        );
        let command = "mkdir -p -- '/srv/a b' && echo $HOME";
        let mut expected = vec!["ssh".to_string()];
        expected.extend(ssh.arguments());
        expected.push(ssh.remote_command(command));
        assert_eq!(shell_words(&ssh.describe(command).unwrap()), expected);
    }

    #[test]
    fn non_root_commands_are_quoted_once_more_for_sudo() {
        let ssh = Ssh::new("h", "deploy", PathBuf::from("/k"), vec![]);
        let command = format!("mkdir -p -- {}", quote("/srv/it's here"));
        let wrapped = ssh.remote_command(&command);
        assert_eq!(
            shell_words(&wrapped),
            ["sudo", "-n", "sh", "-c", command.as_str()]
        );
    }
}
