//! The reconciler loop: validates each newly fetched commit from its own files and only then checks
//! it out, so the clone always holds the last good revision; converges Docker on that revision at
//! once for a new commit and every poll interval to repair drift; runs due liveness probes every
//! second; saves what the node must remember across restarts when it changes; and hands rollouts,
//! rejected commits and the revision's notification and webhook settings to the notifier and the
//! status API. At start it restores that memory and reconciles the clone's revision before the
//! first fetch. It only does I/O and bookkeeping; what to change, hold, route, restart, report,
//! notify and remember is decided by `engine::plan`, `health.rs`, `liveness.rs`, `routes.rs`,
//! `status_projection.rs`, `events.rs` and `state.rs`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use engine::revision::Revision;
use engine::{DesiredState, Observed, PlanOptions};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn, Instrument};

use super::ingress::Ingress;
use super::metrics::Metrics;
use super::notifier::Notifier;
use super::prober::Prober;
use super::report::{self, LogReporter};
use super::state::{self, LoadOutcome, NodeState, StateFile};
use super::status::{SharedStatus, SyncError, SyncState};
use super::webhook::WebhookSecret;
use super::{repo, Settings};
use crate::decisions::events::{self, NoticeDraft};
use crate::decisions::health::Tracker;
use crate::decisions::status_projection;
use adapters::apply::ApplyOptions;
use adapters::converge::converge;
use adapters::docker::credentials::RegistryCredentials;
use adapters::docker::observe::observe;
use adapters::docker::Docker;
use adapters::git::GitError;
use adapters::probe;
use engine::outcome::Outcome;

/// How often the node looks for liveness probes that are due.
const LIVENESS_TICK: Duration = Duration::from_secs(1);

/// The last revision that passed validation, the one in force: its commit, its desired state
/// and where its node's registry credentials are read from.
struct LastGoodRevision {
    commit: String,
    desired: DesiredState,
    registry_credentials: RegistryCredentials,
}

/// Where the reconciler's results go besides Docker.
pub struct ReconcilerOutputs {
    pub status: SharedStatus,
    pub metrics: Arc<Metrics>,
    pub notifier: Notifier,
    /// The poll interval in force, for the poller.
    pub interval: watch::Sender<Duration>,
    /// The webhook secret in force, for the status API.
    pub webhook_secret: watch::Sender<Option<WebhookSecret>>,
}

pub struct Reconciler {
    settings: Arc<Settings>,
    docker: Docker,
    status: SharedStatus,
    metrics: Arc<Metrics>,
    notifier: Notifier,
    cancel: Arc<AtomicBool>,
    interval: watch::Sender<Duration>,
    webhook_secret: watch::Sender<Option<WebhookSecret>>,
    last_good: Option<LastGoodRevision>,
    seen_head: Option<String>,
    /// The last good commit's pulls and builds have not all succeeded yet: every pass plans them
    /// as for a new commit, so a registry that comes back is used within one poll interval.
    new_commit_pending: bool,
    notified: bool,
    health: Tracker,
    prober: Prober,
    ingress: Ingress,
    state_file: StateFile,
    /// What `state_file` holds, as last saved or loaded.
    remembered: NodeState,
}

impl Reconciler {
    pub fn new(
        settings: Arc<Settings>,
        docker: Docker,
        outputs: ReconcilerOutputs,
        cancel: Arc<AtomicBool>,
    ) -> Self {
        let ReconcilerOutputs {
            status,
            metrics,
            notifier,
            interval,
            webhook_secret,
        } = outputs;
        let ingress = Ingress::new(&settings);
        let state_file = StateFile::new(settings.paths().state());
        let prober = Prober {
            docker: docker.clone(),
            client: probe::client(),
            metrics: metrics.clone(),
            status: status.clone(),
            notifier: notifier.clone(),
        };
        Reconciler {
            settings,
            docker,
            status,
            metrics,
            notifier,
            cancel,
            interval,
            webhook_secret,
            last_good: None,
            seen_head: None,
            new_commit_pending: false,
            notified: false,
            health: Tracker::default(),
            prober,
            ingress,
            state_file,
            remembered: NodeState::default(),
        }
    }

