//! The executor (docs/plans.md): runs a plan's actions against Docker phase by phase, with bounded
//! parallelism inside a phase and `dependsOn` respected (an action waits for the ones it comes
//! `after`, and a dependent starts only once its dependencies run and are ready); creates, starts
//! and readiness gating here, the two recreate sequences (stop-first with `<name>.orun-old`,
//! start-first with `<name>.orun-next` and the [`TrafficSwitch`]), retiring an interrupted
//! rollout's copies and falling back in `rollout.rs`; why a step failed in `error.rs`; every call
//! changing a container held to orun's own in `guard.rs`. It decides nothing: what to change,
//! which sequence and which fallback come with each action of the plan.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::models::ContainerStateStatusEnum;
use engine::copies::{rollback_name, Fallback};
use engine::desired::{DesiredDeployment, DesiredReplica, DesiredState};
use engine::manifest::job::job_key;
use engine::manifest::{NodeEngine, Rollout};
use engine::outcome::{ActionError, ApplyReport, Outcome};
use engine::plan::{phases, Action, ActionKind, Plan, Reason, PHASES};
use futures_util::future::{join_all, BoxFuture};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::docker::container::ContainerStatus;
use crate::docker::credentials::{registry_key, RegistryCredentials};
use crate::docker::image::PullProgress;
use crate::docker::DockerError;
use crate::mount_files::FileDirs;

mod error;
#[cfg(test)]
mod fake;
mod guard;
mod jobs;
mod rollout;
pub mod runtime;
#[cfg(test)]
mod sequences;
mod swarm;

pub use error::{StepError, TrafficError};
pub use runtime::{DockerRuntime, Runtime};

/// How long a freshly started container must stay up to count as started.
pub const SETTLE_TIME: Duration = Duration::from_millis(500);

/// How many of its last log lines a never-ready new container hands the reporter (the CLI's
/// terminal, the node's log); its error never quotes them.
pub const LOG_LINES_REPORTED: usize = 20;

/// What became of each deployment whose container this apply created, recreated or started: `Ok`
/// once it runs and is ready (or a rollback put its previous copy back), else why not.
type Settled = BTreeMap<String, Result<(), String>>;

#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Base of build contexts (`codeDir`).
    pub code_dir: PathBuf,
    /// Check that started containers stay running; off with `--no-wait`.
    pub wait: bool,
    /// Once set, no further action is started; calls in flight finish (daemon shutdown).
    pub cancel: Option<Arc<AtomicBool>>,
    /// Where start-first rollouts move a deployment's routes.
    pub traffic: Arc<dyn TrafficSwitch>,
    /// The credentials of private registries, for pulls and the base images of builds.
    pub registry_credentials: RegistryCredentials,
    /// Where the copies of the files containers mount are written (`files`, `secretFiles`).
    pub file_dirs: FileDirs,
}

/// What a container action works on: a desired deployment and the replica whose container (or
/// rollout copy of it) the action names.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub deployment: &'a DesiredDeployment,
    pub replica: &'a DesiredReplica,
}

/// Where a rollout moves a deployment's traffic: the node's ingress, or nothing for
/// `orun apply --once`, which runs none.
pub trait TrafficSwitch: Send + Sync {
    /// Points the upstream of replica `replica` (the replica's container name) in the routes of
    /// `deployment` at `container` — a ready copy of that replica, or the replica's own new
    /// container — adding it where it had none, and returns once the ingress serves them so. The
    /// other replicas' upstreams stay.
    fn switch<'a>(
        &'a self,
        deployment: &'a str,
        replica: &'a str,
        container: &'a str,
    ) -> BoxFuture<'a, Result<(), TrafficError>>;

    /// Takes replica `replica` out of the routes of `deployment`, unless it is the last upstream
    /// of one, and returns once the ingress sends it no new request: before a stop-first
    /// recreate or a scale-down stops it, while the other replicas serve. True when a route
    /// changed, so that requests already sent to the replica are worth waiting for.
    fn withdraw<'a>(
        &'a self,
        deployment: &'a str,
        replica: &'a str,
    ) -> BoxFuture<'a, Result<bool, TrafficError>>;
}

impl fmt::Debug for dyn TrafficSwitch {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("TrafficSwitch")
    }
}

/// No ingress, so no routes to move.
pub struct NoIngress;

