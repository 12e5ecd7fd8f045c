//! The executor (docs/plans.md): runs a plan's actions against Docker phase by phase, with bounded
//! parallelism inside a phase; creates, starts and readiness gating here, the two recreate
//! sequences (stop-first with `<name>.orun-old`, start-first with `<name>.orun-next` and the
//! [`TrafficSwitch`]) and retiring an interrupted rollout's copies in `rollout.rs`. It decides
//! nothing about what to change.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use bollard::models::ContainerStateStatusEnum;
use bollard::Docker;
use engine::desired::{DesiredDeployment, DesiredState};
use engine::manifest::Rollout;
use engine::plan::{Action, ActionKind, Plan, Reason, NEXT_SUFFIX, PHASES, ROLLBACK_SUFFIX};
use futures_util::future::{join_all, BoxFuture};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::docker::container::{self, ContainerStatus};
use crate::docker::image::{self, PullProgress};
use crate::docker::resource;
use crate::probe;

mod rollout;

/// How long a freshly started container must stay up to count as started.
pub const SETTLE_TIME: Duration = Duration::from_millis(500);

#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Docker calls in flight at once within a phase (default [`Self::DEFAULT_PARALLELISM`]).
    pub parallelism: usize,
    /// Base of build contexts (`codeDir`).
    pub code_dir: PathBuf,
    /// Check that started containers stay running; off with `--no-wait`.
    pub wait: bool,
    /// Once set, no further action is started; calls in flight finish (daemon shutdown).
    pub cancel: Option<Arc<AtomicBool>>,
    /// Where start-first rollouts move a deployment's routes.
    pub traffic: Arc<dyn TrafficSwitch>,
}

/// Where a start-first rollout moves a deployment's traffic: the node's ingress, or nothing for
/// `orun apply --once`, which runs none.
pub trait TrafficSwitch: Send + Sync {
    /// Points every route of `deployment` at `container` and returns once the ingress serves
    /// them from it.
    fn switch<'a>(&'a self, deployment: &'a str, container: &'a str) -> BoxFuture<'a, Result<()>>;
}

impl fmt::Debug for dyn TrafficSwitch {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("TrafficSwitch")
    }
}

/// No ingress, so no routes to move.
pub struct NoIngress;

impl TrafficSwitch for NoIngress {
    fn switch<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

impl ApplyOptions {
    /// Docker calls in flight at once within a phase.
    pub const DEFAULT_PARALLELISM: usize = 4;

    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::SeqCst))
    }
}

/// What happened to one action.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub action: Action,
    pub result: Result<(), ActionError>,
    pub duration: Duration,
}

/// Why an action did not succeed. A message is the failed call's error chain as `{:#}` prints it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("{0}")]
    Failed(String),
    /// The new container failed; the previous one is in service, as `previous` tells.
    #[error("{previous}: {error}")]
    RolledBack { previous: Previous, error: String },
    /// Cancellation was requested before the action started.
    #[error("not started: orun is shutting down")]
    ShuttingDown,
}

/// What became of the previous container when a rollout was rolled back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Previous {
    /// It was renamed back into place: the stopped old container of a stop-first rollout
    /// (started again), or the copy an interrupted rollout left.
    Restored,
    /// Start-first: it was never stopped, so it served throughout.
    NeverStopped,
}

impl fmt::Display for Previous {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Previous::Restored => "the previous container was restored",
            Previous::NeverStopped => "the previous container was never stopped",
        })
    }
}

impl From<anyhow::Error> for ActionError {
    fn from(error: anyhow::Error) -> Self {
        ActionError::Failed(format!("{error:#}"))
    }
}

/// Every action's outcome, in plan order; actions after a failed pull/build phase are `skipped`.
#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    pub outcomes: Vec<Outcome>,
    pub skipped: Vec<Action>,
}

impl ApplyReport {
    pub fn failed(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes
            .iter()
            .filter(|outcome| outcome.result.is_err())
    }

    pub fn is_success(&self) -> bool {
        self.failed().next().is_none() && self.skipped.is_empty()
    }
}

/// Receives progress while a plan is applied (the CLI renders it, the daemon logs it).
pub trait Reporter: Send + Sync {
    fn action_started(&self, _action: &Action) {}
    fn action_finished(&self, _outcome: &Outcome) {}
    fn pull_progress(&self, _image: &str, _progress: &PullProgress) {}
    fn build_output(&self, _deployment: &str, _line: &str) {}
}

/// A reporter that ignores everything.
pub struct Silent;
impl Reporter for Silent {}

