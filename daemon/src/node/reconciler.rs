//! The reconciler loop: checks each newly fetched commit out and loads it, converges Docker on the
//! last good revision at once for a new commit and every poll interval to repair drift, and runs
//! due liveness probes every second. It only does I/O and bookkeeping; what to change, hold,
//! route, restart and report is decided by `engine::plan`, `health.rs`, `liveness.rs`,
//! `routes.rs` and `project.rs`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use engine::plan::ActionKind;
use engine::{DesiredState, Observed, PlanOptions};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn, Instrument};

use super::health::Tracker;
use super::ingress::Ingress;
use super::metrics::Metrics;
use super::prober::Prober;
use super::report::{self, LogReporter};
use super::status::{SharedStatus, SyncError, SyncState};
use super::{project, repo, Settings};
use crate::apply::{ApplyOptions, Outcome};
use crate::converge::converge;
use crate::docker::observe::observe;
use crate::docker::Docker;
use crate::git::GitError;
use crate::probe;

/// How often the node looks for liveness probes that are due.
const LIVENESS_TICK: Duration = Duration::from_secs(1);

/// A revision that passed validation, with its desired state.
struct Good {
    commit: String,
    desired: DesiredState,
}

pub struct Reconciler {
    settings: Arc<Settings>,
    docker: Docker,
    status: SharedStatus,
    metrics: Arc<Metrics>,
    cancel: Arc<AtomicBool>,
    interval: watch::Sender<Duration>,
    good: Option<Good>,
    seen_head: Option<String>,
    /// The last good commit's pulls and builds have not all succeeded yet: every pass plans them
    /// as for a new commit, so a registry that comes back is used within one poll interval.
    new_commit_pending: bool,
    notified: bool,
    health: Tracker,
    prober: Prober,
    ingress: Ingress,
}

impl Reconciler {
    pub fn new(
        settings: Arc<Settings>,
        docker: Docker,
        status: SharedStatus,
        metrics: Arc<Metrics>,
        cancel: Arc<AtomicBool>,
        interval: watch::Sender<Duration>,
    ) -> Self {
        let ingress = Ingress::new(&settings);
        let prober = Prober {
            docker: docker.clone(),
            client: probe::client(),
            metrics: metrics.clone(),
            status: status.clone(),
        };
        Reconciler {
            settings,
            docker,
            status,
            metrics,
            cancel,
            interval,
            good: None,
            seen_head: None,
            new_commit_pending: false,
            notified: false,
            health: Tracker::default(),
            prober,
            ingress,
        }
    }

    /// Runs until `stop` changes or the poller is gone, then stops Caddy.
    pub async fn run(
        mut self,
        mut polls: mpsc::Receiver<Result<String, GitError>>,
        mut stop: watch::Receiver<bool>,
    ) {
        // A clone left by an earlier run keeps the node serving while the remote is down.
        if let Some(head) = repo::checked_out(&self.settings).await {
            self.seen_head = Some(head.clone());
            if self.load(&head).await {
                self.reconcile().await;
            }
        }
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
                        if self.check_out(&head).await && self.load(&head).await {
                            self.health.new_commit();
                            self.new_commit_pending = true;
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
                    if self.good.is_some() {
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
        if self.good.is_none() {
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

    async fn check_out(&mut self, head: &str) -> bool {
        let Err(error) = repo::check_out(&self.settings, head).await else {
            return true;
        };
        warn!(%error, "checkout failed");
        project::rejected(&mut self.status.lock().node, error.into());
        false
    }

    /// Loads and resolves the checked-out revision `head`; an invalid one is reported and skipped,
    /// keeping the last good revision in force.
    async fn load(&mut self, head: &str) -> bool {
        let revision = match repo::load(&self.settings, head).await {
            Ok(revision) => revision,
            Err(error) => {
                warn!(commit = head, %error, "revision rejected; the last good revision stays in force");
                project::rejected(&mut self.status.lock().node, error);
                return false;
            }
        };
        if let Some(node) = &revision.node {
            let interval = node.spec.poll_interval.as_std();
            if !self.settings.poll_interval_fixed && *self.interval.borrow() != interval {
                info!(poll_interval = %humantime::format_duration(interval), "poll interval changed by the node manifest");
                let _ = self.interval.send(interval);
            }
        }
        project::loaded(&mut self.status.lock().node, &revision.desired);
        self.good = Some(Good {
            commit: head.to_string(),
            desired: revision.desired,
        });
        true
    }

    /// One convergence pass against the last good revision; quarantined and flapping
    /// deployments are held.
    async fn reconcile(&mut self) {
        let Some(good) = &self.good else { return };
        let new_commit = self.new_commit_pending;
        let commit = good.commit.clone();
        let options = ApplyOptions {
            parallelism: ApplyOptions::DEFAULT_PARALLELISM,
            code_dir: self.settings.code_dir(),
            wait: true,
            cancel: Some(self.cancel.clone()),
            traffic: self.ingress.traffic(&self.docker, &good.desired),
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
                let error = SyncError::Reconcile(format!("{error:#}"));
                (Vec::new(), None, Some(error))
            }
        };
        for event in self.health.record_pass(&commit, &outcomes, Instant::now()) {
            report::health_event(&event, &commit);
        }
        let images_failed = outcomes.iter().any(|outcome| {
            matches!(outcome.action.kind, ActionKind::Pull | ActionKind::Build)
                && outcome.result.is_err()
        });
        self.new_commit_pending &= error.is_some() || images_failed;
        let failed = error.is_some() || outcomes.iter().any(|outcome| outcome.result.is_err());
        self.refresh_status(&outcomes, observed, Some((failed, error)))
            .await;
        if let Some(good) = &self.good {
            self.ingress
                .update(&self.docker, &good.desired, &self.health, &self.status)
                .await;
        }
        self.notify_ready();
    }

    /// Rewrites the status of every deployment from `outcomes`, the health tracker and `observed`
    /// (observed afresh when `None`), and, after a reconcile (`reconciled`: whether it failed, and
    /// the pass's own error), the node's reconcile fields, all in one update so readers never see
    /// a half-written pass.
    async fn refresh_status(
        &mut self,
        outcomes: &[Outcome],
        observed: Option<Observed>,
        reconciled: Option<(bool, Option<SyncError>)>,
    ) {
        let Some(good) = &self.good else { return };
        let observed = match observed {
            Some(observed) => Some(observed),
            None => observe(&self.docker, &good.desired.container_names())
                .await
                .ok(),
        };
        let desired: BTreeSet<String> = good.desired.deployments.keys().cloned().collect();
        self.health.retain(&desired);
        let mut status = self.status.lock();
        if let Some((failed, error)) = reconciled {
            let now = SystemTime::now();
            project::reconciled(&mut status.node, &good.commit, failed, error, now);
        }
        status.node.refresh_healthy();
        project::deployments(
            &mut status.deployments,
            &good.desired,
            &good.commit,
            observed.as_ref(),
            &self.health,
            outcomes,
        );
    }

    /// Runs the liveness probes that are due, and shows failures and restarts in the status.
    async fn check_liveness(&mut self) {
        let Some(good) = &self.good else { return };
        if self
            .prober
            .tick(&good.desired, &good.commit, &mut self.health)
            .await
        {
            self.refresh_status(&[], None, None).await;
        }
    }
}
