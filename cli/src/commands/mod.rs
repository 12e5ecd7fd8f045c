//! One function per subcommand; each turns arguments into calls to `engine` and `daemon`.

mod plan;
mod revision;
mod validate;

use std::process::ExitCode;

use anyhow::Result;

use crate::args::{Cli, Command};

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Plan(args) => plan::run(&args),
    }
}
