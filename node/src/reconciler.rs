//! The node loop's driver: it turns what happens (the start, the poller's fetches, the
//! drift-repair, liveness and cron timers, the end of a scheduled job run, an operator's command
//! from the control socket) into events for
//! `decisions::node_loop`, and performs the effects the loop answers with — validating and
//! checking commits out, putting a revision's settings in force, converging, saving the node
//! state, recording applies in the history, pointing a pinned commit's tags back at its images,
//! answering the operator, notifying, publishing the status and routes, telling systemd, starting
//! a scheduled run on its own task — feeding back what came of each. It decides nothing: what to change,
//! hold, route, restart, report, notify and remember comes from `engine::plan` and
//! `node/src/decisions/`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use engine::revision::Revision;
use engine::{DesiredState, Observed};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{info, warn, Instrument};

use super::commit_statuses::{CommitStatuses, Pending};
use super::history::HistoryFile;
use super::ingress::Ingress;
use super::metrics::Metrics;
use super::notifier::Notifier;
use super::prober::Prober;
use super::report::{self, LogReporter};
use super::state::{LoadOutcome, StateFile};
use super::status::{SharedStatus, SyncError, SyncState};
use super::webhook::WebhookSecret;
use super::{repo, Settings};
use crate::control::ControlRequest;
use crate::decisions::control::Answer;
use crate::decisions::cron;
use crate::decisions::history::{self, ApplyRecord};
use crate::decisions::image_updates::{self, running_digest, Schedule, Watched};
use crate::decisions::memory::NodeState;
use crate::decisions::node_loop::{Effect, Event, NodeLoop, NotAdopted, PassReport};
use crate::decisions::settings::{effective_settings, SettingPath};
use crate::decisions::status_projection;
use adapters::apply::{apply, ApplyOptions, DockerRuntime, NoIngress};
use adapters::converge::{converge, ConvergeError, Pass};
use adapters::docker::credentials::RegistryCredentials;
use adapters::docker::image;
use adapters::docker::observe::observe;
use adapters::docker::registry::tag_digest;
use adapters::docker::Docker;
use adapters::git::GitError;
use adapters::probe;
use engine::outcome::Outcome;
use engine::PlanOptions;

/// How often the node looks for liveness probes that are due.
const LIVENESS_TICK: Duration = Duration::from_secs(1);

/// How often the node looks at the clock for scheduled job runs that are due.
const CRON_TICK: Duration = Duration::from_secs(1);

/// How often the node looks for registry checks of image updates that are due.
const IMAGE_TICK: Duration = Duration::from_secs(5);

/// How long a registry check may take to connect, and in all.
const REGISTRY_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(30);

/// A registry check's answer: the tag's digest, or why it is not known.
type ImageCheck = (Watched, Result<String, String>);

/// The last revision that passed validation, the one in force: its commit, its desired state
/// and where its node's registry credentials are read from. The loop decides with its commit;
/// the driver keeps the data it converges on.
struct LastGoodRevision {
    commit: String,
    desired: Arc<DesiredState>,
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
    /// The desired state in force, which the status API's `/observed` observes Docker for.
    pub in_force: watch::Sender<Option<Arc<DesiredState>>>,
}

