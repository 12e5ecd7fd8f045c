//! orun's operator-side provisioning, `orun bootstrap` (docs/bootstrap.md): turns a Node manifest
//! into the idempotent steps that provision the node over SSH (Docker check, binary, folders,
//! `node.yaml`, deploy key, Git host key, systemd unit, sysctl drop-in, `systemctl`), and runs
//! them through the
//! system's OpenSSH client. Every step reports whether it changed anything, so a second run changes
//! nothing. Every value from the manifest reaches the remote shell quoted (`ssh::quote`), after
//! the loader refused control characters and a leading `-` in it. It is no part of the node
//! agent and does not depend on it: it runs on the operator's machine, reaches the node only
//! through `ssh`, and leaves printing to its caller.

pub mod ssh;
pub mod unit;

use std::io;
use std::path::{Path, PathBuf};

use engine::manifest::NodeSpec;
use engine::spec::sha256_hex;

use ssh::{quote, Ssh, SshError};

/// Where orun installs itself on a node.
pub const REMOTE_BINARY: &str = "/usr/local/bin/orun";
pub const REMOTE_UNIT: &str = "/etc/systemd/system/orun.service";
/// The sysctl drop-in, beside the binary under `/usr/local`: the operator's file of the same name in
/// `/etc/sysctl.d` overrides it.
pub const REMOTE_SYSCTL: &str = "/usr/local/lib/sysctl.d/60-orun.conf";

/// Applies the drop-in now when systemd can, printing `applied` or `later` (at the next boot).
const APPLY_SYSCTL: &str = "r=later; for s in /lib/systemd/systemd-sysctl /usr/lib/systemd/systemd-sysctl; do if [ -x \"$s\" ]; then \"$s\" 60-orun.conf 2>/dev/null && r=applied; break; fi; done; echo $r";

/// A step that failed, on which node, and why.
#[derive(Debug, thiserror::Error)]
#[error("step {step} failed on {destination}: {error}")]
pub struct BootstrapError {
    pub step: &'static str,
    /// `user@host` of the node.
    pub destination: String,
    pub error: StepError,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("cannot read {}: {error}", .binary.display())]
    Binary { binary: PathBuf, error: io::Error },
    #[error("gitRepo: the Git host {0:?} must not start with '-': ssh-keyscan would read it as an option")]
    GitHostOption(String),
    /// The node could not scan the Git host's key; `answer` is what the command printed.
    #[error("cannot read the host key of {pattern} from the node: {answer}")]
    GitHostKey { pattern: String, answer: String },
}

/// What a step found or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepResult {
    Unchanged(String),
    Changed(String),
}

/// Everything bootstrap needs about the node, from its manifest.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    pub spec: NodeSpec,
    /// The manifest text, written as `<dataDir>/node.yaml`.
    pub manifest: String,
}

/// The SSH host and port of a Git remote URL (`ssh://[user@]host[:port]/path` or
/// `user@host:path`), or `None` when the remote does not use SSH.
pub fn git_ssh_host(url: &str) -> Option<(String, u16)> {
    if let Some(rest) = url.strip_prefix("ssh://") {
        let authority = rest.split('/').next()?;
        let host_port = authority.rsplit('@').next()?;
        return Some(match host_port.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), port.parse().ok()?),
            None => (host_port.to_string(), 22),
        });
    }
    if url.contains("://") || url.starts_with('/') || url.starts_with('.') {
        return None;
    }
    let (user_host, _path) = url.split_once(':')?;
    let host = user_host.rsplit('@').next()?;
    (!host.is_empty()).then(|| (host.to_string(), 22))
}

/// The provisioning steps; `systemctl` comes last, acting on what the others changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Docker,
    Binary,
    Folders,
    Config,
    DeployKey,
    GitHostKey,
    Unit,
    Sysctl,
    Systemd,
}

