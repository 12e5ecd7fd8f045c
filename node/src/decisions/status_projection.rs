//! Status projection: the node status's node, deployment, volume and job entries from the node's
//! settings, the last good revision, an observed snapshot, the health tracker, a pass's outcomes
//! and the time. Pure: the reconciler observes Docker and holds the lock while it writes.

use std::collections::BTreeMap;
use std::time::SystemTime;

use engine::desired::{DesiredDeployment, Trigger};
use engine::manifest::NodeEngine;
use engine::observed::ContainerState;
use engine::spec::{LABEL_ENVIRONMENT, LABEL_MANAGED_BY, MANAGED_BY_ORUN};
use engine::{DesiredState, Environment, Observed};

use super::health::Tracker;
use super::routes::ready_copy;
use crate::status::{
    timestamp, DeploymentState, DeploymentStatus, ImageUpdate, JobRun, JobStatus, LastAction,
    LastError, LastPlan, LastReason, NodeStatus, PlannedAction, Status, SyncError, SyncState,
    Tasks, VolumeStatus,
};
use crate::Settings;
use engine::outcome::{ActionError, Outcome};
use engine::plan::Plan;

/// The document of a node that has not fetched yet: its environment is the explicit one, else the
/// tracked branch's, until a revision names it.
pub fn initial(settings: &Settings, now: SystemTime) -> Status {
    let environment = Environment::select(
        settings.environment.as_ref(),
        None,
        Some(&settings.remote.branch),
    )
    .map(|environment| environment.as_str().to_string())
    .unwrap_or_default();
    Status {
        node: NodeStatus::starting(
            settings.node_name.clone().unwrap_or_default(),
            environment,
            settings.remote.branch.clone(),
            now,
        ),
        deployments: BTreeMap::new(),
        services: BTreeMap::new(),
        volumes: BTreeMap::new(),
        jobs: BTreeMap::new(),
        last_plan: None,
        pending_actions: None,
    }
}

/// The newest commit could not be checked out or loaded: the last good revision stays in force.
pub fn rejected(node: &mut NodeStatus, error: SyncError) {
    node.sync_state = SyncState::InvalidRevision;
    node.sync_error = Some(error);
}

/// A valid revision of `desired` is the last good one now.
pub fn loaded(node: &mut NodeStatus, desired: &DesiredState) {
    node.environment = desired.environment.as_str().to_string();
    node.sync_state = SyncState::Synced;
    node.sync_error = None;
}

/// A reconcile of `commit` ended at `now`: `failed` when an action failed or the pass could not
/// run (`error`); `commit` is `None` for a pass that only planned (the node is suspended). A
/// commit counts as applied only without failures. The pass's own error replaces
/// `sync_error`; an earlier pass's error is cleared by one that had none, other errors stay.
pub fn reconciled(
    node: &mut NodeStatus,
    commit: Option<&str>,
    failed: bool,
    error: Option<SyncError>,
    now: SystemTime,
) {
    node.last_reconcile_time = Some(timestamp(now));
    node.reconcile_ok = !failed;
    if let Some(commit) = commit.filter(|_| !failed) {
        node.applied_commit = Some(commit.to_string());
    }
    let stale = matches!(node.sync_error, Some(SyncError::Reconcile(_)));
    if error.is_some() || stale {
        node.sync_error = error;
    }
}

/// What the document keeps of `plan`, planned at `now`: kinds, names and reasons.
pub fn last_plan(plan: &Plan, now: SystemTime) -> LastPlan {
    let mut summary = BTreeMap::new();
    for action in &plan.actions {
        *summary.entry(action.kind.as_str().to_string()).or_insert(0) += 1;
    }
    LastPlan {
        commit: plan.commit.clone(),
        planned_at: timestamp(now),
        summary,
        actions: plan
            .actions
            .iter()
            .map(|action| PlannedAction {
                action: action.kind.as_str().to_string(),
                deployment: (!action.deployment.is_empty()).then(|| action.deployment.clone()),
                job: action.job.clone(),
                subject: action.subject().to_string(),
                reason: action.reason.as_str().to_string(),
            })
            .collect(),
    }
}

/// Shows the registry check of `deployment` at `now`: the `available` digest and the `running`
/// one.
pub fn image_checked(
    status: &mut Status,
    deployment: &str,
    running: Option<&str>,
    available: &str,
    now: SystemTime,
) {
    if let Some(entry) = status.deployments.get_mut(deployment) {
        entry.image_update = Some(ImageUpdate {
            running_digest: running.map(str::to_string),
            available_digest: available.to_string(),
            checked_at: timestamp(now),
        });
    }
}

