//! The node's own status: what the loop knows of its sync, deployments, services, volumes and jobs, typed,
//! with what only the node needs (why a sync failed, whether the last fetch and reconcile
//! succeeded), and the shared, lock-protected copy the loop updates and the status API reads.
//! `wire.rs` is the document the API serves from it (docs/status-api.md). It holds no secret
//! values: deployments appear by name, image and hash. It decides nothing;
//! `status_projection.rs` fills it in.

pub mod wire;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use engine::observed::ContainerState;
use engine::outcome::ActionError;
use engine::plan::{ActionKind, Reason};
use engine::swarm::Role;
use serde::{Deserialize, Serialize};

use crate::repo::LoadError;
use adapters::converge::ConvergeError;
use adapters::git::GitError;

/// `sync_state` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncState {
    Starting,
    Synced,
    Syncing,
    Backoff,
    InvalidRevision,
}

/// Why the node's last sync step failed; `sync_error` is its message.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Fetching the branch or checking a commit out failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The newest commit was rejected; the last good revision stays in force.
    #[error(transparent)]
    Revision(#[from] LoadError),
    /// A reconcile pass failed before it could act.
    #[error("reconcile: {0}")]
    Reconcile(ConvergeError),
}

#[derive(Debug)]
pub struct NodeStatus {
    pub name: String,
    pub environment: String,
    pub branch: String,
    pub started_at: String,
    pub sync_state: SyncState,
    pub git_head: Option<String>,
    pub applied_commit: Option<String>,
    pub last_sync_time: Option<String>,
    pub last_reconcile_time: Option<String>,
    /// Why the last sync step failed; `sync_error` shows its message.
    pub sync_error: Option<SyncError>,
    pub consecutive_failures: u32,
    pub next_poll_at: Option<String>,
    pub healthy: bool,
    /// The last fetch succeeded (part of `healthy`).
    pub fetch_ok: bool,
    /// The last reconcile had no failed action (part of `healthy`).
    pub reconcile_ok: bool,
    /// On a swarm node, this manager's part in the swarm, as its last pass found it.
    pub role: Option<Role>,
    /// An operator suspended the node's actions (`orun suspend`).
    pub suspended: Option<Suspended>,
    /// An operator pinned the node to a commit (`orun pin`).
    pub pinned: Option<Pinned>,
}

impl NodeStatus {
    /// A node that has not fetched yet.
    pub fn starting(name: String, environment: String, branch: String, now: SystemTime) -> Self {
        NodeStatus {
            name,
            environment,
            branch,
            started_at: timestamp(now),
            sync_state: SyncState::Starting,
            git_head: None,
            applied_commit: None,
            last_sync_time: None,
            last_reconcile_time: None,
            sync_error: None,
            consecutive_failures: 0,
            next_poll_at: None,
            healthy: false,
            fetch_ok: false,
            reconcile_ok: true,
            role: None,
            suspended: None,
            pinned: None,
        }
    }

    /// Healthy: the last fetch succeeded and the last reconcile had no failed action.
    pub fn refresh_healthy(&mut self) {
        self.healthy = self.fetch_ok && self.reconcile_ok;
    }
}

/// The node takes no action until it is resumed; it still plans.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspended {
    pub reason: Option<String>,
    /// When it was suspended (RFC 3339 UTC).
    pub since: String,
}

/// The node keeps `commit` in force while its branch moves on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pinned {
    pub commit: String,
    pub reason: Option<String>,
    /// When it was pinned (RFC 3339 UTC).
    pub since: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeploymentStatus {
    pub name: String,
    pub image: String,
    pub container_id: Option<String>,
    pub state: DeploymentState,
    /// When the serving container last started (RFC 3339, as Docker reports it), while it runs.
    pub started_at: Option<String>,
    /// Every replica runs and its last probe did not fail.
    pub ready: bool,
    /// The replicas the revision asks for.
    pub replicas: u32,
    /// The replicas whose serving container runs and whose last probe did not fail.
    pub replicas_ready: u32,
    pub restarts: u64,
    pub last_action: Option<LastAction>,
    pub last_reason: Option<LastReason>,
    pub last_error: Option<LastError>,
    pub quarantined: bool,
    pub flapping: bool,
    pub spec_hash: String,
    /// On a swarm node, the service's tasks: how many it asks for and how many run.
    pub tasks: Option<Tasks>,
    /// The last registry check of a deployment with `imageUpdates`.
    pub image_update: Option<ImageUpdate>,
}

/// What the last registry check of a followed tag found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageUpdate {
    /// The registry digest of the image the deployment's container runs, when Docker knows it.
    pub running_digest: Option<String>,
    /// The digest the registry holds under the tag.
    pub available_digest: String,
    /// When the registry answered (RFC 3339 UTC).
    pub checked_at: String,
}

/// A swarm service's task counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tasks {
    pub desired: u64,
    pub running: u64,
}

/// The error a deployment's entry shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LastError {
    /// The error of the last action.
    Action(ActionError),
    /// A liveness probe's failure, or the failed restart after it; or, after a restart of the
    /// node, the rollback behind a quarantine it remembered.
    Message(String),
}

impl fmt::Display for LastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LastError::Action(error) => error.fmt(f),
            LastError::Message(message) => f.write_str(message),
        }
    }
}

/// A deployment's container as last observed: Docker's state, or `missing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeploymentState {
    Missing,
    Observed(ContainerState),
}

/// What orun last did to a deployment: a planned action, a rollout it rolled back, or a restart
/// after failed liveness probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastAction {
    RolledBack,
    Restart,
    Planned(ActionKind),
}

/// Why orun did it: a plan reason, or failed liveness probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastReason {
    LivenessFailed,
    Planned(Reason),
}

