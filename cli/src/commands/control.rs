//! `orun suspend`, `resume`, `pin` and `unpin`: send one command to the running node through its
//! control socket, `<dataDir>/control.sock`, and print its answer (docs/node.md#local-control).
//! The node decides and answers; this only carries the command.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use engine::manifest::node_defaults::{NodePaths, DATA_DIR};
use node::control::{Command, Reply};

use crate::args::ControlArgs;

/// How long the node may take to answer: a pin validates its commit first, which may take up to
/// the revision load limit, after the pass in progress ends.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

pub fn run(args: &ControlArgs, command: Command) -> Result<ExitCode> {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DATA_DIR));
    let socket = NodePaths::new(&data_dir).control_socket();
    let reply = exchange(&socket, &command).map_err(|error| {
        anyhow::anyhow!(
            "cannot reach the node at its control socket {}: {error}; is it running? start it with \
             `orun start --data-dir {}` (or `orun start --config <node.yaml>` whose dataDir is that folder)",
            socket.display(),
            data_dir.display()
        )
    })?;
    let reply: Reply = serde_json::from_str(reply.trim_end())
        .with_context(|| format!("{} did not answer with a reply", socket.display()))?;
    if !reply.ok {
        bail!("{}", reply.message);
    }
    println!("{}", reply.message);
    Ok(ExitCode::SUCCESS)
}

/// Sends `command` as one JSON line and reads the one-line answer.
fn exchange(socket: &Path, command: &Command) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    let mut line = serde_json::to_string(command)?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    Ok(answer)
}
