//! The node loop's decisions (docs/node.md) as a state machine: events in (the node started, a
//! fetch, a commit put in force or not, a pass finished, a timer, a save, the clock for scheduled
//! jobs, a scheduled run's end, an operator's command), effects out (adopt a commit, converge or
//! only plan, save the node state, record an apply, notify, report, answer the operator, tell
//! systemd, start a scheduled run). It decides when to converge and with which plan options,
//! what is held, what a new commit lifts, what a suspension or a pin holds back, what the node
//! remembers, which notifications go out and when the node counts as up; `reconciler.rs` performs
//! each effect and feeds back what came of it. Pure: no I/O, and the time arrives in events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::{DateTime, Utc};

use engine::jobs::{self, JobRuns};
use engine::notify::Event as NoticeEvent;
use engine::outcome::Outcome;
use engine::{Observed, PlanOptions};

use super::control::{Answer, Command, Pinned, Suspended};
use super::cron::{self, Due, ScheduledJob};
use super::events::{self, NoticeDraft};
use super::health::{HealthEvent, Tracker};
use super::history::{ApplyOutcome, ApplyRecord};
use super::image_updates::{self, Watched};
use super::memory::{starting_point, NodeState, StartingPoint};
use crate::status::SyncError;

/// What happened, as the loop learns it.
#[derive(Debug)]
pub enum Event {
    /// The node starts: what `state.json` held, if it could be read, and what the clone holds.
    Started {
        remembered: Option<NodeState>,
        checked_out: Option<String>,
        clone_has_last_good: bool,
    },
    /// A fetch brought the branch's head.
    Fetched { head: String },
    /// A fetch failed.
    FetchFailed,
    /// `commit` is in force: valid, checked out, its settings applied; `deployments` are the
    /// deployments it wants.
    Adopted {
        commit: String,
        deployments: BTreeSet<String>,
    },
    /// `commit` was not put in force, for `error`; the last good revision stays.
    NotAdopted {
        commit: String,
        error: SyncError,
        why: NotAdopted,
    },
    /// A convergence pass finished at `now`.
    Passed { pass: PassReport, now: Instant },
    /// `state.json` now holds `state`.
    Saved(NodeState),
    /// The drift-repair interval elapsed.
    RepairDue,
    /// The liveness prober restarted a container or changed a deployment's health.
    LivenessActed,
    /// The clock reached `now`: the scheduled jobs of the revision in force and the jobs with a
    /// scheduled run still running.
    CronTick {
        now: DateTime<Utc>,
        jobs: Vec<ScheduledJob>,
        running: BTreeSet<String>,
    },
    /// A scheduled run of `job` ended.
    RunEnded { job: String },
    /// An operator's command arrived at `now`; the loop answers it with [`Effect::Answer`].
    Control {
        command: Command,
        now: DateTime<Utc>,
    },
    /// The registry holds `available` under the tag `watch` follows; the deployment runs the
    /// image of digest `running`, when Docker knows it.
    ImageChecked {
        watch: Watched,
        running: Option<String>,
        available: String,
    },
}

/// Why a commit was not put in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotAdopted {
    /// Its manifests are invalid.
    Invalid,
    /// Checking it out (or, at start, reading it from the clone) failed.
    Unreadable,
}

/// What one convergence pass did: its outcomes, the snapshot it left (when its last observation
/// came after its last action) and the error that stopped it before it could act.
#[derive(Debug)]
pub struct PassReport {
    pub commit: String,
    /// When the pass started and finished.
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcomes: Vec<Outcome>,
    pub observed: Option<Observed>,
    pub error: Option<SyncError>,
    /// The pass only planned: the node is suspended.
    pub planned_only: bool,
}

impl PassReport {
    /// A pass of `commit` that started and ended at `at` and did nothing yet.
    pub fn nothing(commit: String, at: DateTime<Utc>, planned_only: bool) -> Self {
        PassReport {
            commit,
            started_at: at,
            finished_at: at,
            outcomes: Vec::new(),
            observed: None,
            error: None,
            planned_only,
        }
    }

    /// An action failed, or the pass could not run.
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.outcomes.iter().any(|outcome| outcome.result.is_err())
    }
}

/// What the loop wants done, in order.
#[derive(Debug)]
pub enum Effect {
    /// Show that a new head is being synced.
    ShowSyncing,
    /// A fetch found the head already seen: a node still starting counts as synced.
    ShowSynced,
    /// Validate `commit` from its own files and put it in force if it is valid (`at_start`: the
    /// clone's own revision, checked out again and read from the clone); answer with `Adopted`
    /// or `NotAdopted`.
    Adopt { commit: String, at_start: bool },
    /// Show that `commit` was not put in force, and why.
    ShowRejected { commit: String, error: SyncError },
    /// Converge on the revision in force with `options`; answer with `Passed`.
    Converge {
        commit: String,
        options: PlanOptions,
        /// The pass follows a newly adopted commit: the drift-repair timer starts again.
        fresh: bool,
        /// Only plan and show the actions as pending: the node is suspended.
        plan_only: bool,
    },
    /// Show the pass in the status document and the routes, with the health as it now is.
    Publish(PassReport),
    /// Add the apply to the history, with the images the revision's deployments now run.
    Record(ApplyRecord),
    /// Point the image tags of the pinned `commit` back at the image ids its last apply ran,
    /// where those images still exist.
    RestoreImages { commit: String },
    /// Save `state` to `state.json`; answer with `Saved` once it is saved.
    Save(NodeState),
    /// Send a notification about the commit in force.
    Notify(NoticeDraft),
    /// Send a notification about another commit (one that was not put in force).
    NotifyAbout { draft: NoticeDraft, commit: String },
    /// Log and count a change in a deployment's health.
    Report { event: HealthEvent, commit: String },
    /// Tell systemd the node is up.
    Ready,
    /// Show (and log) the operator's holds as they now are.
    ShowHolds {
        suspended: Option<Suspended>,
        pinned: Option<Pinned>,
    },
    /// Answer the operator's command.
    Answer(Answer),
    /// Start the scheduled run of `job` for its time `at`; answer with `RunEnded` once it ends.
    StartRun { job: String, at: DateTime<Utc> },
    /// Log that the run of `job` at `at` was skipped: the previous one still runs.
    SkipRun { job: String, at: DateTime<Utc> },
}