/// Rewrites the entry of every deployment of `desired` (at `commit`) and drops the others: the
/// last of `outcomes` that touched it, its health, and, when `observed` is known, its container.
pub fn deployments(
    entries: &mut BTreeMap<String, DeploymentStatus>,
    desired: &DesiredState,
    commit: &str,
    observed: Option<&Observed>,
    health: &Tracker,
    outcomes: &[Outcome],
) {
    entries.retain(|name, _| desired.deployments.contains_key(name));
    for deployment in desired.deployments.values() {
        let entry = entries
            .entry(deployment.name.clone())
            .or_insert_with(|| DeploymentStatus {
                name: deployment.name.clone(),
                image: String::new(),
                container_id: None,
                state: DeploymentState::Missing,
                started_at: None,
                ready: false,
                replicas: 0,
                replicas_ready: 0,
                restarts: 0,
                last_action: None,
                last_reason: None,
                last_error: None,
                quarantined: false,
                flapping: false,
                spec_hash: String::new(),
                tasks: None,
                image_update: None,
            });
        if deployment.image_updates.is_none() {
            entry.image_update = None;
        }
        entry.image = deployment.spec.image.clone();
        entry.spec_hash = deployment.spec_hash.clone();
        if let Some(outcome) = outcomes
            .iter()
            .rfind(|outcome| outcome.action.deployment == deployment.name)
        {
            entry.last_action = Some(match outcome.result {
                Err(ActionError::RolledBack { .. }) => LastAction::RolledBack,
                _ => LastAction::Planned(outcome.action.kind),
            });
            entry.last_reason = Some(LastReason::Planned(outcome.action.reason));
            entry.last_error = outcome.result.clone().err().map(LastError::Action);
        }
        let tracked = health.get(&deployment.name);
        let health = tracked.cloned().unwrap_or_default();
        let quarantine = health
            .quarantine
            .as_ref()
            .filter(|(quarantined, _)| quarantined == commit);
        entry.quarantined = quarantine.is_some();
        // A quarantine restored at start has no outcome of this run: show the rollback behind it.
        if let (None, Some((_, error))) = (entry.last_action, quarantine) {
            entry.last_action = Some(LastAction::RolledBack);
            entry.last_error = Some(LastError::Message(error.clone()));
        }
        entry.flapping = health.flapping;
        entry.restarts = health.restarts;
        entry.replicas = u32::try_from(deployment.replicas.len()).unwrap_or(u32::MAX);
        if desired.engine == NodeEngine::Swarm {
            if let Some(observed) = observed {
                service_entry(entry, deployment, observed);
            }
            entry.ready = entry
                .tasks
                .is_some_and(|tasks| tasks.running == tasks.desired);
            continue;
        }
        if let Some(observed) = observed {
            let container = observed
                .containers
                .iter()
                .find(|container| container.bare_name() == deployment.container);
            entry.container_id = container.map(|c| c.id.chars().take(12).collect());
            entry.state = container.map_or(DeploymentState::Missing, |c| {
                DeploymentState::Observed(c.state)
            });
            // Docker's nanoseconds shown as whole seconds, like every other time of the document.
            entry.started_at = container
                .filter(|c| c.state.runs())
                .and_then(|c| c.started_at.as_deref())
                .map(|at| humantime::parse_rfc3339_weak(at).map_or(at.to_string(), timestamp));
            let environment = desired.environment.as_str();
            let ready = deployment
                .replicas
                .iter()
                .filter(|replica| {
                    ready_copy(observed, environment, &replica.container, tracked).is_some()
                })
                .count();
            entry.replicas_ready = u32::try_from(ready).unwrap_or(u32::MAX);
        }
        entry.ready = entry.state == DeploymentState::Observed(ContainerState::Running)
            && health.probe_ok(&deployment.container)
            && entry.replicas_ready == entry.replicas;
    }
}

/// A swarm node's entry: the service's tasks as Swarm counts them; its state `running` while a
/// task runs, `missing` without the service or without a running task.
fn service_entry(
    entry: &mut DeploymentStatus,
    deployment: &DesiredDeployment,
    observed: &Observed,
) {
    let service = observed
        .services
        .iter()
        .find(|service| service.name == deployment.service);
    entry.container_id = None;
    entry.started_at = None;
    entry.tasks = service.map(|service| Tasks {
        desired: service.replicas.unwrap_or_default(),
        running: service.running_tasks,
    });
    let running = service.map_or(0, |service| service.running_tasks);
    entry.replicas_ready = u32::try_from(running).unwrap_or(u32::MAX);
    entry.state = if running > 0 {
        DeploymentState::Observed(ContainerState::Running)
    } else {
        DeploymentState::Missing
    };
}

