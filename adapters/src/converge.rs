//! One convergence pass, shared by `orun apply --once` and the node daemon: observe Docker, plan,
//! apply, then observe again and apply what the first pass made visible (a pulled image whose
//! digest moved, a rollback copy that can now go). On a swarm node only the swarm's leader
//! applies; another manager stands by with its plan. A pass that cannot act says why in a
//! [`ConvergeError`]; the actions' own failures are in its report. It does not decide what runs;
//! `engine` does.

use engine::manifest::NodeEngine;
use engine::plan::{ActionKind, Plan, PlanError};
use engine::swarm::Role;
use engine::{DesiredState, Observed, PlanOptions};

use engine::attachments::names_in_labels;
use engine::spec::LABEL_SPEC;

use crate::apply::{self, ApplyOptions, DockerRuntime, Reporter};
use crate::docker::observe::observe;
use crate::docker::service;
use crate::docker::{Docker, DockerError};
use crate::mount_files::FileDirs;
use engine::outcome::ApplyReport;

/// Why a pass could not act.
#[derive(Debug, thiserror::Error)]
pub enum ConvergeError {
    /// Docker could not be observed.
    #[error(transparent)]
    Observe(#[from] DockerError),
    /// The planner refused to plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A swarm node's host manages no swarm.
    #[error(
        "this node has engine: swarm but its Docker engine is not a manager of a swarm: run \
         docker swarm init, or join the swarm as a manager"
    )]
    NotSwarmManager,
}

/// What one pass did: its first plan and the outcome of every action, a follow-up's included.
#[derive(Clone, Debug)]
pub struct Pass {
    pub plan: Plan,
    pub report: ApplyReport,
    /// The engine as the pass left it, when its last observation came after its last action.
    pub observed: Option<Observed>,
    /// On a swarm node, this manager's part: a standby plans and applies nothing.
    pub role: Option<Role>,
}

/// Receives the plans of a pass before they are applied.
pub trait PlanObserver: Reporter {
    fn plan_ready(&self, _plan: &Plan, _follow_up: bool) {}
}

/// Observes, plans with `options` and applies; then, if that succeeded, plans once more without
/// `new_commit` and applies what is still needed.
pub async fn converge(
    docker: &Docker,
    desired: &DesiredState,
    options: PlanOptions,
    apply_options: &ApplyOptions,
    reporter: &dyn PlanObserver,
) -> Result<Pass, ConvergeError> {
    let role = match desired.engine {
        NodeEngine::Docker => None,
        NodeEngine::Swarm => Some(service::role(docker).await?),
    };
    if role == Some(Role::NotManager) {
        return Err(ConvergeError::NotSwarmManager);
    }
    let observed = observe(docker, desired).await?;
    clean_mounted_files(&apply_options.file_dirs, desired, &observed).await;
    write_mounted_files(&apply_options.file_dirs, desired).await;
    let plan = engine::plan(desired, &observed, &options)?;
    reporter.plan_ready(&plan, false);
    if plan.is_empty() || role.is_some_and(|role| !role.acts()) {
        return Ok(Pass {
            plan,
            report: ApplyReport::default(),
            observed: Some(observed),
            role,
        });
    }
    let runtime = DockerRuntime::new(docker, &apply_options.file_dirs);
    let mut report = apply::apply(&runtime, &plan, desired, apply_options, reporter).await;
    let mut last_observed = None;
    if report.is_success() {
        let observed = observe(docker, desired).await?;
        clean_mounted_files(&apply_options.file_dirs, desired, &observed).await;
        let follow_up_options = PlanOptions {
            new_commit: false,
            ..options
        };
        let next = engine::plan(desired, &observed, &follow_up_options)?;
        if next
            .actions
            .iter()
            .any(|action| action.kind != ActionKind::Blocked)
        {
            reporter.plan_ready(&next, true);
            let more = apply::apply(&runtime, &next, desired, apply_options, reporter).await;
            report.outcomes.extend(more.outcomes);
            report.skipped.extend(more.skipped);
        } else {
            last_observed = Some(observed);
        }
    }
    Ok(Pass {
        plan,
        report,
        observed: last_observed,
        role,
    })
}

/// Removes the node's copies of mounted files that neither the desired state nor any container
/// of the environment `observed` holds mounts: those of removed and replaced containers. A
/// failure only delays that to a later pass, so it is logged, not returned.
async fn clean_mounted_files(dirs: &FileDirs, desired: &DesiredState, observed: &Observed) {
    if desired.engine == NodeEngine::Swarm {
        return;
    }
    let desired_labels = desired
        .containers()
        .filter_map(|deployment| deployment.labels.get(LABEL_SPEC));
    let observed_labels = observed
        .containers
        .iter()
        .filter_map(|container| container.labels.get(LABEL_SPEC));
    let keep = names_in_labels(desired_labels.chain(observed_labels).map(String::as_str));
    let (dirs, environment) = (dirs.clone(), desired.environment.clone());
    let cleaned = tokio::task::spawn_blocking(move || dirs.clean(&environment, &keep)).await;
    match cleaned {
        Ok(Ok(0)) => {}
        Ok(Ok(removed)) => tracing::info!(removed, "removed copies of files no container mounts"),
        Ok(Err(error)) => tracing::warn!(%error, "cannot remove unused copies of mounted files"),
        Err(error) => tracing::warn!(%error, "cannot remove unused copies of mounted files"),
    }
}

/// Writes the copies of every desired container's (deployments' and jobs') mounted files that are missing — a reboot
/// empties the tmpfs of secret files under stopped containers that a pass starts again. A
/// failure is logged: the create of a container that needs the copy fails with it.
async fn write_mounted_files(dirs: &FileDirs, desired: &DesiredState) {
    if desired.engine == NodeEngine::Swarm {
        return;
    }
    let specs: Vec<_> = desired
        .containers()
        .filter(|deployment| {
            !deployment.spec.files.is_empty() || !deployment.spec.secret_files.is_empty()
        })
        .map(|deployment| deployment.spec.clone())
        .collect();
    if specs.is_empty() {
        return;
    }
    let (dirs, environment) = (dirs.clone(), desired.environment.clone());
    let written = tokio::task::spawn_blocking(move || {
        specs
            .iter()
            .try_for_each(|spec| dirs.write(&environment, spec))
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "cannot write the files containers mount"),
        Err(error) => tracing::warn!(%error, "cannot write the files containers mount"),
    }
}
