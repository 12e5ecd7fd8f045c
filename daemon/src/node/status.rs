//! The node's status document (docs/status-api.md) and the shared, lock-protected copy the loop updates and
//! the status API reads. It holds no secret values: deployments appear by name, image and hash.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

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
    pub sync_error: Option<String>,
    pub consecutive_failures: u32,
    pub next_poll_at: Option<String>,
    pub healthy: bool,
    /// The last fetch succeeded (part of `healthy`).
    #[serde(skip)]
    pub fetch_ok: bool,
    /// The last reconcile had no failed action (part of `healthy`).
    #[serde(skip)]
    pub reconcile_ok: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentStatus {
    pub name: String,
    pub image: String,
    pub container_id: Option<String>,
    pub state: String,
    pub ready: bool,
    pub restarts: u64,
    pub last_action: Option<String>,
    pub last_reason: Option<String>,
    pub last_error: Option<String>,
    pub quarantined: bool,
    pub flapping: bool,
    pub spec_hash: String,
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub node: NodeStatus,
    pub deployments: BTreeMap<String, DeploymentStatus>,
    pub services: BTreeMap<String, ServiceStatus>,
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
