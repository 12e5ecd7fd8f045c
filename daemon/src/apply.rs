//! The executor (docs/plans.md): runs a plan's actions against Docker phase by phase, with bounded
//! parallelism inside a phase, the recreate sequence that keeps `<name>.orun-old` until the new
//! container runs, and restore-on-failure. It decides nothing about what to change.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use bollard::models::ContainerStateStatusEnum;
use bollard::Docker;
use engine::desired::{DesiredDeployment, DesiredState};
use engine::plan::{Action, ActionKind, Plan, Reason, ROLLBACK_SUFFIX};
use futures_util::future::join_all;
use tokio::sync::Semaphore;

use crate::docker::container::{self, ContainerStatus};
use crate::docker::image::{self, PullProgress};
use crate::probe;

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
    pub result: Result<(), String>,
    pub duration: Duration,
    /// The new container failed and the previous one was put back in service.
    pub rolled_back: bool,
}

/// Marks an error after which the previous container was restored.
#[derive(Debug)]
struct RolledBack;

impl std::fmt::Display for RolledBack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the previous container was restored")
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

/// Applies `plan` for `desired`. Pulls and builds run first; if one fails, nothing else runs and
/// nothing is stopped or removed. `blocked` actions are never executed.
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
    let phases: [&[ActionKind]; 5] = [
        &[ActionKind::Pull, ActionKind::Build],
        &[ActionKind::Remove],
        &[ActionKind::Recreate],
        &[ActionKind::Create],
        &[ActionKind::Start],
    ];
    for (index, kinds) in phases.iter().enumerate() {
        let actions: Vec<&Action> = plan
            .actions
            .iter()
            .filter(|action| kinds.contains(&action.kind))
            .collect();
        let outcomes = join_all(actions.into_iter().map(|action| executor.run(action))).await;
        let images_failed = index == 0 && outcomes.iter().any(|outcome| outcome.result.is_err());
        report.outcomes.extend(outcomes);
        if images_failed {
            report.skipped = plan
                .actions
                .iter()
                .filter(|action| {
                    !matches!(
                        action.kind,
                        ActionKind::Pull | ActionKind::Build | ActionKind::Blocked
                    )
                })
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
                result: Err("not started: orun is shutting down".to_string()),
                duration: started.elapsed(),
                rolled_back: false,
            };
        }
        self.reporter.action_started(action);
        let result = self.execute(action).await;
        let rolled_back = result
            .as_ref()
            .is_err_and(|error| error.downcast_ref::<RolledBack>().is_some());
        let outcome = Outcome {
            action: action.clone(),
            result: result.map_err(|error| format!("{error:#}")),
            duration: started.elapsed(),
            rolled_back,
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

    async fn execute(&self, action: &Action) -> Result<()> {
        let name = action.container.as_str();
        match action.kind {
            ActionKind::Pull => {
                let _permit = self.permits.acquire().await?;
                image::pull(self.docker, &action.image, |progress| {
                    self.reporter.pull_progress(&action.image, &progress)
                })
                .await
            }
            ActionKind::Build => {
                let deployment = self.deployment(action)?;
                let build = deployment.spec.build.as_ref().ok_or_else(|| {
                    anyhow!("deployment {} has no build section", action.deployment)
                })?;
                let _permit = self.permits.acquire().await?;
                image::build(
                    self.docker,
                    &action.image,
                    &self.options.code_dir,
                    build,
                    |line| self.reporter.build_output(&action.deployment, line),
                )
                .await
            }
            ActionKind::Remove => match name.strip_suffix(ROLLBACK_SUFFIX) {
                Some(primary) if action.reason == Reason::Duplicate => {
                    self.retire_rollback_copy(self.deployment(action)?, primary, name)
                        .await
                }
                _ => {
                    let _permit = self.permits.acquire().await?;
                    container::remove(self.docker, name).await
                }
            },
            ActionKind::Recreate => self.recreate(self.deployment(action)?).await,
            ActionKind::Create => self.create(self.deployment(action)?).await,
            ActionKind::Start => self.start(self.deployment(action)?).await,
            ActionKind::Blocked => Err(anyhow!(
                "{name} is held by a container orun does not manage; not touched"
            )),
        }
    }

    /// Creates and starts the container; if a rollback copy of an interrupted recreate exists and
    /// the new container fails, the copy is put back in service.
    async fn create(&self, desired: &DesiredDeployment) -> Result<()> {
        let name = desired.container.as_str();
        let rollback = format!("{name}{ROLLBACK_SUFFIX}");
        let result = self.create_and_start(desired).await;
        if let Err(error) = result {
            let copy = self.inspect(&rollback).await?;
            if copy.is_some() {
                self.restore(name, &rollback, true)
                    .await
                    .with_context(|| format!("{error:#}; restoring {rollback} failed"))?;
                return Err(error.context(RolledBack));
            }
            return Err(error);
        }
        Ok(())
    }

    /// Stop the old container, keep it as `<name>.orun-old`, create and start the new one, and
    /// remove the old one only once the new one runs; otherwise put the old one back.
    async fn recreate(&self, desired: &DesiredDeployment) -> Result<()> {
        let name = desired.container.as_str();
        let rollback = format!("{name}{ROLLBACK_SUFFIX}");
        let previous = self.inspect(name).await?.ok_or_else(|| {
            anyhow!("recreate {name}: the container disappeared before it could be replaced")
        })?;
        {
            let _permit = self.permits.acquire().await?;
            // A rollback copy left by an earlier interrupted run is older than `name`: drop it.
            container::remove(self.docker, &rollback).await?;
            container::stop(self.docker, name, desired.spec.stop_timeout.as_std()).await?;
            container::rename(self.docker, name, &rollback).await?;
        }
        match self.create_and_start(desired).await {
            Ok(()) => {
                let _permit = self.permits.acquire().await?;
                container::remove(self.docker, &rollback).await
            }
            Err(error) => {
                self.restore(name, &rollback, previous.running)
                    .await
                    .with_context(|| format!("{error:#}; restoring {rollback} failed"))?;
                Err(error.context(RolledBack))
            }
        }
    }

    /// A rollback copy left by an interrupted recreate goes only once `primary` is ready; if
    /// `primary` never becomes ready, the copy is put back in its place.
    async fn retire_rollback_copy(
        &self,
        desired: &DesiredDeployment,
        primary: &str,
        rollback: &str,
    ) -> Result<()> {
        if let (Some(readiness), true) = (&desired.health.readiness, self.options.wait) {
            if let Err(error) =
                probe::wait_ready(self.docker, &self.probes, primary, readiness).await
            {
                self.restore(primary, rollback, true)
                    .await
                    .with_context(|| format!("{error:#}; restoring {rollback} failed"))?;
                return Err(error.context(RolledBack));
            }
        }
        let _permit = self.permits.acquire().await?;
        container::remove(self.docker, rollback).await
    }

    /// Removes whatever holds `name` and renames `rollback` back, starting it if it was running.
    async fn restore(&self, name: &str, rollback: &str, start: bool) -> Result<()> {
        let _permit = self.permits.acquire().await?;
        container::remove(self.docker, name).await?;
        container::rename(self.docker, rollback, name).await?;
        if start {
            container::start(self.docker, name).await?;
        }
        Ok(())
    }

    async fn create_and_start(&self, desired: &DesiredDeployment) -> Result<()> {
        let name = desired.container.as_str();
        {
            let _permit = self.permits.acquire().await?;
            container::create(self.docker, name, desired).await?;
            container::start(self.docker, name).await?;
        }
        self.check_ready(desired).await
    }

    /// The container stayed up, and passed its readiness probe if it has one.
    async fn check_ready(&self, desired: &DesiredDeployment) -> Result<()> {
        let name = desired.container.as_str();
        self.check_running(name).await?;
        match &desired.health.readiness {
            Some(readiness) if self.options.wait => {
                probe::wait_ready(self.docker, &self.probes, name, readiness).await
            }
            _ => Ok(()),
        }
    }

    async fn start(&self, desired: &DesiredDeployment) -> Result<()> {
        let name = desired.container.as_str();
        {
            let _permit = self.permits.acquire().await?;
            let status = container::inspect(self.docker, name)
                .await?
                .ok_or_else(|| anyhow!("start {name}: no such container"))?;
            if status.status == ContainerStateStatusEnum::PAUSED {
                container::unpause(self.docker, name).await?;
            } else {
                container::start(self.docker, name).await?;
            }
        }
        self.check_ready(desired).await
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

    async fn inspect(&self, name: &str) -> Result<Option<ContainerStatus>> {
        let _permit = self.permits.acquire().await?;
        container::inspect(self.docker, name).await
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
