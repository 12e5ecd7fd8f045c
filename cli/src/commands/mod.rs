//! One function per subcommand; each turns arguments into calls to `engine` and `daemon`.

mod apply;
mod plan;
mod revision;
mod secret;
mod start;
mod status;
mod validate;

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::args::{Cli, Command};

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Apply(args) => apply::run(&args),
        Command::Start(args) => start::run(&args),
        Command::Secret(command) => secret::run(&command),
        Command::Status(args) => status::run(&args),
    }
}

/// The async runtime for commands that talk to Docker.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