    /// Runs until `stop` changes or the poller is gone, then stops Caddy.
    pub async fn run(
        mut self,
        mut polls: mpsc::Receiver<Result<String, GitError>>,
        mut stop: watch::Receiver<bool>,
    ) {
        self.start().await;
        let mut next_repair = Instant::now() + *self.interval.borrow();
        let mut next_liveness = Instant::now() + LIVENESS_TICK;
        while !self.cancel.load(Ordering::SeqCst) {
            tokio::select! {
                _ = stop.changed() => break,
                poll = polls.recv() => match poll {
                    None => break,
                    Some(Ok(head)) if self.seen_head.as_ref() != Some(&head) => {
                        self.seen_head = Some(head.clone());
                        self.status.lock().node.sync_state = SyncState::Syncing;
                        if self.adopt(&head).await {
                            self.reconcile().await;
                            next_repair = Instant::now() + *self.interval.borrow();
                        }
                        self.notify_if_idle();
                    }
                    Some(Ok(_)) => {
                        let mut status = self.status.lock();
                        if status.node.sync_state == SyncState::Starting {
                            status.node.sync_state = SyncState::Synced;
                        }
                        drop(status);
                        self.notify_if_idle();
                    }
                    Some(Err(_)) => self.notify_if_idle(),
                },
                _ = tokio::time::sleep_until(next_liveness) => {
                    self.check_liveness().await;
                    next_liveness = Instant::now() + LIVENESS_TICK;
                }
                _ = tokio::time::sleep_until(next_repair) => {
                    if self.last_good.is_some() {
                        self.reconcile().await;
                    }
                    next_repair = Instant::now() + *self.interval.borrow();
                }
            }
        }
        self.ingress.stop().await;
    }

    /// After a poll: with no valid revision there is nothing to reconcile (the remote is down, or
    /// HEAD is invalid), and the node is as up as it can be.
    fn notify_if_idle(&mut self) {
        if self.last_good.is_none() {
            self.notify_ready();
        }
    }

