//! The node's status document (docs/status-api.md) and the shared, lock-protected copy the loop
//! updates and the status API reads. It holds no secret values: deployments appear by name, image
//! and hash. It decides nothing; `status_projection.rs` fills it in.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use engine::observed::ContainerState;
use engine::plan::{ActionKind, Reason};
use serde::{Deserialize, Serialize};

use adapters::git::GitError;

/// `sync_state` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    Starting,
    Synced,
    Syncing,
    Backoff,
    InvalidRevision,
}

/// Why the node's last sync step failed; `sync_error` is its message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// Fetching the branch or checking a commit out failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The newest commit was rejected; the last good revision stays in force.
    #[error("{0}")]
    Revision(String),
    /// A reconcile pass failed before it could act.
    #[error("reconcile: {0}")]
    Reconcile(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The message of `sync_failure`; both change together in [`NodeStatus::set_sync_error`].
    sync_error: Option<String>,
    pub consecutive_failures: u32,
    pub next_poll_at: Option<String>,
    pub healthy: bool,
    /// The last sync error, typed; a document read back from `/status` has only its message.
    #[serde(skip)]
    sync_failure: Option<SyncError>,
    /// The last fetch succeeded (part of `healthy`).
    #[serde(skip)]
    pub fetch_ok: bool,
    /// The last reconcile had no failed action (part of `healthy`).
    #[serde(skip)]
    pub reconcile_ok: bool,
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
            sync_failure: None,
            fetch_ok: false,
            reconcile_ok: true,
        }
    }

    /// `sync_error` as `/status` shows it.
    pub fn sync_error(&self) -> Option<&str> {
        self.sync_error.as_deref()
    }

    pub fn sync_failure(&self) -> Option<&SyncError> {
        self.sync_failure.as_ref()
    }

    pub fn set_sync_error(&mut self, error: Option<SyncError>) {
        self.sync_error = error.as_ref().map(ToString::to_string);
        self.sync_failure = error;
    }

    /// Rewrites the text of `sync_error` alone, for a copy shown to others (`public.rs`).
    pub fn rewrite_sync_error(&mut self, rewrite: impl FnOnce(&str) -> String) {
        self.sync_error = self.sync_error.as_deref().map(rewrite);
    }

    /// Healthy: the last fetch succeeded and the last reconcile had no failed action.
    pub fn refresh_healthy(&mut self) {
        self.healthy = self.fetch_ok && self.reconcile_ok;
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentStatus {
    pub name: String,
    pub image: String,
    pub container_id: Option<String>,
    pub state: DeploymentState,
    pub ready: bool,
    pub restarts: u64,
    pub last_action: Option<LastAction>,
    pub last_reason: Option<LastReason>,
    pub last_error: Option<String>,
    pub quarantined: bool,
    pub flapping: bool,
    pub spec_hash: String,
}

/// A deployment's container as last observed: Docker's state, or `missing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentState {
    Missing,
    #[serde(untagged)]
    Observed(ContainerState),
}

/// What orun last did to a deployment: a planned action, a rollout it rolled back, or a restart
/// after failed liveness probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastAction {
    RolledBack,
    Restart,
    #[serde(untagged)]
    Planned(ActionKind),
}

/// Why orun did it: a plan reason, or failed liveness probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastReason {
    LivenessFailed,
    #[serde(untagged)]
    Planned(Reason),
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub name: String,
    pub deployment: String,
    pub domain: Option<String>,
    pub ssl: bool,
    pub upstream: Option<String>,
    pub active: bool,
    /// Why the service has no route, when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A named volume of the environment, keyed by the name deployments give it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeStatus {
    /// The name in `volumes[].name` (`data`).
    pub name: String,
    /// The Docker volume (`data` in production, `<env>.data` elsewhere).
    pub docker_name: String,
    /// Whether a deployment of the last good revision mounts it; orun keeps a volume no
    /// deployment uses any more, and only an operator removes it.
    pub in_use: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub node: NodeStatus,
    pub deployments: BTreeMap<String, DeploymentStatus>,
    pub services: BTreeMap<String, ServiceStatus>,
    /// The environment's named volumes that exist in Docker.
    #[serde(default)]
    pub volumes: BTreeMap<String, VolumeStatus>,
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

    pub fn snapshot(&self) -> Status {
        self.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn round_trip<T: Serialize + for<'de> Deserialize<'de> + PartialEq + fmt::Display>(
        value: T,
        text: &str,
    ) {
        assert_eq!(serde_json::to_value(&value).unwrap(), json!(text));
        assert_eq!(value.to_string(), text);
        assert!(serde_json::from_value::<T>(json!(text)).unwrap() == value);
    }

    #[test]
    fn deployment_fields_serialise_as_plain_words() {
        round_trip(DeploymentState::Missing, "missing");
        round_trip(
            DeploymentState::Observed(ContainerState::Running),
            "running",
        );
        round_trip(DeploymentState::Observed(ContainerState::Exited), "exited");
        round_trip(LastAction::RolledBack, "rolled_back");
        round_trip(LastAction::Restart, "restart");
        round_trip(LastAction::Planned(ActionKind::Recreate), "recreate");
        round_trip(LastReason::LivenessFailed, "liveness_failed");
        round_trip(LastReason::Planned(Reason::SpecChanged), "spec_changed");
    }

    #[test]
    fn sync_error_serialises_as_its_message() {
        let mut node = NodeStatus::starting(
            "a".to_string(),
            "production".to_string(),
            "main".to_string(),
            SystemTime::UNIX_EPOCH,
        );
        node.set_sync_error(Some(SyncError::Reconcile("docker is down".to_string())));
        let document = serde_json::to_value(&node).unwrap();
        assert_eq!(document["sync_error"], json!("reconcile: docker is down"));
        assert_eq!(document.get("sync_failure"), None::<&Value>);
        let read: NodeStatus = serde_json::from_value(document).unwrap();
        assert_eq!(read.sync_error(), Some("reconcile: docker is down"));
        assert_eq!(read.sync_failure(), None);
    }
}
