//! Running the `orun` binary and writing repository files, for the test targets that need only
//! that (`cli.rs`, `import.rs` include this file by path, so they do not compile the secrets
//! helpers of `support/mod.rs`). Nothing here talks to Docker.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// `orun ARGS` without colour, ready for a test to adjust its environment.
pub fn orun_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_orun"));
    command.args(args).env("NO_COLOR", "1");
    command
}

/// Runs `orun ARGS` and waits for it.
pub fn orun(args: &[&str]) -> Output {
    orun_command(args).output().expect("orun runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// Writes `text` to `path` under `root`, creating its folders.
pub fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}
