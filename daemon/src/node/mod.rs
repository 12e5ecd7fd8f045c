//! The node daemon (SPEC §9): a Git poller that fetches the tracked branch with backoff, and a
//! reconciler that applies each new valid revision at once and repairs drift from the last good
//! revision every poll interval, whatever Git is doing. It serves its status read-only (SPEC §10).

pub mod metrics;
pub mod server;
pub mod status;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use engine::plan::Plan;
use engine::{DesiredState, Environment, PlanOptions, ResolveInput, Secrets};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn, Instrument};

use crate::apply::{ApplyOptions, Outcome, Reporter};
use crate::converge::{converge, PlanObserver};
use crate::docker::observe::observe;
use crate::docker::Docker;
use crate::git::{self, Remote};
use crate::revision::{load_revision, RevisionError};
use metrics::{ActionLabels, Metrics};
use status::{timestamp, DeploymentStatus, NodeStatus, SharedStatus, Status, SyncState};

/// Docker calls in flight at once within a phase.
const PARALLELISM: usize = 4;

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
    pub poll_interval: Duration,
    /// `--poll-interval` was given: the node manifest's `pollInterval` does not override it.
    pub poll_interval_fixed: bool,
    /// Base of build contexts; the clone when `None`.
    pub code_dir: Option<PathBuf>,
    pub status_addr: SocketAddr,
    pub allow_empty: bool,
}

impl Settings {
    /// The local clone of the manifest repository.
    pub fn checkout(&self) -> PathBuf {
        self.data_dir.join("repo")
    }

    fn code_dir(&self) -> PathBuf {
        self.code_dir.clone().unwrap_or_else(|| self.checkout())
    }
}

/// A revision that passed validation, with its desired state.
struct Good {
    commit: String,
    desired: DesiredState,
}

/// Runs the node until `shutdown` resolves: the Docker call in flight finishes, no new one starts.
pub async fn run(
    settings: Settings,
    docker: Docker,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let settings = Arc::new(settings);
    let status = SharedStatus::new(initial_status(&settings));
    let metrics = Arc::new(Metrics::new());
    server::serve(settings.status_addr, status.clone(), metrics.clone()).await?;
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
    let (interval_tx, interval_rx) = watch::channel(settings.poll_interval);
    let (polls_tx, polls_rx) = mpsc::channel(1);
    tokio::spawn(poll_loop(
        settings.clone(),
        interval_rx,
        status.clone(),
        metrics.clone(),
        polls_tx,
        stop_rx.clone(),
    ));
    let mut reconciler = Reconciler {
        settings,
        docker,
        status,
        metrics,
        cancel,
        interval: interval_tx,
        good: None,
        seen_head: None,
        notified: false,
    };
    reconciler.run(polls_rx, stop_rx).await;
    info!("stopped");
    Ok(())
}

fn initial_status(settings: &Settings) -> Status {
    Status {
        node: NodeStatus {
            name: settings.node_name.clone().unwrap_or_default(),
            environment: settings
                .environment
                .clone()
                .or_else(|| Environment::from_branch(&settings.remote.branch).ok())
                .map(|environment| environment.as_str().to_string())
                .unwrap_or_default(),
            branch: settings.remote.branch.clone(),
            started_at: timestamp(SystemTime::now()),
            sync_state: SyncState::Starting,
            git_head: None,
            applied_commit: None,
            last_sync_time: None,
            last_reconcile_time: None,
            sync_error: None,
            consecutive_failures: 0,
            next_poll_at: None,
            healthy: false,
            fetch_ok: false,
            reconcile_ok: true,
        },
        deployments: BTreeMap::new(),
        services: BTreeMap::new(),
    }
}