/// What the steps so far changed that the service has to act on.
#[derive(Clone, Copy, Debug, Default)]
struct Changes {
    /// Something the running service uses changed: restart it.
    restart: bool,
    /// The unit file changed: reload systemd first.
    reload: bool,
}

impl Step {
    /// Every step, in the order `provision` runs them.
    pub const ALL: [Step; 9] = [
        Step::Docker,
        Step::Binary,
        Step::Folders,
        Step::Config,
        Step::DeployKey,
        Step::GitHostKey,
        Step::Unit,
        Step::Sysctl,
        Step::Systemd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Docker => "docker",
            Step::Binary => "binary",
            Step::Folders => "folders",
            Step::Config => "node.yaml",
            Step::DeployKey => "deploy key",
            Step::GitHostKey => "git host key",
            Step::Unit => "systemd unit",
            Step::Sysctl => "sysctl",
            Step::Systemd => "systemd",
        }
    }

    /// Whether a change in this step means the running service must restart.
    fn needs_restart(self) -> bool {
        // The kernel reads the sysctl at each Caddy reload: the running daemon needs no restart.
        !matches!(
            self,
            Step::Docker | Step::DeployKey | Step::Sysctl | Step::Systemd
        )
    }

    fn run(
        self,
        node: &Node,
        ssh: &Ssh,
        binary: &Path,
        changes: Changes,
    ) -> Result<StepResult, StepError> {
        match self {
            Step::Docker => check_docker(ssh),
            Step::Binary => upload_binary(ssh, binary),
            Step::Folders => make_folders(ssh, node),
            Step::Config => put_file(
                ssh,
                &node.spec.paths().config().display().to_string(),
                "0600",
                node.manifest.as_bytes(),
            ),
            Step::DeployKey => deploy_key(ssh, node),
            Step::GitHostKey => git_host_key(ssh, node),
            Step::Unit => put_file(ssh, REMOTE_UNIT, "0644", unit::render(node).as_bytes()),
            Step::Sysctl => sysctl(ssh),
            Step::Systemd => systemd(ssh, changes),
        }
    }
}

/// Runs the steps of `Step::ALL` for `node` with the local `binary`, reporting each with its
/// 1-based position.
pub fn provision(
    node: &Node,
    ssh: &Ssh,
    binary: &Path,
    mut report: impl FnMut(usize, &str, &StepResult),
) -> Result<(), BootstrapError> {
    let mut changes = Changes::default();
    for (index, step) in Step::ALL.into_iter().enumerate() {
        let result = step
            .run(node, ssh, binary, changes)
            .map_err(|error| BootstrapError {
                step: step.name(),
                destination: ssh.destination(),
                error,
            })?;
        if matches!(result, StepResult::Changed(_)) && step.needs_restart() {
            changes.restart = true;
            changes.reload |= step == Step::Unit;
        }
        report(index + 1, step.name(), &result);
    }
    Ok(())
}

fn check_docker(ssh: &Ssh) -> Result<StepResult, StepError> {
    let output = ssh.run(
        "command -v docker >/dev/null && docker info --format '{{.ServerVersion}}'",
        None,
    )?;
    Ok(StepResult::Unchanged(format!("Docker {}", output.trim())))
}

fn remote_sha256(ssh: &Ssh, path: &str) -> Result<Option<String>, SshError> {
    let output = ssh.run(
        &format!("sha256sum -- {} 2>/dev/null || true", quote(path)),
        None,
    )?;
    Ok(output.split_whitespace().next().map(str::to_string))
}

/// Writes `content` to `path` with `mode`, atomically, unless it is already there.
fn put_file(ssh: &Ssh, path: &str, mode: &str, content: &[u8]) -> Result<StepResult, StepError> {
    let wanted = sha256_hex(content);
    if remote_sha256(ssh, path)?.as_deref() == Some(wanted.as_str()) {
        return Ok(StepResult::Unchanged(format!("{path} is up to date")));
    }
    ssh.run(&write_command(path, mode), Some(content))?;
    Ok(StepResult::Changed(format!(
        "wrote {path} ({} bytes)",
        content.len()
    )))
}