impl fmt::Display for SyncState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyncState::Starting => "starting",
            SyncState::Synced => "synced",
            SyncState::Syncing => "syncing",
            SyncState::Backoff => "backoff",
            SyncState::InvalidRevision => "invalid_revision",
        })
    }
}

impl fmt::Display for DeploymentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeploymentState::Missing => "missing",
            DeploymentState::Observed(state) => state.as_str(),
        })
    }
}

impl fmt::Display for LastAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LastAction::RolledBack => "rolled_back",
            LastAction::Restart => "restart",
            LastAction::Planned(kind) => kind.as_str(),
        })
    }
}

impl fmt::Display for LastReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LastReason::LivenessFailed => "liveness_failed",
            LastReason::Planned(reason) => reason.as_str(),
        })
    }
}

/// A Service's route, shown in the document as it is: it holds nothing only the node needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceStatus {
    pub name: String,
    pub deployment: String,
    pub domain: Option<String>,
    pub ssl: bool,
    /// The first of `upstreams`, as nodes showed before deployments had replicas.
    pub upstream: Option<String>,
    /// Every address the route sends requests to, one per serving replica, in replica order;
    /// empty from a node older than replicas (then `upstream` is its one address).
    pub upstreams: Vec<String>,
    pub active: bool,
    /// Why the service has no route, when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A named volume of the environment, keyed by the name deployments give it; shown in the
/// document as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeStatus {
    /// The name in `volumes[].name` (`data`).
    pub name: String,
    /// The Docker volume (`data` in production, `<env>.data` elsewhere).
    pub docker_name: String,
    /// Whether a deployment of the last good revision mounts it; orun keeps a volume no
    /// deployment uses any more, and only an operator removes it.
    pub in_use: bool,
}

/// A job of the last good revision and its last run, shown in the document as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobStatus {
    pub name: String,
    /// `change` for a job that runs on every change of its spec; `null` for a scheduled one.
    pub run_on: Option<String>,
    /// The cron expression of a scheduled job; `null` for a `run_on` one.
    pub schedule: Option<String>,
    /// The deployments a change run precedes.
    pub before: Vec<String>,
    /// The newest run whose container is still there; `null` before the first.
    pub last_run: Option<JobRun>,
    /// When a scheduled job runs next (RFC 3339 UTC); `null` for a `run_on` one.
    pub next_run_at: Option<String>,
}

/// One run of a job: its container, start and end (RFC 3339 UTC) and exit code; `finished_at`
/// and `exit_code` are `null` while it runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobRun {
    pub container: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub exit_code: Option<i64>,
}

/// The newest plan of a reconcile pass that had actions, shown in the document as it is: what
/// was planned and why, by name. Plans name secrets only by fingerprint, and this keeps not even
/// those: no labels, images' credentials or changes, only kinds, names and reasons.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LastPlan {
    /// The commit planned for.
    pub commit: String,
    /// When it was planned (RFC 3339 UTC).
    pub planned_at: String,
    /// How many actions of each kind (`recreate: 1`); kinds without one are left out.
    pub summary: BTreeMap<String, usize>,
    pub actions: Vec<PlannedAction>,
}

/// One action of the last plan: its kind, what it works on and why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlannedAction {
    /// The plan's action kind (`pull`, `recreate`, `run`, …).
    pub action: String,
    /// The deployment it is for; `null` for a job's action or a network or volume.
    pub deployment: Option<String>,
    /// The job it is for, if any.
    pub job: Option<String>,
    /// The container, network or volume it works on.
    pub subject: String,
    /// The plan's reason (`spec_changed`, …).
    pub reason: String,
}

#[derive(Debug)]
pub struct Status {
    pub node: NodeStatus,
    pub deployments: BTreeMap<String, DeploymentStatus>,
    pub services: BTreeMap<String, ServiceStatus>,
    /// The environment's named volumes that exist in Docker.
    pub volumes: BTreeMap<String, VolumeStatus>,
    /// The jobs of the last good revision (this node's share).
    pub jobs: BTreeMap<String, JobStatus>,
    /// The newest plan that had actions; `None` until one had.
    pub last_plan: Option<LastPlan>,
    /// While the node is suspended, the actions its last plan would take.
    pub pending_actions: Option<Vec<PlannedAction>>,
}

/// RFC 3339 UTC with whole seconds, e.g. `2026-11-26T10:00:00Z`.
pub fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// The status shared between the loop (writer) and the status API (reader).
#[derive(Clone, Debug)]
pub struct SharedStatus(Arc<Mutex<Status>>);

impl SharedStatus {
    pub fn new(status: Status) -> Self {
        SharedStatus(Arc::new(Mutex::new(status)))
    }

    pub fn lock(&self) -> MutexGuard<'_, Status> {
        // A panic while holding the lock leaves a usable document; keep serving it.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_actions_and_reasons_are_plain_words() {
        let words = [
            (SyncState::InvalidRevision.to_string(), "invalid_revision"),
            (DeploymentState::Missing.to_string(), "missing"),
            (
                DeploymentState::Observed(ContainerState::Running).to_string(),
                "running",
            ),
            (
                DeploymentState::Observed(ContainerState::Exited).to_string(),
                "exited",
            ),
            (LastAction::RolledBack.to_string(), "rolled_back"),
            (LastAction::Restart.to_string(), "restart"),
            (
                LastAction::Planned(ActionKind::Recreate).to_string(),
                "recreate",
            ),
            (LastReason::LivenessFailed.to_string(), "liveness_failed"),
            (
                LastReason::Planned(Reason::SpecChanged).to_string(),
                "spec_changed",
            ),
        ];
        for (shown, word) in words {
            assert_eq!(shown, word);
        }
    }
}
