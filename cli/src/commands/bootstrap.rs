//! `orun bootstrap`: provision a node from its manifest over SSH, or first ask for the Node
//! fields and write `nodes/<name>.yaml`. Each step is printed with what it changed.

use std::fs;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use bootstrap::ssh::Ssh;
use bootstrap::{dry_run, expand_home, provision, Node, Step, StepResult};
use engine::load::load_node;
use engine::manifest::node_defaults;
use engine::SourceFile;

use crate::args::BootstrapArgs;
use crate::render::escaped;

pub fn run(args: &BootstrapArgs) -> Result<ExitCode> {
    let path = match &args.node {
        Some(path) => path.clone(),
        None => ask_for_node(&mut std::io::stdin().lock(), &mut std::io::stdout())?,
    };
    let node = read_node(&path)?;
    check_transport(&path, &node)?;
    let ssh = Ssh::new(
        node.spec.host.as_str(),
        &node.spec.user,
        expand_home(&node.spec.ssh_key_path),
        args.ssh_option.clone(),
    );
    let binary = std::env::current_exe().context("cannot locate the running orun binary")?;
    if args.dry_run {
        println!("Would run on {} (nothing is executed):", ssh.destination());
        for line in dry_run(&node, &ssh, &binary)? {
            println!("  {}", escaped(&line));
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!("Bootstrapping node {} on {}", node.name, ssh.destination());
    let mut changed = 0;
    let total = Step::ALL.len();
    provision(&node, &ssh, &binary, |index, step, result| {
        let (word, message) = match result {
            StepResult::Changed(message) => {
                changed += 1;
                ("changed  ", message)
            }
            StepResult::Unchanged(message) => ("unchanged", message),
        };
        println!("  [{index}/{total}] {word} {step}: {message}");
    })?;
    println!(
        "Node {} is bootstrapped ({changed} step(s) changed something); orun.service is enabled.",
        node.name
    );
    Ok(ExitCode::SUCCESS)
}

/// Refuses, before anything reaches the node, a `git://` or plain `http://` repository that the
/// manifest does not accept with `allowInsecureTransport: true`: the node would refuse to start.
fn check_transport(path: &Path, node: &Node) -> Result<()> {
    let url = node.spec.git_repo.as_str();
    let Some(transport) = engine::manifest::insecure_transport(url) else {
        return Ok(());
    };
    if node.spec.allow_insecure_transport {
        return Ok(());
    }
    bail!(
        "{}: spec.gitRepo: {} uses an insecure transport ({transport}): anyone on the network path could change what this node runs; use https or ssh, or set allowInsecureTransport: true in {} to accept it",
        path.display(),
        engine::redact::url_credentials(url),
        path.display()
    )
}

fn read_node(path: &Path) -> Result<Node> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let loaded = load_node(&SourceFile {
        path: path.display().to_string(),
        text: text.clone(),
    })
    .map_err(|errors| anyhow!(errors))?;
    Ok(Node {
        name: loaded.name,
        spec: loaded.spec,
        manifest: text,
    })
}

/// Asks for the Node fields (defaults in brackets), validates them and writes `nodes/<name>.yaml`.
fn ask_for_node(input: &mut impl BufRead, output: &mut impl Write) -> Result<PathBuf> {
    let mut ask = |question: &str, default: Option<&str>| -> Result<String> {
        match default {
            Some(default) => write!(output, "{question} [{default}]: ")?,
            None => write!(output, "{question}: ")?,
        }
        output.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            bail!("no answer for {question:?}: standard input ended");
        }
        let answer = line.trim();
        match (answer.is_empty(), default) {
            (true, Some(default)) => Ok(default.to_string()),
            (true, None) => bail!("{question} is required"),
            (false, _) => Ok(answer.to_string()),
        }
    };
    let name = ask("Node name (metadata.name)", None)?;
    let host = ask("SSH host or IP (host)", None)?;
    let user = ask("SSH user (user)", Some(node_defaults::USER))?;
    let key = ask(
        "SSH key on this machine (sshKeyPath)",
        Some(node_defaults::SSH_KEY_PATH),
    )?;
    let repo = ask("Manifest repository URL (gitRepo)", None)?;
    let branch = ask("Branch (gitBranch)", Some(node_defaults::GIT_BRANCH))?;
    let interval = ask(
        "Poll interval (pollInterval)",
        Some(&node_defaults::POLL_INTERVAL.to_string()),
    )?;
    let data_dir = ask(
        "Data folder on the node (dataDir)",
        Some(node_defaults::DATA_DIR),
    )?;
    let text = format!(
        "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: {name}\nspec:\n  host: {host:?}\n  user: {user:?}\n  sshKeyPath: {key:?}\n  gitRepo: {repo:?}\n  gitBranch: {branch:?}\n  pollInterval: {interval}\n  dataDir: {data_dir:?}\n"
    );
    let path = PathBuf::from("nodes").join(format!("{name}.yaml"));
    load_node(&SourceFile {
        path: path.display().to_string(),
        text: text.clone(),
    })
    .map_err(|errors| anyhow!(errors))?;
    if path.exists() {
        bail!(
            "{} already exists: run orun bootstrap {}",
            path.display(),
            path.display()
        );
    }
    fs::create_dir_all("nodes").context("cannot create nodes/")?;
    fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(output, "Wrote {}", path.display())?;
    Ok(path)
}