/// Writes standard input to `path` with `mode` through a temporary file, so a reader never sees
/// half a file. `umask 077` comes first: the temporary file is created readable by its owner
/// only, so `node.yaml` is never readable by others, not even until `chmod`.
fn write_command(path: &str, mode: &str) -> String {
    let temporary = quote(&format!("{path}.orun-new"));
    let target = quote(path);
    format!("umask 077 && mkdir -p -- \"$(dirname -- {target})\" && cat > {temporary} && chmod {mode} -- {temporary} && mv -f -- {temporary} {target}")
}

fn upload_binary(ssh: &Ssh, binary: &Path) -> Result<StepResult, StepError> {
    let bytes = std::fs::read(binary).map_err(|error| StepError::Binary {
        binary: binary.to_path_buf(),
        error,
    })?;
    put_file(ssh, REMOTE_BINARY, "0755", &bytes)
}

/// Creates `keys` (and its parents) unless it exists, prints whether it did, and restricts it
/// and the data folder `data_dir` holding it to their owner.
fn folders_command(data_dir: &str, keys: &str) -> String {
    let (data_dir, keys) = (quote(data_dir), quote(keys));
    format!("if [ -d {keys} ]; then echo present; else umask 077 && mkdir -p -- {keys} && echo created; fi; chmod 700 -- {data_dir} {keys}")
}

fn make_folders(ssh: &Ssh, node: &Node) -> Result<StepResult, StepError> {
    let paths = node.spec.paths();
    let keys = paths.keys().display().to_string();
    let output = ssh.run(&folders_command(&node.spec.data_dir, &keys), None)?;
    Ok(if output.trim() == "created" {
        StepResult::Changed(format!("created {keys}"))
    } else {
        StepResult::Unchanged(format!("{keys} exists"))
    })
}

/// For SSH remotes: a read-only deploy key generated on the node (once); its public half is
/// printed for the operator to add to the Git host.
fn deploy_key(ssh: &Ssh, node: &Node) -> Result<StepResult, StepError> {
    if git_ssh_host(node.spec.git_repo.as_str()).is_none() {
        return Ok(StepResult::Unchanged(
            "not needed: the Git remote does not use SSH".to_string(),
        ));
    }
    let key = node.spec.deploy_key_path().display().to_string();
    let output = ssh.run(
        &format!(
            "if [ -f {key} ]; then echo present; else ssh-keygen -q -t ed25519 -N '' -C {comment} -f {key} && echo created; fi; cat -- {public}",
            key = quote(&key),
            comment = quote(&format!("orun@{}", node.name)),
            public = quote(&format!("{key}.pub")),
        ),
        None,
    )?;
    let mut lines = output.lines();
    let state = lines.next().unwrap_or_default();
    let public = lines.next().unwrap_or_default().trim().to_string();
    let message = format!(
        "add this read-only deploy key to {}: {public}",
        engine::redact::url_credentials(node.spec.git_repo.as_str())
    );
    Ok(if state == "created" {
        StepResult::Changed(message)
    } else {
        StepResult::Unchanged(message)
    })
}

