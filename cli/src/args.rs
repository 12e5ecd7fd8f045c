//! Command-line arguments (docs/cli.md) as clap definitions; no behaviour.

use std::net::SocketAddr;
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
                            orun plan --repo ./infra --environment staging --observed snapshot.json --output json\n  \
                            orun plan --repo ./infra --node web-01 --observed http://10.0.0.5:9100/observed"
    )]
    Plan(PlanArgs),
    /// Converge this node once: plan against Docker, then pull, build, remove, recreate, create, start
    #[command(
        after_help = "Examples:\n  orun apply --once --repo examples/hello\n  \
                            orun plan --repo ./infra --out plan.json && orun apply --once --repo ./infra --plan plan.json"
    )]
    Apply(ApplyArgs),
    /// Run the node agent: follow the Git branch, converge, repair drift, serve the status API
    #[command(
        after_help = "Examples:\n  orun start --config /opt/orun/node.yaml\n  \
                            orun start --repo /srv/git/infra.git --branch main --data-dir /tmp/orun --poll-interval 2s --status-port 9100"
    )]
    Start(StartArgs),
    /// Provision a node over SSH: binary, node.yaml, deploy key, systemd unit
    #[command(
        after_help = "Examples:\n  orun bootstrap nodes/web-01.yaml\n  orun bootstrap nodes/web-01.yaml --dry-run\n  \
                            orun bootstrap            # asks for the Node fields, writes nodes/<name>.yaml, provisions"
    )]
    Bootstrap(BootstrapArgs),
    /// Print a shell completion script
    #[command(after_help = "Example:\n  orun completions bash > /etc/bash_completion.d/orun")]
    Completions {
        /// Shell to complete for
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    #[command(after_help = "Example:\n  orun manpage > /usr/local/share/man/man1/orun.1")]
    Manpage,
    /// Work with SOPS secrets: encrypt a value for a deployment's spec.env
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Show a running node's status (its status API) as tables
    #[command(
        after_help = "Examples:\n  orun status\n  orun status --addr 10.0.0.5:9100 --output json"
    )]
    Status(StatusArgs),
    /// Show a running node's newest applies (its status API's /history), newest first
    #[command(
        after_help = "Examples:\n  orun history\n  orun history --addr 10.0.0.5:9100 --limit 5 --output json"
    )]
    History(HistoryArgs),
    /// Stop the running node from acting (it still fetches and plans) until `orun resume`
    #[command(
        after_help = "Examples:\n  orun suspend --reason 'database upgrade'\n  orun suspend --data-dir /tmp/orun-node"
    )]
    Suspend(SuspendArgs),
    /// Let a suspended node act again: it converges at once
    #[command(after_help = "Example:\n  orun resume")]
    Resume(ControlArgs),
    /// Make the running node apply COMMIT and stay there while its branch moves on
    #[command(
        after_help = "Examples:\n  orun pin 9f2c6d1e0b7a4c3d2e1f0a9b8c7d6e5f4a3b2c1d --reason 'v2 breaks logins'\n  orun history   # lists the commits applied before"
    )]
    Pin(PinArgs),
    /// Let a pinned node follow its branch again: it applies the newest commit
    #[command(after_help = "Example:\n  orun unpin")]
    Unpin(ControlArgs),
    /// Turn another tool's configuration into a manifest repository
    #[command(subcommand)]
    Import(ImportCommand),
    /// Look at every node of the repository at once
    #[command(subcommand)]
    Fleet(FleetCommand),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Manifest repository root
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Validate for this environment only (default: production and every node's environment)
    #[arg(long)]
    pub environment: Option<String>,
    /// The age identity that decrypts secrets.yaml (default: $SOPS_AGE_KEY_FILE, then /opt/orun/keys/age.key)
    #[arg(long, value_name = "F")]
    pub age_key_path: Option<PathBuf>,
    /// Check every deployment against the operator policy of this Node file, such as a node's
    /// --config /opt/orun/node.yaml (its policy, and the secrets.yaml keys it reads, are used)
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct NodeOrEnvironmentArgs {
    /// Plan for the node with this metadata.name (its environment and codeDir)
    #[arg(long, conflicts_with = "environment")]
    pub node: Option<String>,
    /// Plan for this environment (default: production)
    #[arg(long)]
    pub environment: Option<String>,
    /// The age identity that decrypts secrets.yaml (default: $SOPS_AGE_KEY_FILE, then keys/age.key
    /// under the --node's dataDir or /opt/orun/)
    #[arg(long, value_name = "F")]
    pub age_key_path: Option<PathBuf>,
    /// Refuse deployments that break the operator policy of this Node file, such as the node's
    /// --config /opt/orun/node.yaml (its policy, and the secrets.yaml keys it reads, are used)
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
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
    pub selection: NodeOrEnvironmentArgs,
    /// Plan against this observed snapshot instead of the local Docker engine: a JSON file
    /// (docs/plans.md), or a node's http(s)://HOST:PORT/observed
    #[arg(long, value_name = "FILE|URL")]
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
    pub selection: NodeOrEnvironmentArgs,
    /// Apply exactly this saved plan (`orun plan --out`); refused if the manifests or Docker moved since
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Allow removing every managed container when nothing is desired
    #[arg(long)]
    pub allow_empty: bool,
    /// Do not wait to see started containers keep running
    #[arg(long)]
    pub no_wait: bool,
    /// Where copies of the repository files containers mount go, under files/ (default: the
    /// node's dataDir, else /opt/orun)
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Folder on a tmpfs for the secret files containers mount, refused when not a tmpfs;
    /// overrides secretFilesDir (default /run/orun)
    #[arg(long, value_name = "DIR")]
    pub secret_files_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Node settings: a Node manifest, as `orun bootstrap` writes to <dataDir>/node.yaml
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Manifest repository URL (ssh, https, git, file or local path); overrides gitRepo
    #[arg(long, value_name = "URL")]
    pub repo: Option<String>,
    /// Branch to track; overrides gitBranch
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,
    /// Local state (clone, keys); overrides dataDir
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// This node's metadata.name, whose manifest is re-read from each revision
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Accept a git:// or plain http:// manifest repository, which anyone on the network path
    /// can change; like allowInsecureTransport: true
    #[arg(long)]
    pub allow_insecure_transport: bool,
    /// Git poll interval such as 5s or 1m30s; overrides pollInterval, also from later revisions
    #[arg(long, value_name = "D")]
    pub poll_interval: Option<String>,
    /// Status API port
    #[arg(long, value_name = "N", default_value_t = 9100)]
    pub status_port: u16,
    /// Status API address (an IP, or IP:port)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
    pub status_addr: String,
    /// The age identity that decrypts secrets.yaml (default: $SOPS_AGE_KEY_FILE, then <dataDir>/keys/age.key)
    #[arg(long, value_name = "F")]
    pub age_key_path: Option<PathBuf>,
    /// Log format (default: json when stdout is not a terminal, text on a terminal)
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Caddy binary for the ingress (started only when the revision has Services)
    #[arg(long, value_name = "PATH", default_value = "caddy")]
    pub caddy_bin: PathBuf,
    /// Port Caddy serves plain HTTP on
    #[arg(long, value_name = "N", default_value_t = 80)]
    pub ingress_http_port: u16,
    /// Port Caddy serves HTTPS on (services with ssl: true)
    #[arg(long, value_name = "N", default_value_t = 443)]
    pub ingress_https_port: u16,
    /// Unix socket of Caddy's admin API, open to orun's user alone (default: <dataDir>/caddy/admin.sock)
    #[arg(long, value_name = "PATH")]
    pub caddy_admin: Option<PathBuf>,
    /// File holding the secret that proves POST /hooks/git; overrides webhookSecretFile
    #[arg(long, value_name = "F")]
    pub webhook_secret_file: Option<PathBuf>,
    /// Folder on a tmpfs for the secret files containers mount, refused when not a tmpfs;
    /// overrides secretFilesDir (default /run/orun)
    #[arg(long, value_name = "DIR")]
    pub secret_files_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Status API address of the node
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9100")]
    pub addr: String,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Status API address of the node
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9100")]
    pub addr: String,
    /// How many applies to show, from 1 to 200 (default: the node's, 20)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ControlArgs {
    /// The running node's dataDir, which holds its control socket control.sock (default: /opt/orun/)
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SuspendArgs {
    #[command(flatten)]
    pub control: ControlArgs,
    /// Why, shown in /status and the notification
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct PinArgs {
    /// The full id of a commit of the tracked branch's history
    pub commit: String,
    #[command(flatten)]
    pub control: ControlArgs,
    /// Why, shown in /status and the notification
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Ask every node in nodes/ for its status: sync state, HEAD vs applied commit, health, ready
    /// deployments; exits 1 when a node is unreachable, unhealthy or behind
    #[command(
        after_help = "Each node is asked at its statusAddr (default: its host, port 9100), all at once, \
                      with a 3 s timeout.\n\n\
                      Examples:\n  orun fleet status --repo ./infra\n  orun fleet status --output json | jq '.nodes[] | select(.healthy != true)'"
    )]
    Status(FleetStatusArgs),
    /// Plan every node in nodes/ against what its Docker runs now (its status API's /observed):
    /// what the working tree would change on each node
    #[command(
        after_help = "Each node's snapshot is fetched from its statusAddr (default: its host, port 9100), all \
                      at once, with a 3 s timeout; each node is planned for its own share, as \
                      `orun plan --node NAME` plans it. Exits 1 when a node is unreachable or its plan \
                      fails; with --detailed-exitcode, 2 when any node has changes.\n\n\
                      Examples:\n  orun fleet plan --repo ./infra\n  \
                      orun fleet plan --output json | jq '.nodes[] | {name, summary: .plan.summary}'"
    )]
    Plan(FleetPlanArgs),
    /// Serve a web page of every node in nodes/, refreshed every few seconds, each row linking to
    /// the node's own dashboard; /fleet.json is `orun fleet status --output json`
    #[command(
        after_help = "Each page load asks every node at its statusAddr, as `orun fleet status` does. \
                      The page is read-only and loads nothing from other hosts.\n\n\
                      Examples:\n  orun fleet dashboard --repo ./infra\n  \
                      orun fleet dashboard --listen 0.0.0.0:9200"
    )]
    Dashboard(FleetDashboardArgs),
}

