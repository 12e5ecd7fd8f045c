//! Command-line arguments (SPEC §15) as clap definitions; no behaviour.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "orun",
    version,
    about = "Pull-based GitOps agent for Docker hosts",
    long_about = "orun keeps a Docker host in line with YAML manifests in a Git repository: \
                  it plans what must change, with reasons and field diffs, and converges."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every manifest of a repository and report all problems at once
    #[command(after_help = "Example:\n  orun validate --repo ./infra")]
    Validate(ValidateArgs),
    /// Show what would change on this node, with reasons and field diffs
    #[command(
        after_help = "Examples:\n  orun plan --repo examples/hello --observed examples/hello/observed.json\n  \
                            orun plan --repo ./infra --environment staging --observed snapshot.json --output json"
    )]
    Plan(PlanArgs),
    /// Converge this node once: plan against Docker, then pull, build, remove, recreate, create, start
    #[command(
        after_help = "Examples:\n  orun apply --once --repo examples/hello\n  \
                            orun plan --repo ./infra --out plan.json && orun apply --once --repo ./infra --plan plan.json"
    )]
    Apply(ApplyArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Manifest repository root
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct Selection {
    /// Plan for the node with this metadata.name (its environment and codeDir)
    #[arg(long, conflicts_with = "environment")]
    pub node: Option<String>,
    /// Plan for this environment (default: production)
    #[arg(long)]
    pub environment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Manifest repository root
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    #[command(flatten)]
    pub selection: Selection,
    /// Plan against this observed snapshot (JSON, SPEC §4) instead of the local Docker engine
    #[arg(long)]
    pub observed: Option<PathBuf>,
    /// Also write the observed snapshot that was planned against to FILE
    #[arg(long, value_name = "FILE")]
    pub save_observed: Option<PathBuf>,
    /// Save the plan with fingerprints of its inputs, for `orun apply --plan FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
    /// Exit 2 when changes are pending (0 when converged, 1 on error)
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Allow a plan that removes every managed container when nothing is desired
    #[arg(long)]
    pub allow_empty: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Converge once and exit (the long-running node agent is `orun start`)
    #[arg(long, required = true)]
    pub once: bool,
    /// Manifest repository root
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    #[command(flatten)]
    pub selection: Selection,
    /// Apply exactly this saved plan (`orun plan --out`); refused if the manifests or Docker moved since
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Allow removing every managed container when nothing is desired
    #[arg(long)]
    pub allow_empty: bool,
    /// Do not wait to see started containers keep running
    #[arg(long)]
    pub no_wait: bool,
}
