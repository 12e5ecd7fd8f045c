//! The node daemon (docs/node.md): a Git poller that fetches the tracked branch with backoff, and a
//! reconciler that applies each new valid revision at once and repairs drift from the last good
//! revision every poll interval, whatever Git is doing. It serves its status read-only (docs/status-api.md).

pub mod health;
pub mod metrics;
pub mod server;
pub mod status;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use engine::plan::Plan;
use engine::revision::{self, Selection};
use engine::{DesiredState, Environment, PlanOptions};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn, Instrument};

use crate::apply::{ApplyOptions, Outcome, Reporter};
use crate::converge::{converge, PlanObserver};
use crate::docker::container;
use crate::docker::observe::observe;
use crate::docker::Docker;
use crate::git::{self, Remote};
use crate::ingress::caddy::Caddy;
use crate::ingress::config::{CaddySettings, Route};
use crate::probe;
use crate::revision::{AgeKey, WorkTree};
use engine::manifest::LivenessProbe;
use engine::plan::ActionKind;
use health::{Tracker, FLAP_ACTIONS, FLAP_WINDOW};
use metrics::{ActionLabels, DeploymentLabels, Metrics};
use status::{
    timestamp, DeploymentStatus, NodeStatus, ServiceStatus, SharedStatus, Status, SyncState,
};

/// How often the node looks for liveness probes that are due.
const LIVENESS_TICK: Duration = Duration::from_secs(1);

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
    /// The age identity that decrypts `secrets.yaml` (see `secrets::age_key_path`).
    pub age_key_path: PathBuf,
    pub status_addr: SocketAddr,
    pub allow_empty: bool,
    /// The Caddy binary and where it listens; started only when a revision has Services.
    pub caddy_bin: PathBuf,
    pub caddy: CaddySettings,
}

impl Settings {
    /// The local clone of the manifest repository.
    pub fn checkout(&self) -> PathBuf {
        engine::manifest::node_defaults::NodePaths::new(&self.data_dir).checkout()
    }

    fn code_dir(&self) -> PathBuf {
        self.code_dir.clone().unwrap_or_else(|| self.checkout())
    }

    fn caddy_dir(&self) -> PathBuf {
        engine::manifest::node_defaults::NodePaths::new(&self.data_dir).caddy()
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
        health: Tracker::default(),
        probes: probe::client(),
        ingress: None,
    };
    reconciler.run(polls_rx, stop_rx).await;
    if let Some(caddy) = reconciler.ingress.take() {
        caddy.stop().await;
    }
    info!("stopped");
    Ok(())
}