#[derive(Debug, Args)]
pub struct FleetDashboardArgs {
    /// Manifest repository root, whose nodes/ lists the fleet (read again on each page load)
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Address the page is served on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9200")]
    pub listen: SocketAddr,
}

#[derive(Debug, Args)]
pub struct FleetStatusArgs {
    /// Manifest repository root, whose nodes/ lists the fleet
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct FleetPlanArgs {
    /// Manifest repository root, whose nodes/ lists the fleet and whose files are planned
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// The age identity that decrypts secrets.yaml (default: $SOPS_AGE_KEY_FILE, then keys/age.key
    /// under each node's dataDir or /opt/orun/)
    #[arg(long, value_name = "F")]
    pub age_key_path: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
    /// Exit 2 when any node has changes pending (0 when all are converged, 1 on error)
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Allow plans that remove every managed container of a node whose share is empty
    #[arg(long)]
    pub allow_empty: bool,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Encrypt a value read on standard input for spec.env.NAME, with the data key of secrets.yaml
    #[command(
        after_help = "The value is read from standard input; one trailing newline is dropped. The printed\n\
                      ENC[...] text belongs in a deployment's spec.env.NAME, and only there.\n\n\
                      Example:\n  printf '%s' \"$DB_PASSWORD\" | orun secret encrypt DB_PASSWORD --repo ./infra\n  \
                      # deployments/api.yaml:  env: { DB_PASSWORD: \"ENC[AES256_GCM,data:...,type:str]\" }"
    )]
    Encrypt(EncryptArgs),
}