/// Fetches forever, doubling the wait after each consecutive failure (engine::backoff).
async fn poll_loop(
    settings: Arc<Settings>,
    interval: watch::Receiver<Duration>,
    status: SharedStatus,
    metrics: Arc<Metrics>,
    results: mpsc::Sender<Result<String, String>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut failures: u32 = 0;
    loop {
        let checkout = settings.checkout();
        let remote = settings.remote.clone();
        let result = tokio::task::spawn_blocking(move || git::fetch(&checkout, &remote))
            .await
            .unwrap_or_else(|error| Err(format!("git task failed: {error}")));
        metrics.polls.inc();
        let now = SystemTime::now();
        match &result {
            Ok(head) => {
                failures = 0;
                let unix = now.duration_since(UNIX_EPOCH).unwrap_or_default();
                metrics.last_successful_sync.set(unix.as_secs_f64());
                let mut status = status.lock();
                status.node.last_sync_time = Some(timestamp(now));
                status.node.consecutive_failures = 0;
                status.node.git_head = Some(head.clone());
                status.node.fetch_ok = true;
                if status.node.sync_state == SyncState::Backoff {
                    status.node.sync_state = SyncState::Synced;
                    status.node.sync_error = None;
                }
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                metrics.poll_failures.inc();
                warn!(%error, consecutive_failures = failures, "git poll failed");
                let mut status = status.lock();
                status.node.consecutive_failures = failures;
                status.node.sync_state = SyncState::Backoff;
                status.node.sync_error = Some(error.clone());
                status.node.fetch_ok = false;
            }
        }
        let delay = engine::backoff::poll_delay(*interval.borrow(), failures);
        metrics.backoff_seconds.set(delay.as_secs_f64());
        {
            let mut status = status.lock();
            status.node.next_poll_at = Some(timestamp(now + delay));
            status.node.healthy = status.node.fetch_ok && status.node.reconcile_ok;
        }
        if results.send(result).await.is_err() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
    }
}

struct Reconciler {
    settings: Arc<Settings>,
    docker: Docker,
    status: SharedStatus,
    metrics: Arc<Metrics>,
    cancel: Arc<AtomicBool>,
    interval: watch::Sender<Duration>,
    good: Option<Good>,
    seen_head: Option<String>,
    notified: bool,
}

impl Reconciler {
    async fn run(
        &mut self,
        mut polls: mpsc::Receiver<Result<String, String>>,
        mut stop: watch::Receiver<bool>,
    ) {
        // A clone left by an earlier run keeps the node serving while the remote is down.
        if let Some(head) = git::checked_out(&self.settings.checkout()) {
            self.seen_head = Some(head.clone());
            if self.load(&head).await {
                self.reconcile(false).await;
            }
        }
        let mut next_repair = Instant::now() + *self.interval.borrow();
        loop {
            if self.cancel.load(Ordering::SeqCst) {
                return;
            }
            tokio::select! {
                _ = stop.changed() => return,
                poll = polls.recv() => match poll {
                    None => return,
                    Some(Ok(head)) if self.seen_head.as_ref() != Some(&head) => {
                        self.seen_head = Some(head.clone());
                        self.status.lock().node.sync_state = SyncState::Syncing;
                        if self.check_out(&head).await && self.load(&head).await {
                            self.reconcile(true).await;
                            next_repair = Instant::now() + *self.interval.borrow();
                        }
                    }
                    Some(Ok(_)) => {
                        let mut status = self.status.lock();
                        if status.node.sync_state == SyncState::Starting {
                            status.node.sync_state = SyncState::Synced;
                        }
                    }
                    Some(Err(_)) => {}
                },
                _ = tokio::time::sleep_until(next_repair) => {
                    if self.good.is_some() {
                        self.reconcile(false).await;
                    }
                    next_repair = Instant::now() + *self.interval.borrow();
                }
            }
            self.notify_ready();
        }
    }

