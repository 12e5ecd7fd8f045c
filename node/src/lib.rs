//! The node daemon (docs/node.md): a Git poller that fetches the tracked branch with jitter and
//! backoff, or at once on a proven webhook, and a reconciler that applies each new valid revision
//! at once and repairs drift from the last good revision every poll interval, whatever Git is
//! doing, remembering across restarts what it learnt (`state.rs`) and reporting rollouts to the
//! notifier and recording each apply (`history.rs`). It serves its status read-only
//! (docs/status-api.md) and takes a local operator's commands on its control socket
//! (`control.rs`). This module only holds the settings and wires the tasks together.

mod blocking;
mod commit_statuses;
pub mod control;
pub mod dashboard;
pub mod decisions;
pub mod history;
mod ingress;
pub mod metrics;
mod notifier;
pub mod observation;
mod poller;
mod prober;
pub mod public;
mod reconciler;
mod repo;
mod report;
pub mod server;
mod state;
pub mod status;
#[cfg(test)]
pub(crate) mod testing;
pub mod webhook;

use std::fs::{self, DirBuilder, Permissions};
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use engine::manifest::node_defaults::NodePaths;
use engine::manifest::{Manifest, NodePolicy, NodeSpec};
use engine::Environment;
use tokio::sync::{mpsc, watch, Notify};
use tracing::{info, warn};

use adapters::docker::Docker;
use adapters::git::Remote;
use adapters::ingress::config::CaddySettings;
use adapters::mount_files::FileDirs;
use decisions::settings::{effective_settings, InForce, StartFlags};
use metrics::Metrics;
use notifier::Notifier;
use observation::Observations;
use reconciler::Reconciler;
use status::SharedStatus;
use webhook::{Hook, WebhookSecret};

/// Everything the daemon needs, resolved from `--config` and flags.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `metadata.name` of this node: its own manifest is re-read from each revision.
    pub node_name: Option<String>,
    pub remote: Remote,
    pub data_dir: PathBuf,
    /// An explicit environment (`environment` of the `--config` node); otherwise the environment
    /// comes from this node's manifest in each revision, else from the tracked branch.
    pub environment: Option<Environment>,
    /// What `orun start`'s flags fixed, whatever the manifests say.
    pub flags: StartFlags,
    /// The `--config` node file, whose settings are in force while the revision has no manifest
    /// of this node.
    pub config: Option<Manifest<NodeSpec>>,
    /// Base of build contexts; the clone when `None`.
    pub code_dir: Option<PathBuf>,
    /// The age identity that decrypts `secrets.yaml` (see `secrets::age_key_path`).
    pub age_key_path: PathBuf,
    pub status_addr: SocketAddr,
    pub allow_empty: bool,
    /// The Caddy binary and where it listens; started only when a revision has Services.
    pub caddy_bin: PathBuf,
    pub caddy: CaddySettings,
    /// The webhook secret read at start (`--webhook-secret-file`, else `webhookSecretFile` of the
    /// `--config` node); without one `/hooks/git` answers 404.
    pub webhook_secret: Option<WebhookSecret>,
    /// The tmpfs folder of the secret files containers mount (`--secret-files-dir`).
    pub secret_files_dir: PathBuf,
}

impl Settings {
    /// The files and folders under `dataDir`.
    pub fn paths(&self) -> NodePaths {
        NodePaths::new(&self.data_dir)
    }

    /// The settings in force until a revision is: the flags over the `--config` node file.
    pub fn at_start(&self) -> InForce {
        effective_settings(&self.flags, self.config.as_ref(), None)
    }

    /// The operator policy every revision must keep: the `--config` node file's, permissive
    /// without one. A revision's own Node manifest never sets it.
    pub fn policy(&self) -> NodePolicy {
        self.config
            .as_ref()
            .map(|config| config.spec.policy.clone())
            .unwrap_or_default()
    }

    /// Where the copies of the files containers mount are written.
    pub fn file_dirs(&self) -> FileDirs {
        FileDirs::new(&self.data_dir, &self.secret_files_dir)
    }

    /// The local clone of the manifest repository.
    pub fn checkout(&self) -> PathBuf {
        self.paths().checkout()
    }

    fn caddy_dir(&self) -> PathBuf {
        self.paths().caddy()
    }
}

/// Runs the node until `shutdown` resolves: the Docker call in flight finishes, no new one starts.
pub async fn run(
    settings: Settings,
    docker: Docker,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), server::ListenError> {
    let settings = Arc::new(settings);
    if let Err(error) = private_data_dir(&settings.data_dir) {
        warn!(data_dir = %settings.data_dir.display(), %error, "cannot make the data folder private");
    }
    let status = SharedStatus::new(decisions::status_projection::initial(
        &settings,
        SystemTime::now(),
    ));
    let metrics = Arc::new(Metrics::new());
    let (webhook_secret, secret) = watch::channel(settings.webhook_secret.clone());
    let fetch_now = Arc::new(Notify::new());
    let (in_force, in_force_rx) = watch::channel(None);
    server::serve(
        settings.status_addr,
        status.clone(),
        metrics.clone(),
        public::LocalPaths::new(&settings),
        Hook {
            secret,
            fetch: fetch_now.clone(),
        },
        Arc::new(Observations::of_docker(docker.clone(), in_force_rx)),
        history::HistoryFile::new(settings.paths().history()),
    )
    .await?;
    let node_name = status.lock().node.name.clone();
    let notifier = Notifier::start(node_name, public::LocalPaths::new(&settings));
    info!(addr = %settings.status_addr, "status API listening");

    let cancel = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = watch::channel(false);
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            shutdown.await;
            info!("shutting down: finishing the Docker call in flight");
            cancel.store(true, Ordering::SeqCst);
            let _ = stop_tx.send(true);
        });
    }
    let (interval_tx, interval_rx) = watch::channel(settings.at_start().poll_interval);
    let (polls_tx, polls_rx) = mpsc::channel(1);
    tokio::spawn(poller::poll_loop(
        settings.clone(),
        interval_rx,
        poller::PollerOutputs {
            status: status.clone(),
            metrics: metrics.clone(),
            notifier: notifier.clone(),
        },
        fetch_now,
        polls_tx,
        stop_rx.clone(),
    ));
    let control = match control::listen(&settings.paths().control_socket()) {
        Ok(control) => control,
        Err(error) => {
            warn!(%error, "no local control: orun suspend, resume, pin and unpin cannot reach this node");
            mpsc::channel(1).1
        }
    };
    let outputs = reconciler::ReconcilerOutputs {
        status,
        metrics,
        notifier,
        interval: interval_tx,
        webhook_secret,
        in_force,
    };
    Reconciler::new(settings, docker, outputs, cancel)
        .run(polls_rx, control, stop_rx)
        .await;
    info!("stopped");
    Ok(())
}

/// Creates `dir` with mode 700, or takes the access of others away from an existing one: it
/// holds the clone, the keys, the node's state and Caddy's files.
fn private_data_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let mode = fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, Permissions::from_mode(mode & 0o700))?;
        info!(data_dir = %dir.display(), "took the access of other users away from the data folder");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_folder_is_created_or_kept_private() {
        let dir = tempfile::TempDir::new().unwrap();
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let created = dir.path().join("a/orun");
        private_data_dir(&created).unwrap();
        assert_eq!(mode(&created), 0o700);
        let existing = dir.path().join("opt-orun");
        fs::create_dir(&existing).unwrap();
        fs::set_permissions(&existing, Permissions::from_mode(0o755)).unwrap();
        private_data_dir(&existing).unwrap();
        assert_eq!(mode(&existing), 0o700);
    }
}