/// The environment's named volumes in `observed`: those labelled for the environment and those
/// a deployment of `desired` mounts, each with whether one does.
pub fn volumes(desired: &DesiredState, observed: &Observed) -> BTreeMap<String, VolumeStatus> {
    let environment = desired.environment.as_str();
    let mounted = desired.volumes();
    let prefix = format!("{environment}.");
    observed
        .volumes
        .iter()
        .filter_map(|volume| {
            let docker_name = volume.name.as_str();
            let mounted_as = mounted
                .iter()
                .find(|(_, name)| name.as_str() == docker_name)
                .map(|(name, _)| name.clone());
            let labelled = volume.labels.get(LABEL_MANAGED_BY).map(String::as_str)
                == Some(MANAGED_BY_ORUN)
                && volume.labels.get(LABEL_ENVIRONMENT).map(String::as_str) == Some(environment);
            let name = match mounted_as {
                Some(name) => name,
                None if labelled && desired.environment.is_production() => docker_name.to_string(),
                None if labelled => docker_name.strip_prefix(&prefix)?.to_string(),
                None => return None,
            };
            let entry = VolumeStatus {
                in_use: mounted.contains_key(&name),
                name: name.clone(),
                docker_name: docker_name.to_string(),
            };
            Some((name, entry))
        })
        .collect()
}

/// The liveness restart of `deployment`: `error` is the restart's failure, else the probe's.
pub fn restarted(
    entries: &mut BTreeMap<String, DeploymentStatus>,
    deployment: &str,
    error: String,
) {
    if let Some(entry) = entries.get_mut(deployment) {
        entry.last_action = Some(LastAction::Restart);
        entry.last_reason = Some(LastReason::LivenessFailed);
        entry.last_error = Some(LastError::Message(error));
    }
}