/// For SSH remotes: the Git host's key recorded in the node's known-hosts file (once).
fn git_host_key(ssh: &Ssh, node: &Node) -> Result<StepResult, StepError> {
    let Some((host, port)) = git_ssh_host(node.spec.git_repo.as_str()) else {
        return Ok(StepResult::Unchanged(
            "not needed: the Git remote does not use SSH".to_string(),
        ));
    };
    if host.starts_with('-') {
        return Err(StepError::GitHostOption(host));
    }
    let known_hosts = node.spec.known_hosts_path().display().to_string();
    let pattern = if port == 22 {
        host.clone()
    } else {
        format!("[{host}]:{port}")
    };
    let output = ssh.run(
        &format!(
            "touch -- {file} && chmod 600 -- {file}; if ssh-keygen -F {quoted_pattern} -f {file} >/dev/null; then echo present; \
             else keys=$(ssh-keyscan -T 10 -p {port} -- {quoted_host} 2>/dev/null) && [ -n \"$keys\" ] && printf '%s\\n' \"$keys\" >> {file} && echo added; fi",
            file = quote(&known_hosts),
            quoted_pattern = quote(&pattern),
            quoted_host = quote(&host),
        ),
        None,
    )?;
    match output.trim() {
        "present" => Ok(StepResult::Unchanged(format!(
            "{pattern} is in {known_hosts}"
        ))),
        "added" => Ok(StepResult::Changed(format!(
            "recorded the host key of {pattern} in {known_hosts}"
        ))),
        other => Err(StepError::GitHostKey {
            answer: other.to_string(),
            pattern,
        }),
    }
}

/// The sysctl drop-in, applied at once when it changed and systemd can.
fn sysctl(ssh: &Ssh) -> Result<StepResult, StepError> {
    let written = put_file(ssh, REMOTE_SYSCTL, "0644", unit::SYSCTL_DROP_IN.as_bytes())?;
    let StepResult::Changed(message) = written else {
        return Ok(written);
    };
    let applied = ssh.run(APPLY_SYSCTL, None)?;
    Ok(StepResult::Changed(if applied.trim() == "applied" {
        format!("{message}; applied")
    } else {
        format!("{message}; in force from the next boot")
    }))
}

fn systemd(ssh: &Ssh, changes: Changes) -> Result<StepResult, StepError> {
    let mut commands = Vec::new();
    if changes.reload {
        commands.push("systemctl daemon-reload");
    }
    commands.push("systemctl enable --now orun");
    if changes.restart {
        commands.push("systemctl restart orun");
    }
    ssh.run(&commands.join(" && "), None)?;
    let summary = commands.join("; ");
    Ok(if changes.restart {
        StepResult::Changed(summary)
    } else {
        StepResult::Unchanged(summary)
    })
}

/// The commands a run would send, for `--dry-run`: nothing is executed. Each is a command line
/// for the operator's shell, quoted word by word, followed by a comment where it needs one.
pub fn dry_run(node: &Node, ssh: &Ssh, binary: &Path) -> Result<Vec<String>, SshError> {
    let paths = node.spec.paths();
    let keys = paths.keys().display().to_string();
    let config = paths.config().display().to_string();
    let mut commands = vec![
        (
            "command -v docker >/dev/null && docker info --format '{{.ServerVersion}}'".to_string(),
            None,
        ),
        (format!("sha256sum -- {REMOTE_BINARY}"), None),
        (
            write_command(REMOTE_BINARY, "0755"),
            Some(format!("stdin: {}, when it differs", binary.display())),
        ),
        (folders_command(&node.spec.data_dir, &keys), None),
        (
            write_command(&config, "0600"),
            Some("stdin: the node manifest, when it differs".to_string()),
        ),
    ];
    if let Some((host, port)) = git_ssh_host(node.spec.git_repo.as_str()) {
        let key = node.spec.deploy_key_path().display().to_string();
        commands.push((
            format!(
                "[ -f {quoted} ] || ssh-keygen -q -t ed25519 -N '' -f {quoted}; cat -- {public}",
                quoted = quote(&key),
                public = quote(&format!("{key}.pub"))
            ),
            None,
        ));
        commands.push((
            format!(
                "ssh-keyscan -p {port} -- {} >> {}",
                quote(&host),
                quote(&node.spec.known_hosts_path().display().to_string())
            ),
            Some("when not yet listed".to_string()),
        ));
    }
    commands.extend([
        (
            write_command(REMOTE_UNIT, "0644"),
            Some("stdin: the unit, when it differs".to_string()),
        ),
        (
            write_command(REMOTE_SYSCTL, "0644"),
            Some("stdin: the sysctl drop-in, when it differs".to_string()),
        ),
        (
            APPLY_SYSCTL.to_string(),
            Some("when it changed".to_string()),
        ),
        (
            "systemctl daemon-reload".to_string(),
            Some("when the unit changed".to_string()),
        ),
        ("systemctl enable --now orun".to_string(), None),
        (
            "systemctl restart orun".to_string(),
            Some("when anything changed".to_string()),
        ),
    ]);
    commands
        .into_iter()
        .map(|(command, note)| {
            let line = ssh.describe(&command)?;
            Ok(match note {
                Some(note) => format!("{line}   # {}", comment(&note)),
                None => line,
            })
        })
        .collect()
}