    /// Tells systemd the node is up, once, after its first pass.
    fn notify_ready(&mut self) {
        if !self.notified {
            self.notified = true;
            if let Err(error) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
                warn!(%error, "cannot notify systemd");
            }
        }
    }

    async fn check_out(&mut self, head: &str) -> bool {
        let checkout = self.settings.checkout();
        let commit = head.to_string();
        let result = tokio::task::spawn_blocking(move || git::check_out(&checkout, &commit))
            .await
            .unwrap_or_else(|error| Err(format!("git task failed: {error}")));
        if let Err(error) = result {
            warn!(%error, "checkout failed");
            let mut status = self.status.lock();
            status.node.sync_state = SyncState::InvalidRevision;
            status.node.sync_error = Some(error);
            return false;
        }
        true
    }

    /// Loads and resolves the checked-out revision `head`; an invalid one is reported and skipped,
    /// keeping the last good revision in force.
    async fn load(&mut self, head: &str) -> bool {
        let checkout = self.settings.checkout();
        let code_dir = self.settings.code_dir();
        let commit = head.to_string();
        let loaded =
            tokio::task::spawn_blocking(move || load_revision(&checkout, &commit, Some(&code_dir)))
                .await;
        let revision = match loaded {
            Ok(Ok(revision)) => revision,
            Ok(Err(RevisionError::Invalid(errors))) => {
                return self.invalid(head, errors.to_string())
            }
            Ok(Err(RevisionError::Io(error))) => return self.invalid(head, format!("{error:#}")),
            Err(error) => return self.invalid(head, format!("revision task failed: {error}")),
        };
        let own_node = self
            .settings
            .node_name
            .as_ref()
            .and_then(|name| revision.manifests.nodes.get(name));
        let environment = match (&self.settings.environment, own_node) {
            (Some(explicit), _) => Ok(explicit.clone()),
            (None, Some(node)) => Environment::for_node(&node.spec),
            (None, None) => Environment::from_branch(&self.settings.remote.branch),
        };
        let environment = match environment {
            Ok(environment) => environment,
            Err(error) => return self.invalid(head, format!("environment: {error}")),
        };
        if let Some(node) = own_node {
            let interval = node.spec.poll_interval.as_std();
            if !self.settings.poll_interval_fixed && *self.interval.borrow() != interval {
                info!(poll_interval = %humantime::format_duration(interval), "poll interval changed by the node manifest");
                let _ = self.interval.send(interval);
            }
        }
        let secrets = Secrets::default();
        self.status.lock().node.environment = environment.as_str().to_string();
        let input = ResolveInput {
            environment,
            commit: head.to_string(),
            secrets: &secrets,
            build_tags: &revision.build_tags,
        };
        match engine::resolve(&revision.manifests, &input) {
            Ok(desired) => {
                self.good = Some(Good {
                    commit: head.to_string(),
                    desired,
                });
                let mut status = self.status.lock();
                status.node.sync_state = SyncState::Synced;
                status.node.sync_error = None;
                true
            }
            Err(errors) => self.invalid(head, errors.to_string()),
        }
    }

    fn invalid(&mut self, head: &str, error: String) -> bool {
        warn!(commit = head, %error, "revision rejected; the last good revision stays in force");
        let mut status = self.status.lock();
        status.node.sync_state = SyncState::InvalidRevision;
        status.node.sync_error = Some(error);
        false
    }

    /// One convergence pass against the last good revision.
    async fn reconcile(&mut self, new_commit: bool) {
        let Some(good) = &self.good else { return };
        let allow_empty = self.settings.allow_empty;
        let options = ApplyOptions {
            parallelism: PARALLELISM,
            code_dir: self.settings.code_dir(),
            wait: true,
            cancel: Some(self.cancel.clone()),
        };
        let plan_options = PlanOptions {
            allow_empty,
            new_commit,
        };
        let span = tracing::info_span!("reconcile", commit = %good.commit, new_commit);
        self.metrics.reconciles.inc();
        let log = LogReporter {
            metrics: &self.metrics,
        };
        let result = converge(&self.docker, &good.desired, plan_options, &options, &log)
            .instrument(span)
            .await;
        let observed = observe(&self.docker, &wanted_names(&good.desired)).await;
        let mut status = self.status.lock();
        let node = &mut status.node;
        node.last_reconcile_time = Some(timestamp(SystemTime::now()));
        let outcomes = match result {
            Ok(pass) => {
                node.reconcile_ok = pass.report.failed().next().is_none();
                if node.reconcile_ok {
                    node.applied_commit = Some(good.commit.clone());
                }
                if node
                    .sync_error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("reconcile: "))
                {
                    node.sync_error = None;
                }
                pass.report.outcomes
            }
            Err(error) => {
                warn!(error = %format!("{error:#}"), "reconcile failed");
                node.reconcile_ok = false;
                node.sync_error = Some(format!("reconcile: {error:#}"));
                Vec::new()
            }
        };
        node.healthy = node.fetch_ok && node.reconcile_ok;
        update_deployments(
            &mut status.deployments,
            &good.desired,
            &outcomes,
            observed.ok(),
        );
    }
}