impl TrafficSwitch for NoIngress {
    fn switch<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), TrafficError>> {
        Box::pin(async { Ok(()) })
    }

    fn withdraw<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<bool, TrafficError>> {
        Box::pin(async { Ok(false) })
    }
}

/// Docker calls in flight at once within a phase.
pub const PARALLELISM: usize = 4;

impl ApplyOptions {
    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::SeqCst))
    }
}

/// A step's error as the executor reports it: [`ActionError::Failed`] with its message.
pub(super) trait Failed {
    fn failed(self) -> ActionError;
}

impl<E: Into<StepError>> Failed for E {
    fn failed(self) -> ActionError {
        ActionError::Failed(self.into().to_string())
    }
}

/// `?` on a step inside the executor turns its error into [`ActionError::Failed`].
pub(super) trait OrFailed<T> {
    fn or_failed(self) -> Result<T, ActionError>;
}

impl<T, E: Into<StepError>> OrFailed<T> for Result<T, E> {
    fn or_failed(self) -> Result<T, ActionError> {
        self.map_err(Failed::failed)
    }
}

/// Receives progress while a plan is applied (the CLI renders it, the daemon logs it).
pub trait Reporter: Send + Sync {
    fn action_started(&self, _action: &Action) {}
    fn action_finished(&self, _outcome: &Outcome) {}
    fn pull_progress(&self, _image: &str, _progress: &PullProgress) {}
    fn build_output(&self, _deployment: &str, _line: &str) {}
    /// A log line of `container`, a new container that never became ready. Only the terminal and
    /// the node's log get it: what a program prints may hold secrets.
    fn container_log(&self, _container: &str, _line: &str) {}
}

/// Applies `plan` for `desired`. The environment's network and volumes are created first, then
/// pulls and builds run; if one of these fails, nothing else runs and nothing is stopped or
/// removed. `blocked` actions are never executed, and no call changes a container that is not
/// orun's in `desired`'s environment, whatever the plan says (`guard.rs`).
pub async fn apply(
    runtime: &dyn Runtime,
    plan: &Plan,
    desired: &DesiredState,
    options: &ApplyOptions,
    reporter: &dyn Reporter,
) -> ApplyReport {
    let owned = guard::Owned::new(runtime, desired.environment.as_str());
    let executor = Executor {
        runtime: &owned,
        runs: plan
            .actions
            .iter()
            .filter(|action| action.kind == ActionKind::Run)
            .filter_map(|action| action.job.clone())
            .collect(),
        desired,
        options,
        reporter,
        permits: Arc::new(Semaphore::new(PARALLELISM)),
    };
    let mut report = ApplyReport::default();
    let mut settled = Settled::new();
    let phase_of = phases(&plan.actions);
    for (index, kinds) in PHASES.iter().enumerate() {
        let actions: Vec<&Action> = plan
            .actions
            .iter()
            .zip(&phase_of)
            .filter(|(_, phase)| **phase == index)
            .map(|(action, _)| action)
            .collect();
        let mut outcomes = Vec::with_capacity(actions.len());
        for wave in waves(&actions) {
            let finished = join_all(
                in_turn(wave)
                    .into_iter()
                    .map(|turn| executor.run_in_turn(turn, &settled)),
            )
            .await;
            for (ran, held) in finished {
                for outcome in &ran {
                    settle(&mut settled, outcome);
                }
                outcomes.extend(ran);
                report.skipped.extend(held);
            }
        }
        outcomes.sort_by_key(|outcome| outcome.action.step);
        // The phases up to pulls and builds prepare what containers need; nothing after them
        // runs if one of their actions failed.
        let preparation_failed = kinds.iter().any(|kind| kind.prepares())
            && outcomes.iter().any(|outcome| outcome.result.is_err());
        report.outcomes.extend(outcomes);
        if preparation_failed {
            report.skipped = plan
                .actions
                .iter()
                .zip(&phase_of)
                .filter(|(_, phase)| **phase > index && **phase < PHASES.len())
                .map(|(action, _)| action.clone())
                .collect();
            break;
        }
    }
    report
}

