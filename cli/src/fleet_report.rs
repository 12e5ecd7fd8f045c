//! What `orun fleet status` found: one report per node, the facts its status API gave (none when it
//! did not answer) and the problems they show. Plain data between the command that asks the nodes
//! and the table that shows them; it asks nothing and renders nothing.

use serde::Serialize;

/// The JSON document of `orun fleet status --output json`.
#[derive(Debug, Serialize)]
pub struct FleetReport {
    pub nodes: Vec<NodeReport>,
}

/// One node as the fleet sees it; the facts of its status API are `None` when it did not answer.
#[derive(Debug, Serialize)]
pub struct NodeReport {
    pub name: String,
    pub status_addr: String,
    pub reachable: bool,
    pub environment: Option<String>,
    pub sync_state: Option<String>,
    pub git_head: Option<String>,
    pub applied_commit: Option<String>,
    pub healthy: Option<bool>,
    pub deployments_ready: Option<usize>,
    pub deployments_total: Option<usize>,
    /// Why the node could not be read.
    pub error: Option<String>,
}

impl NodeReport {
    /// A node that answered but has not applied the commit at the head of its branch.
    pub fn is_behind(&self) -> bool {
        self.reachable && self.git_head != self.applied_commit
    }

    /// What needs an operator's attention: `unreachable`, `unhealthy`, `behind`.
    pub fn problems(&self) -> Vec<&'static str> {
        [
            (!self.reachable, "unreachable"),
            (self.healthy == Some(false), "unhealthy"),
            (self.is_behind(), "behind"),
        ]
        .into_iter()
        .filter_map(|(found, problem)| found.then_some(problem))
        .collect()
    }
}
