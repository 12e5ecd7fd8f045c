//! `orun bootstrap` against a throwaway SSH host: a container built locally from this machine's
//! own sshd, ssh tools, docker CLI and static busybox (`support/ssh_host.sh`), with a recording
//! `systemctl`. It checks the uploaded binary, `node.yaml`, the unit file, the keys and the
//! systemctl calls, that a second run changes nothing, and the failures.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use tempfile::TempDir;

use crate::support::{docker, eventually, free_port, lab, text};

const IMAGE: &str = "orun-test/sshhost:1";

/// The client key the test host accepts, and the folder holding it (kept for the whole run).
fn client_key() -> &'static PathBuf {
    static KEY: OnceLock<(TempDir, PathBuf)> = OnceLock::new();
    &KEY.get_or_init(|| {
        let dir = TempDir::new().unwrap();
        let key = dir.path().join("client_key");
        assert!(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .unwrap()
            .success());
        let context = dir.path().join("image");
        fs::create_dir_all(&context).unwrap();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/support/ssh_host.sh");
        let status = Command::new("bash")
            .arg(script)
            .arg(&context)
            .arg(key.with_extension("pub"))
            .status()
            .unwrap();
        assert!(
            status.success(),
            "building the SSH host root filesystem failed"
        );
        docker(&["build", "-q", "-t", IMAGE, context.to_str().unwrap()]);
        (dir, key)
    })
    .1
}

/// A running SSH host container; removed on drop.
struct Host {
    name: String,
    port: u16,
}