/// The loop's state.
#[derive(Debug, Default)]
pub struct NodeLoop {
    allow_empty: bool,
    /// The commit of the revision in force.
    in_force: Option<String>,
    /// The last head a fetch brought (or the commit the node started from).
    seen_head: Option<String>,
    /// Where the node starts, and what it remembered, until that revision is in force.
    starting: Option<(StartingPoint, Option<NodeState>)>,
    /// The revision in force has not had all its pulls and builds succeed yet: every pass plans
    /// them as for a new commit, so a registry that comes back is used within one poll interval.
    new_commit_pending: bool,
    /// The last commit applied without failures.
    applied: Option<String>,
    ready_sent: bool,
    health: Tracker,
    /// What `state.json` holds, as last saved or read.
    remembered: NodeState,
    /// The change runs of jobs known to have run (see `engine::jobs`).
    job_runs: JobRuns,
    /// The time of the last cron tick; scheduled times after it are due at the next one.
    cron_since: Option<DateTime<Utc>>,
    /// No action is taken until `resume`.
    suspended: Option<Suspended>,
    /// This commit stays in force while the branch moves on.
    pinned: Option<Pinned>,
    /// A pin whose commit is being validated.
    pinning: Option<Pinned>,
    /// The registry's digests of deployments with `imageUpdates: apply` that run another image.
    available_images: BTreeMap<String, String>,
    /// The digest each deployment with `imageUpdates: notify` was last notified of.
    image_notified: BTreeMap<String, String>,
}

impl NodeLoop {
    /// `allow_empty`: plans may remove every container of the environment (`allowEmpty`).
    pub fn new(allow_empty: bool) -> Self {
        NodeLoop {
            allow_empty,
            ..NodeLoop::default()
        }
    }

    pub fn health(&self) -> &Tracker {
        &self.health
    }

    /// For the liveness prober, which records probe results and restarts; it answers with
    /// [`Event::LivenessActed`] when it changed something.
    pub fn health_mut(&mut self) -> &mut Tracker {
        &mut self.health
    }

    /// The commit in force, if any.
    pub fn commit(&self) -> Option<&str> {
        self.in_force.as_deref()
    }

    /// The node takes no action: no liveness restart either.
    pub fn suspended(&self) -> bool {
        self.suspended.is_some()
    }