/// `text` as a shell comment's text: a control character, which could end the comment and start
/// a command, becomes `?`.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Expands a leading `~/` with `$HOME`, as the operator's shell would.
pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::Path;
    use std::process::{Command, Stdio};

    use super::{folders_command, git_ssh_host, write_command};

    /// Runs `command` with `sh` in `dir`, `stdin` on its standard input; its standard output.
    fn sh(dir: &Path, command: &str, stdin: &[u8]) -> String {
        let mut child = Command::new("sh")
            .args(["-c", command])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{command}");
        String::from_utf8(output.stdout).unwrap()
    }

    #[test]
    fn commands_treat_hostile_paths_as_plain_names() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("it's a $(touch pwned) `touch pwned2`; dir");
        let keys = base.join("keys").display().to_string();
        let data_dir = base.display().to_string();
        assert_eq!(
            sh(dir.path(), &folders_command(&data_dir, &keys), b""),
            "created\n"
        );
        assert_eq!(
            sh(dir.path(), &folders_command(&data_dir, &keys), b""),
            "present\n"
        );
        let config = base.join("node.yaml").display().to_string();
        sh(dir.path(), &write_command(&config, "0600"), b"kind: Node\n");
        assert_eq!(std::fs::read_to_string(&config).unwrap(), "kind: Node\n");
        assert!(!dir.path().join("pwned").exists());
        assert!(!dir.path().join("pwned2").exists());
    }

    #[test]
    fn the_data_folder_and_keys_are_private_and_node_yaml_is_never_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let base = dir.path().join("opt/orun");
        let keys = base.join("keys");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        let folders = folders_command(&base.display().to_string(), &keys.display().to_string());
        sh(dir.path(), &format!("umask 022; {folders}"), b"");
        assert_eq!((mode(&base), mode(&keys)), (0o700, 0o700));

        // While `cat` still waits for the manifest, the temporary file already exists: it must
        // be readable by its owner only, whatever the login shell's umask.
        let config = base.join("node.yaml");
        let command = format!(
            "umask 022; {}",
            write_command(&config.display().to_string(), "0600")
        );
        let mut child = Command::new("sh")
            .args(["-c", &command])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"kind: Node\n").unwrap();
        let temporary = base.join("node.yaml.orun-new");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !temporary.exists() {
            assert!(std::time::Instant::now() < deadline, "no temporary file");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(mode(&temporary), 0o600);
        drop(stdin);
        assert!(child.wait().unwrap().success());
        assert_eq!(mode(&config), 0o600);
    }

    #[test]
    fn ssh_git_hosts() {
        assert_eq!(
            git_ssh_host("git@github.com:acme/infra.git"),
            Some(("github.com".into(), 22))
        );
        assert_eq!(
            git_ssh_host("ssh://git@git.example.com:2222/infra.git"),
            Some(("git.example.com".into(), 2222))
        );
        assert_eq!(
            git_ssh_host("ssh://git.example.com/infra.git"),
            Some(("git.example.com".into(), 22))
        );
        assert_eq!(git_ssh_host("https://github.com/acme/infra.git"), None);
        assert_eq!(git_ssh_host("/srv/git/infra.git"), None);
        assert_eq!(git_ssh_host("file:///srv/git/infra.git"), None);
    }
}
