//! The `orun` binary: parses the command line and hands it to the library's commands; it does
//! nothing else.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = orun::args::Cli::parse();
    match orun::commands::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