fn wanted_names(desired: &DesiredState) -> std::collections::BTreeSet<String> {
    desired
        .deployments
        .values()
        .map(|deployment| deployment.container.clone())
        .collect()
}

/// Refreshes each deployment's entry from the last outcomes and the observed containers.
fn update_deployments(
    entries: &mut BTreeMap<String, DeploymentStatus>,
    desired: &DesiredState,
    outcomes: &[Outcome],
    observed: Option<engine::Observed>,
) {
    entries.retain(|name, _| desired.deployments.contains_key(name));
    for deployment in desired.deployments.values() {
        let entry = entries
            .entry(deployment.name.clone())
            .or_insert_with(|| DeploymentStatus {
                name: deployment.name.clone(),
                image: String::new(),
                container_id: None,
                state: "missing".to_string(),
                ready: false,
                restarts: 0,
                last_action: None,
                last_reason: None,
                last_error: None,
                quarantined: false,
                flapping: false,
                spec_hash: String::new(),
            });
        entry.image = deployment.spec.image.clone();
        entry.spec_hash = deployment.spec_hash.clone();
        for outcome in outcomes
            .iter()
            .filter(|outcome| outcome.action.deployment == deployment.name)
        {
            entry.last_action = Some(outcome.action.kind.as_str().to_string());
            entry.last_reason = Some(outcome.action.reason.as_str().to_string());
            entry.last_error = outcome.result.as_ref().err().cloned();
        }
        if let Some(observed) = &observed {
            let container = observed
                .containers
                .iter()
                .find(|container| container.bare_name() == deployment.container);
            entry.container_id = container.map(|c| c.id.chars().take(12).collect());
            entry.state = container.map_or_else(
                || "missing".to_string(),
                |c| {
                    serde_json::to_value(c.state)
                        .ok()
                        .and_then(|value| value.as_str().map(str::to_string))
                        .unwrap_or_default()
                },
            );
            entry.ready = entry.state == "running";
        }
    }
}

/// Logs each plan and action (kind, container, reason, duration, result) and counts actions.
struct LogReporter<'a> {
    metrics: &'a Metrics,
}

impl Reporter for LogReporter<'_> {
    fn action_finished(&self, outcome: &Outcome) {
        let action = &outcome.action;
        let result = if outcome.result.is_ok() {
            "ok"
        } else {
            "failed"
        };
        self.metrics
            .actions
            .get_or_create(&ActionLabels {
                kind: action.kind.as_str().to_string(),
                result: result.to_string(),
            })
            .inc();
        let duration_ms = outcome.duration.as_millis() as u64;
        match &outcome.result {
            Ok(()) => info!(
                kind = action.kind.as_str(),
                container = %action.container,
                reason = action.reason.as_str(),
                duration_ms,
                result,
                "action"
            ),
            Err(error) => warn!(
                kind = action.kind.as_str(),
                container = %action.container,
                reason = action.reason.as_str(),
                duration_ms,
                result,
                %error,
                "action"
            ),
        }
    }

    fn build_output(&self, deployment: &str, line: &str) {
        tracing::debug!(deployment, line, "build");
    }
}

impl PlanObserver for LogReporter<'_> {
    fn plan_ready(&self, plan: &Plan, follow_up: bool) {
        if !plan.is_empty() {
            info!(
                actions = plan.actions.len(),
                follow_up,
                summary = %serde_json::to_string(&plan.summary).unwrap_or_default(),
                "plan"
            );
        }
    }
}
