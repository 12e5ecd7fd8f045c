//! `orun start`: settings from `--config` and flags (flags win), logging, signals, then the node
//! daemon of `adapters::node` until SIGTERM or SIGINT.

use std::fs;
use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use adapters::git::Remote;
use adapters::ingress::config::CaddySettings;
use anyhow::{anyhow, bail, Context, Result};
use engine::backoff::MIN_POLL_INTERVAL;
use engine::duration::Duration;
use engine::load::load_node;
use engine::manifest::node_defaults::{self, NodePaths};
use engine::manifest::{Manifest, NodeSpec};
use engine::{Environment, SourceFile};
use node::decisions::settings::{effective_settings, StartFlags};
use node::webhook::WebhookSecret;
use node::Settings;

use crate::args::{LogFormat, StartArgs};

pub fn run(args: &StartArgs) -> Result<ExitCode> {
    init_logging(args.log_format);
    let settings = settings(args)?;
    super::runtime()?.block_on(async {
        let docker = adapters::docker::connect().await?;
        tracing::info!(
            repo = %settings.remote.display_url(),
            branch = %settings.remote.branch,
            environment = %settings.environment.as_ref().map_or("(from the node manifest or branch)", |e| e.as_str()),
            data_dir = %settings.data_dir.display(),
            "orun node starting"
        );
        Ok::<_, anyhow::Error>(node::run(settings, docker, shutdown_signal()).await?)
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves when SIGTERM or SIGINT arrives.
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn init_logging(format: Option<LogFormat>) {
    let format = format.unwrap_or(if std::io::stdout().is_terminal() {
        LogFormat::Text
    } else {
        LogFormat::Json
    });
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
        LogFormat::Text => builder.with_ansi(std::io::stdout().is_terminal()).init(),
    }
}

/// Settings from the Node manifest of `--config` (if any) with every flag given overriding it.
fn settings(args: &StartArgs) -> Result<Settings> {
    let config = args.config.as_deref().map(read_config).transpose()?;
    let spec = config.as_ref().map(|node| &node.spec);
    let url = args
        .repo
        .clone()
        .or_else(|| spec.map(|spec| spec.git_repo.as_str().to_string()))
        .ok_or_else(|| anyhow!("no manifest repository: pass --repo URL or --config FILE"))?;
    check_transport(args, &url, spec)?;
    let branch = args
        .branch
        .clone()
        .or_else(|| spec.map(|spec| spec.git_branch.as_str().to_string()))
        .unwrap_or_else(|| node_defaults::GIT_BRANCH.to_string());
    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| spec.map(|spec| PathBuf::from(&spec.data_dir)))
        .unwrap_or_else(|| PathBuf::from(node_defaults::DATA_DIR));
    let data_dir = absolute(&data_dir)?;
    let poll_interval = args
        .poll_interval
        .as_deref()
        .map(|text| {
            let parsed: Duration = text
                .parse()
                .map_err(|error| anyhow!("--poll-interval: {error}"))?;
            if parsed.as_std() < MIN_POLL_INTERVAL {
                bail!("--poll-interval {text}: must be at least 1s");
            }
            Ok(parsed.as_std())
        })
        .transpose()?;
    let environment = spec
        .and_then(|spec| spec.environment.as_ref())
        .map(|explicit| Environment::named(explicit.as_str()))
        .transpose()
        .map_err(|error| anyhow!("environment: {error}"))?;
    if environment.is_none() {
        Environment::from_branch(&branch).map_err(|error| anyhow!("--branch: {error}"))?;
    }
    let paths = NodePaths::new(&data_dir);
    let age_key_path = adapters::secrets::age_key_path(args.age_key_path.as_deref(), &data_dir);
    let deploy_key = spec
        .and_then(|spec| spec.deploy_key_path.clone())
        .map_or_else(|| paths.deploy_key(), PathBuf::from);
    let known_hosts = spec
        .and_then(|spec| spec.known_hosts_path.clone())
        .map_or_else(|| paths.known_hosts(), PathBuf::from);
    let flags = StartFlags {
        poll_interval,
        webhook_secret_file: args.webhook_secret_file.clone(),
    };
    // Read at start, so that a secret file the node cannot read stops it here.
    let webhook_secret = effective_settings(&flags, config.as_ref(), None)
        .webhook_secret_file
        .as_ref()
        .map(WebhookSecret::read)
        .transpose()?;
    Ok(Settings {
        node_name: args
            .node
            .clone()
            .or_else(|| config.as_ref().map(|node| node.name.clone())),
        remote: Remote {
            url: local_url(&url),
            branch,
            deploy_key,
            known_hosts,
        },
        data_dir,
        environment,
        flags,
        code_dir: spec
            .and_then(|spec| spec.code_dir.as_ref())
            .map(PathBuf::from),
        age_key_path,
        status_addr: status_addr(&args.status_addr, args.status_port)?,
        allow_empty: spec.is_some_and(|spec| spec.allow_empty),
        caddy_bin: args.caddy_bin.clone(),
        caddy: CaddySettings {
            http_port: args.ingress_http_port,
            https_port: args.ingress_https_port,
            admin: caddy_admin(args.caddy_admin.as_deref(), &paths)?,
        },
        webhook_secret,
        secret_files_dir: absolute(&args.secret_files_dir.clone().unwrap_or_else(|| {
            spec.map_or_else(
                || PathBuf::from(node_defaults::SECRET_FILES_DIR),
                NodeSpec::secret_files_dir,
            )
        }))?,
        config,
    })
}

/// Refuses a `git://` or plain `http://` repository unless the flag or the node file opts in.
fn check_transport(args: &StartArgs, url: &str, spec: Option<&NodeSpec>) -> Result<()> {
    let Some(transport) = engine::manifest::insecure_transport(url) else {
        return Ok(());
    };
    if args.allow_insecure_transport || spec.is_some_and(|spec| spec.allow_insecure_transport) {
        return Ok(());
    }
    let source = match (&args.repo, &args.config) {
        (None, Some(config)) => format!("{}: spec.gitRepo", config.display()),
        _ => "--repo".to_string(),
    };
    bail!(
        "{source}: {} uses an insecure transport ({transport}): anyone on the network path could change what this node runs; use https or ssh, or set allowInsecureTransport: true (--allow-insecure-transport) to accept it",
        engine::redact::url_credentials(url)
    )
}

fn read_config(path: &Path) -> Result<Manifest<NodeSpec>> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read --config {}", path.display()))?;
    load_node(&SourceFile {
        path: path.display().to_string(),
        text,
    })
    .map_err(|errors| anyhow!(errors))
}