impl Host {
    fn start(test: &str) -> Self {
        lab::require();
        client_key();
        let name = format!("orun-test-ssh-{}-{test}", std::process::id());
        let port = free_port();
        docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "-p",
            &format!("127.0.0.1:{port}:22"),
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock",
            IMAGE,
        ]);
        // Docker's port forward accepts at once; wait for sshd's own banner.
        let banner = || {
            use std::io::Read;
            let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
                return false;
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buffer = [0u8; 4];
            stream.read_exact(&mut buffer).is_ok() && &buffer == b"SSH-"
        };
        assert!(
            eventually(Duration::from_secs(15), banner),
            "sshd did not start in {name}"
        );
        Host { name, port }
    }

    fn exec(&self, command: &str) -> String {
        let output = Command::new("docker")
            .args(["exec", &self.name, "/bin/sh", "-c", command])
            .output()
            .unwrap();
        text(&output.stdout)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

/// A manifest repository with `nodes/NAME.yaml` for `host`, and a private known_hosts file.
struct Operator {
    dir: TempDir,
}

impl Operator {
    fn new(name: &str, host: &str, key: &Path) -> Self {
        let dir = TempDir::new().unwrap();
        fs::create_dir_all(dir.path().join("nodes")).unwrap();
        fs::write(
            dir.path().join(format!("nodes/{name}.yaml")),
            format!(
                "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: {name}\nspec:\n  host: \"{host}\"\n  sshKeyPath: {}\n  gitRepo: ssh://git@127.0.0.1/srv/git/infra.git\n  gitBranch: main\n",
                key.display()
            ),
        )
        .unwrap();
        Operator { dir }
    }

    fn bootstrap(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let known_hosts = format!(
            "UserKnownHostsFile={}",
            self.dir.path().join("known_hosts").display()
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_orun"))
            .arg("bootstrap")
            .args(args)
            .args(["--ssh-option", &known_hosts])
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

fn sha256_of(path: &Path) -> String {
    let output = Command::new("sha256sum").arg(path).output().unwrap();
    text(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn bootstrap_provisions_a_node_and_a_second_run_changes_nothing() {
    let host = Host::start("provision");
    let operator = Operator::new("edge-01", &format!("127.0.0.1:{}", host.port), client_key());

    let dry = operator.bootstrap(&["nodes/edge-01.yaml", "--dry-run"], "");
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let plan = text(&dry.stdout);
    assert!(
        plan.contains("systemctl enable --now orun") && plan.contains("/usr/local/bin/orun"),
        "{plan}"
    );
    assert_eq!(
        host.exec("ls /usr/local/bin"),
        "",
        "--dry-run changed the host"
    );

    let first = operator.bootstrap(&["nodes/edge-01.yaml"], "");
    let stdout = text(&first.stdout);
    assert!(first.status.success(), "{stdout}\n{}", text(&first.stderr));
    assert!(
        stdout.contains(
            "add this read-only deploy key to ssh://git@127.0.0.1/srv/git/infra.git: ssh-ed25519 "
        ),
        "{stdout}"
    );

    let binary = PathBuf::from(env!("CARGO_BIN_EXE_orun"));
    assert_eq!(
        host.exec("sha256sum /usr/local/bin/orun")
            .split_whitespace()
            .next(),
        Some(sha256_of(&binary).as_str())
    );
    assert!(host
        .exec("ls -l /usr/local/bin/orun")
        .starts_with("-rwxr-xr-x"));
    let manifest = fs::read_to_string(operator.dir.path().join("nodes/edge-01.yaml")).unwrap();
    assert_eq!(host.exec("cat /opt/orun/node.yaml"), manifest);
    let unit = host.exec("cat /etc/systemd/system/orun.service");
    for line in [
        "Type=notify",
        "Restart=always",
        "ExecStart=/usr/local/bin/orun start --config /opt/orun/node.yaml",
        "WantedBy=multi-user.target",
    ] {
        assert!(unit.contains(line), "unit lacks {line}:\n{unit}");
    }
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        let file = operator.dir.path().join("orun.service");
        fs::write(&file, &unit).unwrap();
        let verify = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&file)
            .output()
            .unwrap();
        // The binary only exists on the node, so its absence here is no complaint about the unit.
        let complaints: Vec<String> = text(&verify.stderr)
            .lines()
            .filter(|line| {
                line.contains("orun.service")
                    && !line.contains("/usr/local/bin/orun is not executable")
            })
            .map(str::to_string)
            .collect();
        assert!(
            complaints.is_empty(),
            "systemd-analyze verify: {complaints:?}"
        );
    }
    assert_eq!(
        host.exec("cat /var/log/systemctl.log"),
        "systemctl daemon-reload\nsystemctl enable --now orun\nsystemctl restart orun\n"
    );
    assert!(host.exec("ls /opt/orun/keys").contains("deploy_key"));
    assert_eq!(
        host.exec("stat -c %a /opt/orun /opt/orun/keys /opt/orun/node.yaml"),
        "700\n700\n600\n"
    );
    assert!(host
        .exec("cat /usr/local/lib/sysctl.d/60-orun.conf")
        .contains("\nnet.ipv4.tcp_migrate_req = 1\n"));
    assert!(host
        .exec("cat /opt/orun/keys/known_hosts")
        .contains("127.0.0.1 ssh-ed25519 "));

    let second = operator.bootstrap(&["nodes/edge-01.yaml"], "");
    let stdout = text(&second.stdout);
    assert!(
        second.status.success(),
        "{stdout}\n{}",
        text(&second.stderr)
    );
    assert!(
        !stdout.contains("changed  "),
        "the second run changed something:\n{stdout}"
    );
    assert!(stdout.contains("0 step(s) changed"), "{stdout}");
    assert_eq!(
        host.exec("cat /var/log/systemctl.log"),
        "systemctl daemon-reload\nsystemctl enable --now orun\nsystemctl restart orun\nsystemctl enable --now orun\n",
        "the second run only re-asserts enable --now"
    );
}

#[test]
fn interactive_bootstrap_writes_the_node_file_first() {
    let host = Host::start("interactive");
    let operator = Operator::new("unused", "127.0.0.1", client_key());
    let answers = format!(
        "edge-02\n127.0.0.1:{}\n\n{}\nhttps://git.example.com/acme/infra.git\n\n2s\n/opt/orun-edge/\n",
        host.port,
        client_key().display()
    );
    let output = operator.bootstrap(&[], &answers);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("Node name (metadata.name):") && stdout.contains("[root]"),
        "{stdout}"
    );
    let written = fs::read_to_string(operator.dir.path().join("nodes/edge-02.yaml")).unwrap();
    assert!(
        written.contains("pollInterval: 2s")
            && written.contains("gitRepo: \"https://git.example.com/acme/infra.git\"")
    );
    assert_eq!(host.exec("cat /opt/orun-edge/node.yaml"), written);
    assert!(
        stdout.contains("not needed: the Git remote does not use SSH"),
        "{stdout}"
    );
}

#[test]
fn a_wrong_key_or_an_unreachable_host_fails_clearly() {
    let host = Host::start("failures");
    let keys = TempDir::new().unwrap();
    let wrong = keys.path().join("wrong");
    assert!(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&wrong)
        .status()
        .unwrap()
        .success());
    let operator = Operator::new("edge-03", &format!("127.0.0.1:{}", host.port), &wrong);
    let output = operator.bootstrap(&["nodes/edge-03.yaml"], "");
    assert_eq!(output.status.code(), Some(1));
    let error = text(&output.stderr);
    assert!(
        error.contains("step docker failed on root@127.0.0.1")
            && error.contains("Permission denied"),
        "{error}"
    );

    let operator = Operator::new(
        "edge-04",
        &format!("127.0.0.1:{}", free_port()),
        client_key(),
    );
    let output = operator.bootstrap(&["nodes/edge-04.yaml"], "");
    assert_eq!(output.status.code(), Some(1));
    let error = text(&output.stderr);
    assert!(
        error.contains("step docker failed") && error.contains("Connection refused"),
        "{error}"
    );
}