/// The actions of one phase in waves: each action runs in a wave after every action of the phase
/// it comes `after`. The plan lists a phase in dependency order, so one pass assigns the waves.
fn waves<'a>(actions: &[&'a Action]) -> Vec<Vec<&'a Action>> {
    let mut wave_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut waves: Vec<Vec<&Action>> = Vec::new();
    for &action in actions {
        let key = action.order_key();
        let wave = action
            .after
            .iter()
            .filter_map(|first| wave_of.get(first.as_str()))
            .map(|wave| wave + 1)
            .max()
            .unwrap_or(0);
        let wave = wave.max(wave_of.get(&key).copied().unwrap_or(0));
        wave_of.insert(key, wave);
        if waves.len() <= wave {
            waves.resize_with(wave + 1, Vec::new);
        }
        waves[wave].push(action);
    }
    waves
}

/// The actions of a wave as turns that run side by side, each turn's actions one after another:
/// the recreates of one deployment's replicas form one turn, so that its replicas are replaced
/// one at a time (in plan order, replica 1 first); every other action is a turn of its own.
fn in_turn(wave: Vec<&Action>) -> Vec<Vec<&Action>> {
    let mut turns: Vec<Vec<&Action>> = Vec::new();
    let mut recreates: BTreeMap<&str, usize> = BTreeMap::new();
    for action in wave {
        if action.kind != ActionKind::Recreate {
            turns.push(vec![action]);
            continue;
        }
        match recreates.get(action.deployment.as_str()) {
            Some(&turn) => turns[turn].push(action),
            None => {
                recreates.insert(&action.deployment, turns.len());
                turns.push(vec![action]);
            }
        }
    }
    turns
}

/// Records whether the deployment of `outcome` now runs and is ready, for its dependents; a
/// replica that failed marks its deployment failed even when another replica succeeded. A job's
/// run is recorded under the job's key (`<name>.job`), for the deployments it precedes.
fn settle(settled: &mut Settled, outcome: &Outcome) {
    if let (ActionKind::Run, Some(job)) = (outcome.action.kind, &outcome.action.job) {
        let result = outcome.result.as_ref().map_err(ToString::to_string);
        settled.insert(job_key(job), result.copied());
        return;
    }
    if !matches!(
        outcome.action.kind,
        ActionKind::Create | ActionKind::Recreate | ActionKind::Start
    ) {
        return;
    }
    let result = match &outcome.result {
        Ok(()) | Err(ActionError::RolledBack { .. }) => Ok(()),
        Err(error) => Err(error.to_string()),
    };
    let entry = settled
        .entry(outcome.action.deployment.clone())
        .or_insert(Ok(()));
    if entry.is_ok() {
        *entry = result;
    }
}

struct Executor<'a> {
    runtime: &'a dyn Runtime,
    /// The jobs this plan runs.
    runs: BTreeSet<String>,
    desired: &'a DesiredState,
    options: &'a ApplyOptions,
    reporter: &'a dyn Reporter,
    permits: Arc<Semaphore>,
}