#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// The environment variable the value is for (spec.env.NAME)
    pub name: String,
    /// Manifest repository root, holding secrets.yaml
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// The age identity that decrypts secrets.yaml (default: $SOPS_AGE_KEY_FILE, then /opt/orun/keys/age.key)
    #[arg(long, value_name = "F")]
    pub age_key_path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The node's manifest; without it, the Node fields are asked for and nodes/<name>.yaml written
    pub node: Option<PathBuf>,
    /// Print every remote command without running anything
    #[arg(long)]
    pub dry_run: bool,
    /// Extra ssh option, as for ssh -o (repeatable), e.g. UserKnownHostsFile=/tmp/known_hosts
    #[arg(long, value_name = "OPTION")]
    pub ssh_option: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Write deployments/, jobs/ (and nodes/) equivalent to a docker compose file
    #[command(
        after_help = "Prints one line per service and per note, each naming its compose path. Settings orun\n\
                      cannot express are listed too; then nothing is written and the exit code is 1,\n\
                      unless --force.\n\n\
                      Examples:\n  orun import compose docker-compose.yml\n  \
                      orun import compose app/compose.yaml --out . --node-host 10.0.0.5"
    )]
    Compose(ImportComposeArgs),
}

#[derive(Debug, Args)]
pub struct ImportComposeArgs {
    /// The compose file
    pub file: PathBuf,
    /// Root of the manifest repository to write (default: the compose file's folder, so build
    /// contexts stay where they are)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also write nodes/<name>.yaml for this host
    #[arg(long, value_name = "HOST")]
    pub node_host: Option<String>,
    /// Write what can be translated even when some settings cannot be
    #[arg(long)]
    pub force: bool,
}
