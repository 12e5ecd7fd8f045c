//! The `orun` binary: parses the command line and hands it to the library's commands; it does
//! nothing else.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match orun::args::Cli::try_parse() {
        Ok(cli) => cli,
        // `--help` and `--version` print to stdout and succeed; a usage error exits 1 like every
        // other error, so 2 keeps meaning "changes pending" for `plan --detailed-exitcode`.
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match orun::commands::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", orun::render::escaped(&format!("{error:#}")));
            ExitCode::FAILURE
        }
    }
}
