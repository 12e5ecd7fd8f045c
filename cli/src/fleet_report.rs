//! What `orun fleet status` and `orun fleet plan` found: one report per node, the facts its status
//! API gave or the plan against its snapshot (none when it did not answer), the problems they show
//! and the exit code they make. Plain data between the commands that ask the nodes and the views
//! that show them; it asks nothing and renders nothing.

use engine::Plan;
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
    /// A swarm node's part in its swarm: `leader` or `standby`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A swarm node's tasks, over every service: running, and asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks_running: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks_desired: Option<u64>,
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

/// The JSON document of `orun fleet plan --output json`.
#[derive(Debug, Serialize)]
pub struct FleetPlanReport {
    pub nodes: Vec<NodePlan>,
}

/// One node's plan, or why it has none.
#[derive(Debug, Serialize)]
pub struct NodePlan {
    pub name: String,
    pub status_addr: String,
    /// The node answered with a snapshot.
    pub reachable: bool,
    /// Why the node could not be read, or why its plan failed (the planner refused it).
    pub error: Option<String>,
    /// The `orun plan --output json` document of the node's share against its snapshot.
    pub plan: Option<Plan>,
}

impl FleetPlanReport {
    /// `1` when a node has no plan (unreachable, or its plan failed); else, with `detailed`, `2`
    /// when a node has changes pending; else `0`.
    pub fn exit_code(&self, detailed: bool) -> u8 {
        let planned: Option<Vec<&Plan>> =
            self.nodes.iter().map(|node| node.plan.as_ref()).collect();
        match planned {
            None => 1,
            Some(plans) if detailed && plans.iter().any(|plan| !plan.is_empty()) => 2,
            Some(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// A plan document with `actions` create actions of `web`.
    fn plan(actions: usize) -> Plan {
        let action = json!({
            "step": 1, "kind": "create", "deployment": "web", "container": "web",
            "image": "nginx:alpine", "reason": "missing", "changes": []
        });
        serde_json::from_value(json!({
            "format_version": 1, "environment": "production", "commit": "c1", "node": "a",
            "summary": { "network": 0, "volume": 0, "pull": 0, "build": 0, "remove": 0,
                         "update": 0, "recreate": 0, "create": actions, "start": 0,
                         "blocked": 0, "unchanged": 1 },
            "actions": vec![action; actions],
        }))
        .unwrap()
    }

    fn planned(name: &str, plan: Plan) -> NodePlan {
        NodePlan {
            name: name.to_string(),
            status_addr: format!("{name}:9100"),
            reachable: true,
            error: None,
            plan: Some(plan),
        }
    }

    fn failed(name: &str, reachable: bool, error: &str) -> NodePlan {
        NodePlan {
            name: name.to_string(),
            status_addr: format!("{name}:9100"),
            reachable,
            error: Some(error.to_string()),
            plan: None,
        }
    }

    #[test]
    fn the_document_has_one_entry_per_node_with_its_plan_or_null() {
        let report = FleetPlanReport {
            nodes: vec![
                planned("a", plan(1)),
                failed("b", false, "cannot reach the node's status API"),
            ],
        };
        let document = serde_json::to_value(&report).unwrap();
        let keys =
            |entry: &Value| -> Vec<String> { entry.as_object().unwrap().keys().cloned().collect() };
        let nodes = document["nodes"].as_array().unwrap();
        for entry in nodes {
            assert_eq!(
                keys(entry),
                ["error", "name", "plan", "reachable", "status_addr"],
                "{entry}"
            );
        }
        assert_eq!(nodes[0]["plan"], serde_json::to_value(plan(1)).unwrap());
        assert_eq!(nodes[0]["error"], Value::Null);
        assert_eq!(nodes[1]["reachable"], false);
        assert_eq!(nodes[1]["plan"], Value::Null);
        assert_eq!(nodes[1]["status_addr"], "b:9100");
    }

    #[test]
    fn failures_exit_1_and_changes_exit_2_only_when_asked() {
        let report = |nodes| FleetPlanReport { nodes };
        let converged = report(vec![planned("a", plan(0))]);
        assert_eq!(converged.exit_code(false), 0);
        assert_eq!(converged.exit_code(true), 0);
        let changes = report(vec![planned("a", plan(0)), planned("b", plan(2))]);
        assert_eq!(changes.exit_code(false), 0);
        assert_eq!(changes.exit_code(true), 2);
        for failure in [
            failed("c", false, "cannot reach the node's status API"),
            failed("c", true, "the plan would remove every managed container"),
        ] {
            let with_failure = report(vec![planned("b", plan(2)), failure]);
            assert_eq!(with_failure.exit_code(false), 1);
            assert_eq!(with_failure.exit_code(true), 1);
        }
        assert_eq!(report(Vec::new()).exit_code(true), 0);
    }
}
