//! The jobs of a plan (docs/plans.md): a change job's `run` when its spec hash and image have not
//! run yet (known from its run containers and the node's record), the pull or build it needs,
//! the deployments it precedes `blocked` while its run failed or has not finished, finished runs
//! beyond the last ones kept and the runs of jobs no longer desired removed. Scheduled runs are
//! the node's and never a plan's; their image is pulled here so that a run finds it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::{brings_up, Action, ActionKind, Plan, Planner, Reason, Summary, FORMAT_VERSION};
use crate::desired::{DesiredJob, DesiredState, Trigger};
use crate::jobs::{self, KEPT_RUNS, LABEL_JOB};
use crate::observed::{Observed, ObservedRun};
use crate::schedule::run_stamp;

/// What is known of a change job's current spec and image.
enum Known {
    /// No run of it: run it, for this reason.
    NotRun(Reason),
    /// It ran; `true` when it succeeded.
    Finished(bool),
    Running,
}

impl Planner<'_> {
    /// Plans every job of `desired`, then removes the run containers of jobs it no longer has.
    pub(super) fn jobs(&mut self, desired: &DesiredState, observed: &Observed) {
        let environment = desired.environment.as_str();
        for job in desired.jobs.values() {
            let runs: Vec<&ObservedRun> = jobs::runs_of(observed, environment, &job.name).collect();
            let image_id = self.images.id_of(&job.container.spec.image);
            let keep = match &job.trigger {
                Trigger::Change { before } => {
                    match self.known(job, &runs, image_id) {
                        Known::NotRun(reason) => {
                            self.run(job, image_id.is_some(), reason);
                            // The new run is one of the runs kept.
                            KEPT_RUNS - 1
                        }
                        Known::Finished(true) => KEPT_RUNS,
                        Known::Finished(false) => {
                            self.block(before, Reason::JobFailed);
                            KEPT_RUNS
                        }
                        Known::Running => {
                            self.block(before, Reason::JobRunning);
                            KEPT_RUNS
                        }
                    }
                }
                Trigger::Schedule { .. } => {
                    self.for_job(job, image_id.is_some());
                    KEPT_RUNS
                }
            };
            // A planned run takes over an earlier run's container of its name: not one to prune.
            let planned = (keep < KEPT_RUNS).then_some(job.container.container.as_str());
            let prunable = runs
                .iter()
                .copied()
                .filter(|run| Some(run.container.as_str()) != planned);
            for container in jobs::to_prune(prunable, keep) {
                let image = image_of(observed, &container);
                self.push(ActionKind::Remove, "", &container, &image, Reason::Pruned)
                    .job = Some(job.name.clone());
            }
        }
        for container in &observed.containers {
            let Some(job) = container.labels.get(LABEL_JOB) else {
                continue;
            };
            if container.is_owned_by(environment) && !desired.jobs.contains_key(job) {
                let name = container.bare_name();
                self.push(
                    ActionKind::Remove,
                    "",
                    name,
                    &container.image,
                    Reason::Orphaned,
                )
                .job = Some(job.clone());
            }
        }
    }

    /// Whether the job's spec ran with its image (any image when the image is not here yet):
    /// its run containers first, then the node's record, which outlives them.
    fn known(&self, job: &DesiredJob, runs: &[&ObservedRun], image_id: Option<&str>) -> Known {
        let hash = job.container.spec_hash.as_str();
        let same_image = |id: &str| image_id.is_none_or(|wanted| wanted == id);
        let mut mine: Vec<&&ObservedRun> = runs
            .iter()
            .filter(|run| run.spec_hash == hash && same_image(&run.image_id))
            .collect();
        mine.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        if let Some(run) = mine.last() {
            return match run.finished_at {
                None => Known::Running,
                Some(_) => Known::Finished(run.exit_code == Some(0)),
            };
        }
        let remembered = self.options.job_runs.get(&job.name);
        let record = remembered.and_then(|records| {
            records
                .iter()
                .rev()
                .find(|record| record.spec_hash == hash && same_image(&record.image_id))
        });
        if let Some(record) = record {
            return Known::Finished(record.succeeded());
        }
        let ran_before = !runs.is_empty() || remembered.is_some_and(|records| !records.is_empty());
        Known::NotRun(if ran_before {
            Reason::JobChanged
        } else {
            Reason::NeverRun
        })
    }

    /// The job's pull or build, marked as the job's.
    fn for_job(&mut self, job: &DesiredJob, present: bool) {
        if let Some(action) = self.image_actions(&job.container, present, true) {
            action.deployment.clear();
            action.job = Some(job.name.clone());
        }
    }

    /// A change run of `job`, after the image it needs.
    fn run(&mut self, job: &DesiredJob, present: bool, reason: Reason) {
        self.for_job(job, present);
        let container = &job.container;
        let after = self.brought_up(&container.depends_on);
        let action = self.push(
            ActionKind::Run,
            "",
            &container.container,
            &container.spec.image,
            reason,
        );
        action.job = Some(job.name.clone());
        action.labels = Some(container.labels.clone());
        action.after = after;
    }

    /// The deployments among `names` that this plan creates, recreates or starts: a run that
    /// depends on one of them runs after it, in its phase (see [`super::phases`]).
    fn brought_up(&self, names: &[String]) -> Vec<String> {
        let mut brought_up: Vec<String> = names
            .iter()
            .filter(|name| {
                self.actions
                    .iter()
                    .any(|action| brings_up(action.kind) && action.deployment == **name)
            })
            .cloned()
            .collect();
        brought_up.dedup();
        brought_up
    }

    /// The creates and recreates of the deployments `before` names become `blocked`: they keep
    /// the version they run.
    fn block(&mut self, before: &[String], reason: Reason) {
        let before: BTreeSet<&str> = before.iter().map(String::as_str).collect();
        for action in &mut self.actions {
            let replaces = matches!(action.kind, ActionKind::Create | ActionKind::Recreate);
            if replaces && before.contains(action.deployment.as_str()) {
                action.kind = ActionKind::Blocked;
                action.reason = reason;
                action.rollout = None;
                action.fallback = None;
            }
        }
    }
}

/// The one-action plan the node carries out for the scheduled run of `job` at `at`, through the
/// same executor as a plan's: a `run` (reason `scheduled`) in the container named after the
/// run's minute. It is never part of a plan the planner makes. `None` when `desired` has no
/// such job.
pub fn scheduled_run(desired: &DesiredState, job: &str, at: DateTime<Utc>) -> Option<Plan> {
    let job = desired.jobs.get(job)?;
    let container = &job.container;
    let action = Action {
        step: 1,
        kind: ActionKind::Run,
        deployment: String::new(),
        job: Some(job.name.clone()),
        container: jobs::run_name(&job.base, &run_stamp(at)),
        image: container.spec.image.clone(),
        network: None,
        volume: None,
        reason: Reason::Scheduled,
        labels: Some(container.labels.clone()),
        changes: Vec::new(),
        after: Vec::new(),
        rollout: None,
        fallback: None,
    };
    Some(Plan {
        format_version: FORMAT_VERSION,
        environment: desired.environment.as_str().to_string(),
        commit: desired.commit.clone(),
        node: desired.node.clone(),
        engine: desired.engine,
        summary: Summary {
            run: 1,
            ..Summary::default()
        },
        actions: vec![action],
    })
}

/// The image a run container was created from, as the snapshot lists it.
fn image_of(observed: &Observed, container: &str) -> String {
    observed
        .containers
        .iter()
        .find(|observed| observed.bare_name() == container)
        .map(|observed| observed.image.clone())
        .unwrap_or_default()
}