pub struct Reconciler {
    settings: Arc<Settings>,
    docker: Docker,
    status: SharedStatus,
    metrics: Arc<Metrics>,
    notifier: Notifier,
    commit_statuses: CommitStatuses,
    cancel: Arc<AtomicBool>,
    interval: watch::Sender<Duration>,
    webhook_secret: watch::Sender<Option<WebhookSecret>>,
    in_force: watch::Sender<Option<Arc<DesiredState>>>,
    last_good: Option<LastGoodRevision>,
    decisions: NodeLoop,
    prober: Prober,
    ingress: Ingress,
    state_file: StateFile,
    history: HistoryFile,
    /// The snapshot the last published pass was shown with, for its history entry.
    published: Option<Observed>,
    /// When the next drift repair is due.
    next_repair: Instant,
    /// The scheduled runs going on, by job.
    running: BTreeMap<String, usize>,
    /// Where a scheduled run's task reports that it ended, and where the loop hears it.
    runs_ended: mpsc::Sender<String>,
    ended: Option<mpsc::Receiver<String>>,
    /// Where the answer to the operator's command being handled goes.
    answer: Option<oneshot::Sender<Answer>>,
    /// When each followed tag was last checked, and where the checks' tasks answer.
    image_schedule: Schedule,
    images_checked: mpsc::Sender<ImageCheck>,
    image_answers: Option<mpsc::Receiver<ImageCheck>>,
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
            in_force,
        } = outputs;
        let ingress = Ingress::new(&settings);
        let state_file = StateFile::new(settings.paths().state());
        let history = HistoryFile::new(settings.paths().history());
        let prober = Prober {
            docker: docker.clone(),
            client: probe::client(),
            metrics: metrics.clone(),
            status: status.clone(),
            notifier: notifier.clone(),
        };
        let commit_statuses = CommitStatuses::start(
            &status.lock().node.name,
            super::public::LocalPaths::new(&settings),
        );
        let decisions = NodeLoop::new(settings.allow_empty);
        let next_repair = Instant::now() + *interval.borrow();
        let (runs_ended, ended) = mpsc::channel(16);
        let (images_checked, image_answers) = mpsc::channel(16);
        Reconciler {
            settings,
            docker,
            status,
            metrics,
            notifier,
            commit_statuses,
            cancel,
            interval,
            webhook_secret,
            in_force,
            last_good: None,
            decisions,
            prober,
            ingress,
            state_file,
            history,
            published: None,
            next_repair,
            running: BTreeMap::new(),
            runs_ended,
            ended: Some(ended),
            answer: None,
            image_schedule: Schedule::default(),
            images_checked,
            image_answers: Some(image_answers),
        }
    }

    /// Runs until `stop` changes or the poller is gone, then stops Caddy. Operators' commands
    /// arrive on `control`.
    pub async fn run(
        mut self,
        mut polls: mpsc::Receiver<Result<String, GitError>>,
        mut control: mpsc::Receiver<ControlRequest>,
        mut stop: watch::Receiver<bool>,
    ) {
        let started = self.start().await;
        self.handle(started).await;
        self.next_repair = Instant::now() + *self.interval.borrow();
        let mut next_liveness = Instant::now() + LIVENESS_TICK;
        let mut next_cron = Instant::now();
        let mut next_image_check = Instant::now() + IMAGE_TICK;
        let (Some(mut ended), Some(mut image_answers)) =
            (self.ended.take(), self.image_answers.take())
        else {
            return;
        };
        while !self.cancel.load(Ordering::SeqCst) {
            let event = tokio::select! {
                _ = stop.changed() => break,
                poll = polls.recv() => match poll {
                    None => break,
                    Some(Ok(head)) => Event::Fetched { head },
                    Some(Err(_)) => Event::FetchFailed,
                },
                Some(request) = control.recv() => {
                    self.answer = Some(request.answer);
                    Event::Control { command: request.command, now: chrono::Utc::now() }
                }
                _ = tokio::time::sleep_until(next_liveness) => {
                    let acted = self.check_liveness().await;
                    next_liveness = Instant::now() + LIVENESS_TICK;
                    if !acted {
                        continue;
                    }
                    Event::LivenessActed
                }
                _ = tokio::time::sleep_until(self.next_repair) => {
                    self.next_repair = Instant::now() + *self.interval.borrow();
                    Event::RepairDue
                }
                _ = tokio::time::sleep_until(next_cron) => {
                    next_cron = Instant::now() + CRON_TICK;
                    self.cron_tick()
                }
                _ = tokio::time::sleep_until(next_image_check) => {
                    next_image_check = Instant::now() + IMAGE_TICK;
                    self.check_images();
                    continue;
                }
                Some((watch, answer)) = image_answers.recv() => {
                    match answer {
                        Ok(available) => self.image_checked(watch, available).await,
                        Err(error) => {
                            warn!(deployment = %watch.deployment, image = %watch.image, %error, "image update check failed");
                            continue;
                        }
                    }
                }
                Some(job) = ended.recv() => {
                    if let Some(count) = self.running.get_mut(&job) {
                        *count -= 1;
                        if *count == 0 {
                            self.running.remove(&job);
                        }
                    }
                    Event::RunEnded { job }
                }
            };
            self.handle(event).await;
        }
        self.ingress.stop().await;
    }

    /// Feeds `event` to the loop and performs the effects it answers with, in order, each
    /// effect's own answer before the next one.
    async fn handle(&mut self, event: Event) {
        let mut pending: Vec<Effect> = self.decisions.on(event);
        pending.reverse();
        while let Some(effect) = pending.pop() {
            if let Some(answer) = self.perform(effect).await {
                let mut more = self.decisions.on(answer);
                more.reverse();
                pending.extend(more);
            }
        }
    }

    async fn perform(&mut self, effect: Effect) -> Option<Event> {
        match effect {
            Effect::ShowSyncing => {
                self.status.lock().node.sync_state = SyncState::Syncing;
                None
            }
            Effect::ShowSynced => {
                let mut status = self.status.lock();
                if status.node.sync_state == SyncState::Starting {
                    status.node.sync_state = SyncState::Synced;
                }
                None
            }
            Effect::Adopt { commit, at_start } => Some(if at_start {
                self.adopt_at_start(commit).await
            } else {
                self.adopt(commit).await
            }),
            Effect::ShowRejected { error, .. } => {
                status_projection::rejected(&mut self.status.lock().node, error);
                None
            }
            Effect::Converge {
                commit,
                options,
                fresh,
                plan_only,
            } => {
                let pass = if plan_only {
                    self.plan_only(commit, options).await
                } else {
                    self.converge(commit, options, fresh).await
                };
                if fresh {
                    self.next_repair = Instant::now() + *self.interval.borrow();
                }
                Some(Event::Passed {
                    pass,
                    now: Instant::now().into_std(),
                })
            }
            Effect::Publish(pass) => {
                self.publish(pass).await;
                None
            }
            Effect::Record(record) => {
                self.record(record).await;
                None
            }
            Effect::RestoreImages { commit } => {
                self.restore_images(&commit).await;
                None
            }
            Effect::Save(state) => self.save(state).await.map(Event::Saved),
            Effect::Notify(draft) => {
                self.notifier.send(draft);
                None
            }
            Effect::NotifyAbout { draft, commit } => {
                self.notifier.send_about(draft, Some(&commit));
                None
            }
            Effect::Report { event, commit } => {
                report::health_event(&event, &commit);
                None
            }
            Effect::Ready => {
                if let Err(error) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
                    warn!(%error, "cannot notify systemd");
                }
                None
            }
            Effect::StartRun { job, at } => {
                self.start_run(job, at);
                None
            }
            Effect::ShowHolds { suspended, pinned } => {
                info!(?suspended, ?pinned, "operator holds");
                let mut status = self.status.lock();
                if suspended.is_none() {
                    status.pending_actions = None;
                }
                status.node.suspended = suspended;
                status.node.pinned = pinned;
                None
            }
            Effect::Answer(answer) => {
                match &answer {
                    Ok(message) => info!(%message, "operator command done"),
                    Err(error) => warn!(%error, "operator command refused"),
                }
                if let Some(reply) = self.answer.take() {
                    let _ = reply.send(answer);
                }
                None
            }
            Effect::SkipRun { job, at } => {
                info!(%job, %at, "scheduled run skipped: the previous run still runs");
                None
            }
        }
    }

    /// Asks the registry, each on its own task, for the digest of every followed tag whose
    /// check is due.
    fn check_images(&mut self) {
        let Some(last_good) = &self.last_good else {
            return;
        };
        let due = self.image_schedule.due(
            &image_updates::watched(&last_good.desired),
            Instant::now().into_std(),
        );
        if due.is_empty() {
            return;
        }
        let client = match crate::notifier::http_client(REGISTRY_CONNECT_TIMEOUT, REGISTRY_TIMEOUT)
        {
            Ok(client) => client,
            Err(error) => {
                warn!(%error, "image update checks skipped: cannot build an HTTP client");
                return;
            }
        };
        for watch in due {
            let (client, credentials, answers) = (
                client.clone(),
                last_good.registry_credentials.clone(),
                self.images_checked.clone(),
            );
            tokio::spawn(async move {
                let answer = tag_digest(&client, &watch.image, &credentials)
                    .await
                    .map_err(|error| error.to_string());
                let _ = answers.send((watch, answer)).await;
            });
        }
    }

    /// The event of a registry check's answer, with the digest the deployment's container runs.
    async fn image_checked(&mut self, watch: Watched, available: String) -> Event {
        let running = match &self.last_good {
            Some(last_good) => match observe(&self.docker, &last_good.desired).await {
                Ok(observed) => running_digest(&observed, &last_good.desired, &watch),
                Err(error) => {
                    warn!(%error, "cannot observe the running image of an image update check");
                    None
                }
            },
            None => None,
        };
        status_projection::image_checked(
            &mut self.status.lock(),
            &watch.deployment,
            running.as_deref(),
            &available,
            SystemTime::now(),
        );
        Event::ImageChecked {
            watch,
            running,
            available,
        }
    }

    /// The clock for the node loop, with the scheduled jobs of the revision in force and those
    /// with a run going on.
    fn cron_tick(&self) -> Event {
        let jobs = self
            .last_good
            .as_ref()
            .map(|good| cron::scheduled(&good.desired))
            .unwrap_or_default();
        Event::CronTick {
            now: chrono::Utc::now(),
            jobs,
            running: self.running.keys().cloned().collect(),
        }
    }

    /// Starts the scheduled run of `job` at `at` on its own task, through the executor, and
    /// reports its end to the loop; the loop goes on meanwhile.
    fn start_run(&mut self, job: String, at: chrono::DateTime<chrono::Utc>) {
        let Some(last_good) = &self.last_good else {
            return;
        };
        let Some(plan) = engine::plan::scheduled_run(&last_good.desired, &job, at) else {
            return;
        };
        *self.running.entry(job.clone()).or_default() += 1;
        let desired = last_good.desired.clone();
        let options = ApplyOptions {
            code_dir: repo::code_dir(&self.settings),
            wait: true,
            cancel: Some(self.cancel.clone()),
            traffic: Arc::new(NoIngress),
            registry_credentials: last_good.registry_credentials.clone(),
            file_dirs: self.settings.file_dirs(),
        };
        let docker = self.docker.clone();
        let metrics = self.metrics.clone();
        let ended = self.runs_ended.clone();
        let span = tracing::info_span!("scheduled_run", %job, %at);
        tokio::spawn(
            async move {
                let runtime = DockerRuntime::new(&docker, &options.file_dirs);
                let log = LogReporter {
                    metrics: &metrics,
                    commit_status: None,
                };
                apply(&runtime, &plan, &desired, &options, &log).await;
                let _ = ended.send(job).await;
            }
            .instrument(span),
        );
    }

    /// What the node remembered and what its clone holds, before the first fetch: the loop
    /// starts from the last good revision there, so drift repair goes on while the remote is
    /// down.
    async fn start(&mut self) -> Event {
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
        Event::Started {
            remembered,
            checked_out,
            clone_has_last_good,
        }
    }

    /// Checks the revision the node starts from out again, which also repairs a work tree left
    /// half-written by a crash, and puts it in force.
    async fn adopt_at_start(&mut self, commit: String) -> Event {
        if let Err(error) = repo::check_out(&self.settings, &commit).await {
            warn!(%error, "cannot check the last good revision out at start");
            return not_adopted(commit, error.into(), NotAdopted::Unreadable);
        }
        match repo::load(&self.settings, &commit).await {
            Ok(revision) => {
                info!(%commit, "starting from the last good revision in the clone");
                self.use_revision(commit, revision).await
            }
            Err(error) => {
                warn!(%commit, %error, "the revision in the clone is not valid; waiting for a valid commit");
                not_adopted(commit, error.into(), NotAdopted::Invalid)
            }
        }
    }

    /// Validates the newly fetched `head` from its own files and, when it is valid, checks it out
    /// and puts it in force. An invalid commit is skipped; the clone keeps the last good revision.
    async fn adopt(&mut self, head: String) -> Event {
        let revision = match repo::validate(&self.settings, &head).await {
            Ok(revision) => revision,
            Err(error) => {
                warn!(commit = %head, %error, "revision rejected; the last good revision stays in force");
                return not_adopted(head, error.into(), NotAdopted::Invalid);
            }
        };
        if let Err(error) = repo::check_out(&self.settings, &head).await {
            warn!(%error, "checkout failed; the last good revision stays in force");
            // Builds read the clone: put the last good revision's files back.
            if let Some(last_good) = &self.last_good {
                if let Err(error) = repo::check_out(&self.settings, &last_good.commit).await {
                    warn!(%error, "cannot restore the last good revision in the clone");
                }
            }
            return not_adopted(head, error.into(), NotAdopted::Unreadable);
        }
        self.use_revision(head, revision).await
    }

    /// Puts `revision`, valid and checked out at `commit`, in force with the settings
    /// `effective_settings` gives it.
    async fn use_revision(&mut self, commit: String, revision: Revision) -> Event {
        let settings = effective_settings(
            &self.settings.flags,
            self.settings.config.as_ref(),
            revision.node.as_ref(),
        );
        if *self.interval.borrow() != settings.poll_interval {
            info!(poll_interval = %humantime::format_duration(settings.poll_interval), "poll interval changed by the node manifest");
            let _ = self.interval.send(settings.poll_interval);
        }
        self.use_webhook_secret(settings.webhook_secret_file.as_ref())
            .await;
        // The revision checked its node's receivers; those of the `--config` node, in force while
        // the revision has no manifest of this node, are looked up in its secrets here.
        let receivers = match (&self.settings.config, settings.notifications_from_revision) {
            (_, true) | (None, false) => revision.receivers,
            (Some(config), false) => engine::notify::receivers(
                &config.file,
                &config.spec.notifications,
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
            .configure(receivers, revision.desired.environment.as_str(), &commit);
        let commit_status = match (&self.settings.config, settings.notifications_from_revision) {
            (_, true) | (None, false) => revision.commit_status,
            (Some(config), false) => config.spec.commit_status.as_ref().and_then(|spec| {
                engine::commit_status::target(&config.file, spec, &revision.secrets.shared)
                    .inspect_err(|error| warn!(%error, "commit statuses off"))
                    .ok()
            }),
        };
        self.commit_statuses
            .configure(commit_status, &self.settings.remote.url);
        status_projection::loaded(&mut self.status.lock().node, &revision.desired);
        let deployments: BTreeSet<String> = revision.desired.deployments.keys().cloned().collect();
        let desired = Arc::new(revision.desired);
        self.in_force.send_replace(Some(desired.clone()));
        self.last_good = Some(LastGoodRevision {
            commit: commit.clone(),
            desired,
            registry_credentials: RegistryCredentials::locate(
                settings
                    .docker_config
                    .as_ref()
                    .map(|folder| (folder.setting.as_str(), folder.path.as_path())),
            ),
        });
        Event::Adopted {
            commit,
            deployments,
        }
    }

    /// Puts the secret in `file` (a revision's `webhookSecretFile`) in force for the webhook, or
    /// turns the webhook off without one; a file that cannot be read — missing, not a regular
    /// file, too large, or slower than `webhook::SECRET_READ_TIMEOUT` — keeps the secret in force,
    /// and the reconcile goes on.
    async fn use_webhook_secret(&self, file: Option<&SettingPath>) {
        let secret = match file {
            None => None,
            Some(file) => match WebhookSecret::load(file).await {
                Ok(secret) => Some(secret),
                Err(error) => {
                    warn!(%error, "the webhook keeps its secret");
                    return;
                }
            },
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

    /// A pass of a suspended node: observe and plan only, and show the plan's actions as pending.
    async fn plan_only(&mut self, commit: String, plan_options: PlanOptions) -> PassReport {
        let mut pass = PassReport::nothing(commit, chrono::Utc::now(), true);
        let Some(last_good) = self
            .last_good
            .as_ref()
            .filter(|good| good.commit == pass.commit)
        else {
            return pass;
        };
        let planned = match observe(&self.docker, &last_good.desired).await {
            Ok(observed) => engine::plan(&last_good.desired, &observed, &plan_options)
                .map(|plan| (plan, observed))
                .map_err(ConvergeError::from),
            Err(error) => Err(ConvergeError::from(error)),
        };
        match planned {
            Ok((plan, observed)) => {
                let pending = status_projection::last_plan(&plan, SystemTime::now()).actions;
                self.status.lock().pending_actions = Some(pending);
                pass.observed = Some(observed);
            }
            Err(error) => {
                warn!(%error, "plan failed");
                pass.error = Some(SyncError::Reconcile(error));
            }
        }
        pass.finished_at = chrono::Utc::now();
        pass
    }

    /// One convergence pass against the revision in force with the loop's plan options; a pass
    /// that acts, or the first of a `fresh` commit, posts the commit's status.
    async fn converge(
        &mut self,
        commit: String,
        plan_options: PlanOptions,
        fresh: bool,
    ) -> PassReport {
        let mut report = PassReport::nothing(commit, chrono::Utc::now(), false);
        let Some(last_good) = self
            .last_good
            .as_ref()
            .filter(|good| good.commit == report.commit)
        else {
            return report;
        };
        let options = ApplyOptions {
            code_dir: repo::code_dir(&self.settings),
            wait: true,
            cancel: Some(self.cancel.clone()),
            traffic: self.ingress.traffic(&self.docker, &last_good.desired),
            registry_credentials: last_good.registry_credentials.clone(),
            file_dirs: self.settings.file_dirs(),
        };
        let span = tracing::info_span!("reconcile", commit = %report.commit, new_commit = plan_options.new_commit);
        self.metrics.reconciles.inc();
        let log = LogReporter {
            metrics: &self.metrics,
            commit_status: Some(Pending {
                statuses: &self.commit_statuses,
                commit: &report.commit,
            }),
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
        self.post_commit_status(&report.commit, &result, fresh);
        match result {
            Ok(pass) => {
                {
                    let mut status = self.status.lock();
                    if let Some(role) = pass.role {
                        status.node.role = Some(role);
                    }
                    // A pass with nothing to do keeps the plan before it: that one says what
                    // last changed.
                    if !pass.plan.is_empty() {
                        status.last_plan =
                            Some(status_projection::last_plan(&pass.plan, SystemTime::now()));
                    }
                }
                report.outcomes = pass.report.outcomes;
                report.observed = pass.observed;
            }
            Err(error) => {
                warn!(%error, "reconcile failed");
                report.error = Some(SyncError::Reconcile(error));
            }
        }
        report.finished_at = chrono::Utc::now();
        report
    }

    /// Posts how the pass of `commit` ended: `success` or `failure` for a pass that acted or
    /// the first of a `fresh` commit, `failure` for a `fresh` commit's pass that could not run.
    fn post_commit_status(&self, commit: &str, result: &Result<Pass, ConvergeError>, fresh: bool) {
        use engine::commit_status::{acts, failure_description, plan_description, State};
        match result {
            Ok(pass) if fresh || acts(&pass.plan) => {
                match failure_description(&pass.report.outcomes) {
                    None => self.commit_statuses.post(
                        commit,
                        State::Success,
                        &plan_description(&pass.plan),
                    ),
                    Some(failure) => self.commit_statuses.post(commit, State::Failure, &failure),
                }
            }
            Ok(_) => {}
            Err(error) if fresh => {
                self.commit_statuses
                    .post(commit, State::Failure, &error.to_string())
            }
            Err(_) => {}
        }
    }

    /// Shows a finished pass in the status document and the routes, with the health the loop
    /// recorded from it.
    async fn publish(&mut self, pass: PassReport) {
        let failed = pass.failed();
        let observed = self
            .refresh_status(
                &pass.outcomes,
                pass.observed,
                Some((failed, pass.error, pass.planned_only)),
            )
            .await;
        self.update_routes(observed.as_ref()).await;
        self.published = observed;
    }

    /// Points the tags the pinned `commit` ran back at the image ids its history recorded, where
    /// those images are still there, so a tag that moved on runs the old image again. A failure is
    /// logged; the pass then runs what the tag names now.
    async fn restore_images(&self, commit: &str) {
        let entries = match self.history.read().await {
            Ok(entries) => entries,
            Err(error) => {
                warn!(%error, "the pinned commit runs its tags as they are now");
                return;
            }
        };
        for (reference, id) in history::images_of(&entries, commit) {
            match image::point_tag_at(&self.docker, &reference, &id).await {
                Ok(true) => {
                    info!(%reference, %id, "tag pointed back at the image the pinned commit ran")
                }
                Ok(false) => {}
                Err(error) => warn!(%reference, %id, %error, "tag not pointed back"),
            }
        }
    }

    /// Adds an apply to the history with what the deployments of the revision in force run, as
    /// the pass was published with; a failed write is logged and the node goes on.
    async fn record(&mut self, record: ApplyRecord) {
        let Some(last_good) = self
            .last_good
            .as_ref()
            .filter(|good| good.commit == record.commit)
        else {
            return;
        };
        let entry = record.entry(&last_good.desired, self.published.take().as_ref());
        match self.history.append(entry).await {
            Ok(()) => {
                info!(commit = %record.commit, outcome = ?record.outcome, "apply recorded in the history")
            }
            Err(error) => warn!(%error, "apply not recorded in the history"),
        }
    }

    /// Loads the routes `observed` and the health call for; without a snapshot (Docker did not
    /// answer) the routes stay as they are.
    async fn update_routes(&mut self, observed: Option<&Observed>) {
        if let (Some(last_good), Some(observed)) = (&self.last_good, observed) {
            self.ingress
                .update(
                    observed,
                    &last_good.desired,
                    self.decisions.health(),
                    &self.status,
                )
                .await;
        }
    }

    /// Rewrites the status of every deployment from `outcomes`, the health and `observed`
    /// (observed afresh when `None`), and, after a reconcile (`reconciled`: whether it failed, the
    /// pass's own error, and whether it only planned), the node's reconcile fields, all in one update so readers never see
    /// a half-written pass. Returns the snapshot it used, if Docker answered.
    async fn refresh_status(
        &mut self,
        outcomes: &[Outcome],
        observed: Option<Observed>,
        reconciled: Option<(bool, Option<SyncError>, bool)>,
    ) -> Option<Observed> {
        let last_good = self.last_good.as_ref()?;
        let observed = match observed {
            Some(observed) => Some(observed),
            None => observe(&self.docker, &last_good.desired).await.ok(),
        };
        let mut status = self.status.lock();
        if let Some((failed, error, planned_only)) = reconciled {
            let now = SystemTime::now();
            let applied = Some(last_good.commit.as_str()).filter(|_| !planned_only);
            status_projection::reconciled(&mut status.node, applied, failed, error, now);
        }
        status.node.refresh_healthy();
        status.jobs = status_projection::jobs(
            &last_good.desired,
            observed.as_ref(),
            SystemTime::now(),
            &status.jobs,
        );
        status_projection::deployments(
            &mut status.deployments,
            &last_good.desired,
            &last_good.commit,
            observed.as_ref(),
            self.decisions.health(),
            outcomes,
        );
        if let Some(observed) = &observed {
            status.volumes = status_projection::volumes(&last_good.desired, observed);
        }
        drop(status);
        observed
    }

    /// Runs the liveness probes that are due, and shows failures, recoveries and restarts in the
    /// status and the routes (a replica failing liveness gets no traffic); true when one of them
    /// changed a deployment's health (a restart counts toward flapping).
    async fn check_liveness(&mut self) -> bool {
        let Some(last_good) = self
            .last_good
            .as_ref()
            .filter(|_| !self.decisions.suspended())
        else {
            return false;
        };
        let acted = self
            .prober
            .tick(
                &last_good.desired,
                &last_good.commit,
                self.decisions.health_mut(),
            )
            .await;
        if acted {
            let observed = self.refresh_status(&[], None, None).await;
            self.update_routes(observed.as_ref()).await;
        }
        acted
    }

    /// Reads `state.json`; an unreadable one is moved aside and the node starts from Git alone.
    async fn load_state(&mut self) -> Option<NodeState> {
        let file = self.state_file.clone();
        let loaded = tokio::task::spawn_blocking(move || file.load(SystemTime::now())).await;
        match loaded {
            Ok(Ok(LoadOutcome::Restored(state))) => {
                info!(last_good_commit = ?state.last_good_commit, quarantined = state.quarantined.len(), flapping = state.flapping.len(), "node state restored");
                Some(*state)
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

    /// Saves `state`; a failed save is logged, and the loop asks again at the next change.
    async fn save(&self, state: NodeState) -> Option<NodeState> {
        let file = self.state_file.clone();
        let saving = state.clone();
        match tokio::task::spawn_blocking(move || file.save(&saving)).await {
            Ok(Ok(())) => Some(state),
            Ok(Err(error)) => {
                warn!(%error, "node state not saved");
                None
            }
            Err(error) => {
                warn!(%error, "node state task failed");
                None
            }
        }
    }
}

fn not_adopted(commit: String, error: SyncError, why: NotAdopted) -> Event {
    Event::NotAdopted { commit, error, why }
}