    /// Tells systemd the node is up, once: after its first reconcile finished, whatever its
    /// result, or when a poll left nothing to reconcile.
    fn notify_ready(&mut self) {
        if !self.notified {
            self.notified = true;
            if let Err(error) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
                warn!(%error, "cannot notify systemd");
            }
        }
    }

    /// Restores what an earlier run remembered and reconciles the last good revision the clone
    /// holds, before the first fetch completes: drift repair goes on while the remote is down.
    async fn start(&mut self) {
        let remembered = self.load_state().await;
        if let Some(remembered) = &remembered {
            self.status.lock().node.applied_commit = remembered.applied_commit.clone();
        }
        let checked_out = repo::checked_out(&self.settings).await;
        let clone_has_last_good = match remembered
            .as_ref()
            .and_then(|state| state.last_good_commit.as_deref())
        {
            Some(commit) => repo::has_commit(&self.settings, commit).await,
            None => false,
        };
        let Some(start) = state::starting_point(
            checked_out.as_deref(),
            remembered.as_ref(),
            clone_has_last_good,
        ) else {
            return;
        };
        self.seen_head = Some(start.commit.clone());
        // Checking the commit out again also repairs a work tree left half-written by a crash.
        if let Err(error) = repo::check_out(&self.settings, &start.commit).await {
            warn!(%error, "cannot check the last good revision out at start");
            status_projection::rejected(&mut self.status.lock().node, error.into());
            return;
        }
        let revision = match repo::load(&self.settings, &start.commit).await {
            Ok(revision) => revision,
            Err(error) => {
                warn!(commit = %start.commit, %error, "the revision in the clone is not valid; waiting for a valid commit");
                status_projection::rejected(&mut self.status.lock().node, error);
                return;
            }
        };
        info!(commit = %start.commit, new_commit = start.new_commit, "starting from the last good revision in the clone");
        self.use_revision(&start.commit, revision);
        if let Some(remembered) = &remembered {
            remembered.restore(&start.commit, &mut self.health);
        }
        self.new_commit_pending = start.new_commit;
        self.remember().await;
        self.reconcile().await;
    }

    /// Reads `state.json`; an unreadable one is moved aside and the node starts from Git alone.
    async fn load_state(&mut self) -> Option<NodeState> {
        let file = self.state_file.clone();
        let loaded = tokio::task::spawn_blocking(move || file.load(SystemTime::now())).await;
        match loaded {
            Ok(Ok(LoadOutcome::Restored(state))) => {
                info!(last_good_commit = ?state.last_good_commit, quarantined = state.quarantined.len(), flapping = state.flapping.len(), "node state restored");
                self.remembered = state.clone();
                Some(state)
            }
            Ok(Ok(LoadOutcome::Fresh)) => None,
            Ok(Ok(LoadOutcome::MovedAside { moved_to, error })) => {
                warn!(%error, moved_to = %moved_to.display(), "node state unreadable: moved aside; starting from Git alone");
                None
            }
            Ok(Err(error)) => {
                warn!(%error, "node state unreadable; starting from Git alone");
                None
            }
            Err(error) => {
                warn!(%error, "node state task failed; starting from Git alone");
                None
            }
        }
    }

    /// Saves what the node must remember when it differs from what was last saved; a failed save
    /// is logged and tried again at the next call.
    async fn remember(&mut self) {
        let applied = self.status.lock().node.applied_commit.clone();
        let commit = self
            .last_good
            .as_ref()
            .map(|last_good| last_good.commit.as_str());
        let state = NodeState::capture(commit, applied.as_deref(), &self.health);
        if state == self.remembered {
            return;
        }
        let file = self.state_file.clone();
        let saving = state.clone();
        match tokio::task::spawn_blocking(move || file.save(&saving)).await {
            Ok(Ok(())) => self.remembered = state,
            Ok(Err(error)) => warn!(%error, "node state not saved"),
            Err(error) => warn!(%error, "node state task failed"),
        }
    }

    /// Validates the newly fetched `head` from its own files and, when it is valid, makes it the
    /// last good revision: checked out in the clone, quarantine and flapping lifted, remembered.
    /// An invalid commit is reported and skipped; the clone keeps the last good revision.
    async fn adopt(&mut self, head: &str) -> bool {
        let revision = match repo::validate(&self.settings, head).await {
            Ok(revision) => revision,
            Err(error) => {
                warn!(commit = head, %error, "revision rejected; the last good revision stays in force");
                let draft = NoticeDraft {
                    event: engine::notify::Event::RevisionInvalid,
                    deployment: None,
                    message: format!("{error}; the last good revision stays in force"),
                };
                self.notifier.send_about(draft, Some(head));
                status_projection::rejected(&mut self.status.lock().node, error);
                return false;
            }
        };
        if let Err(error) = repo::check_out(&self.settings, head).await {
            warn!(%error, "checkout failed; the last good revision stays in force");
            status_projection::rejected(&mut self.status.lock().node, error.into());
            // Builds read the clone: put the last good revision's files back.
            if let Some(last_good) = &self.last_good {
                if let Err(error) = repo::check_out(&self.settings, &last_good.commit).await {
                    warn!(%error, "cannot restore the last good revision in the clone");
                }
            }
            return false;
        }
        self.use_revision(head, revision);
        self.health.new_commit();
        self.new_commit_pending = true;
        self.remember().await;
        true
    }

    /// Puts `revision`, valid and checked out at `commit`, in force.
    fn use_revision(&mut self, commit: &str, revision: Revision) {
        if let Some(node) = &revision.node {
            let interval = node.spec.poll_interval.as_std();
            if !self.settings.poll_interval_fixed && *self.interval.borrow() != interval {
                info!(poll_interval = %humantime::format_duration(interval), "poll interval changed by the node manifest");
                let _ = self.interval.send(interval);
            }
            if !self.settings.webhook_secret_fixed {
                self.use_webhook_secret(node.spec.webhook_secret_file.as_deref());
            }
        }
        // The revision checked its node's receivers; those of the `--config` node, in force while
        // the revision has no manifest of this node, are looked up in its secrets here.
        let receivers = match &revision.node {
            Some(_) => revision.receivers,
            None => engine::notify::receivers(
                &self.settings.config_file,
                &self.settings.notifications,
                &revision.secrets.shared,
            )
            .unwrap_or_else(|errors| {
                for error in errors {
                    warn!(%error, "notification receiver left out");
                }
                Vec::new()
            }),
        };
        self.notifier
            .configure(receivers, revision.desired.environment.as_str(), commit);
        status_projection::loaded(&mut self.status.lock().node, &revision.desired);
        // The node's manifest in the revision says where credentials are, like its other fields.
        let docker_config = match &revision.node {
            Some(node) => node.spec.docker_config_dir(),
            None => self.settings.docker_config.clone(),
        };
        self.last_good = Some(LastGoodRevision {
            commit: commit.to_string(),
            desired: revision.desired,
            registry_credentials: RegistryCredentials::locate(docker_config.as_deref()),
        });
    }

    /// Puts the secret in `file` (a revision's `webhookSecretFile`) in force for the webhook, or
    /// turns the webhook off without one; a file that cannot be read keeps the secret in force.
    fn use_webhook_secret(&self, file: Option<&str>) {
        let secret = match file.map(|file| WebhookSecret::read(std::path::Path::new(file))) {
            None => None,
            Some(Ok(secret)) => Some(secret),
            Some(Err(error)) => {
                warn!(%error, "the webhook keeps its secret");
                return;
            }
        };
        self.webhook_secret.send_if_modified(|current| {
            if *current == secret {
                return false;
            }
            info!(
                enabled = secret.is_some(),
                "webhook secret changed by the node manifest"
            );
            *current = secret;
            true
        });
    }

    /// One convergence pass against the last good revision; quarantined and flapping
    /// deployments are held.
    async fn reconcile(&mut self) {
        let Some(last_good) = &self.last_good else {
            return;
        };
        let new_commit = self.new_commit_pending;
        let commit = last_good.commit.clone();
        let options = ApplyOptions {
            code_dir: repo::code_dir(&self.settings),
            wait: true,
            cancel: Some(self.cancel.clone()),
            traffic: self.ingress.traffic(&self.docker, &last_good.desired),
            registry_credentials: last_good.registry_credentials.clone(),
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
        let result = converge(
            &self.docker,
            &last_good.desired,
            plan_options,
            &options,
            &log,
        )
        .instrument(span)
        .await;
        let (outcomes, observed, error) = match result {
            Ok(pass) => (pass.report.outcomes, pass.observed, None),
            Err(error) => {
                warn!(error = %format!("{error:#}"), "reconcile failed");
                let error = SyncError::Reconcile(format!("{error:#}"));
                (Vec::new(), None, Some(error))
            }
        };
        for draft in events::of_outcomes(&outcomes) {
            self.notifier.send(draft);
        }
        for event in self
            .health
            .record_pass(&commit, &outcomes, Instant::now().into_std())
        {
            report::health_event(&event, &commit);
            if let Some(draft) = events::of_health_event(&event) {
                self.notifier.send(draft);
            }
        }
        let preparation_failed = outcomes
            .iter()
            .any(|outcome| outcome.action.kind.prepares() && outcome.result.is_err());
        self.new_commit_pending &= error.is_some() || preparation_failed;
        let failed = error.is_some() || outcomes.iter().any(|outcome| outcome.result.is_err());
        let observed = self
            .refresh_status(&outcomes, observed, Some((failed, error)))
            .await;
        self.remember().await;
        // Without a snapshot (Docker did not answer) the routes stay as they are.
        if let (Some(last_good), Some(observed)) = (&self.last_good, &observed) {
            self.ingress
                .update(observed, &last_good.desired, &self.health, &self.status)
                .await;
        }
        self.notify_ready();
    }

    /// Rewrites the status of every deployment from `outcomes`, the health tracker and `observed`
    /// (observed afresh when `None`), and, after a reconcile (`reconciled`: whether it failed, and
    /// the pass's own error), the node's reconcile fields, all in one update so readers never see
    /// a half-written pass. Returns the snapshot it used, if Docker answered.
    async fn refresh_status(
        &mut self,
        outcomes: &[Outcome],
        observed: Option<Observed>,
        reconciled: Option<(bool, Option<SyncError>)>,
    ) -> Option<Observed> {
        let last_good = self.last_good.as_ref()?;
        let observed = match observed {
            Some(observed) => Some(observed),
            None => observe(&self.docker, &last_good.desired).await.ok(),
        };
        let desired: BTreeSet<String> = last_good.desired.deployments.keys().cloned().collect();
        self.health.retain(&desired);
        let mut status = self.status.lock();
        if let Some((failed, error)) = reconciled {
            let now = SystemTime::now();
            status_projection::reconciled(&mut status.node, &last_good.commit, failed, error, now);
        }
        status.node.refresh_healthy();
        status_projection::deployments(
            &mut status.deployments,
            &last_good.desired,
            &last_good.commit,
            observed.as_ref(),
            &self.health,
            outcomes,
        );
        if let Some(observed) = &observed {
            status.volumes = status_projection::volumes(&last_good.desired, observed);
        }
        drop(status);
        observed
    }

    /// Runs the liveness probes that are due, and shows failures and restarts in the status.
    async fn check_liveness(&mut self) {
        let Some(last_good) = &self.last_good else {
            return;
        };
        if self
            .prober
            .tick(&last_good.desired, &last_good.commit, &mut self.health)
            .await
        {
            self.refresh_status(&[], None, None).await;
            // A liveness restart counts toward flapping.
            self.remember().await;
        }
    }
}