    pub fn on(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Started {
                remembered,
                checked_out,
                clone_has_last_good,
            } => self.started(remembered, checked_out, clone_has_last_good),
            // A pinned node fetches on, and applies nothing new until it is unpinned.
            Event::Fetched { head } if self.pinned.is_some() => {
                self.seen_head = Some(head);
                let mut effects = vec![Effect::ShowSynced];
                effects.extend(self.ready_if_idle());
                effects
            }
            Event::Fetched { head } if self.seen_head.as_ref() != Some(&head) => {
                self.seen_head = Some(head.clone());
                vec![
                    Effect::ShowSyncing,
                    Effect::Adopt {
                        commit: head,
                        at_start: false,
                    },
                ]
            }
            Event::Fetched { .. } => {
                let mut effects = vec![Effect::ShowSynced];
                effects.extend(self.ready_if_idle());
                effects
            }
            Event::FetchFailed => self.ready_if_idle(),
            Event::Adopted {
                commit,
                deployments,
            } => self.adopted(commit, deployments),
            Event::NotAdopted { commit, error, why } => self.not_adopted(commit, error, why),
            Event::Passed { pass, now } => self.passed(pass, now),
            Event::Saved(state) => {
                self.remembered = state;
                Vec::new()
            }
            Event::RepairDue => self.converge(false).into_iter().collect(),
            Event::LivenessActed => self.save(),
            Event::CronTick { now, jobs, running } => self.cron_tick(now, &jobs, &running),
            // A pass prunes the runs beyond the ones kept and shows the run in the status.
            Event::RunEnded { .. } => self.converge(false).into_iter().collect(),
            Event::Control { command, now } => self.control(command, now),
            Event::ImageChecked {
                watch,
                running,
                available,
            } => self.image_checked(&watch, running.as_deref(), available),
        }
    }

    /// A new digest under a followed tag is notified once (`notify`) or planned (`apply`).
    fn image_checked(
        &mut self,
        watch: &Watched,
        running: Option<&str>,
        available: String,
    ) -> Vec<Effect> {
        let notified = self
            .image_notified
            .get(&watch.deployment)
            .map(String::as_str);
        match image_updates::answer(watch, running, &available, notified) {
            image_updates::Answer::Nothing => {
                self.available_images.remove(&watch.deployment);
                Vec::new()
            }
            image_updates::Answer::Notify => {
                let message = format!(
                    "{} has a new image {available} in the registry; {} runs {}",
                    watch.image,
                    watch.deployment,
                    running.unwrap_or("an image without a registry digest")
                );
                self.image_notified
                    .insert(watch.deployment.clone(), available);
                let mut effects = vec![Effect::Notify(NoticeDraft {
                    event: NoticeEvent::ImageAvailable,
                    deployment: Some(watch.deployment.clone()),
                    message,
                })];
                effects.extend(self.save());
                effects
            }
            image_updates::Answer::Apply => {
                self.available_images
                    .insert(watch.deployment.clone(), available);
                self.converge(false).into_iter().collect()
            }
        }
    }

    /// An operator's command: a suspension or a pin takes hold at once (a pin once its commit is
    /// valid and put in force), is remembered, shown, notified and answered.
    fn control(&mut self, command: Command, now: DateTime<Utc>) -> Vec<Effect> {
        let since = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match command {
            Command::Suspend { reason } => {
                if let Some(suspended) = &self.suspended {
                    return vec![Effect::Answer(Ok(format!(
                        "already suspended since {}",
                        suspended.since
                    )))];
                }
                self.suspended = Some(Suspended { reason, since });
                let mut effects = self.hold_changed(
                    NoticeEvent::Suspended,
                    "suspended: no action is taken until `orun resume`".to_string(),
                );
                effects.extend(self.converge(false));
                effects
            }
            Command::Resume => {
                if self.suspended.take().is_none() {
                    return vec![Effect::Answer(Err("the node is not suspended".to_string()))];
                }
                let mut effects =
                    self.hold_changed(NoticeEvent::Resumed, "resumed: converging".to_string());
                effects.extend(self.converge(false));
                effects
            }
            Command::Pin { commit, reason } => {
                self.pinning = Some(Pinned {
                    commit: commit.clone(),
                    reason,
                    since,
                });
                vec![Effect::Adopt {
                    commit,
                    at_start: false,
                }]
            }
            Command::Unpin => {
                let Some(pinned) = self.pinned.take() else {
                    return vec![Effect::Answer(Err("the node is not pinned".to_string()))];
                };
                let head = self.seen_head.clone().unwrap_or(pinned.commit);
                let mut effects = self.hold_changed(
                    NoticeEvent::Unpinned,
                    format!("unpinned: following the branch again, at {head}"),
                );
                if self.in_force.as_ref() == Some(&head) {
                    effects.extend(self.converge(false));
                } else {
                    effects.extend([
                        Effect::ShowSyncing,
                        Effect::Adopt {
                            commit: head,
                            at_start: false,
                        },
                    ]);
                }
                effects
            }
        }
    }

    /// A hold was taken or lifted: show it, remember it, notify it and answer with `message`.
    fn hold_changed(&self, event: NoticeEvent, message: String) -> Vec<Effect> {
        let mut effects = vec![Effect::ShowHolds {
            suspended: self.suspended.clone(),
            pinned: self.pinned.clone(),
        }];
        effects.extend(self.save());
        effects.push(Effect::Notify(NoticeDraft {
            event,
            deployment: None,
            message: message.clone(),
        }));
        effects.push(Effect::Answer(Ok(message)));
        effects
    }

    /// Scheduled runs start at their times, and only for a revision in force; the first tick
    /// only sets the clock, so a node that starts runs no time it was down for.
    fn cron_tick(
        &mut self,
        now: DateTime<Utc>,
        jobs: &[ScheduledJob],
        running: &BTreeSet<String>,
    ) -> Vec<Effect> {
        let since = self.cron_since.replace(now);
        let Some(since) = since.filter(|_| self.in_force.is_some() && self.suspended.is_none())
        else {
            return Vec::new();
        };
        cron::due(jobs, since, now, running)
            .into_iter()
            .map(|due| match due {
                Due::Start { job, at } => Effect::StartRun { job, at },
                Due::Skip { job, at } => Effect::SkipRun { job, at },
            })
            .collect()
    }

    fn started(
        &mut self,
        remembered: Option<NodeState>,
        checked_out: Option<String>,
        clone_has_last_good: bool,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        if let Some(state) = &remembered {
            self.applied = state.applied_commit.clone();
            self.job_runs = state.job_runs.clone();
            self.image_notified = state.image_notified.clone();
            self.remembered = state.clone();
            self.suspended = state.suspended.clone();
            self.pinned = state.pinned.clone();
            if self.suspended.is_some() || self.pinned.is_some() {
                effects.push(Effect::ShowHolds {
                    suspended: self.suspended.clone(),
                    pinned: self.pinned.clone(),
                });
            }
        }
        let Some(start) = starting_point(
            checked_out.as_deref(),
            remembered.as_ref(),
            clone_has_last_good,
        ) else {
            return effects;
        };
        self.seen_head = Some(start.commit.clone());
        let commit = start.commit.clone();
        self.starting = Some((start, remembered));
        effects.push(Effect::Adopt {
            commit,
            at_start: true,
        });
        effects
    }

    /// A new commit lifts quarantine and flapping and is planned as new until its pulls and
    /// builds succeed; the revision the node starts from gets back what was remembered of it.
    fn adopted(&mut self, commit: String, deployments: BTreeSet<String>) -> Vec<Effect> {
        let pin = self.pinning.take().filter(|pin| pin.commit == commit);
        match self.starting.take() {
            Some((start, remembered)) if start.commit == commit => {
                if let Some(remembered) = &remembered {
                    remembered.restore(&commit, &mut self.health);
                }
                self.new_commit_pending = start.new_commit;
            }
            _ => {
                self.health.new_commit();
                self.new_commit_pending = true;
            }
        }
        self.health.retain(&deployments);
        self.in_force = Some(commit);
        let mut effects = match pin {
            Some(pin) => {
                let message = format!(
                    "pinned to {}: new commits wait for `orun unpin`",
                    pin.commit
                );
                let commit = pin.commit.clone();
                self.pinned = Some(pin);
                let mut effects = self.hold_changed(NoticeEvent::Pinned, message);
                effects.push(Effect::RestoreImages { commit });
                effects
            }
            None => self.save(),
        };
        effects.extend(self.converge(true));
        effects
    }

    /// An invalid fetched commit is shown and notified; the last good revision stays in force.
    fn not_adopted(&mut self, commit: String, error: SyncError, why: NotAdopted) -> Vec<Effect> {
        if self.pinning.take().is_some() {
            return vec![Effect::Answer(Err(format!(
                "cannot pin {commit}: {error}; nothing changed"
            )))];
        }
        let at_start = self
            .starting
            .take()
            .is_some_and(|(start, _)| start.commit == commit);
        let mut effects = Vec::new();
        if why == NotAdopted::Invalid && !at_start {
            effects.push(Effect::NotifyAbout {
                draft: NoticeDraft {
                    event: NoticeEvent::RevisionInvalid,
                    deployment: None,
                    message: format!("{error}; the last good revision stays in force"),
                },
                commit: commit.clone(),
            });
        }
        effects.push(Effect::ShowRejected { commit, error });
        effects.extend(self.ready_if_idle());
        effects
    }

    fn converge(&self, fresh: bool) -> Option<Effect> {
        let commit = self.in_force.clone()?;
        Some(Effect::Converge {
            options: PlanOptions {
                allow_empty: self.allow_empty,
                new_commit: self.new_commit_pending,
                held: self.health.held(&commit),
                job_runs: self.job_runs.clone(),
                // A pin keeps the images its commit ran: newer digests wait for `unpin`.
                available_images: match self.pinned {
                    Some(_) => BTreeMap::new(),
                    None => self.available_images.clone(),
                },
            },
            commit,
            fresh,
            plan_only: self.suspended.is_some(),
        })
    }

    /// A pass's rollouts and health changes are notified; a commit counts as applied only
    /// without failures; it stays new while its pulls or builds fail; the node is up after its
    /// first pass, whatever its result.
    fn passed(&mut self, pass: PassReport, now: Instant) -> Vec<Effect> {
        if let Some(observed) = &pass.observed {
            jobs::remember_finished(&mut self.job_runs, observed);
        }
        let mut effects: Vec<Effect> = events::of_outcomes(&pass.outcomes)
            .into_iter()
            .map(Effect::Notify)
            .collect();
        for event in self.health.record_pass(&pass.commit, &pass.outcomes, now) {
            let notice = events::of_health_event(&event);
            effects.push(Effect::Report {
                event,
                commit: pass.commit.clone(),
            });
            effects.extend(notice.map(Effect::Notify));
        }
        let preparation_failed = pass
            .outcomes
            .iter()
            .any(|outcome| outcome.action.kind.prepares() && outcome.result.is_err());
        if !pass.planned_only {
            self.new_commit_pending &= pass.error.is_some() || preparation_failed;
            if !pass.failed() {
                self.applied = Some(pass.commit.clone());
            }
        }
        let pinned = self
            .pinned
            .as_ref()
            .is_some_and(|pin| pin.commit == pass.commit);
        // A pass that took no action is no apply.
        let record = (!pass.outcomes.is_empty()).then(|| ApplyRecord {
            commit: pass.commit.clone(),
            started_at: pass.started_at,
            finished_at: pass.finished_at,
            outcome: ApplyOutcome::of(&pass.outcomes, pass.error.is_some(), pinned),
        });
        effects.push(Effect::Publish(pass));
        effects.extend(record.map(Effect::Record));
        effects.extend(self.save());
        effects.extend(self.ready());
        effects
    }

    /// Saves what the node must remember when it differs from what `state.json` holds; a save
    /// that failed is tried again at the next change.
    fn save(&self) -> Vec<Effect> {
        let mut state = NodeState::capture(self.commit(), self.applied.as_deref(), &self.health);
        state.job_runs = self.job_runs.clone();
        state.suspended = self.suspended.clone();
        state.pinned = self.pinned.clone();
        state.image_notified = self.image_notified.clone();
        if state == self.remembered {
            return Vec::new();
        }
        vec![Effect::Save(state)]
    }

    /// With no revision in force there is nothing to reconcile (the remote is down, or HEAD is
    /// invalid): the node is as up as it can be.
    fn ready_if_idle(&mut self) -> Vec<Effect> {
        if self.in_force.is_some() {
            return Vec::new();
        }
        self.ready().into_iter().collect()
    }

    fn ready(&mut self) -> Option<Effect> {
        if self.ready_sent {
            return None;
        }
        self.ready_sent = true;
        Some(Effect::Ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decisions::memory::Quarantined;
    use crate::repo::LoadError;
    use crate::testing::outcome;
    use adapters::git::GitError;
    use engine::outcome::{ActionError, Previous};
    use engine::plan::ActionKind;
    use engine::revision::RevisionError;

    fn deployments() -> BTreeSet<String> {
        BTreeSet::from(["db".to_string(), "web".to_string()])
    }

    fn pass(commit: &str, outcomes: Vec<Outcome>) -> Event {
        Event::Passed {
            pass: PassReport {
                commit: commit.to_string(),
                outcomes,
                observed: None,
                error: None,
                planned_only: false,
                started_at: DateTime::UNIX_EPOCH,
                finished_at: DateTime::UNIX_EPOCH,
            },
            now: Instant::now(),
        }
    }

    /// A loop that started with nothing to start from and has `commit` in force and passed.
    fn in_force(commit: &str) -> NodeLoop {
        let mut node = NodeLoop::new(false);
        node.on(Event::Started {
            remembered: None,
            checked_out: None,
            clone_has_last_good: false,
        });
        node.on(Event::Fetched {
            head: commit.to_string(),
        });
        for effect in node.on(Event::Adopted {
            commit: commit.to_string(),
            deployments: deployments(),
        }) {
            if let Effect::Save(state) = effect {
                node.on(Event::Saved(state));
            }
        }
        for effect in node.on(pass(commit, Vec::new())) {
            if let Effect::Save(state) = effect {
                node.on(Event::Saved(state));
            }
        }
        node
    }

    fn converge_options(effects: &[Effect]) -> Option<(&str, &PlanOptions)> {
        effects.iter().find_map(|effect| match effect {
            Effect::Converge {
                commit, options, ..
            } => Some((commit.as_str(), options)),
            _ => None,
        })
    }

    fn names(effects: &[Effect]) -> Vec<&'static str> {
        effects
            .iter()
            .map(|effect| match effect {
                Effect::ShowSyncing => "show syncing",
                Effect::ShowSynced => "show synced",
                Effect::Adopt { .. } => "adopt",
                Effect::ShowRejected { .. } => "show rejected",
                Effect::Converge { .. } => "converge",
                Effect::Publish(_) => "publish",
                Effect::Record(_) => "record",
                Effect::RestoreImages { .. } => "restore images",
                Effect::Save(_) => "save",
                Effect::Notify(_) => "notify",
                Effect::NotifyAbout { .. } => "notify about",
                Effect::Report { .. } => "report",
                Effect::Ready => "ready",
                Effect::ShowHolds { .. } => "show holds",
                Effect::Answer(_) => "answer",
                Effect::StartRun { .. } => "start run",
                Effect::SkipRun { .. } => "skip run",
            })
            .collect()
    }

    #[test]
    fn a_new_head_is_adopted_remembered_and_converged_as_a_new_commit() {
        let mut node = NodeLoop::new(false);
        let started = node.on(Event::Started {
            remembered: None,
            checked_out: None,
            clone_has_last_good: false,
        });
        assert!(started.is_empty(), "nothing to start from");
        let fetched = node.on(Event::Fetched { head: "c1".into() });
        assert_eq!(names(&fetched), ["show syncing", "adopt"]);
        let adopted = node.on(Event::Adopted {
            commit: "c1".into(),
            deployments: deployments(),
        });
        assert_eq!(names(&adopted), ["save", "converge"]);
        let Effect::Save(state) = &adopted[0] else {
            unreachable!()
        };
        assert_eq!(state.last_good_commit.as_deref(), Some("c1"));
        let (commit, options) = converge_options(&adopted).unwrap();
        assert_eq!(commit, "c1");
        assert!(options.new_commit && options.held.is_empty());

        let passed = node.on(pass("c1", Vec::new()));
        assert_eq!(
            names(&passed),
            ["publish", "save", "ready"],
            "the commit is applied and remembered as such; the node is up"
        );
        let repair = node.on(Event::RepairDue);
        let (_, options) = converge_options(&repair).unwrap();
        assert!(!options.new_commit, "drift repair of an applied commit");
    }

    #[test]
    fn the_head_seen_before_changes_nothing() {
        let mut node = in_force("c1");
        assert_eq!(
            names(&node.on(Event::Fetched { head: "c1".into() })),
            ["show synced"]
        );
        assert!(node.on(Event::FetchFailed).is_empty());
    }

    #[test]
    fn an_invalid_commit_is_notified_and_the_last_good_revision_stays_in_force() {
        let mut node = in_force("c1");
        node.on(Event::Fetched { head: "c2".into() });
        let rejected = node.on(Event::NotAdopted {
            commit: "c2".into(),
            error: SyncError::Revision(LoadError::Revision(RevisionError::UnknownNode {
                name: "web-01".into(),
                known: Vec::new(),
            })),
            why: NotAdopted::Invalid,
        });
        assert_eq!(names(&rejected), ["notify about", "show rejected"]);
        let Effect::NotifyAbout { draft, commit } = &rejected[0] else {
            unreachable!()
        };
        assert_eq!(commit, "c2");
        assert_eq!(draft.event, NoticeEvent::RevisionInvalid);
        assert_eq!(
            draft.message,
            "no Node named \"web-01\" in nodes/ (found: none); the last good revision stays in force"
        );
        assert_eq!(
            converge_options(&node.on(Event::RepairDue)).unwrap().0,
            "c1"
        );
        assert!(
            node.on(Event::Fetched { head: "c2".into() }).len() == 1,
            "the same invalid head is not tried again"
        );
    }

    #[test]
    fn a_commit_that_cannot_be_checked_out_is_shown_but_not_notified() {
        let mut node = in_force("c1");
        node.on(Event::Fetched { head: "c2".into() });
        let rejected = node.on(Event::NotAdopted {
            commit: "c2".into(),
            error: SyncError::Git(GitError::Task("checkout failed".into())),
            why: NotAdopted::Unreadable,
        });
        assert_eq!(names(&rejected), ["show rejected"]);
    }

    #[test]
    fn with_nothing_to_reconcile_the_node_is_up_after_its_first_fetch_once() {
        let mut node = NodeLoop::new(false);
        node.on(Event::Started {
            remembered: None,
            checked_out: None,
            clone_has_last_good: false,
        });
        assert_eq!(names(&node.on(Event::FetchFailed)), ["ready"]);
        assert!(node.on(Event::FetchFailed).is_empty());
    }

    #[test]
    fn a_rolled_back_rollout_is_notified_quarantined_remembered_and_held_until_a_new_commit() {
        let mut node = in_force("c1");
        let rolled_back = Err(ActionError::RolledBack {
            previous: Previous::Restored,
            error: "readiness probe of web failed".into(),
        });
        let passed = node.on(pass(
            "c1",
            vec![outcome("web", ActionKind::Recreate, rolled_back)],
        ));
        assert_eq!(
            names(&passed),
            ["notify", "report", "publish", "record", "save"],
            "the rollback is notified once; the quarantine is logged"
        );
        let Some(Effect::Save(state)) = passed.last() else {
            unreachable!()
        };
        assert_eq!(
            state.quarantined,
            [Quarantined {
                deployment: "web".into(),
                commit: "c1".into(),
                error: "the previous container was restored: readiness probe of web failed".into(),
            }]
        );
        let repair = node.on(Event::RepairDue);
        let (_, options) = converge_options(&repair).unwrap();
        assert_eq!(options.held, BTreeSet::from(["web".to_string()]));

        node.on(Event::Fetched { head: "c2".into() });
        let adopted = node.on(Event::Adopted {
            commit: "c2".into(),
            deployments: deployments(),
        });
        let (_, options) = converge_options(&adopted).unwrap();
        assert!(options.held.is_empty(), "a new commit lifts the quarantine");
    }

    #[test]
    fn a_commit_stays_new_while_its_pulls_fail() {
        let mut node = NodeLoop::new(false);
        node.on(Event::Fetched { head: "c1".into() });
        node.on(Event::Adopted {
            commit: "c1".into(),
            deployments: deployments(),
        });
        let failed_pull = Err(ActionError::Failed("pull web: registry down".into()));
        node.on(pass(
            "c1",
            vec![outcome("web", ActionKind::Pull, failed_pull)],
        ));
        let repair = node.on(Event::RepairDue);
        let (_, options) = converge_options(&repair).unwrap();
        assert!(options.new_commit, "the next pass pulls again");
        node.on(pass("c1", vec![outcome("web", ActionKind::Pull, Ok(()))]));
        let repair = node.on(Event::RepairDue);
        let (_, options) = converge_options(&repair).unwrap();
        assert!(!options.new_commit);
    }

    #[test]
    fn a_restart_resumes_the_remembered_revision_with_its_quarantine_and_plans_it_new_until_applied(
    ) {
        let remembered = NodeState {
            last_good_commit: Some("c2".into()),
            applied_commit: Some("c1".into()),
            quarantined: vec![Quarantined {
                deployment: "web".into(),
                commit: "c2".into(),
                error: "rolled back".into(),
            }],
            ..NodeState::default()
        };
        let mut node = NodeLoop::new(false);
        let started = node.on(Event::Started {
            remembered: Some(remembered),
            checked_out: Some("c1".into()),
            clone_has_last_good: true,
        });
        assert!(matches!(
            &started[..],
            [Effect::Adopt { commit, at_start: true }] if commit == "c2"
        ));
        let adopted = node.on(Event::Adopted {
            commit: "c2".into(),
            deployments: deployments(),
        });
        assert_eq!(names(&adopted), ["converge"], "nothing new to remember");
        let (_, options) = converge_options(&adopted).unwrap();
        assert!(options.new_commit, "c2 was never applied");
        assert_eq!(options.held, BTreeSet::from(["web".to_string()]));
        assert!(
            node.on(Event::Fetched { head: "c2".into() }).len() == 1,
            "the head it started from is not adopted again"
        );
    }

    #[test]
    fn a_save_that_failed_is_asked_for_again_at_the_next_change() {
        let mut node = NodeLoop::new(false);
        node.on(Event::Fetched { head: "c1".into() });
        let adopted = node.on(Event::Adopted {
            commit: "c1".into(),
            deployments: deployments(),
        });
        assert_eq!(names(&adopted), ["save", "converge"]);
        // No `Saved` came back: the file still holds the old state.
        assert_eq!(names(&node.on(Event::LivenessActed)), ["save"]);
    }

    #[test]
    fn scheduled_runs_start_at_their_time_only_with_a_revision_in_force_and_end_in_a_pass() {
        let minute = |text: &str| -> DateTime<Utc> { text.parse().unwrap() };
        let jobs = vec![ScheduledJob {
            name: "backup".into(),
            schedule: engine::schedule::Schedule::parse("* * * * *").unwrap(),
            concurrency: engine::manifest::Concurrency::Forbid,
        }];
        let tick = |now: &str, running: &[&str]| Event::CronTick {
            now: minute(now),
            jobs: jobs.clone(),
            running: running.iter().map(|job| job.to_string()).collect(),
        };
        let mut idle = NodeLoop::new(false);
        assert!(idle.on(tick("2026-12-06T10:00:59Z", &[])).is_empty());
        assert!(
            idle.on(tick("2026-12-06T10:01:00Z", &[])).is_empty(),
            "no revision in force"
        );

        let mut node = in_force("c1");
        assert!(
            node.on(tick("2026-12-06T10:00:59Z", &[])).is_empty(),
            "the first tick only sets the clock"
        );
        let started = node.on(tick("2026-12-06T10:01:00Z", &[]));
        assert!(matches!(
            &started[..],
            [Effect::StartRun { job, at }] if job == "backup" && *at == minute("2026-12-06T10:01:00Z")
        ));
        assert!(node
            .on(tick("2026-12-06T10:01:01Z", &["backup"]))
            .is_empty());
        let skipped = node.on(tick("2026-12-06T10:02:00Z", &["backup"]));
        assert_eq!(names(&skipped), ["skip run"]);
        let ended = node.on(Event::RunEnded {
            job: "backup".into(),
        });
        assert_eq!(
            names(&ended),
            ["converge"],
            "the pass prunes and shows the run"
        );
    }

    #[test]
    fn finished_change_runs_are_remembered_and_planned_with() {
        let mut node = in_force("c1");
        let run = engine::observed::ObservedRun {
            container: "migrate.job-af6fa375495c".into(),
            job: "migrate".into(),
            environment: "production".into(),
            spec_hash: "v1:af6fa375495c1d05".into(),
            image_id: "sha256:b2".into(),
            started_at: "2026-12-06T10:00:00Z".into(),
            finished_at: Some("2026-12-06T10:00:02Z".into()),
            exit_code: Some(1),
        };
        let observed = Observed {
            runs: vec![run],
            ..Observed::default()
        };
        let passed = node.on(Event::Passed {
            pass: PassReport {
                commit: "c1".into(),
                outcomes: Vec::new(),
                observed: Some(observed),
                error: None,
                planned_only: false,
                started_at: DateTime::UNIX_EPOCH,
                finished_at: DateTime::UNIX_EPOCH,
            },
            now: Instant::now(),
        });
        let saved = passed.iter().find_map(|effect| match effect {
            Effect::Save(state) => Some(state),
            _ => None,
        });
        let records = &saved.expect("the record is saved").job_runs["migrate"];
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].exit_code, Some(1));
        let repair = node.on(Event::RepairDue);
        let (_, options) = converge_options(&repair).unwrap();
        assert_eq!(
            options.job_runs["migrate"][0].spec_hash,
            "v1:af6fa375495c1d05"
        );
    }

    fn control(node: &mut NodeLoop, command: Command) -> Vec<Effect> {
        node.on(Event::Control {
            command,
            now: "2026-12-06T10:00:00Z".parse().unwrap(),
        })
    }

    fn answer(effects: &[Effect]) -> &Answer {
        effects
            .iter()
            .find_map(|effect| match effect {
                Effect::Answer(answer) => Some(answer),
                _ => None,
            })
            .expect("an answer")
    }

    fn plan_only(effects: &[Effect]) -> Option<bool> {
        effects.iter().find_map(|effect| match effect {
            Effect::Converge { plan_only, .. } => Some(*plan_only),
            _ => None,
        })
    }

    fn saved(effects: &[Effect]) -> &NodeState {
        effects
            .iter()
            .find_map(|effect| match effect {
                Effect::Save(state) => Some(state),
                _ => None,
            })
            .expect("a save")
    }

    #[test]
    fn a_suspended_node_only_plans_until_it_is_resumed() {
        let mut node = in_force("c1");
        let suspended = control(
            &mut node,
            Command::Suspend {
                reason: Some("db upgrade".into()),
            },
        );
        assert_eq!(
            names(&suspended),
            ["show holds", "save", "notify", "answer", "converge"]
        );
        assert_eq!(plan_only(&suspended), Some(true));
        assert_eq!(
            saved(&suspended).suspended,
            Some(Suspended {
                reason: Some("db upgrade".into()),
                since: "2026-12-06T10:00:00Z".into()
            })
        );
        assert_eq!(plan_only(&node.on(Event::RepairDue)), Some(true));
        node.on(Event::Fetched { head: "c2".into() });
        let adopted = node.on(Event::Adopted {
            commit: "c2".into(),
            deployments: deployments(),
        });
        assert_eq!(
            plan_only(&adopted),
            Some(true),
            "a new commit waits for resume"
        );
        let planned = node.on(Event::Passed {
            pass: PassReport {
                commit: "c2".into(),
                started_at: DateTime::UNIX_EPOCH,
                finished_at: DateTime::UNIX_EPOCH,
                outcomes: Vec::new(),
                observed: None,
                error: None,
                planned_only: true,
            },
            now: Instant::now(),
        });
        assert!(
            !names(&planned).contains(&"record"),
            "a pass that only planned is no apply"
        );
        assert_eq!(node.applied.as_deref(), Some("c1"));
        let resumed = control(&mut node, Command::Resume);
        assert_eq!(answer(&resumed), &Ok("resumed: converging".to_string()));
        assert_eq!(plan_only(&resumed), Some(false));
        assert!(answer(&control(&mut node, Command::Resume)).is_err());
    }

    #[test]
    fn a_pin_adopts_its_commit_ignores_new_heads_and_unpin_adopts_the_newest() {
        let mut node = in_force("c2");
        let pinning = control(
            &mut node,
            Command::Pin {
                commit: "c1".into(),
                reason: None,
            },
        );
        assert!(matches!(
            &pinning[..],
            [Effect::Adopt { commit, at_start: false }] if commit == "c1"
        ));
        let pinned = node.on(Event::Adopted {
            commit: "c1".into(),
            deployments: deployments(),
        });
        assert_eq!(
            names(&pinned),
            [
                "show holds",
                "save",
                "notify",
                "answer",
                "restore images",
                "converge"
            ]
        );
        assert_eq!(saved(&pinned).pinned.as_ref().unwrap().commit, "c1");
        assert_eq!(converge_options(&pinned).unwrap().0, "c1");
        let applied = node.on(pass(
            "c1",
            vec![outcome("web", ActionKind::Recreate, Ok(()))],
        ));
        assert!(applied.iter().any(|effect| matches!(
            effect,
            Effect::Record(record) if record.outcome == ApplyOutcome::Pinned
        )));

        assert_eq!(
            names(&node.on(Event::Fetched { head: "c3".into() })),
            ["show synced"],
            "a new head is not applied while pinned"
        );
        assert_eq!(
            converge_options(&node.on(Event::RepairDue)).unwrap().0,
            "c1",
            "drift repair goes on at the pinned commit"
        );
        let unpinned = control(&mut node, Command::Unpin);
        assert!(matches!(
            unpinned.last(),
            Some(Effect::Adopt { commit, .. }) if commit == "c3"
        ));
        assert!(answer(&control(&mut node, Command::Unpin)).is_err());
    }

    #[test]
    fn a_commit_that_cannot_be_pinned_is_refused_and_changes_nothing() {
        let mut node = in_force("c1");
        control(
            &mut node,
            Command::Pin {
                commit: "nope".into(),
                reason: None,
            },
        );
        let refused = node.on(Event::NotAdopted {
            commit: "nope".into(),
            error: SyncError::Git(GitError::Task("no such commit".into())),
            why: NotAdopted::Invalid,
        });
        assert_eq!(names(&refused), ["answer"]);
        assert_eq!(
            answer(&refused),
            &Err("cannot pin nope: git task failed: no such commit; nothing changed".to_string())
        );
        assert_eq!(node.commit(), Some("c1"));
    }

    #[test]
    fn a_restart_keeps_a_remembered_pin_and_suspension() {
        let remembered = NodeState {
            last_good_commit: Some("c1".into()),
            applied_commit: Some("c1".into()),
            suspended: Some(Suspended {
                reason: None,
                since: "2026-12-06T10:00:00Z".into(),
            }),
            pinned: Some(Pinned {
                commit: "c1".into(),
                reason: None,
                since: "2026-12-06T10:00:00Z".into(),
            }),
            ..NodeState::default()
        };
        let mut node = NodeLoop::new(false);
        let started = node.on(Event::Started {
            remembered: Some(remembered),
            checked_out: Some("c1".into()),
            clone_has_last_good: true,
        });
        assert_eq!(names(&started), ["show holds", "adopt"]);
        let adopted = node.on(Event::Adopted {
            commit: "c1".into(),
            deployments: deployments(),
        });
        assert_eq!(plan_only(&adopted), Some(true));
        assert_eq!(
            names(&node.on(Event::Fetched { head: "c2".into() })),
            ["show synced"]
        );
    }

    fn checked(mode: engine::manifest::UpdateMode, available: &str) -> Event {
        Event::ImageChecked {
            watch: Watched {
                deployment: "web".to_string(),
                image: "127.0.0.1:5000/web:1".to_string(),
                mode,
                interval: std::time::Duration::from_secs(60),
            },
            running: Some("sha256:old".to_string()),
            available: available.to_string(),
        }
    }

    #[test]
    fn a_new_digest_is_notified_once_and_remembered() {
        use engine::manifest::UpdateMode;
        let mut node = in_force("c1");
        let effects = node.on(checked(UpdateMode::Notify, "sha256:new"));
        assert_eq!(names(&effects), ["notify", "save"]);
        let Effect::Save(state) = &effects[1] else {
            unreachable!()
        };
        assert_eq!(state.image_notified["web"], "sha256:new");
        node.on(Event::Saved(state.clone()));
        assert!(node
            .on(checked(UpdateMode::Notify, "sha256:new"))
            .is_empty());
        assert!(node
            .on(checked(UpdateMode::Notify, "sha256:old"))
            .is_empty());
    }

    #[test]
    fn a_pinned_node_applies_no_new_digest() {
        use engine::manifest::UpdateMode;
        let mut node = in_force("c2");
        control(
            &mut node,
            Command::Pin {
                commit: "c1".into(),
                reason: None,
            },
        );
        node.on(Event::Adopted {
            commit: "c1".into(),
            deployments: deployments(),
        });
        let effects = node.on(checked(UpdateMode::Apply, "sha256:new"));
        let (_, options) = converge_options(&effects).unwrap();
        assert!(options.available_images.is_empty());
    }

    #[test]
    fn a_new_digest_to_apply_is_planned_until_it_runs() {
        use engine::manifest::UpdateMode;
        let mut node = in_force("c1");
        let effects = node.on(checked(UpdateMode::Apply, "sha256:new"));
        let (_, options) = converge_options(&effects).unwrap();
        assert_eq!(options.available_images["web"], "sha256:new");
        assert!(node.on(checked(UpdateMode::Apply, "sha256:old")).is_empty());
        let effects = node.on(Event::RepairDue);
        let (_, options) = converge_options(&effects).unwrap();
        assert!(options.available_images.is_empty());
    }
}