/// Applies `plan` for `desired`. The environment's network and volumes are created first, then
/// pulls and builds run; if one of these fails, nothing else runs and nothing is stopped or
/// removed. `blocked` actions are never executed.
pub async fn apply(
    docker: &Docker,
    plan: &Plan,
    desired: &DesiredState,
    options: &ApplyOptions,
    reporter: &dyn Reporter,
) -> ApplyReport {
    let executor = Executor {
        docker,
        desired,
        options,
        reporter,
        permits: Arc::new(Semaphore::new(options.parallelism.max(1))),
        probes: probe::client(),
    };
    let mut report = ApplyReport::default();
    for (index, kinds) in PHASES.iter().enumerate() {
        let actions: Vec<&Action> = plan
            .actions
            .iter()
            .filter(|action| kinds.contains(&action.kind))
            .collect();
        let outcomes = join_all(actions.into_iter().map(|action| executor.run(action))).await;
        // The phases up to pulls and builds prepare what containers need; nothing after them
        // runs if one of their actions failed.
        let preparation_failed = kinds.iter().any(|kind| kind.prepares())
            && outcomes.iter().any(|outcome| outcome.result.is_err());
        report.outcomes.extend(outcomes);
        if preparation_failed {
            let later = &PHASES[index + 1..];
            report.skipped = plan
                .actions
                .iter()
                .filter(|action| later.iter().any(|kinds| kinds.contains(&action.kind)))
                .cloned()
                .collect();
            break;
        }
    }
    report
}

struct Executor<'a> {
    docker: &'a Docker,
    desired: &'a DesiredState,
    options: &'a ApplyOptions,
    reporter: &'a dyn Reporter,
    permits: Arc<Semaphore>,
    probes: reqwest::Client,
}