/// An existing local path as an absolute path (the clone lives elsewhere); URLs unchanged.
fn local_url(url: &str) -> String {
    let path = Path::new(url);
    if !url.contains("://") && path.exists() {
        if let Ok(absolute) = path.canonicalize() {
            return absolute.display().to_string();
        }
    }
    url.to_string()
}

fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("cannot read the current directory")?
        .join(path))
}

/// The longest path a unix socket address holds (`sun_path` less its terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

/// The unix socket of Caddy's admin API: `--caddy-admin`, else `<dataDir>/caddy/admin.sock`.
fn caddy_admin(flag: Option<&Path>, paths: &NodePaths) -> Result<PathBuf> {
    let socket = match flag {
        Some(path) => {
            if path
                .to_str()
                .is_some_and(|text| text.parse::<SocketAddr>().is_ok())
            {
                bail!(
                    "--caddy-admin {}: expected the path of a unix socket; Caddy's admin API no longer listens on TCP, where every local user could load a config",
                    path.display()
                );
            }
            absolute(path)?
        }
        None => paths.caddy_admin(),
    };
    let length = socket.as_os_str().len();
    if length > MAX_SOCKET_PATH {
        bail!(
            "--caddy-admin {}: a unix socket path has at most {MAX_SOCKET_PATH} bytes, this one {length}; pass a shorter one",
            socket.display()
        );
    }
    Ok(socket)
}

fn status_addr(addr: &str, port: u16) -> Result<SocketAddr> {
    if let Ok(full) = addr.parse::<SocketAddr>() {
        return Ok(full);
    }
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| anyhow!("--status-addr {addr:?}: expected an IP address or IP:port"))?;
    Ok(SocketAddr::new(ip, port))
}
