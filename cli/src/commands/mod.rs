//! One function per subcommand; each turns arguments into calls to `engine`, `adapters` and `node`.

mod apply;
mod bootstrap;
mod control;
pub mod fleet;
mod fleet_dashboard;
mod fleet_plan;
mod history;
mod import;
mod plan;
mod revision;
mod secret;
mod start;
mod status;
mod validate;
mod warnings;

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::args::{Cli, Command, FleetCommand};
use node::control::Command as ControlCommand;

pub fn run(cli: Cli) -> Result<ExitCode> {
    if matches!(
        cli.command,
        Command::Validate(_)
            | Command::Plan(_)
            | Command::Apply(_)
            | Command::Secret(_)
            | Command::Fleet(FleetCommand::Plan(_))
    ) {
        warnings::to_stderr();
    }
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Apply(args) => apply::run(&args),
        Command::Start(args) => start::run(&args),
        Command::Secret(command) => secret::run(&command),
        Command::Status(args) => status::run(&args),
        Command::History(args) => history::run(&args),
        Command::Suspend(args) => control::run(
            &args.control,
            ControlCommand::Suspend {
                reason: args.reason,
            },
        ),
        Command::Resume(args) => control::run(&args, ControlCommand::Resume),
        Command::Pin(args) => control::run(
            &args.control,
            ControlCommand::Pin {
                commit: args.commit,
                reason: args.reason,
            },
        ),
        Command::Unpin(args) => control::run(&args, ControlCommand::Unpin),
        Command::Fleet(FleetCommand::Status(args)) => fleet::run(&args),
        Command::Fleet(FleetCommand::Plan(args)) => fleet_plan::run(&args),
        Command::Fleet(FleetCommand::Dashboard(args)) => fleet_dashboard::run(&args),
        Command::Bootstrap(args) => bootstrap::run(&args),
        Command::Import(command) => import::run(&command),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "orun", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Manpage => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command)
                .render(&mut std::io::stdout())
                .context("cannot write the man page")?;
            Ok(ExitCode::SUCCESS)
        }
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