impl Executor<'_> {
    async fn run(&self, action: &Action) -> Outcome {
        let started = Instant::now();
        if self.options.cancelled() {
            return Outcome {
                action: action.clone(),
                result: Err(ActionError::ShuttingDown),
                duration: started.elapsed(),
            };
        }
        self.reporter.action_started(action);
        let result = self.execute(action).await;
        let outcome = Outcome {
            action: action.clone(),
            result,
            duration: started.elapsed(),
        };
        self.reporter.action_finished(&outcome);
        outcome
    }

    fn deployment(&self, action: &Action) -> Result<&DesiredDeployment> {
        self.desired
            .deployments
            .get(&action.deployment)
            .ok_or_else(|| {
                anyhow!(
                    "deployment {} is not in the desired state",
                    action.deployment
                )
            })
    }

    async fn execute(&self, action: &Action) -> Result<(), ActionError> {
        let name = action.container.as_str();
        let environment = self.desired.environment.as_str();
        match action.kind {
            ActionKind::Network => {
                let network = action.network.as_deref().unwrap_or_default();
                let _permit = self.permit().await?;
                resource::create_network(self.docker, network, environment).await?;
            }
            ActionKind::Volume => {
                let volume = action.volume.as_deref().unwrap_or_default();
                let _permit = self.permit().await?;
                resource::create_volume(self.docker, volume, environment).await?;
            }
            ActionKind::Pull => {
                let _permit = self.permit().await?;
                image::pull(self.docker, &action.image, |progress| {
                    self.reporter.pull_progress(&action.image, &progress)
                })
                .await?;
            }
            ActionKind::Build => {
                let deployment = self.deployment(action)?;
                let build = deployment.spec.build.as_ref().ok_or_else(|| {
                    anyhow!("deployment {} has no build section", action.deployment)
                })?;
                let _permit = self.permit().await?;
                image::build(
                    self.docker,
                    &action.image,
                    &self.options.code_dir,
                    build,
                    |line| self.reporter.build_output(&action.deployment, line),
                )
                .await?;
            }
            ActionKind::Remove => {
                // A duplicate named as a rollout copy is a leftover of an interrupted rollout.
                let copy_of = |suffix| {
                    name.strip_suffix(suffix)
                        .filter(|_| action.reason == Reason::Duplicate)
                };
                if let Some(primary) = copy_of(ROLLBACK_SUFFIX) {
                    self.retire_rollback_copy(self.deployment(action)?, primary, name)
                        .await?
                } else if let Some(primary) = copy_of(NEXT_SUFFIX) {
                    self.retire_next_copy(self.deployment(action)?, primary, name)
                        .await?
                } else {
                    let _permit = self.permit().await?;
                    container::remove(self.docker, name).await?;
                }
            }
            ActionKind::Recreate => {
                let deployment = self.deployment(action)?;
                let previous = self.replaced(name).await?;
                // An old container that does not run serves nothing to keep: it is replaced
                // stop-first, which also leaves alone a `<name>.orun-next` the plan kept because
                // it serves.
                match deployment.rollout {
                    Rollout::StartFirst if previous.running => {
                        self.recreate_start_first(deployment, previous).await?
                    }
                    _ => self.recreate_stop_first(deployment, previous).await?,
                }
            }
            ActionKind::Create => self.create(self.deployment(action)?).await?,
            ActionKind::Start => self.start(self.deployment(action)?).await?,
            ActionKind::Blocked => {
                return Err(ActionError::Failed(format!(
                    "{name} is held by a container orun does not manage; not touched"
                )))
            }
        }
        Ok(())
    }

    /// Creates and starts the container; if it fails while a copy left by an interrupted rollout
    /// exists, that copy is put in its place: the new copy of a start-first rollout while it still
    /// runs (it is what serves), else the rollback copy of a stop-first one.
    async fn create(&self, desired: &DesiredDeployment) -> Result<(), ActionError> {
        let name = desired.container.as_str();
        let Err(error) = self.create_and_start(desired).await else {
            return Ok(());
        };
        if let Some(next) = self.serving_copy(name).await? {
            return Err(self.roll_back(error, name, &next, false).await);
        }
        let rollback = format!("{name}{ROLLBACK_SUFFIX}");
        if self.inspect(&rollback).await?.is_none() {
            return Err(error.into());
        }
        Err(self.roll_back(error, name, &rollback, true).await)
    }

    pub(super) async fn create_and_start(&self, desired: &DesiredDeployment) -> Result<()> {
        let name = desired.container.as_str();
        {
            let _permit = self.permit().await?;
            container::create(self.docker, name, desired, &self.desired.environment).await?;
            container::start(self.docker, name).await?;
        }
        self.check_ready(name, desired).await
    }

    /// Container `name` of `desired` stayed up, and passed its readiness probe if it has one.
    pub(super) async fn check_ready(&self, name: &str, desired: &DesiredDeployment) -> Result<()> {
        self.check_running(name).await?;
        match &desired.health.readiness {
            Some(readiness) if self.options.wait => {
                probe::wait_ready(self.docker, &self.probes, name, readiness).await
            }
            _ => Ok(()),
        }
    }

    /// Starts the stopped container; if it fails while the new copy of an interrupted start-first
    /// rollout serves, that copy is put in its place.
    async fn start(&self, desired: &DesiredDeployment) -> Result<(), ActionError> {
        let name = desired.container.as_str();
        let Err(error) = self.start_and_check(desired).await else {
            return Ok(());
        };
        match self.serving_copy(name).await? {
            Some(next) => Err(self.roll_back(error, name, &next, false).await),
            None => Err(error.into()),
        }
    }

    async fn start_and_check(&self, desired: &DesiredDeployment) -> Result<()> {
        let name = desired.container.as_str();
        {
            let _permit = self.permit().await?;
            let status = container::inspect(self.docker, name)
                .await?
                .ok_or_else(|| anyhow!("start {name}: no such container"))?;
            if status.status == ContainerStateStatusEnum::PAUSED {
                container::unpause(self.docker, name).await?;
            } else {
                container::start(self.docker, name).await?;
            }
        }
        self.check_ready(name, desired).await
    }

    /// A container that exits right after it started has failed to start.
    async fn check_running(&self, name: &str) -> Result<()> {
        if !self.options.wait {
            return Ok(());
        }
        tokio::time::sleep(SETTLE_TIME).await;
        let status = self
            .inspect(name)
            .await?
            .ok_or_else(|| anyhow!("{name} disappeared right after it started"))?;
        if status.running
            && status.status == ContainerStateStatusEnum::RUNNING
            && status.restart_count == 0
        {
            return Ok(());
        }
        Err(anyhow!(
            "{name} did not stay running: {}",
            describe(&status)
        ))
    }

    /// A slot for one Docker call of this phase.
    pub(super) async fn permit(&self) -> Result<SemaphorePermit<'_>> {
        Ok(self.permits.acquire().await?)
    }

    pub(super) async fn inspect(&self, name: &str) -> Result<Option<ContainerStatus>> {
        let _permit = self.permit().await?;
        container::inspect(self.docker, name).await
    }

    /// The name of `name`'s `.orun-next` copy when it runs: the new container of an interrupted
    /// start-first rollout, which serves while `name` does not run.
    pub(super) async fn serving_copy(&self, name: &str) -> Result<Option<String>> {
        let next = format!("{name}{NEXT_SUFFIX}");
        let runs = self.inspect(&next).await?.is_some_and(|copy| copy.running);
        Ok(runs.then_some(next))
    }
}

fn describe(status: &ContainerStatus) -> String {
    let mut text = format!("state {}, exit code {}", status.status, status.exit_code);
    if status.restart_count > 0 {
        text.push_str(&format!(", restarted {} time(s)", status.restart_count));
    }
    if !status.error.is_empty() {
        text.push_str(&format!(", {}", status.error));
    }
    text
}