fn initial_status(settings: &Settings) -> Status {
    Status {
        node: NodeStatus {
            name: settings.node_name.clone().unwrap_or_default(),
            environment: Environment::select(
                settings.environment.as_ref(),
                None,
                Some(&settings.remote.branch),
            )
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
    health: Tracker,
    probes: reqwest::Client,
    ingress: Option<Caddy>,
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
        let mut next_liveness = Instant::now() + LIVENESS_TICK;
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
                            self.health.new_commit();
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
                _ = tokio::time::sleep_until(next_liveness) => {
                    self.check_liveness().await;
                    next_liveness = Instant::now() + LIVENESS_TICK;
                }
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
        let tree = WorkTree {
            root: self.settings.checkout(),
            code_dir: Some(self.settings.code_dir()),
            age_key: AgeKey::File(self.settings.age_key_path.clone()),
        };
        let selection = Selection {
            environment: self.settings.environment.clone(),
            node: self.settings.node_name.clone(),
            require_node: false,
            branch: Some(self.settings.remote.branch.clone()),
        };
        let commit = head.to_string();
        let loaded = tokio::task::spawn_blocking(move || {
            revision::desired_state(&tree, &commit, &selection)
        })
        .await;
        let revision = match loaded {
            Ok(Ok(revision)) => revision,
            Ok(Err(error)) => return self.invalid(head, error.to_string()),
            Err(error) => return self.invalid(head, format!("revision task failed: {error}")),
        };
        if let Some(node) = &revision.node {
            let interval = node.spec.poll_interval.as_std();
            if !self.settings.poll_interval_fixed && *self.interval.borrow() != interval {
                info!(poll_interval = %humantime::format_duration(interval), "poll interval changed by the node manifest");
                let _ = self.interval.send(interval);
            }
        }
        let desired = revision.desired;
        let mut status = self.status.lock();
        status.node.environment = desired.environment.as_str().to_string();
        status.node.sync_state = SyncState::Synced;
        status.node.sync_error = None;
        drop(status);
        self.good = Some(Good {
            commit: head.to_string(),
            desired,
        });
        true
    }

    fn invalid(&mut self, head: &str, error: String) -> bool {
        warn!(commit = head, %error, "revision rejected; the last good revision stays in force");
        let mut status = self.status.lock();
        status.node.sync_state = SyncState::InvalidRevision;
        status.node.sync_error = Some(error);
        false
    }

    /// One convergence pass against the last good revision; quarantined and flapping
    /// deployments are held.
    async fn reconcile(&mut self, new_commit: bool) {
        let Some(good) = &self.good else { return };
        let commit = good.commit.clone();
        let options = ApplyOptions {
            parallelism: ApplyOptions::DEFAULT_PARALLELISM,
            code_dir: self.settings.code_dir(),
            wait: true,
            cancel: Some(self.cancel.clone()),
        };
        let plan_options = PlanOptions {
            allow_empty: self.settings.allow_empty,
            new_commit,
            held: self.health.held(&commit),
        };
        let span = tracing::info_span!("reconcile", commit = %commit, new_commit);
        self.metrics.reconciles.inc();
        let log = LogReporter {
            metrics: &self.metrics,
        };
        let result = converge(&self.docker, &good.desired, plan_options, &options, &log)
            .instrument(span)
            .await;
        let (outcomes, observed, error) = match result {
            Ok(pass) => (pass.report.outcomes, pass.observed, None),
            Err(error) => {
                warn!(error = %format!("{error:#}"), "reconcile failed");
                (Vec::new(), None, Some(format!("reconcile: {error:#}")))
            }
        };
        self.record(&commit, &outcomes);
        let failed = error.is_some() || outcomes.iter().any(|outcome| outcome.result.is_err());
        self.refresh_status(&outcomes, observed, Some((failed, error)))
            .await;
        self.update_ingress().await;
    }

    /// Points one Caddy route per Service at its deployment's container, once that container runs
    /// and is ready; starts Caddy the first time a revision has Services.
    async fn update_ingress(&mut self) {
        let Some(good) = &self.good else { return };
        let services = &good.desired.services;
        if services.is_empty() && self.ingress.is_none() {
            self.status.lock().services.clear();
            return;
        }
        if self.ingress.is_none() {
            match Caddy::start(
                &self.settings.caddy_bin,
                &self.settings.caddy_dir(),
                self.settings.caddy.clone(),
            )
            .await
            {
                Ok(caddy) => self.ingress = Some(caddy),
                Err(error) => warn!(error = %format!("{error:#}"), "cannot start the ingress"),
            }
        }
        let environment = good.desired.environment.as_str().to_string();
        let mut routes = Vec::new();
        let mut entries = BTreeMap::new();
        for service in services.values() {
            let mut entry = ServiceStatus {
                name: service.name.clone(),
                deployment: service.deployment.clone(),
                domain: service.domain.clone(),
                ssl: service.ssl,
                upstream: None,
                active: false,
                note: None,
            };
            let target = good.desired.deployments.get(&service.deployment);
            let ready = self
                .health
                .get(&service.deployment)
                .is_none_or(|health| health.probe_ok != Some(false));
            match (&service.domain, target) {
                (None, _) => {
                    entry.note = Some(format!(
                        "no route in environment {environment}: the service has no ingress.domain.environment"
                    ));
                }
                (Some(_), None) => {
                    entry.note = Some(format!("deployment {} does not exist", service.deployment))
                }
                (Some(domain), Some(deployment)) => {
                    match container::inspect(&self.docker, &deployment.container).await {
                        Ok(Some(container)) if container.running && ready => match &container.ip {
                            Some(ip) => {
                                let upstream = format!("{ip}:{}", service.port);
                                entry.upstream = Some(upstream.clone());
                                routes.push(Route {
                                    domain: domain.clone(),
                                    upstream,
                                    ssl: service.ssl,
                                });
                            }
                            None => {
                                entry.note =
                                    Some(format!("{} has no network address", deployment.container))
                            }
                        },
                        _ => {
                            entry.note =
                                Some(format!("{} is not running and ready", deployment.container))
                        }
                    }
                }
            }
            entries.insert(service.name.clone(), entry);
        }
        routes.sort();
        let applied = match &self.ingress {
            Some(caddy) => caddy
                .apply(&routes)
                .await
                .map_err(|error| format!("{error:#}")),
            None => Err("Caddy is not running".to_string()),
        };
        for entry in entries.values_mut() {
            match &applied {
                Ok(()) => entry.active = entry.upstream.is_some(),
                Err(error) if entry.upstream.is_some() => {
                    entry.note = Some(format!("ingress: {error}"))
                }
                Err(_) => {}
            }
        }
        if let Err(error) = &applied {
            warn!(%error, "ingress routes not updated");
        }
        self.status.lock().services = entries;
    }

    /// Counts an action on `deployment` towards flapping, and says so when it starts to flap.
    fn acted(&mut self, deployment: &str, now: Instant) {
        if self.health.acted(deployment, now) {
            warn!(
                deployment,
                "flapping: acted on {FLAP_ACTIONS} times within {}; left alone until a new commit",
                humantime::format_duration(FLAP_WINDOW)
            );
        }
    }

    /// Flap history, quarantine after a rollback, and probe results of the pass's actions.
    fn record(&mut self, commit: &str, outcomes: &[Outcome]) {
        let now = Instant::now();
        for outcome in outcomes {
            let action = &outcome.action;
            if action.kind == ActionKind::Blocked {
                continue;
            }
            self.acted(&action.deployment, now);
            match &outcome.result {
                Err(error) if outcome.rolled_back => {
                    warn!(deployment = %action.deployment, commit, %error, "rollout rolled back; commit quarantined for this deployment");
                    self.health.quarantine(&action.deployment, commit, error);
                }
                Ok(())
                    if matches!(
                        action.kind,
                        ActionKind::Create | ActionKind::Recreate | ActionKind::Start
                    ) =>
                {
                    let health = self.health.entry(&action.deployment);
                    health.probe_ok = Some(true);
                    health.liveness_failures = 0;
                    health.next_liveness = None;
                }
                _ => {}
            }
        }
    }

    /// Rewrites the status of every deployment from the last outcomes, the health tracker and
    /// `observed` (observed afresh when `None`), and, after a reconcile (`reconciled`: whether an action failed, and
    /// the pass's own error), the node's reconcile fields, all in one update so readers never
    /// see a half-written pass.
    async fn refresh_status(
        &mut self,
        outcomes: &[Outcome],
        observed: Option<engine::Observed>,
        reconciled: Option<(bool, Option<String>)>,
    ) {
        let Some(good) = &self.good else { return };
        let observed = match observed {
            Some(observed) => Some(observed),
            None => observe(&self.docker, &good.desired.container_names())
                .await
                .ok(),
        };
        let desired_names: BTreeSet<String> = good.desired.deployments.keys().cloned().collect();
        self.health.retain(&desired_names);
        let mut status = self.status.lock();
        let node = &mut status.node;
        if let Some((failed, error)) = reconciled {
            node.last_reconcile_time = Some(timestamp(SystemTime::now()));
            node.reconcile_ok = !failed;
            if !failed {
                node.applied_commit = Some(good.commit.clone());
            }
            let stale = node
                .sync_error
                .as_deref()
                .is_some_and(|e| e.starts_with("reconcile: "));
            if error.is_some() || stale {
                node.sync_error = error;
            }
        }
        node.healthy = node.fetch_ok && node.reconcile_ok;
        let entries = &mut status.deployments;
        entries.retain(|name, _| desired_names.contains(name));
        for deployment in good.desired.deployments.values() {
            let entry =
                entries
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
                .filter(|o| o.action.deployment == deployment.name)
            {
                entry.last_action = Some(if outcome.rolled_back {
                    "rolled_back".to_string()
                } else {
                    outcome.action.kind.as_str().to_string()
                });
                entry.last_reason = Some(outcome.action.reason.as_str().to_string());
                entry.last_error = outcome.result.as_ref().err().cloned();
            }
            let health = self
                .health
                .get(&deployment.name)
                .cloned()
                .unwrap_or_default();
            entry.quarantined = health
                .quarantine
                .as_ref()
                .is_some_and(|(quarantined, _)| *quarantined == good.commit);
            entry.flapping = health.flapping;
            entry.restarts = health.restarts;
            if let Some(observed) = &observed {
                let container = observed
                    .containers
                    .iter()
                    .find(|container| container.bare_name() == deployment.container);
                entry.container_id = container.map(|c| c.id.chars().take(12).collect());
                entry.state =
                    container.map_or_else(|| "missing".to_string(), |c| state_name(c.state));
            }
            entry.ready = entry.state == "running" && health.probe_ok != Some(false);
        }
    }

    /// Runs the liveness probes that are due; a container failing `failureThreshold` checks in a
    /// row is restarted.
    async fn check_liveness(&mut self) {
        let Some(good) = &self.good else { return };
        let held = self.health.held(&good.commit);
        let probes: Vec<(String, String, LivenessProbe, Duration)> = good
            .desired
            .deployments
            .values()
            .filter(|deployment| !held.contains(&deployment.name))
            .filter_map(|deployment| {
                let liveness = deployment.health.liveness.clone()?;
                Some((
                    deployment.name.clone(),
                    deployment.container.clone(),
                    liveness,
                    deployment.spec.stop_timeout.as_std(),
                ))
            })
            .collect();
        let mut changed = false;
        for (name, container_name, liveness, stop_timeout) in probes {
            let now = Instant::now();
            let health = self.health.entry(&name);
            match health.next_liveness {
                Some(due) if due > now => continue,
                None => {
                    health.next_liveness = Some(now + liveness.interval.as_std());
                    continue;
                }
                Some(_) => health.next_liveness = Some(now + liveness.interval.as_std()),
            }
            let Ok(Some(container)) = container::inspect(&self.docker, &container_name).await
            else {
                continue;
            };
            if !container.running {
                continue;
            }
            let urls = probe::candidate_urls(&liveness.http, &container);
            let result = probe::check(&self.probes, &urls, liveness.timeout.as_std()).await;
            let health = self.health.entry(&name);
            let failure = match result {
                Ok(()) => {
                    health.liveness_failures = 0;
                    health.probe_ok = Some(true);
                    continue;
                }
                Err(failure) => failure,
            };
            changed = true;
            self.metrics.probe_failures.inc();
            health.liveness_failures += 1;
            health.probe_ok = Some(false);
            let message = format!(
                "liveness probe of {container_name} failed: GET {} answered {} ({} of failureThreshold {})",
                failure.url, failure.detail, health.liveness_failures, liveness.failure_threshold
            );
            warn!(deployment = %name, error = %message, "liveness probe failed");
            health.last_probe_error = Some(message.clone());
            if health.liveness_failures < liveness.failure_threshold {
                continue;
            }
            health.liveness_failures = 0;
            health.restarts += 1;
            self.metrics
                .restarts
                .get_or_create(&DeploymentLabels {
                    deployment: name.clone(),
                })
                .inc();
            let restarted = container::restart(&self.docker, &container_name, stop_timeout).await;
            let error = restarted.err().map(|error| format!("{error:#}"));
            warn!(deployment = %name, container = %container_name, restart_error = ?error, "failureThreshold reached: container restarted");
            self.acted(&name, Instant::now());
            let mut status = self.status.lock();
            if let Some(entry) = status.deployments.get_mut(&name) {
                entry.last_action = Some("restart".to_string());
                entry.last_reason = Some("liveness_failed".to_string());
                entry.last_error = Some(error.unwrap_or(message));
            }
        }
        if changed {
            self.refresh_status(&[], None, None).await;
        }
    }
}

/// Docker's state name, as the snapshot writes it.
fn state_name(state: engine::observed::ContainerState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
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
        info!(deployment, line, "build");
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