impl Executor<'_> {
    /// Runs a turn's actions one after another; once one fails, the rest are not started and
    /// come back apart (the replicas not yet replaced keep the version they run).
    async fn run_in_turn(
        &self,
        turn: Vec<&Action>,
        settled: &Settled,
    ) -> (Vec<Outcome>, Vec<Action>) {
        let mut ran = Vec::with_capacity(turn.len());
        let mut actions = turn.into_iter();
        for action in actions.by_ref() {
            let outcome = self.run(action, settled).await;
            let failed = outcome.result.is_err();
            ran.push(outcome);
            if failed {
                break;
            }
        }
        (ran, actions.cloned().collect())
    }

    async fn run(&self, action: &Action, settled: &Settled) -> Outcome {
        let started = Instant::now();
        if self.options.cancelled() {
            return Outcome {
                action: action.clone(),
                result: Err(ActionError::ShuttingDown),
                duration: started.elapsed(),
            };
        }
        self.reporter.action_started(action);
        let result = match self.dependencies_ready(action, settled).await {
            Ok(()) => self.execute(action).await,
            Err(error) => Err(error),
        };
        let outcome = Outcome {
            action: action.clone(),
            result,
            duration: started.elapsed(),
        };
        self.reporter.action_finished(&outcome);
        outcome
    }

    /// Before a create, recreate, start or a job's run: every dependency of the deployment or job
    /// runs and, where it has a readiness probe, is ready. One this apply failed to bring up
    /// fails the dependent at once, naming it; a run that fails so is not started.
    async fn dependencies_ready(
        &self,
        action: &Action,
        settled: &Settled,
    ) -> Result<(), ActionError> {
        if !matches!(
            action.kind,
            ActionKind::Create | ActionKind::Recreate | ActionKind::Start | ActionKind::Run
        ) {
            return Ok(());
        }
        let desired = self.deployment(action).or_failed()?;
        // A job this deployment comes after must have run without failing in this apply; one
        // whose run this plan has in a later phase has not run yet.
        let jobs = self.desired.jobs.values().filter(|_| action.job.is_none());
        for job in jobs {
            if !job.before().contains(&desired.name) {
                continue;
            }
            let not_run = |problem: String| ActionError::Dependency {
                dependency: format!("job {}", job.name),
                problem,
            };
            match settled.get(&job_key(&job.name)) {
                Some(Err(error)) => return Err(not_run(format!("failed: {error}"))),
                None if self.runs.contains(&job.name) => {
                    return Err(not_run("has not run yet in this apply".to_string()))
                }
                _ => {}
            }
        }
        for dependency in &desired.depends_on {
            let not_ready = |problem: String| ActionError::Dependency {
                dependency: dependency.clone(),
                problem,
            };
            match settled.get(dependency) {
                Some(Ok(())) => continue,
                Some(Err(error)) => return Err(not_ready(format!("failed: {error}"))),
                None => {}
            }
            let Some(wanted) = self.desired.deployments.get(dependency) else {
                continue;
            };
            // Swarm keeps a service's tasks running; this apply waited for those it changed.
            if self.desired.engine == NodeEngine::Swarm {
                continue;
            }
            let name = wanted.container.as_str();
            if !self
                .inspect(name)
                .await
                .or_failed()?
                .is_some_and(|status| status.running)
            {
                return Err(not_ready(format!("is not running (container {name})")));
            }
            if let (Some(readiness), true) = (&wanted.health.readiness, self.options.wait) {
                self.runtime
                    .wait_ready(name, readiness)
                    .await
                    .map_err(|error| not_ready(format!("is not ready: {error}")))?;
            }
        }
        Ok(())
    }

    fn deployment(&self, action: &Action) -> Result<&DesiredDeployment, StepError> {
        if action.job.is_some() {
            return Ok(&self.job(action)?.container);
        }
        self.desired
            .deployments
            .get(&action.deployment)
            .ok_or_else(|| StepError::NotDesired(action.deployment.clone()))
    }

    /// The deployment and replica whose container, or rollout copy of it, `action` names.
    fn target(&self, action: &Action) -> Result<Target<'_>, StepError> {
        let deployment = self.deployment(action)?;
        let replica = deployment
            .replica_of(&action.container)
            .ok_or_else(|| StepError::NotDesired(action.container.clone()))?;
        Ok(Target {
            deployment,
            replica,
        })
    }

    async fn execute(&self, action: &Action) -> Result<(), ActionError> {
        let name = action.container.as_str();
        let environment = self.desired.environment.as_str();
        if self.desired.engine == NodeEngine::Swarm && action.kind.changes_container() {
            return self.on_swarm(action).await;
        }
        match action.kind {
            ActionKind::Network => {
                let network = action.network.as_deref().unwrap_or_default();
                let _permit = self.permit().await;
                self.runtime
                    .create_network(network, environment, self.desired.engine)
                    .await
                    .or_failed()?;
            }
            ActionKind::Volume => {
                let volume = action.volume.as_deref().unwrap_or_default();
                let _permit = self.permit().await;
                self.runtime
                    .create_volume(volume, environment)
                    .await
                    .or_failed()?;
            }
            ActionKind::Pull => {
                let credentials = self
                    .options
                    .registry_credentials
                    .for_registry(&registry_key(&action.image))
                    .await
                    .map_err(|error| StepError::Credentials {
                        action: "pull",
                        image: action.image.clone(),
                        error: Box::new(error),
                    })
                    .or_failed()?;
                let _permit = self.permit().await;
                self.runtime
                    .pull(&action.image, credentials.as_ref(), &|progress| {
                        self.reporter.pull_progress(&action.image, &progress)
                    })
                    .await
                    .or_failed()?;
            }
            ActionKind::Build => {
                let deployment = self.deployment(action).or_failed()?;
                let build = deployment
                    .spec
                    .build
                    .as_ref()
                    .ok_or_else(|| StepError::NoBuild(action.deployment.clone()))
                    .or_failed()?;
                let registries = self
                    .options
                    .registry_credentials
                    .all()
                    .await
                    .map_err(|error| StepError::Credentials {
                        action: "build",
                        image: action.image.clone(),
                        error: Box::new(error),
                    })
                    .or_failed()?;
                let _permit = self.permit().await;
                self.runtime
                    .build(
                        &action.image,
                        &self.options.code_dir,
                        build,
                        registries,
                        &|line| self.reporter.build_output(&action.deployment, line),
                    )
                    .await
                    .map_err(ActionError::Build)?;
            }
            ActionKind::Run => self.run_job(action).await?,
            ActionKind::Remove => match &action.fallback {
                Some(copy) => self.retire(self.target(action).or_failed()?, copy).await?,
                None => {
                    // A replica scaled away may serve: the others take its requests first.
                    if action.reason == Reason::ScaledDown {
                        self.withdraw(self.deployment(action).or_failed()?, name)
                            .await?;
                    }
                    let _permit = self.permit().await;
                    self.runtime.remove(name).await.or_failed()?;
                }
            },
            ActionKind::Scale => {
                return Err(ActionError::Failed(format!(
                    "{name}: only a swarm node scales services"
                )))
            }
            ActionKind::Update => {
                let deployment = self.deployment(action).or_failed()?;
                let _permit = self.permit().await;
                self.runtime
                    .update(name, &deployment.resources)
                    .await
                    .or_failed()?;
            }
            ActionKind::Recreate => {
                let target = self.target(action).or_failed()?;
                let previous = self.replaced(name).await.or_failed()?;
                match (action.rollout, &action.fallback) {
                    (Some(Rollout::StartFirst), _) => {
                        self.recreate_start_first(target, previous).await?
                    }
                    (_, Some(fallback)) => self.recreate_stop_first(target, fallback).await?,
                    // A plan saved before plans named the fallback: the old container, started
                    // again if it ran.
                    (_, None) => {
                        let fallback = Fallback {
                            container: rollback_name(name),
                            start: previous.running,
                        };
                        self.recreate_stop_first(target, &fallback).await?
                    }
                }
            }
            ActionKind::Create => {
                let target = self.target(action).or_failed()?;
                let result = self.create_and_start(target).await;
                self.or_fall_back(target, result, action.fallback.as_ref())
                    .await?
            }
            ActionKind::Start => {
                let target = self.target(action).or_failed()?;
                let result = self.start_and_check(target).await;
                self.or_fall_back(target, result, action.fallback.as_ref())
                    .await?
            }
            ActionKind::Blocked => {
                return Err(ActionError::Failed(format!(
                    "{name} is held by a container orun does not manage; not touched"
                )))
            }
        }
        Ok(())
    }

    /// After a create or start of `desired`'s container: a failure puts the plan's `fallback`
    /// back in its place; without one, a new container with a readiness probe is kept stopped.
    async fn or_fall_back(
        &self,
        target: Target<'_>,
        result: Result<(), StepError>,
        fallback: Option<&Fallback>,
    ) -> Result<(), ActionError> {
        let Err(error) = result else {
            return Ok(());
        };
        if let Some(fallback) = fallback {
            return Err(self
                .roll_back(error, &target.replica.container, fallback)
                .await);
        }
        // Without a readiness probe a failed start is retried, and a crash loop ends up flapping.
        if target.deployment.health.readiness.is_some() && self.options.wait {
            return Err(self.keep_stopped(target, error).await);
        }
        Err(error.failed())
    }

    /// A new container with a readiness probe and no previous copy that never became ready is
    /// stopped and kept, so that `docker logs` can tell why; its last log lines go to the reporter
    /// only, and the error says where to read them. One that was never created leaves nothing to
    /// keep.
    async fn keep_stopped(&self, target: Target<'_>, error: StepError) -> ActionError {
        let name = target.replica.container.as_str();
        match self.inspect(name).await {
            Ok(Some(_)) => {}
            Ok(None) => return error.failed(),
            Err(inspect) => return ActionError::Failed(format!("{error}; {inspect}")),
        }
        let _permit = self.permit().await;
        let grace = target.deployment.spec.stop_timeout.as_std();
        if let Err(stop) = self.runtime.stop(name, grace).await {
            return ActionError::Failed(format!("{error}; then {stop}"));
        }
        let unread = match self.runtime.last_logs(name, LOG_LINES_REPORTED).await {
            Ok(logs) => {
                for line in logs.trim_end().lines() {
                    self.reporter.container_log(name, line);
                }
                String::new()
            }
            Err(logs) => format!(" (its logs could not be read: {logs})"),
        };
        ActionError::NeverReady(format!(
            "{error}; {name} was stopped and kept: see docker logs {name}{unread}"
        ))
    }

    pub(super) async fn create_and_start(&self, target: Target<'_>) -> Result<(), StepError> {
        let name = target.replica.container.as_str();
        {
            let _permit = self.permit().await;
            self.runtime
                .create(name, target, &self.desired.environment)
                .await?;
            self.runtime.start(name).await?;
        }
        self.check_ready(name, target).await
    }

    /// Container `name` of `desired` stayed up, and passed its readiness probe if it has one.
    pub(super) async fn check_ready(
        &self,
        name: &str,
        target: Target<'_>,
    ) -> Result<(), StepError> {
        self.check_running(name).await?;
        match &target.deployment.health.readiness {
            Some(readiness) if self.options.wait => {
                Ok(self.runtime.wait_ready(name, readiness).await?)
            }
            _ => Ok(()),
        }
    }

    async fn start_and_check(&self, target: Target<'_>) -> Result<(), StepError> {
        let name = target.replica.container.as_str();
        {
            let _permit = self.permit().await;
            let status = self
                .runtime
                .inspect(name)
                .await?
                .ok_or_else(|| StepError::NoContainer(name.to_string()))?;
            if status.status == ContainerStateStatusEnum::PAUSED {
                self.runtime.unpause(name).await?;
            } else {
                self.runtime.start(name).await?;
            }
        }
        self.check_ready(name, target).await
    }

    /// A container that exits right after it started has failed to start.
    async fn check_running(&self, name: &str) -> Result<(), StepError> {
        if !self.options.wait {
            return Ok(());
        }
        tokio::time::sleep(SETTLE_TIME).await;
        let status = self
            .inspect(name)
            .await?
            .ok_or_else(|| StepError::GoneAfterStart(name.to_string()))?;
        if status.running
            && status.status == ContainerStateStatusEnum::RUNNING
            && status.restart_count == 0
        {
            return Ok(());
        }
        Err(StepError::NotRunning {
            name: name.to_string(),
            status: Box::new(status),
        })
    }

    /// A slot for one Docker call of this phase.
    pub(super) async fn permit(&self) -> SemaphorePermit<'_> {
        self.permits
            .acquire()
            .await
            .expect("the executor never closes its semaphore")
    }

    pub(super) async fn inspect(&self, name: &str) -> Result<Option<ContainerStatus>, DockerError> {
        let _permit = self.permit().await;
        self.runtime.inspect(name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::outcome::Previous;
    use engine::plan::Reason;
    use engine::testing::action;

    fn waiting(deployment: &str, after: &[&str]) -> Action {
        let mut action = action(deployment, ActionKind::Create, Reason::Missing);
        action.after = after.iter().map(ToString::to_string).collect();
        action
    }

    #[test]
    fn an_action_runs_in_the_wave_after_the_ones_it_waits_for() {
        let actions = [
            waiting("b-cron", &[]),
            waiting("z-db", &[]),
            waiting("m-api", &["z-db"]),
            waiting("a-web", &["m-api", "z-db"]),
            waiting("c-jobs", &["z-db"]),
        ];
        let refs: Vec<&Action> = actions.iter().collect();
        let waves: Vec<Vec<&str>> = waves(&refs)
            .iter()
            .map(|wave| wave.iter().map(|a| a.deployment.as_str()).collect())
            .collect();
        assert_eq!(
            waves,
            [
                vec!["b-cron", "z-db"],
                vec!["m-api", "c-jobs"],
                vec!["a-web"]
            ]
        );
    }

    #[test]
    fn a_failed_dependency_is_remembered_and_a_rolled_back_one_counts_as_serving() {
        let mut settled = Settled::new();
        let failed = Outcome {
            action: waiting("db", &[]),
            result: Err(ActionError::Failed("boom".into())),
            duration: Duration::ZERO,
        };
        let rolled_back = Outcome {
            action: waiting("cache", &[]),
            result: Err(ActionError::RolledBack {
                previous: Previous::Restored,
                error: "not ready".into(),
            }),
            duration: Duration::ZERO,
        };
        settle(&mut settled, &failed);
        settle(&mut settled, &rolled_back);
        assert_eq!(settled["db"], Err("boom".to_string()));
        assert_eq!(settled["cache"], Ok(()));
    }
}
