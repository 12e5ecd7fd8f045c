//! The status document as JSON (docs/status-api.md): what `/status` serves and what `orun status`
//! and `orun fleet status` read. Read tolerantly, so that nodes and CLIs of other orun versions
//! understand each other: unknown keys are ignored, a missing key takes its empty value (`""`,
//! `false`, `0`, `null`, no entries), and the words of `sync_state`, `state`, `last_action` and
//! `last_reason` are kept as sent, a newer node's included. Only `node` is required. It holds what
//! the node shows, never how it got there: `public.rs` projects the node's own status into it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{JobStatus, LastPlan, Pinned, PlannedAction, ServiceStatus, Suspended, VolumeStatus};

/// The whole document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDocument {
    pub node: NodeDocument,
    #[serde(default)]
    pub deployments: BTreeMap<String, DeploymentDocument>,
    #[serde(default)]
    pub services: BTreeMap<String, ServiceStatus>,
    /// The environment's named volumes that exist in Docker.
    #[serde(default)]
    pub volumes: BTreeMap<String, VolumeStatus>,
    /// The node's jobs with their last run and next scheduled time.
    #[serde(default)]
    pub jobs: BTreeMap<String, JobStatus>,
    /// The newest plan of a pass that had actions; absent until one had, and from a node older
    /// than this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_plan: Option<LastPlan>,
    /// While the node is suspended, the actions its last plan would take; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_actions: Option<Vec<PlannedAction>>,
}

/// `node`: the node's sync with its branch and its health.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeDocument {
    pub name: String,
    pub environment: String,
    pub branch: String,
    pub started_at: String,
    /// `starting`, `synced`, `syncing`, `backoff` or `invalid_revision`.
    pub sync_state: String,
    pub git_head: Option<String>,
    pub applied_commit: Option<String>,
    pub last_sync_time: Option<String>,
    pub last_reconcile_time: Option<String>,
    pub sync_error: Option<String>,
    pub consecutive_failures: u32,
    pub next_poll_at: Option<String>,
    pub healthy: bool,
    /// On a swarm node: `leader` (it applies) or `standby` (another manager does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Set while an operator has suspended the node's actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<Suspended>,
    /// Set while an operator has pinned the node to a commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Pinned>,
}

/// One entry of `deployments`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeploymentDocument {
    pub name: String,
    pub image: String,
    pub container_id: Option<String>,
    /// Docker's state of the container (`running`, `exited`, …), or `missing`.
    pub state: String,
    /// When the running container started (RFC 3339 UTC); absent while none runs, on a swarm
    /// node, and from a node older than this field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    pub ready: bool,
    /// The replicas the revision asks for; `0` from a node older than replicas.
    pub replicas: u32,
    /// The replicas that run and are ready.
    pub replicas_ready: u32,
    pub restarts: u64,
    /// A plan action kind, `rolled_back` or `restart`.
    pub last_action: Option<String>,
    /// A plan reason, or `liveness_failed`.
    pub last_reason: Option<String>,
    pub last_error: Option<String>,
    pub quarantined: bool,
    pub flapping: bool,
    pub spec_hash: String,
    /// On a swarm node: the tasks the service asks for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks_desired: Option<u64>,
    /// On a swarm node: the service's tasks that run (and pass their health check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks_running: Option<u64>,
    /// The last registry check of a deployment with `imageUpdates`; absent without them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_update: Option<crate::status::ImageUpdate>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_document_of_another_version_is_read_with_what_it_has() {
        let document: StatusDocument = serde_json::from_value(json!({
            "node": { "environment": "production", "sync_state": "resting", "healthy": true,
                      "added_later": { "nested": 1 } },
            "deployments": { "web": { "name": "web", "ready": true, "state": "stopping" } },
            "unknown": []
        }))
        .unwrap();
        assert_eq!(document.node.environment, "production");
        assert_eq!(document.node.sync_state, "resting");
        assert!(document.node.healthy);
        assert_eq!(document.node.git_head, None);
        let web = &document.deployments["web"];
        assert_eq!((web.state.as_str(), web.ready), ("stopping", true));
        assert_eq!((web.image.as_str(), web.restarts), ("", 0));
        assert_eq!(
            (web.replicas, web.replicas_ready),
            (0, 0),
            "older than replicas"
        );
        assert!(document.services.is_empty() && document.volumes.is_empty());
        assert!(serde_json::from_value::<StatusDocument>(json!({ "status": "ok" })).is_err());
    }

    #[test]
    fn a_service_without_a_note_has_no_note_key() {
        let service = ServiceStatus {
            name: "web".to_string(),
            deployment: "web".to_string(),
            domain: None,
            ssl: false,
            upstream: None,
            upstreams: Vec::new(),
            active: false,
            note: None,
        };
        assert_eq!(
            serde_json::to_value(&service).unwrap(),
            json!({ "name": "web", "deployment": "web", "domain": null, "ssl": false,
                    "upstream": null, "upstreams": [], "active": false })
        );
        let read: ServiceStatus =
            serde_json::from_value(json!({ "name": "web", "upstream": "10.0.0.2:80" })).unwrap();
        assert_eq!(read.deployment, "");
        assert!(read.upstreams.is_empty(), "a node older than replicas");
    }
}