/// The entries of the jobs of `desired`: when each runs, its newest run in `observed` (kept when
/// Docker did not answer), and a scheduled job's next time after `now`.
pub fn jobs(
    desired: &DesiredState,
    observed: Option<&Observed>,
    now: SystemTime,
    previous: &BTreeMap<String, JobStatus>,
) -> BTreeMap<String, JobStatus> {
    let environment = desired.environment.as_str();
    desired
        .jobs
        .values()
        .map(|job| {
            let (run_on, schedule, next_run_at) = match &job.trigger {
                Trigger::Change { .. } => (Some("change".to_string()), None, None),
                Trigger::Schedule { schedule, .. } => (
                    None,
                    Some(schedule.to_string()),
                    schedule
                        .next_after(now.into())
                        .map(|next| timestamp(next.into())),
                ),
            };
            let last_run = match observed {
                Some(observed) => engine::jobs::runs_of(observed, environment, &job.name)
                    .max_by(|a, b| {
                        (&a.started_at, &a.container).cmp(&(&b.started_at, &b.container))
                    })
                    .map(|run| JobRun {
                        container: run.container.clone(),
                        started_at: run.started_at.clone(),
                        finished_at: run.finished_at.clone(),
                        exit_code: run.exit_code,
                    }),
                None => previous
                    .get(&job.name)
                    .and_then(|entry| entry.last_run.clone()),
            };
            let entry = JobStatus {
                name: job.name.clone(),
                run_on,
                schedule,
                before: job.before().to_vec(),
                last_run,
                next_run_at,
            };
            (job.name.clone(), entry)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::repo::LoadError;
    use crate::testing::outcome;
    use adapters::converge::ConvergeError;
    use adapters::docker::{Call, DockerError, Failure};
    use engine::observed::{ObservedContainer, ObservedResource};
    use engine::outcome::Previous;
    use engine::plan::{ActionKind, Reason};
    use engine::testing::{deployment, desired};

    /// `sync_error` as the status document shows it.
    fn shown(node: &NodeStatus) -> Option<String> {
        node.sync_error.as_ref().map(ToString::to_string)
    }

    fn node() -> NodeStatus {
        NodeStatus::starting(
            "a".to_string(),
            "production".to_string(),
            "main".to_string(),
            SystemTime::UNIX_EPOCH,
        )
    }

    fn container(name: &str, state: ContainerState) -> ObservedContainer {
        ObservedContainer {
            id: "0123456789abcdef".to_string(),
            name: format!("/{name}"),
            image: "busybox".to_string(),
            image_id: "sha256:1".to_string(),
            state,
            labels: BTreeMap::from([
                (LABEL_MANAGED_BY.to_string(), MANAGED_BY_ORUN.to_string()),
                (LABEL_ENVIRONMENT.to_string(), "production".to_string()),
            ]),
            resources: Default::default(),
            address: None,
            started_at: None,
        }
    }

    #[test]
    fn a_pass_without_failures_applies_its_commit_and_clears_an_earlier_pass_error() {
        let mut node = node();
        let now = SystemTime::UNIX_EPOCH;
        let error = SyncError::Reconcile(ConvergeError::Observe(DockerError {
            call: Call::ListContainers,
            failure: Failure::NoAnswer {
                limit: Duration::from_secs(60),
            },
        }));
        reconciled(&mut node, Some("c1"), true, Some(error), now);
        assert_eq!(
            shown(&node).as_deref(),
            Some("reconcile: list containers: no answer from Docker within 60s")
        );
        assert_eq!(
            (node.reconcile_ok, node.applied_commit.as_deref()),
            (false, None)
        );
        reconciled(&mut node, Some("c1"), false, None, now);
        assert_eq!(shown(&node), None);
        assert_eq!(node.applied_commit.as_deref(), Some("c1"));
        assert_eq!(
            node.last_reconcile_time.as_deref(),
            Some("1970-01-01T00:00:00Z")
        );
    }

    #[test]
    fn a_rejected_commit_is_reported_until_a_valid_one_loads() {
        let mut node = node();
        rejected(&mut node, LoadError::Task("gone".to_string()).into());
        assert_eq!(node.sync_state, SyncState::InvalidRevision);
        assert!(matches!(
            node.sync_error,
            Some(SyncError::Revision(LoadError::Task(_)))
        ));
        loaded(&mut node, &desired("staging", &[deployment("web", "")]));
        assert_eq!(node.sync_state, SyncState::Synced);
        assert_eq!((shown(&node), node.environment.as_str()), (None, "staging"));
    }

    #[test]
    fn a_pass_leaves_git_and_revision_errors_alone() {
        let mut node = node();
        node.sync_error = Some(SyncError::Revision(LoadError::Task("gone".to_string())));
        reconciled(&mut node, Some("c1"), false, None, SystemTime::UNIX_EPOCH);
        assert_eq!(shown(&node).as_deref(), Some("revision task failed: gone"));
    }

    #[test]
    fn entries_follow_the_desired_deployments_their_containers_and_outcomes() {
        let both = desired("production", &[deployment("web", ""), deployment("db", "")]);
        let mut entries = BTreeMap::new();
        deployments(&mut entries, &both, "c1", None, &Tracker::default(), &[]);
        assert_eq!(entries["db"].state, DeploymentState::Missing);

        let web_only = desired("production", &[deployment("web", "")]);
        let observed = Observed {
            containers: vec![container("web", ContainerState::Running)],
            ..Observed::default()
        };
        let outcomes = [
            outcome("web", ActionKind::Pull, Ok(())),
            outcome(
                "web",
                ActionKind::Recreate,
                Err(ActionError::RolledBack {
                    previous: Previous::Restored,
                    error: "not ready".to_string(),
                }),
            ),
        ];
        let mut tracker = Tracker::default();
        tracker.quarantine("web", "c1", "not ready");
        deployments(
            &mut entries,
            &web_only,
            "c1",
            Some(&observed),
            &tracker,
            &outcomes,
        );
        assert!(!entries.contains_key("db"));
        let web = &entries["web"];
        assert_eq!(
            web.state,
            DeploymentState::Observed(ContainerState::Running)
        );
        assert_eq!(web.container_id.as_deref(), Some("0123456789ab"));
        assert!(web.ready && web.quarantined && !web.flapping);
        assert_eq!(web.last_action, Some(LastAction::RolledBack));
        assert_eq!(web.last_reason, Some(LastReason::Planned(Reason::Missing)));
        assert_eq!(
            web.last_error.as_ref().map(ToString::to_string).as_deref(),
            Some("the previous container was restored: not ready")
        );
        assert_eq!(web.image, "busybox:latest");
    }

    #[test]
    fn a_running_container_shows_its_start_in_whole_seconds_and_a_stopped_one_none() {
        let desired = desired("production", &[deployment("web", "")]);
        let mut web = container("web", ContainerState::Running);
        web.started_at = Some("2026-12-06T08:00:00.123456789Z".to_string());
        let mut observed = Observed {
            containers: vec![web],
            ..Observed::default()
        };
        let mut entries = BTreeMap::new();
        let tracker = Tracker::default();
        deployments(&mut entries, &desired, "c1", Some(&observed), &tracker, &[]);
        assert_eq!(
            entries["web"].started_at.as_deref(),
            Some("2026-12-06T08:00:00Z")
        );
        observed.containers[0].state = ContainerState::Exited;
        deployments(&mut entries, &desired, "c1", Some(&observed), &tracker, &[]);
        assert_eq!(entries["web"].started_at, None);
    }

    #[test]
    fn a_restored_quarantine_shows_the_rollback_behind_it() {
        let desired = desired("production", &[deployment("web", "")]);
        let mut tracker = Tracker::default();
        tracker.quarantine(
            "web",
            "c1",
            "the previous container was restored: not ready",
        );
        let mut entries = BTreeMap::new();
        deployments(&mut entries, &desired, "c1", None, &tracker, &[]);
        let web = &entries["web"];
        assert!(web.quarantined);
        assert_eq!(web.last_action, Some(LastAction::RolledBack));
        assert_eq!(
            web.last_error.as_ref().map(ToString::to_string).as_deref(),
            Some("the previous container was restored: not ready")
        );
        assert_eq!(web.last_reason, None);

        let mut other_commit = BTreeMap::new();
        deployments(&mut other_commit, &desired, "c2", None, &tracker, &[]);
        assert!(!other_commit["web"].quarantined);
        assert_eq!(other_commit["web"].last_action, None);
    }

    #[test]
    fn a_failed_probe_makes_a_running_container_not_ready_and_a_restart_is_recorded() {
        let desired = desired("production", &[deployment("web", "")]);
        let observed = Observed {
            containers: vec![container("web", ContainerState::Running)],
            ..Observed::default()
        };
        let mut tracker = Tracker::default();
        tracker.entry("web").replica_mut("web").probe_ok = Some(false);
        let mut entries = BTreeMap::new();
        deployments(&mut entries, &desired, "c1", Some(&observed), &tracker, &[]);
        assert!(!entries["web"].ready);
        assert_eq!(
            (entries["web"].replicas, entries["web"].replicas_ready),
            (1, 0)
        );
        restarted(
            &mut entries,
            "web",
            "liveness probe of web failed".to_string(),
        );
        assert_eq!(entries["web"].last_action, Some(LastAction::Restart));
        assert_eq!(entries["web"].last_reason, Some(LastReason::LivenessFailed));
    }

    #[test]
    fn replicas_are_counted_desired_and_ready() {
        let desired = desired("production", &[deployment("web", "  replicas: 3\n")]);
        let observed = Observed {
            containers: vec![
                container("web", ContainerState::Running),
                container("web.2", ContainerState::Running),
                container("web.3", ContainerState::Exited),
            ],
            ..Observed::default()
        };
        let mut entries = BTreeMap::new();
        let tracker = Tracker::default();
        deployments(&mut entries, &desired, "c1", Some(&observed), &tracker, &[]);
        let web = &entries["web"];
        assert_eq!((web.replicas, web.replicas_ready), (3, 2));
        assert!(!web.ready, "web.3 does not run");
        assert_eq!(
            web.state,
            DeploymentState::Observed(ContainerState::Running),
            "the state is replica 1's"
        );

        let mut failing = Tracker::default();
        failing.entry("web").replica_mut("web.2").probe_ok = Some(false);
        deployments(&mut entries, &desired, "c1", Some(&observed), &failing, &[]);
        assert_eq!(entries["web"].replicas_ready, 1);
    }

    #[test]
    fn volumes_of_the_environment_are_listed_with_whether_a_deployment_mounts_them() {
        let mounts = "  volumes:\n    - name: data\n      containerPath: /data\n";
        let desired = desired("qa", &[deployment("db", mounts)]);
        let owned = |environment: &str| {
            BTreeMap::from([
                (LABEL_MANAGED_BY.to_string(), MANAGED_BY_ORUN.to_string()),
                (LABEL_ENVIRONMENT.to_string(), environment.to_string()),
            ])
        };
        let volume = |name: &str, labels: BTreeMap<String, String>| ObservedResource {
            name: name.to_string(),
            labels,
        };
        let observed = Observed {
            volumes: vec![
                volume("qa.data", owned("qa")),
                volume("qa.old", owned("qa")),
                volume("prod.data", owned("prod")),
                volume("unrelated", BTreeMap::new()),
            ],
            ..Observed::default()
        };
        let listed = volumes(&desired, &observed);
        let summary: Vec<(&str, &str, bool)> = listed
            .iter()
            .map(|(key, v)| (key.as_str(), v.docker_name.as_str(), v.in_use))
            .collect();
        assert_eq!(
            summary,
            [("data", "qa.data", true), ("old", "qa.old", false)]
        );
        assert_eq!(listed["data"].name, "data");
    }
}
